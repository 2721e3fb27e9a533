"""Suspensions: a member may not post until a date, for a reason they are shown.

A suspension ends by itself (`permissions.is_suspended` compares its end with
the time now): lifting one early is `member_unsuspend`. A permanent ban is
deactivation (`accounts.user_set_active`), as before.

Who may suspend (`permissions.suspension_refusal`): global moderators, anyone
but moderators, staff and themselves; category moderators only the author of a
reported post they moderate, from the report queue (`reports.reported_author_suspend`,
which calls `suspension_written` here). Lifting a suspension is for global moderators.
"""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import permissions
from ..models import ModerationAction, Post, Topic, User
from . import locks, moderation_log, writes

Action = ModerationAction.Action


def clean_until(until: datetime) -> datetime:
    """The end of a suspension: a moment (with its time zone) still to come."""
    if timezone.is_naive(until):
        raise ValidationError("Give the end of the suspension with its time zone.", code="naive")
    if until <= timezone.now():
        raise ValidationError("A suspension ends in the future.", code="past")
    return until


def _shown(until: datetime) -> str:
    return until.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def suspension_written(
    *,
    member_id: int,
    moderator: User,
    until: datetime,
    reason: str,
    place: Topic | None = None,
    post: Post | None = None,
) -> User:
    """Suspend a member, in the caller's transaction, logging it; refused as the rules say.

    Locks the member's row first: call it before locking any topic. `until` and
    `reason` are clean (`clean_until`, `moderation_log.clean_reason`); `place` is the
    reported post's topic read with the moderator's rights, when suspending from the queue.
    """
    member = locks.locked_member(member_id)
    writes.refuse_if(permissions.suspension_refusal(moderator, member, place))
    User.objects.filter(pk=member.pk).update(suspended_until=until, suspension_reason=reason)
    member.suspended_until, member.suspension_reason = until, reason
    moderation_log.action_logged(
        action=Action.SUSPEND,
        moderator=moderator,
        reason=reason,
        details=f"until {_shown(until)}",
        member=member,
        post=post,
    )
    return member


def member_suspend(*, member: User, moderator: User, until: datetime, reason: str) -> User:
    """Suspend a member until `until`, saying why (shown to them when they try to post)."""
    reason = moderation_log.clean_reason(reason, action=Action.SUSPEND)
    until = clean_until(until)
    writes.refuse_if(permissions.suspension_refusal(moderator, member))
    with transaction.atomic():
        return suspension_written(
            member_id=member.pk, moderator=moderator, until=until, reason=reason
        )


def member_unsuspend(*, member: User, moderator: User) -> User:
    """Lift a member's suspension before it ends by itself."""
    writes.refuse_if(permissions.suspension_refusal(moderator, member))
    with transaction.atomic():
        member = locks.locked_member(member.pk)
        writes.refuse_if(permissions.suspension_refusal(moderator, member))
        if not permissions.is_suspended(member):
            writes.refuse_if(f"{member.username} is not suspended.")
        until = member.suspended_until
        User.objects.filter(pk=member.pk).update(suspended_until=None, suspension_reason="")
        member.suspended_until, member.suspension_reason = None, ""
        moderation_log.action_logged(
            action=Action.UNSUSPEND,
            moderator=moderator,
            details=f"was suspended until {_shown(until)}",
            member=member,
        )
    return member
