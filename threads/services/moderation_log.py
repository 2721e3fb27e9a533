"""The public moderation log: every moderator action writes one entry, in its own transaction.

The services of each area call `action_logged` beside the change it records,
so that an action and its entry exist together or not at all; and
`reports_closed` when they decide about a reported post.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import Category, ModerationAction, Post, Report, Topic, User
from ..models.moderation import REASON_MAX_LENGTH

Action = ModerationAction.Action

# What may not be done without saying why (the reason is shown in the log).
REASON_REQUIRED = {Action.REMOVE, Action.REJECT, Action.SUSPEND}


def clean_reason(reason: str, *, action: str) -> str:
    """The reason as the log keeps it; an error when `action` needs one and it is blank."""
    reason = " ".join(reason.split())
    if not reason and action in REASON_REQUIRED:
        raise ValidationError("Say why: the reason is shown in the moderation log.", code="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            f"A reason can be at most {REASON_MAX_LENGTH} characters long; "
            f"this one has {len(reason)}.",
            code="too_long",
        )
    return reason


def action_logged(
    *,
    action: str,
    moderator: User,
    reason: str = "",
    details: str = "",
    topic: Topic | None = None,
    post: Post | None = None,
    member: User | None = None,
    category: Category | int | None = None,
    previous_category: Category | int | None = None,
) -> ModerationAction:
    """Write one entry of the log; call it inside the transaction of the action.

    `category` defaults to the topic's (for the access filter of the log's
    readers); pass the reason through `clean_reason` first when the action needs one.
    """
    if topic is None and post is not None:
        topic = post.topic
    if category is None and topic is not None:
        category = topic.category_id
    return ModerationAction.objects.create(
        action=action,
        moderator=moderator,
        created=timezone.now(),
        reason=reason,
        details=details[:300],
        topic=topic,
        post=post,
        member=member,
        category_id=category.pk if isinstance(category, Category) else category,
        previous_category_id=(
            previous_category.pk if isinstance(previous_category, Category) else previous_category
        ),
        title=topic.title if topic is not None else "",
    )


def reports_closed(*, post: Post, moderator: User, outcome: str) -> int:
    """Close the post's open reports with this outcome (the reporters see it); how many.

    Every decision about a post closes them, from the report queue or not: a
    removal, a dismissal, a suspension of its author, a restoration of a post
    hidden by reports.
    """
    return Report.objects.filter(post=post, outcome=Report.Outcome.OPEN).update(
        outcome=outcome, resolved=timezone.now(), resolved_by=moderator
    )
