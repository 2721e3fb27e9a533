"""Accounts: signing up, password-reset mails within their limits, bans."""

import hashlib
import ipaddress
import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.utils import IntegrityError

from .. import permissions
from ..apps import MODERATORS_GROUP
from ..models import User, handle_validator
from . import limits, writes
from .errors import Refused


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    is_moderator: bool = False,
    address: str | None = None,
) -> User:
    """Sign a new member up; a moderator also gets the admin and the Moderators group.

    `address` is where the sign-up came from: sign-ups per network are limited
    (see `address_key`). A username taken meanwhile (ignoring case) is a
    ValidationError, as the sign-up form would have said.
    """
    handle_validator(username)
    with transaction.atomic():
        if address is not None:
            limits.count_event(
                "signup",
                address_key(address),
                limit=settings.FORUM_LIMITS["signups_per_address"],
                window=settings.FORUM_LIMITS["signup_window"],
                what="Too many accounts were created from your network.",
            )
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, email=email, password=password, is_staff=is_moderator
                )
        except IntegrityError:
            raise ValidationError({"username": "That username is taken."}) from None
        if is_moderator:
            user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


def address_key(address: str) -> str:
    """The network that limits per address count a client's address as.

    An IPv4 address stands for itself. An IPv6 address stands for its /64,
    written as the /64's first address: a subscriber is usually given a whole
    /64 and can take any address in it at will. An IPv4 address written as
    IPv6 (::ffff:203.0.113.7) is that IPv4 address. Anything else is kept.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.version == 6:
            ip = ipaddress.IPv6Network((int(ip), 64), strict=False).network_address
    except ValueError:
        return address[:100]
    return str(ip)


def _email_key(email: str) -> str:
    """An e-mail address as the reset limit counts it: as Django compares them, hashed."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


def password_change_count(*, user: User) -> None:
    """Count one try at changing the password, before its old password is checked.

    Checking a password is slow on purpose, and a session is not a login:
    without this, anyone holding a session could guess its password, and
    keep the server hashing, without end. Raises RateLimited past the limit.
    """
    forum_limits = settings.FORUM_LIMITS
    with transaction.atomic():
        limits.count_event(
            "password_change",
            str(user.pk),
            limit=forum_limits["password_changes_per_window"],
            window=forum_limits["password_change_window"],
            what="Too many tries at changing your password.",
        )


def password_reset_send(*, email: str, address: str | None, send: Callable[[], object]) -> None:
    """Send the password-reset mail for `email`, by calling `send`, within the limits.

    Counted per e-mail address (nobody can fill someone's inbox with links)
    and per network asking (one client cannot mail many addresses), whether
    or not an account uses the address: a refusal says nothing about which
    addresses have accounts. When a limit is reached, raises RateLimited and
    sends nothing. The mail goes out after the count, outside its transaction.
    """
    forum_limits = settings.FORUM_LIMITS
    with transaction.atomic():
        limits.count_event(
            "reset_email",
            _email_key(email),
            limit=forum_limits["reset_mails_per_email"],
            window=forum_limits["reset_window"],
            what="Too many password-reset links were asked for that e-mail address.",
        )
        if address is not None:
            limits.count_event(
                "reset_address",
                address_key(address),
                limit=forum_limits["reset_mails_per_address"],
                window=forum_limits["reset_window"],
                what="Too many password-reset links were asked for from your network.",
            )
    send()


def user_set_active(*, user: User, moderator: User, active: bool) -> User:
    """Ban a member from posting (deactivate) or let them back in."""
    writes.refuse_if(permissions.moderation_refusal(moderator))
    if user.pk == moderator.pk and not active:
        raise Refused("You cannot ban yourself.")
    if (user.is_staff or user.is_superuser) and not moderator.is_superuser:
        raise Refused("Only an administrator can ban or reinstate a staff account.")
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    return user
