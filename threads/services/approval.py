"""The approval queue: a moderator publishes a held post (`pending_approve`) or rejects it.

A post held when it was sent (`publishing.held`) is a PendingPost until then.
Approving publishes it as posting would have at that moment
(`publishing.reply_published`, `publishing.topic_published`), with the time it
was sent: under its parent in the tree, in the counts and the search index,
notifying then. Category moderators decide only where they moderate: a
reply's place is its topic's category, a new topic's its category.

What approving does when the place changed meanwhile: a reply whose parent
moved goes with it into its new topic; one whose parent was removed, or whose
topic was locked or no longer takes members' replies, is refused (the
moderator rejects it, or restores or unlocks first), as posting it then would
have been; so is a post whose author may no longer post. A deleted topic or
category takes its pending posts with it.
"""

import copy

from django.db import transaction
from django.utils import timezone

from .. import permissions, selectors
from ..models import Category, ModerationAction, PendingPost, Post, Topic, User
from . import locks, moderation_log, publishing, writes
from .errors import NotFound, Refused

Action = ModerationAction.Action
GONE = "That post awaiting approval no longer exists."


def _as_author(place: Topic | Category) -> Topic | Category:
    """The place as its (held, so not moderating) author has it, for their refusals."""
    theirs = copy.copy(place)
    theirs.moderated = False
    return theirs


def _locked_pending(pending_id: int, moderator: User) -> tuple[PendingPost, Topic | Category]:
    """Lock what deciding on a pending post changes, in the locks' order, refusing non-moderators.

    A reply: its topic's row (the topic its parent is in now), then the pending
    row. A new topic: the pending row. Each read as it is now, still pending.
    """
    try:
        held = PendingPost.objects.values("topic_id", "parent__topic_id").get(pk=pending_id)
    except PendingPost.DoesNotExist:
        raise NotFound(GONE) from None
    topic_id = held["parent__topic_id"] or held["topic_id"]
    topic = locks.lock_topic(topic_id, viewer=moderator) if topic_id else None
    try:
        pending = (
            PendingPost.objects.select_for_update(of=("self",))
            .select_related("author")
            .get(pk=pending_id)
        )
    except PendingPost.DoesNotExist:
        raise NotFound(GONE) from None
    if pending.status != PendingPost.Status.PENDING:
        decided = pending.get_status_display()
        raise Refused(f"A moderator has decided on this post already: {decided}.")
    if topic is not None:
        place: Topic | Category = topic
    else:
        try:
            place = selectors.visible_categories(moderator).get(pk=pending.category_id)
        except Category.DoesNotExist:
            raise NotFound(GONE) from None
    writes.refuse_if(permissions.moderation_refusal(moderator, place))
    return pending, place


def _decided(pending: PendingPost, moderator: User, status: str, **fields) -> None:
    fields.update(status=status, decided=timezone.now(), decided_by=moderator)
    for name, value in fields.items():
        setattr(pending, name, value)
    PendingPost.objects.filter(pk=pending.pk).update(**fields)


def pending_approve(*, pending: PendingPost, moderator: User) -> PendingPost:
    """Publish a held post as posting it would have now, with the time it was sent.

    Returns the pending post, approved, with the Post it became (`post`).
    """
    with transaction.atomic():
        pending, place = _locked_pending(pending.pk, moderator)
        author = pending.author
        mentions = writes.mentions_in(pending.body)
        written = {
            "author": author,
            "body": pending.body,
            "body_html": pending.body_html,
            "created": pending.created,
            "mentioned": mentions.notified(pending.body_html),
        }
        if isinstance(place, Topic):
            parent = None
            if pending.parent_id is not None:
                parent = Post.objects.get(pk=pending.parent_id)
            refusal = permissions.reply_refusal(author, _as_author(place), parent)
            writes.refuse_if(refusal and f"It cannot be published: {refusal}")
            post = publishing.reply_published(topic=place, parent=parent, **written)
            moved = {"topic": place} if place.pk != pending.topic_id else {}
        else:
            refusal = permissions.start_refusal(author, _as_author(place))
            writes.refuse_if(refusal and f"It cannot be published: {refusal}")
            post = publishing.topic_published(category=place, title=pending.title, **written)
            moved = {}
        _decided(pending, moderator, PendingPost.Status.APPROVED, post=post, **moved)
        moderation_log.action_logged(
            action=Action.APPROVE,
            moderator=moderator,
            post=post,
            member=author,
            details="a new topic" if pending.category_id else "a reply",
        )
    return pending


def pending_reject(*, pending: PendingPost, moderator: User, reason: str) -> PendingPost:
    """Refuse a held post, saying why (its author sees the reason; the log shows it)."""
    reason = moderation_log.clean_reason(reason, action=Action.REJECT)
    with transaction.atomic():
        pending, place = _locked_pending(pending.pk, moderator)
        _decided(pending, moderator, PendingPost.Status.REJECTED, reason=reason)
        moderation_log.action_logged(
            action=Action.REJECT,
            moderator=moderator,
            reason=reason,
            topic=place if isinstance(place, Topic) else None,
            category=place if isinstance(place, Category) else None,
            member=pending.author,
            details="a new topic" if pending.category_id else "a reply",
        )
    return pending
