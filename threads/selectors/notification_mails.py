"""What waits to be mailed to members about their notifications, and what of it still should be.

An unread inbox entry (`Notification`) of a member who gets mail waits to be
mailed from `mail_since` (its first post not yet mailed) on; it tells of the
posts of its topic after `mailed_post_id` up to `last_post_id` that its
reason covers. `waiting` sums them up per member, in one query, for the
worker's sweep (threads.services.notification_mails) to decide whose are
due; `entries` reads one member's; `posts_to_mail` reads, in one query, the
posts those entries tell of that a mail may still tell them about: those they
may see (the access filter), not removed, not their own, not by a member they
ignore, and not read on the site since (their read marks, as `unread` reads
them).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.db.models import Exists, F, Min, OuterRef, Q, Subquery
from django.urls import reverse

from ..models import CategoryRead, Ignore, Notification, Post, Reason, TopicRead, User
from . import access, unread


class Waiting(NamedTuple):
    """A member's entries waiting to be mailed, summed up: who may be mailed, and since when."""

    member_id: int
    mailing: str
    # Active, with a confirmed address: a member who may be mailed at all.
    mailable: bool
    oldest: datetime


def waiting() -> list[Waiting]:
    """Every member with entries waiting to be mailed, in one query (grouped by member)."""
    rows = (
        Notification.objects.filter(mail_since__isnull=False, read__isnull=True)
        .values("member_id", "member__mailing", "member__is_active", "member__email_confirmed")
        .annotate(oldest=Min("mail_since"))
        .order_by("oldest", "member_id")
    )
    return [
        Waiting(
            member_id=row["member_id"],
            mailing=row["member__mailing"],
            mailable=row["member__is_active"] and row["member__email_confirmed"],
            oldest=row["oldest"],
        )
        for row in rows
    ]


class Entry(NamedTuple):
    """An entry waiting to be mailed: the posts of `topic_id` in (after, up_to] of `reason`."""

    id: int
    topic_id: int
    reason: str
    after: int
    up_to: int


def entries(member_id: int, *, lock: bool = False) -> list[Entry]:
    """The member's entries waiting to be mailed, in one query (locked, with `lock`, for the
    transaction that claims them, on PostgreSQL)."""
    latest = Post.objects.filter(topic_id=OuterRef("topic_id")).order_by("-pk").values("pk")
    rows = Notification.objects.filter(
        member_id=member_id, mail_since__isnull=False, read__isnull=True
    ).order_by("id")
    if lock:
        rows = rows.select_for_update(of=("self",))
    rows = rows.annotate(latest=Subquery(latest[:1]))
    fields = ("id", "topic_id", "reason", "first_post_id", "mailed_post_id", "last_post_id")
    return [
        # It tells of its first post on, and once mailed, of what came after: up to its
        # last post, or for a watcher's, the topic's latest (later ones are not written in).
        Entry(
            pk,
            topic_id,
            reason,
            max(first - 1, mailed),
            latest if reason == Reason.WATCHING else last,
        )
        for pk, topic_id, reason, first, mailed, last, latest in rows.values_list(*fields, "latest")
    ]


def _mention_link(member: User) -> str:
    """How a post's HTML links a mention of the member (threads.rendering's mentions)."""
    return f'<a class="mention" href="{reverse("threads:profile", args=[member.username])}">'


def _told(member: User, entry: Entry) -> Q:
    """The posts an entry tells of: of its topic and range, and of its reason."""
    told = Q(topic_id=entry.topic_id, pk__gt=entry.after, pk__lte=entry.up_to)
    if entry.reason == Reason.REPLY:
        return told & Q(parent__author_id=member.pk)
    if entry.reason == Reason.MENTION:
        return told & Q(body_html__contains=_mention_link(member))
    return told


# When one post is told of by entries of several reasons, the first of these is said.
_FIRST_REASON = [Reason.REPLY, Reason.MENTION, Reason.WATCHING]


def posts_to_mail(member: User, waiting: Sequence[Entry]) -> list[tuple[Post, str]]:
    """The posts the entries tell of that a mail may still tell `member` about, each with its
    reason, in one query.

    In topic order, then by id; each with its author and topic. A post the
    member may not see (a private category, a topic moved where they may
    not follow), a removed one, their own, one by a member they ignore, and
    one they have read on the site (shown to them, or before their read
    horizon or their mark of its category) is left out.
    """
    if not waiting:
        return []
    told = Q()
    for entry in waiting:
        told |= _told(member, entry)
    start = unread.horizon(member)
    marks = TopicRead.objects.filter(member_id=member.pk, topic_id=OuterRef("topic_id"))
    category_marks = CategoryRead.objects.filter(
        member_id=member.pk, category_id=OuterRef("topic__category_id")
    )
    ignores = Ignore.objects.filter(member_id=member.pk, ignored_id=OuterRef("author_id"))
    posts = (
        access.visible_posts(member)
        .filter(told, removal="", created__gt=start)
        .exclude(author_id=member.pk)
        .annotate(
            seen_post_id=Subquery(marks.values("seen_post_id")[:1]),
            category_read=Subquery(category_marks.values("before")[:1]),
            by_ignored=Exists(ignores),
            parent_author_id=F("parent__author_id"),
        )
        .filter(Q(seen_post_id__isnull=True) | Q(seen_post_id__lt=F("pk")))
        .filter(Q(category_read__isnull=True) | Q(category_read__lt=F("created")))
        .filter(by_ignored=False)
        .select_related("author", "topic")
        .order_by("topic_id", "pk")
    )
    reasons = {}
    for entry in waiting:
        reasons.setdefault(entry.topic_id, set()).add(entry.reason)
    mention = _mention_link(member)
    said = []
    for post in posts:
        covered = reasons[post.topic_id]
        replied = post.parent_author_id == member.pk
        for reason in _FIRST_REASON:
            if reason in covered and (
                reason == Reason.WATCHING
                or (reason == Reason.REPLY and replied)
                or (reason == Reason.MENTION and mention in post.body_html)
            ):
                said.append((post, reason))
                break
    return said
