"""Topics in the ConversationJS format, for export and download."""

from collections import defaultdict
from collections.abc import Sequence

from .. import conversation
from ..models import Category, Post, Topic
from . import access


def conversation_export(
    *, topic_ids: Sequence[int] | None = None, category: Category | None = None
) -> str:
    """Topics (all, these, or a category's) in canonical ConversationJS form, in order of creation.

    Two queries whatever the size. Removed posts keep their place with a
    placeholder, so replies keep their parents.
    """
    topics = Topic.objects.order_by("pk")
    posts = Post.objects.order_by("topic_id", "tree_id", "lft")
    if topic_ids is not None:
        topics, posts = topics.filter(pk__in=topic_ids), posts.filter(topic_id__in=topic_ids)
    if category is not None:
        topics, posts = topics.filter(category=category), posts.filter(topic__category=category)
    titles = dict(topics.values_list("pk", "title"))
    messages = defaultdict(list)
    for topic_id, level, handle, created, body, removal in posts.values_list(
        "topic_id", "level", "author__username", "created", "body", "removal"
    ):
        text = f"[{Post.Removal(removal).label.lower()}]" if removal else body
        messages[topic_id].append(conversation.Message(level, handle, created, text))
    return conversation.write(
        conversation.Conversation(title, messages[topic_id]) for topic_id, title in titles.items()
    )


def topic_markdown(*, topic_id: int, viewer) -> tuple[Topic, str]:
    """A topic this reader may see and its ConversationJS text, for "Download as Markdown"."""
    topic = access.visible_topics(viewer).get(pk=topic_id)
    return topic, conversation_export(topic_ids=[topic.pk])
