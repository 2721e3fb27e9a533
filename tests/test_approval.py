"""Posts held for approval (threads.services.publishing, threads.services.approval)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from threads import selectors, services
from threads.models import (
    Category,
    ModerationAction,
    Notification,
    PendingPost,
    Post,
    PostSearch,
    Topic,
)
from threads.search_query import parse
from threads.selectors import approval

from .factories import (
    CategoryFactory,
    GroupFactory,
    ReplyFactory,
    TopicFactory,
    UserFactory,
    in_groups,
)
from .helpers import opening_post, tree_shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def approval_posts(settings, topic):
    """A member's first post waits for a moderator (alice, who wrote `topic`, is past it)."""
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 1}


@pytest.fixture
def newcomer(db):
    return UserFactory(username="newcomer")


def found(text: str, viewer) -> list[int]:
    results = selectors.search_results(viewer=viewer, query=parse(text)).results
    return [result.post_id for result in results]


def _snapshot(topic: Topic) -> tuple:
    topic = Topic.objects.get(pk=topic.pk)
    category = Category.objects.get(pk=topic.category_id)
    return (
        topic.revision,
        topic.reply_count,
        topic.last_activity,
        category.post_count,
        category.topic_count,
        Post.objects.count(),
        PostSearch.objects.count(),
        Notification.objects.count(),
    )


# --- Held or not -------------------------------------------------------------------------


def test_with_no_approval_posts_nothing_is_held_and_the_queue_costs_no_query(topic, newcomer):
    with CaptureQueriesContext(connection) as queries:
        reply = services.post_reply(author=newcomer, topic=topic, body="straight in")

    assert isinstance(reply, Post)
    assert not PendingPost.objects.exists()
    assert not [q for q in queries if PendingPost._meta.db_table in q["sql"]]


def test_a_new_members_first_posts_are_held_and_nothing_else_is_written(
    approval_posts, topic, newcomer, member
):
    before = _snapshot(topic)

    pending = services.post_reply(author=newcomer, topic=topic, body="My *zebra* reply")

    assert isinstance(pending, PendingPost)
    assert (pending.status, pending.held) == ("pending", PendingPost.Held.NEW_ACCOUNT)
    assert (pending.topic_id, pending.parent_id, pending.author_id) == (topic.pk, None, newcomer.pk)
    assert pending.body_html == "<p>My <em>zebra</em> reply</p>"
    assert _snapshot(topic) == before  # no post, count, search entry, notification or revision
    assert found("zebra", member) == []
    assert found("zebra", newcomer) == []


def test_the_check_costs_one_query_when_it_applies(approval_posts, topic, newcomer):
    with CaptureQueriesContext(connection) as queries:
        services.post_reply(author=newcomer, topic=topic, body="held")

    assert len([q for q in queries if PendingPost._meta.db_table in q["sql"]]) == 2  # ask, insert


def test_a_member_with_enough_posts_is_not_held(settings, approval_posts, topic, member, moderator):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 2}
    second = services.post_reply(author=member, topic=topic, body="second")
    assert isinstance(second, PendingPost)
    services.pending_approve(pending=second, moderator=moderator)

    assert isinstance(services.post_reply(author=member, topic=topic, body="third"), Post)


def test_removed_posts_do_not_count_towards_approval(
    settings, topic, newcomer, moderator, approval_posts
):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 0}
    first = services.post_reply(author=newcomer, topic=topic, body="spam one")
    ReplyFactory(topic=topic, author=newcomer)
    services.post_remove(post=first, moderator=moderator, reason="spam")
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 2}

    assert isinstance(services.post_reply(author=newcomer, topic=topic, body="x"), PendingPost)


def test_moderators_are_never_held_where_they_moderate(approval_posts, moderator, helpers_group):
    help_category = CategoryFactory(name="Help", moderator_groups=[helpers_group])
    general = services.default_category()
    helper = in_groups(UserFactory(username="helper", is_staff=True), helpers_group)
    topic = TopicFactory(author=moderator, category=general)

    assert isinstance(services.post_reply(author=moderator, topic=topic, body="mod"), Post)
    elsewhere = services.post_reply(author=helper, topic=topic, body="in General")
    assert isinstance(elsewhere, PendingPost)
    assert isinstance(
        services.topic_create(author=helper, title="Helping", body="b", category=help_category),
        Topic,
    )


def test_a_category_that_requires_approval_holds_every_new_topic_but_not_replies(member):
    strict = CategoryFactory(name="Strict", requires_approval=True)
    topic_elsewhere = TopicFactory(author=member)

    held = services.topic_create(author=member, title="Please", body="let me", category=strict)
    reply = services.post_reply(author=member, topic=topic_elsewhere, body="not held")

    assert isinstance(held, PendingPost)
    assert (held.category_id, held.title, held.topic_id) == (strict.pk, "Please", None)
    assert held.held == PendingPost.Held.CATEGORY
    assert not Topic.objects.filter(title="Please").exists()
    assert Category.objects.get(pk=strict.pk).topic_count == 0
    assert isinstance(reply, Post)


def test_a_held_post_went_through_the_same_checks(approval_posts, topic, newcomer, moderator):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    with pytest.raises(services.Refused, match="locked"):
        services.post_reply(author=newcomer, topic=topic, body="into a locked topic")
    with pytest.raises(ValidationError):
        services.post_reply(author=newcomer, topic=topic, body="   ")
    assert not PendingPost.objects.exists()


def test_a_member_with_many_posts_waiting_may_send_no_more(settings, approval_posts, topic):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "pending_posts_per_member": 2}
    newcomer = UserFactory()
    for n in range(2):
        services.post_reply(author=newcomer, topic=topic, body=f"waiting {n}")

    with pytest.raises(services.RateLimited, match="2 posts awaiting approval"):
        services.post_reply(author=newcomer, topic=topic, body="one more")
    assert PendingPost.objects.count() == 2


# --- Approving -----------------------------------------------------------------------------


def test_approving_publishes_in_place_with_its_time_and_notifies_then(
    approval_posts, topic, member, newcomer, moderator
):
    parent = ReplyFactory(topic=topic, author=member, body="Parent")
    ReplyFactory(topic=topic, author=member, body="Later")
    sent = timezone.now() - timedelta(hours=2)
    pending = services.post_reply(
        author=newcomer, topic=topic, parent=parent, body="Answer to @alice", created=sent
    )
    assert not Notification.objects.filter(member=member).exists()
    before = Topic.objects.get(pk=topic.pk)

    approved = services.pending_approve(pending=pending, moderator=moderator)

    post = approved.post
    assert (approved.status, approved.decided_by, approved.post_id) == (
        "approved",
        moderator,
        post.pk,
    )
    assert approved.decided is not None
    assert (post.parent_id, post.created, post.body) == (parent.pk, sent, "Answer to @alice")
    assert tree_shape(topic) == (
        "alice: Hello, **forum**.\nalice: Parent\n  newcomer: Answer to @alice\nalice: Later"
    )
    after = Topic.objects.get(pk=topic.pk)
    assert after.reply_count == before.reply_count + 1
    assert after.revision != before.revision
    assert after.last_activity == before.last_activity  # it was sent before the latest post
    assert Category.objects.get(pk=topic.category_id).post_count == 4
    (entry,) = Notification.objects.filter(member=member)
    assert entry.reason == "reply"
    assert found("answer", member) == [post.pk]
    (logged,) = ModerationAction.objects.filter(action=ModerationAction.Action.APPROVE)
    assert (logged.moderator, logged.post_id, logged.topic_id, logged.member) == (
        moderator,
        post.pk,
        topic.pk,
        newcomer,
    )
    assert selectors.tree_problems() == []


def test_approving_a_new_topic_starts_it(member, moderator):
    strict = CategoryFactory(name="Strict", requires_approval=True)
    pending = services.topic_create(
        author=member, title="Held topic", body="Its text", category=strict
    )

    approved = services.pending_approve(pending=pending, moderator=moderator)

    topic = approved.post.topic
    assert (topic.title, topic.category_id, topic.author) == ("Held topic", strict.pk, member)
    assert topic.created == pending.created
    assert opening_post(topic).pk == approved.post_id
    assert topic.description == "Its text"
    counted = Category.objects.get(pk=strict.pk)
    assert (counted.topic_count, counted.post_count, counted.last_topic_id) == (1, 1, topic.pk)
    assert found("held", moderator) == [approved.post_id]
    assert PendingPost.objects.get(pk=pending.pk).topic_id is None


def test_a_top_level_reply_becomes_the_last_top_level_post(
    approval_posts, topic, member, newcomer, moderator
):
    pending = services.post_reply(author=newcomer, topic=topic, body="Top level")
    ReplyFactory(topic=topic, author=member, body="Meanwhile")

    services.pending_approve(pending=pending, moderator=moderator)

    assert tree_shape(topic) == "alice: Hello, **forum**.\nalice: Meanwhile\nnewcomer: Top level"


def test_the_cached_topic_page_shows_the_approved_reply(
    client, approval_posts, topic, newcomer, moderator
):
    pending = services.post_reply(author=newcomer, topic=topic, body="Worth the wait")
    assert "Worth the wait" not in client.get(topic.get_absolute_url()).content.decode()

    services.pending_approve(pending=pending, moderator=moderator)

    assert "Worth the wait" in client.get(topic.get_absolute_url()).content.decode()


def test_a_decision_is_made_once(approval_posts, topic, newcomer, moderator):
    pending = services.post_reply(author=newcomer, topic=topic, body="once")
    services.pending_approve(pending=pending, moderator=moderator)

    with pytest.raises(services.Refused, match="decided"):
        services.pending_approve(pending=pending, moderator=moderator)
    with pytest.raises(services.Refused, match="decided"):
        services.pending_reject(pending=pending, moderator=moderator, reason="late")
    assert Post.objects.filter(author=newcomer).count() == 1


def test_a_reply_to_a_post_removed_meanwhile_cannot_be_approved(
    approval_posts, topic, member, newcomer, moderator
):
    parent = ReplyFactory(topic=topic, author=member)
    pending = services.post_reply(author=newcomer, topic=topic, parent=parent, body="late")
    services.post_remove(post=parent, moderator=moderator, reason="gone")

    with pytest.raises(services.Refused, match="cannot be published: That post was deleted"):
        services.pending_approve(pending=pending, moderator=moderator)
    assert PendingPost.objects.get(pk=pending.pk).status == "pending"
    services.pending_reject(pending=pending, moderator=moderator, reason="Its post is gone")


def test_a_reply_in_a_topic_locked_meanwhile_cannot_be_approved(
    approval_posts, topic, newcomer, moderator
):
    pending = services.post_reply(author=newcomer, topic=topic, body="late")
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    with pytest.raises(services.Refused, match="locked"):
        services.pending_approve(pending=pending, moderator=moderator)
    services.topic_set_locked(topic=topic, moderator=moderator, locked=False)
    assert services.pending_approve(pending=pending, moderator=moderator).status == "approved"


def test_a_post_by_a_member_banned_meanwhile_cannot_be_approved(
    approval_posts, topic, newcomer, moderator
):
    pending = services.post_reply(author=newcomer, topic=topic, body="late")
    services.user_set_active(user=newcomer, moderator=moderator, active=False)

    with pytest.raises(services.Refused, match="suspended"):
        services.pending_approve(pending=pending, moderator=moderator)


def test_a_deleted_topic_takes_its_pending_replies(approval_posts, topic, newcomer, moderator):
    pending = services.post_reply(author=newcomer, topic=topic, body="late")
    services.topic_delete(topic=topic, moderator=moderator)

    assert not PendingPost.objects.exists()
    with pytest.raises(services.NotFound):
        services.pending_approve(pending=pending, moderator=moderator)


def test_a_reply_follows_its_parent_moved_to_another_topic(
    approval_posts, topic, member, newcomer, moderator
):
    parent = ReplyFactory(topic=topic, author=member, body="Moving")
    other = TopicFactory(author=member, title="Other", body="Other topic")
    pending = services.post_reply(author=newcomer, topic=topic, parent=parent, body="Follows")
    services.post_move(post=parent, moderator=moderator, new_parent=None, topic=other)

    approved = services.pending_approve(pending=pending, moderator=moderator)

    assert approved.post.topic_id == other.pk
    assert PendingPost.objects.get(pk=pending.pk).topic_id == other.pk
    assert tree_shape(other) == "alice: Other topic\nalice: Moving\n  newcomer: Follows"
    assert Topic.objects.get(pk=other.pk).reply_count == 2


# --- Rejecting -----------------------------------------------------------------------------


def test_rejecting_needs_a_reason_and_keeps_it(approval_posts, topic, newcomer, moderator):
    pending = services.post_reply(author=newcomer, topic=topic, body="spam")
    before = _snapshot(topic)

    with pytest.raises(ValidationError, match="Say why"):
        services.pending_reject(pending=pending, moderator=moderator, reason="  ")
    assert PendingPost.objects.get(pk=pending.pk).status == "pending"

    rejected = services.pending_reject(
        pending=pending, moderator=moderator, reason=" Spam,  sorry "
    )

    assert (rejected.status, rejected.reason, rejected.decided_by) == (
        "rejected",
        "Spam, sorry",
        moderator,
    )
    stored = PendingPost.objects.get(pk=pending.pk)
    assert (stored.status, stored.reason, stored.post_id) == ("rejected", "Spam, sorry", None)
    assert _snapshot(topic) == before
    (logged,) = ModerationAction.objects.filter(action=ModerationAction.Action.REJECT)
    assert (logged.reason, logged.topic_id, logged.member, logged.category_id) == (
        "Spam, sorry",
        topic.pk,
        newcomer,
        topic.category_id,
    )


def test_rejecting_a_new_topic_logs_its_category(member, moderator):
    strict = CategoryFactory(name="Strict", requires_approval=True)
    pending = services.topic_create(author=member, title="No", body="no", category=strict)

    services.pending_reject(pending=pending, moderator=moderator, reason="Off-topic")

    (logged,) = ModerationAction.objects.filter(action=ModerationAction.Action.REJECT)
    assert (logged.category_id, logged.topic_id, logged.details) == (strict.pk, None, "a new topic")


# --- Locks and refusals ----------------------------------------------------------------------


def test_deciding_on_a_reply_locks_its_topic_and_checks_the_reason_first(
    approval_posts, topic, newcomer, moderator, monkeypatch
):
    pending = services.post_reply(author=newcomer, topic=topic, body="locked")
    locked = []
    lock_topics = services.locks.lock_topics
    monkeypatch.setattr(
        services.locks,
        "lock_topics",
        lambda *ids, **kw: locked.append((ids, kw["viewer"])) or lock_topics(*ids, **kw),
    )

    with pytest.raises(ValidationError):
        services.pending_reject(pending=pending, moderator=moderator, reason="")
    assert locked == []
    services.pending_approve(pending=pending, moderator=moderator)

    assert locked == [((topic.pk,), moderator)]


def test_members_cannot_decide(approval_posts, topic, newcomer, member):
    pending = services.post_reply(author=newcomer, topic=topic, body="mine")

    with pytest.raises(services.Refused):
        services.pending_approve(pending=pending, moderator=newcomer)
    with pytest.raises(services.Refused):
        services.pending_reject(pending=pending, moderator=member, reason="no")
    assert PendingPost.objects.get(pk=pending.pk).status == "pending"


def test_a_category_moderator_decides_only_in_their_categories(approval_posts, member):
    helpers = GroupFactory(name="Helpers")
    help_category = CategoryFactory(name="Help", moderator_groups=[helpers])
    helper = in_groups(UserFactory(username="helper", is_staff=True), helpers)
    in_help = TopicFactory(author=member, category=help_category)
    in_general = TopicFactory(author=member)
    newcomer = UserFactory()
    theirs = services.post_reply(author=newcomer, topic=in_help, body="in help")
    not_theirs = services.post_reply(author=newcomer, topic=in_general, body="in general")

    with pytest.raises(services.Refused):
        services.pending_approve(pending=not_theirs, moderator=helper)
    assert services.pending_approve(pending=theirs, moderator=helper).status == "approved"
    assert list(approval.pending_queue(helper)) == []


def test_the_same_text_sent_again_is_the_same_pending_post(
    settings, approval_posts, topic, newcomer
):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "duplicate_window": timedelta(minutes=5)}
    first = services.post_reply(author=newcomer, topic=topic, body="twice")

    again = services.post_reply(author=newcomer, topic=topic, body="twice")
    other = services.post_reply(
        author=newcomer, topic=topic, parent=opening_post(topic), body="twice"
    )

    assert again.pk == first.pk
    assert other.pk != first.pk
    assert PendingPost.objects.count() == 2
