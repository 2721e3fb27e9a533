"""Accounts: signing up, confirming and changing e-mail addresses, password-reset
mails within their limits, bans."""

import hashlib
import ipaddress
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.utils import IntegrityError

from .. import mail_texts, permissions
from ..apps import MODERATORS_GROUP
from ..models import Mail, User, handle_validator
from . import limits, locks, writes
from .errors import BadLink, Refused
from .mail import MailKind, mail_queue

# Makes a link to confirm an address from its token (the view knows the site's address).
ConfirmationLink = Callable[[str], str]


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    is_moderator: bool = False,
    address: str | None = None,
    confirmation_link: ConfirmationLink | None = None,
) -> User:
    """Sign a new member up; a moderator also gets the admin and the Moderators group.

    `address` is where the sign-up came from: sign-ups per network are limited
    (see `address_key`). A username taken meanwhile (ignoring case) is a
    ValidationError, as the sign-up form would have said. With a
    `confirmation_link`, the mail that confirms the member's address is
    queued with the account.
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
        if confirmation_link is not None:
            _confirmation_queue(user, user.email, confirmation_link)
    return user


# --- Confirming an e-mail address -----------------------------------------------------

_CONFIRMATION_SALT = "threads.services.accounts.email-confirmation"


def confirmation_token(*, user: User, address: str) -> str:
    """The signed token of a link that confirms `address` for `user`, for a while.

    It names the member and the exact address, so a link mailed to an address
    the member has since replaced confirms nothing. It expires after
    settings.FORUM_EMAIL_CONFIRMATION_AGE.
    """
    return signing.dumps({"user": user.pk, "email": address}, salt=_CONFIRMATION_SALT)


@dataclass(frozen=True)
class Confirmation:
    """What a good confirmation link confirms: `address`, for `user`."""

    user: User
    address: str

    @property
    def done(self) -> bool:
        """Whether the address is confirmed already (the link was followed before)."""
        return self.address == self.user.email and self.user.email_confirmed


def confirmation_read(*, token: str) -> Confirmation:
    """The member and address a confirmation link's token names, if the link is still good.

    Raises BadLink for a token the forum did not sign (or one tampered
    with), an expired one, and one for an address that is neither the
    member's address nor the one waiting to replace it.
    """
    try:
        signed = signing.loads(
            token, salt=_CONFIRMATION_SALT, max_age=settings.FORUM_EMAIL_CONFIRMATION_AGE
        )
    except signing.SignatureExpired:
        raise BadLink(
            "This confirmation link has expired. Ask for a new one in your e-mail settings."
        ) from None
    except signing.BadSignature:
        raise BadLink(
            "This is not a confirmation link the forum sent: check that it was copied whole."
        ) from None
    user = User.objects.filter(pk=signed["user"]).first()
    address = signed["email"]
    if user is None or address not in (user.email, user.pending_email):
        raise BadLink(
            "This confirmation link is for an address your account no longer uses: "
            "follow the newest link you were sent."
        )
    return Confirmation(user, address)


def email_confirm(*, token: str) -> Confirmation:
    """Follow a confirmation link: its address becomes the member's, confirmed.

    The address waiting in `pending_email` replaces the old one only now.
    Following a link again changes nothing. Raises BadLink as
    `confirmation_read` does, checked again under the lock on the member's row.
    """
    with transaction.atomic():
        user_id = confirmation_read(token=token).user.pk
        locks.locked_member(user_id)
        confirmation = confirmation_read(token=token)
        user, address = confirmation.user, confirmation.address
        if address == user.pending_email:
            user.email, user.pending_email = address, ""
        user.email_confirmed = True
        user.save(update_fields=["email", "pending_email", "email_confirmed"])
    return confirmation


def _confirmation_queue(user: User, address: str, link: ConfirmationLink) -> Mail:
    """Count one confirmation mail for the member and queue it, to `address`."""
    forum_limits = settings.FORUM_LIMITS
    limits.count_event(
        "confirmation",
        str(user.pk),
        limit=forum_limits["confirmation_mails_per_member"],
        window=forum_limits["confirmation_window"],
        what="Too many confirmation mails were asked for.",
    )
    token = confirmation_token(user=user, address=address)
    subject, body = mail_texts.confirmation(user=user, address=address, link=link(token))
    return mail_queue(to=address, subject=subject, body=body, kind=MailKind.CONFIRMATION)


def email_confirmation_send(*, user: User, link: ConfirmationLink) -> Mail:
    """Mail the confirmation link again: to the address waiting to be confirmed, if
    the member is changing theirs, or else to their unconfirmed address.

    Limited per member (RateLimited); Refused when there is nothing to confirm.
    """
    with transaction.atomic():
        user = locks.locked_member(user.pk)
        if user.pending_email:
            address = user.pending_email
        elif user.email and not user.email_confirmed:
            address = user.email
        else:
            raise Refused("Your e-mail address is confirmed already.")
        return _confirmation_queue(user, address, link)


def email_change(*, user: User, email: str, link: ConfirmationLink) -> Mail:
    """Ask to use `email` instead of the member's address, and mail it the link.

    The new address waits in `pending_email` (replacing any other waiting
    there) until its link is followed; until then the old address stays the
    member's, and the only mail the new one gets is its confirmation. The
    caller has checked the member's password. Limited per member as resent
    confirmations are. Raises ValidationError for the address already in use.
    """
    with transaction.atomic():
        user = locks.locked_member(user.pk)
        if email.casefold() == user.email.casefold():
            raise ValidationError({"email": "That is your address already."})
        user.pending_email = email
        user.save(update_fields=["pending_email"])
        return _confirmation_queue(user, email, link)


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
    """Count one try at changing the password (or the e-mail address, which asks for
    the password too), before the password is checked.

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
            what="Too many tries with your password (to change it, or your e-mail address).",
        )


def password_reset_send(*, email: str, address: str | None, send: Callable[[], object]) -> None:
    """Send the password-reset mail for `email`, by calling `send`, within the limits.

    Counted per e-mail address (nobody can fill someone's inbox with links)
    and per network asking (one client cannot mail many addresses), whether
    or not an account uses the address: a refusal says nothing about which
    addresses have accounts. When a limit is reached, raises RateLimited and
    sends nothing. `send` queues the mail (services.mail_queue), in the
    transaction of the count.
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
