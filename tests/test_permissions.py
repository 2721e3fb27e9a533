"""Every check in threads.permissions, for every kind of reader, post and category.

The checks answer from the rights that threads.selectors.access annotates on
what it reads, so every topic, post and category here is read through the
access selectors for the actor who asks, as views and services read them.
Each table gives the expected answer as None (allowed), a piece of the reason,
or MISSING: the actor may not see it, so for them it does not exist.

The forum of these tests (the `categories` fixture):

    General            the default: everyone sees, members start and reply
    Help               moderated by the Helpers group
      Help FAQ         rules "": as Help (so Helpers moderate it too)
    Announcements      only moderators start topics; moderated by the Wardens
      Release notes    rules "": as Announcements
      Announcement talk  members start topics here
    Rules              only moderators reply; moderated by the Wardens
      Rules archive    rules "": as Rules
      Rules talk       members reply here
    Staff room         seen by the Staff group only; moderated by the Helpers
      Staff open       "everyone", which cannot widen what Staff room allows
      Staff archive    rules "": as Staff room
    Lounge             members only
      Lounge open      "everyone", which cannot widen what Lounge allows
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from threads import permissions, selectors, services
from threads.models import Category, Post, PostRevision, Report, Topic, User
from threads.selectors import access

from .factories import (
    CategoryFactory,
    GroupFactory,
    ModeratorFactory,
    TopicFactory,
    UserFactory,
    in_groups,
)
from .helpers import opening_post

pytestmark = pytest.mark.django_db

LOGIN = "Log in to post."
SUSPENDED = permissions.SUSPENDED
LOCKED = permissions.LOCKED
LOCKED_POSTS = permissions.LOCKED_POSTS
ONLY_MODERATORS = "Only moderators can do that."
MISSING = "(does not exist for them)"

ACTORS = [
    "anonymous",
    "member",
    "author",
    "moderator",
    "banned",
    # a member of the Helpers, who moderate Help (and its subcategories) and Staff room
    "category_moderator",
    # a member of the Wardens, who moderate Announcements and Rules
    "other_category_moderator",
    # a member of the Staff group, who may see Staff room
    "group_member",
    # a member of another group, who may not
    "outsider",
]
# Who may not see Staff room, its subcategories and its topics.
OUTSIDERS = {"anonymous", "member", "banned", "other_category_moderator", "outsider"}


@pytest.fixture
def wardens_group(db) -> Group:
    return GroupFactory(name="Wardens")


@pytest.fixture
def categories(staff_group, helpers_group, wardens_group) -> dict[str, Category]:
    """The forum's categories by slug (see the module's docstring)."""

    def add(slug: str, name: str, parent: str | None = None, **rules) -> None:
        # The parent as stored now: django-mptt places a child from its parent's tree fields.
        above = Category.objects.get(slug=parent) if parent else None
        CategoryFactory(slug=slug, name=name, parent=above, **rules)

    services.default_category()
    add("help", "Help", moderator_groups=[helpers_group])
    add("help-faq", "Help FAQ", "help")
    add("announcements", "Announcements", who_starts="moderators", moderator_groups=[wardens_group])
    add("release-notes", "Release notes", "announcements")
    add("announcement-talk", "Announcement talk", "announcements", who_starts="members")
    add("rules", "Rules", who_replies="moderators", moderator_groups=[wardens_group])
    add("rules-archive", "Rules archive", "rules")
    add("rules-talk", "Rules talk", "rules", who_replies="members")
    add(
        "staff",
        "Staff room",
        who_sees="groups",
        seer_groups=[staff_group],
        moderator_groups=[helpers_group],
    )
    add("staff-open", "Staff open", "staff", who_sees="everyone")
    add("staff-archive", "Staff archive", "staff")
    add("lounge", "Lounge", who_sees="members")
    add("lounge-open", "Lounge open", "lounge", who_sees="everyone")
    return {category.slug: category for category in Category.objects.all()}


@pytest.fixture
def actors(member, other_member, moderator, banned, category_moderator, group_member, outsider):
    """Who asks. `member` (alice) writes the topics below, so she plays the author; she
    is in the Staff group, so that she may write in Staff room."""
    in_groups(member, Group.objects.get(name="Staff"))
    warden = in_groups(UserFactory(username="dave", is_staff=True), GroupFactory(name="Wardens"))
    return {
        "anonymous": AnonymousUser(),
        "member": other_member,
        "author": member,
        "moderator": moderator,
        "banned": banned,
        "category_moderator": category_moderator,
        "other_category_moderator": warden,
        "group_member": group_member,
        "outsider": outsider,
    }


@pytest.fixture
def topics(categories, actors) -> dict[str, Topic]:
    """The author's topics: "public" in Help, "private" in Staff room."""
    author = actors["author"]
    return {
        "public": TopicFactory(author=author, category=categories["help"], title="In Help"),
        "private": TopicFactory(author=author, category=categories["staff"], title="In Staff"),
    }


def _answer(ask) -> str | None:
    """What a check answers, or MISSING when what it is asked about cannot be read."""
    try:
        return ask()
    except ObjectDoesNotExist:
        return MISSING


def _matches(result: str | None, expected: str | None) -> bool:
    if expected is None or expected == MISSING:
        return result == expected
    return result is not None and result != MISSING and expected in result


def _mismatches(answers: dict, expected: dict) -> dict:
    """What differs from a table's row or column: {key: (answer, expected)}."""
    return {
        key: (answers[key], want)
        for key, want in expected.items()
        if not _matches(answers[key], want)
    }


def _ask_everyone(actors: dict, ask) -> dict[str, str | None]:
    """Each actor's answer to `ask(user)`, or MISSING."""
    return {actor: _answer(lambda user=user: ask(user)) for actor, user in actors.items()}


def _topic(user, topic: Topic) -> Topic:
    """The topic as a page reads it for this reader (selectors.topic_thread does so)."""
    return access.topics_with_rights(user).get(pk=topic.pk)


def _category(user, slug: str) -> Category:
    return access.visible_categories(user).get(slug=slug)


# --- Checks about the reader alone ----------------------------------------------

READER_TABLE = {
    # actor: (is_moderator, posting_refusal, moderation_refusal without a place)
    "anonymous": (False, LOGIN, ONLY_MODERATORS),
    "member": (False, None, ONLY_MODERATORS),
    "author": (False, None, ONLY_MODERATORS),
    "moderator": (True, None, None),
    "banned": (False, SUSPENDED, ONLY_MODERATORS),
    # moderating a category is not moderating the forum: that takes a place
    "category_moderator": (False, None, ONLY_MODERATORS),
    "other_category_moderator": (False, None, ONLY_MODERATORS),
    "group_member": (False, None, ONLY_MODERATORS),
    "outsider": (False, None, ONLY_MODERATORS),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_reader_checks(actors, actor):
    user = actors[actor]
    is_moderator, posting, moderation = READER_TABLE[actor]

    assert permissions.is_moderator(user) is is_moderator
    assert _matches(permissions.posting_refusal(user), posting)
    assert _matches(permissions.moderation_refusal(user), moderation)


def test_staff_without_the_moderate_permission_is_no_moderator(db):
    assert not permissions.is_moderator(UserFactory(is_staff=True))


def test_a_banned_moderator_is_no_moderator(moderator):
    moderator.is_active = False

    assert not permissions.is_moderator(moderator)
    assert permissions.moderation_refusal(moderator) == ONLY_MODERATORS


def test_a_superuser_is_a_moderator(db):
    assert permissions.is_moderator(UserFactory(is_staff=True, is_superuser=True))


# --- Checks about a post ----------------------------------------------------------
#
# Each is asked of the opening post of the author's topic in Help ("public") and
# in Staff room ("private"), read for the actor. In Staff room the OUTSIDERS find
# no post at all; everyone else answers there as in Help.

# For each actor, the answers for (open, visible), (open, removed),
# (locked, visible), (locked, removed).
REPLY_DELETED = "That post was deleted, so it no longer takes replies."
_MEMBER_REPLIES = (None, REPLY_DELETED, LOCKED, LOCKED)
_MODERATOR_REPLIES = (None, REPLY_DELETED, None, REPLY_DELETED)
REPLY_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN),
    "member": _MEMBER_REPLIES,
    "author": _MEMBER_REPLIES,
    "moderator": _MODERATOR_REPLIES,
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED),
    "category_moderator": _MODERATOR_REPLIES,
    "other_category_moderator": _MEMBER_REPLIES,
    "group_member": _MEMBER_REPLIES,
    "outsider": _MEMBER_REPLIES,
}
NOT_YOURS = "You can only change your own posts."
EDIT_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN),
    "member": (NOT_YOURS,) * 4,
    "author": (None, "That post was deleted.", LOCKED_POSTS, "That post was deleted."),
    "moderator": (None, None, None, None),
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED),
    "category_moderator": (None, None, None, None),
    "other_category_moderator": (NOT_YOURS,) * 4,
    "group_member": (NOT_YOURS,) * 4,
    "outsider": (NOT_YOURS,) * 4,
}
NOT_YOURS_TO_DELETE = "You can only delete your own posts."
ALREADY = "That post was already deleted."
DELETE_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN),
    "member": (NOT_YOURS_TO_DELETE,) * 4,
    "author": (None, ALREADY, LOCKED_POSTS, ALREADY),
    # moderators remove posts of others in the admin instead
    "moderator": (NOT_YOURS_TO_DELETE,) * 4,
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED),
    "category_moderator": (NOT_YOURS_TO_DELETE,) * 4,
    "other_category_moderator": (NOT_YOURS_TO_DELETE,) * 4,
    "group_member": (NOT_YOURS_TO_DELETE,) * 4,
    "outsider": (NOT_YOURS_TO_DELETE,) * 4,
}
STATES = [(False, False), (False, True), (True, False), (True, True)]
PLACES = ["public", "private"]


def _expected(table: dict, actor: str, place: str, index: int = 0) -> str | None:
    return MISSING if place == "private" and actor in OUTSIDERS else table[actor][index]


def _column(table: dict, place: str, index: int) -> dict[str, str | None]:
    """A table's answers for one state of the post, by actor."""
    return {actor: _expected(table, actor, place, index) for actor in ACTORS}


_STATE_CASES = [
    pytest.param(
        place,
        locked,
        removed,
        index,
        id=f"{place}-{'locked' if locked else 'open'}-{'removed' if removed else 'visible'}",
    )
    for place in PLACES
    for index, (locked, removed) in enumerate(STATES)
]
_STATE_PARAMS = ("place", "locked", "removed", "index")


@pytest.fixture
def make_post(topics, actors):
    """The opening post of a topic, deleted by its author and the topic locked, as asked."""

    def make(place: str, *, locked: bool, removed: bool) -> Post:
        topic = topics[place]
        post = opening_post(topic)
        if removed:
            services.post_delete(post=post, user=actors["author"])
        if locked:
            services.topic_set_locked(topic=topic, moderator=actors["moderator"], locked=True)
        return post

    return make


@pytest.mark.parametrize(_STATE_PARAMS, _STATE_CASES)
def test_reply_refusal(actors, make_post, place, locked, removed, index):
    post = make_post(place, locked=locked, removed=removed)

    def ask(user):
        topic, parent = selectors.reply_target(viewer=user, post_id=post.pk)
        return permissions.reply_refusal(user, topic, parent)

    answers = _ask_everyone(actors, ask)

    assert _mismatches(answers, _column(REPLY_TABLE, place, index)) == {}


@pytest.mark.parametrize(_STATE_PARAMS, _STATE_CASES)
def test_reply_refusal_to_the_topic_itself(actors, make_post, place, locked, removed, index):
    post = make_post(place, locked=locked, removed=removed)
    expected = {  # only a reply to that post is refused
        actor: None if answer == REPLY_DELETED else answer
        for actor, answer in _column(REPLY_TABLE, place, index).items()
    }

    def ask(user):
        topic, parent = selectors.reply_target(viewer=user, topic_id=post.topic_id)
        assert parent is None
        return permissions.reply_refusal(user, topic)

    answers = _ask_everyone(actors, ask)

    assert _mismatches(answers, expected) == {}


@pytest.mark.parametrize(_STATE_PARAMS, _STATE_CASES)
def test_edit_refusal(actors, make_post, place, locked, removed, index):
    post = make_post(place, locked=locked, removed=removed)

    def ask(user):
        return permissions.edit_refusal(
            user, selectors.post_for_change(post_id=post.pk, viewer=user)
        )

    answers = _ask_everyone(actors, ask)

    assert _mismatches(answers, _column(EDIT_TABLE, place, index)) == {}


@pytest.mark.parametrize(_STATE_PARAMS, _STATE_CASES)
def test_delete_refusal(actors, make_post, place, locked, removed, index):
    post = make_post(place, locked=locked, removed=removed)

    def ask(user):
        changed = selectors.post_for_change(post_id=post.pk, viewer=user)
        return permissions.delete_refusal(user, changed)

    answers = _ask_everyone(actors, ask)

    assert _mismatches(answers, _column(DELETE_TABLE, place, index)) == {}


@pytest.mark.parametrize("place", PLACES)
def test_removed_by_a_moderator_counts_as_removed(actors, topics, place):
    post = opening_post(topics[place])
    services.post_remove(post=post, moderator=actors["moderator"], reason="spam")
    author, reader = actors["author"], actors["group_member"]

    assert (
        permissions.edit_refusal(author, selectors.post_for_change(post_id=post.pk, viewer=author))
        == "That post was deleted."
    )
    assert (
        permissions.delete_refusal(
            author, selectors.post_for_change(post_id=post.pk, viewer=author)
        )
        == ALREADY
    )
    topic, parent = selectors.reply_target(viewer=reader, post_id=post.pk)
    assert permissions.reply_refusal(reader, topic, parent) == REPLY_DELETED


@pytest.mark.parametrize("place", PLACES)
def test_a_banned_author_can_no_longer_change_their_posts(actors, topics, place):
    post = opening_post(topics[place])
    author = actors["author"]
    services.user_set_active(user=author, moderator=actors["moderator"], active=False)

    changed = selectors.post_for_change(post_id=post.pk, viewer=author)

    assert permissions.edit_refusal(author, changed) == SUSPENDED
    assert permissions.delete_refusal(author, changed) == SUSPENDED


@pytest.mark.parametrize("actor", ["moderator", "category_moderator"])
def test_a_moderator_deletes_their_own_post_in_a_locked_topic(actors, topics, actor):
    user = actors[actor]
    own = services.post_reply(author=user, topic=topics["public"], body="mine")
    services.topic_set_locked(topic=topics["public"], moderator=user, locked=True)

    assert (
        permissions.delete_refusal(user, selectors.post_for_change(post_id=own.pk, viewer=user))
        is None
    )


def test_an_author_who_left_the_group_no_longer_finds_their_posts(actors, topics):
    author = actors["author"]
    post = opening_post(topics["private"])
    author.groups.clear()

    with pytest.raises(Post.DoesNotExist):
        selectors.post_for_change(post_id=post.pk, viewer=author)
    with pytest.raises(services.NotFound):
        services.post_edit(post=post, editor=author, body="changed")
    with pytest.raises(services.NotFound):
        services.post_delete(post=post, user=author)
    with pytest.raises(services.NotFound):
        services.post_reply(author=author, topic=topics["private"], body="still here?")
    assert Post.objects.get(pk=post.pk).body == post.body
    assert not Post.objects.get(pk=post.pk).is_removed
    assert Post.objects.filter(topic=topics["private"]).count() == 1


# Whether a reader may change their own posts at all, in an open or a locked topic:
# what decides the Edit and Delete links on a topic page.
OWN_POSTS_TABLE = {
    "anonymous": (LOGIN, LOGIN),
    "member": (None, LOCKED_POSTS),
    "author": (None, LOCKED_POSTS),
    "moderator": (None, None),
    "banned": (SUSPENDED, SUSPENDED),
    "category_moderator": (None, None),
    "other_category_moderator": (None, LOCKED_POSTS),
    "group_member": (None, LOCKED_POSTS),
    "outsider": (None, LOCKED_POSTS),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("locked", [False, True], ids=["open", "locked"])
def test_own_posts_refusal(actors, topics, moderator, place, locked):
    if locked:
        services.topic_set_locked(topic=topics[place], moderator=moderator, locked=True)

    answers = _ask_everyone(
        actors, lambda user: permissions.own_posts_refusal(user, _topic(user, topics[place]))
    )

    assert _mismatches(answers, _column(OWN_POSTS_TABLE, place, locked)) == {}


# --- Checks about a category ------------------------------------------------------------

ANNOUNCEMENTS_ONLY = "Only moderators start topics in Announcements."
RELEASE_NOTES_ONLY = "Only moderators start topics in Release notes."
START_COLUMNS = [
    "general",
    "announcements",  # only moderators (and its Wardens) start topics
    "release-notes",  # rules "": as Announcements
    "announcement-talk",  # members start topics again
    "staff",  # groups only
    "staff-archive",  # rules "": as Staff room
]
_MEMBER_STARTS = (None, ANNOUNCEMENTS_ONLY, RELEASE_NOTES_ONLY, None, MISSING, MISSING)
_INSIDER_STARTS = (None, ANNOUNCEMENTS_ONLY, RELEASE_NOTES_ONLY, None, None, None)
START_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN, MISSING, MISSING),
    "member": _MEMBER_STARTS,
    "author": _INSIDER_STARTS,
    "moderator": (None,) * 6,
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED, MISSING, MISSING),
    "category_moderator": _INSIDER_STARTS,  # Helpers moderate (and so see) Staff room
    "other_category_moderator": (None, None, None, None, MISSING, MISSING),
    "group_member": _INSIDER_STARTS,
    "outsider": _MEMBER_STARTS,
}


def _row(table: dict, columns: list[str], actor: str) -> dict[str, str | None]:
    """A table's answers for one actor, by category."""
    return dict(zip(columns, table[actor], strict=True))


def _by_actor(table: dict, columns: list[str], column: str) -> dict[str, str | None]:
    """A table's answers for one category, by actor."""
    return {actor: table[actor][columns.index(column)] for actor in ACTORS}


@pytest.mark.parametrize("actor", ACTORS)
def test_start_refusal(actors, categories, actor):
    user = actors[actor]

    answers = {
        slug: _answer(lambda slug=slug: permissions.start_refusal(user, _category(user, slug)))
        for slug in START_COLUMNS
    }

    assert _mismatches(answers, _row(START_TABLE, START_COLUMNS, actor)) == {}


@pytest.mark.parametrize("actor", sorted(set(ACTORS) - {"anonymous", "banned"}))
def test_the_new_topic_form_offers_where_one_may_start(actors, categories, actor):
    offered = set(
        selectors.startable_categories(viewer=actors[actor]).values_list("slug", flat=True)
    )

    allowed = {
        slug
        for slug, answer in zip(START_COLUMNS, START_TABLE[actor], strict=True)
        if answer is None
    }
    assert offered & set(START_COLUMNS) == allowed


def test_starting_a_topic_where_only_moderators_may_is_refused(actors, categories):
    with pytest.raises(services.Refused, match=RELEASE_NOTES_ONLY):
        TopicFactory(author=actors["group_member"], category=categories["release-notes"])
    with pytest.raises(services.NotFound):
        TopicFactory(author=actors["outsider"], category=categories["staff-archive"])

    TopicFactory(author=actors["other_category_moderator"], category=categories["release-notes"])
    TopicFactory(author=actors["category_moderator"], category=categories["staff-archive"])
    assert Topic.objects.count() == 2


REPLIES_ONLY = "Only moderators reply in this category."
REPLY_COLUMNS = [
    "rules",  # only moderators (and its Wardens) reply
    "rules-archive",  # rules "": as Rules
    "rules-talk",  # members reply again
]
_MEMBER_REPLIES_IN_RULES = (REPLIES_ONLY, REPLIES_ONLY, None)
REPLY_RULE_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN),
    "member": _MEMBER_REPLIES_IN_RULES,
    "author": _MEMBER_REPLIES_IN_RULES,
    "moderator": (None, None, None),
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED),
    "category_moderator": _MEMBER_REPLIES_IN_RULES,  # the Helpers do not moderate Rules
    "other_category_moderator": (None, None, None),
    "group_member": _MEMBER_REPLIES_IN_RULES,
    "outsider": _MEMBER_REPLIES_IN_RULES,
}


@pytest.mark.parametrize("slug", REPLY_COLUMNS)
def test_reply_refusal_by_the_category_rule(actors, categories, moderator, slug):
    topic = TopicFactory(author=moderator, category=categories[slug])
    post = opening_post(topic)

    def to_topic(user):
        return permissions.reply_refusal(
            user, *selectors.reply_target(viewer=user, topic_id=topic.pk)
        )

    def to_post(user):
        return permissions.reply_refusal(
            user, *selectors.reply_target(viewer=user, post_id=post.pk)
        )

    expected = _by_actor(REPLY_RULE_TABLE, REPLY_COLUMNS, slug)
    assert _mismatches(_ask_everyone(actors, to_topic), expected) == {}
    assert _mismatches(_ask_everyone(actors, to_post), expected) == {}


def test_replying_where_only_moderators_may_is_refused(actors, categories, moderator):
    topic = TopicFactory(author=moderator, category=categories["rules-archive"])

    with pytest.raises(services.Refused, match=REPLIES_ONLY):
        services.post_reply(author=actors["group_member"], topic=topic, body="may I?")
    services.post_reply(author=actors["other_category_moderator"], topic=topic, body="a warden")

    bodies = Post.objects.filter(topic=topic).order_by("tree_id", "lft").values_list("body")
    assert [body for (body,) in bodies] == [opening_post(topic).body, "a warden"]


# --- Moderation of a place: a topic or a category -----------------------------------------

MODERATION_COLUMNS = ["help", "help-faq", "announcements", "staff", "staff-archive"]
_NOBODY_HERE = (ONLY_MODERATORS, ONLY_MODERATORS, ONLY_MODERATORS, MISSING, MISSING)
_INSIDER_HERE = (ONLY_MODERATORS,) * 5
MODERATION_TABLE = {
    "anonymous": _NOBODY_HERE,
    "member": _NOBODY_HERE,
    "author": _INSIDER_HERE,
    "moderator": (None,) * 5,
    "banned": _NOBODY_HERE,
    # Helpers moderate Help, its subcategory, and Staff room with its subcategory
    "category_moderator": (None, None, ONLY_MODERATORS, None, None),
    "other_category_moderator": (ONLY_MODERATORS, ONLY_MODERATORS, None, MISSING, MISSING),
    "group_member": _INSIDER_HERE,
    "outsider": _NOBODY_HERE,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_moderation_refusal_of_a_category(actors, categories, actor):
    user = actors[actor]
    expected = _row(MODERATION_TABLE, MODERATION_COLUMNS, actor)

    answers = {
        slug: _answer(lambda slug=slug: permissions.moderation_refusal(user, _category(user, slug)))
        for slug in MODERATION_COLUMNS
    }
    moderates = {
        slug: _answer(lambda slug=slug: permissions.moderates(user, _category(user, slug)))
        for slug in MODERATION_COLUMNS
    }

    assert _mismatches(answers, expected) == {}
    assert moderates == {
        slug: MISSING if want == MISSING else want is None for slug, want in expected.items()
    }


@pytest.mark.parametrize("slug", MODERATION_COLUMNS)
def test_moderation_refusal_of_a_topic(actors, categories, moderator, slug):
    topic = TopicFactory(author=moderator, category=categories[slug])

    answers = _ask_everyone(
        actors, lambda user: permissions.moderation_refusal(user, _topic(user, topic))
    )

    assert _mismatches(answers, _by_actor(MODERATION_TABLE, MODERATION_COLUMNS, slug)) == {}


@pytest.mark.parametrize("lost", ["is_active", "is_staff"], ids=["banned", "not staff"])
def test_a_category_moderator_who_is_banned_or_not_staff_moderates_nothing(
    actors, categories, topics, lost
):
    user = actors["category_moderator"]
    setattr(user, lost, False)

    assert permissions.moderation_refusal(user, _category(user, "help")) == ONLY_MODERATORS
    assert permissions.moderation_refusal(user, _topic(user, topics["public"])) == ONLY_MODERATORS
    with pytest.raises(Category.DoesNotExist):  # nor do they see Staff room any longer
        _category(user, "staff")
    with pytest.raises(services.Refused):
        services.topic_set_locked(topic=topics["public"], moderator=user, locked=True)
    assert not Topic.objects.get(pk=topics["public"].pk).is_locked


# --- Objects read without the access selectors ------------------------------------------
#
# A topic or category read without its rights allows only what a global moderator may do.


def test_an_object_read_without_its_rights_allows_only_a_global_moderator(
    actors, categories, topics
):
    topic = Topic.objects.get(pk=topics["public"].pk)
    post = Post.objects.select_related("topic").get(pk=opening_post(topic).pk)
    help_category, general = Category.objects.get(slug="help"), Category.objects.get(slug="general")
    member, helper, moderator = actors["member"], actors["category_moderator"], actors["moderator"]

    assert permissions.reply_refusal(member, topic) == REPLIES_ONLY
    assert permissions.start_refusal(member, general) == "Only moderators start topics in General."
    assert not permissions.moderates(helper, topic)
    assert permissions.moderation_refusal(helper, topic) == ONLY_MODERATORS
    assert permissions.moderation_refusal(helper, help_category) == ONLY_MODERATORS
    assert permissions.edit_refusal(helper, post) == NOT_YOURS

    assert permissions.reply_refusal(moderator, topic) is None
    assert permissions.start_refusal(moderator, general) is None
    assert permissions.moderation_refusal(moderator, topic) is None
    assert permissions.edit_refusal(moderator, post) is None


# --- Who sees which category: subcategories follow their parents ---------------------------

PRIVATE = {"staff", "staff-open", "staff-archive"}
MEMBERS_ONLY = {"lounge", "lounge-open"}
HIDDEN_TABLE = {
    "anonymous": PRIVATE | MEMBERS_ONLY,
    "member": PRIVATE,
    "author": set(),
    "moderator": set(),
    "banned": PRIVATE,
    "category_moderator": set(),  # the Helpers moderate Staff room
    "other_category_moderator": PRIVATE,
    "group_member": set(),
    "outsider": PRIVATE,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_who_sees_which_category(actors, categories, actor):
    seen = set(access.visible_categories(actors[actor]).values_list("slug", flat=True))

    assert seen == set(categories) - HIDDEN_TABLE[actor]


def test_a_subcategory_cannot_show_what_its_parent_hides(actors, categories):
    """Staff open and Lounge open say "everyone", under parents that do not."""
    inside = {
        slug: TopicFactory(author=actors["author"], category=categories[slug], title=f"In {slug}")
        for slug in ("staff-open", "lounge-open", "help-faq")
    }

    for actor, user in actors.items():
        seen = {
            slug
            for slug, topic in inside.items()
            if access.topics_with_rights(user).filter(pk=topic.pk).exists()
            and access.visible_topics(user).filter(pk=topic.pk).exists()
            and access.visible_posts(user).filter(topic=topic).exists()
        }
        assert seen == set(inside) - HIDDEN_TABLE[actor], actor


# --- The matrix, through the web ---------------------------------------------------------
#
# Each role tries each action through the pages a person would use, on the
# author's topic in Help ("public") and in Staff room ("private"). A cell says
# whether the action happens; a refusal must change nothing. Category
# moderators lock, pin and remove through the admin where they moderate;
# imports are the global moderators'.

ACTIONS = ["view", "start", "reply", "edit", "delete", "lock", "pin", "remove", "import"]
WEB_ROLES = [*ACTORS, "members_only_anonymous"]
T, F = True, False
_NOTHING = (F,) * 9
_READS = (T, F, F, F, F, F, F, F, F)
_POSTS = (T, T, T, F, F, F, F, F, F)
_AUTHOR = (T, T, T, T, T, F, F, F, F)
_MODERATOR = (T, T, T, T, F, T, T, T, T)
_CATEGORY_MODERATOR = (T, T, T, T, F, T, T, T, F)
MATRIX = {
    "public": {
        "anonymous": _READS,
        "members_only_anonymous": _NOTHING,
        "member": _POSTS,
        "author": _AUTHOR,
        "moderator": _MODERATOR,
        "banned": _READS,
        "category_moderator": _CATEGORY_MODERATOR,
        "other_category_moderator": _POSTS,
        "group_member": _POSTS,
        "outsider": _POSTS,
    },
    "private": {
        "anonymous": _NOTHING,
        "members_only_anonymous": _NOTHING,
        "member": _NOTHING,
        "author": _AUTHOR,
        "moderator": _MODERATOR,
        "banned": _NOTHING,
        "category_moderator": _CATEGORY_MODERATOR,
        "other_category_moderator": _NOTHING,
        "group_member": _POSTS,
        "outsider": _NOTHING,
    },
}


@pytest.fixture
def scene(actors, topics):
    """The banned member wrote a reply of their own in Help, before the ban."""
    banned = actors["banned"]
    banned.is_active = True
    banned.save(update_fields=["is_active"])
    own = services.post_reply(author=banned, topic=topics["public"], body="before the ban")
    banned.is_active = False
    banned.save(update_fields=["is_active"])
    return {"topics": topics, "banned_post": own}


def _attempt(client, scene: dict, place: str, role: str, action: str) -> bool:
    """Try one action; True when it happened."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    topic = scene["topics"][place]
    op = opening_post(topic)
    own = scene["banned_post"] if role == "banned" and place == "public" else op
    before = (Topic.objects.count(), Post.objects.count())
    if action == "view":
        return client.get(topic.get_absolute_url()).status_code == 200
    if action == "start":
        slug = topic.category.slug
        client.post("/t/new/", {"category": slug, "title": "New", "body": "text"})
        return Topic.objects.count() == before[0] + 1
    if action == "reply":
        client.post(f"/t/{topic.pk}/reply/", {"body": "a reply"})
        return Post.objects.count() == before[1] + 1
    if action == "edit":
        client.post(f"/p/{own.pk}/edit/", {"body": "edited text", "title": topic.title})
        return Post.objects.get(pk=own.pk).body == "edited text"
    if action == "delete":
        client.post(f"/p/{own.pk}/delete/")
        return Post.objects.get(pk=own.pk).is_removed
    if action in {"lock", "pin"}:
        client.post(f"/admin/threads/topic/{topic.pk}/{action}/")
        field = "is_locked" if action == "lock" else "is_pinned"
        return getattr(Topic.objects.get(pk=topic.pk), field)
    if action == "remove":
        client.post(f"/admin/threads/post/{op.pk}/remove/", {"reason": "test"})
        return Post.objects.get(pk=op.pk).removal == Post.Removal.MODERATOR
    upload = SimpleUploadedFile("a.md", b"### Imported\n- @x [2025-01-01T00:00:00Z]: hi\n")
    client.post("/admin/threads/topic/import/", {"file": upload})
    return Topic.objects.filter(title="Imported").exists()


@pytest.mark.parametrize("role", WEB_ROLES)
@pytest.mark.parametrize("place", list(MATRIX))
def test_permission_matrix(client, settings, scene, actors, place, role):
    """Each action in turn; each one tried changes nothing that those after it look at."""
    if role == "members_only_anonymous":
        settings.FORUM_LOGIN_REQUIRED = True
    elif role != "anonymous":
        client.force_login(actors[role])
    expected = dict(zip(ACTIONS, MATRIX[place][role], strict=True))

    happened = {action: _attempt(client, scene, place, role, action) for action in expected}

    assert happened == expected


# --- What moderators do, through the services -------------------------------------------
#
# Every moderation service, by every actor, on a topic in Help ("public"), in
# Staff room ("private") and in Announcements ("elsewhere"). It happens exactly
# where the actor moderates; anywhere else it is refused and changes nothing.

MODERATES = {
    # actor: (public, private, elsewhere)
    "moderator": (T, T, T),
    "category_moderator": (T, T, F),
    "other_category_moderator": (F, F, T),
}
MODERATION_PLACES = ["public", "private", "elsewhere"]
# Where each place's topic moves to: a subcategory, moderated by the same group.
MOVE_TARGETS = {"public": "help-faq", "private": "staff-archive", "elsewhere": "release-notes"}
MODERATION_ACTIONS = ["lock", "pin", "retitle", "move", "remove", "restore", "delete"]


@pytest.fixture
def moderation_scene(categories, topics, actors):
    """Each place's topic, with a reply by its author that a moderator removed earlier."""
    moderator = actors["moderator"]
    elsewhere = TopicFactory(author=moderator, category=categories["announcements"])
    scene = {}
    for place, topic in {**topics, "elsewhere": elsewhere}.items():
        reply = services.post_reply(author=actors["author"], topic=topic, body=f"Reply {place}")
        removed = services.post_reply(author=actors["author"], topic=topic, body=f"Gone {place}")
        services.post_remove(post=removed, moderator=moderator, reason="earlier")
        scene[place] = (topic, reply, removed)
    return scene


def _moderate(user, scene: dict, place: str, action: str, categories) -> bool:
    """Do one moderation through its service; True when it happened."""
    topic, reply, removed = scene[place]
    calls = {
        "lock": lambda: services.topic_set_locked(topic=topic, moderator=user, locked=True),
        "pin": lambda: services.topic_set_pinned(topic=topic, moderator=user, pinned=True),
        "retitle": lambda: services.topic_retitle(topic=topic, moderator=user, title="Renamed"),
        "move": lambda: services.topic_move(
            topic=topic, moderator=user, category=categories[MOVE_TARGETS[place]]
        ),
        "remove": lambda: services.post_remove(post=reply, moderator=user, reason="test"),
        "restore": lambda: services.post_restore(post=removed, moderator=user),
        "delete": lambda: services.topic_delete(topic=topic, moderator=user),
    }
    before = (
        list(Topic.objects.order_by("pk").values_list()),
        list(Post.objects.order_by("pk").values_list()),
    )
    try:
        calls[action]()
    except services.Refused:
        after = (
            list(Topic.objects.order_by("pk").values_list()),
            list(Post.objects.order_by("pk").values_list()),
        )
        assert after == before, "a refusal changed something"
        return False
    now = Topic.objects.filter(pk=topic.pk).first()
    return {
        "lock": lambda: now.is_locked,
        "pin": lambda: now.is_pinned,
        "retitle": lambda: now.title == "Renamed",
        "move": lambda: now.category.slug == MOVE_TARGETS[place],
        "remove": lambda: Post.objects.get(pk=reply.pk).removal == Post.Removal.MODERATOR,
        "restore": lambda: not Post.objects.get(pk=removed.pk).is_removed,
        "delete": lambda: now is None,
    }[action]()


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_moderation_matrix(actors, categories, moderation_scene, actor, place):
    """Each action in turn (a move keeps the topic with the same moderators; delete is last)."""
    may = MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]

    happened = {
        action: _moderate(actors[actor], moderation_scene, place, action, categories)
        for action in MODERATION_ACTIONS
    }

    assert happened == dict.fromkeys(MODERATION_ACTIONS, may)


def test_a_category_moderator_moves_topics_only_between_categories_they_moderate(
    actors, categories, topics
):
    helper = actors["category_moderator"]
    general_topic = TopicFactory(author=actors["member"], category=categories["general"])

    with pytest.raises(services.Refused):
        services.topic_move(
            topic=topics["public"], moderator=helper, category=categories["general"]
        )
    with pytest.raises(services.Refused):
        services.topic_move(topic=general_topic, moderator=helper, category=categories["help"])
    services.topic_move(topic=topics["public"], moderator=helper, category=categories["staff"])

    assert Topic.objects.get(pk=general_topic.pk).category.slug == "general"
    assert Topic.objects.get(pk=topics["public"].pk).category.slug == "staff"


def test_a_category_moderator_replies_and_edits_in_a_locked_topic_they_moderate(
    actors, categories, topics
):
    helper, author = actors["category_moderator"], actors["author"]
    locked = services.topic_set_locked(topic=topics["public"], moderator=helper, locked=True)
    op = opening_post(locked)

    services.post_reply(author=helper, topic=locked, body="a helper's reply")
    services.post_edit(post=op, editor=helper, body="fixed by a helper")
    with pytest.raises(services.Refused, match=LOCKED):
        services.post_reply(author=author, topic=locked, body="the author's reply")

    assert Post.objects.get(pk=op.pk).body == "fixed by a helper"
    assert Post.objects.filter(topic=locked).count() == 2


# --- Edit history and slow mode -----------------------------------------------------------
#
# Hiding and showing an earlier version of a post, and setting a topic's slow mode, by
# every actor in each place of the moderation matrix: it happens exactly where they
# moderate (MODERATES). Hidden versions are seen only by those who moderate there.


@pytest.fixture
def history_scene(categories, topics, actors):
    """Each place's topic, its opening post edited once: its original text a revision."""
    moderator = actors["moderator"]
    elsewhere = TopicFactory(author=moderator, category=categories["announcements"])
    scene = {}
    for place, topic in {**topics, "elsewhere": elsewhere}.items():
        post = services.post_edit(post=opening_post(topic), editor=topic.author, body="edited")
        scene[place] = (topic, PostRevision.objects.get(post=post))
    return scene


def _history_snapshot() -> tuple[list, list]:
    return (
        list(Topic.objects.order_by("pk").values_list()),
        list(PostRevision.objects.order_by("pk").values_list()),
    )


HISTORY_ACTIONS = ["hide", "show", "slow_mode"]


def _moderate_history(user, scene: dict, place: str, action: str) -> bool:
    """Do one action through its service; True when it happened."""
    topic, revision = scene[place]
    calls = {
        "hide": lambda: services.revision_set_hidden(
            revision=revision, moderator=user, hidden=True
        ),
        "show": lambda: services.revision_set_hidden(
            revision=revision, moderator=user, hidden=False
        ),
        "slow_mode": lambda: services.topic_set_slow_mode(
            topic=topic, moderator=user, interval=timedelta(minutes=1)
        ),
    }
    if action == "show":  # hidden first, by a global moderator
        PostRevision.objects.filter(pk=revision.pk).update(hidden=True)
    before = _history_snapshot()
    try:
        calls[action]()
    except services.Refused:
        assert _history_snapshot() == before, "a refusal changed something"
        return False
    return {
        "hide": lambda: PostRevision.objects.get(pk=revision.pk).hidden,
        "show": lambda: not PostRevision.objects.get(pk=revision.pk).hidden,
        "slow_mode": lambda: Topic.objects.get(pk=topic.pk).slow_mode is not None,
    }[action]()


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_history_and_slow_mode_matrix(actors, history_scene, actor, place):
    may = MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]

    happened = {
        action: _moderate_history(actors[actor], history_scene, place, action)
        for action in HISTORY_ACTIONS
    }

    assert happened == dict.fromkeys(HISTORY_ACTIONS, may)


@pytest.mark.parametrize("place", MODERATION_PLACES)
def test_who_sees_a_hidden_version(actors, history_scene, moderator, place):
    _, revision = history_scene[place]
    services.revision_set_hidden(revision=revision, moderator=moderator, hidden=True)

    def seen(user) -> str | None:
        versions = selectors.post_history(post_id=revision.post_id, viewer=user, page=None)
        return versions.versions[-1].body  # the original text: the hidden one

    answers = _ask_everyone(actors, seen)

    def expected(actor: str) -> str | None:
        """The text for those who moderate there; None (replaced) for other readers."""
        if MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]:
            return revision.body
        return MISSING if place == "private" and actor in OUTSIDERS else None

    assert answers == {actor: expected(actor) for actor in ACTORS}


# --- Reports and suspensions, through the services -----------------------------------------
#
# Any member who sees a post reports it (never their own); the report queue's decisions
# (dismiss, remove, suspend the author) are the moderators' of the post's place, as
# MODERATES says. Suspending and lifting a suspension outside the queue is for global
# moderators only.

REPORT_ACTIONS = ["report", "dismiss", "remove", "suspend"]


@pytest.fixture
def report_scene(categories, topics, actors):
    """Each place's topic, with a reply by a staff member to report, and a reply by the
    author for each of the queue's decisions, reported by a reader who sees every place."""
    moderator = actors["moderator"]
    reporter = in_groups(UserFactory(username="reporter"), Group.objects.get(name="Staff"))
    poster = in_groups(UserFactory(username="poster"), Group.objects.get(name="Staff"))
    elsewhere = TopicFactory(author=moderator, category=categories["announcements"])
    scene = {}
    for place, topic in {**topics, "elsewhere": elsewhere}.items():
        posts = {"report": services.post_reply(author=poster, topic=topic, body=f"To {place}")}
        for action in REPORT_ACTIONS[1:]:
            posts[action] = services.post_reply(
                author=actors["author"], topic=topic, body=f"{action} {place}"
            )
            services.post_report(post=posts[action], reporter=reporter, why="abuse")
        scene[place] = posts
    return scene


def _report_state() -> tuple:
    return (
        list(Report.objects.order_by("pk").values_list()),
        list(Post.objects.order_by("pk").values_list("pk", "removal")),
        list(User.objects.order_by("pk").values_list("pk", "suspended_until")),
    )


def _decide_report(user, posts: dict, action: str) -> bool:
    """Do one report action through its service; True when it happened."""
    until = timezone.now() + timedelta(days=1)
    post = posts[action]
    calls = {
        "report": lambda: services.post_report(post=post, reporter=user, why="spam"),
        "dismiss": lambda: services.reports_dismiss(post=post, moderator=user),
        "remove": lambda: services.reported_post_remove(post=post, moderator=user, reason="x"),
        "suspend": lambda: services.reported_author_suspend(
            post=post, moderator=user, until=until, reason="x"
        ),
    }
    before = _report_state()
    try:
        calls[action]()
    except services.Refused:
        assert _report_state() == before, "a refusal changed something"
        return False
    outcomes = Report.objects.filter(post=post).values_list("outcome", flat=True)
    return {
        "report": lambda: Report.objects.filter(post=post, reporter=user).exists(),
        "dismiss": lambda: set(outcomes) == {"dismissed"},
        "remove": lambda: set(outcomes) == {"removed"},
        "suspend": lambda: set(outcomes) == {"suspended"},
    }[action]()


# --- Splitting and merging topics ------------------------------------------------------------
#
# By every actor, in each place of MODERATES: a reply split off into the place's
# MOVE_TARGETS category, and another topic of the place's category merged into
# its topic. Both happen exactly where the actor moderates.

SPLIT_ACTIONS = ["split", "merge"]


def _split_or_merge(user, scene: dict, place: str, action: str, categories, other: Topic) -> bool:
    """Split or merge through the service; True when it happened, and nothing changed if not."""
    topic, reply, _ = scene[place]
    before = (
        list(Topic.objects.order_by("pk").values_list()),
        list(Post.objects.order_by("pk").values_list()),
    )
    try:
        if action == "split":
            services.topic_split(
                post=reply, moderator=user, title="Split", category=categories[MOVE_TARGETS[place]]
            )
        else:
            services.topic_merge(topic=other, into=topic, moderator=user)
    except services.Refused:
        after = (
            list(Topic.objects.order_by("pk").values_list()),
            list(Post.objects.order_by("pk").values_list()),
        )
        assert after == before, "a refusal changed something"
        return False
    if action == "split":
        return Post.objects.get(pk=reply.pk).topic.category.slug == MOVE_TARGETS[place]
    return not Topic.objects.filter(pk=other.pk).exists()


# --- The approval queue -------------------------------------------------------------------
#
# Approving and rejecting held posts, by every actor, in Help ("public"), Staff
# room ("private") and Announcements ("elsewhere"): a reply in each place's
# topic, and a new topic in each place's category (Announcement talk, where
# members start topics, for "elsewhere"). It happens exactly where the actor
# moderates (MODERATES); anywhere else it is refused and changes nothing. Only
# the author and those moderators see a held post's page.

APPROVAL_ACTIONS = ["approve_reply", "reject_reply", "approve_topic", "reject_topic"]
APPROVAL_CATEGORIES = {"public": "help", "private": "staff", "elsewhere": "announcement-talk"}


@pytest.fixture
def approval_scene(settings, categories, topics, actors):
    """For each place: two held replies by the author and two held new topics."""
    from threads.models import PendingPost

    limits = {"approval_posts": 1_000, "pending_posts_per_member": 100}
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, **limits}
    Category.objects.filter(slug__in=APPROVAL_CATEGORIES.values()).update(requires_approval=True)
    author = actors["author"]
    elsewhere = TopicFactory(author=actors["moderator"], category=categories["announcements"])
    scene = {}
    for place, topic in {**topics, "elsewhere": elsewhere}.items():
        category = Category.objects.get(slug=APPROVAL_CATEGORIES[place])
        held = [
            services.post_reply(author=author, topic=topic, body=f"{place} {n}") for n in (1, 2)
        ]
        held += [
            services.topic_create(author=author, title=f"{place} {n}", body="b", category=category)
            for n in (3, 4)
        ]
        assert all(isinstance(pending, PendingPost) for pending in held)
        scene[place] = dict(zip(APPROVAL_ACTIONS, held, strict=True))
    return scene


def _decide_pending(user, pending, action: str) -> bool:
    """Approve or reject through the service; True when it happened."""
    from threads.models import PendingPost

    before = list(PendingPost.objects.order_by("pk").values_list())
    try:
        if action.startswith("approve"):
            services.pending_approve(pending=pending, moderator=user)
        else:
            services.pending_reject(pending=pending, moderator=user, reason="test")
    except (services.Refused, services.NotFound):
        assert list(PendingPost.objects.order_by("pk").values_list()) == before
        return False
    status = PendingPost.objects.get(pk=pending.pk).status
    return status == ("approved" if action.startswith("approve") else "rejected")


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_report_matrix(actors, report_scene, actor, place):
    may_moderate = MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]
    sees = not (place == "private" and actor in OUTSIDERS)
    may_report = actor not in {"anonymous", "banned"} and sees

    happened = {
        action: _decide_report(actors[actor], report_scene[place], action)
        for action in REPORT_ACTIONS
    }

    assert happened == {
        "report": may_report,
        "dismiss": may_moderate,
        "remove": may_moderate,
        "suspend": may_moderate,
    }


@pytest.mark.parametrize("actor", ACTORS)
def test_suspension_matrix(actors, actor):
    """Suspending and lifting outside the queue: global moderators only."""
    user, target = actors[actor], UserFactory(username="target")
    until = timezone.now() + timedelta(days=1)
    expected = actor == "moderator"

    try:
        services.member_suspend(member=target, moderator=user, until=until, reason="x")
        suspended = True
    except services.Refused:
        suspended = False
    services.member_suspend(
        member=target, moderator=actors["moderator"], until=until, reason="by the moderator"
    )
    try:
        services.member_unsuspend(member=target, moderator=user)
        lifted = True
    except services.Refused:
        lifted = False

    assert (suspended, lifted) == (expected, expected)
    assert User.objects.get(pk=target.pk).suspended_until == (None if expected else until)


@pytest.mark.parametrize("target", ["category_moderator", "another moderator"])
def test_moderators_and_staff_are_never_suspended(actors, report_scene, target):
    moderator = actors["moderator"]
    staff = actors.get(target) or ModeratorFactory()
    until = timezone.now() + timedelta(days=1)
    post = services.post_reply(
        author=staff, topic=report_scene["public"]["report"].topic, body="a staff reply"
    )
    services.post_report(post=post, reporter=actors["member"], why="abuse")

    with pytest.raises(services.Refused, match="cannot be suspended"):
        services.reported_author_suspend(post=post, moderator=moderator, until=until, reason="x")
    with pytest.raises(services.Refused, match="cannot be suspended"):
        services.member_suspend(member=staff, moderator=moderator, until=until, reason="x")
    assert User.objects.get(pk=staff.pk).suspended_until is None


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_split_and_merge_matrix(actors, categories, moderation_scene, actor, place):
    may = MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]
    topic = moderation_scene[place][0]
    starter = actors["moderator"] if place == "elsewhere" else actors["author"]
    other = TopicFactory(author=starter, category=topic.category, title="Another")

    happened = {
        action: _split_or_merge(actors[actor], moderation_scene, place, action, categories, other)
        for action in SPLIT_ACTIONS
    }

    assert happened == dict.fromkeys(SPLIT_ACTIONS, may)


def test_a_category_moderator_splits_and_merges_only_within_what_they_moderate(
    actors, categories, topics
):
    helper, author = actors["category_moderator"], actors["author"]
    reply = services.post_reply(author=author, topic=topics["public"], body="a reply")
    general_topic = TopicFactory(author=actors["member"], category=categories["general"])

    # Not into a category they do not moderate, nor from or into a topic they do not.
    with pytest.raises(services.Refused):
        services.topic_split(
            post=reply, moderator=helper, title="Out", category=categories["general"]
        )
    with pytest.raises(services.Refused):
        services.topic_merge(topic=topics["public"], into=general_topic, moderator=helper)
    with pytest.raises(services.Refused):
        services.topic_merge(topic=general_topic, into=topics["public"], moderator=helper)
    assert Post.objects.get(pk=reply.pk).topic_id == topics["public"].pk
    assert Topic.objects.filter(pk__in=[general_topic.pk, topics["public"].pk]).count() == 2

    # Between their categories, they may.
    split = services.topic_split(
        post=reply, moderator=helper, title="In", category=categories["staff"]
    )
    services.topic_merge(topic=split, into=topics["private"], moderator=helper)
    assert Post.objects.get(pk=reply.pk).topic_id == topics["private"].pk


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_approval_matrix(actors, approval_scene, actor, place):
    may = MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]

    happened = {
        action: _decide_pending(actors[actor], approval_scene[place][action], action)
        for action in APPROVAL_ACTIONS
    }

    assert happened == dict.fromkeys(APPROVAL_ACTIONS, may)


@pytest.mark.parametrize("place", MODERATION_PLACES)
@pytest.mark.parametrize("actor", ACTORS)
def test_who_sees_a_held_posts_page(client, actors, approval_scene, actor, place):
    may = actor == "author" or MODERATES.get(actor, (F, F, F))[MODERATION_PLACES.index(place)]
    if actor != "anonymous":
        client.force_login(actors[actor])

    seen = {
        action: client.get(f"/pending/{pending.pk}/").status_code
        for action, pending in approval_scene[place].items()
    }

    assert seen == dict.fromkeys(APPROVAL_ACTIONS, 200 if may else 404)
