"""Suspensions (threads.services.suspensions): until a date, with a reason the member
is shown when they try to post; they end by themselves."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import escape

from threads import permissions, services
from threads.models import ModerationAction, Post, User

from .factories import ModeratorFactory, UserFactory
from .helpers import form_values

pytestmark = pytest.mark.django_db

UNTIL = datetime(2099, 5, 17, 12, 0, tzinfo=UTC)


@pytest.fixture
def suspended(member, moderator) -> User:
    services.member_suspend(member=member, moderator=moderator, until=UNTIL, reason="Flaming")
    return User.objects.get(pk=member.pk)


def test_a_suspension_is_kept_and_logged(suspended, moderator):
    assert (suspended.suspended_until, suspended.suspension_reason) == (UNTIL, "Flaming")
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.member_id, entry.moderator_id) == (
        "suspend",
        suspended.pk,
        moderator.pk,
    )
    assert (entry.reason, entry.details) == ("Flaming", "until 17 May 2099, 12:00 UTC")


def test_the_member_is_told_why_and_until_when(suspended):
    refusal = permissions.posting_refusal(suspended)
    assert refusal == (
        "Your account is suspended until 17 May 2099, 12:00 UTC, so you cannot post. "
        "The moderators' reason: Flaming"
    )


def test_a_suspended_member_cannot_post(suspended, topic):
    with pytest.raises(services.Refused, match="suspended until"):
        services.post_reply(author=suspended, topic=topic, body="let me speak")
    with pytest.raises(services.Refused, match="suspended until"):
        services.topic_create(author=suspended, title="Hello", body="again")
    assert Post.objects.count() == 1


def test_the_reply_form_keeps_the_text_of_a_suspended_member(client, suspended, topic):
    client.force_login(suspended)
    typed = {"body": "my long answer"}

    response = client.post(f"/t/{topic.pk}/reply/", typed)

    assert response.status_code == 403
    assert escape(permissions.posting_refusal(suspended)) in response.content.decode()
    assert form_values(response)["body"] == "my long answer"
    assert Post.objects.count() == 1


def test_a_suspended_member_still_reads_and_changes_their_settings(client, suspended, topic):
    client.force_login(suspended)

    assert client.get(topic.get_absolute_url()).status_code == 200
    assert client.get("/settings/notifications/").status_code == 200
    response = client.post("/settings/notifications/", {"mailing": "digest"})
    assert response.status_code == 302
    assert User.objects.get(pk=suspended.pk).mailing == "digest"


def test_a_suspension_ends_by_itself(suspended):
    with mock.patch("django.utils.timezone.now", return_value=UNTIL + timedelta(seconds=1)):
        assert permissions.posting_refusal(suspended) is None
        assert not permissions.is_suspended(suspended)


def test_a_suspension_that_ended_lets_the_member_post(member, moderator, topic):
    services.member_suspend(
        member=member,
        moderator=moderator,
        until=timezone.now() + timedelta(seconds=30),
        reason="Cool off",
    )
    member.refresh_from_db()
    with pytest.raises(services.Refused):
        services.post_reply(author=member, topic=topic, body="too soon")

    with mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(minutes=1)
    ):
        services.post_reply(author=member, topic=topic, body="back again")

    assert Post.objects.filter(body="back again").exists()


def test_lifting_a_suspension(suspended, moderator, topic):
    services.member_unsuspend(member=suspended, moderator=moderator)

    member = User.objects.get(pk=suspended.pk)
    assert (member.suspended_until, member.suspension_reason) == (None, "")
    services.post_reply(author=member, topic=topic, body="thanks")
    assert ModerationAction.objects.filter(action="unsuspend", member=member).exists()
    with pytest.raises(services.Refused, match="not suspended"):
        services.member_unsuspend(member=member, moderator=moderator)


@pytest.mark.parametrize(
    ("until", "reason", "message"),
    [
        (UNTIL, "   ", "Say why"),
        (UNTIL, "x" * 501, "at most"),
        (datetime(2001, 1, 1, tzinfo=UTC), "Flaming", "in the future"),
        (datetime(2099, 1, 1), "Flaming", "time zone"),  # naive: refused
    ],
)
def test_a_suspension_needs_a_reason_and_a_future_end(member, moderator, until, reason, message):
    with pytest.raises(ValidationError, match=message):
        services.member_suspend(member=member, moderator=moderator, until=until, reason=reason)
    assert User.objects.get(pk=member.pk).suspended_until is None
    assert not ModerationAction.objects.exists()


def test_nobody_suspends_a_moderator_or_themselves(moderator, member):
    other = ModeratorFactory()
    for target in (moderator, other, UserFactory(is_staff=True)):
        with pytest.raises(services.Refused):
            services.member_suspend(member=target, moderator=moderator, until=UNTIL, reason="x")
    with pytest.raises(services.Refused, match="Only moderators"):
        services.member_suspend(member=moderator, moderator=member, until=UNTIL, reason="x")
    assert not User.objects.filter(suspended_until__isnull=False).exists()


def test_deactivation_stays_the_permanent_ban(banned):
    assert permissions.posting_refusal(banned) == permissions.SUSPENDED
