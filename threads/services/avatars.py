"""A member's uploaded avatar: setting it, going back to the generated one, and
deleting the files of one no longer shown.

The files are stored through Django's default storage (shared by every app
server) under a name made from their content, so a URL never shows two images
and may be cached forever. A replaced avatar's files are not deleted at once:
cached pages and fragments not yet rebuilt (`bylines`) still show them. A task
deletes them a day later, unless the member has chosen that image again.
"""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .. import avatars, permissions
from ..models import User
from . import bylines, limits, writes

# How long a replaced avatar's files stay: longer than any page or fragment showing them.
KEEP_REPLACED = timedelta(days=1)


def avatar_set(*, user: User, upload: UploadedFile) -> User:
    """Show this image as the member's avatar, from their next post on and, within
    a minute (the background rebuild), on every post they wrote.

    A suspended member cannot (their avatar shows on every post they wrote).
    Counted first (checking an image costs a worker), then checked and re-encoded
    (`avatars.process`, raising ValidationError), stored, and set in a transaction.
    """
    writes.refuse_if(permissions.posting_refusal(user))
    config = settings.FORUM_LIMITS
    with transaction.atomic():
        limits.count_event(
            "avatar_upload",
            str(user.pk),
            limit=config["avatar_uploads_per_window"],
            window=config["avatar_upload_window"],
            what="You have changed your avatar many times in a short while.",
        )
    images = avatars.process(upload)
    stem = avatars.stem_for(user.pk, images)
    _store(stem, images)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        # Under the lock that the deleting task takes too: an image chosen again
        # whose files it deleted a moment ago is stored again.
        _store(stem, images)
        _replace(locked, stem)
    user.avatar = locked.avatar
    return user


def avatar_remove(*, user: User, moderator: User | None = None) -> User:
    """Go back to the generated avatar (initials on a colour of the handle).

    The member themselves, or a `moderator` taking down an avatar they should not show.
    """
    if moderator is not None:
        writes.refuse_if(permissions.moderation_refusal(moderator))
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        _replace(locked, "")
    user.avatar = locked.avatar
    return user


def _replace(user: User, stem: str) -> None:
    """Set the locked member's avatar, rebuild their bylines, and delete the old files later."""
    old = user.avatar
    if old == stem:
        return
    user.avatar = stem
    user.save(update_fields=["avatar"])
    bylines.bylines_changed(user=user)
    if old:
        avatar_files_delete_task.using(run_after=timezone.now() + KEEP_REPLACED).enqueue(
            user_id=user.pk, stem=old
        )


def _store(stem: str, images: dict[str, bytes]) -> None:
    """Save the avatar's files that are not stored yet (the same name is the same content)."""
    for size, data in images.items():
        name = avatars.file_name(stem, size)
        if default_storage.exists(name):
            continue
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # another request stored the same image meanwhile
            default_storage.delete(saved)


@task()
def avatar_files_delete_task(user_id: int, stem: str) -> bool:
    """Delete a replaced avatar's files, unless the member shows that image again.

    Returns whether it deleted them. Under the lock on the member's row that
    `avatar_set` takes, so it never deletes an image being chosen again.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is not None and user.avatar == stem:
            return False
        for size in avatars.SIZES:
            default_storage.delete(avatars.file_name(stem, size))
    return True
