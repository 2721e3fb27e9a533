"""Edit history: moderators hide an earlier version of a post (personal data posted by
mistake), or show it again. Versions are kept by `posts.post_edit`."""

from datetime import UTC

from django.db import transaction

from ..models import ModerationAction, PostRevision, User
from . import moderation_log, writes
from .errors import NotFound

Action = ModerationAction.Action


def revision_set_hidden(
    *, revision: PostRevision, moderator: User, hidden: bool, reason: str = ""
) -> PostRevision:
    """Hide an earlier version of a post from everyone but moderators, or show it again.

    Only where the moderator moderates; `revision.post_id`, when set, must be
    its post (a page's address names both). Logged, with the reason if given.
    Thread pages do not show versions, so the topic is not renewed.
    """
    action = Action.HIDE_REVISION if hidden else Action.SHOW_REVISION
    reason = moderation_log.clean_reason(reason, action=action)
    missing = NotFound("That version of the post no longer exists.")
    post_id = PostRevision.objects.filter(pk=revision.pk).values_list("post_id", flat=True).first()
    if post_id is None or revision.post_id not in (None, post_id):
        raise missing
    with transaction.atomic():
        post = writes.moderated_post(post_id, moderator)
        revision = PostRevision.objects.filter(pk=revision.pk).first()
        if revision is None:
            raise missing
        if revision.hidden == hidden:
            return revision
        revision.hidden = hidden
        revision.save(update_fields=["hidden"])
        moderation_log.action_logged(
            action=action,
            moderator=moderator,
            reason=reason,
            post=post,
            member=post.author,
            details=f"The version replaced {revision.created.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
        )
    return revision
