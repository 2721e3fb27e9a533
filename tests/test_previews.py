"""Link previews: each topic's description (written by the services) and what topic pages
tell search engines and link previews (description, Open Graph, the canonical address)."""

import importlib
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.core.cache import cache

from threads import conversation, rendering, selectors, services
from threads.models import Post, Topic

from .factories import ReplyFactory, TopicFactory, importer
from .helpers import opening_post

pytestmark = pytest.mark.django_db

SITE = "https://forum.example.org"


def _description(topic: Topic) -> str:
    return Topic.objects.values_list("description", flat=True).get(pk=topic.pk)


# --- The description, as every write leaves it ----------------------------------------------


def test_a_new_topic_is_described_by_the_text_of_its_opening_post(member):
    body = "Hello, **forum**.\n\nA [link](https://example.com/x) and `code`.\n\n- one\n- two"
    topic = services.topic_create(author=member, title="Hello", body=body)

    assert _description(topic) == "Hello, forum. A link and code. one two"


def test_a_long_opening_post_is_cut_at_a_word_to_fit_the_field(member):
    topic = TopicFactory(author=member, body="word " * 200)

    description = _description(topic)
    assert len(description) <= Topic._meta.get_field("description").max_length
    assert description.endswith("word…")


def test_an_edit_of_the_opening_post_describes_the_topic_anew(topic, member):
    services.post_edit(post=opening_post(topic), editor=member, body="Now *this*.")

    assert _description(topic) == "Now this."


def test_an_edit_of_a_reply_leaves_the_description(topic, other_member):
    reply = ReplyFactory(topic=topic, author=other_member, body="A reply")

    services.post_edit(post=reply, editor=other_member, body="Another reply")

    assert _description(topic) == "Hello, forum."


def test_a_removed_or_deleted_opening_post_takes_its_text_out_of_the_description(
    topic, member, moderator
):
    op = opening_post(topic)

    services.post_remove(post=op, moderator=moderator, reason="spam")
    assert _description(topic) == ""
    services.post_restore(post=op, moderator=moderator)
    assert _description(topic) == "Hello, forum."
    services.post_delete(post=op, user=member)
    assert _description(topic) == ""


def test_removing_a_top_level_reply_leaves_the_description(topic, other_member, moderator):
    reply = ReplyFactory(topic=topic, author=other_member)

    services.post_remove(post=reply, moderator=moderator, reason="off topic")

    assert _description(topic) == "Hello, forum."


def test_an_import_describes_each_topic_by_its_first_message(db):
    text = (
        "### First\n\n- @ann [2025-01-01T10:00:00Z]: The *first* topic.\n"
        "  - @ben [2025-01-01T11:00:00Z]: A reply\n\n"
        "### Second\n\n- @ben [2025-01-02T10:00:00Z]: Second & last\n"
    )
    document = conversation.read(text.encode(), filename="a.md")

    services.conversation_import(documents=[document], moderator=importer())

    assert dict(Topic.objects.values_list("title", "description")) == {
        "First": "The first topic.",
        "Second": "Second & last",
    }


def test_rerendering_describes_the_topics_again(topic, monkeypatch):
    op = opening_post(topic)
    Post.objects.filter(pk=op.pk).update(body="Rendered *again*")
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)

    services.posts_rerender()

    assert _description(topic) == "Rendered again"


def test_rerendering_a_removed_opening_post_gives_no_description(topic, moderator):
    services.post_remove(post=opening_post(topic), moderator=moderator, reason="spam")

    services.posts_rerender(everything=True)

    assert _description(topic) == ""


def test_the_migration_describes_the_topics_there_were(topic, other_member, moderator):
    removed = TopicFactory(author=other_member, body="Gone")
    services.post_remove(post=opening_post(removed), moderator=moderator, reason="spam")
    ReplyFactory(topic=topic, author=other_member, body="Not the opening post")
    Topic.objects.update(description="")
    migration = importlib.import_module("threads.migrations.0012_topic_description")

    migration.fill_descriptions(apps, None)

    assert _description(topic) == "Hello, forum."
    assert _description(removed) == ""


# --- What a topic page tells link previews and search engines -------------------------------


class _Head(HTMLParser):
    """The <meta> and <link> elements of a page's head, and any script there."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.scripts: list[dict] = []
        self._in_head = True

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self._in_head:
            return
        if tag == "meta" and ("name" in attrs or "property" in attrs):
            self.meta[attrs.get("name") or attrs["property"]] = attrs["content"]
        elif tag == "link":
            self.links[attrs["rel"]] = attrs["href"]
        elif tag == "script":
            self.scripts.append(attrs)

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False


def _head(response) -> _Head:
    assert response.status_code == 200
    head = _Head()
    head.feed(response.content.decode())
    return head


@pytest.fixture
def site(settings):
    settings.FORUM_SITE_URL = SITE


def test_a_topic_page_describes_itself_for_link_previews(client, topic, site):
    head = _head(client.get(topic.get_absolute_url()))

    url = f"{SITE}/t/{topic.pk}-a-first-topic/"
    assert head.links["canonical"] == url
    assert head.meta == {
        "viewport": "width=device-width, initial-scale=1",
        "description": "Hello, forum.",
        "og:type": "article",
        "og:site_name": "Forum",
        "og:title": "A first topic",
        "og:description": "Hello, forum.",
        "og:url": url,
    }


def test_titles_and_descriptions_stay_text_in_the_tags(client, member, site):
    title = '"><script>alert(1)</script>'
    topic = TopicFactory(author=member, title=title, body='Look: "><script>alert(2)</script> & co')

    response = client.get(topic.get_absolute_url())

    head = _head(response)
    assert head.meta["og:title"] == title
    assert head.meta["description"] == head.meta["og:description"]
    assert head.meta["description"] == 'Look: "><script>alert(2)</script> & co'
    assert [script["src"] for script in head.scripts] == ["/static/js/forum.js"]
    assert "<script>alert" not in response.content.decode()


def test_a_topic_without_a_description_has_no_description_tags(client, topic, moderator, site):
    services.post_remove(post=opening_post(topic), moderator=moderator, reason="spam")

    head = _head(client.get(topic.get_absolute_url()))

    assert "description" not in head.meta
    assert "og:description" not in head.meta
    assert head.meta["og:title"] == "A first topic"


def test_each_page_of_a_topic_has_its_own_canonical_address(
    client, topic, other_member, monkeypatch, site
):
    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 1)
    ReplyFactory(topic=topic, author=other_member)
    base = f"{SITE}/t/{topic.pk}-a-first-topic/"

    pages = {
        query: _head(client.get(topic.get_absolute_url() + query)).links["canonical"]
        for query in ["", "?page=1", "?page=2", "?page=99999999999999999999", "?page=x"]
    }

    assert pages == {
        "": base,
        "?page=1": base,
        "?page=2": f"{base}?page=2",
        "?page=99999999999999999999": f"{base}?page=2",  # the last page, as shown
        "?page=x": base,
    }


def test_the_canonical_address_is_the_site_url_not_the_host_asked_for(
    client, topic, settings, site
):
    settings.ALLOWED_HOSTS = ["*"]

    head = _head(client.get(topic.get_absolute_url(), headers={"host": "attacker.example"}))

    assert head.links["canonical"].startswith(f"{SITE}/")
    assert head.meta["og:url"].startswith(f"{SITE}/")


def test_topic_pages_keep_their_queries(client, topic, member, django_assert_num_queries):
    """The description is a column of the topic the page reads, and the member's page asks
    whether anyone may read the topic in the same query (for its feed link)."""
    with django_assert_num_queries(3):
        client.get(topic.get_absolute_url())
    client.force_login(member)
    client.get(topic.get_absolute_url())  # the first visit writes the read mark
    cache.clear()
    with django_assert_num_queries(5):  # the session, the member, then as a visitor's
        assert client.get(topic.get_absolute_url()).status_code == 200
