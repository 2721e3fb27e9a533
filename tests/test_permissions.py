"""Every check in threads.permissions, for every kind of reader and post.

Each table gives the expected answer as None (allowed) or a piece of the reason.
"""

import pytest
from django.contrib.auth.models import AnonymousUser

from threads import permissions
from threads.models import Post

from .factories import UserFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db

LOGIN = "Log in to post."
SUSPENDED = permissions.SUSPENDED
LOCKED = permissions.LOCKED
LOCKED_POSTS = permissions.LOCKED_POSTS
ONLY_MODERATORS = "Only moderators can do that."

ACTORS = ["anonymous", "member", "author", "moderator", "banned"]


@pytest.fixture
def actors(member, other_member, moderator, banned):
    # `member` writes the post below, so it plays the author.
    return {
        "anonymous": AnonymousUser(),
        "member": other_member,
        "author": member,
        "moderator": moderator,
        "banned": banned,
    }


@pytest.fixture
def make_post(topic):
    def make(*, locked: bool, removed: bool) -> Post:
        post = opening_post(topic)
        topic.is_locked = locked
        post.topic = topic
        post.removal = Post.Removal.AUTHOR if removed else Post.Removal.VISIBLE
        return post

    return make


def _matches(result: str | None, expected: str | None) -> bool:
    if expected is None:
        return result is None
    return result is not None and expected in result


# --- Checks about the reader alone ----------------------------------------------

READER_TABLE = {
    # actor: (is_moderator, posting_refusal, moderation_refusal)
    "anonymous": (False, LOGIN, ONLY_MODERATORS),
    "member": (False, None, ONLY_MODERATORS),
    "author": (False, None, ONLY_MODERATORS),
    "moderator": (True, None, None),
    "banned": (False, SUSPENDED, ONLY_MODERATORS),
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

# For each actor, the answers for (open, visible), (open, removed),
# (locked, visible), (locked, removed).
REPLY_DELETED = "That post was deleted, so it no longer takes replies."
REPLY_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN),
    "member": (None, REPLY_DELETED, LOCKED, LOCKED),
    "author": (None, REPLY_DELETED, LOCKED, LOCKED),
    "moderator": (None, REPLY_DELETED, None, REPLY_DELETED),
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED),
}
NOT_YOURS = "You can only change your own posts."
EDIT_TABLE = {
    "anonymous": (LOGIN, LOGIN, LOGIN, LOGIN),
    "member": (NOT_YOURS, NOT_YOURS, NOT_YOURS, NOT_YOURS),
    "author": (None, "That post was deleted.", LOCKED_POSTS, "That post was deleted."),
    "moderator": (None, None, None, None),
    "banned": (SUSPENDED, SUSPENDED, SUSPENDED, SUSPENDED),
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
}
STATES = [(False, False), (False, True), (True, False), (True, True)]


def _post_cases(table):
    return [
        pytest.param(
            actor,
            locked,
            removed,
            table[actor][index],
            id=f"{actor}-{'locked' if locked else 'open'}-{'removed' if removed else 'visible'}",
        )
        for actor in ACTORS
        for index, (locked, removed) in enumerate(STATES)
    ]


@pytest.mark.parametrize(("actor", "locked", "removed", "expected"), _post_cases(REPLY_TABLE))
def test_reply_refusal(actors, make_post, actor, locked, removed, expected):
    post = make_post(locked=locked, removed=removed)

    assert _matches(permissions.reply_refusal(actors[actor], post.topic, post), expected)


@pytest.mark.parametrize(("actor", "locked", "removed", "expected"), _post_cases(REPLY_TABLE))
def test_reply_refusal_to_the_topic_itself(actors, make_post, actor, locked, removed, expected):
    post = make_post(locked=locked, removed=removed)
    if expected == REPLY_DELETED:
        expected = None  # only a reply to that post is refused

    assert _matches(permissions.reply_refusal(actors[actor], post.topic), expected)


@pytest.mark.parametrize(("actor", "locked", "removed", "expected"), _post_cases(EDIT_TABLE))
def test_edit_refusal(actors, make_post, actor, locked, removed, expected):
    post = make_post(locked=locked, removed=removed)

    assert _matches(permissions.edit_refusal(actors[actor], post), expected)


@pytest.mark.parametrize(("actor", "locked", "removed", "expected"), _post_cases(DELETE_TABLE))
def test_delete_refusal(actors, make_post, actor, locked, removed, expected):
    post = make_post(locked=locked, removed=removed)

    assert _matches(permissions.delete_refusal(actors[actor], post), expected)


def test_removed_by_a_moderator_counts_as_removed(actors, make_post):
    post = make_post(locked=False, removed=False)
    post.removal = Post.Removal.MODERATOR

    assert permissions.edit_refusal(actors["author"], post) == "That post was deleted."
    assert permissions.delete_refusal(actors["author"], post) == ALREADY
    assert permissions.reply_refusal(actors["member"], post.topic, post) == REPLY_DELETED


def test_a_banned_author_can_no_longer_change_their_posts(actors, make_post):
    post = make_post(locked=False, removed=False)
    author = actors["author"]
    author.is_active = False

    assert permissions.edit_refusal(author, post) == SUSPENDED
    assert permissions.delete_refusal(author, post) == SUSPENDED


def test_a_moderator_deletes_their_own_post_in_a_locked_topic(moderator, topic):
    post = opening_post(topic)
    post.author = moderator
    topic.is_locked = True
    post.topic = topic

    assert permissions.delete_refusal(moderator, post) is None


# --- The matrix, through the web ---------------------------------------------------------
#
# Each role tries each action through the pages a person would use. A cell says
# whether the action happens; a refusal must change nothing.

MATRIX = {
    #               view  start  reply  edit   delete lock   pin    remove import
    "anonymous": (True, False, False, False, False, False, False, False, False),
    "member": (True, True, True, False, False, False, False, False, False),
    "author": (True, True, True, True, True, False, False, False, False),
    "moderator": (True, True, True, True, False, True, True, True, True),
    "banned": (True, False, False, False, False, False, False, False, False),
}
ACTIONS = ["view", "start", "reply", "edit", "delete", "lock", "pin", "remove", "import"]


@pytest.fixture
def scene(client, member, other_member, moderator, banned, topic):
    """`member` wrote the topic; the banned member wrote a reply of their own."""
    from threads import services

    banned.is_active = True
    banned.save(update_fields=["is_active"])
    own = services.post_reply(author=banned, topic=topic, body="before the ban")
    banned.is_active = False
    banned.save(update_fields=["is_active"])
    return {"topic": topic, "op": opening_post(topic), "banned_post": own}


def _attempt(client, scene: dict, role: str, action: str) -> bool:
    """Try one action; True when it happened."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from threads.models import Topic

    topic, op = scene["topic"], scene["op"]
    own = scene["banned_post"] if role == "banned" else op  # each edits "their" post
    before = (Topic.objects.count(), Post.objects.count())
    if action == "view":
        return client.get(topic.get_absolute_url()).status_code == 200
    if action == "start":
        client.post("/t/new/", {"title": "New", "body": "text"})
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


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", list(MATRIX))
def test_permission_matrix(client, scene, member, other_member, moderator, banned, role, action):
    users = {"member": other_member, "author": member, "moderator": moderator, "banned": banned}
    if role in users:
        client.force_login(users[role])

    happened = _attempt(client, scene, role, action)

    assert happened == MATRIX[role][ACTIONS.index(action)]


# Whether a reader may change their own posts at all, in an open or a locked topic:
# what decides the Edit and Delete links on a topic page.
OWN_POSTS_TABLE = {
    "anonymous": (LOGIN, LOGIN),
    "member": (None, LOCKED_POSTS),
    "author": (None, LOCKED_POSTS),
    "moderator": (None, None),
    "banned": (SUSPENDED, SUSPENDED),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("locked", [False, True], ids=["open", "locked"])
def test_own_posts_refusal(actors, topic, actor, locked):
    topic.is_locked = locked

    expected = OWN_POSTS_TABLE[actor][locked]

    assert _matches(permissions.own_posts_refusal(actors[actor], topic), expected)
