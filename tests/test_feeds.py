"""The Atom feeds: the latest topics of the forum and of a category, a topic's posts, a member's."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from threads import conversation, selectors, services
from threads.models import Post, Topic

from .factories import CategoryFactory, ReplyFactory, TopicFactory, importer
from .helpers import opening_post

pytestmark = pytest.mark.django_db

SITE = "https://forum.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def site(settings):
    settings.FORUM_SITE_URL = SITE


def _feed(response) -> ET.Element:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.content)


def _entries(response) -> list[dict]:
    """Each entry as a dict of its elements' text (the link's and author's as they are)."""
    entries = []
    for entry in _feed(response).iter(f"{ATOM}entry"):
        author = entry.find(f"{ATOM}author")
        entries.append(
            {
                "title": entry.findtext(f"{ATOM}title"),
                "id": entry.findtext(f"{ATOM}id"),
                "link": entry.find(f"{ATOM}link").get("href"),
                "published": entry.findtext(f"{ATOM}published"),
                "updated": entry.findtext(f"{ATOM}updated"),
                "author": author.findtext(f"{ATOM}name"),
                "author_uri": author.findtext(f"{ATOM}uri"),
                "content": entry.findtext(f"{ATOM}content"),
                "content_type": entry.find(f"{ATOM}content").get("type"),
            }
        )
    return entries


def _titles(response) -> list[str]:
    return [entry["title"] for entry in _entries(response)]


def _topic_feed(topic) -> str:
    return reverse("threads:topic_feed", args=[topic.pk])


def _member_feed(member) -> str:
    return reverse("threads:member_feed", args=[member.username])


@pytest.fixture
def private(staff_group):
    """A category only members see, and one only a group sees, each with a topic and a reply."""
    members = CategoryFactory(name="Lounge", who_sees="members")
    groups = CategoryFactory(name="Backroom", who_sees="groups", seer_groups=[staff_group])
    inner = CategoryFactory(name="Open inside", parent=groups, who_sees="everyone")
    return [members, groups, inner]


# --- What entries carry ------------------------------------------------------------------


def test_the_forum_feed_has_the_newest_topics_with_their_opening_posts(client, member):
    first = services.topic_create(
        author=member,
        title="Older",
        body="The *first*",
        created=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
    )
    second = TopicFactory(author=member, title="Newer", body="The second")
    ReplyFactory(topic=second, author=member, body="A reply is not a topic's entry")

    entries = _entries(client.get("/feed/"))

    assert [entry["title"] for entry in entries] == ["Newer", "Older"]
    op = opening_post(first)
    assert entries[1] == {
        "title": "Older",
        "id": f"{SITE}/p/{op.pk}/",
        "link": f"{SITE}/p/{op.pk}/",
        "published": "2025-03-01T10:00:00+00:00",
        "updated": "2025-03-01T10:00:00+00:00",
        "author": "@alice",
        "author_uri": f"{SITE}/u/alice/",
        "content": "<p>The <em>first</em></p>",
        "content_type": "html",
    }


def test_a_feed_says_what_it_is_and_where(client, topic):
    feed = _feed(client.get("/feed/"))

    assert feed.findtext(f"{ATOM}title") == "Latest topics · Forum"
    assert feed.findtext(f"{ATOM}id") == f"{SITE}/feed/"
    links = {link.get("rel"): link.get("href") for link in feed.iter(f"{ATOM}link")}
    assert links["self"] == f"{SITE}/feed/"
    assert links["alternate"].startswith(f"{SITE}/")


def test_an_edited_post_is_updated_at_its_edit(client, topic, member):
    services.post_edit(post=opening_post(topic), editor=member, body="Edited text")
    post = opening_post(topic)

    (entry,) = _entries(client.get(_topic_feed(topic)))

    assert entry["content"] == "<p>Edited text</p>"
    assert entry["published"] == post.created.isoformat()
    assert entry["updated"] == post.edited.isoformat()
    assert post.edited > post.created


def test_the_topic_feed_has_its_newest_posts_replies_named_after_the_topic(
    client, topic, other_member, monkeypatch
):
    monkeypatch.setattr(selectors.public, "FEED_ENTRIES", 3)
    replies = [ReplyFactory(topic=topic, author=other_member, body=f"Reply {n}") for n in range(3)]

    entries = _entries(client.get(_topic_feed(topic)))

    assert [entry["id"] for entry in entries] == [f"{SITE}/p/{r.pk}/" for r in replies[::-1]]
    assert {entry["title"] for entry in entries} == {"Re: A first topic"}
    assert entries[0]["author"] == "@bob"

    monkeypatch.setattr(selectors.public, "FEED_ENTRIES", 30)
    assert _titles(client.get(_topic_feed(topic)))[-1] == "A first topic"


def test_newest_is_by_time_written_whatever_the_ids(client, member):
    """An import writes a topic's posts level by level (replies get ids after every
    top-level post), and its topics with the times of their files."""
    text = (
        "### Imported\n\n"
        "- @ann [2025-01-01T10:00:00Z]: First\n"
        "  - @ben [2025-01-01T10:15:00Z]: A reply, the second written\n"
        "- @ann [2025-01-01T10:30:00Z]: Second\n"
        "\n### Older\n\n- @ann [2024-06-01T10:00:00Z]: From 2024\n"
    )
    services.conversation_import(
        documents=[conversation.read(text.encode(), filename="a.md")], moderator=importer()
    )
    topic = Topic.objects.get(title="Imported")

    contents = [entry["content"] for entry in _entries(client.get(_topic_feed(topic)))]

    assert contents == ["<p>Second</p>", "<p>A reply, the second written</p>", "<p>First</p>"]
    TopicFactory(author=member, title="Now", created=datetime(2024, 1, 1, tzinfo=UTC))
    assert _titles(client.get("/feed/")) == ["Imported", "Older", "Now"]
    assert _titles(client.get("/c/general/feed/")) == ["Imported", "Older", "Now"]


def test_the_member_feed_has_their_newest_posts_everywhere(client, topic, member, other_member):
    services.profile_update(user=other_member, display_name="Bob B.", bio="")
    theirs = TopicFactory(author=other_member, title="Bob's topic", body="Bob starts")
    ReplyFactory(topic=topic, author=other_member, body="Bob replies")
    ReplyFactory(topic=topic, author=member, body="Alice again")

    entries = _entries(client.get(_member_feed(other_member)))

    assert [(e["title"], e["content"]) for e in entries] == [
        ("Re: A first topic", "<p>Bob replies</p>"),
        ("Bob's topic", "<p>Bob starts</p>"),
    ]
    assert {entry["author"] for entry in entries} == {"Bob B. (@bob)"}
    feed = _feed(client.get(_member_feed(other_member)))
    assert feed.findtext(f"{ATOM}title") == "Posts by Bob B. (@bob) · Forum"
    assert entries[1]["id"] == f"{SITE}/p/{opening_post(theirs).pk}/"


def test_a_category_feed_has_its_own_newest_topics(client, member):
    hardware = CategoryFactory(name="Hardware", description="Disks & <boards>")
    TopicFactory(author=member, title="Elsewhere")
    TopicFactory(author=member, title="A disk", category=hardware)

    response = client.get("/c/hardware/feed/")

    assert _titles(response) == ["A disk"]
    feed = _feed(response)
    assert feed.findtext(f"{ATOM}title") == "Latest topics in Hardware · Forum"
    assert feed.findtext(f"{ATOM}subtitle") == "Disks & <boards>"


def test_titles_and_names_are_text_escaped_once(client, member):
    title = '<script>alert("t")</script> & &amp; "><b>'
    services.profile_update(user=member, display_name="<i>Al</i> & co", bio="")
    topic = TopicFactory(author=member, title=title, body="<script>alert(1)</script> **b**")

    response = client.get(_topic_feed(topic))

    raw = response.content.decode()
    assert "<script>" not in raw
    assert "&lt;script&gt;alert(" in raw
    (entry,) = _entries(response)
    assert entry["title"] == title
    assert entry["author"] == "<i>Al</i> & co (@alice)"
    # The post's own sanitized HTML, as the page shows it: the script tag is text there too.
    assert entry["content"] == opening_post(topic).body_html
    assert "<script>" not in entry["content"]


def test_text_xml_cannot_carry_is_left_out_rather_than_breaking_the_feed(
    client, topic, member, moderator
):
    """A post shown as typed (too complex to format) keeps control characters, which Django's
    XML writer refused with a server error; U+FFFE and U+FFFF made feeds no parser reads."""
    Post.objects.filter(pk=opening_post(topic).pk).update(body_html="<pre>a\x01b\x0bc</pre>")
    ReplyFactory(topic=topic, author=member, body="x\ufffey\uffffz")
    services.topic_retitle(topic=topic, moderator=moderator, title="T\ufffe")

    entries = _entries(client.get(_topic_feed(topic)))

    assert [entry["content"] for entry in entries] == ["<p>xyz</p>", "<pre>abc</pre>"]
    assert entries[0]["title"] == "Re: T"


# --- What is never in a feed ---------------------------------------------------------------


def test_removed_posts_are_in_no_feed(client, topic, member, other_member, moderator):
    removed = ReplyFactory(topic=topic, author=other_member, body="Spam")
    ReplyFactory(topic=topic, author=other_member, body="Kept")
    deleted = ReplyFactory(topic=topic, author=other_member, body="Deleted")
    services.post_remove(post=removed, moderator=moderator, reason="spam")
    services.post_delete(post=deleted, user=other_member)
    gone = TopicFactory(author=other_member, title="A spam topic", body="Buy")
    services.post_remove(post=opening_post(gone), moderator=moderator, reason="spam")

    topic_entries = _entries(client.get(_topic_feed(topic)))
    member_entries = _entries(client.get(_member_feed(other_member)))

    assert [e["content"] for e in topic_entries] == [
        "<p>Kept</p>",
        "<p>Hello, <strong>forum</strong>.</p>",
    ]
    assert [e["content"] for e in member_entries] == ["<p>Kept</p>"]
    assert _titles(client.get("/feed/")) == ["A first topic"]
    assert _titles(client.get("/c/general/feed/")) == ["A first topic"]
    assert [e["content"] for e in _entries(client.get(_topic_feed(gone)))] == []


def test_private_topics_and_posts_are_in_no_feed(client, member, group_member, private):
    """Whoever asks: a member who may read them gets the visitors' feed too."""
    public = TopicFactory(author=member, title="Public")
    for category in private:
        hidden = TopicFactory(author=group_member, title=f"In {category.slug}", category=category)
        ReplyFactory(topic=public, author=group_member, body="A public reply")
        ReplyFactory(topic=hidden, author=group_member, body="A private reply")
    client.force_login(group_member)

    assert _titles(client.get("/feed/")) == ["Public"]
    member_entries = _entries(client.get(_member_feed(group_member)))
    assert {entry["content"] for entry in member_entries} == {"<p>A public reply</p>"}
    for category in private:
        assert client.get(f"/c/{category.slug}/feed/").status_code == 404
        hidden = category.topics.get()
        assert client.get(_topic_feed(hidden)).status_code == 404


def test_a_members_only_forum_has_no_feeds(client, member, topic, members_only):
    client.force_login(member)
    for url in ["/feed/", "/c/general/feed/", _topic_feed(topic), _member_feed(member)]:
        response = client.get(url)
        assert response.status_code == 404, url
    client.logout()
    assert client.get("/feed/").status_code == 404  # not a redirect to the login page


@pytest.mark.parametrize(
    "url",
    [
        "/t/0/feed/",
        "/t/9223372036854775808/feed/",
        "/t/99999999999999999999999999/feed/",
        "/c/nowhere/feed/",
        "/c/" + "a" * 5000 + "/feed/",
        "/u/nobody/feed/",
        "/u/%E2%80%AEevil/feed/",
        "/u/" + "b" * 5000 + "/feed/",
    ],
)
def test_feeds_of_nothing_are_404s(client, topic, url):
    assert client.get(url).status_code == 404


def test_feeds_answer_only_reads(client, topic):
    assert client.post("/feed/").status_code == 405
    assert client.head("/feed/").status_code == 200


# --- Conditional GET -----------------------------------------------------------------------


def _revalidated(client, url: str, etag: str) -> int:
    return client.get(url, headers={"if-none-match": etag}).status_code


def test_an_unchanged_feed_is_not_sent_again(client, topic, other_member):
    for url in ["/feed/", "/c/general/feed/", _topic_feed(topic), _member_feed(topic.author)]:
        response = client.get(url)
        assert response["ETag"].startswith('"')
        assert response["Last-Modified"]

        again = client.get(url, headers={"if-none-match": response["ETag"]})

        assert again.status_code == 304, url
        assert again.content == b""
        assert again["ETag"] == response["ETag"]


@pytest.mark.parametrize(
    "change",
    [
        "reply",
        "edit_opening_post",
        "edit_reply",
        "remove_reply",
        "retitle",
        "new_topic",
        "display_name",
    ],
)
def test_any_change_a_feed_shows_gives_it_a_new_etag(
    client, topic, member, other_member, moderator, change
):
    reply = ReplyFactory(topic=topic, author=member, body="A reply")
    urls = ["/feed/", "/c/general/feed/", _topic_feed(topic), _member_feed(member)]
    etags = {url: client.get(url)["ETag"] for url in urls}

    if change == "reply":
        ReplyFactory(topic=topic, author=member)
    elif change == "edit_opening_post":
        services.post_edit(post=opening_post(topic), editor=member, body="New text")
    elif change == "edit_reply":
        services.post_edit(post=reply, editor=member, body="Changed reply")
    elif change == "remove_reply":
        services.post_remove(post=reply, moderator=moderator, reason="spam")
    elif change == "retitle":
        services.topic_retitle(topic=topic, moderator=moderator, title="Renamed")
    elif change == "new_topic":
        TopicFactory(author=member)
    elif change == "display_name":
        services.profile_update(user=member, display_name="Alice A.", bio="")

    changed = {url for url in urls if _revalidated(client, url, etags[url]) == 200}
    # A list's stamp has each topic's revision: any change to a topic renews the lists it
    # is in. A new display name reaches the posts' bylines later, in the background.
    expected = {
        "new_topic": {"/feed/", "/c/general/feed/", _member_feed(member)},
        "display_name": {_member_feed(member)},
    }
    assert changed == expected.get(change, set(urls))


def test_a_renamed_or_hidden_category_gives_its_feeds_a_new_etag(client, topic):
    etag = client.get("/c/general/feed/")["ETag"]
    forum = client.get("/feed/")["ETag"]
    general = topic.category

    general.description = "Another description"
    general.save()
    assert _revalidated(client, "/c/general/feed/", etag) == 200

    general.who_sees = "members"
    general.save()
    assert _revalidated(client, "/feed/", forum) == 200
    assert client.get("/c/general/feed/").status_code == 404


def test_a_date_alone_does_not_answer_304(client, topic, moderator):
    """Removing a post or retitling a topic changes no stored time: only the ETag can tell."""
    response = client.get(_topic_feed(topic))
    services.topic_retitle(topic=topic, moderator=moderator, title="Renamed")

    again = client.get(_topic_feed(topic), headers={"if-modified-since": response["Last-Modified"]})

    assert again.status_code == 200
    assert _titles(again) == ["Renamed"]


# --- Queries ----------------------------------------------------------------------------------


def _forum(member, topics: int) -> None:
    hardware = CategoryFactory(name="Hardware")
    for number in range(topics):
        topic = TopicFactory(author=member, category=hardware if number % 2 else None)
        ReplyFactory(topic=topic, author=member)


@pytest.mark.parametrize("topics", [2, 40])
def test_feeds_take_the_same_queries_whatever_their_size(
    client, member, topics, django_assert_num_queries
):
    """The subject's row (a category, a topic, a member), the stamp, then the entries;
    a 304 reads no entries."""
    _forum(member, topics)
    topic = member.topics.latest("pk")
    entries = selectors.FEED_ENTRIES
    # url: (queries, queries of a 304, entries)
    feeds = {
        "/feed/": (2, 1, min(entries, topics)),
        "/c/hardware/feed/": (3, 2, min(entries, topics // 2)),
        _topic_feed(topic): (2, 1, 2),
        _member_feed(member): (3, 2, min(entries, 2 * topics)),
    }
    for url, (queries, unchanged, count) in feeds.items():
        with django_assert_num_queries(queries):
            response = client.get(url)
        assert len(_entries(response)) == count, url
        with django_assert_num_queries(unchanged):
            assert _revalidated(client, url, response["ETag"]) == 304


# --- Pages link their feeds ------------------------------------------------------------------


def _feed_links(response) -> list[tuple[str, str]]:
    head = response.content.decode().split("</head>")[0]
    return re.findall(
        r'<link rel="alternate" type="application/atom\+xml" title="([^"]*)" href="([^"]*)">',
        head,
    )


def test_pages_with_a_feed_link_it_in_their_head(client, topic, member):
    assert _feed_links(client.get("/")) == [("Latest topics · Forum", "/feed/")]
    assert _feed_links(client.get("/c/general/")) == [
        ("Latest topics in General · Forum", "/c/general/feed/")
    ]
    assert _feed_links(client.get(topic.get_absolute_url())) == [
        ("A first topic · Forum", _topic_feed(topic))
    ]
    assert _feed_links(client.get("/u/alice/")) == [("Posts by @alice · Forum", "/u/alice/feed/")]


def test_a_feed_link_title_is_escaped(client, member):
    topic = TopicFactory(author=member, title='"><script>alert(1)</script>')

    html = client.get(topic.get_absolute_url()).content.decode()

    assert (
        'title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Forum" '
        f'href="{_topic_feed(topic)}"' in html
    )


def test_private_pages_link_no_feed(client, group_member, private):
    client.force_login(group_member)
    for category in private:
        topic = TopicFactory(author=group_member, category=category)
        assert _feed_links(client.get(category.get_absolute_url())) == [], category.slug
        assert _feed_links(client.get(topic.get_absolute_url())) == [], category.slug
    general = TopicFactory(author=group_member, title="Public")
    assert len(_feed_links(client.get(general.get_absolute_url()))) == 1
    assert len(_feed_links(client.get("/c/general/"))) == 1


def test_a_members_only_forum_links_no_feed(client, member, topic, members_only):
    client.force_login(member)
    for url in ["/", "/c/general/", topic.get_absolute_url(), "/u/alice/"]:
        response = client.get(url)
        assert response.status_code == 200
        assert _feed_links(response) == [], url
