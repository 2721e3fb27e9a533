"""The outbox: mail is queued with what it tells about, and sent once by a worker.

`mail_queue` writes a `Mail` row and enqueues its send task in the caller's
transaction, so a mail exists exactly when its cause commits, and no request
ever talks to an SMTP server. `mail_send` (run by its task, `mail_send_task`) sends
it at most once:

1. It claims the row with one conditional UPDATE (unclaimed, unsent, not given
   up), in autocommit: of two workers racing for a mail, one claims it and the
   other finds nothing to do. No transaction stays open while the SMTP server
   is talked to (on SQLite that would hold every writer back).
2. It sends, then marks the row `sent`.
3. A temporary failure (connection refused or lost, a timeout, a 4xx answer)
   releases the claim and enqueues the task again, after the next of
   `settings.FORUM_MAIL_RETRY_DELAYS`, in one transaction; once they are used
   up, the mail is given up and why is kept in `failure`. A permanent one (a
   5xx answer, such as a recipient refused) is kept in `failure` at once.

A worker that died while sending (killed, or its machine lost) leaves the row
claimed and unsent. Nobody can know whether the SMTP server had taken the
mail by then, so it is not sent again: a mail sent twice cannot be taken
back, and a lost one can be asked for again (every mail the forum sends is
one its recipient can ask for again: a confirmation, a reset link). Such
rows are the ones `claimed` long ago and neither `sent` nor `failure`d.

Until an address is confirmed, nothing but confirmations and password
resets is sent to it: `mail_queue` refuses other kinds of mail to it.

A mail about topics (notifications: it names its `member`, and its `topic`
or, for a digest, its topics in `TOPICS_HEADER`) is checked again when it is
sent: it is not sent, and why is kept in `failure`, when its member is no
longer active, chose no mail since, no longer has that confirmed address,
or may no longer see one of its topics (`notice_refusal`).
"""

import enum
import smtplib
from datetime import datetime
from email.utils import format_datetime, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from .. import selectors
from ..models import Mail, Topic, User
from .errors import Refused

# The longest failure kept (the field's length).
_FAILURE_LENGTH = Mail._meta.get_field("failure").max_length
# The topics of a digest (ids, comma-separated), for the check when it is sent.
TOPICS_HEADER = "X-Forum-Topics"
# Headers a mail may not set: the outbox writes them itself.
_OWN_HEADERS = {
    *("from", "to", "cc", "bcc", "subject", "message-id", "date"),
    *("mime-version", "content-type", "content-transfer-encoding"),
}


class MailKind(enum.Enum):
    """What a mail is, which says whether an unconfirmed address may get it."""

    # The link that confirms the address it is sent to.
    CONFIRMATION = "confirmation"
    # A password-reset link, to the address of an account, confirmed or not.
    PASSWORD_RESET = "password_reset"
    # Anything else the forum tells a member: only to a confirmed address.
    NOTICE = "notice"


def mail_refusal(*, kind: MailKind, to: str) -> str | None:
    """Why `to` may not be sent a mail of this kind, or None.

    Confirmations and password resets may go to any address (that is how an
    address gets confirmed, and how a member who forgot their password gets
    back in); anything else only to an address an account has confirmed.
    """
    if kind in (MailKind.CONFIRMATION, MailKind.PASSWORD_RESET):
        return None
    if User.objects.filter(email__iexact=to, email_confirmed=True).exists():
        return None
    return "Nothing but confirmations and password resets goes to an unconfirmed address."


def mail_queue(
    *,
    to: str,
    subject: str,
    body: str,
    kind: MailKind,
    html: str = "",
    headers: dict[str, str] | None = None,
    member: User | None = None,
    topic: Topic | None = None,
) -> Mail:
    """Queue a mail to `to`, sent by a worker once the caller's transaction commits.

    `body` is its plain text; `html`, when given, the same as HTML (sent as
    the alternative of a multipart/alternative message). `headers` are more
    headers (threading, List-Unsubscribe), one line each. A mail about a
    topic names its `member` and `topic`, and is checked again when it is
    sent (`notice_refusal`).

    Raises ValidationError for an address that is not one or a header that
    is not one line, and Refused for an unconfirmed address and a kind of
    mail it may not get (`mail_refusal`). A subject is one line: line breaks
    in it become spaces.
    """
    validate_email(to)
    headers = dict(headers or {})
    for name, value in headers.items():
        if not name.isascii() or not name.replace("-", "").isalnum():
            raise ValidationError(f"{name!r} is not a header name.")
        if name.lower() in _OWN_HEADERS:
            raise ValidationError(f"The outbox writes the header {name} itself.")
        if {"\r", "\n"} & set(value):
            raise ValidationError(f"The header {name} must be one line.")
    if reason := mail_refusal(kind=kind, to=to):
        raise Refused(reason)
    subject = " ".join(subject.split())
    if len(subject) > Mail._meta.get_field("subject").max_length:
        raise ValidationError("The subject of a mail is too long.")
    with transaction.atomic():
        mail = Mail.objects.create(
            to=to,
            subject=subject,
            body=body,
            html=html,
            headers=headers,
            member=member,
            topic=topic,
            created=timezone.now(),
        )
        mail_send_task.enqueue(mail_id=mail.pk)
    return mail


def message_id(mail: Mail) -> str:
    """The mail's Message-ID: the same on every attempt, unique to the row.

    Its creation time is in it too, so that a database started again from
    scratch, whose ids begin at 1 again, never repeats an earlier one.
    """
    return f"<mail-{mail.pk}.{mail.created:%Y%m%d%H%M%S}@{mail_domain()}>"


def mail_domain() -> str:
    """The domain of the forum's mail (DEFAULT_FROM_EMAIL's), which names its message ids."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"


def topic_thread_id(topic: Topic) -> str:
    """The message id every mail about `topic` names as its parent (In-Reply-To, References),
    so that a mail client shows them as one thread.

    No mail has it as its own Message-ID. Its creation time is in it, as in
    `message_id`, so that a topic that reuses a deleted one's id starts a
    thread of its own.
    """
    return f"<topic-{topic.pk}.{topic.created:%Y%m%d%H%M%S}@{mail_domain()}>"


def _message(mail: Mail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
        headers={
            **mail.headers,
            "Message-ID": message_id(mail),
            "Date": format_datetime(mail.created),
        },
        connection=get_connection(fail_silently=False),
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    return message


def notice_refusal(mail: Mail) -> str | None:
    """Why a mail about topics may no longer be sent to its member, or None.

    Its member must still be active, want mail about notifications, have the
    address it goes to as their confirmed one, and see each of its topics
    (the access filter: a topic moved to a private category, or a member
    who left its group, leaves it out). A mail that names no member is not
    one of these: None.
    """
    if mail.member_id is None:
        return None
    member = User.objects.filter(pk=mail.member_id).first()
    if member is None or not member.is_active:
        return "Not sent: no longer allowed, as the member is not active."
    if member.mailing == User.Mailing.NONE:
        return "Not sent: no longer allowed, as the member chose no e-mail since."
    if not member.email_confirmed or member.email.casefold() != mail.to.casefold():
        return "Not sent: no longer allowed, as the address is not the member's confirmed one."
    topic_ids = {mail.topic_id} if mail.topic_id else set()
    listed = mail.headers.get(TOPICS_HEADER, "")
    topic_ids |= {int(each) for each in listed.split(",") if each.strip().isdigit()}
    if topic_ids:
        seen = selectors.visible_topics(member).filter(pk__in=topic_ids).count()
        if seen < len(topic_ids):
            return "Not sent: no longer allowed, as the member may no longer see its topic."
    return None


def _temporary(error: Exception) -> bool:
    """Whether sending again later may succeed: no answer, or an SMTP 4xx."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return True  # refused or lost connections, timeouts: the server was not reached


def _failure(error: Exception, attempts: int) -> str:
    text = f"{type(error).__name__}: {error}"
    return f"After {attempts} attempt{'s' if attempts > 1 else ''}, {text}"[:_FAILURE_LENGTH]


def _next_attempt(attempts: int) -> datetime | None:
    """When to try again after `attempts` temporary failures, or None to give up."""
    delays = settings.FORUM_MAIL_RETRY_DELAYS
    if attempts > len(delays):
        return None
    return timezone.now() + delays[attempts - 1]


@task()
def mail_send_task(mail_id: int) -> None:
    """The background job of `mail_send`."""
    mail_send(mail_id=mail_id)


def mail_send(*, mail_id: int) -> None:
    """Send one queued mail, unless it is sent, given up, or being sent (see the module).

    Safe to run any number of times, in any number of workers at once.
    """
    claimed = Mail.objects.filter(
        pk=mail_id, claimed__isnull=True, sent__isnull=True, failure=""
    ).update(claimed=timezone.now(), attempts=F("attempts") + 1)
    if not claimed:
        return
    mail = Mail.objects.get(pk=mail_id)
    if reason := notice_refusal(mail):
        Mail.objects.filter(pk=mail_id).update(failure=reason[:_FAILURE_LENGTH])
        return
    try:
        _message(mail).send()
    except OSError as error:  # smtplib's errors are OSErrors too
        retry = _next_attempt(mail.attempts) if _temporary(error) else None
        with transaction.atomic():
            if retry is None:
                Mail.objects.filter(pk=mail_id).update(failure=_failure(error, mail.attempts))
            else:
                Mail.objects.filter(pk=mail_id).update(claimed=None)
                mail_send_task.using(run_after=retry).enqueue(mail_id=mail_id)
        return
    Mail.objects.filter(pk=mail_id).update(sent=timezone.now())
