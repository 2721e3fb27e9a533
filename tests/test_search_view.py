"""The search page (threads.views.search), the header's box and a topic's."""

import re

import pytest
from django.db import connection
from django.utils.http import urlencode
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads.models import RateEvent
from threads.selectors import search as search_module

from .factories import ReplyFactory, TopicFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db


def _get(client, django_assert_num_queries, queries: int, **params):
    with django_assert_num_queries(queries):
        return client.get("/search/?" + urlencode(params))


@pytest.fixture
def topic(member):
    topic = TopicFactory(author=member, title="Pool scrubs", body="How often do you scrub a pool?")
    ReplyFactory(topic=topic, author=member, body="Weekly scrub, monthly **backup**.")
    return topic


def test_every_page_has_the_search_box(client, topic):
    html = client.get("/").content.decode()
    assert '<form method="get" action="/search/" class="site-search" role="search">' in html
    assert 'name="q"' in html


def test_a_members_search_is_four_queries(member_client, topic, django_assert_num_queries):
    # The session and the member, then the page of results and what they show.
    response = _get(member_client, django_assert_num_queries, 4, q="scrub")
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 posts match." in html
    assert html.count('class="search-result"') == 2
    assert "<mark>scrub</mark>" in html
    assert f'href="/p/{opening_post(topic).pk}/"' in html
    assert '<input type="search" name="q" id="search-q" value="scrub"' in html


def test_a_visitors_search_is_counted_then_searched(client, topic, django_assert_num_queries):
    # The counted event (its savepoint, the lock on PostgreSQL, the count, the event, the
    # pruning, the savepoint's release), then the two of the search.
    lock = 1 if connection.vendor == "postgresql" else 0
    response = _get(client, django_assert_num_queries, 7 + lock, q="backup", sort="newest")
    assert response.status_code == 200
    assert "1 post matches." in response.content.decode()
    assert RateEvent.objects.filter(kind="search").count() == 1


def test_visitors_searching_too_often_are_told_when_to_try_again(client, topic, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "searches_per_address": 2}
    for _ in range(2):
        assert client.get("/search/?q=scrub").status_code == 200
    response = client.get("/search/?q=scrub")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Many searches came from your address in a short time." in html
    assert 'value="scrub"' in html  # what they typed stays


def test_members_are_not_counted(member_client, topic, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "searches_per_address": 1}
    for _ in range(3):
        assert member_client.get("/search/?q=scrub").status_code == 200
    assert not RateEvent.objects.filter(kind="search").exists()


def test_an_empty_search_shows_the_box_and_how_to_search(client, django_assert_num_queries):
    response = _get(client, django_assert_num_queries, 0)
    assert response.status_code == 200
    assert "How to search" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unclosed <b>', "A quotation mark is not closed"),
        ("author:alice", "Add a word to find"),
        ("-spam", "Add a word to find"),
        ("x" * 501, "A search can be at most 500 characters long."),
    ],
)
def test_a_search_that_cannot_be_run_says_why_and_keeps_the_text(
    client, text, message, django_assert_num_queries
):
    response = _get(client, django_assert_num_queries, 0, q=text)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    escaped = text.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'value="{escaped}"' in html


def test_search_in_this_topic(client, member, topic):
    other = TopicFactory(author=member, body="scrub elsewhere")
    page = client.get(topic.get_absolute_url()).content.decode()
    assert f'<input type="hidden" name="topic" value="{topic.pk}">' in page
    html = client.get(f"/search/?q=scrub&topic={topic.pk}").content.decode()
    assert f'value="topic:{topic.pk} scrub"' in html
    assert "2 posts match." in html
    assert f'href="/p/{opening_post(other).pk}/"' not in html


def test_results_are_paged(member_client, member, topic):
    for n in range(25):
        ReplyFactory(topic=topic, author=member, body=f"scrub number {n}")
    first = member_client.get("/search/?q=scrub&sort=newest").content.decode()
    assert "27 posts match." in first
    assert "Page 1 of 2" in first
    (next_link,) = re.findall(r'href="([^"]*)" rel="next"', first)
    second = member_client.get("/search/" + next_link.replace("&amp;", "&")).content.decode()
    assert second.count('class="search-result"') == 7
    assert 'rel="prev"' in second
    assert '<ol class="search-results" start="21">' in second


@pytest.mark.parametrize(
    "params",
    [
        {"q": "scrub", "page": "99999999999999999999999"},
        {"q": "scrub", "page": "-3"},
        {"q": "scrub", "page": "abc"},
        {"q": "scrub", "sort": "<script>"},
        {"q": "scrub", "topic": "99999999999999999999999"},
        {"q": "scrub", "topic": "abc"},
        {"q": "scrub topic:9223372036854775807"},
        {"q": "x " * 16},
        {"q": '"' + "zz " * 16 + '"'},
        {"q": "scrub in:" + "a" * 80 + " author:" + "b" * 150},
        {"q": "\u202escrub\u200b"},
        {"q": "NEAR(scrub pool) OR col:scrub ^scrub scrub*"},
        {"q": "scrub' OR 1=1 --"},
        {"q": '"" "" scrub'},
    ],
)
def test_hostile_searches_are_answered(client, topic, params):
    assert client.get("/search/?" + urlencode(params)).status_code in (200, 400)


def test_a_page_past_the_last_says_so(client, topic):
    html = client.get("/search/?q=scrub&page=7").content.decode()
    assert "There are no more results" in html


# Pieces of the query language and of both databases' own search syntax, in any order.
PIECES = st.sampled_from(
    ['"', "-", "@", "author:", "in:", "topic:", "scrub", "pool", " ", "OR", "AND", "NOT",
     "NEAR", "*", "^", ":", "'", "(", ")", "!", "&", "|", "<->", "\\", "{", "}", "é", "1"]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=600),
    st.lists(PIECES, max_size=80).map("".join),
)


@examples(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=QUERIES, page=st.text(max_size=25), sort=st.sampled_from(["", "newest", "x"]))
def test_any_search_is_answered_with_results_or_a_reason(member_client, topic, q, page, sort):
    response = member_client.get("/search/", {"q": q, "page": page, "sort": sort})

    assert response.status_code in {200, 400}, q
    if response.status_code == 400:
        html = response.content.decode()
        # A NUL anywhere in a request is refused before any view (forum.request_checks).
        refused = "That request could not be understood"
        expected = refused if "\x00" in q + page else 'id="search-error"'
        assert expected in html


def test_a_word_in_more_posts_than_are_ranked_says_so(client, member, topic, monkeypatch):
    monkeypatch.setattr(search_module, "CANDIDATES", 5)
    for n in range(6):
        ReplyFactory(topic=topic, author=member, body=f"scrub {n}")
    html = client.get("/search/?q=scrub").content.decode()
    assert "At least 5 posts match; the newest 5 are ranked." in html
    assert html.count('class="search-result"') == 5


def _found_posts(client, text: str) -> list[str]:
    html = client.get("/search/?q=" + text).content.decode()
    return re.findall(r'<h2><a href="/p/(\d+)/">', html)


def test_an_edit_through_its_form_is_searched_by_its_new_words_at_once(member_client, topic):
    reply = ReplyFactory(parent=opening_post(topic), author=topic.author, body="a tpyo here")
    assert _found_posts(member_client, "tpyo") == [str(reply.pk)]

    assert member_client.post(f"/p/{reply.pk}/edit/", {"body": "a typo fixed"}).status_code == 302

    assert _found_posts(member_client, "tpyo") == []
    assert _found_posts(member_client, "fixed") == [str(reply.pk)]


def test_a_post_removed_in_the_admin_is_gone_from_the_results(client, moderator, topic):
    reply = ReplyFactory(parent=opening_post(topic), author=topic.author, body="buy pills now")
    client.force_login(moderator)
    assert _found_posts(client, "pills") == [str(reply.pk)]

    removal = client.post(f"/admin/threads/post/{reply.pk}/remove/", {"reason": "spam"})

    assert removal.status_code == 302
    assert _found_posts(client, "pills") == []
