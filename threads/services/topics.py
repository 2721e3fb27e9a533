"""Topics: starting one, and what moderators do to a whole topic (slow mode too)."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import permissions, selectors
from ..models import Category, ModerationAction, PendingPost, Post, Topic, User
from . import errors, limits, locks, moderation_log, publishing, search, writes
from .errors import NotFound

Action = ModerationAction.Action


def _category_for(member: User, category: Category | None) -> Category:
    """The category as this member may use it (the default one when None); NotFound if unseen."""
    category = category or writes.default_category()
    try:
        return selectors.visible_categories(member).get(pk=category.pk)
    except Category.DoesNotExist:
        raise NotFound("That category does not exist.") from None


def topic_create(
    *,
    author: User,
    title: str,
    body: str,
    category: Category | None = None,
    created: datetime | None = None,
) -> Topic | PendingPost:
    """Start a topic with its opening post, in `category` (the default category when None).

    A topic held for a moderator (`publishing.held`) is returned as the
    PendingPost that keeps it, and nothing else is written.
    """
    title = writes.clean_title(title)
    body = writes.clean_body(body)
    writes.refuse_if(permissions.posting_refusal(author))
    category = _category_for(author, category)
    writes.refuse_if(permissions.start_refusal(author, category))
    limits.refuse_duplicate(author, body, topic=None, parent=None, title=title)
    limits.check_posting_limits(author)
    mentions = writes.mentions_in(body)
    body_html = writes.render(body, author=author, mentions=mentions)
    created = created or timezone.now()
    with transaction.atomic():
        locks.lock_author(author)
        limits.refuse_duplicate(author, body, topic=None, parent=None, title=title)
        limits.check_posting_limits(author, body_html)
        written = {"author": author, "title": title, "body": body, "body_html": body_html}
        if why := publishing.held(author, category):
            return publishing.held_post(why=why, category=category, created=created, **written)
        opening = publishing.topic_published(
            category=category, created=created, mentioned=mentions.notified(body_html), **written
        )
    return opening.topic


def _moderated_topic(topic: Topic, moderator: User) -> Topic:
    """Lock the topic, refusing a member who does not moderate it."""
    locked = locks.lock_topic(topic.pk, viewer=moderator)
    writes.refuse_if(permissions.moderation_refusal(moderator, locked))
    return locked


def topic_retitle(*, topic: Topic, moderator: User, title: str) -> Topic:
    """Change a topic's title (its author does it by editing the opening post)."""
    title = writes.clean_title(title)
    with transaction.atomic():
        topic = _moderated_topic(topic, moderator)
        if title == topic.title:
            return topic
        before = topic.title
        writes.retitle(topic, title)
        moderation_log.action_logged(
            action=Action.RETITLE, moderator=moderator, topic=topic, details=f"was “{before}”"
        )
    return topic


def _set_topic_flag(topic: Topic, moderator: User, flag: str, value: bool, action: str) -> Topic:
    """Set a flag of the topic, logging `action` when it changes."""
    with transaction.atomic():
        topic = _moderated_topic(topic, moderator)
        if getattr(topic, flag) == value:
            return topic
        topic = writes.topic_changed(topic, **{flag: value})
        moderation_log.action_logged(action=action, moderator=moderator, topic=topic)
    return topic


def topic_set_locked(*, topic: Topic, moderator: User, locked: bool) -> Topic:
    """Lock a topic (no more replies, except from moderators) or unlock it."""
    action = Action.LOCK if locked else Action.UNLOCK
    return _set_topic_flag(topic, moderator, "is_locked", locked, action)


def topic_set_pinned(*, topic: Topic, moderator: User, pinned: bool) -> Topic:
    """Pin a topic to the top of the topic list, or unpin it."""
    action = Action.PIN if pinned else Action.UNPIN
    return _set_topic_flag(topic, moderator, "is_pinned", pinned, action)


def topic_delete(*, topic: Topic, moderator: User) -> None:
    """Delete a topic and every post in it, for good (the log keeps its title)."""
    with transaction.atomic():
        topic = _moderated_topic(topic, moderator)
        replies = topic.reply_count
        moderation_log.action_logged(
            action=Action.DELETE_TOPIC,
            moderator=moderator,
            topic=topic,
            details=f"with {replies} {'reply' if replies == 1 else 'replies'}",
        )
        Post.objects.filter(topic=topic).delete()
        topic.delete()
        writes.categories_recounted(topic.category_id)


def topic_move(*, topic: Topic, moderator: User, category: Category) -> Topic:
    """Move a topic to another category; the moderator must moderate both."""
    with transaction.atomic():
        topic = _moderated_topic(topic, moderator)
        target = _category_for(moderator, category)
        writes.refuse_if(permissions.moderation_refusal(moderator, target))
        if target.pk == topic.category_id:
            return topic
        source_id = topic.category_id
        topic.category = target
        writes.topic_changed(topic, category=target)
        search.topic_entries_moved(topic)
        writes.categories_recounted(source_id, target.pk)
        moderation_log.action_logged(
            action=Action.MOVE_TOPIC, moderator=moderator, topic=topic, previous_category=source_id
        )
    return topic


def slow_mode_text(interval: timedelta) -> str:
    """What a topic's page says of its slow mode: "one post per 5 minutes per member"."""
    return f"one post per {errors.duration(math.ceil(interval.total_seconds()))} per member"


def topic_set_slow_mode(*, topic: Topic, moderator: User, interval: timedelta | None) -> Topic:
    """Let each member post in the topic at most once per `interval` (None: turn it off).

    From a second up to FORUM_LIMITS["slow_mode_max"]. Edits are not slowed,
    nor are the topic's moderators. The topic's page says so; logged.
    """
    longest = settings.FORUM_LIMITS["slow_mode_max"]
    if interval is not None and not timedelta(seconds=1) <= interval <= longest:
        raise ValidationError(
            f"Slow mode is from a second to {errors.duration(int(longest.total_seconds()))}.",
            code="slow_mode",
        )
    with transaction.atomic():
        topic = _moderated_topic(topic, moderator)
        if topic.slow_mode == interval:
            return topic
        writes.topic_changed(topic, slow_mode=interval)
        moderation_log.action_logged(
            action=ModerationAction.Action.SLOW_MODE,
            moderator=moderator,
            topic=topic,
            details=f"Slow mode: {slow_mode_text(interval)}." if interval else "Slow mode off.",
        )
    return topic
