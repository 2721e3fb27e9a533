"""Mail about notifications: the worker's sweep of what waits to be mailed, and unsubscribing.

A reply (threads.services.notifications) marks the inbox entry of each member
to be mailed about it as waiting (`Notification.mail_since`: from the first
post not yet mailed), in its own transaction, and calls `mails_scheduled`,
which makes sure a sweep task will run when those entries are due. No mail
is written then: a sweep runs in the worker.

**Scheduling without a task per reply.** A sweep is a task of its own
(`immediate_mails_task`, `digest_mails_task`) queued in the database. Before
queueing one, `mails_scheduled` looks (one query, on the tasks' index) for a
sweep already waiting to run within `_tolerance` of when this reply's rows
are due: settings.FORUM_NOTIFICATION_MAIL_DELAY from now (immediately), or
the next FORUM_NOTIFICATION_DIGEST_HOUR (the digest). Under load, the replies
of a minute share one immediate sweep, and every digest of a day one task.
A sweep is queued in the transaction of the reply that asks for it, so it
exists exactly when that reply does; one whose reply rolled back is gone with
it, and the next reply queues its own.

**The sweep** reads, per member, since when their oldest entry waits
(`selectors.notification_mails.waiting`). A member who chose "immediately"
is due once it is the delay old (less the tolerance), and then every waiting
entry of theirs is one batch; a member who chose the digest is due at the
digest's sweep. For each member due, it reads the posts their entries tell
of, leaving out what they may no longer see, what was removed and what they
read on the site meanwhile (`selectors.notification_mails.posts_to_mail`),
and writes their mails; then, in a transaction of its own, it claims their
entries (locked on PostgreSQL; SQLite's transactions take turns): each is
marked as mailed up to its last post and waits no more, so of two workers
sweeping at once, one mails it. The mails are queued through the outbox
(`mail_queue`) in the same transaction: entries stop waiting exactly when
their mails are queued. (The mails are written before the transaction, which
on SQLite holds every other writer back, and again in it only when the
entries claimed are not the ones read.) A post added to an entry after its
claim makes it wait again. Immediately: one mail per topic, threaded per
topic (In-Reply-To and References name `mail.topic_thread_id`). The digest:
one mail, a section per topic. Entries of members who may get no mail
(inactive, an unconfirmed address, no e-mail chosen) stop waiting. When
entries that are not due yet remain, the sweep makes sure a sweep runs when
they are (the same look-up as `mails_scheduled`), so none waits for ever.

**Unsubscribing.** Every mail carries `List-Unsubscribe` and
`List-Unsubscribe-Post` (RFC 8058): a signed link naming the member, whose
POST (`mailing_unsubscribe`) sets their mailing to none.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from .. import mail_texts
from ..models import Notification, Topic, User
from ..selectors import notification_mails as waiting_mail
from .errors import BadLink, Refused
from .mail import TOPICS_HEADER, MailKind, mail_queue, topic_thread_id

logger = logging.getLogger(__name__)

# How far from the time a sweep is wanted one already queued may be, and so how
# early (or late) a member may be mailed: a tenth of the delay, at most a minute.
TOLERANCE = timedelta(minutes=1)
# A sweep the database interrupted (a lock timeout, a restart) is tried again.
ATTEMPTS, RETRY_AFTER = 5, timedelta(seconds=30)

Mailing = User.Mailing


def _tolerance() -> timedelta:
    return min(TOLERANCE, settings.FORUM_NOTIFICATION_MAIL_DELAY / 10)


def digest_time(now: datetime) -> datetime:
    """When the next digest goes out: the next settings.FORUM_NOTIFICATION_DIGEST_HOUR."""
    local = timezone.localtime(now)
    at = local.replace(
        hour=settings.FORUM_NOTIFICATION_DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    return at if at > local else at + timedelta(days=1)


# --- Scheduling ---------------------------------------------------------------------------


def mails_scheduled(*, immediate: bool, digest: bool) -> None:
    """Make sure the sweeps run that will mail the rows just written (see the module).

    Called inside the transaction that marked entries as waiting: `immediate`
    when some were of members who chose "immediately", `digest` when some
    were of members who chose the digest. One query, and one more per sweep
    it queues (a reply finds one queued already, but for the first in a minute).
    """
    now = timezone.now()
    wanted = {}
    if immediate:
        wanted[immediate_mails_task] = now + settings.FORUM_NOTIFICATION_MAIL_DELAY
    if digest:
        wanted[digest_mails_task] = digest_time(now)
    _sweeps_ensure(wanted)


_TASKS = DBTaskResult._meta.db_table


def _sweeps_ensure(wanted: dict) -> None:
    """Queue each sweep task of `wanted` for its time, unless one waits to run about then.

    One query for all of them (the tasks waiting to run are few: the queue; written
    in SQL, as it runs in every reply, and the ORM would take longer to build it
    than the database to answer), and an insert for each sweep queued.
    """
    if not wanted:
        return
    tolerance, adapt = _tolerance(), connection.ops.adapt_datetimefield_value
    near, params = [], [TaskResultStatus.READY]
    for sweep, when in wanted.items():
        near.append("(task_path = %s AND run_after BETWEEN %s AND %s)")
        params += [sweep.module_path, adapt(when - tolerance), adapt(when + tolerance)]
    sql = f'SELECT DISTINCT task_path FROM "{_TASKS}" WHERE status = %s AND ({" OR ".join(near)})'
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {path for (path,) in cursor.fetchall()}
    for sweep, when in wanted.items():
        if sweep.module_path not in found:
            sweep.using(run_after=when).enqueue()


# --- The sweep ----------------------------------------------------------------------------


@dataclass
class Swept:
    """What a sweep did: members mailed, mails queued, rows taken and dropped, members left."""

    members: int = 0
    mails: int = 0
    rows: int = 0
    dropped: int = 0
    waiting: int = 0


@task()
def immediate_mails_task(attempt: int = 1) -> dict:
    """The sweep of members who chose mail soon after (and of anything overdue)."""
    return _sweep_task(immediate_mails_task, digest=False, attempt=attempt)


@task()
def digest_mails_task(attempt: int = 1) -> dict:
    """The daily sweep: the digests, and whatever else is due."""
    return _sweep_task(digest_mails_task, digest=True, attempt=attempt)


def _sweep_task(sweep, *, digest: bool, attempt: int) -> dict:
    try:
        swept = notification_mails_sweep(digest=digest)
    except DatabaseError:
        if attempt >= ATTEMPTS:
            raise
        retry = timezone.now() + RETRY_AFTER * attempt
        sweep.using(run_after=retry).enqueue(attempt=attempt + 1)
        return {"retried": True}
    if swept.mails or swept.dropped:
        logger.info(
            "Notification mails%s: %s mails to %s members from %s posts, %s dropped, %s waiting",
            " (digest)" if digest else "", swept.mails, swept.members, swept.rows,
            swept.dropped, swept.waiting,
        )  # fmt: skip
    return asdict(swept)


def notification_mails_sweep(*, digest: bool) -> Swept:
    """Mail every member whose waiting posts are due (see the module); safe to run at once in
    any number of workers, and again.

    `digest`: this is the daily sweep, which mails the digests too.
    """
    now = timezone.now()
    delay = settings.FORUM_NOTIFICATION_MAIL_DELAY
    due_before = now - delay + _tolerance()
    swept = Swept()
    next_immediate, digests_left = None, False
    for member in waiting_mail.waiting():
        if member.mailable and member.mailing == Mailing.IMMEDIATE and member.oldest > due_before:
            when = member.oldest + delay
            next_immediate = min(next_immediate or when, when)
            swept.waiting += 1
        elif member.mailable and member.mailing == Mailing.DIGEST and not digest:
            digests_left = True
            swept.waiting += 1
        elif not _member_mailed(member.member_id, digest=digest, swept=swept):
            digests_left = True  # chose the digest meanwhile
            swept.waiting += 1
    wanted = {}
    if next_immediate is not None:
        wanted[immediate_mails_task] = next_immediate
    if digests_left:
        wanted[digest_mails_task] = digest_time(now)
    with transaction.atomic():
        _sweeps_ensure(wanted)
    return swept


def _claim(member_id: int, entries: list[waiting_mail.Entry]) -> None:
    """Mark the entries as mailed up to the last post they told of: they wait no more.

    In the transaction that read them locked (`waiting_mail.entries(lock=True)`).
    """
    for entry in entries:  # (a member's waiting entries are few)
        Notification.objects.filter(pk=entry.id).update(
            mail_since=None, mailed_post_id=entry.up_to or 0
        )


def _member_mailed(member_id: int, *, digest: bool, swept: Swept) -> bool:
    """Claim one member's waiting entries and queue their mails, in one transaction; add it
    to `swept`.

    What to mail is read and written before, outside the transaction (on
    SQLite a transaction holds every other writer back), and again in it
    only when the entries claimed are not the ones read (another sweep took
    some, or a reply added to them, meanwhile). False, with nothing done,
    when the member chose the digest since and this is not the digest's sweep.
    """
    member = User.objects.filter(pk=member_id).first()
    mailable = member is not None and _mailable(member)
    if mailable and member.mailing == Mailing.DIGEST and not digest:
        return False
    read = waiting_mail.entries(member_id) if mailable else []
    mails, told = _mails(member, read) if mailable else ([], 0)
    with transaction.atomic():
        claimed = waiting_mail.entries(member_id, lock=True)
        if mailable and claimed != read:
            mails, told = _mails(member, claimed)
        _claim(member_id, claimed)
        swept.rows += len(claimed)
        try:
            with transaction.atomic():
                for mail in mails:
                    mail_queue(kind=MailKind.NOTICE, **mail)
        except (ValidationError, Refused) as refused:
            # An address the outbox will not take: the entries wait no more, nothing is mailed.
            logger.warning("No notification mail for member %s: %s", member_id, refused)
            mails, told = [], 0
    swept.dropped += len(claimed) - told
    swept.mails += len(mails)
    swept.members += 1 if mails else 0
    return True


def _mails(member: User, entries: list[waiting_mail.Entry]) -> tuple[list[dict], int]:
    """The mails (`mail_queue`'s arguments) that tell the member of the posts of `entries`,
    and how many of the entries they tell of."""
    posts = waiting_mail.posts_to_mail(member, entries)
    by_topic: dict[int, tuple[Topic, list]] = {}
    for post, reason in posts:
        by_topic.setdefault(post.topic_id, (post.topic, []))[1].append((post, reason))
    topics = [
        (topic, mail_texts.mailed_topic(topic, listed)) for topic, listed in by_topic.values()
    ]
    told = sum(1 for entry in entries if entry.topic_id in by_topic)
    if not topics:
        return [], told
    if member.mailing == Mailing.DIGEST:
        return [_digest_mail(member, topics)], told
    return [_topic_mail(member, topic, mailed) for topic, mailed in topics], told


def _mailable(member: User) -> bool:
    return bool(
        member.is_active
        and member.email_confirmed
        and member.email
        and member.mailing in (Mailing.IMMEDIATE, Mailing.DIGEST)
    )


def _unsubscribe_headers(link: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _topic_mail(member: User, topic: Topic, mailed: mail_texts.MailedTopic) -> dict:
    """One topic's new posts: threaded with the topic's other mails."""
    link = unsubscribe_link(member)
    subject, body, html = mail_texts.topic_mail(member=member, topic=mailed, unsubscribe=link)
    thread = topic_thread_id(topic)
    headers = {**_unsubscribe_headers(link), "In-Reply-To": thread, "References": thread}
    return {
        "to": member.email,
        "subject": subject,
        "body": body,
        "html": html,
        "headers": headers,
        "member": member,
        "topic": topic,
    }


def _digest_mail(member: User, topics: list[tuple[Topic, mail_texts.MailedTopic]]) -> dict:
    """A digest of several topics: their ids in TOPICS_HEADER, for the check when it is sent."""
    link = unsubscribe_link(member)
    subject, body, html = mail_texts.digest_mail(
        member=member, topics=[mailed for _, mailed in topics], unsubscribe=link
    )
    headers = {
        **_unsubscribe_headers(link),
        TOPICS_HEADER: ",".join(str(topic.pk) for topic, _ in topics),
    }
    return {
        "to": member.email,
        "subject": subject,
        "body": body,
        "html": html,
        "headers": headers,
        "member": member,
    }


# --- Unsubscribing --------------------------------------------------------------------------

_UNSUBSCRIBE_SALT = "threads.services.notification_mails.unsubscribe"


def _unsubscribe_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(*, user: User) -> str:
    """The signed token of a member's unsubscribe link: it names the member, and expires
    after settings.FORUM_UNSUBSCRIBE_LINK_AGE. Short, so that the header stays short."""
    return _unsubscribe_signer().sign(str(user.pk))


def unsubscribe_link(user: User) -> str:
    """The absolute link of the member's unsubscribe page (settings.FORUM_SITE_URL)."""
    return mail_texts.site_url(reverse("threads:unsubscribe", args=[unsubscribe_token(user=user)]))


def unsubscribe_read(*, token: str) -> User:
    """The member an unsubscribe link names. Raises BadLink for a token the forum did not
    sign (or one tampered with), an expired one, and one whose member is gone."""
    try:
        signed = _unsubscribe_signer().unsign(token, max_age=settings.FORUM_UNSUBSCRIBE_LINK_AGE)
    except signing.SignatureExpired:
        raise BadLink(
            "This unsubscribe link has expired. Choose your e-mail in your settings."
        ) from None
    except signing.BadSignature:
        raise BadLink(
            "This is not an unsubscribe link the forum sent: check that it was copied whole."
        ) from None
    user = (
        User.objects.filter(pk=int(signed)).first()
        if signed.isascii() and signed.isdigit()
        else None
    )
    if user is None:
        raise BadLink("This unsubscribe link is for an account that no longer exists.")
    return user


def mailing_unsubscribe(*, token: str) -> User:
    """Follow an unsubscribe link (its POST): the member gets no more mail about notifications.

    Their waiting entries are not mailed either. Doing it again changes nothing.
    Raises BadLink as `unsubscribe_read` does.
    """
    with transaction.atomic():
        user = unsubscribe_read(token=token)
        User.objects.filter(pk=user.pk).update(mailing=Mailing.NONE)
        Notification.objects.filter(member_id=user.pk, mail_since__isnull=False).update(
            mail_since=None
        )
        user.mailing = Mailing.NONE
    return user
