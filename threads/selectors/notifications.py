"""A member's notifications, and their watch levels as the pages show them.

The inbox pages by keyset (the entries before one entry), newest first,
two queries whatever its length; entries about topics the member may no
longer see are left out by the access filter.
"""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet, Value
from django.db.models.expressions import RawSQL

from ..models import Category, CategoryWatch, Level, Notification, Topic, TopicWatch
from . import access
from .threads import id_url

NOTIFICATIONS_PER_PAGE = 30

_CATEGORY = Category._meta.db_table
_TOPIC_WATCH = TopicWatch._meta.db_table
_CATEGORY_WATCH = CategoryWatch._meta.db_table


def category_level_sql(member: str, category: str) -> str:
    """SQL: the level of the nearest watch of `member` on category `category` or an ancestor.

    Both are SQL (a column, or %s for a parameter); NULL without any.
    """
    return (
        f'(SELECT w.level FROM "{_CATEGORY_WATCH}" w JOIN "{_CATEGORY}" a ON a.id = w.category_id'
        f' JOIN "{_CATEGORY}" c ON c.id = {category} WHERE w.member_id = {member}'
        f" AND {access.LINEAGE} ORDER BY a.level DESC LIMIT 1)"
    )


def topic_level_sql(member: str, topic: str, category: str) -> str:
    """SQL: a member's level for a topic: theirs for it, else its category's, else normal."""
    own = (
        f'(SELECT w.level FROM "{_TOPIC_WATCH}" w'
        f" WHERE w.member_id = {member} AND w.topic_id = {topic})"
    )
    return f"COALESCE({own}, {category_level_sql(member, category)}, '{Level.NORMAL}')"


def _unread_of(viewer, topic_id: OuterRef):
    """Whether the member has unread notifications of the topic in `topic_id`: a subquery,
    only for a member with unread notifications at all (their count comes with them)."""
    if not viewer.unread_notifications:
        return Value(False)
    return Exists(Notification.objects.filter(member=viewer, topic=topic_id, read__isnull=True))


def topic_marks(viewer) -> dict:
    """A topic query's annotations for the member (one `annotate`): their `watch_level`,
    and `unread_notified`, whether they have unread notifications of it."""
    table = Topic._meta.db_table
    sql = topic_level_sql("%s", f'"{table}"."id"', f'"{table}"."category_id"')
    return {
        "watch_level": RawSQL(sql, [viewer.pk, viewer.pk]),
        "unread_notified": _unread_of(viewer, OuterRef("pk")),
    }


def notified_of_topic(posts: QuerySet, viewer) -> QuerySet:
    """Posts annotated with `topic_unread_notified`, as `topic_marks` annotates topics."""
    return posts.annotate(topic_unread_notified=_unread_of(viewer, OuterRef("topic_id")))


def category_levels(categories: QuerySet[Category], viewer) -> QuerySet[Category]:
    """Categories annotated with the member's `watch_level` for each (normal without a watch)."""
    sql = category_level_sql("%s", f'"{_CATEGORY}"."id"')
    return categories.annotate(
        watch_level=RawSQL(f"COALESCE({sql}, '{Level.NORMAL}')", [viewer.pk])
    )


@dataclass(frozen=True)
class Inbox:
    """A page of a member's notifications; `older` is the entry to page on from, or None.

    Each entry comes with its `link` (its first post) and the time of its last post
    as `since` (ISO 8601).
    """

    entries: list[Notification]
    older: int | None
    first: bool


def inbox(*, member, before: str | None = None) -> Inbox:
    """The member's notifications, newest first (as they began), a page before the entry
    `before` (the first page for none, or for what names none): one query."""
    entries = access.about_visible_topics(Notification.objects.filter(member=member), member)
    start = (
        int(before)
        if before and before.isascii() and before.isdigit() and len(before) <= 18
        else None
    )
    if start is not None:
        entries = entries.filter(pk__lt=start)
    rows = list(
        entries.select_related("topic", "last_post__author")
        .only(
            "reason", "count", "updated", "read", "first_post_id", "topic__title",
            "topic__slug", "last_post__author__username", "last_post__author__display_name",
        )
        .order_by("-id")[: NOTIFICATIONS_PER_PAGE + 1]
    )  # fmt: skip
    more = len(rows) > NOTIFICATIONS_PER_PAGE
    rows = rows[:NOTIFICATIONS_PER_PAGE]
    permalink = id_url("threads:post_permalink")
    for row in rows:
        row.link, row.since = permalink.format(row.first_post_id), row.updated.isoformat()
    return Inbox(entries=rows, older=rows[-1].pk if more else None, first=start is None)
