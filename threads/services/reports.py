"""Reports of posts: a member flags a post once, with a reason; moderators decide.

A decision closes every open report of the post with its outcome (the reporters
see it on the post's report page): the post removed (`reported_post_remove`),
the reports dismissed (`reports_dismiss`), or its author suspended
(`reported_author_suspend`, through `suspensions`).

Auto-hide: with FORUM_LIMITS["reports_to_hide"] = N, a post reported by N
distinct members in good standing is hidden (`Post.Removal.REPORTED`) until a
moderator decides. A member in good standing is active, not suspended, and
older than FORUM_LIMITS["new_account_age"]; nobody may report their own post.
Reports of a post are written under its topic's lock, so two members reporting
at once are both counted and the post is hidden once.
"""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import permissions
from ..models import ModerationAction, Post, Report, User
from ..models.moderation import REASON_MAX_LENGTH
from . import limits, locks, moderation_log, notifications, suspensions, writes
from .errors import NotFound

Action = ModerationAction.Action


def clean_report(why: str, note: str) -> tuple[str, str]:
    """A report's reason (one of Report.Why) and its note, on one line; "other" needs a note."""
    if why not in Report.Why.values:
        raise ValidationError("Choose why you report this post.", code="why")
    note = " ".join(writes.visible(note).split())
    if len(note) > REASON_MAX_LENGTH:
        raise ValidationError(
            f"A note can be at most {REASON_MAX_LENGTH} characters long; this one has {len(note)}.",
            code="too_long",
        )
    if why == Report.Why.OTHER and not note:
        raise ValidationError("Say in a few words what is wrong with the post.", code="note")
    return why, note


def _in_good_standing(post: Post) -> Q:
    """Reporters whose reports count towards hiding the post (see the module's docstring)."""
    now = timezone.now()
    return (
        Q(reporter__is_active=True)
        & Q(reporter__date_joined__lte=now - settings.FORUM_LIMITS["new_account_age"])
        & (Q(reporter__suspended_until__isnull=True) | Q(reporter__suspended_until__lte=now))
        & ~Q(reporter_id=post.author_id)
    )


def post_report(*, post: Post, reporter: User, why: str, note: str = "") -> Report:
    """Report a post to the moderators, once; refused for one's own post or a removed one.

    Counted (FORUM_LIMITS "reports_per_window"); may hide the post (auto-hide, above).
    """
    why, note = clean_report(why, note)
    writes.refuse_if(permissions.posting_refusal(reporter))
    config = settings.FORUM_LIMITS
    with transaction.atomic():
        limits.count_event(
            "report",
            str(reporter.pk),
            limit=config["reports_per_window"],
            window=config["report_window"],
            what="You have reported many posts in a short while.",
        )
        post = locks.locked_post(post.pk, viewer=reporter)
        writes.refuse_if(permissions.report_refusal(reporter, post))
        if Report.objects.filter(post=post, reporter=reporter).exists():
            writes.refuse_if("You reported this post already: the moderators will look at it.")
        report = Report.objects.create(
            post=post, reporter=reporter, why=why, note=note, created=timezone.now()
        )
        hide_at = config["reports_to_hide"]
        if hide_at is not None:
            counted = Report.objects.filter(_in_good_standing(post), post=post, outcome="")
            if counted.count() >= hide_at:
                notifications.notifications_withdrawn(post=post)
                writes.rewrite(post, removal=Post.Removal.REPORTED)
    return report


def _count(reports: int) -> str:
    return f"{reports} report{'s' if reports != 1 else ''}"


def reports_dismiss(*, post: Post, moderator: User) -> int:
    """The post stays: its open reports are dismissed, and a post hidden by them shows again.

    Returns how many reports were dismissed.
    """
    with transaction.atomic():
        post = writes.moderated_post(post.pk, moderator)
        closed = moderation_log.reports_closed(
            post=post, moderator=moderator, outcome=Report.Outcome.DISMISSED
        )
        if not closed:
            writes.refuse_if("This post has no open reports.")
        if post.removal == Post.Removal.REPORTED:
            writes.rewrite(post, removal=Post.Removal.VISIBLE, removal_reason="")
        moderation_log.action_logged(
            action=Action.DISMISS, moderator=moderator, post=post, details=_count(closed)
        )
    return closed


def reported_post_remove(*, post: Post, moderator: User, reason: str) -> Post:
    """Remove a reported post (a moderator's removal, with the reason) and close its reports."""
    reason = moderation_log.clean_reason(reason, action=Action.REMOVE)
    with transaction.atomic():
        post = writes.moderated_post(post.pk, moderator)
        closed = moderation_log.reports_closed(
            post=post, moderator=moderator, outcome=Report.Outcome.REMOVED
        )
        if not closed:
            writes.refuse_if("This post has no open reports.")
        if post.removal in (Post.Removal.VISIBLE, Post.Removal.REPORTED):
            notifications.notifications_withdrawn(post=post)
            post = writes.rewrite(post, removal=Post.Removal.MODERATOR, removal_reason=reason)
        moderation_log.action_logged(
            action=Action.REMOVE,
            moderator=moderator,
            reason=reason,
            post=post,
            member=post.author,
            details=f"after {_count(closed)}",
        )
    return post


def reported_author_suspend(*, post: Post, moderator: User, until: datetime, reason: str) -> User:
    """Suspend the author of a reported post, from the queue, and close its reports.

    Category moderators may do this for posts they moderate. The post stays as
    it is, but one hidden by reports, which becomes a moderator's removal with
    the suspension's reason.
    """
    reason = moderation_log.clean_reason(reason, action=Action.SUSPEND)
    until = suspensions.clean_until(until)
    author_id = Post.objects.filter(pk=post.pk).values_list("author_id", flat=True).first()
    if author_id is None:
        raise NotFound("That post no longer exists.")
    with transaction.atomic():
        # The member's row before the topic's, as every writer locks them.
        locks.locked_member(author_id)
        post = writes.moderated_post(post.pk, moderator)
        author = suspensions.suspension_written(
            member_id=author_id,
            moderator=moderator,
            until=until,
            reason=reason,
            place=post.topic,
            post=post,
        )
        if not moderation_log.reports_closed(
            post=post, moderator=moderator, outcome=Report.Outcome.SUSPENDED
        ):
            writes.refuse_if("This post has no open reports.")
        if post.removal == Post.Removal.REPORTED:
            notifications.notifications_withdrawn(post=post)
            writes.rewrite(post, removal=Post.Removal.MODERATOR, removal_reason=reason)
    return author
