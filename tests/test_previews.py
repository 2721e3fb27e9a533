"""Link previews: each topic's description (written by the services) and what topic pages
tell search engines and link previews (description, Open Graph, the canonical address)."""

import importlib

import pytest
from django.apps import apps

from threads import conversation, rendering, services
from threads.models import Post, Topic

from .factories import ReplyFactory, TopicFactory, importer
from .helpers import opening_post

pytestmark = pytest.mark.django_db


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
