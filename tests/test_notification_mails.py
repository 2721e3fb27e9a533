"""Mail about notifications (threads.services.notification_mails): scheduling the sweeps, the
sweep itself, the mails through a real SMTP server, and one-click unsubscribing."""

import itertools
import re
import time
from datetime import timedelta
from email.utils import parseaddr
from unittest import mock

import pytest
from django.core import signing
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from threads import services
from threads.models import Mail, Notification, Post, Reason, TopicRead, User
from threads.services import notification_mails
from threads.services.mail import TOPICS_HEADER
from threads.services.notification_mails import (
    digest_mails_task,
    immediate_mails_task,
    mails_scheduled,
)

from .factories import (
    CategoryFactory,
    GroupFactory,
    ModeratorFactory,
    ReplyFactory,
    TopicFactory,
    UserFactory,
    in_groups,
)
from .helpers import opening_post

FROM = "Forum <forum@forum.example>"
SITE = "https://forum.example"
DELAY = timedelta(minutes=10)
Mailing = User.Mailing


@pytest.fixture
def mail_settings(settings, smtp_server):
    """Mail sent in this process goes to the test's SMTP server; links name SITE."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = FROM
    settings.FORUM_SITE_URL = SITE
    settings.FORUM_NOTIFICATION_MAIL_DELAY = DELAY
    return settings


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.org", email_confirmed=True)


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", display_name="Bob B.", email_confirmed=True)


@pytest.fixture
def alices_topic(alice):
    return TopicFactory(author=alice, title="Growing tomatoes", body="How do you grow them?")


def _pending(member: User, post: Post, *, ago=DELAY, reason=Reason.REPLY) -> Notification:
    """The entry telling `member` of `post` waits to be mailed since `ago` (time moved on):
    the entry threads.services.notifications wrote, or one the test adds for a member the
    post did not notify (it tells of the post if its reason covers it)."""
    since = timezone.now() - ago
    entry = Notification.objects.filter(
        member=member, topic_id=post.topic_id, reason=reason, read__isnull=True
    ).first()
    if entry is None:
        return Notification.objects.create(
            member=member,
            topic_id=post.topic_id,
            reason=reason,
            first_post_id=post.pk,
            last_post=post,
            created=since,
            updated=since,
            mail_since=since,
        )
    entry.mail_since = min(entry.mail_since or since, since)
    if post.pk > entry.last_post_id:  # as a reply adds itself to the entry
        entry.last_post, entry.count = post, entry.count + 1
    entry.save(update_fields=["mail_since", "last_post", "count"])
    return entry


def _waiting():
    """The entries waiting to be mailed."""
    return Notification.objects.filter(mail_since__isnull=False)


def _reply(author: User, topic, body: str, *, to=None, ago=DELAY, reason=Reason.REPLY) -> Post:
    """A reply to the opening post, whose entry for `to` (by default the topic's author)
    waits to be mailed since `ago` (so moving time on)."""
    post = ReplyFactory(author=author, topic=topic, parent=opening_post(topic), body=body)
    _pending(to or topic.author, post, ago=ago, reason=reason)
    return post


def _sweep(run_tasks, task=immediate_mails_task) -> int:
    """Run a sweep now, and every task it queues (the mails' sends), as a worker would."""
    task.enqueue()
    return run_tasks()


def _received(smtp_server) -> list:
    return [message for _, _, message in smtp_server.messages]


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def _unsubscribe_path(message) -> str:
    # Folded (it is long): the parser keeps the space where the line was broken.
    link = re.fullmatch(r"<(\S+)>", message["List-Unsubscribe"].strip())[1]
    assert link.startswith(f"{SITE}/unsubscribe/")
    return link.removeprefix(SITE)


def _queued_sweeps(task=immediate_mails_task) -> list:
    ready = DBTaskResult.objects.filter(task_path=task.module_path, status="READY")
    return sorted(ready.values_list("run_after", flat=True))


# --- Immediately: one mail per topic -------------------------------------------------------


@pytest.mark.django_db
def test_two_replies_in_a_topic_are_one_mail_with_text_and_html(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    first = _reply(bob, alices_topic, "Plenty of **sun**.\n\nAnd water.")
    second = _reply(bob, alices_topic, "Not <b>too</b> much: `<script>` & co.", ago=DELAY / 2)

    _sweep(run_tasks)

    (message,) = _received(smtp_server)
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "New replies in Growing tomatoes"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _text(message), _html(message)
    assert "Bob B. (@bob) replied to you" in text
    assert "Plenty of sun. And water." in text
    assert "Not too much: <script> & co." in text
    assert f"{SITE}/p/{first.pk}/" in text
    assert f"{SITE}/p/{second.pk}/" in text
    assert f"{SITE}{alices_topic.get_absolute_url()}" in text
    assert "Not too much: &lt;script&gt; &amp; co." in html
    assert f'href="{SITE}/p/{second.pk}/"' in html
    assert f'href="{SITE}/settings/notifications/"' in html
    assert not _waiting().exists()
    mail = Mail.objects.get()
    assert (mail.member, mail.topic, mail.sent is not None) == (alice, alices_topic, True)


@pytest.mark.django_db
def test_each_topic_has_its_own_mails_threaded_together(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    other = TopicFactory(author=bob, title="Growing beans")
    _reply(bob, alices_topic, "Sun.")
    _reply(bob, other, "Poles, @alice.", to=alice, reason=Reason.MENTION)
    _sweep(run_tasks)
    _reply(bob, alices_topic, "Water, later.")
    _sweep(run_tasks)

    tomatoes, beans, tomatoes_again = sorted(_received(smtp_server), key=_mail_pk)
    assert tomatoes["Subject"] == tomatoes_again["Subject"] == "New replies in Growing tomatoes"
    assert beans["Subject"] == "New replies in Growing beans"
    assert "Bob B. (@bob) mentioned you" in _text(beans)
    assert len({m["Message-ID"] for m in (tomatoes, beans, tomatoes_again)}) == 3
    thread = tomatoes["In-Reply-To"]
    assert re.fullmatch(rf"<topic-{alices_topic.pk}\.\d{{14}}@forum\.example>", thread)
    assert tomatoes["References"] == tomatoes_again["References"] == thread
    assert tomatoes_again["In-Reply-To"] == thread
    assert beans["In-Reply-To"] == beans["References"] != thread
    for message in (tomatoes, beans, tomatoes_again):
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        _unsubscribe_path(message)


def _mail_pk(message) -> int:
    return int(re.match(r"<mail-(\d+)\.", message["Message-ID"])[1])


@pytest.mark.django_db
def test_a_member_is_mailed_once_their_oldest_post_is_due_and_not_before(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    fresh = _reply(bob, alices_topic, "Just now.", ago=timedelta(minutes=2))
    DBTaskResult.objects.all().delete()  # the sweep the reply queued, as if it were lost

    _sweep(run_tasks)

    assert smtp_server.messages == []
    assert _waiting().filter(last_post=fresh).exists()
    # It queued a sweep for when the row is due, rather than leave it waiting.
    (when,) = _queued_sweeps()
    due = _waiting().get().mail_since + DELAY
    assert abs(when - due) < timedelta(seconds=1)

    _waiting().update(mail_since=timezone.now() - DELAY)
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()

    assert len(smtp_server.messages) == 1
    assert not _waiting().exists()


@pytest.mark.django_db
def test_a_sweep_run_twice_mails_once(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    _reply(bob, alices_topic, "Once.")

    immediate_mails_task.enqueue()
    immediate_mails_task.enqueue()
    run_tasks()
    services.notification_mails_sweep(digest=False)
    run_tasks()

    assert len(smtp_server.messages) == 1


# --- What is left out ------------------------------------------------------------------------


@pytest.mark.django_db
def test_posts_read_on_the_site_meanwhile_are_left_out(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    read = _reply(bob, alices_topic, "Read already.")
    unread = _reply(bob, alices_topic, "Not read yet.")
    alices_topic.refresh_from_db()
    services.topic_seen(member=alice, topic=alices_topic, post_id=read.pk)
    assert TopicRead.objects.get().seen_post_id == read.pk

    _sweep(run_tasks)

    (message,) = _received(smtp_server)
    assert "Not read yet." in _text(message)
    assert "Read already." not in _text(message)
    assert f"/p/{unread.pk}/" in _text(message)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["the topic", "everything", "the category"])
def test_nothing_is_mailed_when_everything_was_read(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic, how
):
    post = _reply(bob, alices_topic, "Read already.")
    if how == "the topic":
        alices_topic.refresh_from_db()
        services.topic_seen(member=alice, topic=alices_topic, post_id=post.pk)
    else:
        category = alices_topic.category if how == "the category" else None
        services.all_read(member=alice, category=category)

    _sweep(run_tasks)

    assert smtp_server.messages == []
    assert not _waiting().exists()
    assert not Mail.objects.exists()


@pytest.mark.django_db
def test_removed_posts_are_left_out(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    moderator = ModeratorFactory(username="mod")
    removed = _reply(bob, alices_topic, "Spam, spam.")
    deleted = _reply(bob, alices_topic, "Oops, wrong topic.")
    _reply(bob, alices_topic, "A good answer.")
    services.post_remove(post=removed, moderator=moderator, reason="spam")
    services.post_delete(post=deleted, user=bob)

    _sweep(run_tasks)

    (message,) = _received(smtp_server)
    assert "A good answer." in _text(message)
    assert "Spam" not in _text(message)
    assert "Oops" not in _text(message)


@pytest.fixture
def private_topic(alice, bob):
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    in_groups(bob, staff)
    room = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    return TopicFactory(author=alice, title="Secret plans", body="Shh.", category=room)


@pytest.mark.django_db
def test_a_private_topic_is_mailed_to_members_who_still_see_it(
    mail_settings, smtp_server, run_tasks, alice, bob, private_topic
):
    _reply(bob, private_topic, "The plan.")

    _sweep(run_tasks)

    (message,) = _received(smtp_server)
    assert message["Subject"] == "New replies in Secret plans"


@pytest.mark.django_db
def test_nothing_private_is_mailed_to_a_member_who_lost_access(
    mail_settings, smtp_server, run_tasks, alice, bob, private_topic
):
    _reply(bob, private_topic, "The plan.")
    alice.groups.clear()

    _sweep(run_tasks)

    assert smtp_server.messages == []
    assert not Mail.objects.exists()
    assert not _waiting().exists()


@pytest.mark.django_db
def test_a_topic_moved_where_the_member_may_not_follow_is_not_mailed(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    _reply(bob, alices_topic, "Moved soon.")
    room = CategoryFactory(name="Elsewhere", who_sees="groups", seer_groups=[GroupFactory()])
    services.topic_move(topic=alices_topic, moderator=ModeratorFactory(), category=room)

    _sweep(run_tasks)

    assert smtp_server.messages == []


@pytest.mark.django_db
def test_a_mail_queued_before_the_member_lost_access_is_not_sent(
    mail_settings, smtp_server, run_tasks, alice, bob, private_topic
):
    _reply(bob, private_topic, "The plan.")
    services.notification_mails_sweep(digest=False)  # queued, not sent yet
    alice.groups.clear()

    run_tasks()

    assert smtp_server.messages == []
    mail = Mail.objects.get()
    assert mail.sent is None
    assert mail.failure.startswith("Not sent: no longer allowed")
    assert "may no longer see" in mail.failure


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"mailing": Mailing.NONE}, "chose no e-mail"),
        ({"is_active": False}, "not active"),
        ({"email_confirmed": False}, "confirmed one"),
        ({"email": "alice@elsewhere.example"}, "confirmed one"),
    ],
)
def test_a_mail_queued_before_the_member_changed_is_not_sent(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic, change, failure
):
    _reply(bob, alices_topic, "Soon.")
    services.notification_mails_sweep(digest=False)
    User.objects.filter(pk=alice.pk).update(**change)

    run_tasks()

    assert smtp_server.messages == []
    assert failure in Mail.objects.get().failure


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"mailing": Mailing.NONE}, {"is_active": False}, {"email_confirmed": False}],
    ids=["no e-mail", "inactive", "unconfirmed"],
)
def test_members_who_may_not_be_mailed_get_nothing(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic, change
):
    _reply(bob, alices_topic, "Nobody reads this.")
    User.objects.filter(pk=alice.pk).update(**change)

    _sweep(run_tasks)

    assert smtp_server.messages == []
    assert not Mail.objects.exists()
    assert not _waiting().exists()  # dropped, not kept for ever


@pytest.mark.django_db
def test_a_post_by_someone_the_member_ignores_is_left_out(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    _reply(bob, alices_topic, "Ignored.")
    services.member_ignore(member=alice, ignored=bob)

    _sweep(run_tasks)

    assert smtp_server.messages == []


# --- The daily digest ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_digest_is_one_mail_with_a_section_per_topic(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    User.objects.filter(pk=alice.pk).update(mailing=Mailing.DIGEST)
    other = TopicFactory(author=bob, title="Beans & <peas>")
    _reply(bob, alices_topic, "Tomatoes like sun.")
    _reply(bob, alices_topic, "And water.", ago=timedelta(hours=5))
    _reply(bob, other, "Beans like poles.", to=alice, reason=Reason.WATCHING)

    _sweep(run_tasks)  # the sweep of "immediately" leaves digests alone

    assert smtp_server.messages == []
    assert _waiting().count() == 2  # the replies to alice are one entry
    (when,) = _queued_sweeps(digest_mails_task)
    assert when == notification_mails.digest_time(timezone.now())
    assert timezone.localtime(when).hour == mail_settings.FORUM_NOTIFICATION_DIGEST_HOUR

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()

    (message,) = _received(smtp_server)
    assert message["Subject"] == "Your forum digest: 3 new posts in 2 topics"
    assert message["In-Reply-To"] is None
    assert message["References"] is None
    assert message[TOPICS_HEADER] == f"{alices_topic.pk},{other.pk}"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = _text(message), _html(message)
    assert text.index("== Growing tomatoes ==") < text.index("Tomatoes like sun.")
    assert text.index("And water.") < text.index("== Beans & <peas> ==")
    assert text.index("== Beans & <peas> ==") < text.index("posted in a topic you watch")
    assert "Beans &amp; &lt;peas&gt;" in html
    assert not _waiting().exists()


@pytest.mark.django_db
def test_a_digest_whose_topic_went_private_is_not_sent(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic, private_topic
):
    User.objects.filter(pk=alice.pk).update(mailing=Mailing.DIGEST)
    _reply(bob, alices_topic, "Open.")
    _reply(bob, private_topic, "Closed.")
    services.notification_mails_sweep(digest=True)
    alice.groups.clear()

    run_tasks()

    assert smtp_server.messages == []
    assert "may no longer see" in Mail.objects.get().failure


@pytest.mark.django_db
def test_a_member_who_chose_immediate_mail_meanwhile_is_mailed_by_the_digest_sweep_too(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    _reply(bob, alices_topic, "Waiting since yesterday.", ago=timedelta(hours=20))

    _sweep(run_tasks, digest_mails_task)

    (message,) = _received(smtp_server)
    assert message["Subject"] == "New replies in Growing tomatoes"


def test_the_digest_goes_at_its_hour(settings):
    settings.FORUM_NOTIFICATION_DIGEST_HOUR = 7
    before = timezone.make_aware(timezone.datetime(2030, 5, 1, 6, 59))
    after = timezone.make_aware(timezone.datetime(2030, 5, 1, 7, 0))

    assert notification_mails.digest_time(before) == after
    assert notification_mails.digest_time(after) == after + timedelta(days=1)


# --- Scheduling: a bounded number of sweeps ---------------------------------------------------


@pytest.mark.django_db
def test_many_replies_share_one_sweep(settings):
    settings.FORUM_NOTIFICATION_MAIL_DELAY = DELAY
    start = timezone.now()

    for _ in range(50):
        mails_scheduled(immediate=True, digest=True)

    (when,) = _queued_sweeps()
    assert start + DELAY <= when <= timezone.now() + DELAY
    assert len(_queued_sweeps(digest_mails_task)) == 1


@pytest.mark.django_db
def test_replies_over_ten_minutes_queue_a_sweep_a_minute_at_most(settings):
    settings.FORUM_NOTIFICATION_MAIL_DELAY = DELAY
    start = timezone.now()

    for seconds in range(0, 600, 5):  # a reply every 5 seconds
        with mock.patch(
            "django.utils.timezone.now", return_value=start + timedelta(seconds=seconds)
        ):
            mails_scheduled(immediate=True, digest=True)

    sweeps = _queued_sweeps()
    assert 10 <= len(sweeps) <= 11
    assert all(b - a > notification_mails.TOLERANCE for a, b in itertools.pairwise(sweeps))
    assert len(_queued_sweeps(digest_mails_task)) == 1


@pytest.mark.django_db
def test_a_sweep_queued_by_a_write_that_rolled_back_is_gone_and_queued_again(settings):
    def reply_that_fails() -> None:
        with transaction.atomic():
            mails_scheduled(immediate=True, digest=False)
            raise RuntimeError("the reply failed")

    with pytest.raises(RuntimeError):
        reply_that_fails()

    assert _queued_sweeps() == []

    mails_scheduled(immediate=True, digest=False)

    assert len(_queued_sweeps()) == 1


@pytest.mark.django_db
def test_a_running_sweep_does_not_count_as_queued():
    mails_scheduled(immediate=True, digest=False)
    DBTaskResult.objects.update(status="RUNNING")

    mails_scheduled(immediate=True, digest=False)

    assert len(_queued_sweeps()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("immediate", "digest", "queued", "queries"),
    [
        (True, False, True, 1),
        (True, False, False, 2),
        (False, True, True, 1),
        (True, True, True, 1),
        (True, True, False, 3),
        (False, False, False, 0),
    ],
)
def test_the_query_count_of_scheduling(
    django_assert_num_queries, immediate, digest, queued, queries
):
    if queued:
        mails_scheduled(immediate=True, digest=True)

    with django_assert_num_queries(queries):
        mails_scheduled(immediate=immediate, digest=digest)


# --- One-click unsubscribe --------------------------------------------------------------------


@pytest.fixture
def unsubscribe_path(mail_settings, smtp_server, run_tasks, alice, bob, alices_topic) -> str:
    """The path of the List-Unsubscribe link of a real mail to alice."""
    _reply(bob, alices_topic, "A reply.")
    _sweep(run_tasks)
    (message,) = _received(smtp_server)
    return _unsubscribe_path(message)


@pytest.mark.django_db
def test_the_one_click_post_unsubscribes_without_a_session_or_csrf_token(alice, unsubscribe_path):
    client = Client(enforce_csrf_checks=True)
    _pending(alice, Post.objects.last())

    answer = client.post(
        unsubscribe_path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert answer.status_code == 200
    assert 'href="/settings/notifications/"' in answer.content.decode()
    alice.refresh_from_db()
    assert alice.mailing == Mailing.NONE
    assert not _waiting().exists()
    assert client.post(unsubscribe_path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    alice.refresh_from_db()
    assert alice.mailing == Mailing.NONE


@pytest.mark.django_db
def test_opening_the_link_asks_and_changes_nothing(alice, unsubscribe_path):
    for method in ("get", "head"):
        answer = getattr(Client(), method)(unsubscribe_path)
        assert answer.status_code == 200

    page = Client().get(unsubscribe_path).content.decode()
    assert '<form method="post"' in page
    assert "@alice" in page
    alice.refresh_from_db()
    assert alice.mailing == Mailing.IMMEDIATE


@pytest.mark.django_db
def test_the_unsubscribe_page_works_on_a_members_only_forum(alice, unsubscribe_path, members_only):
    assert Client().get(unsubscribe_path).status_code == 200
    assert Client().post(unsubscribe_path).status_code == 200


def _token_at(alice, *, days_ago: float) -> str:
    with mock.patch("django.core.signing.time.time", return_value=time.time() - days_ago * 86400):
        return services.unsubscribe_token(user=alice)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("token", "says"),
    [
        (lambda alice: "not-a-token", "not an unsubscribe link"),
        (lambda alice: services.unsubscribe_token(user=alice)[:-2] + "xx", "not an unsubscribe"),
        (lambda alice: signing.TimestampSigner().sign(str(alice.pk)), "not an unsubscribe link"),
        (
            lambda alice: services.confirmation_token(user=alice, address=alice.email),
            "not an unsubscribe link",
        ),
        (lambda alice: notification_mails._unsubscribe_signer().sign("x"), "no longer exists"),
        (lambda alice: _token_at(alice, days_ago=400), "expired"),
    ],
    ids=["garbage", "tampered", "unsalted", "confirmation", "not a member", "expired"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_unsubscribe_link_is_a_400_and_changes_nothing(alice, token, says, method):
    path = reverse("threads:unsubscribe", args=[token(alice)])

    answer = getattr(Client(), method)(path)

    assert answer.status_code == 400
    assert says in answer.content.decode()
    alice.refresh_from_db()
    assert alice.mailing == Mailing.IMMEDIATE


@pytest.mark.django_db
def test_the_link_of_a_deleted_account_is_a_400(alice):
    path = reverse("threads:unsubscribe", args=[services.unsubscribe_token(user=alice)])
    alice.delete()

    assert Client().post(path).status_code == 400


# --- End to end: the real worker and a real SMTP server ---------------------------------------


def _wait(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def worker_env(settings, smtp_server) -> dict[str, str]:
    settings.DEFAULT_FROM_EMAIL = FROM
    settings.FORUM_SITE_URL = SITE
    return {
        **smtp_server.environment,
        "DJANGO_DEFAULT_FROM_EMAIL": FROM,
        "DJANGO_SITE_URL": SITE,
        "FORUM_NOTIFICATION_MAIL_DELAY": "600",
    }


@pytest.mark.django_db(transaction=True)
def test_two_workers_mail_each_member_once(start_worker, smtp_server, worker_env):
    bob = UserFactory(username="bob")
    topic = TopicFactory(author=bob, title="Busy topic")
    members = [UserFactory(username=f"reader{n}", email_confirmed=True) for n in range(12)]
    for body in ("One.", "Two.", "Three."):
        post = ReplyFactory(author=bob, topic=topic, body=body)
        for member in members:
            _pending(member, post, reason=Reason.WATCHING)
    for _ in range(4):  # sweeps racing each other
        immediate_mails_task.enqueue()
    start_worker(**worker_env)
    start_worker(**worker_env)

    smtp_server.wait_for(12)
    _wait(lambda: not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists())

    assert len(smtp_server.messages) == 12
    recipients = sorted(to for _, (to,), _ in smtp_server.messages)
    assert recipients == sorted(member.email for member in members)
    for message in _received(smtp_server):
        assert "One." in _text(message)
        assert "Three." in _text(message)
    assert not _waiting().exists()
    assert parseaddr(smtp_server.messages[0][2]["From"])[1] == "forum@forum.example"


@pytest.mark.django_db(transaction=True)
def test_replies_reach_each_member_as_they_chose_through_the_worker(
    start_worker, smtp_server, worker_env, settings
):
    """Bob's replies: alice (mail soon after) and carol (the digest) get the mail they chose,
    through the worker and the SMTP server; dana, who muted the topic, and erin, who
    watches a private category she may not see, get nothing."""
    settings.FORUM_NOTIFICATION_MAIL_DELAY = timedelta(seconds=1)
    confirmed = {"email_confirmed": True}
    alice = UserFactory(username="alice", **confirmed)
    bob = UserFactory(username="bob", **confirmed)
    carol = UserFactory(username="carol", mailing=Mailing.DIGEST, **confirmed)
    dana = UserFactory(username="dana", **confirmed)
    erin = UserFactory(username="erin", **confirmed)
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    in_groups(bob, staff)
    room = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    topic = TopicFactory(author=alice, title="Tomatoes")
    secret = TopicFactory(author=alice, title="Secret plans", category=room)
    services.watch_set(member=carol, level="watching", topic=topic)
    services.watch_set(member=erin, level="watching", category=room)
    danas = ReplyFactory(author=dana, topic=topic, parent=opening_post(topic), body="Mine.")
    services.watch_set(member=dana, level="muted", topic=topic)
    start_worker(**{**worker_env, "FORUM_NOTIFICATION_MAIL_DELAY": "1"})

    ReplyFactory(author=bob, topic=topic, parent=opening_post(topic), body="Sun, alice.")
    ReplyFactory(author=bob, topic=topic, parent=danas, body="Water, dana.")
    ReplyFactory(author=bob, topic=secret, parent=opening_post(secret), body="The plan.")

    smtp_server.wait_for(2)
    sweeps = DBTaskResult.objects.filter(task_path=digest_mails_task.module_path, status="READY")
    assert sweeps.count() == 1  # the digest waits for its hour: it is now
    sweeps.update(run_after=timezone.now())
    smtp_server.wait_for(3)
    time.sleep(1.5)  # more than the delay: nothing else arrives

    received = sorted((to, message["Subject"]) for _, (to, *_), message in smtp_server.messages)
    assert received == [
        ("alice@example.org", "New replies in Secret plans"),
        ("alice@example.org", "New replies in Tomatoes"),
        ("carol@example.org", "Your forum digest: 3 new posts in 1 topic"),
    ]
    by_subject = {message["Subject"]: message for _, _, message in smtp_server.messages}
    assert "Sun, alice." in _text(by_subject["New replies in Tomatoes"])
    assert "Water, dana." in _text(by_subject["New replies in Tomatoes"])
    assert "Water, dana." in _text(by_subject["Your forum digest: 3 new posts in 1 topic"])
    assert not _waiting().exists()


@pytest.mark.django_db
def test_a_sweep_is_found_whatever_the_time_zone(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # digest times are local, the queue's are not

    mails_scheduled(immediate=True, digest=True)
    mails_scheduled(immediate=True, digest=True)

    assert len(_queued_sweeps()) == 1
    (when,) = _queued_sweeps(digest_mails_task)
    assert timezone.localtime(when).hour == settings.FORUM_NOTIFICATION_DIGEST_HOUR


@pytest.mark.django_db
def test_a_watchers_entry_is_not_rewritten_per_post_yet_mails_every_post_once(
    mail_settings, smtp_server, run_tasks, alice, bob, alices_topic
):
    carol = UserFactory(username="carol", email="carol@example.org", email_confirmed=True)
    services.watch_set(member=carol, topic=alices_topic, level="watching")
    first = ReplyFactory(author=bob, topic=alices_topic, body="One.")
    ReplyFactory(author=bob, topic=alices_topic, body="Two.")

    entry = Notification.objects.get(member=carol)
    assert (entry.count, entry.last_post_id) == (1, first.pk)  # not written again
    _waiting().filter(member=carol).update(mail_since=timezone.now() - DELAY)
    _sweep(run_tasks)
    ReplyFactory(author=bob, topic=alices_topic, body="Three.")
    assert _waiting().filter(member=carol).exists()  # waits again, for the new post
    _waiting().update(mail_since=timezone.now() - DELAY)
    _sweep(run_tasks)

    carols = [m for _, (to,), m in smtp_server.messages if to == "carol@example.org"]
    assert [re.findall(r"One\.|Two\.|Three\.", _text(m)) for m in carols] == [
        ["One.", "Two."],
        ["Three."],
    ]
