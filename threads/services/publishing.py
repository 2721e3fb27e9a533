"""What a new post's transaction writes once it is published, and whether it is held first.

Posting (`posts.post_reply`, `topics.topic_create`) and approval
(`approval.pending_approve`) publish the same way: a reply or a topic appears
in its tree, in the counts, the search index and the notifications exactly
as it would have when it was sent. The areas never import one another, so
what they share is here, between `notifications` and them.

A post is held for a moderator (a `PendingPost`, which nothing but its author
and the moderators of its place sees) when it is one of a new account's first
`FORUM_LIMITS["approval_posts"]` posts, or a new topic in a category that
requires approval; never a moderator's post where they moderate.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .. import permissions
from ..models import Category, PendingPost, Post, Topic, User
from . import notifications, writes
from .errors import RateLimited


def reply_published(
    *,
    topic: Topic,
    parent: Post | None,
    author: User,
    body: str,
    body_html: str,
    created: datetime,
    mentioned: list[int],
) -> Post:
    """Insert a reply into its locked topic, with everything a new reply changes.

    Under the locks of `post_reply` (the topic's row; `parent` read under it).
    """
    post = writes.insert_post(
        topic=topic, parent=parent, author=author, body=body, body_html=body_html, created=created
    )
    writes.topic_changed(
        topic, reply_count=topic.reply_count + 1, last_activity=max(topic.last_activity, created)
    )
    writes.category_counted(topic, posts=1)
    notifications.own_topic_watched(member=author, topic=topic)
    notifications.post_notified(post=post, topic=topic, parent=parent, mentioned=mentioned)
    return post


def topic_published(
    *,
    category: Category,
    author: User,
    title: str,
    body: str,
    body_html: str,
    created: datetime,
    mentioned: list[int],
) -> Post:
    """Create a topic with its opening post, with everything a new topic changes.

    Returns the opening post, its `topic` the new topic.
    """
    topic = Topic.objects.create(
        title=title,
        slug=writes.slug(title),
        category=category,
        author=author,
        created=created,
        last_activity=created,
    )
    post = writes.insert_post(
        topic=topic, parent=None, author=author, body=body, body_html=body_html, created=created
    )
    writes.topic_changed(topic, description=writes.description(body_html))
    writes.category_counted(topic, topics=1, posts=1)
    notifications.own_topic_watched(member=author, topic=topic)
    notifications.post_notified(post=post, topic=topic, parent=None, mentioned=mentioned)
    return post


_POSTS, _PENDING = Post._meta.db_table, PendingPost._meta.db_table
# Written in SQL once, as the posting limits are: how many posts the author has (up
# to the number that matters) and how many of theirs wait, in one query.
_HOLD_COUNTS = (
    f'SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM "{_POSTS}" WHERE author_id = %s'
    " AND removal = '' LIMIT %s) p),"
    f' (SELECT COUNT(*) FROM (SELECT 1 FROM "{_PENDING}" WHERE author_id = %s'
    " AND status = 'pending' LIMIT %s) w)"
)


def held(author: User, place: Topic | Category) -> str | None:
    """Why this post waits for a moderator (a `PendingPost.Held`), or None to publish it.

    `place` is the locked topic of a reply, or the category of a new topic,
    with the author's rights in it (threads.selectors.access). No query when
    `FORUM_LIMITS["approval_posts"]` is 0 and the place does not require
    approval; one otherwise. A member with `pending_posts_per_member` posts
    waiting already is refused another until a moderator has decided.
    """
    if permissions.moderates(author, place):
        return None
    needed = settings.FORUM_LIMITS["approval_posts"]
    by_category = isinstance(place, Category) and place.requires_approval
    if not needed and not by_category:
        return None
    waiting_limit = settings.FORUM_LIMITS["pending_posts_per_member"]
    with connection.cursor() as cursor:
        cursor.execute(_HOLD_COUNTS, [author.pk, needed, author.pk, waiting_limit])
        posts, waiting = cursor.fetchone()
    reason = (
        PendingPost.Held.CATEGORY
        if by_category
        else PendingPost.Held.NEW_ACCOUNT
        if posts < needed
        else None
    )
    if reason is not None and waiting >= waiting_limit:
        raise RateLimited(
            f"You have {waiting} posts awaiting approval: wait until a moderator has read them.",
            timedelta(minutes=10),
        )
    return reason


def held_post(
    *,
    author: User,
    why: str,
    body: str,
    body_html: str,
    created: datetime,
    topic: Topic | None = None,
    parent: Post | None = None,
    category: Category | None = None,
    title: str = "",
) -> PendingPost:
    """Keep a post for a moderator: a reply (`topic`, `parent`), or a topic (`category`, `title`).

    Nothing else is written: no count, no search entry, no notification. The
    same text sent again to the same place within the duplicate window (a
    second click) is the pending post sent first.
    """
    if window := settings.FORUM_LIMITS["duplicate_window"]:
        sent = PendingPost.objects.filter(
            author=author,
            status=PendingPost.Status.PENDING,
            body=body,
            topic=topic,
            parent=parent,
            category=category,
            title=title,
            created__gte=timezone.now() - window,
        )
        if (first := sent.order_by("pk").first()) is not None:
            return first
    return PendingPost.objects.create(
        author=author,
        topic=topic,
        parent=parent,
        category=category,
        title=title,
        body=body,
        body_html=body_html,
        created=created,
        held=why,
    )
