"""What waits to be mailed to members about their notifications, and what of it still should be.

`waiting` sums up the `PendingMail` rows per member, in one query, for the
worker's sweep (threads.services.notification_mails) to decide whose are due.
`posts_to_mail` reads, in one query, which of a member's waiting posts a mail
may still tell them about: those they may see (the access filter), not
removed, not their own, not by a member they ignore, and not read on the
site since (their read marks, as `unread` reads them).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.db.models import Exists, F, Max, Min, OuterRef, Q, Subquery

from ..models import CategoryRead, Ignore, PendingMail, Post, TopicRead, User
from . import access, unread


class Waiting(NamedTuple):
    """A member's waiting posts, summed up: who may be mailed, since when, up to which row."""

    member_id: int
    mailing: str
    # Active, with a confirmed address: a member who may be mailed at all.
    mailable: bool
    oldest: datetime
    # The last of their rows (by id) seen: a sweep takes rows up to it and no more.
    last_id: int


def waiting() -> list[Waiting]:
    """Every member with posts waiting to be mailed, in one query (grouped by member)."""
    rows = (
        PendingMail.objects.values(
            "member_id", "member__mailing", "member__is_active", "member__email_confirmed"
        )
        .annotate(oldest=Min("created"), last_id=Max("id"))
        .order_by("oldest", "member_id")
    )
    return [
        Waiting(
            member_id=row["member_id"],
            mailing=row["member__mailing"],
            mailable=row["member__is_active"] and row["member__email_confirmed"],
            oldest=row["oldest"],
            last_id=row["last_id"],
        )
        for row in rows
    ]


def posts_to_mail(member: User, post_ids: Iterable[int]) -> list[Post]:
    """The posts of `post_ids` a mail may still tell `member` about, in one query.

    In topic order, then by id; each with its author and topic. A post the
    member may not see (a private category, a topic moved where they may
    not follow), a removed one, their own, one by a member they ignore, and
    one they have read on the site (shown to them, or before their read
    horizon or their mark of its category) is left out.
    """
    start = unread.horizon(member)
    marks = TopicRead.objects.filter(member_id=member.pk, topic_id=OuterRef("topic_id"))
    category_marks = CategoryRead.objects.filter(
        member_id=member.pk, category_id=OuterRef("topic__category_id")
    )
    ignores = Ignore.objects.filter(member_id=member.pk, ignored_id=OuterRef("author_id"))
    posts = (
        access.visible_posts(member)
        .filter(pk__in=list(post_ids), removal="", created__gt=start)
        .exclude(author_id=member.pk)
        .annotate(
            seen_post_id=Subquery(marks.values("seen_post_id")[:1]),
            category_read=Subquery(category_marks.values("before")[:1]),
            by_ignored=Exists(ignores),
        )
        .filter(Q(seen_post_id__isnull=True) | Q(seen_post_id__lt=F("pk")))
        .filter(Q(category_read__isnull=True) | Q(category_read__lt=F("created")))
        .filter(by_ignored=False)
        .select_related("author", "topic")
        .order_by("topic_id", "pk")
    )
    return list(posts)
