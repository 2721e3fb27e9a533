"""The public moderation log: what moderators did, newest first, as each reader may see it.

An entry about a place the reader may not see (a private category, or a
topic moved out of one they see) keeps only who did what and when: its
topic, post, reason and details are left out. A target is linked only when
it still exists for the reader. Two queries for a page (its entries and the
count), whatever the size of the log.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.urls import reverse

from ..models import ModerationAction
from . import access

ENTRIES_PER_PAGE = 50
FEED_ENTRIES = 30

Action = ModerationAction.Action
# Actions on one post: their entries name its author and its topic.
POST_ACTIONS = {
    Action.REMOVE,
    Action.RESTORE,
    Action.MOVE_POST,
    Action.EDIT,
    Action.HIDE_REVISION,
    Action.SHOW_REVISION,
    Action.APPROVE,
    Action.REJECT,
    Action.DISMISS,
}

_LOG = ModerationAction._meta.db_table


@dataclass(frozen=True)
class Entry:
    """One action, as this reader may see it."""

    pk: int
    created: datetime
    action: str
    says: str  # "removed a post"
    moderator: str  # the moderator's handle ("" when the account is gone)
    shown: bool  # whether the reader may see where it happened
    about_post: bool = False  # an action on a post (its author, in its topic)
    reason: str = ""
    details: str = ""
    title: str = ""  # the topic's title then
    topic_url: str = ""  # the topic now, when the reader may see it
    post_url: str = ""
    member: str = ""  # the member acted on (an author, a suspended member)
    category: str = ""
    previous_category: str = ""


def _entries():
    return ModerationAction.objects.select_related(
        "moderator", "member", "topic", "category", "previous_category"
    ).only(
        "action",
        "created",
        "reason",
        "details",
        "title",
        "post_id",
        "moderator__username",
        "member__username",
        "topic__slug",
        "category__name",
        "previous_category__name",
    )


def _with_sight(entries, viewer):
    return entries.annotate(
        seen_place=access.sees_category_in(f'"{_LOG}"."category_id"', viewer),
        seen_before=access.sees_category_in(f'"{_LOG}"."previous_category_id"', viewer),
        seen_topic=access.sees_topic_in(f'"{_LOG}"."topic_id"', viewer),
    )


def _entry(row: ModerationAction) -> Entry:
    moderator = row.moderator.username if row.moderator else ""
    common = {
        "pk": row.pk,
        "created": row.created,
        "action": row.action,
        "says": row.get_action_display(),
        "moderator": moderator,
        "member": row.member.username if row.member else "",
        "about_post": row.action in POST_ACTIONS,
    }
    if not (row.seen_place and row.seen_before):
        return Entry(shown=False, **common)
    topic_url = ""
    if row.topic is not None and row.seen_topic:
        topic_url = reverse("threads:topic_detail", args=[row.topic_id, row.topic.slug])
    post_url = ""
    if row.post_id is not None and row.seen_topic:
        post_url = reverse("threads:post_permalink", args=[row.post_id])
    return Entry(
        shown=True,
        reason=row.reason,
        details=row.details,
        title=row.title,
        topic_url=topic_url,
        post_url=post_url,
        category=row.category.name if row.category else "",
        # Where it came from, when it moved to another category.
        previous_category=(
            row.previous_category.name
            if row.previous_category and row.previous_category_id != row.category_id
            else ""
        ),
        **common,
    )


def moderation_log(*, viewer, page: int | str | None) -> Page:
    """A page of the log, newest first; its object_list holds `Entry`s."""
    entries = _with_sight(_entries(), viewer).order_by("-created", "-id")
    found = Paginator(entries, ENTRIES_PER_PAGE).get_page(page)
    found.object_list = [_entry(row) for row in found.object_list]
    return found


def moderation_feed() -> list[Entry]:
    """The newest entries an anonymous visitor sees in full, for the log's feed."""
    entries = _with_sight(_entries(), AnonymousUser()).filter(seen_place=True, seen_before=True)
    return [_entry(row) for row in entries.order_by("-created", "-id")[:FEED_ENTRIES]]
