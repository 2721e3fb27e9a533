"""Moderators' private notes on members (shown only to moderators, in the admin)."""

from django.db import transaction
from django.utils import timezone

from .. import permissions
from ..models import ModeratorNote, User
from ..models.moderation import NOTE_MAX_LENGTH
from . import writes


def moderator_note_add(*, member: User, moderator: User, body: str) -> ModeratorNote:
    """Keep a note about a member for the other moderators (never shown to the member)."""
    writes.refuse_if(permissions.moderation_refusal(moderator))
    body = writes.clean_text(
        body, what="A note", max_length=NOTE_MAX_LENGTH, empty="The note is empty."
    )
    with transaction.atomic():
        return ModeratorNote.objects.create(
            member=member, author=moderator, body=body, created=timezone.now()
        )
