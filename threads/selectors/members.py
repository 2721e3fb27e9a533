"""Members: one member as a reader sees them."""

from django.db.models import Exists, OuterRef, Value

from ..models import Ignore, User


def member(*, username: str, viewer=None) -> User:
    """The member of this handle (ignoring case), with `is_ignored`: whether `viewer` ignores
    them."""
    members = User.objects.named(username)
    if viewer is not None and viewer.is_authenticated:
        ignores = Ignore.objects.filter(member_id=viewer.pk, ignored=OuterRef("pk"))
        return members.annotate(is_ignored=Exists(ignores)).get()
    return members.annotate(is_ignored=Value(False)).get()
