"""The outbox (threads.services.mail) and confirmed addresses, end to end."""

import re
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from threads import services
from threads.models import Mail, User
from threads.services import MailKind
from threads.services.mail import mail_send_task

from .factories import PASSWORD, UserFactory
from .servers import free_port

FROM = "Forum <forum@forum.example>"


def _queue(to: str = "alice@example.org", **kwargs) -> Mail:
    fields = {"subject": "Hello", "body": "A body.", "kind": MailKind.CONFIRMATION} | kwargs
    return services.mail_queue(to=to, **fields)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Mail sent in this process goes to the test's SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_TIMEOUT = 5
    return settings


def _retries(mail: Mail) -> int:
    """How many tasks to send `mail` wait to run a little later (a task to run now has none)."""
    soon = (mail.created, mail.created + timedelta(hours=1))
    return DBTaskResult.objects.filter(run_after__range=soon).count()


def _assert_headers(message, mail: Mail, *, to: str, subject: str) -> None:
    assert message["From"] == FROM
    assert message["To"] == to
    assert message["Subject"] == subject
    assert message["Message-ID"] == services.message_id(mail)
    assert parsedate_to_datetime(message["Date"]) == mail.created.replace(microsecond=0)


# --- Queueing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_queued_mail_is_sent_by_the_worker_with_its_headers(settings, run_tasks):
    settings.DEFAULT_FROM_EMAIL = FROM
    queued = _queue(subject="Line one\nline two")

    assert django_mail.outbox == []
    assert DBTaskResult.objects.count() == 1
    assert run_tasks() == 1

    (message,) = django_mail.outbox
    sent = message.message()
    queued.refresh_from_db()
    assert queued.sent is not None
    assert queued.attempts == 1
    assert queued.failure == ""
    _assert_headers(sent, queued, to="alice@example.org", subject="Line one line two")
    assert sent["Message-ID"] == f"<mail-{queued.pk}.{queued.created:%Y%m%d%H%M%S}@forum.example>"


@pytest.mark.django_db
def test_a_mail_is_sent_once_however_often_its_task_runs(run_tasks):
    queued = _queue()
    mail_send_task.enqueue(mail_id=queued.pk)
    mail_send_task.enqueue(mail_id=queued.pk)

    assert run_tasks() == 3

    assert len(django_mail.outbox) == 1
    assert Mail.objects.get().attempts == 1


@pytest.mark.django_db
def test_a_mail_exists_only_if_its_cause_commits():
    def cause_that_fails() -> None:
        with transaction.atomic():
            _queue()
            raise RuntimeError("the write that caused it failed")

    with pytest.raises(RuntimeError):
        cause_that_fails()

    assert not Mail.objects.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("to", ["", "not an address", "a@b@example.org", "x@example.org\nBcc: y"])
def test_a_mail_to_something_that_is_no_address_is_refused(to):
    with pytest.raises(ValidationError):
        _queue(to=to)

    assert not Mail.objects.exists()


@pytest.mark.django_db
def test_a_mail_with_html_and_headers_is_sent_as_alternatives_with_them(
    settings, smtp_settings, smtp_server
):
    settings.DEFAULT_FROM_EMAIL = FROM
    UserFactory(username="alice", email="alice@example.org", email_confirmed=True)
    queued = _queue(
        kind=MailKind.NOTICE,
        body="Plain text.",
        html="<p>As <b>HTML</b>.</p>",
        headers={"In-Reply-To": "<topic-1@forum.example>", "List-Unsubscribe": "<https://x/>"},
    )

    services.mail_send(mail_id=queued.pk)

    ((_, _, message),) = smtp_server.messages
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Plain text."
    assert message.get_body(preferencelist=("html",)).get_content().strip() == (
        "<p>As <b>HTML</b>.</p>"
    )
    assert message["In-Reply-To"] == "<topic-1@forum.example>"
    assert message["List-Unsubscribe"] == "<https://x/>"
    _assert_headers(message, queued, to="alice@example.org", subject="Hello")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"References": "<a@b>\nBcc: someone@example.org"},
        {"X-Two\nLines": "x"},
        {"Bad Name": "x"},
        {"Message-ID": "<mine@example.org>"},
        {"to": "someone@example.org"},
    ],
)
def test_a_header_that_is_not_one_line_or_is_the_outboxs_own_is_refused(headers):
    with pytest.raises(ValidationError):
        _queue(headers=headers)

    assert not Mail.objects.exists()


# --- Nothing but confirmations and resets goes to an unconfirmed address -----------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "confirmed", "allowed"),
    [
        (MailKind.CONFIRMATION, False, True),
        (MailKind.PASSWORD_RESET, False, True),
        (MailKind.NOTICE, False, False),
        (MailKind.NOTICE, True, True),
    ],
)
def test_only_confirmations_and_resets_go_to_an_unconfirmed_address(kind, confirmed, allowed):
    UserFactory(username="alice", email="alice@example.org", email_confirmed=confirmed)
    UserFactory(username="other", email="other@example.org", email_confirmed=True)

    if allowed:
        _queue(to="ALICE@example.org", kind=kind)
    else:
        with pytest.raises(services.Refused, match="unconfirmed address"):
            _queue(to="alice@example.org", kind=kind)
        with pytest.raises(services.Refused):
            _queue(to="nobody@example.org", kind=kind)

    assert Mail.objects.count() == (1 if allowed else 0)


@pytest.mark.django_db
def test_a_pending_address_gets_nothing_but_its_confirmation(member):
    User.objects.filter(pk=member.pk).update(email_confirmed=True, pending_email="new@example.org")

    with pytest.raises(services.Refused):
        _queue(to="new@example.org", kind=MailKind.NOTICE)
    _queue(to="alice@example.org", kind=MailKind.NOTICE)


# --- Failures ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_temporary_refusal_is_tried_again_later_then_sent(smtp_settings, smtp_server):
    smtp_server.refusing = True
    queued = _queue()

    services.mail_send(mail_id=queued.pk)

    queued.refresh_from_db()
    assert (queued.sent, queued.claimed, queued.attempts, queued.failure) == (None, None, 1, "")
    assert _retries(queued) == 1
    assert smtp_server.messages == []

    smtp_server.refusing = False
    services.mail_send(mail_id=queued.pk)

    queued.refresh_from_db()
    assert queued.sent is not None
    assert queued.attempts == 2
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_an_unreachable_server_is_a_temporary_failure(smtp_settings):
    smtp_settings.EMAIL_PORT = free_port()  # nothing listens there
    queued = _queue()

    services.mail_send(mail_id=queued.pk)

    queued.refresh_from_db()
    assert (queued.sent, queued.claimed, queued.failure) == (None, None, "")
    assert _retries(queued) == 1


@pytest.mark.django_db
def test_a_mail_is_given_up_after_its_tries(smtp_settings, smtp_server):
    smtp_settings.FORUM_MAIL_RETRY_DELAYS = [timedelta(0)]
    smtp_server.refusing = True
    queued = _queue()

    services.mail_send(mail_id=queued.pk)
    services.mail_send(mail_id=queued.pk)
    services.mail_send(mail_id=queued.pk)

    queued.refresh_from_db()
    assert queued.attempts == 2
    assert queued.sent is None
    assert queued.failure.startswith("After 2 attempts, SMTPRecipientsRefused")
    assert "451" in queued.failure


@pytest.mark.django_db
def test_a_permanent_refusal_is_recorded_and_not_tried_again(smtp_settings, smtp_server):
    smtp_server.refusing, smtp_server.refusal = True, "550 5.1.1 No such mailbox"
    queued = _queue()
    tasks_before = DBTaskResult.objects.count()

    services.mail_send(mail_id=queued.pk)
    services.mail_send(mail_id=queued.pk)

    queued.refresh_from_db()
    assert queued.attempts == 1
    assert queued.sent is None
    assert "550" in queued.failure
    assert "No such mailbox" in queued.failure
    assert DBTaskResult.objects.count() == tasks_before


@pytest.mark.django_db
def test_a_mail_left_claimed_by_a_worker_that_died_is_not_sent_again(run_tasks):
    """Nobody knows whether the SMTP server took it before the worker died."""
    queued = _queue()
    Mail.objects.filter(pk=queued.pk).update(claimed=queued.created, attempts=1)

    run_tasks()
    services.mail_send(mail_id=queued.pk)

    assert django_mail.outbox == []
    assert Mail.objects.get().attempts == 1


# --- End to end: the real worker and a real SMTP server ----------------------------------------


def _wait(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _link(message) -> str:
    """The path of the confirmation link in a mail."""
    return re.search(r"https?://[^/\s]+(/settings/email/confirm/\S+/)", message.get_content())[1]


@pytest.fixture
def worker_env(settings, smtp_server) -> dict[str, str]:
    """What a worker needs to send to the test's SMTP server, from FROM (here too)."""
    settings.DEFAULT_FROM_EMAIL = FROM
    return {**smtp_server.environment, "DJANGO_DEFAULT_FROM_EMAIL": FROM}


@pytest.mark.django_db(transaction=True)
def test_sign_up_then_confirm_through_the_pages(start_worker, smtp_server, worker_env):
    start_worker(**worker_env)
    client = Client()
    client.post(
        "/accounts/signup/",
        {"username": "carol", "email": "carol@example.org", "password1": PASSWORD,
         "password2": PASSWORD},
    )  # fmt: skip

    ((mail_from, recipients, message),) = smtp_server.wait_for(1)
    queued = Mail.objects.get()
    assert mail_from == "forum@forum.example"
    assert recipients == ["carol@example.org"]
    _assert_headers(
        message, queued, to="carol@example.org", subject="Confirm your e-mail address for the forum"
    )
    link = _link(message)
    assert "3 days" in message.get_content()

    page = client.get(link)
    assert page.status_code == 200
    assert 'type="submit" class="button">Confirm</button>' in page.content.decode()
    assert not User.objects.get(username="carol").email_confirmed  # a GET confirms nothing

    done = client.post(link)

    carol = User.objects.get(username="carol")
    assert done["Location"] == reverse("threads:settings_email")
    assert carol.email_confirmed
    assert carol.email == "carol@example.org"
    _wait(lambda: Mail.objects.filter(sent__isnull=False).exists())


@pytest.mark.django_db(transaction=True)
def test_changing_the_address_through_the_pages(start_worker, smtp_server, worker_env):
    start_worker(**worker_env)
    alice = UserFactory(username="alice", email="alice@example.org", email_confirmed=True)
    old_link = reverse(
        "threads:email_confirm",
        args=[services.confirmation_token(user=alice, address="alice@example.org")],
    )
    client = Client()
    client.force_login(alice)

    asked = client.post(
        "/settings/email/", {"email": "alice@new.example", "password": PASSWORD}
    )  # fmt: skip

    assert asked["Location"] == "/settings/email/"
    alice.refresh_from_db()
    assert (alice.email, alice.pending_email) == ("alice@example.org", "alice@new.example")
    ((_, recipients, message),) = smtp_server.wait_for(1)
    assert recipients == ["alice@new.example"]
    assert "instead of alice@example.org" in message.get_content()
    assert client.post(_link(message))["Location"] == "/settings/email/"

    alice.refresh_from_db()
    assert (alice.email, alice.pending_email, alice.email_confirmed) == (
        "alice@new.example",
        "",
        True,
    )
    outdated = client.post(old_link)
    assert outdated.status_code == 400
    assert "no longer uses" in outdated.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@new.example"


@pytest.mark.django_db(transaction=True)
def test_a_temporary_refusal_is_retried_by_the_worker_then_delivered_once(
    start_worker, smtp_server, worker_env
):
    smtp_server.refusing = True
    queued = _queue()
    worker = start_worker(**worker_env)

    # Two attempts refused and over: a claimed mail may be being sent just now, and
    # would be taken if the server stopped refusing before its recipient was refused.
    _wait(lambda: Mail.objects.filter(attempts__gte=2, claimed__isnull=True).exists())
    smtp_server.refusing = False
    smtp_server.wait_for(1)
    _wait(lambda: Mail.objects.get().sent is not None)
    time.sleep(1)  # more than a retry delay: nothing else arrives

    assert len(smtp_server.messages) == 1
    queued.refresh_from_db()
    assert queued.failure == ""
    assert queued.attempts >= 3, worker.log_text()


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_mail_once(start_worker, smtp_server, worker_env):
    queued = [_queue(to=f"member{number}@example.org") for number in range(12)]
    for mail in queued:  # every mail's task twice over, so the workers race for the mails too
        mail_send_task.enqueue(mail_id=mail.pk)
    start_worker(**worker_env)
    start_worker(**worker_env)

    smtp_server.wait_for(12)
    _wait(lambda: not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists())

    assert len(smtp_server.messages) == 12
    recipients = sorted(to for _, (to,), _ in smtp_server.messages)
    assert recipients == sorted(mail.to for mail in queued)
    assert len({message["Message-ID"] for _, _, message in smtp_server.messages}) == 12
    assert set(Mail.objects.values_list("attempts", flat=True)) == {1}
