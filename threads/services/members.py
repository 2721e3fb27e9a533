"""Members' own settings: their display name and bio, and the members they ignore."""

import unicodedata
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import permissions
from ..models import BIO_MAX_LENGTH, DISPLAY_NAME_MAX_LENGTH, Ignore, User
from . import bylines, limits, writes


def clean_display_name(text: str) -> str:
    """A display name as titles are cleaned, or "" for none; never one that looks like a handle."""
    name = writes.clean_line(
        text, what="A display name", max_length=DISPLAY_NAME_MAX_LENGTH, empty=None
    )
    if unicodedata.normalize("NFKC", name).startswith("@"):
        raise ValidationError(
            "A display name cannot start with @: your @handle is shown beside it.",
            code="looks_like_handle",
        )
    return name


def _refuse_others_handle(name: str, user: User) -> None:
    """A display name is never another member's handle, however it is written."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    if folded and User.objects.named(folded).exclude(pk=user.pk).exists():
        raise ValidationError(
            {"display_name": "That is another member's handle: choose another name."},
            code="another_members_handle",
        )


def clean_bio(text: str) -> str:
    return writes.clean_text(text, what="The text about you", max_length=BIO_MAX_LENGTH, empty=None)


def profile_update(*, user: User, display_name: str, bio: str) -> User:
    """Change the member's display name and bio.

    The bio is rendered as a post is (counted, bounded) before anything is
    written. A new display name is shown on every post of the member once the
    background rebuild has run (`bylines.bylines_changed`); changes of name
    are limited, as each rewrites all of the member's posts.
    """
    writes.refuse_if(permissions.posting_refusal(user))
    display_name = _for_field("display_name", clean_display_name, display_name)
    if display_name != user.display_name:
        _refuse_others_handle(display_name, user)
    bio = _for_field("bio", clean_bio, bio)
    changes = {}
    if bio != user.bio:
        bio_html = _for_field("bio", partial(writes.render, author=user), bio) if bio else ""
        changes |= {"bio": bio, "bio_html": bio_html}
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        if display_name != current.display_name:
            limits.count_event(
                "byline_change",
                str(user.pk),
                limit=settings.FORUM_LIMITS["byline_changes_per_window"],
                window=settings.FORUM_LIMITS["byline_change_window"],
                what="You have changed your display name many times today.",
            )
            changes["display_name"] = display_name
            bylines.bylines_changed(user=user)
        if changes:
            User.objects.filter(pk=user.pk).update(**changes)
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def profile_reset(*, user: User, moderator: User) -> User:
    """A moderator takes down what a member shows of themselves: display name and bio.

    (Their avatar: `avatar_remove` with the moderator.)
    """
    writes.refuse_if(permissions.moderation_refusal(moderator))
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        if current.display_name:
            bylines.bylines_changed(user=user)
        User.objects.filter(pk=user.pk).update(display_name="", bio="", bio_html="")
    user.display_name = user.bio = user.bio_html = ""
    return user


def _for_field(field: str, clean, value: str) -> str:
    """`clean(value)`, its ValidationError said of the form's `field`."""
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError({field: error.error_list}) from None


def member_ignore(*, member: User, ignored: User) -> None:
    """Fold the posts of `ignored` for `member`. Moderators cannot be ignored."""
    writes.refuse_if(permissions.ignore_refusal(member, ignored))
    try:
        with transaction.atomic():
            Ignore.objects.get_or_create(
                member=member, ignored=ignored, defaults={"created": timezone.now()}
            )
    except IntegrityError:  # ignored meanwhile, from another tab
        pass


def member_unignore(*, member: User, ignored: User) -> None:
    """Show the posts of `ignored` to `member` again."""
    Ignore.objects.filter(member_id=member.pk, ignored_id=ignored.pk).delete()
