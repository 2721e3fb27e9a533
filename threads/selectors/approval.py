"""Posts awaiting approval, as their authors and the moderators of their place see them.

A pending post exists only for its author and for those who moderate its
place (a reply's topic's category, a new topic's category): for anyone else
its page is a 404, and no thread, list, count or search shows it.
"""

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from .. import permissions
from ..models import PendingPost, Topic
from . import access

# A member's pending posts listed on their page of them, newest first.
OWN_PENDING_LISTED = 50
# The ids a BigAutoField holds: no row has another (and SQLite cannot be asked for one).
_ID_RANGE = (-(2**63), 2**63 - 1)


def _moderated(viewer) -> Q:
    """The pending posts of places this member moderates (every one, for a global moderator)."""
    if permissions.is_moderator(viewer):
        return Q(pk__isnull=False)
    if not (viewer.is_authenticated and viewer.is_active and viewer.is_staff):
        return Q(pk__in=[])
    categories = access.moderated_categories(viewer).values("pk")
    return Q(topic__category_id__in=categories) | Q(category_id__in=categories)


def pending_queue(viewer) -> QuerySet[PendingPost]:
    """The posts awaiting a decision in the places this member moderates, oldest first."""
    return (
        PendingPost.objects.filter(_moderated(viewer), status=PendingPost.Status.PENDING)
        .select_related("author", "topic", "category", "topic__category")
        .order_by("created", "pk")
    )


def pending_post(*, pending_id: int, viewer) -> PendingPost:
    """One pending post, for its author or a moderator of its place (DoesNotExist for others).

    Annotated `moderated`: whether the reader moderates its place. One query.
    """
    if not viewer.is_authenticated or not _ID_RANGE[0] <= pending_id <= _ID_RANGE[1]:
        raise PendingPost.DoesNotExist
    mine = Q(author_id=viewer.pk)
    moderated = _moderated(viewer)
    return (
        PendingPost.objects.filter(mine | moderated)
        .annotate(moderated=_flag(moderated))
        .select_related("author", "topic", "category")
        .get(pk=pending_id)
    )


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def own_pending(*, viewer) -> list[PendingPost]:
    """The member's latest posts held for approval, whatever was decided, newest first."""
    return list(
        PendingPost.objects.filter(author_id=viewer.pk)
        .select_related("topic", "category")
        .order_by("-created", "-pk")[:OWN_PENDING_LISTED]
    )


_PENDING = PendingPost._meta.db_table
_TOPIC = f'"{Topic._meta.db_table}"'
# Written in SQL once, as the read marks are (selectors.unread): every member's
# topic page asks it.
_READER_PENDING = (
    f'EXISTS (SELECT 1 FROM "{_PENDING}" w WHERE w.topic_id = {_TOPIC}."id"'
    " AND w.author_id = %s AND w.status = 'pending')"
)


def reader_pending(viewer) -> RawSQL:
    """Whether the reader has replies awaiting approval in the topic of the outer query.

    A subquery of the topic page's query: no query more (mostly false).
    """
    return RawSQL(_READER_PENDING, [viewer.pk], output_field=BooleanField())


def pending_replies(*, topic_id: int, viewer) -> list[PendingPost]:
    """The reader's replies awaiting approval in this topic, oldest first: one query."""
    return list(
        PendingPost.objects.filter(
            topic_id=topic_id, author_id=viewer.pk, status=PendingPost.Status.PENDING
        )
        .only("pk", "parent_id", "body_html", "created")
        .order_by("created", "pk")
    )
