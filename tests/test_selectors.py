import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from threads import fragments, selectors, services
from threads.models import Post, Topic

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import build_chain, build_thread, opening_post

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _ids(html: str) -> list[int]:
    """The post ids of a thread's HTML, in page order."""
    return [int(i) for i in re.findall(r'<li [^>]*id="p(\d+)"', html)]


def _topic_url(topic: Topic) -> str:
    return reverse("threads:topic_detail", args=[topic.pk, "a-first-topic"])


def _page_order(topic: Topic, tree_ids=None) -> list[int]:
    posts = Post.objects.filter(topic=topic).order_by("tree_id", "lft")
    if tree_ids is not None:
        posts = posts.filter(tree_id__in=tree_ids)
    return list(posts.values_list("pk", flat=True))


# --- topic_list --------------------------------------------------------------------------


def _text(parts: list[bytes]) -> str:
    return b"".join(parts).decode()


def _titles(topics: selectors.TopicList) -> list[str]:
    return re.findall(r'class="topic-title" href="[^"]*">([^<]*)</a>', topics.html)


def test_topic_list_puts_pinned_topics_first_then_the_most_active(member, moderator):
    TopicFactory(author=member, title="old", created=T0)
    TopicFactory(author=member, title="newer", created=T0 + timedelta(days=1))
    revived = TopicFactory(author=member, title="revived", created=T0 - timedelta(days=1))
    pinned = TopicFactory(author=member, title="pinned", created=T0 - timedelta(days=9))
    ReplyFactory(topic=revived, author=member, created=T0 + timedelta(days=2))
    services.topic_set_pinned(topic=pinned, moderator=moderator, pinned=True)

    assert _titles(selectors.category_index(viewer=ANONYMOUS, page=None).topics) == [
        "pinned",
        "revived",
        "newer",
        "old",
    ]


def test_topic_list_pages(member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 2)
    for day in range(5):
        TopicFactory(author=member, title=f"day {day}", created=T0 + timedelta(days=day))

    assert _titles(selectors.category_index(viewer=ANONYMOUS, page=2).topics) == ["day 2", "day 1"]
    assert _titles(selectors.category_index(viewer=ANONYMOUS, page="99").topics) == ["day 0"]
    assert _titles(selectors.category_index(viewer=ANONYMOUS, page="nonsense").topics) == [
        "day 4",
        "day 3",
    ]


# --- topic_thread --------------------------------------------------------------------------


def test_topic_thread_shows_rows_in_tree_order(topic, other_member):
    op = opening_post(topic)
    a = ReplyFactory(parent=op, author=other_member)
    top = ReplyFactory(topic=topic, author=other_member)
    ReplyFactory(parent=top, author=other_member)
    ReplyFactory(parent=a, author=other_member)  # shifts a's tree only
    ReplyFactory(parent=op, author=other_member)

    thread = selectors.topic_thread(topic_id=topic.pk, page=None, viewer=ANONYMOUS)

    assert thread.topic == topic
    assert _ids(_text(thread.html)) == _page_order(topic)
    assert len(_ids(_text(thread.html))) == 6


def test_topic_thread_pages_hold_whole_top_level_posts(topic, other_member, monkeypatch):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 4)
    op = opening_post(topic)
    ReplyFactory(parent=op, author=other_member)
    tops = [ReplyFactory(topic=topic, author=other_member) for _ in range(4)]
    for top in tops:
        ReplyFactory(parent=top, author=other_member)
    trees = [op.tree_id] + [Post.objects.get(pk=top.pk).tree_id for top in tops]

    pages = [
        selectors.topic_thread(topic_id=topic.pk, page=number, viewer=ANONYMOUS)
        for number in (1, 2, 3)
    ]

    assert [_ids(_text(page.html)) for page in pages] == [
        _page_order(topic, trees[0:2]),
        _page_order(topic, trees[2:4]),
        _page_order(topic, trees[4:5]),
    ]
    assert pages[0].page.paginator.num_pages == 3
    assert pages[2].page.number == 3


def test_topic_thread_marks_the_opening_post_on_page_one_only(topic, other_member, monkeypatch):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 1)
    second = ReplyFactory(topic=topic, author=other_member)
    op = opening_post(topic)

    first_page = _text(selectors.topic_thread(topic_id=topic.pk, page=1, viewer=ANONYMOUS).html)
    second_page = _text(selectors.topic_thread(topic_id=topic.pk, page=2, viewer=ANONYMOUS).html)

    assert f'<li class="post opening-post" id="p{op.pk}">' in first_page
    assert first_page.count("opening-post") == 1
    assert f'<li class="post" id="p{second.pk}">' in second_page
    assert "opening-post" not in second_page


def test_topic_thread_keeps_to_its_topic(topic, other_member):
    mine = ReplyFactory(topic=topic, author=other_member)
    elsewhere = TopicFactory(author=other_member)  # a tree id between this topic's trees
    later = ReplyFactory(topic=topic, author=other_member)

    html = _text(selectors.topic_thread(topic_id=topic.pk, page=None, viewer=ANONYMOUS).html)

    assert _ids(html) == [opening_post(topic).pk, mine.pk, later.pk]
    assert opening_post(elsewhere).pk not in _ids(html)


def test_topic_thread_stops_at_the_thread_depth(topic, other_member):
    chain = build_chain(opening_post(topic), depth=14, author=other_member)

    html = _text(selectors.topic_thread(topic_id=topic.pk, page=None, viewer=ANONYMOUS).html)

    assert _ids(html)[-1] == chain[11].pk  # level 12
    assert f'href="/p/{chain[11].pk}/thread/#p{chain[11].pk}"' in html


def test_topic_thread_of_a_missing_topic_does_not_exist(db):
    with pytest.raises(ObjectDoesNotExist):
        selectors.topic_thread(topic_id=404, page=None, viewer=ANONYMOUS)


# --- post_thread --------------------------------------------------------------------------


def test_post_thread_has_the_ancestors_as_context_and_the_subtree(topic, other_member):
    op = opening_post(topic)
    a = ReplyFactory(parent=op, author=other_member)
    b = ReplyFactory(parent=a, author=other_member)
    c = ReplyFactory(parent=b, author=other_member)
    d = ReplyFactory(parent=b, author=other_member)
    sibling = ReplyFactory(parent=a, author=other_member)

    thread = selectors.post_thread(post_id=b.pk, viewer=ANONYMOUS)

    assert thread.post == b
    assert thread.topic == topic
    assert _ids(_text(thread.context_html)) == [op.pk, a.pk]
    assert _ids(_text(thread.html)) == [b.pk, c.pk, d.pk]
    assert sibling.pk not in _ids(_text(thread.context_html) + _text(thread.html))


def test_post_thread_continues_twelve_levels_below_the_post(topic, other_member):
    chain = build_chain(opening_post(topic), depth=26, author=other_member)

    thread = selectors.post_thread(post_id=chain[11].pk, viewer=ANONYMOUS)  # level 12

    assert _ids(_text(thread.html)) == [post.pk for post in chain[11:24]]  # levels 12..24
    assert f'href="/p/{chain[23].pk}/thread/#p{chain[23].pk}"' in _text(thread.html)


def test_post_thread_of_a_missing_post_does_not_exist(db):
    with pytest.raises(ObjectDoesNotExist):
        selectors.post_thread(post_id=404, viewer=ANONYMOUS)


# --- post_location ------------------------------------------------------------------------


def test_post_location_is_an_anchor_on_the_topic_page(topic, other_member):
    reply = ReplyFactory(parent=opening_post(topic), author=other_member)

    assert (
        selectors.post_location(viewer=ANONYMOUS, post_id=reply.pk)
        == f"{_topic_url(topic)}#p{reply.pk}"
    )


def test_post_location_names_a_later_page(topic, other_member, monkeypatch):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 2)
    tops = [ReplyFactory(topic=topic, author=other_member) for _ in range(4)]
    deep = ReplyFactory(parent=tops[2], author=other_member)
    url = _topic_url(topic)

    # Pages: [opening post, tops[0]], [tops[1]], [tops[2] and its reply], [tops[3]]
    assert selectors.post_location(viewer=ANONYMOUS, post_id=tops[0].pk) == f"{url}#p{tops[0].pk}"
    assert (
        selectors.post_location(viewer=ANONYMOUS, post_id=tops[1].pk)
        == f"{url}?page=2#p{tops[1].pk}"
    )
    assert (
        selectors.post_location(viewer=ANONYMOUS, post_id=tops[2].pk)
        == f"{url}?page=3#p{tops[2].pk}"
    )
    assert selectors.post_location(viewer=ANONYMOUS, post_id=deep.pk) == f"{url}?page=3#p{deep.pk}"
    assert (
        selectors.post_location(viewer=ANONYMOUS, post_id=tops[3].pk)
        == f"{url}?page=4#p{tops[3].pk}"
    )


def test_post_location_of_deep_posts_is_a_thread_page(topic, other_member):
    chain = build_chain(opening_post(topic), depth=26, author=other_member)
    level = {post.level: post for post in chain}

    def location(lvl):
        return selectors.post_location(viewer=ANONYMOUS, post_id=level[lvl].pk)

    assert location(12) == f"{_topic_url(topic)}#p{level[12].pk}"
    assert location(13) == f"/p/{level[12].pk}/thread/#p{level[13].pk}"
    assert location(24) == f"/p/{level[12].pk}/thread/#p{level[24].pk}"
    assert location(25) == f"/p/{level[24].pk}/thread/#p{level[25].pk}"
    assert location(26) == f"/p/{level[24].pk}/thread/#p{level[26].pk}"


def test_every_post_is_shown_where_post_location_says(topic, other_member):
    """Each location's page really contains the post it points to."""
    chain = build_chain(opening_post(topic), depth=26, author=other_member)

    for post in chain:
        location = selectors.post_location(viewer=ANONYMOUS, post_id=post.pk)
        if location.startswith("/p/"):
            shown_on = int(location.split("/")[2])
            html = _text(selectors.post_thread(post_id=shown_on, viewer=ANONYMOUS).html)
        else:
            html = _text(
                selectors.topic_thread(topic_id=topic.pk, page=None, viewer=ANONYMOUS).html
            )
        assert post.pk in _ids(html), location


def test_new_post_location_is_post_location_without_reading_the_post(
    topic, other_member, monkeypatch, django_assert_num_queries
):
    """A service's post (its topic in hand) is placed as post_location places it."""
    chain = build_chain(opening_post(topic), depth=14, author=other_member)
    tops = [ReplyFactory(topic=topic, author=other_member) for _ in range(3)]
    posts = list(Post.objects.select_related("topic").filter(topic=topic))

    for posts_per_page in (selectors.POSTS_PER_PAGE, 2):
        monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", posts_per_page)
        cache.clear()
        for post in posts:
            expected = selectors.post_location(viewer=ANONYMOUS, post_id=post.pk)
            assert selectors.new_post_location(post) == expected
    assert "?page=" in selectors.post_location(viewer=ANONYMOUS, post_id=tops[-1].pk)

    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 1_500)
    shallow, deep = posts[0], next(p for p in posts if p.pk == chain[-1].pk)
    with django_assert_num_queries(0):  # a topic of one page
        selectors.new_post_location(shallow)
    with django_assert_num_queries(1):  # the ancestor whose thread page shows it
        selectors.new_post_location(deep)


# --- reply_target and is_opening_post --------------------------------------------------------


def test_reply_target(topic, other_member):
    reply = ReplyFactory(topic=topic, author=other_member)

    assert selectors.reply_target(viewer=ANONYMOUS, topic_id=topic.pk) == (topic, None)
    assert selectors.reply_target(viewer=ANONYMOUS, post_id=reply.pk) == (topic, reply)
    with pytest.raises(ObjectDoesNotExist):
        selectors.reply_target(viewer=ANONYMOUS, post_id=reply.pk + 100)
    with pytest.raises(ObjectDoesNotExist):
        selectors.reply_target(viewer=ANONYMOUS, topic_id=topic.pk + 100)


def test_reply_place_checks_what_reply_target_checks_and_reads_nothing_more(
    topic, other_member, member, moderator, staff_group, django_assert_num_queries
):
    reply = ReplyFactory(topic=topic, author=other_member)
    hidden = TopicFactory(
        author=moderator,
        category=CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff_group]),
    )

    with django_assert_num_queries(1):
        topic_ref, parent_ref = selectors.reply_place(viewer=member, post_id=reply.pk)
    assert (topic_ref.pk, parent_ref.pk, parent_ref.topic_id) == (topic.pk, reply.pk, topic.pk)
    with django_assert_num_queries(1):
        assert selectors.reply_place(viewer=member, topic_id=topic.pk)[0].pk == topic.pk
    for where in ({"post_id": opening_post(hidden).pk}, {"topic_id": hidden.pk}, {"post_id": 999}):
        with pytest.raises(ObjectDoesNotExist):
            selectors.reply_target(viewer=member, **where)
        with pytest.raises(ObjectDoesNotExist):
            selectors.reply_place(viewer=member, **where)


def test_is_opening_post(topic, other_member):
    op = opening_post(topic)
    top = ReplyFactory(topic=topic, author=other_member)
    child = ReplyFactory(parent=op, author=other_member)

    assert selectors.is_opening_post(op)
    assert not selectors.is_opening_post(top)
    assert not selectors.is_opening_post(child)


def test_topic_lists_show_a_private_category_only_to_those_who_see_it(
    member, other_member, moderator
):
    insiders = Group.objects.create(name="insiders")
    other_member.groups.add(insiders)
    private = services.category_create(
        moderator=None, name="Private", who_sees="groups", seer_groups=[insiders]
    )
    inner = services.category_create(moderator=None, name="Inner", parent=private)
    members_only = services.category_create(moderator=None, name="Members", who_sees="members")
    for title, category in [
        ("public", None),
        ("private", private),
        ("inner", inner),
        ("members", members_only),
    ]:
        TopicFactory(author=other_member, title=title, category=category)

    def seen(viewer) -> list[str]:
        front = selectors.category_index(viewer=viewer, page=None).topics
        profile = selectors.profile(viewer=viewer, username="bob").topics
        assert sorted(_titles(front)) == sorted(topic.title for topic in profile)
        assert front.page.paginator.count == len(profile)
        return sorted(_titles(front))

    assert seen(ANONYMOUS) == ["public"]
    assert seen(member) == ["members", "public"]
    assert seen(other_member) == ["inner", "members", "private", "public"]
    assert seen(moderator) == ["inner", "members", "private", "public"]


def test_a_category_page_shows_the_subcategories_its_reader_sees(member, other_member):
    insiders = Group.objects.create(name="insiders")
    other_member.groups.add(insiders)
    hardware = services.category_create(moderator=None, name="Hardware")
    services.category_create(moderator=None, name="Disks", parent=hardware)
    services.category_create(
        moderator=None, name="Secret", parent=hardware, who_sees="groups", seer_groups=[insiders]
    )
    elsewhere = services.category_create(moderator=None, name="Elsewhere")
    services.category_create(moderator=None, name="Not below", parent=elsewhere)
    TopicFactory(author=member, title="in hardware", category=hardware)

    def shown(viewer, slug="hardware"):
        page = selectors.category_page(viewer=viewer, slug=slug, page=None)
        return page.category.name, [c.name for c in page.subcategories], _titles(page.topics)

    assert shown(ANONYMOUS) == ("Hardware", ["Disks"], ["in hardware"])
    assert shown(member) == ("Hardware", ["Disks"], ["in hardware"])
    assert shown(other_member) == ("Hardware", ["Disks", "Secret"], ["in hardware"])
    assert shown(other_member, "secret") == ("Secret", [], [])
    assert selectors.category_page(viewer=ANONYMOUS, slug="disks", page=None).category.parent == (
        hardware
    )
    for viewer, slug in [(member, "secret"), (ANONYMOUS, "nowhere")]:
        with pytest.raises(ObjectDoesNotExist):
            selectors.category_page(viewer=viewer, slug=slug, page=None)


def _plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return [row[-1] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query planner")
@pytest.mark.parametrize("viewer", ["anonymous", "member"])
@pytest.mark.parametrize(
    ("read", "index"),
    [
        (lambda viewer: selectors.category_index(viewer=viewer, page=1), "topic_list_order_idx"),
        (
            lambda viewer: selectors.profile(viewer=viewer, username="alice"),
            "topic_author_recent_idx",
        ),
    ],
    ids=["front page", "profile"],
)
def test_topic_lists_read_in_index_order_without_sorting(viewer, read, index, member):
    """Not every visible topic of the forum, or every topic of a member, sorted for a page.

    (SQLite did both: the front page read topics "in a visible category" through the
    category index, a profile a member's topics through the author index.)
    """
    services.category_create(moderator=None, name="Private", who_sees="groups")
    TopicFactory(author=member)

    with CaptureQueriesContext(connection) as queries:
        read(ANONYMOUS if viewer == "anonymous" else member)

    topics = next(q["sql"] for q in queries.captured_queries if 'FROM "threads_topic"' in q["sql"])
    plan = _plan(topics)
    assert any(
        step.startswith("SCAN threads_topic USING INDEX " + index)
        or step.startswith("SEARCH threads_topic USING INDEX " + index)
        for step in plan
    ), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


# --- profile --------------------------------------------------------------------------------


def test_profile_lists_topics_and_visible_posts_newest_first(member, other_member, moderator):
    first = TopicFactory(author=member, title="first", created=T0)
    second = TopicFactory(author=member, title="second", created=T0 + timedelta(days=1))
    TopicFactory(author=other_member, title="not hers")
    kept = ReplyFactory(topic=first, author=member, body="kept", created=T0 + timedelta(days=2))
    deleted = ReplyFactory(topic=first, author=member, body="deleted")
    removed = ReplyFactory(topic=first, author=member, body="removed")
    services.post_delete(post=deleted, user=member)
    services.post_remove(post=removed, moderator=moderator, reason="rude")

    profile = selectors.profile(viewer=ANONYMOUS, username="ALICE")

    assert profile.member == member
    assert [t.title for t in profile.topics] == ["second", "first"]
    assert list(profile.posts) == [
        kept,
        opening_post(second),
        opening_post(first),
    ]


def test_profile_pages_through_every_post_once_by_keyset(member, other_member):
    topic = TopicFactory(author=other_member, created=T0)
    # In pairs at the same moment, so that pages break inside a tie.
    for n in range(44):
        ReplyFactory(topic=topic, author=member, created=T0 + timedelta(minutes=n // 2))
    newest_first = list(Post.objects.filter(author=member).order_by("-created", "-pk"))

    pages = [selectors.profile(viewer=ANONYMOUS, username="alice")]
    while pages[-1].older is not None:
        pages.append(
            selectors.profile(viewer=ANONYMOUS, username="alice", before=str(pages[-1].older))
        )

    assert [len(page.posts) for page in pages] == [20, 20, 4]
    assert [post for page in pages for post in page.posts] == newest_first
    assert [page.newer is None for page in pages] == [True, False, False]
    for newer, page in itertools.pairwise(pages):
        back = selectors.profile(viewer=ANONYMOUS, username="alice", after=str(page.newer))
        assert back.posts == newer.posts
        assert (back.newer, back.older) == (newer.newer, newer.older)


def test_profile_pages_after_a_post_that_does_not_exist_are_empty(member, topic):
    ReplyFactory(topic=topic, author=member)

    for cursor in [{"before": "999999"}, {"after": "999999"}]:
        assert selectors.profile(viewer=ANONYMOUS, username="alice", **cursor).posts == []


def test_profile_of_an_unknown_member_does_not_exist(db):
    with pytest.raises(ObjectDoesNotExist):
        selectors.profile(viewer=ANONYMOUS, username="nobody")


# --- Query counts ----------------------------------------------------------------------------


def _grow(topic: Topic, author, size: int) -> dict:
    """Add replies (some deeper than a page shows) and return posts to look at."""
    build_thread(topic, replies=size, author=author)
    chain = build_chain(opening_post(topic), depth=size // 2 + 11, author=author)
    TopicFactory.create_batch(size // 5, author=author)
    return {"deep": chain[-1], "shallow": chain[5], "topic": topic}


SELECTOR_CALLS = {
    "category_index": (2, lambda d: selectors.category_index(viewer=ANONYMOUS, page=1)),
    "category_page": (
        2,
        lambda d: selectors.category_page(viewer=ANONYMOUS, slug=d["topic"].category.slug, page=1),
    ),
    "topic_thread": (
        3,
        lambda d: selectors.topic_thread(topic_id=d["topic"].pk, page=1, viewer=ANONYMOUS),
    ),
    "post_thread": (3, lambda d: selectors.post_thread(post_id=d["shallow"].pk, viewer=ANONYMOUS)),
    "post_location": (2, lambda d: selectors.post_location(viewer=ANONYMOUS, post_id=d["deep"].pk)),
    "post_location_shallow": (  # the post; its topic is one page
        1,
        lambda d: selectors.post_location(viewer=ANONYMOUS, post_id=d["shallow"].pk),
    ),
    "reply_target": (1, lambda d: selectors.reply_target(viewer=ANONYMOUS, post_id=d["deep"].pk)),
    "profile": (
        3,
        lambda d: list(
            selectors.profile(viewer=ANONYMOUS, username=d["deep"].author.username).posts
        ),
    ),
}


@pytest.mark.parametrize("name", SELECTOR_CALLS)
def test_selector_query_counts_do_not_grow_with_the_data(
    name, topic, other_member, django_assert_num_queries
):
    expected, call = SELECTOR_CALLS[name]
    small = _grow(TopicFactory(author=other_member), other_member, 6)
    big = _grow(topic, other_member, 40)

    with django_assert_num_queries(expected):
        call(small)
    with django_assert_num_queries(expected):
        call(big)


def test_topic_thread_query_count_for_a_moderator_does_not_grow(topic, other_member, moderator):
    small = TopicFactory(author=other_member)
    build_thread(small, replies=4, author=other_member)
    build_thread(topic, replies=60, author=moderator)

    counts = []
    for each in (small, topic):
        viewer = type(moderator).objects.get(pk=moderator.pk)  # no permission cache
        with CaptureQueriesContext(connection) as queries:
            selectors.topic_thread(topic_id=each.pk, page=1, viewer=viewer)
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- Cached pages ---------------------------------------------------------------------------


def _page(topic: Topic, viewer=ANONYMOUS) -> str:
    return _text(selectors.topic_thread(topic_id=topic.pk, page=None, viewer=viewer).html)


def test_a_topic_page_is_built_once_per_revision(topic, other_member, django_assert_num_queries):
    _page(topic)

    with django_assert_num_queries(1):  # only the topic row, for its revision
        _page(topic)


@pytest.mark.parametrize(
    ("write", "shown"),
    [
        (lambda p, m: services.post_reply(author=m, topic=p.topic, parent=p, body="new"), "new"),
        (lambda p, m: services.post_edit(post=p, editor=p.author, body="changed"), "changed"),
        (lambda p, m: services.post_delete(post=p, user=p.author), "[deleted by its author]"),
        (
            lambda p, m: services.post_remove(post=p, moderator=m, reason="x"),
            "[removed by a moderator]",
        ),
        (lambda p, m: services.post_move(post=p, moderator=m, new_parent=None), 'id="p'),
        (lambda p, m: services.topic_set_locked(topic=p.topic, moderator=m, locked=True), None),
    ],
)
def test_every_write_shows_at_once(topic, other_member, moderator, write, shown):
    post = ReplyFactory(parent=opening_post(topic), author=other_member, body="original")
    before = _page(topic)

    write(post, moderator)

    after = _page(Topic.objects.get(pk=topic.pk))
    assert after != before or shown is None
    assert shown is None or shown in after
    if shown in {"changed", "[deleted by its author]", "[removed by a moderator]"}:
        assert "original" not in after
    assert after == _text(
        selectors.topic_thread(topic_id=topic.pk, page=None, viewer=ANONYMOUS).html
    )  # and it is what a rebuild gives
    cache.clear()
    assert after == _page(Topic.objects.get(pk=topic.pk))


def test_a_new_topic_never_gets_the_page_of_a_deleted_one(topic, member, moderator):
    doomed = TopicFactory(author=member, body="the deleted topic")
    _page(doomed)
    services.topic_delete(topic=doomed, moderator=moderator)

    fresh = TopicFactory(author=member, body="a new topic")

    assert "a new topic" in _page(fresh)
    assert "the deleted topic" not in _page(fresh)


def test_readers_share_the_page_but_see_their_own_tools(topic, other_member):
    mine = ReplyFactory(parent=opening_post(topic), author=other_member)
    anonymous = _page(topic)

    for_bob = _page(topic, viewer=other_member)

    assert f'href="/p/{mine.pk}/edit/"' in for_bob
    assert f'href="/p/{mine.pk}/edit/"' not in anonymous
    assert (
        for_bob.replace(
            fragments.post_tools(
                links=[(f"/p/{mine.pk}/edit/", "Edit"), (f"/p/{mine.pk}/delete/", "Delete")]
            ),
            "",
        ).replace(' new"', '"')  # and what is new to him
        == anonymous
    )


def test_a_readers_tools_follow_the_script_prefix(topic, other_member, moderator):
    from django.urls import get_script_prefix, set_script_prefix

    mine = ReplyFactory(parent=opening_post(topic), author=other_member)
    before = get_script_prefix()
    try:
        for prefix in ("/", "/forum/", "/"):
            set_script_prefix(prefix)
            page = _page(topic, viewer=other_member)
            assert f'href="{prefix}p/{mine.pk}/edit/"' in page
            assert f'href="{prefix}p/{mine.pk}/delete/"' in page
            assert f'href="{prefix}admin/threads/post/{mine.pk}/move/"' in _page(topic, moderator)
    finally:
        set_script_prefix(before)


def test_a_profile_finds_its_member_through_the_lower_case_index(db):
    """A case-insensitive lookup as UPPER(...) or LIKE cannot use the index on LOWER(username)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserFactory(username="MixedCase")

    with CaptureQueriesContext(connection) as queries:
        assert (
            selectors.profile(viewer=ANONYMOUS, username="mixedcase").member.username == "MixedCase"
        )

    lookup = queries.captured_queries[0]["sql"]
    assert 'LOWER("threads_user"."username") = ' in lookup
    assert "UPPER" not in lookup
    assert "LIKE" not in lookup


# --- Categories and deep pages ----------------------------------------------------------------


def test_category_index_lists_categories_in_tree_order_and_the_latest_topics(member):
    help_desk = CategoryFactory(name="Help", position=1)
    CategoryFactory(name="Setup", parent=help_desk)
    CategoryFactory(name="Off topic", position=2)
    TopicFactory(author=member, category=help_desk, title="Where?", created=T0)

    index = selectors.category_index(viewer=ANONYMOUS, page=None)

    assert [c.name for c in index.categories] == ["General", "Help", "Setup", "Off topic"]
    assert _titles(index.topics) == ["Where?"]
    assert index.topics.page.paginator.count == 1


def test_category_page_lists_its_own_topics_pinned_first(member, moderator):
    help_desk = CategoryFactory(name="Help")
    sub = CategoryFactory(name="Setup", parent=help_desk)
    TopicFactory(author=member, category=help_desk, title="old", created=T0)
    pinned = TopicFactory(author=member, category=help_desk, title="pinned", created=T0)
    TopicFactory(author=member, category=help_desk, title="new", created=T0 + timedelta(days=1))
    TopicFactory(author=member, category=sub, title="in the subcategory")
    TopicFactory(author=member, title="elsewhere")
    services.topic_set_pinned(topic=pinned, moderator=moderator, pinned=True)

    page = selectors.category_page(viewer=ANONYMOUS, slug=help_desk.slug, page=None)

    assert page.category == help_desk
    assert [c.name for c in page.subcategories] == ["Setup"]
    assert _titles(page.topics) == ["pinned", "new", "old"]
    with pytest.raises(ObjectDoesNotExist):
        selectors.category_page(viewer=ANONYMOUS, slug="nowhere", page=None)


@pytest.mark.parametrize("pages", [1, 2, 3, 4, 5])
def test_every_page_of_a_topic_list_is_read_from_the_nearer_end(member, monkeypatch, pages):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 2)
    for day in range(9):
        TopicFactory(author=member, title=f"day {day}", created=T0 + timedelta(days=day))
    newest_first = [f"day {day}" for day in reversed(range(9))]

    topics = selectors.category_index(viewer=ANONYMOUS, page=pages).topics

    assert _titles(topics) == newest_first[(pages - 1) * 2 : pages * 2]
    assert topics.page.paginator.num_pages == 5


def test_a_deep_page_does_not_skip_more_than_half_the_list(member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 2)
    for day in range(20):
        TopicFactory(author=member, title=f"day {day}", created=T0 + timedelta(days=day))

    with CaptureQueriesContext(connection) as queries:
        selectors.category_index(viewer=ANONYMOUS, page=10)

    offsets = [int(n) for q in queries for n in re.findall(r"OFFSET (\d+)", q["sql"])]
    assert offsets == [] or max(offsets) <= 10


def _profile_page(member, **cursor) -> list[str]:
    return [
        p.body
        for p in selectors.profile(viewer=ANONYMOUS, username=member.username, **cursor).posts
    ]


def test_profile_pages_by_keyset_older_and_newer(member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "PROFILE_POSTS_PER_PAGE", 2)
    topic = TopicFactory(author=member, body="post 0", created=T0)
    for n in range(1, 5):
        ReplyFactory(topic=topic, author=member, body=f"post {n}", created=T0 + timedelta(hours=n))
    ReplyFactory(topic=topic, author=member, body="same time", created=T0 + timedelta(hours=4))

    first = selectors.profile(viewer=ANONYMOUS, username=member.username)
    second = selectors.profile(viewer=ANONYMOUS, username=member.username, before=str(first.older))
    last = selectors.profile(viewer=ANONYMOUS, username=member.username, before=str(second.older))
    back = selectors.profile(viewer=ANONYMOUS, username=member.username, after=str(second.newer))

    assert [p.body for p in first.posts] == ["same time", "post 4"]
    assert [p.body for p in second.posts] == ["post 3", "post 2"]
    assert [p.body for p in last.posts] == ["post 1", "post 0"]
    assert (first.newer, last.older) == (None, None)
    assert [p.body for p in back.posts] == ["same time", "post 4"]
    assert back.newer is None


@pytest.mark.parametrize("cursor", ["", "nonsense", "-1", "9" * 30, "0"])
def test_a_profile_cursor_that_means_nothing_shows_the_newest_or_nothing(member, cursor):
    TopicFactory(author=member, body="hello")

    assert _profile_page(member, before=cursor) in (["hello"], [])
    assert _profile_page(member, after=cursor) in (["hello"], [])


def test_private_topics_are_absent_from_lists_counts_and_profiles(member, other_member):
    group = Group.objects.create(name="insiders")
    member.groups.add(group)
    private = CategoryFactory(name="Back room", who_sees="groups", seer_groups=[group])
    TopicFactory(author=member, category=private, title="secret", body="secret body")
    TopicFactory(author=member, title="public", body="public body")

    for viewer, expected in ((other_member, ["public"]), (member, ["public", "secret"])):
        index = selectors.category_index(viewer=viewer, page=None)
        assert sorted(_titles(index.topics)) == expected
        assert index.topics.page.paginator.count == len(expected)
        assert ("Back room" in [c.name for c in index.categories]) is (viewer == member)
        profile = selectors.profile(viewer=viewer, username=member.username)
        assert sorted(t.title for t in profile.topics) == expected
        assert sorted(p.body for p in profile.posts) == [f"{t} body" for t in expected]


def test_a_profile_cursor_on_a_hidden_post_shows_what_a_missing_one_does(member, other_member):
    group = Group.objects.create(name="insiders")
    member.groups.add(group)
    private = CategoryFactory(name="Back room", who_sees="groups", seer_groups=[group])
    TopicFactory(author=member, body="older, public", created=T0)
    hidden = TopicFactory(author=member, category=private, created=T0 + timedelta(days=1))

    def older_than(post_id: int) -> list:
        return selectors.profile(viewer=other_member, username="alice", before=str(post_id)).posts

    assert older_than(opening_post(hidden).pk) == older_than(10**9) == []
