"""What is new to a member: read marks, one row per member and topic (TopicRead).

A post is new to a member when it is above the highest post id they were shown
in its topic and was written after their read horizon: the later of
READ_MARKS_KEPT ago, when they joined, when they marked everything as read,
and when they marked its category as read. So marks older than the horizon
need not be kept, and a newcomer does not find the whole forum new.
"""

from datetime import datetime
from typing import NamedTuple

from django.db.models import (
    BigIntegerField,
    DateTimeField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ..models import READ_MARKS_KEPT, CategoryRead, Topic, TopicRead


def horizon(viewer) -> datetime:
    """Before this, nothing is new to the member (whatever their marks say)."""
    moments = [timezone.now() - READ_MARKS_KEPT, viewer.date_joined]
    if viewer.read_before is not None:
        moments.append(viewer.read_before)
    return max(moments)


# The marks' subqueries are written in SQL once, as the access filter is
# (selectors.access): the ORM took about a millisecond to build them, per page.
_TOPIC = f'"{Topic._meta.db_table}"'
_MARK = (
    f'SELECT r."{{}}" FROM "{TopicRead._meta.db_table}" r'
    f' WHERE r.member_id = %s AND r.topic_id = {_TOPIC}."id"'
)
_CATEGORY_MARK = (
    f'SELECT c."before" FROM "{CategoryRead._meta.db_table}" c'
    f' WHERE c.member_id = %s AND c.category_id = {_TOPIC}."category_id"'
)


def with_seen(topics: QuerySet, viewer) -> QuerySet:
    """Topics annotated with the member's marks: `seen_post_id`, `seen_posts`, `category_read`.

    Subqueries of the topics' own query: no query more.
    """
    return topics.annotate(**seen_marks(viewer))


def seen_marks(viewer) -> dict[str, RawSQL]:
    """What `with_seen` annotates topics with, for one `annotate` with others."""
    member = [viewer.pk]
    return {
        "seen_post_id": RawSQL(
            _MARK.format("seen_post_id"), member, output_field=BigIntegerField()
        ),
        "seen_posts": RawSQL(_MARK.format("seen_posts"), member, output_field=IntegerField()),
        "category_read": RawSQL(_CATEGORY_MARK, member, output_field=DateTimeField()),
    }


# The marks `with_seen` annotates.
MARKS = ("seen_post_id", "seen_posts", "category_read")


def with_seen_of_topic(posts: QuerySet, viewer) -> QuerySet:
    """Posts annotated with the member's marks of their topic: `topic_seen_post_id`,
    `topic_seen_posts`, `topic_category_read` (subqueries, no query more)."""
    marks = TopicRead.objects.filter(member_id=viewer.pk, topic=OuterRef("topic_id"))
    category = CategoryRead.objects.filter(
        member_id=viewer.pk, category=OuterRef("topic__category_id")
    )
    return posts.annotate(
        topic_seen_post_id=Subquery(marks.values("seen_post_id")[:1]),
        topic_seen_posts=Subquery(marks.values("seen_posts")[:1]),
        topic_category_read=Subquery(category.values("before")[:1]),
    )


class Marks(NamedTuple):
    """What decides how many of a topic's posts are new to a member (`with_seen`)."""

    reply_count: int
    created: datetime
    last_activity: datetime
    seen_post_id: int | None
    seen_posts: int | None
    category_read: datetime | None


def since(marks: Marks, start: datetime) -> datetime:
    """Posts of the topic written before this are not new to the member (`start`: `horizon`)."""
    return max(start, marks.category_read) if marks.category_read else start


def new_count(marks: Marks, start: datetime) -> int | None:
    """How many of the topic's posts are new to the member: 0, a number, or None for
    "new, but how many is not known" (an old topic they never opened, active since).
    """
    start = since(marks, start)
    if marks.last_activity <= start:
        return 0
    if marks.seen_post_id is None:
        return marks.reply_count + 1 if marks.created > start else None
    return max(0, marks.reply_count + 1 - marks.seen_posts)


def marked_row(row_html: str, marks: Marks, start: datetime) -> str:
    """A topic's shared list row with what is new to this member, beside its title."""
    count = new_count(marks, start)
    if count == 0:
        return row_html
    label = "new" if count is None else f"{count} new"
    return row_html.replace("</a>", f'</a> <span class="badge new-count">{label}</span>', 1)


def marks_of(topic) -> Marks:
    """The marks of a topic read `with_seen`."""
    return Marks(*(getattr(topic, field) for field in Marks._fields))
