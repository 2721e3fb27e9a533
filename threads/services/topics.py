"""Topics: starting one, and what moderators do to a whole topic."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .. import permissions
from ..models import Post, Topic, User
from . import limits, locks, writes


def topic_create(*, author: User, title: str, body: str, created: datetime | None = None) -> Topic:
    """Start a topic with its opening post."""
    title = writes.clean_title(title)
    body = writes.clean_body(body)
    writes.refuse_if(permissions.posting_refusal(author))
    limits.refuse_duplicate(author, body, topic=None, parent=None, title=title)
    limits.check_posting_limits(author)
    body_html = writes.render(body, author=author)
    created = created or timezone.now()
    with transaction.atomic():
        locks.lock_author(author)
        limits.refuse_duplicate(author, body, topic=None, parent=None, title=title)
        limits.check_posting_limits(author, body_html)
        topic = Topic.objects.create(
            title=title,
            slug=writes.slug(title),
            author=author,
            created=created,
            last_activity=created,
        )
        writes.insert_post(
            topic=topic, parent=None, author=author, body=body, body_html=body_html, created=created
        )
        writes.topic_changed(topic)
    return topic


def topic_retitle(*, topic: Topic, moderator: User, title: str) -> Topic:
    """Change a topic's title (its author does it by editing the opening post)."""
    title = writes.clean_title(title)
    with transaction.atomic():
        writes.refuse_if(permissions.moderation_refusal(moderator))
        topic = locks.lock_topic(topic.pk)
        writes.retitle(topic, title)
    return topic


def _set_topic_flag(topic: Topic, moderator: User, **flag: bool) -> Topic:
    with transaction.atomic():
        writes.refuse_if(permissions.moderation_refusal(moderator))
        return writes.topic_changed(locks.lock_topic(topic.pk), **flag)


def topic_set_locked(*, topic: Topic, moderator: User, locked: bool) -> Topic:
    """Lock a topic (no more replies, except from moderators) or unlock it."""
    return _set_topic_flag(topic, moderator, is_locked=locked)


def topic_set_pinned(*, topic: Topic, moderator: User, pinned: bool) -> Topic:
    """Pin a topic to the top of the topic list, or unpin it."""
    return _set_topic_flag(topic, moderator, is_pinned=pinned)


def topic_delete(*, topic: Topic, moderator: User) -> None:
    """Delete a topic and every post in it, for good."""
    with transaction.atomic():
        writes.refuse_if(permissions.moderation_refusal(moderator))
        topic = locks.lock_topic(topic.pk)
        Post.objects.filter(topic=topic).delete()
        topic.delete()
