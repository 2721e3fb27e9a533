import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail, signing
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads import conversation, permissions, rendering, selectors, services
from threads.forms import ReplyForm
from threads.models import Mail, Post, Topic, User

from .factories import PASSWORD, CategoryFactory, ReplyFactory, TopicFactory
from .helpers import build_chain, build_thread, form_values, opening_post
from .hostile import SHAPES

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def get(django_assert_max_num_queries):
    """GET a page, in at most `queries` queries."""

    def get(client, url, *, queries: int, **kwargs):
        with django_assert_max_num_queries(queries):
            return client.get(url, **kwargs)

    return get


@pytest.fixture
def banned_client(client, banned):
    client.force_login(banned)
    return client


def _state():
    """Everything a posting form could write, to check that nothing was."""
    return (
        list(Topic.objects.order_by("pk").values_list()),
        list(Post.objects.order_by("pk").values_list()),
    )


def _topic_url(topic: Topic, slug: str = "a-first-topic") -> str:
    return reverse("threads:topic_detail", args=[topic.pk, slug])


def _html(response) -> str:
    return response.content.decode()


def _post_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<li [^>]*id="p(\d+)"', _html(response))]


def _newest_post() -> Post:
    return Post.objects.latest("pk")


def _assert_refused_form(response, status: int, message: str, typed: dict, before) -> None:
    """A rejected form: its status, the reason shown, the text kept and nothing written."""
    assert response.status_code == status
    assert escape(message) in _html(response)
    values = form_values(response)
    for name, text in typed.items():
        assert values.get(name) == text, name
    assert _state() == before


# --- Topic list -------------------------------------------------------------------


def test_topic_list_shows_topics_pinned_first(client, get, topic, other_member, moderator):
    other = TopicFactory(author=other_member, title="Another topic")
    ReplyFactory(topic=other, author=other_member)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)
    services.topic_set_locked(topic=other, moderator=moderator, locked=True)

    response = get(client, "/", queries=2)

    html = _html(response).split('id="latest"')[1]
    assert response.status_code == 200
    assert html.index(topic.get_absolute_url()) < html.index(other.get_absolute_url())
    assert "A first topic" in html
    assert "Another topic" in html
    assert "1 reply" in html
    assert "Pinned" in html
    assert "Locked" in html


def test_topic_list_pages(client, get, member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 2)
    titles = [TopicFactory(author=member, title=f"Topic number {i}").title for i in range(3)]

    first = _html(get(client, "/", queries=2))
    second = _html(get(client, "/?page=2", queries=2))

    assert titles[2] in first
    assert titles[0] not in first
    assert titles[0] in second
    assert 'href="?page=2"' in first


def test_topic_list_pages_are_numbered_first_a_window_and_last(client, get, member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 1)
    for number in range(12):
        TopicFactory(author=member, title=f"Topic number {number}")

    html = _html(get(client, "/?page=6", queries=2))

    nav = html[
        html.index('<ol class="page-numbers">') : html.index("</ol>", html.index("page-numbers"))
    ]
    numbers = re.findall(r'<li>(?:<a href="\?page=(\d+)"[^>]*>\d+</a>)?</li>|class="page-gap"', nav)
    assert [n or "…" for n in numbers] == ["1", "…", "4", "5", "6", "7", "8", "…", "12"]
    assert '<a href="?page=6" aria-current="page">6</a>' in nav
    assert 'rel="prev"' in html
    assert 'rel="next"' in html


def test_category_page_shows_its_subcategories_and_topics(client, get, member):
    hardware = services.category_create(moderator=None, name="Hardware")
    services.category_create(moderator=None, name="Disks", parent=hardware)
    services.category_create(moderator=None, name="Secret", parent=hardware, who_sees="members")
    TopicFactory(author=member, title="A disk question", category=hardware)

    html = _html(get(client, "/c/hardware/", queries=2))

    assert "<h1>Hardware</h1>" in html
    assert 'href="/c/disks/"' in html
    assert "Secret" not in html
    assert "A disk question" in html
    assert get(client, "/c/secret/", queries=1).status_code == 404


def test_empty_topic_list(client, get, db):
    response = get(client, "/", queries=1)

    assert "No topics yet" in _html(response)


# --- Topic page -------------------------------------------------------------------


def test_topic_page_shows_the_thread(client, get, topic, other_member):
    op = opening_post(topic)
    reply = ReplyFactory(parent=op, author=other_member, body="I *agree*")

    response = get(client, topic.get_absolute_url(), queries=3)

    html = _html(response)
    assert response.status_code == 200
    assert "<h1>A first topic</h1>" in html
    assert "<p>Hello, <strong>forum</strong>.</p>" in html
    assert "<p>I <em>agree</em></p>" in html
    assert _post_ids(response) == [op.pk, reply.pk]
    assert "Log in to post." in html  # instead of the reply form


def test_topic_page_has_a_reply_form_for_members(member_client, get, topic):
    response = get(member_client, topic.get_absolute_url(), queries=6)  # and the read mark

    assert f'action="{reverse("threads:topic_reply", args=[topic.pk])}"' in _html(response)
    assert form_values(response) == {"body": ""}


@pytest.mark.parametrize(
    ("slug", "query"), [(None, ""), ("wrong-slug", ""), (None, "?page=2"), ("wrong", "?page=2")]
)
def test_topic_urls_redirect_permanently_to_the_canonical_url(client, get, topic, slug, query):
    url = f"/t/{topic.pk}/" if slug is None else _topic_url(topic, slug)

    response = get(client, url + query, queries=3)

    assert response.status_code == 301
    assert response["Location"] == _topic_url(topic) + query


def test_a_topic_titled_like_a_page_of_its_own_is_still_reachable(client, get, member):
    """Slugs come from titles, so they must not collide with the topic's other pages."""
    topic = TopicFactory(author=member, title="Reply", body="A topic about replies")

    response = get(client, topic.get_absolute_url(), queries=3)

    assert response.status_code == 200
    assert "<h1>Reply</h1>" in _html(response)
    assert "A topic about replies" in _html(response)


def test_topic_page_of_a_missing_topic_is_404(client, get, db):
    assert get(client, "/t/999/anything/", queries=1).status_code == 404


def test_topic_page_pages_by_top_level_posts(client, get, topic, other_member, monkeypatch):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 1)
    later = ReplyFactory(topic=topic, author=other_member)
    answer = ReplyFactory(parent=later, author=other_member)

    first = get(client, topic.get_absolute_url(), queries=3)
    second = get(client, topic.get_absolute_url() + "?page=2", queries=3)

    assert _post_ids(first) == [opening_post(topic).pk]
    assert _post_ids(second) == [later.pk, answer.pk]
    assert "More replies" in _html(first)
    assert "Earlier replies" in _html(second)


def test_topic_page_continues_deep_threads_on_their_own_page(client, get, topic, other_member):
    chain = build_chain(opening_post(topic), depth=14, author=other_member)
    level_12, level_13 = chain[11], chain[12]

    response = get(client, topic.get_absolute_url(), queries=3)

    html = _html(response)
    assert level_12.pk in _post_ids(response)
    assert level_13.pk not in _post_ids(response)
    assert html.count("Continue this thread") == 1
    assert f'<a href="/p/{level_12.pk}/thread/#p{level_12.pk}">Continue this thread' in html


@pytest.mark.parametrize("reader", ["anonymous", "member", "moderator"])
def test_topic_page_query_count_does_not_depend_on_its_size(
    client, member, moderator, other_member, django_assert_num_queries, reader
):
    if reader != "anonymous":
        client.force_login(member if reader == "member" else moderator)
    small = TopicFactory(author=other_member)
    build_thread(small, replies=10, author=member)
    big = TopicFactory(author=other_member)
    build_thread(big, replies=200, author=member)

    with CaptureQueriesContext(connection) as small_queries:
        assert client.get(small.get_absolute_url()).status_code == 200
    with django_assert_num_queries(len(small_queries)):
        response = client.get(big.get_absolute_url())

    assert len(_post_ids(response)) == 201
    assert len(small_queries) <= 8  # with a member's first read mark


def _discussion(replies: int, handles: list[str]) -> list[conversation.Message]:
    """Chains five deep, then a new top-level post, as build_thread makes them."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        conversation.Message(index % 5 if index else 0, handles[index % 2], moment, f"Post {index}")
        for index in range(replies + 1)
    ]


@pytest.mark.parametrize(("reader", "most"), [("anonymous", 5), ("member", 8), ("moderator", 8)])
def test_queries_are_fixed_for_10_and_2000_replies(client, member, moderator, reader, most):
    """The topic page and the topic list, cold and warm, whatever the size."""
    handles = [member.username, moderator.username]
    services.conversation_import(
        moderator=moderator,
        allow_staff_handles=True,
        documents=[
            conversation.Document(
                "sizes",
                [
                    conversation.Conversation("Small", _discussion(10, handles)),
                    conversation.Conversation("Big", _discussion(2000, handles)),
                ]
                + [conversation.Conversation(f"T{n}", _discussion(1, handles)) for n in range(40)],
            )
        ],
    )
    if reader != "anonymous":
        client.force_login(member if reader == "member" else moderator)
    small, big = Topic.objects.get(title="Small"), Topic.objects.get(title="Big")
    counts = {}
    for name, url in [("small", small.get_absolute_url()), ("big", big.get_absolute_url())]:
        for state in ("cold", "warm"):
            if state == "cold":
                cache.clear()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts[name, state] = len(queries)

    assert counts["small", "cold"] == counts["big", "cold"] <= most
    assert counts["small", "warm"] == counts["big", "warm"] <= most
    with CaptureQueriesContext(connection) as list_queries:
        assert client.get("/").status_code == 200
    assert len(list_queries) <= most


# --- Per-reader tools -------------------------------------------------------------


@pytest.fixture
def two_posts(topic, other_member):
    """The opening post by alice, and bob's reply to it."""
    op = opening_post(topic)
    return op, ReplyFactory(parent=op, author=other_member)


def _tool_urls(pk: int) -> dict[str, str]:
    return {
        "edit": f"/p/{pk}/edit/",
        "delete": f"/p/{pk}/delete/",
        "remove": reverse("admin:threads_post_remove", args=[pk]),
        "restore": reverse("admin:threads_post_restore", args=[pk]),
    }


def _topic_tool_urls(topic: Topic) -> list[str]:
    return [
        reverse(f"admin:threads_topic_{action}", args=[topic.pk])
        for action in ("lock", "unlock", "pin", "unpin")
    ]


def test_anonymous_readers_see_no_tools(client, get, topic, two_posts):
    html = _html(get(client, topic.get_absolute_url(), queries=3))

    for post in two_posts:
        for url in _tool_urls(post.pk).values():
            assert url not in html
    for url in _topic_tool_urls(topic):
        assert url not in html
    assert "post-tools" not in html
    assert "/admin/" not in html


def test_authors_see_edit_and_delete_on_their_own_posts_only(member_client, get, topic, two_posts):
    own, others = two_posts

    # The other post replies to the member's: reading it marks that notification read
    # (a savepoint, the entry, the count, the release), after the 6 of any member's page.
    html = _html(get(member_client, topic.get_absolute_url(), queries=10))

    assert f'<a href="{_tool_urls(own.pk)["edit"]}">Edit</a>' in html
    assert f'<a href="{_tool_urls(own.pk)["delete"]}">Delete</a>' in html
    assert _tool_urls(others.pk)["edit"] not in html
    assert _tool_urls(others.pk)["delete"] not in html
    assert "/admin/" not in html


def test_authors_see_no_tools_in_a_locked_topic(member_client, get, topic, two_posts, moderator):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    html = _html(get(member_client, topic.get_absolute_url(), queries=10))  # as above

    assert _tool_urls(two_posts[0].pk)["edit"] not in html
    assert "This topic is locked" in html


def test_moderators_see_remove_links_and_topic_tools(moderator_client, get, topic, two_posts):
    html = _html(get(moderator_client, topic.get_absolute_url(), queries=8))

    for post in two_posts:
        urls = _tool_urls(post.pk)
        assert f'<a href="{urls["remove"]}">Remove</a>' in html
        assert urls["edit"] not in html  # not their posts
    assert f'href="{reverse("admin:threads_topic_lock", args=[topic.pk])}">Lock</a>' in html
    assert f'href="{reverse("admin:threads_topic_pin", args=[topic.pk])}">Pin</a>' in html
    assert f"?topic__id__exact={topic.pk}" in html


def test_moderators_see_restore_and_unlock_when_done(
    moderator_client, get, topic, two_posts, moderator
):
    services.post_remove(post=two_posts[1], moderator=moderator, reason="spam")
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)

    html = _html(get(moderator_client, topic.get_absolute_url(), queries=8))

    assert f'<a href="{_tool_urls(two_posts[1].pk)["restore"]}">Restore</a>' in html
    assert _tool_urls(two_posts[1].pk)["remove"] not in html
    assert f'href="{reverse("admin:threads_topic_unlock", args=[topic.pk])}">Unlock</a>' in html
    assert f'href="{reverse("admin:threads_topic_unpin", args=[topic.pk])}">Unpin</a>' in html


# --- Permalinks and thread pages ------------------------------------------------------


def test_permalink_redirects_to_the_post_on_the_topic_page(client, get, topic, two_posts):
    response = get(client, f"/p/{two_posts[1].pk}/", queries=2)

    assert response.status_code == 302
    assert response["Location"] == f"{_topic_url(topic)}#p{two_posts[1].pk}"


def test_permalink_names_the_page_of_the_posts_top_level_post(
    client, get, topic, other_member, monkeypatch
):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 2)
    tops = [ReplyFactory(topic=topic, author=other_member) for _ in range(3)]
    answer = ReplyFactory(parent=tops[2], author=other_member)

    response = get(client, f"/p/{answer.pk}/", queries=2)

    # Pages: [opening post, tops[0]], [tops[1]], [tops[2] and its answer]
    assert response["Location"] == f"{_topic_url(topic)}?page=3#p{answer.pk}"
    page = get(client, response["Location"].split("#")[0], queries=3)
    assert answer.pk in _post_ids(page)


def test_permalink_of_a_deep_post_goes_to_its_thread_page(client, get, topic, other_member):
    chain = build_chain(opening_post(topic), depth=13, author=other_member)

    response = get(client, f"/p/{chain[12].pk}/", queries=2)

    assert response["Location"] == f"/p/{chain[11].pk}/thread/#p{chain[12].pk}"


def test_permalink_of_a_missing_post_is_404(client, get, db):
    assert get(client, "/p/999/", queries=1).status_code == 404


def test_thread_page_shows_ancestors_as_context_then_the_subtree(client, get, topic, other_member):
    op = opening_post(topic)
    a = ReplyFactory(parent=op, author=other_member, body="first answer")
    b = ReplyFactory(parent=a, author=other_member, body="the post itself")
    c = ReplyFactory(parent=b, author=other_member, body="an answer to it")
    sibling = ReplyFactory(parent=a, author=other_member, body="a sibling")

    response = get(client, f"/p/{b.pk}/thread/", queries=3)

    html = _html(response)
    assert _post_ids(response) == [op.pk, a.pk, b.pk, c.pk]
    assert html.index("Earlier in this thread") < html.index(f'id="p{op.pk}"')
    assert "first answer" in html
    assert "a sibling" not in html
    assert sibling.pk not in _post_ids(response)
    assert f'href="/p/{b.pk}/"' in html  # back to the whole topic


def test_thread_page_of_a_top_level_post_has_no_context(client, get, topic, two_posts):
    response = get(client, f"/p/{two_posts[0].pk}/thread/", queries=3)

    assert "Earlier in this thread" not in _html(response)
    assert _post_ids(response) == [post.pk for post in two_posts]


def test_thread_page_continues_deeper(client, get, topic, other_member):
    chain = build_chain(opening_post(topic), depth=26, author=other_member)

    response = get(client, f"/p/{chain[11].pk}/thread/", queries=3)

    assert chain[23].pk in _post_ids(response)
    assert chain[24].pk not in _post_ids(response)
    assert f'<a href="/p/{chain[23].pk}/thread/#p{chain[23].pk}">Continue this thread' in _html(
        response
    )


def test_thread_page_of_a_missing_post_is_404(client, get, db):
    assert get(client, "/p/999/thread/", queries=1).status_code == 404


# --- New topic ------------------------------------------------------------------------


def test_new_topic_form(member_client, get):
    response = get(member_client, "/t/new/", queries=3)

    assert response.status_code == 200
    assert form_values(response) == {"title": "", "body": ""}
    assert '<option value="general" selected>General</option>' in _html(response)


def test_new_topic_is_created_and_shown(member_client, member):
    response = member_client.post(
        "/t/new/", {"title": "  Fresh topic ", "body": "\r\nSome *text*\r\n\r\n"}
    )

    topic = Topic.objects.get()
    post = opening_post(topic)
    assert response.status_code == 302
    assert response["Location"] == _topic_url(topic, "fresh-topic")
    assert (topic.title, topic.author, post.author) == ("Fresh topic", member, member)
    assert post.body == "Some *text*"


def test_new_topic_preview_writes_nothing(member_client, member):
    typed = {"title": "Previewed", "body": "A **bold** claim"}

    response = member_client.post("/t/new/", {**typed, "preview": "1"})

    assert response.status_code == 200
    assert "<p>A <strong>bold</strong> claim</p>" in _html(response)
    assert form_values(response) == typed
    assert not Topic.objects.exists()


NEW_TOPIC_ERRORS = [
    pytest.param({"title": "", "body": "text"}, "The topic needs a title.", id="empty-title"),
    pytest.param(
        {"title": "t" * 201, "body": "text"},
        "Ensure this value has at most 200 characters (it has 201).",
        id="long-title",
    ),
    pytest.param({"title": "Title", "body": " \n "}, "The message is empty", id="empty-body"),
    pytest.param(
        {"title": "Title", "body": "b" * 50_001},
        "Ensure this value has at most 50000 characters (it has 50001).",
        id="long-body",
    ),
    pytest.param(
        {"title": "Title", "body": "nul\x00byte"}, "Null characters are not allowed.", id="nul-body"
    ),
    pytest.param(
        {"title": "nul\x00", "body": "text"}, "Null characters are not allowed.", id="nul-title"
    ),
    pytest.param(
        {"title": "two\nlines", "body": "text"}, "A title is one line of text", id="two-lines"
    ),
]


@pytest.mark.parametrize(("typed", "message"), NEW_TOPIC_ERRORS)
def test_new_topic_bad_input_is_refused_and_kept(member_client, typed, message):
    before = _state()

    response = member_client.post("/t/new/", typed)

    _assert_refused_form(response, 400, message, typed, before)


def test_new_topic_form_needs_a_login(client, get):
    response = get(client, "/t/new/", queries=0)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/t/new/"


def test_new_topic_posted_after_the_session_ended_keeps_the_text(client, db):
    typed = {"title": "Long thoughts", "body": "typed for an hour"}
    before = _state()

    response = client.post("/t/new/", typed)

    _assert_refused_form(response, 403, "Log in to post.", typed, before)


def test_new_topic_preview_after_the_session_ended_keeps_the_text(client, db):
    """Pressing Preview is a POST too: the text typed must not be lost."""
    typed = {"title": "Long thoughts", "body": "typed for an *hour*"}
    before = _state()

    response = client.post("/t/new/", {**typed, "preview": "1"})

    _assert_refused_form(response, 403, "Log in to post.", typed, before)
    assert "<em>hour</em>" not in _html(response)  # anonymous visitors get no render


def test_banned_members_cannot_start_topics(banned_client, get):
    typed = {"title": "Let me back", "body": "please"}
    before = _state()

    page = get(banned_client, "/t/new/", queries=2)
    response = banned_client.post("/t/new/", typed)

    assert page.status_code == 403
    assert escape(permissions.SUSPENDED) in _html(page)
    _assert_refused_form(response, 403, permissions.SUSPENDED, typed, before)


# --- Replies ----------------------------------------------------------------------------
# Both ways to reply: to the topic itself (a new top-level post) and to a post.


@pytest.fixture(params=["to-topic", "to-post"])
def reply_url(request, topic):
    if request.param == "to-topic":
        return reverse("threads:topic_reply", args=[topic.pk])
    return reverse("threads:post_reply", args=[opening_post(topic).pk])


def _expected_parent(reply_url: str, topic: Topic) -> Post | None:
    return (
        None
        if reply_url == reverse("threads:topic_reply", args=[topic.pk])
        else opening_post(topic)
    )


def test_reply_form(client, get, member, topic, reply_url):
    client.force_login(member)

    response = get(client, reply_url, queries=3)

    assert response.status_code == 200
    assert form_values(response) == {"body": ""}
    assert f'action="{reply_url}"' in _html(response)


def test_reply_to_a_post_shows_that_post(member_client, get, topic, other_member):
    reply = ReplyFactory(parent=opening_post(topic), author=other_member, body="What *about* it?")

    response = get(member_client, f"/p/{reply.pk}/reply/", queries=3)

    html = _html(response)
    assert "Reply to @bob" in html
    assert "<p>What <em>about</em> it?</p>" in html


def test_reply_is_posted_and_the_redirect_shows_it(member_client, member, topic, reply_url):
    response = member_client.post(reply_url, {"body": "My answer"})

    post = _newest_post()
    assert response.status_code == 302
    assert response["Location"] == f"{_topic_url(topic)}#p{post.pk}"
    assert (post.body, post.author, post.topic) == ("My answer", member, topic)
    assert post.parent == _expected_parent(reply_url, topic)
    assert Topic.objects.get(pk=topic.pk).reply_count == 1


def test_reply_to_a_deep_post_lands_on_its_thread_page(member_client, topic, other_member):
    chain = build_chain(opening_post(topic), depth=12, author=other_member)

    response = member_client.post(f"/p/{chain[-1].pk}/reply/", {"body": "deeper still"})

    post = _newest_post()
    assert post.level == 13
    assert response["Location"] == f"/p/{chain[-1].pk}/thread/#p{post.pk}"


def test_a_reply_lands_on_the_later_page_that_shows_it(
    member_client, topic, other_member, monkeypatch
):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 2)
    tops = [ReplyFactory(topic=topic, author=other_member) for _ in range(3)]

    response = member_client.post(f"/p/{tops[1].pk}/reply/", {"body": "on page two"})

    post = _newest_post()
    assert response["Location"] == f"{_topic_url(topic)}?page=2#p{post.pk}"
    assert response["Location"] == selectors.post_location(viewer=post.author, post_id=post.pk)


def test_reply_preview_writes_nothing(member_client, reply_url):
    before = _state()

    response = member_client.post(reply_url, {"body": "> quoted\n\nanswer", "preview": "1"})

    assert response.status_code == 200
    html = _html(response)
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>answer</p>" in html
    assert form_values(response) == {"body": "> quoted\n\nanswer"}
    assert _state() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("\n \n", "The message is empty", id="empty"),
        pytest.param(
            "r" * 50_001,
            "Ensure this value has at most 50000 characters (it has 50001).",
            id="long",
        ),
        pytest.param("a\x00b", "Null characters are not allowed.", id="nul"),
    ],
)
def test_reply_bad_input_is_refused_and_kept(member_client, reply_url, body, message):
    before = _state()

    response = member_client.post(reply_url, {"body": body})

    _assert_refused_form(response, 400, message, {"body": body}, before)


def test_reply_to_a_missing_post_or_topic_is_404(member_client, get):
    before = _state()

    assert get(member_client, "/p/999/reply/", queries=3).status_code == 404
    assert member_client.post("/p/999/reply/", {"body": "hello"}).status_code == 404
    assert member_client.post("/t/999/reply/", {"body": "hello"}).status_code == 404
    assert _state() == before


def test_reply_to_a_locked_topic_is_refused_and_kept(
    member_client, get, topic, moderator, reply_url
):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    before = _state()

    page = get(member_client, reply_url, queries=3)
    response = member_client.post(reply_url, {"body": "one more thing"})

    assert page.status_code == 403
    assert escape(permissions.LOCKED) in _html(page)
    _assert_refused_form(response, 403, permissions.LOCKED, {"body": "one more thing"}, before)


def test_a_refused_reply_shows_the_post_it_answers_again(
    member_client, topic, moderator, other_member
):
    answered = ReplyFactory(parent=opening_post(topic), author=other_member, body="What *now*?")
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    before = _state()

    response = member_client.post(f"/p/{answered.pk}/reply/", {"body": "this"})

    _assert_refused_form(response, 403, permissions.LOCKED, {"body": "this"}, before)
    assert "Reply to @bob" in _html(response)
    assert "<p>What <em>now</em>?</p>" in _html(response)


def test_moderators_reply_to_locked_topics(moderator_client, topic, moderator, reply_url):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    response = moderator_client.post(reply_url, {"body": "Closing note"})

    post = _newest_post()
    assert response["Location"].endswith(f"#p{post.pk}")
    assert (post.body, post.author) == ("Closing note", moderator)


def test_reply_form_needs_a_login(client, get, reply_url):
    response = get(client, reply_url, queries=0)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={reply_url}"


def test_reply_posted_after_the_session_ended_keeps_the_text(client, reply_url):
    before = _state()

    response = client.post(reply_url, {"body": "typed while logged out"})

    _assert_refused_form(
        response, 403, "Log in to post.", {"body": "typed while logged out"}, before
    )


def test_reply_preview_after_the_session_ended_keeps_the_text(client, reply_url):
    before = _state()

    response = client.post(reply_url, {"body": "typed *while* logged out", "preview": "1"})

    _assert_refused_form(
        response, 403, "Log in to post.", {"body": "typed *while* logged out"}, before
    )
    assert "<em>while</em>" not in _html(response)  # anonymous visitors get no render


def test_banned_members_cannot_reply(banned_client, get, reply_url):
    before = _state()

    page = get(banned_client, reply_url, queries=3)
    response = banned_client.post(reply_url, {"body": "let me back"})

    assert page.status_code == 403
    _assert_refused_form(response, 403, permissions.SUSPENDED, {"body": "let me back"}, before)


def test_reply_to_a_deleted_post_shows_nothing_of_it(client, get, topic, other_member, member):
    """Its author deleted it: the refusal must not show its text to anyone."""
    deleted = ReplyFactory(parent=opening_post(topic), author=other_member, body="regrettable")
    services.post_delete(post=deleted, user=other_member)
    client.force_login(member)
    before = _state()

    page = get(client, f"/p/{deleted.pk}/reply/", queries=3)
    response = client.post(f"/p/{deleted.pk}/reply/", {"body": "what did you say?"})

    assert page.status_code == 403
    assert "regrettable" not in _html(page)
    assert response.status_code == 403
    assert "regrettable" not in _html(response)
    assert _state() == before


# --- Edit -----------------------------------------------------------------------------


def test_edit_form_of_the_opening_post_has_the_title(member_client, get, topic):
    response = get(member_client, f"/p/{opening_post(topic).pk}/edit/", queries=4)

    assert response.status_code == 200
    assert form_values(response) == {"title": "A first topic", "body": "Hello, **forum**."}


def test_edit_form_of_a_reply_has_no_title(member_client, get, topic, member):
    reply = ReplyFactory(topic=topic, author=member, body="my reply")

    response = get(member_client, f"/p/{reply.pk}/edit/", queries=4)

    assert form_values(response) == {"body": "my reply"}


def test_edit_saves_and_redirects_to_the_post(member_client, topic, member):
    reply = ReplyFactory(parent=opening_post(topic), author=member, body="typo")

    response = member_client.post(f"/p/{reply.pk}/edit/", {"body": "fixed"})

    reply.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"{_topic_url(topic)}#p{reply.pk}"
    assert reply.body == "fixed"
    assert reply.edited is not None


def test_edit_of_the_opening_post_retitles_the_topic(member_client, topic):
    op = opening_post(topic)

    response = member_client.post(
        f"/p/{op.pk}/edit/", {"title": "A better title", "body": "Hello, **forum**."}
    )

    topic.refresh_from_db()
    assert topic.title == "A better title"
    assert response["Location"] == f"{_topic_url(topic, 'a-better-title')}#p{op.pk}"
    assert opening_post(topic).body == "Hello, **forum**."
    assert opening_post(topic).edited is not None  # a new title is an edit of the opening post


def test_edit_preview_writes_nothing(member_client, topic):
    before = _state()
    typed = {"title": "Maybe this", "body": "1. one\n2. two"}

    response = member_client.post(f"/p/{opening_post(topic).pk}/edit/", {**typed, "preview": "1"})

    assert response.status_code == 200
    assert "<ol>\n<li>one</li>\n<li>two</li>\n</ol>" in _html(response)
    assert form_values(response) == typed
    assert _state() == before


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param({"title": "Ok", "body": ""}, "The message is empty", id="empty-body"),
        pytest.param({"title": "", "body": "ok"}, "The topic needs a title.", id="empty-title"),
        pytest.param(
            {"title": "x" * 201, "body": "ok"},
            "Ensure this value has at most 200 characters (it has 201).",
            id="long-title",
        ),
        pytest.param(
            {"title": "Ok", "body": "e" * 50_001},
            "Ensure this value has at most 50000 characters (it has 50001).",
            id="long-body",
        ),
        pytest.param({"title": "Ok", "body": "\x00"}, "Null characters", id="nul"),
    ],
)
def test_edit_bad_input_is_refused_and_kept(member_client, topic, typed, message):
    before = _state()

    response = member_client.post(f"/p/{opening_post(topic).pk}/edit/", typed)

    _assert_refused_form(response, 400, message, typed, before)


def test_members_cannot_edit_posts_of_others(client, get, topic, other_member):
    client.force_login(other_member)
    url = f"/p/{opening_post(topic).pk}/edit/"
    typed = {"title": "Mine now", "body": "vandalized"}
    before = _state()

    page = get(client, url, queries=4)
    response = client.post(url, typed)

    assert page.status_code == 403
    assert "You can only change your own posts." in _html(page)
    _assert_refused_form(response, 403, "You can only change your own posts.", typed, before)


def test_authors_cannot_edit_in_a_locked_topic(member_client, topic, moderator):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    typed = {"title": "A first topic", "body": "late change"}
    before = _state()

    response = member_client.post(f"/p/{opening_post(topic).pk}/edit/", typed)

    _assert_refused_form(
        response, 403, "This topic is locked: its posts can no longer be changed.", typed, before
    )


def test_edit_needs_a_login(client, get, topic):
    url = f"/p/{opening_post(topic).pk}/edit/"
    typed = {"title": "A first topic", "body": "changed"}
    before = _state()

    page = get(client, url, queries=0)
    response = client.post(url, typed)

    assert page["Location"] == f"/accounts/login/?next={url}"
    _assert_refused_form(response, 403, "Log in to post.", typed, before)


def test_edit_of_a_missing_post_is_404(member_client, get):
    assert get(member_client, "/p/999/edit/", queries=3).status_code == 404


# --- Delete -----------------------------------------------------------------------------


def test_delete_asks_first(member_client, get, topic, member):
    reply = ReplyFactory(topic=topic, author=member, body="Second *thoughts*")

    response = get(member_client, f"/p/{reply.pk}/delete/", queries=4)

    assert response.status_code == 200
    assert "<p>Second <em>thoughts</em></p>" in _html(response)
    assert not Post.objects.get(pk=reply.pk).is_removed


def test_delete_leaves_a_placeholder_with_the_replies(member_client, get, topic, member):
    reply = ReplyFactory(parent=opening_post(topic), author=member, body="Second *thoughts*")
    answer = ReplyFactory(parent=reply, author=member, body="still here")

    response = member_client.post(f"/p/{reply.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == f"{_topic_url(topic)}#p{reply.pk}"
    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.AUTHOR
    # The topic's pages are read by the page now: the redirect's place needs none.
    page = _html(get(member_client, topic.get_absolute_url(), queries=6))
    assert f'id="p{reply.pk}"' in page
    assert "[deleted by its author]" in page
    assert "thoughts" not in page
    assert f'id="p{answer.pk}"' in page
    assert "still here" in page


def test_members_cannot_delete_posts_of_others(client, get, topic, other_member):
    client.force_login(other_member)
    url = f"/p/{opening_post(topic).pk}/delete/"
    before = _state()

    page = get(client, url, queries=4)
    response = client.post(url)

    for each in (page, response):
        assert each.status_code == 403
        assert "You can only delete your own posts." in _html(each)
    assert _state() == before


def test_delete_needs_a_login(client, get, topic):
    url = f"/p/{opening_post(topic).pk}/delete/"
    before = _state()

    page = get(client, url, queries=0)
    response = client.post(url)

    assert page["Location"] == f"/accounts/login/?next={url}"
    assert response.status_code == 403
    assert "Log in to post." in _html(response)
    assert _state() == before


def test_a_deleted_post_cannot_be_deleted_again(member_client, topic, member):
    services.post_delete(post=opening_post(topic), user=member)

    response = member_client.post(f"/p/{opening_post(topic).pk}/delete/")

    assert response.status_code == 403
    assert "already deleted" in _html(response)


# --- Profile ------------------------------------------------------------------------------


def test_profile_shows_topics_and_visible_posts(client, get, topic, member, moderator):
    ReplyFactory(topic=topic, author=member, body="a visible *reply*")
    hidden = ReplyFactory(topic=topic, author=member, body="a removed reply")
    services.post_remove(post=hidden, moderator=moderator, reason="rude")

    response = get(client, "/u/alice/", queries=4)

    html = _html(response)
    assert response.status_code == 200
    assert "<h1>@alice</h1>" in html
    assert f'<a href="{topic.get_absolute_url()}">A first topic</a>' in html
    assert "<p>a visible <em>reply</em></p>" in html
    assert "a removed reply" not in html
    assert "Change your password" not in html


def test_own_profile_links_to_the_password_change(member_client, get, member):
    response = get(member_client, "/u/ALICE/", queries=6)

    assert "<h1>@alice</h1>" in _html(response)
    assert 'href="/accounts/password_change/"' in _html(response)


def test_profile_pages_to_older_and_newer_posts(client, get, topic, member):
    replies = [ReplyFactory(topic=topic, author=member, body=f"reply {n}") for n in range(25)]

    first = _html(get(client, "/u/alice/", queries=4))
    older = _html(get(client, f"/u/alice/?before={replies[5].pk}", queries=4))
    newer = _html(get(client, f"/u/alice/?after={replies[4].pk}", queries=4))

    assert f'href="?before={replies[5].pk}"' in first
    assert "<p>reply 24</p>" in first
    assert "<p>reply 4</p>" not in first
    assert "<p>reply 4</p>" in older
    assert "<p>reply 5</p>" not in older
    assert f'href="?after={replies[4].pk}"' in older
    assert "<p>reply 24</p>" in newer
    assert "<p>reply 4</p>" not in newer


def test_profile_of_an_unknown_member_is_404(client, get, db):
    assert get(client, "/u/nobody/", queries=1).status_code == 404


# --- Accounts -----------------------------------------------------------------------------


def test_signup_creates_a_member_and_logs_them_in(client, get, db):
    form = get(client, "/accounts/signup/", queries=0)
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    user = User.objects.get(username="carol")
    assert form.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert user.email == "carol@example.org"
    assert user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param({"username": "ALICE"}, "That username is taken.", id="taken"),
        pytest.param({"username": "carol smith"}, "(no spaces)", id="space"),
        pytest.param({"email": ""}, "This field is required.", id="no-email"),
        pytest.param(
            {"password2": "something else"},
            "The two password fields didn\u2019t match.",
            id="passwords",
        ),
    ],
)
def test_signup_bad_input_is_refused_and_kept(client, member, typed, message):
    data = {
        "username": "carol",
        "email": "carol@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **typed,
    }

    response = client.post("/accounts/signup/", data)

    assert response.status_code == 400
    assert escape(message) in _html(response)
    assert form_values(response)["username"] == data["username"]
    assert form_values(response)["email"] == data["email"]
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    assert "_auth_user_id" not in client.session


def test_signup_sends_members_home(member_client, get):
    response = get(member_client, "/accounts/signup/", queries=2)

    assert response["Location"] == "/"


def test_login_ignores_the_case_of_the_username(client, get, member):
    form = get(client, "/accounts/login/", queries=0)
    response = client.post("/accounts/login/", {"username": "ALICE", "password": PASSWORD})

    assert form.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(member.pk)


def test_login_with_a_wrong_password_is_refused(client, member):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "That username and password do not match an account." in _html(response)
    assert form_values(response)["username"] == "alice"
    assert "_auth_user_id" not in client.session


def test_banned_members_cannot_log_in(client, banned):
    response = client.post("/accounts/login/", {"username": "banned", "password": PASSWORD})

    assert "This account is not active: it was suspended" in _html(response)
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(member_client, get):
    assert get(member_client, "/accounts/logout/", queries=0).status_code == 405
    assert "_auth_user_id" in member_client.session

    response = member_client.post("/accounts/logout/")

    assert response["Location"] == "/"
    assert "_auth_user_id" not in member_client.session


def test_password_change(member_client, get, member):
    form = get(member_client, "/accounts/password_change/", queries=2)
    response = member_client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    member.refresh_from_db()
    assert form.status_code == 200
    assert response["Location"] == "/accounts/password_change/done/"
    assert member.check_password(NEW_PASSWORD)
    done = get(member_client, response["Location"], queries=2)
    assert "Password changed" in _html(done)


def test_password_change_needs_the_old_password(member_client, member):
    response = member_client.post(
        "/accounts/password_change/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    member.refresh_from_db()
    assert response.status_code == 200
    assert "Your old password was entered incorrectly." in _html(response)
    assert member.check_password(PASSWORD)


def test_password_change_tries_are_counted_before_any_password_is_checked(
    member_client, member, settings, monkeypatch
):
    """Each wrong old password used to cost a full password hash, without end."""
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "password_changes_per_window": 5}
    wrong = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(5):
        assert member_client.post("/accounts/password_change/", wrong).status_code == 200
    checks = []
    check = User.check_password
    monkeypatch.setattr(User, "check_password", lambda *a: checks.append(1) or check(*a))

    response = member_client.post("/accounts/password_change/", wrong)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 800
    assert "Too many tries with your password" in _html(response)
    assert checks == []


def test_password_change_needs_a_login(client, get):
    response = get(client, "/accounts/password_change/", queries=0)

    assert response["Location"] == "/accounts/login/?next=/accounts/password_change/"


def test_password_reset_by_email(client, get, member, run_tasks):
    form = get(client, "/accounts/password_reset/", queries=0)
    response = client.post("/accounts/password_reset/", {"email": "ALICE@example.org"})

    assert form.status_code == 200
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []  # queued: the worker sends it, not the request
    assert run_tasks() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)

    set_password_url = get(client, link, queries=5)["Location"]
    page = get(client, set_password_url, queries=2)
    assert form_values(page) == {"new_password1": "", "new_password2": ""}
    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    member.refresh_from_db()
    assert done["Location"] == "/accounts/reset/done/"
    assert member.check_password(NEW_PASSWORD)
    assert "This link has already been used" in _html(get(client, link, queries=2, follow=True))


def test_password_reset_sends_one_mail_whatever_the_accounts_of_an_address(
    client, member, run_tasks
):
    """Reset mails were counted per request, and Django sends one per account."""
    from .factories import UserFactory

    UserFactory(username="alice2", email="Alice@Example.org", last_login=timezone.now())
    UserFactory(
        username="alice3", email="alice@example.org", date_joined=timezone.now() - timedelta(days=9)
    )

    client.post("/accounts/password_reset/", {"email": "alice@example.org"})
    run_tasks()

    assert len(mail.outbox) == 1
    assert "alice2" in mail.outbox[0].body


def test_password_reset_for_an_unknown_address_sends_nothing(client, member):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})

    assert response["Location"] == "/accounts/password_reset/done/"
    assert not Mail.objects.exists()


# --- E-mail addresses ----------------------------------------------------------------------


def _confirm_url(user: User, address: str) -> str:
    token = services.confirmation_token(user=user, address=address)
    return reverse("threads:email_confirm", args=[token])


def _queued_link() -> str:
    body = Mail.objects.latest("pk").body
    return re.search(r"https?://[^/\s]+(/settings/email/confirm/\S+/)", body).group(1)


def test_signup_queues_the_confirmation_of_the_address(client, db):
    client.post(
        "/accounts/signup/",
        {"username": "carol", "email": "carol@example.org", "password1": PASSWORD,
         "password2": PASSWORD},
    )  # fmt: skip

    (queued,) = Mail.objects.all()
    assert queued.to == "carol@example.org"
    assert not User.objects.get(username="carol").email_confirmed
    assert _queued_link().startswith("/settings/email/confirm/")


def test_the_email_settings_page(member_client, get):
    page = get(member_client, "/settings/email/", queries=2)

    html = _html(page)
    assert page.status_code == 200
    assert "<h1>E-mail</h1>" in html
    assert "alice@example.org" in html
    assert "not confirmed yet" in html
    assert "Send the confirmation link again" in html
    assert form_values(page) == {"email": "", "password": ""}


def test_the_email_settings_page_of_a_confirmed_address(
    member_client, member, django_assert_num_queries
):
    User.objects.filter(pk=member.pk).update(email_confirmed=True)

    with django_assert_num_queries(2):
        html = _html(member_client.get("/settings/email/"))

    assert "(confirmed)" in html
    assert "Send the confirmation link again" not in html


def test_the_email_settings_need_a_login(client, get):
    response = get(client, "/settings/email/", queries=0)

    assert response["Location"] == "/accounts/login/?next=/settings/email/"


def test_asking_for_the_confirmation_again(member_client, member):
    response = member_client.post("/settings/email/", {"resend": "1"}, follow=True)

    assert "A confirmation link is on its way to alice@example.org." in _html(response)
    assert Mail.objects.get().to == "alice@example.org"


def test_a_confirmed_address_needs_no_confirmation(member_client, member):
    User.objects.filter(pk=member.pk).update(email_confirmed=True)

    response = member_client.post("/settings/email/", {"resend": "1"})

    assert response.status_code == 403
    assert "Your e-mail address is confirmed already." in _html(response)
    assert not Mail.objects.exists()


def test_confirmation_mails_are_limited_per_member(member_client, member, limits):
    for _ in range(3):
        assert member_client.post("/settings/email/", {"resend": "1"}).status_code == 302

    refused = member_client.post("/settings/email/", {"resend": "1"})

    assert refused.status_code == 429
    assert 3000 < int(refused["Retry-After"]) <= 3600
    assert "Too many confirmation mails were asked for." in _html(refused)
    assert Mail.objects.count() == 3


def test_changing_the_address_waits_for_its_confirmation(member_client, member, client):
    response = member_client.post(
        "/settings/email/", {"email": "alice@new.example", "password": PASSWORD}
    )

    member.refresh_from_db()
    assert response["Location"] == "/settings/email/"
    assert (member.email, member.pending_email) == ("alice@example.org", "alice@new.example")
    assert Mail.objects.get().to == "alice@new.example"
    assert "Waiting for confirmation: <strong>alice@new.example</strong>" in _html(
        member_client.get("/settings/email/")
    )

    client.logout()  # the link works without a login: it proves the mailbox
    confirmed = client.post(_queued_link())

    member.refresh_from_db()
    assert confirmed["Location"] == "/"
    assert (member.email, member.pending_email, member.email_confirmed) == (
        "alice@new.example",
        "",
        True,
    )


@pytest.mark.parametrize(
    ("typed", "status", "message"),
    [
        pytest.param({"password": "wrong"}, 400, "That is not your password.", id="password"),
        pytest.param({"email": "not an address"}, 400, "Enter a valid email address.", id="bad"),
        pytest.param(
            {"email": "ALICE@example.org"}, 400, "That is your address already.", id="same"
        ),
    ],
)
def test_a_refused_change_of_address_keeps_what_was_typed(
    member_client, member, typed, status, message
):
    data = {"email": "alice@new.example", "password": PASSWORD, **typed}

    response = member_client.post("/settings/email/", data)

    member.refresh_from_db()
    assert response.status_code == status
    assert escape(message) in _html(response)
    assert form_values(response)["email"] == data["email"]
    assert (member.email, member.pending_email) == ("alice@example.org", "")
    assert not Mail.objects.exists()


def test_change_of_address_tries_are_counted_before_the_password_is_checked(
    member_client, member, settings, monkeypatch
):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "password_changes_per_window": 2}
    wrong = {"email": "alice@new.example", "password": "wrong"}
    for _ in range(2):
        assert member_client.post("/settings/email/", wrong).status_code == 400
    checks = []
    check = User.check_password
    monkeypatch.setattr(User, "check_password", lambda *a: checks.append(1) or check(*a))

    response = member_client.post("/settings/email/", {**wrong, "password": PASSWORD})

    assert response.status_code == 429
    assert checks == []
    assert form_values(response)["email"] == "alice@new.example"
    member.refresh_from_db()
    assert member.pending_email == ""


def test_a_confirmation_link_asks_before_it_confirms(client, member, django_assert_num_queries):
    url = _confirm_url(member, "alice@example.org")

    with django_assert_num_queries(1):
        page = client.get(url)

    member.refresh_from_db()
    assert page.status_code == 200
    assert '<form method="post" class="account-form">' in _html(page)
    assert "Confirm <strong>alice@example.org</strong>" in _html(page)
    assert not member.email_confirmed
    assert client.post(url)["Location"] == "/"
    member.refresh_from_db()
    assert member.email_confirmed
    again = client.get(url)
    assert "is confirmed already" in _html(again)
    assert client.post(url)["Location"] == "/"


def _expired_token(user: User, monkeypatch) -> str:
    """A token signed longer ago than a link works."""
    age = django_settings.FORUM_EMAIL_CONFIRMATION_AGE + timedelta(minutes=1)
    signed_at = time.time() - age.total_seconds()
    with monkeypatch.context() as patched:
        patched.setattr("django.core.signing.time.time", lambda: signed_at)
        return services.confirmation_token(user=user, address=user.email)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        pytest.param(lambda m, p: "garbage", "not a confirmation link", id="garbage"),
        pytest.param(lambda m, p: "", "not a confirmation link", id="empty"),
        pytest.param(
            lambda m, p: services.confirmation_token(user=m, address=m.email)[:-2] + "xx",
            "not a confirmation link",
            id="tampered",
        ),
        pytest.param(
            lambda m, p: services.confirmation_token(user=m, address=m.email).replace(":", "x:", 1),
            "not a confirmation link",
            id="payload-changed",
        ),
        pytest.param(
            lambda m, p: signing.dumps({"user": m.pk, "email": m.email}, salt="another.salt"),
            "not a confirmation link",
            id="other-salt",
        ),
        pytest.param(_expired_token, "has expired", id="expired"),
        pytest.param(
            lambda m, p: services.confirmation_token(user=m, address="old@example.org"),
            "no longer uses",
            id="outdated",
        ),
        pytest.param(
            lambda m, p: services.confirmation_token(user=User(pk=10**9), address="x@y.org"),
            "no longer uses",
            id="no-such-member",
        ),
        pytest.param(lambda m, p: "%00" + "a" * 5000, "not a confirmation link", id="long"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_confirmation_link_is_explained_never_a_server_error(
    client, member, monkeypatch, link, message, method
):
    token = link(member, monkeypatch)
    url = f"/settings/email/confirm/{token}/"

    response = getattr(client, method)(url)

    member.refresh_from_db()
    assert response.status_code in {400, 404}
    if response.status_code == 400:
        assert message in _html(response)
    assert not member.email_confirmed


def test_the_inline_reply_form_is_the_reply_form(member_client, topic):
    """The topic page writes the reply form out by hand; it must match ReplyForm."""
    html = _html(member_client.get(topic.get_absolute_url()))
    form = html[html.index('<section class="reply-to-topic"') :]

    names = set(re.findall(r'name="(\w+)"', form))
    assert names == {"csrfmiddlewaretoken", "preview", *ReplyForm().fields}
    field = ReplyForm().fields["body"]
    assert f'maxlength="{field.max_length}"' in form
    assert f'<label for="id_body">{field.label}</label>' in form


# --- Abuse limits ------------------------------------------------------------------------


@pytest.fixture
def limits(settings, member):
    """Production's limits, for a member who joined and last posted a while ago.

    Renders are not counted here: these tests post faster than time passes.
    """
    settings.FORUM_LIMITS = {
        **settings.PRODUCTION_LIMITS,
        "renders_per_burst": None,
        "renders_per_window": None,
    }
    User.objects.filter(pk=member.pk).update(date_joined=timezone.now() - timedelta(days=9))
    Post.objects.filter(author=member).update(created=timezone.now() - timedelta(days=9))


def test_posting_too_fast_answers_429_and_keeps_the_text(member_client, topic, limits):
    url = reverse("threads:topic_reply", args=[topic.pk])
    assert member_client.post(url, {"body": "first"}).status_code == 302

    response = member_client.post(url, {"body": "second, typed with care"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "Try again in" in _html(response)
    assert form_values(response)["body"] == "second, typed with care"
    assert Post.objects.filter(topic=topic).count() == 2


def test_a_double_submit_lands_on_the_first_post(member_client, topic, limits):
    url = reverse("threads:topic_reply", args=[topic.pk])
    first = member_client.post(url, {"body": "only once"})

    second = member_client.post(url, {"body": "only once"})

    assert second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Post.objects.filter(topic=topic).count() == 2
    page = member_client.get(second["Location"])
    assert "You had already posted this, a moment ago: here it is." in _html(page)


def test_the_same_reply_in_another_topic_lands_in_that_topic(member_client, topic, limits):
    """The duplicate guard used to send the member to their "Thanks!" in another topic."""
    other = TopicFactory(title="Other", body="other")
    member_client.post(reverse("threads:topic_reply", args=[topic.pk]), {"body": "Thanks!"})
    Post.objects.filter(author__username="alice").update(
        created=timezone.now() - timedelta(seconds=6)
    )

    response = member_client.post(
        reverse("threads:topic_reply", args=[other.pk]), {"body": "Thanks!"}
    )

    reply = Post.objects.get(topic=other, body="Thanks!")
    assert response["Location"] == selectors.post_location(viewer=reply.author, post_id=reply.pk)
    assert "already posted" not in _html(member_client.get(response["Location"]))


def test_editing_too_often_answers_429_and_keeps_the_text(member_client, topic, limits):
    url = reverse("threads:post_edit", args=[opening_post(topic).pk])
    assert member_client.post(url, {"title": topic.title, "body": "fixed"}).status_code == 302

    response = member_client.post(url, {"title": topic.title, "body": "fixed again, carefully"})

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 5
    assert form_values(response)["body"] == "fixed again, carefully"
    assert opening_post(topic).body == "fixed"


def test_previewing_too_often_answers_429_and_keeps_the_text(member_client, topic, limits):
    url = reverse("threads:topic_reply", args=[topic.pk])
    for _ in range(30):
        assert member_client.post(url, {"body": "*draft*", "preview": "1"}).status_code == 200

    response = member_client.post(url, {"body": "*draft*, again", "preview": "1"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 500
    assert form_values(response)["body"] == "*draft*, again"
    assert "<em>draft</em>, again" not in _html(response)


@pytest.mark.parametrize("preview", [False, True], ids=["post", "preview"])
def test_a_body_too_complex_to_format_is_refused_with_the_text_kept(member_client, topic, preview):
    body = "[a](" * 12_500
    before = _state()

    response = member_client.post(
        reverse("threads:topic_reply", args=[topic.pk]),
        {"body": body, **({"preview": "1"} if preview else {})},
    )

    _assert_refused_form(
        response,
        400,
        "This post is too complex to format; simplify its links or lists.",
        {"body": body},
        before,
    )


def _signup(client, name: str, address: str):
    """Sign up as `name` from `address`, logged out first."""
    client.logout()
    return client.post(
        "/accounts/signup/",
        {
            "username": name,
            "email": f"{name}@example.org",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        REMOTE_ADDR=address,
    )


def test_signups_are_throttled_per_address(client, limits):
    def signup(name: str, address: str):
        return _signup(client, name, address)

    for number in range(5):
        assert signup(f"new{number}", "203.0.113.7").status_code == 302
        client.logout()

    refused = signup("sixth", "203.0.113.7")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 3000
    assert form_values(refused)["username"] == "sixth"
    assert signup("elsewhere", "198.51.100.2").status_code == 302


def test_repeated_failed_logins_lock_the_account_from_that_address(client, member):
    def login(password: str, address: str = "203.0.113.5"):
        return client.post(
            "/accounts/login/",
            {"username": "Alice", "password": password},
            REMOTE_ADDR=address,
        )

    for _ in range(4):
        assert login("wrong").status_code == 200
    assert login("wrong").status_code == 429  # the fifth failure locks

    locked = login(PASSWORD)

    assert locked.status_code == 429
    assert "Too many failed logins" in _html(locked)
    assert "_auth_user_id" not in client.session
    assert login(PASSWORD, address="198.51.100.3").status_code == 302


# --- Forged requests ----------------------------------------------------------------------

READ_ONLY_URLS = {
    "threads:formatting_help",
    "threads:index",
    "threads:search",
    "threads:moderation_log",
    "threads:moderation_feed",
    "threads:category",
    "threads:topic_detail",
    "threads:topic_detail_short",
    "threads:topic_download",
    "threads:post_permalink",
    "threads:post_thread",
    "threads:post_history",
    "threads:profile",
    "threads:notifications",
    "threads:feed",
    "threads:category_feed",
    "threads:topic_feed",
    "threads:member_feed",
    "threads:sitemap",
    "threads:sitemap_section",
    "threads:robots",
    "threads:pending",
    "threads:pending_list",
}
STATE_CHANGING_URLS = {
    "threads:topic_create": lambda d: reverse("threads:topic_create"),
    "threads:topic_reply": lambda d: reverse("threads:topic_reply", args=[d["topic"].pk]),
    "threads:post_reply": lambda d: reverse("threads:post_reply", args=[d["post"].pk]),
    "threads:post_edit": lambda d: reverse("threads:post_edit", args=[d["post"].pk]),
    "threads:post_delete": lambda d: reverse("threads:post_delete", args=[d["post"].pk]),
    "threads:settings": lambda d: reverse("threads:settings"),
    "threads:all_read": lambda d: reverse("threads:all_read"),
    "threads:category_read": lambda d: reverse(
        "threads:category_read", args=[d["topic"].category.slug]
    ),
    "threads:ignore": lambda d: reverse("threads:ignore", args=[d["member"].username]),
    "threads:settings_email": lambda d: reverse("threads:settings_email"),
    "threads:email_confirm": lambda d: reverse(
        "threads:email_confirm",
        args=[services.confirmation_token(user=d["member"], address=d["member"].email)],
    ),
    "threads:settings_avatar": lambda d: reverse("threads:settings_avatar"),
    "threads:settings_notifications": lambda d: reverse("threads:settings_notifications"),
    "threads:notifications_read": lambda d: reverse("threads:notifications_read"),
    "threads:topic_watch": lambda d: reverse("threads:topic_watch", args=[d["topic"].pk]),
    "threads:category_watch": lambda d: reverse(
        "threads:category_watch", args=[d["topic"].category.slug]
    ),
    "signup": lambda d: reverse("signup"),
    "login": lambda d: reverse("login"),
    "logout": lambda d: reverse("logout"),
    "password_change": lambda d: reverse("password_change"),
    "password_reset": lambda d: reverse("password_reset"),
    "admin:threads_topic_lock": lambda d: reverse("admin:threads_topic_lock", args=[d["topic"].pk]),
    "admin:threads_topic_pin": lambda d: reverse("admin:threads_topic_pin", args=[d["topic"].pk]),
    "admin:threads_topic_import": lambda d: reverse("admin:threads_topic_import"),
    "admin:threads_topic_changelist": lambda d: reverse("admin:threads_topic_changelist"),
    "admin:threads_topic_change": lambda d: reverse(
        "admin:threads_topic_change", args=[d["topic"].pk]
    ),
    "admin:threads_topic_delete": lambda d: reverse(
        "admin:threads_topic_delete", args=[d["topic"].pk]
    ),
    "admin:threads_post_remove": lambda d: reverse(
        "admin:threads_post_remove", args=[d["post"].pk]
    ),
    "admin:threads_post_restore": lambda d: reverse(
        "admin:threads_post_restore", args=[d["post"].pk]
    ),
    "admin:threads_post_move": lambda d: reverse("admin:threads_post_move", args=[d["post"].pk]),
    "admin:threads_post_change": lambda d: reverse(
        "admin:threads_post_change", args=[d["post"].pk]
    ),
    "admin:threads_user_change": lambda d: reverse(
        "admin:threads_user_change", args=[d["member"].pk]
    ),
    "admin:threads_user_changelist": lambda d: reverse("admin:threads_user_changelist"),
    "admin:logout": lambda d: reverse("admin:logout"),
    "threads:revision_hidden": lambda d: reverse("threads:revision_hidden", args=[d["post"].pk, 1]),
    "admin:threads_topic_slow_mode": lambda d: reverse(
        "admin:threads_topic_slow_mode", args=[d["topic"].pk]
    ),
    "threads:post_report": lambda d: reverse("threads:post_report", args=[d["post"].pk]),
    "admin:threads_report_changelist": lambda d: reverse("admin:threads_report_changelist"),
    "admin:threads_pendingpost_changelist": lambda d: reverse(
        "admin:threads_pendingpost_changelist"
    ),
}
# Changes state without a CSRF token, on purpose: mail clients POST to it on their own
# (RFC 8058), and the signed token in its address proves the request
# (tests/test_notification_mails.py).
CSRF_EXEMPT_URLS = {"threads:unsubscribe"}


@pytest.mark.parametrize("name", sorted(STATE_CHANGING_URLS))
def test_state_changing_urls_refuse_requests_without_a_csrf_token(moderator, member, topic, name):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)
    data = {"topic": topic, "post": opening_post(topic), "member": member}
    accounts = User.objects.order_by("pk").values_list(
        "username", "email", "is_active", "password", "email_confirmed", "pending_email"
    )
    before = (_state(), list(accounts))

    response = client.post(
        STATE_CHANGING_URLS[name](data),
        {"title": "Forged", "body": "forged", "reason": "forged", "action": "lock"},
    )

    assert response.status_code == 403
    assert (_state(), list(accounts)) == before
    assert "_auth_user_id" in client.session


def test_every_url_of_the_forum_is_known_to_the_csrf_test():
    from threads import urls

    names = {f"threads:{pattern.name}" for pattern in urls.urlpatterns}

    known = READ_ONLY_URLS | CSRF_EXEMPT_URLS
    assert names == known | {n for n in STATE_CHANGING_URLS if n.startswith("threads:")}


# --- Any input ----------------------------------------------------------------------------

# Any text a browser can send: everything but lone surrogates, which are not UTF-8
# (invalid bytes on the wire are tested on their own below).
TEXT = st.characters(blacklist_categories=["Cs"])
SIZES = st.one_of(
    st.text(TEXT, max_size=300),
    st.builds(lambda c, n: c * n, TEXT, st.sampled_from([199, 200, 201, 50_000, 50_001])),
    # Text that is costly to format, at any size up to the longest allowed.
    st.builds(
        lambda shape, size: SHAPES[shape](size),
        st.sampled_from(sorted(SHAPES)),
        st.integers(1, 50_000),
    ),
)


def test_bytes_that_are_not_utf8_are_refused_or_replaced(member_client, topic):
    body = b"title=%FF%FE%ED%A0%80&body=%C3%28%80%ED%A0%80"

    new_topic = member_client.post(
        "/t/new/", body, content_type="application/x-www-form-urlencoded"
    )
    reply = member_client.post(
        f"/t/{topic.pk}/reply/", b"body=%ED%A0%80", content_type="application/x-www-form-urlencoded"
    )

    assert new_topic.status_code in {302, 400}
    assert reply.status_code in {302, 400}
    assert selectors.tree_problems() == []


@examples(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=SIZES, body=SIZES)
def test_any_new_topic_is_posted_or_refused_with_a_message(member_client, title, body):
    before = Topic.objects.count()

    response = member_client.post("/t/new/", {"title": title, "body": body})

    if response.status_code == 302:
        assert Topic.objects.count() == before + 1
    else:
        assert response.status_code == 400
        assert 'class="errorlist' in _html(response)
        assert Topic.objects.count() == before
    assert selectors.tree_problems() == []


@examples(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    post_id=st.one_of(st.integers(min_value=0, max_value=2**70), st.sampled_from([1, 2, 3])),
    body=SIZES,
    preview=st.booleans(),
)
def test_any_reply_is_posted_or_refused(member_client, topic, post_id, body, preview):
    data = {"body": body, **({"preview": "1"} if preview else {})}
    exists = post_id < 2**63 and Post.objects.filter(pk=post_id).exists()

    response = member_client.post(f"/p/{post_id}/reply/", data)

    if not exists:
        assert response.status_code == 404
    elif response.status_code == 200:
        assert preview
        assert 'id="preview-heading"' in _html(response)
    elif response.status_code == 400:
        assert 'class="errorlist' in _html(response)
    else:
        assert response.status_code == 302
    assert selectors.tree_problems() == []


# --- Download as Markdown ------------------------------------------------------------------


def test_the_topic_page_links_to_its_markdown(client, topic):
    url = reverse("threads:topic_download", args=[topic.pk])

    assert f'href="{url}" download>Download as Markdown</a>' in _html(
        client.get(topic.get_absolute_url())
    )


def test_download_serves_the_topic_as_conversationjs(client, get, topic, other_member):
    reply = ReplyFactory(parent=opening_post(topic), author=other_member, body="Line one\n\nTwo")

    response = get(client, reverse("threads:topic_download", args=[topic.pk]), queries=3)

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="a-first-topic.md"'
    stamp = reply.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    op_stamp = opening_post(topic).created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert response.content.decode() == (
        "### A first topic\n"
        f"- @alice [{op_stamp}]: Hello, **forum**.\n"
        f"  - @bob [{stamp}]: Line one\n"
        "\n"
        "    Two\n"
    )
    assert response.content.decode() == selectors.conversation_export(topic_ids=[topic.pk])


def test_download_of_a_missing_topic_is_404(client, db):
    assert client.get(reverse("threads:topic_download", args=[999])).status_code == 404


def test_locked_topics_hide_reply_links_except_from_moderators(client, moderator, topic):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    for_members = _html(client.get(topic.get_absolute_url()))
    client.force_login(moderator)
    for_moderators = _html(client.get(topic.get_absolute_url()))

    assert '<div class="thread-root replies-closed">' in for_members
    assert '<div class="thread-root">' in for_moderators


def test_a_stale_form_keeps_the_text_and_can_be_sent_again(member, topic):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    client.get(topic.get_absolute_url())  # the page sets the CSRF cookie
    url = reverse("threads:topic_reply", args=[topic.pk])

    stale = client.post(url, {"body": "Typed <carefully>", "csrfmiddlewaretoken": "outdated"})

    assert stale.status_code == 403
    assert form_values(stale)["body"] == "Typed <carefully>"
    assert f'action="{url}"' in _html(stale)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _html(stale))[1]
    sent = client.post(url, {"body": "Typed <carefully>", "csrfmiddlewaretoken": token})
    assert sent.status_code == 302
    assert Post.objects.filter(body="Typed <carefully>").exists()


def test_unknown_pages_get_the_forums_404(client, db):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in _html(response)


def test_the_formatting_help_is_linked_from_every_page(client, db):
    home = _html(client.get("/"))
    url = reverse("threads:formatting_help")

    assert f'href="{url}"' in home
    assert "an empty line before a list" in _html(client.get(url)).replace(
        "empty line", "empty line"
    )


# --- Input the database cannot take ---------------------------------------------------------


def test_a_profile_address_with_a_nul_is_not_found(client, get, member):
    """PostgreSQL cannot compare a NUL: refused before the lookup (forum/request_checks.py)."""
    response = get(client, "/u/%00/", queries=0)

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in _html(response)
    assert get(client, "/u/ali%00ce/?page=2", queries=0).status_code == 404
    assert get(client, "/u/alice/?page=%00", queries=0).status_code == 400


# --- A form sent with an outdated security token -------------------------------------------

TYPED = "Typed with care <b>42</b>"

# The forms that carry text a person typed: offered again, with that text.
RESENDABLE = {
    "new topic": ("/t/new/", {"title": "A title, typed", "body": TYPED}),
    "reply to the topic": ("/t/{topic}/reply/", {"body": TYPED}),
    "reply to a post": ("/p/{post}/reply/", {"body": TYPED}),
    "edit": ("/p/{post}/edit/", {"title": "A title, typed", "body": TYPED}),
}
# Everything else is an action: explained, never offered again.
ACTIONS = {
    "delete": ("/p/{post}/delete/", {"body": TYPED}),
    "logout": ("/accounts/logout/", {"body": TYPED}),
    "login": ("/accounts/login/", {"username": TYPED, "password": "x"}),
    "signup": ("/accounts/signup/", {"username": TYPED, "email": "x@example.org"}),
    "password change": ("/accounts/password_change/", {"old_password": TYPED}),
    "password reset": ("/accounts/password_reset/", {"email": TYPED}),
    "admin action": ("/admin/threads/topic/", {"action": "lock", "_selected_action": "{topic}"}),
    "admin lock": ("/admin/threads/topic/{topic}/lock/", {"body": TYPED}),
    "admin remove": ("/admin/threads/post/{post}/remove/", {"reason": TYPED}),
    "admin change": ("/admin/threads/topic/{topic}/change/", {"title": TYPED}),
    "admin logout": ("/admin/logout/", {"body": TYPED}),
    "a page that is no form": ("/help/formatting/", {"body": TYPED}),
}


@pytest.fixture
def stale(moderator, topic):
    """A moderator's browser whose forms carry an outdated token; returns post(url, data)."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)
    client.get(topic.get_absolute_url())  # the page sets the CSRF cookie
    ids = {"topic": topic.pk, "post": opening_post(topic).pk}

    def post(url: str, data: dict, **headers):
        data = {name: value.format(**ids) for name, value in data.items()}
        return client.post(
            url.format(**ids), {**data, "csrfmiddlewaretoken": "outdated"}, **headers
        )

    post.ids = ids
    return post


@pytest.mark.parametrize("kind", sorted(RESENDABLE))
def test_a_stale_form_of_typed_text_is_offered_again_with_the_text(stale, kind):
    url, typed = RESENDABLE[kind]
    before = _state()

    response = stale(url, typed)

    assert response.status_code == 403
    assert f'action="{url.format(**stale.ids)}"' in _html(response)
    assert "Send again" in _html(response)
    assert {name: form_values(response).get(name) for name in typed} == typed
    assert _state() == before


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_a_stale_action_is_explained_and_never_offered_again(stale, kind):
    url, typed = ACTIONS[kind]
    before = _state()

    response = stale(url, typed, HTTP_REFERER="http://testserver/t/1-somewhere/")

    html = _html(response)
    assert response.status_code == 403
    assert "Nothing was done" in html
    assert "Send again" not in html
    assert 'class="post-form"' not in html
    assert escape(TYPED) not in html
    assert 'href="http://testserver/t/1-somewhere/">Go back</a>' in html
    assert _state() == before


def test_a_forged_form_from_another_site_is_never_offered_again(stale):
    url, typed = RESENDABLE["reply to the topic"]

    response = stale(url, typed, HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403
    assert "Send again" not in _html(response)
    assert escape(TYPED) not in _html(response)


@pytest.mark.parametrize(
    ("referer", "back"),
    [
        ("https://evil.example/t/1/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        ("http://testserver/u/alice/", "http://testserver/u/alice/"),
    ],
)
def test_the_way_back_after_a_stale_action_is_only_ever_the_forum(stale, referer, back):
    response = stale("/accounts/logout/", {}, HTTP_REFERER=referer)

    assert f'href="{back}">Go back</a>' in _html(response)


# --- Limits per network --------------------------------------------------------------------


def test_signups_from_one_ipv6_64_are_throttled_together(client, limits):
    def signup(name: str, address: str):
        return _signup(client, name, address)

    for number in range(5):
        assert signup(f"new{number}", f"2001:db8:aa:bb::{number + 1}").status_code == 302

    refused = signup("rotated", "2001:db8:aa:bb:1234:5678:9abc:def0")

    assert refused.status_code == 429
    assert form_values(refused)["username"] == "rotated"
    assert signup("elsewhere", "2001:db8:aa:bc::1").status_code == 302


def _failed_login(client, username: str, address: str, **headers):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": "wrong"},
        REMOTE_ADDR=address,
        **headers,
    )


def test_many_failed_logins_from_one_address_lock_it_for_every_account(client, member):
    for number in range(29):  # four failures for each of seven usernames, and one more
        assert _failed_login(client, f"guess{number // 4}", "203.0.113.5").status_code == 200

    assert _failed_login(client, "guess-again", "203.0.113.5").status_code == 429  # the 30th

    locked = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5"
    )
    assert locked.status_code == 429
    assert "Too many failed logins" in _html(locked)
    assert "_auth_user_id" not in client.session
    elsewhere = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="198.51.100.3"
    )
    assert elsewhere.status_code == 302


def test_failed_logins_from_one_ipv6_64_count_together(client, member):
    for number in range(5):
        _failed_login(client, "alice", f"2001:db8:5:6::{number + 1}")

    locked = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="2001:db8:5:6:ffff::1",
    )
    assert locked.status_code == 429
    elsewhere = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="2001:db8:5:7::1",
    )
    assert elsewhere.status_code == 302


def test_behind_a_proxy_the_address_is_the_one_it_forwards(client, member, settings):
    settings.BEHIND_PROXY = True
    proxy = "10.0.0.1"
    for _ in range(5):
        _failed_login(client, "alice", proxy, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5")

    def login(forwarded: str):
        return client.post(
            "/accounts/login/",
            {"username": "alice", "password": PASSWORD},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    assert login("203.0.113.5").status_code == 429
    assert login("203.0.113.6").status_code == 302  # another client of the same proxy


def test_without_a_proxy_a_forwarded_address_is_not_believed(client, member):
    for number in range(5):
        _failed_login(client, "alice", "203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    locked = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    assert locked.status_code == 429


@pytest.mark.parametrize(
    ("remote", "forwarded", "behind_proxy", "address"),
    [
        ("203.0.113.5", "", False, "203.0.113.5"),
        ("2001:db8:1:2::7", "", False, "2001:db8:1:2::"),
        ("10.0.0.1", "198.51.100.9", False, "10.0.0.1"),
        ("10.0.0.1", "192.0.2.1,198.51.100.9", True, "198.51.100.9"),
        ("10.0.0.1", "2001:db8:1:2::7", True, "2001:db8:1:2::"),
        ("10.0.0.1", "not an address", True, "10.0.0.1"),
        ("10.0.0.1", "", True, "10.0.0.1"),
        ("", "", False, None),
    ],
)
def test_the_client_address(rf, settings, remote, forwarded, behind_proxy, address):
    from threads.clients import client_address

    settings.BEHIND_PROXY = behind_proxy
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == address


# --- Password-reset mails are limited ------------------------------------------------------


def _reset(client, email: str, address: str = "203.0.113.8"):
    return client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)


def test_reset_mails_to_one_address_are_limited(client, member, limits):
    for _ in range(3):
        assert _reset(client, "alice@example.org")["Location"] == "/accounts/password_reset/done/"

    refused = _reset(client, "ALICE@example.org", address="198.51.100.4")

    assert Mail.objects.count() == 3
    assert refused.status_code == 429
    assert 3000 < int(refused["Retry-After"]) <= 3600
    assert "Too many password-reset links were asked for that e-mail address." in _html(refused)
    assert form_values(refused)["email"] == "ALICE@example.org"


def test_the_reset_limit_says_nothing_about_which_addresses_have_accounts(client, member, limits):
    def four_times(email: str) -> list:
        responses = [_reset(client, email) for _ in range(4)]
        return [(r.status_code, r.get("Location"), r.get("Retry-After") is None) for r in responses]

    def page(email: str) -> str:
        html = _html(_reset(client, email)).replace(email, "EMAIL")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    known = four_times("alice@example.org")
    unknown = four_times("nobody@example.org")

    assert known == unknown
    assert page("alice@example.org") == page("nobody@example.org")
    assert Mail.objects.count() == 3


def test_reset_mails_asked_from_one_network_are_limited(client, member, limits):
    for number in range(10):
        _reset(client, f"someone{number}@example.org", address=f"2001:db8:7:8::{number}")

    refused = _reset(client, "alice@example.org", address="2001:db8:7:8::ff")

    assert refused.status_code == 429
    assert "from your network" in _html(refused)
    assert not Mail.objects.exists()
    assert _reset(client, "alice@example.org", address="203.0.113.99").status_code == 302
    assert Mail.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_resets_to_one_address_respect_the_limit(settings):
    """Eight requests at once for one address: three mails go out."""
    from django.test import Client

    from .concurrency import run_concurrently
    from .factories import UserFactory

    settings.FORUM_LIMITS = settings.PRODUCTION_LIMITS
    UserFactory(username="alice")
    statuses = []

    def reset(number: int):
        def work() -> None:
            response = _reset(Client(), "alice@example.org", address=f"198.51.100.{number}")
            statuses.append(response.status_code)

        return work

    errors, _ = run_concurrently([reset(n) for n in range(8)])

    assert errors == []
    assert sorted(statuses) == [302] * 3 + [429] * 5
    assert Mail.objects.count() == 3


def test_a_username_taken_while_signing_up_is_refused_on_the_form(client, monkeypatch, db):
    """Two people sign up as carol at once: the form saw the name free, the database did not."""
    create = services.user_create

    def meanwhile(**fields):
        create(username="Carol", email="first@example.org", password=NEW_PASSWORD)
        return create(**fields)

    monkeypatch.setattr(services, "user_create", meanwhile)

    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.org",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 400
    assert "That username is taken." in _html(response)
    assert form_values(response)["email"] == "carol@example.org"
    assert "_auth_user_id" not in client.session


def test_a_post_while_every_render_worker_is_busy_answers_503_and_keeps_the_text(
    member_client, topic, monkeypatch
):
    def busy(source, **options):
        raise rendering.Busy

    monkeypatch.setattr(rendering, "markdown_to_html", busy)
    before = _state()

    response = member_client.post(
        reverse("threads:topic_reply", args=[topic.pk]), {"body": "typed with care"}
    )

    _assert_refused_form(
        response,
        503,
        "The forum is busy formatting other posts",
        {"body": "typed with care"},
        before,
    )
    assert response["Retry-After"] == "5"


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PUT", "DELETE", "PATCH"])
def test_pages_answer_only_the_methods_they_serve(client, topic, method):
    post = opening_post(topic)
    for url in ["/", topic.get_absolute_url(), f"/t/{topic.pk}/download.md", f"/p/{post.pk}/",
                f"/p/{post.pk}/thread/", "/u/alice/"]:  # fmt: skip
        response = client.generic(method, url)

        assert response.status_code == 405, url
        assert response["Allow"] == "GET, HEAD", url


def test_the_formatting_help_says_what_happens_to_html(client):
    """It used to say that HTML is shown as typed, though simple tags work."""
    page = _html(client.get(reverse("threads:formatting_help")))

    for tag in rendering.ALLOWED_TAGS:
        assert f"<code>&lt;{tag}&gt;</code>" in page
    assert "<code>&lt;h1&gt;</code>" not in page
    assert rendering.markdown_to_html("<b>kept</b> <div>shown</div>") == (
        "<p><b>kept</b> &lt;div&gt;shown&lt;/div&gt;</p>"
    )


# --- Categories ----------------------------------------------------------------------------


@pytest.fixture
def forum_of_categories(member, other_member, moderator):
    """A few categories with topics, one of them an announcements category."""
    help_desk = CategoryFactory(name="Help", description="Ask here.", position=1)
    setup = CategoryFactory(name="Setup", parent=help_desk)
    news = CategoryFactory(name="Announcements", who_starts="moderators", position=2)
    asked = TopicFactory(author=member, category=help_desk, title="How do I start?")
    ReplyFactory(topic=asked, author=other_member)
    TopicFactory(author=member, category=setup, title="Installing it")
    services.topic_create(author=moderator, title="Welcome", body="Hello all", category=news)
    return {"help": help_desk, "setup": setup, "news": news, "asked": asked}


# A moderator's permissions take two queries more (Django caches them on the user).
@pytest.mark.parametrize(("who", "queries"), [("anonymous", 2), ("member", 4), ("moderator", 6)])
def test_the_front_page_lists_categories_then_the_latest_topics(
    client, forum_of_categories, member, moderator, django_assert_num_queries, who, queries
):
    if who != "anonymous":
        client.force_login(member if who == "member" else moderator)
    with django_assert_num_queries(queries):
        response = client.get("/")

    html = _html(response)
    categories, latest = html.split('id="latest"')
    assert response.status_code == 200
    assert categories.index("Help") < categories.index("Setup") < categories.index("Announcements")
    assert "Ask here." in categories
    assert (
        "2 topics · 3 posts" in categories.replace("\n", " ") or "1 topic · 2 posts" in categories
    )
    assert all(title in latest for title in ("How do I start?", "Installing it", "Welcome"))
    assert 'class="category-tag" href="/c/help/">Help</a>' in latest


def test_the_front_page_query_count_does_not_grow(
    client, forum_of_categories, member, django_assert_num_queries
):
    for n in range(12):
        CategoryFactory(name=f"More {n}")
        TopicFactory(author=member, category=forum_of_categories["help"])
    with django_assert_num_queries(2):
        client.get("/")


@pytest.mark.parametrize(("who", "queries"), [("anonymous", 2), ("member", 4)])
def test_a_category_page_lists_its_subcategories_and_its_topics(
    client, forum_of_categories, member, django_assert_num_queries, who, queries
):
    if who == "member":
        client.force_login(member)
    with django_assert_num_queries(queries):
        response = client.get("/c/help/")

    html = _html(response)
    assert response.status_code == 200
    assert "Subcategories" in html
    assert "/c/setup/" in html
    assert "How do I start?" in html
    assert "Installing it" not in html.split("Subcategories")[1].split("</ol>", 1)[1]
    assert '/t/new/?category=help"' in html


def test_a_category_page_is_paged_with_numbers(client, member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "TOPICS_PER_PAGE", 1)
    category = CategoryFactory(name="Busy")
    for n in range(12):
        TopicFactory(author=member, category=category, title=f"topic {n}")

    html = _html(client.get("/c/busy/?page=12"))

    assert "topic 0" in html
    assert 'aria-current="page">12</a>' in html
    assert '<a href="?page=1">1</a>' in html


def test_an_unknown_category_is_a_404(client, db):
    assert client.get("/c/nowhere/").status_code == 404


def test_an_announcements_category_offers_members_no_new_topic(member_client, forum_of_categories):
    html = _html(member_client.get("/c/announcements/"))

    assert "Only moderators start topics in Announcements." in html
    assert "/t/new/?category=announcements" not in html


def test_the_new_topic_form_preselects_the_category_it_came_from(
    member_client, forum_of_categories, get
):
    html = _html(get(member_client, "/t/new/?category=setup", queries=3))

    assert '<option value="setup" selected>' in html
    assert 'value="announcements"' not in html  # members may not start topics there


def test_a_new_topic_goes_into_the_chosen_category(member_client, forum_of_categories):
    response = member_client.post(
        "/t/new/", {"category": "setup", "title": "Another question", "body": "Hi"}
    )

    topic = Topic.objects.get(title="Another question")
    assert response.status_code == 302
    assert topic.category == forum_of_categories["setup"]


def test_a_new_topic_in_a_category_one_may_not_start_in_keeps_the_text(
    member_client, forum_of_categories
):
    typed = {"category": "announcements", "title": "Sneaky", "body": "Read me"}
    before = _state()

    response = member_client.post("/t/new/", typed)

    assert response.status_code == 400
    assert "Choose one of the categories listed." in _html(response)
    assert form_values(response) == {"title": "Sneaky", "body": "Read me"}
    assert _state() == before


def test_the_topic_page_shows_where_the_topic_is(client, forum_of_categories):
    topic = Topic.objects.get(title="Installing it")

    html = _html(client.get(topic.get_absolute_url()))

    assert 'href="/c/help/">Help</a> \u203a <a href="/c/setup/">Setup</a>' in html
    assert "Move to another category" not in html


def test_moderators_see_a_move_link_on_the_topic_page(moderator_client, forum_of_categories):
    topic = forum_of_categories["asked"]

    html = _html(moderator_client.get(topic.get_absolute_url()))

    assert f'href="/admin/threads/topic/{topic.pk}/move/">Move to another category</a>' in html


def test_a_profile_pages_by_older_and_newer_links(client, member, monkeypatch):
    monkeypatch.setattr(selectors.lists, "PROFILE_POSTS_PER_PAGE", 2)
    topic = TopicFactory(author=member, body="post 0")
    posts = [ReplyFactory(topic=topic, author=member, body=f"post {n}") for n in range(1, 5)]

    first = _html(client.get("/u/alice/"))
    second = _html(client.get(f"/u/alice/?before={posts[2].pk}"))

    assert f'href="?before={posts[2].pk}" rel="next">Older posts' in first
    assert "Newer posts" not in first
    assert "post 2" in second
    assert "post 1" in second
    assert "post 4" not in second
    assert f'href="?after={posts[1].pk}" rel="prev">' in second
