"""Splitting replies off into a new topic, and merging topics (threads.services.splits)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import conversation, selectors, services
from threads.models import (
    Category,
    ModerationAction,
    Notification,
    Post,
    PostSearch,
    Topic,
    TopicRedirect,
    TopicWatch,
)
from threads.search_query import parse

from .factories import CategoryFactory, UserFactory, importer
from .helpers import opening_post, tree_shape

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return MOMENT + timedelta(minutes=minutes)


def _reply(topic, author, body, *, parent=None, at: int) -> Post:
    return services.post_reply(
        author=author, topic=topic, parent=parent, body=body, created=_at(at)
    )


@pytest.fixture
def thread(member, other_member):
    """A topic: alice's opening post, bob's top-level answer with a branch under it."""
    topic = services.topic_create(author=member, title="Backups", body="How?", created=_at(0))
    answer = _reply(topic, other_member, "Use borg", at=1)
    branch = _reply(topic, member, "Why borg?", parent=answer, at=2)
    deeper = _reply(topic, other_member, "Dedup", parent=branch, at=3)
    other = _reply(topic, member, "Thanks", parent=answer, at=4)
    return {"topic": topic, "answer": answer, "branch": branch, "deeper": deeper, "other": other}


def _topic(pk: int) -> Topic:
    return Topic.objects.get(pk=pk)


def _found(text: str) -> list[int]:
    results = selectors.search_results(viewer=AnonymousUser(), query=parse(text))
    return [result.post_id for result in results.results]


# --- Split ----------------------------------------------------------------------------------


def test_a_split_makes_the_post_and_its_replies_a_topic(thread, moderator, member, other_member):
    old, branch = thread["topic"], thread["branch"]
    category = CategoryFactory(name="Tools")

    new = services.topic_split(
        post=branch, moderator=moderator, title="About borg", category=category
    )

    assert tree_shape(new) == f"{member.username}: Why borg?\n  {other_member.username}: Dedup"
    assert tree_shape(old) == (
        f"{member.username}: How?\n{other_member.username}: Use borg\n  {member.username}: Thanks"
    )
    new = _topic(new.pk)
    assert (new.title, new.category, new.author) == ("About borg", category, member)
    assert (new.created, new.last_activity, new.reply_count) == (_at(2), _at(3), 1)
    assert new.description == "Why borg?"
    assert [p.created for p in Post.objects.filter(topic=new).order_by("lft")] == [_at(2), _at(3)]
    assert (_topic(old.pk).reply_count, _topic(old.pk).last_activity) == (2, _at(4))
    assert Category.objects.get(pk=category.pk).post_count == 2
    assert services.default_category().post_count == 3
    assert selectors.tree_problems() == []
    assert selectors.is_opening_post(Post.objects.get(pk=branch.pk))


def test_the_split_point_shows_a_note_on_the_cached_page(client, thread, moderator):
    old = thread["topic"]
    assert "were moved" not in client.get(old.get_absolute_url()).content.decode()  # cached

    new = services.topic_split(
        post=thread["branch"], moderator=moderator, title="<b>Borg</b>", category=old.category
    )

    html = client.get(old.get_absolute_url()).content.decode()
    assert f'2 replies were moved to <a href="/t/{new.pk}/">&lt;b&gt;Borg&lt;/b&gt;</a>.' in html
    assert Post.objects.get(pk=thread["answer"].pk).split_notes == [
        {"count": 2, "topic": new.pk, "title": "<b>Borg</b>"}
    ]
    page = client.get(new.get_absolute_url()).content.decode()
    assert "Why borg?" in page
    assert "Dedup" in page
    assert f'href="#p{thread["answer"].pk}">Parent' not in page


def test_a_top_level_post_split_off_leaves_its_note_on_the_opening_post(client, thread, moderator):
    old = thread["topic"]
    client.get(old.get_absolute_url())

    new = services.topic_split(
        post=thread["answer"], moderator=moderator, title="Borg", category=old.category
    )

    assert opening_post(old).split_notes == [{"count": 4, "topic": new.pk, "title": "Borg"}]
    assert "4 replies were moved to" in client.get(old.get_absolute_url()).content.decode()
    assert _topic(old.pk).reply_count == 0
    assert _topic(new.pk).reply_count == 3
    assert selectors.tree_problems() == []


def test_one_reply_moved_says_so(thread, moderator):
    services.topic_split(
        post=thread["other"], moderator=moderator, title="Thanks", category=thread["topic"].category
    )

    assert "1 reply was moved to" in Post.objects.get(pk=thread["answer"].pk).fragment


def test_permalinks_follow_the_posts(client, thread, moderator):
    new = services.topic_split(
        post=thread["branch"], moderator=moderator, title="Borg", category=thread["topic"].category
    )

    response = client.get(f"/p/{thread['deeper'].pk}/")

    assert response["Location"] == f"{new.get_absolute_url()}#p{thread['deeper'].pk}"


def test_search_results_follow_a_split(thread, moderator):
    category = CategoryFactory(name="Tools")
    new = services.topic_split(
        post=thread["branch"], moderator=moderator, title="Deduplication", category=category
    )

    entries = PostSearch.objects.filter(post_id__in=[thread["branch"].pk, thread["deeper"].pk])
    assert set(entries.values_list("topic_id", "category_id")) == {(new.pk, category.pk)}
    assert _found("deduplication") == [thread["branch"].pk]  # the title is on its opening post


def test_notifications_of_moved_posts_follow_them(thread, moderator, member):
    old = thread["topic"]
    entry = Notification.objects.get(member=member, last_post=thread["deeper"])

    new = services.topic_split(
        post=thread["branch"], moderator=moderator, title="Borg", category=old.category
    )

    assert Notification.objects.get(pk=entry.pk).topic_id == new.pk
    assert TopicWatch.objects.filter(topic=new).count() == 0  # watches stay with the old topic


def test_a_split_is_logged(thread, moderator):
    category = CategoryFactory(name="Tools")
    new = services.topic_split(
        post=thread["branch"], moderator=moderator, title="Borg", category=category, reason="aside"
    )

    entry = ModerationAction.objects.get(action=ModerationAction.Action.SPLIT)
    assert (entry.topic, entry.post_id, entry.moderator) == (new, thread["branch"].pk, moderator)
    assert (entry.category, entry.previous_category) == (category, thread["topic"].category)
    assert (entry.reason, entry.details) == ("aside", "2 posts of “Backups” into “Borg”")


def _everything() -> tuple:
    return tuple(
        list(model.objects.order_by("pk").values_list())
        for model in (Topic, Post, PostSearch, ModerationAction, Category)
    )


@pytest.mark.parametrize(
    ("which", "title", "error"),
    [
        ("opening", "Fine", "opening post cannot be split"),
        ("branch", "   ", "needs a title"),
        ("branch", "x" * 201, "at most"),
    ],
)
def test_refused_splits_change_nothing(thread, moderator, which, title, error):
    post = opening_post(thread["topic"]) if which == "opening" else thread[which]
    before = _everything()

    with pytest.raises(ValidationError, match=error):
        services.topic_split(
            post=post, moderator=moderator, title=title, category=thread["topic"].category
        )

    assert _everything() == before


def test_members_may_not_split(thread, member):
    before = _everything()

    with pytest.raises(services.Refused):
        services.topic_split(
            post=thread["branch"], moderator=member, title="Mine", category=thread["topic"].category
        )

    assert _everything() == before


def test_a_new_byline_keeps_the_note(thread, moderator, other_member):
    services.topic_split(
        post=thread["branch"], moderator=moderator, title="Borg", category=thread["topic"].category
    )
    other_member.display_name = "Bob B."
    other_member.save(update_fields=["display_name"])

    services.bylines_rebuild(user_id=other_member.pk, pause=0)

    fragment = Post.objects.get(pk=thread["answer"].pk).fragment
    assert "Bob B." in fragment
    assert "2 replies were moved to" in fragment


# --- Merge ----------------------------------------------------------------------------------


@pytest.fixture
def two_topics(member, other_member):
    """Topic B (kept) and topic A (merged into it), their top-level posts interleaved in time."""
    into = services.topic_create(author=member, title="Kept", body="B opens", created=_at(10))
    b_first = _reply(into, other_member, "B at 20", at=20)
    b_second = _reply(into, other_member, "B at 40", at=40)
    merged = services.topic_create(
        author=other_member, title="Merged", body="A opens", created=_at(5)
    )
    a_reply = _reply(merged, member, "A at 30", at=30)
    a_deep = _reply(merged, other_member, "under A at 30", parent=a_reply, at=50)
    return {
        "into": into,
        "merged": merged,
        "b": (b_first, b_second),
        "a": (opening_post(merged), a_reply, a_deep),
    }


def test_a_merge_interleaves_the_top_level_posts_by_time(
    two_topics, moderator, member, other_member
):
    into, merged = two_topics["into"], two_topics["merged"]

    result = services.topic_merge(topic=merged, into=into, moderator=moderator)

    assert result.pk == into.pk
    alice, bob = member.username, other_member.username
    assert tree_shape(into) == "\n".join(
        [
            f"{alice}: B opens",
            f"{bob}: A opens",  # older than B's opening post, yet B's opening post stays first
            f"{bob}: B at 20",
            f"{alice}: A at 30",
            f"  {bob}: under A at 30",
            f"{bob}: B at 40",
        ]
    )
    assert not Topic.objects.filter(pk=merged.pk).exists()
    into = _topic(into.pk)
    assert (into.reply_count, into.last_activity, into.title) == (5, _at(50), "Kept")
    assert selectors.is_opening_post(opening_post(into))
    assert opening_post(into).body == "B opens"
    assert services.default_category().topic_count == 1
    assert services.default_category().post_count == 6
    assert selectors.tree_problems() == []
    roots = Post.objects.filter(level=0)
    assert roots.values("tree_id").distinct().count() == roots.count()


def test_a_merge_renews_the_cached_page(client, two_topics, moderator):
    into, merged = two_topics["into"], two_topics["merged"]
    assert "A at 30" not in client.get(into.get_absolute_url()).content.decode()

    services.topic_merge(topic=merged, into=into, moderator=moderator)

    assert "A at 30" in client.get(into.get_absolute_url()).content.decode()


def test_a_merged_topic_redirects_permanently(
    client, two_topics, moderator, django_assert_num_queries
):
    into, merged = two_topics["into"], two_topics["merged"]
    services.topic_merge(topic=merged, into=into, moderator=moderator)

    with CaptureQueriesContext(connection) as missing:
        assert client.get("/t/999999/").status_code == 404
    with django_assert_num_queries(len(missing)):  # the lookup of the redirect, then 301
        response = client.get(f"/t/{merged.pk}-{merged.slug}/?page=2")

    assert response.status_code == 301
    assert response["Location"] == _topic(into.pk).get_absolute_url()
    feed = client.get(f"/t/{merged.pk}/feed/")
    assert (feed.status_code, feed["Location"]) == (301, f"/t/{into.pk}/feed/")
    shown = client.get(f"/p/{two_topics['a'][2].pk}/")
    assert shown["Location"] == f"{_topic(into.pk).get_absolute_url()}#p{two_topics['a'][2].pk}"


def test_a_topic_page_asks_for_no_redirect_when_the_topic_is_there(
    client, two_topics, django_assert_num_queries
):
    url = two_topics["into"].get_absolute_url()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert not any("topicredirect" in query["sql"] for query in queries)


def test_a_redirect_to_a_topic_the_reader_may_not_see_is_a_404(client, two_topics, moderator):
    hidden = CategoryFactory(name="Hidden", who_sees="members")
    services.topic_move(topic=two_topics["into"], moderator=moderator, category=hidden)
    services.topic_merge(topic=two_topics["merged"], into=two_topics["into"], moderator=moderator)

    assert client.get(f"/t/{two_topics['merged'].pk}/").status_code == 404
    assert client.get(f"/t/{two_topics['merged'].pk}/feed/").status_code == 404


def test_redirects_to_a_merged_topic_follow_it_further(member, two_topics, moderator):
    third = services.topic_create(author=member, title="Third", body="C", created=_at(60))
    services.topic_merge(topic=two_topics["merged"], into=two_topics["into"], moderator=moderator)
    services.topic_merge(topic=two_topics["into"], into=third, moderator=moderator)

    assert dict(TopicRedirect.objects.values_list("old_topic_id", "target_id")) == {
        two_topics["merged"].pk: third.pk,
        two_topics["into"].pk: third.pk,
    }
    assert selectors.tree_problems() == []


def test_search_titles_and_entries_follow_a_merge(two_topics, moderator):
    into, merged = two_topics["into"], two_topics["merged"]
    services.topic_merge(topic=merged, into=into, moderator=moderator)

    assert set(PostSearch.objects.values_list("topic_id", flat=True)) == {into.pk}
    assert _found("merged") == []  # the old title is on no entry
    assert _found("kept") == [opening_post(into).pk]
    assert two_topics["a"][1].pk in _found("A at 30")


def test_watches_and_entries_go_along(two_topics, moderator, member, other_member):
    into, merged = two_topics["into"], two_topics["merged"]
    _reply(into, other_member, "To alice", parent=opening_post(into), at=45)
    unread = Notification.objects.filter(member=member, read__isnull=True)
    # alice watches B (hers) and was answered in B and in A.
    assert sorted(unread.values_list("topic_id", "reason")) == [
        (into.pk, "reply"),
        (into.pk, "watching"),
        (merged.pk, "reply"),
    ]
    carol = UserFactory(username="carol")
    services.watch_set(member=carol, level="watching", topic=merged)

    services.topic_merge(topic=merged, into=into, moderator=moderator)

    # Her two unread replies' entries are one now; the count follows.
    assert sorted(unread.values_list("topic_id", "reason")) == [
        (into.pk, "reply"),
        (into.pk, "watching"),
    ]
    member.refresh_from_db()
    assert member.inbox.unread == 2
    assert TopicWatch.objects.get(member=carol).topic_id == into.pk
    assert TopicWatch.objects.filter(member=other_member).count() == 1  # he watched both


def test_a_merge_is_logged(two_topics, moderator):
    services.topic_merge(
        topic=two_topics["merged"], into=two_topics["into"], moderator=moderator, reason="same"
    )

    entry = ModerationAction.objects.get(action=ModerationAction.Action.MERGE)
    assert (entry.topic_id, entry.reason) == (two_topics["into"].pk, "same")
    assert entry.details == "3 posts of “Merged” into “Kept”"


def test_refused_merges_change_nothing(two_topics, moderator, member):
    before = _everything()

    with pytest.raises(ValidationError, match="into itself"):
        services.topic_merge(topic=two_topics["into"], into=two_topics["into"], moderator=moderator)
    with pytest.raises(services.NotFound):
        services.topic_merge(topic=two_topics["merged"], into=Topic(pk=999999), moderator=moderator)
    with pytest.raises(services.Refused):
        services.topic_merge(topic=two_topics["merged"], into=two_topics["into"], moderator=member)

    assert _everything() == before


# --- ConversationJS -------------------------------------------------------------------------


def test_split_and_merged_topics_round_trip_through_conversationjs(thread, two_topics, moderator):
    split = services.topic_split(
        post=thread["branch"], moderator=moderator, title="Borg", category=thread["topic"].category
    )
    merged = services.topic_merge(
        topic=two_topics["merged"], into=two_topics["into"], moderator=moderator
    )
    ids = [thread["topic"].pk, split.pk, merged.pk]
    first = selectors.conversation_export(topic_ids=ids)
    before = set(Topic.objects.values_list("pk", flat=True))

    document = conversation.read(first.encode(), filename="again.md")
    services.conversation_import(documents=[document], moderator=importer())

    imported = sorted(set(Topic.objects.values_list("pk", flat=True)) - before)
    assert selectors.conversation_export(topic_ids=imported) == first
    assert "### Borg" in first
    assert "### Kept" in first


def test_a_title_in_a_note_is_escaped(thread, moderator):
    services.topic_split(
        post=thread["other"],
        moderator=moderator,
        title='"><script>x</script>',
        category=thread["topic"].category,
    )

    fragment = Post.objects.get(pk=thread["answer"].pk).fragment
    assert "<script>" not in fragment
    assert "&lt;script&gt;" in fragment


# --- Locks ----------------------------------------------------------------------------------


@pytest.fixture
def taken(monkeypatch):
    """The locks taken, in order: ("topics", ids), ("tree ids",), ("categories", ids)."""
    events: list[tuple] = []
    locks = services.locks
    lock_topics, lock_tree_ids, lock_categories = (
        locks.lock_topics,
        locks.lock_tree_ids,
        locks.lock_categories,
    )
    recounted = services.writes.categories_recounted

    def spy(name, real):
        def call(*args, **kwargs):
            events.append((name, *args))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(locks, "lock_topics", spy("topics", lock_topics))
    monkeypatch.setattr(locks, "lock_tree_ids", spy("tree ids", lock_tree_ids))
    monkeypatch.setattr(locks, "lock_categories", spy("categories", lock_categories))
    monkeypatch.setattr(services.writes, "categories_recounted", spy("recounted", recounted))
    return events


def test_a_split_locks_the_topic_then_the_tree_ids_then_counts(thread, moderator, taken):
    old = thread["topic"]
    category = CategoryFactory(name="Tools")

    services.topic_split(post=thread["branch"], moderator=moderator, title="B", category=category)

    assert taken == [
        ("topics", old.pk),
        ("tree ids",),
        ("recounted", old.category_id, category.pk),
    ]


def test_a_merge_locks_both_topics_then_the_tree_ids_then_the_categories(
    two_topics, moderator, taken
):
    into, merged = two_topics["into"], two_topics["merged"]

    services.topic_merge(topic=merged, into=into, moderator=moderator)

    category = into.category_id
    assert taken == [
        ("topics", merged.pk, into.pk),
        ("tree ids",),
        ("categories", category, category),
        ("recounted", category, category),
    ]
