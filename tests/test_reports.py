"""Reports of posts (threads.services.reports, the report page): reporting once, the
limits, auto-hide, a moderator's decision, and what the reporter sees of it."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads import permissions, services
from threads.models import ModerationAction, Post, PostSearch, Report, User
from threads.models.moderation import REASON_MAX_LENGTH

from .concurrency import run_concurrently
from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import form_values, opening_post

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=30)


def veteran(**fields) -> User:
    """A member in good standing: their account is older than new_account_age."""
    return UserFactory(date_joined=OLD, **fields)


@pytest.fixture
def reply(topic, other_member):
    return ReplyFactory(topic=topic, author=other_member, body="Buy **cheap** things")


@pytest.fixture
def hide_at(settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "reports_to_hide": 2}
    return 2


def _thread(client, topic) -> str:
    return client.get(topic.get_absolute_url()).content.decode()


# --- Reporting --------------------------------------------------------------------------


def test_a_member_reports_a_post_once(reply, member):
    report = services.post_report(post=reply, reporter=member, why="spam", note="  an  ad ")

    assert (report.why, report.note, report.outcome) == ("spam", "an ad", "")
    with pytest.raises(services.Refused, match="already"):
        services.post_report(post=reply, reporter=member, why="abuse")
    assert Report.objects.count() == 1


def test_something_else_needs_a_note(reply, member):
    with pytest.raises(ValidationError, match="what is wrong"):
        services.post_report(post=reply, reporter=member, why="other", note="   ")
    with pytest.raises(ValidationError, match="Choose why"):
        services.post_report(post=reply, reporter=member, why="boring")
    with pytest.raises(ValidationError, match="at most"):
        services.post_report(post=reply, reporter=member, why="spam", note="x" * 501)
    assert not Report.objects.exists()


def test_nobody_reports_their_own_post_or_a_removed_one(reply, member, other_member, moderator):
    with pytest.raises(services.Refused, match="your own post"):
        services.post_report(post=reply, reporter=other_member, why="spam")
    services.post_remove(post=reply, moderator=moderator, reason="spam")
    with pytest.raises(services.Refused, match="removed already"):
        services.post_report(post=reply, reporter=member, why="spam")
    assert not Report.objects.exists()


def test_banned_and_suspended_members_do_not_report(reply, member, banned, moderator):
    services.member_suspend(
        member=member, moderator=moderator, until=timezone.now() + timedelta(days=1), reason="x"
    )
    member.refresh_from_db()
    for reporter in (member, banned):
        with pytest.raises(services.Refused, match="suspended"):
            services.post_report(post=reply, reporter=reporter, why="spam")
    assert not Report.objects.exists()


def test_a_post_one_may_not_see_does_not_exist(member, group_member, staff_group):
    hidden = CategoryFactory(name="Secret", who_sees="groups", seer_groups=[staff_group])
    post = opening_post(TopicFactory(author=group_member, category=hidden))

    with pytest.raises(services.NotFound):
        services.post_report(post=post, reporter=member, why="spam")


def test_reports_are_limited_per_member(settings, topic, member, other_member):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "reports_per_window": 2}
    posts = [ReplyFactory(topic=topic, author=other_member) for _ in range(3)]
    services.post_report(post=posts[0], reporter=member, why="spam")
    services.post_report(post=posts[1], reporter=member, why="spam")

    with pytest.raises(services.RateLimited, match="many posts"):
        services.post_report(post=posts[2], reporter=member, why="spam")
    assert Report.objects.count() == 2


# --- Auto-hide --------------------------------------------------------------------------


def test_auto_hide_is_off_by_default(client, topic, reply):
    for _ in range(5):
        services.post_report(post=reply, reporter=veteran(), why="spam")
    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.VISIBLE


def test_n_reports_hide_the_post_on_the_cached_page(client, hide_at, topic, reply):
    assert "cheap" in _thread(client, topic)  # the page is cached now
    services.post_report(post=reply, reporter=veteran(), why="spam")
    assert "cheap" in _thread(client, topic)

    services.post_report(post=reply, reporter=veteran(), why="abuse")

    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.REPORTED
    page = _thread(client, topic)
    assert "cheap" not in page
    assert "hidden after members reported it" in page
    assert not PostSearch.objects.filter(post=reply).exists()  # search no longer finds it


def test_only_members_in_good_standing_count(hide_at, topic, reply, moderator):
    newcomer = UserFactory()  # joined just now
    suspended = veteran()
    services.post_report(post=reply, reporter=newcomer, why="spam")
    services.post_report(post=reply, reporter=suspended, why="spam")
    services.member_suspend(
        member=suspended, moderator=moderator, until=timezone.now() + timedelta(days=1), reason="x"
    )
    services.post_report(post=reply, reporter=veteran(), why="spam")
    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.VISIBLE

    services.post_report(post=reply, reporter=veteran(), why="spam")
    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.REPORTED


def test_dismissing_shows_a_hidden_post_again(client, hide_at, topic, reply, moderator):
    reporters = [veteran(), veteran()]
    for reporter in reporters:
        services.post_report(post=reply, reporter=reporter, why="spam")
    assert "cheap" not in _thread(client, topic)

    assert services.reports_dismiss(post=reply, moderator=moderator) == 2

    assert "cheap" in _thread(client, topic)
    assert set(Report.objects.values_list("outcome", "resolved_by")) == {
        ("dismissed", moderator.pk)
    }
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.post_id, entry.details) == ("dismiss", reply.pk, "2 reports")
    with pytest.raises(services.Refused, match="no open reports"):
        services.reports_dismiss(post=reply, moderator=moderator)


def test_removing_a_reported_post_is_a_moderators_removal(client, hide_at, topic, reply, moderator):
    for _ in range(2):
        services.post_report(post=reply, reporter=veteran(), why="spam")

    with pytest.raises(ValidationError, match="Say why"):
        services.reported_post_remove(post=reply, moderator=moderator, reason="  ")
    services.reported_post_remove(post=reply, moderator=moderator, reason="An advert")

    removed = Post.objects.get(pk=reply.pk)
    assert (removed.removal, removed.removal_reason) == (Post.Removal.MODERATOR, "An advert")
    assert "removed by a moderator" in _thread(client, topic)
    assert set(Report.objects.values_list("outcome", flat=True)) == {"removed"}
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.reason, entry.member_id) == ("remove", "An advert", reply.author_id)


def test_a_moderators_restore_shows_a_hidden_post(client, hide_at, topic, reply, moderator):
    for _ in range(2):
        services.post_report(post=reply, reporter=veteran(), why="spam")

    services.post_restore(post=reply, moderator=moderator)

    assert "cheap" in _thread(client, topic)
    # A decision like a dismissal: the queue no longer holds the post.
    assert set(Report.objects.values_list("outcome", "resolved_by")) == {
        ("dismissed", moderator.pk)
    }


def test_a_removal_outside_the_queue_closes_the_posts_reports(reply, member, moderator):
    services.post_report(post=reply, reporter=member, why="spam")

    services.post_remove(post=reply, moderator=moderator, reason="spam")

    assert set(Report.objects.values_list("outcome", "resolved_by")) == {("removed", moderator.pk)}


def test_restoring_a_post_a_moderator_removed_keeps_its_closed_reports(reply, member, moderator):
    services.post_report(post=reply, reporter=member, why="spam")
    services.post_remove(post=reply, moderator=moderator, reason="spam")

    services.post_restore(post=reply, moderator=moderator)

    assert list(Report.objects.values_list("outcome", flat=True)) == ["removed"]


def test_suspending_the_author_from_the_queue(client, hide_at, topic, reply, moderator):
    for _ in range(2):
        services.post_report(post=reply, reporter=veteran(), why="abuse")
    until = timezone.now() + timedelta(days=7)

    author = services.reported_author_suspend(
        post=reply, moderator=moderator, until=until, reason="Insults"
    )

    assert permissions.is_suspended(User.objects.get(pk=author.pk))
    assert set(Report.objects.values_list("outcome", flat=True)) == {"suspended"}
    removed = Post.objects.get(pk=reply.pk)
    assert (removed.removal, removed.removal_reason) == (Post.Removal.MODERATOR, "Insults")
    assert ModerationAction.objects.get().action == "suspend"


def test_a_visible_reported_post_stays_when_its_author_is_suspended(reply, member, moderator):
    services.post_report(post=reply, reporter=member, why="abuse")
    services.reported_author_suspend(
        post=reply, moderator=moderator, until=timezone.now() + timedelta(days=1), reason="x"
    )
    assert Post.objects.get(pk=reply.pk).removal == Post.Removal.VISIBLE


# --- The report page ------------------------------------------------------------------


def _report_url(post) -> str:
    return reverse("threads:post_report", args=[post.pk])


def test_every_visible_post_links_its_report_page(client, topic, reply, moderator):
    page = _thread(client, topic)
    assert _report_url(reply) in page
    services.post_remove(post=reply, moderator=moderator, reason="x")
    assert _report_url(reply) not in _thread(client, topic)


def test_visitors_are_sent_to_log_in(client, reply):
    url = _report_url(reply)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_the_report_page_in_fixed_queries(client, reply, member, django_assert_num_queries):
    client.force_login(member)
    client.get("/")  # the session's first use is behind us
    # The session and member, the post with its author and topic, the member's report.
    with django_assert_num_queries(4):
        response = client.get(_report_url(reply))
    assert response.status_code == 200
    assert 'name="why"' in response.content.decode()


def test_reporting_through_the_form(client, topic, reply, member):
    client.force_login(member)

    response = client.post(_report_url(reply), {"why": "off_topic", "note": ""})

    assert response.status_code == 302
    assert Report.objects.get().why == "off_topic"
    page = client.get(_report_url(reply)).content.decode()
    assert "You reported this post on" in page
    assert "not decided yet" in page


def test_the_reporter_sees_the_outcome(client, reply, member, moderator):
    services.post_report(post=reply, reporter=member, why="spam")
    services.reported_post_remove(post=reply, moderator=moderator, reason="spam")
    client.force_login(member)

    response = client.get(_report_url(reply))

    assert response.status_code == 200
    assert "Outcome: the post was removed" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"why": "boring", "note": "typed"}, "Select a valid choice"),
        ({"why": "other", "note": "   "}, "what is wrong"),
        ({"why": "spam", "note": "n" * (REASON_MAX_LENGTH + 1)}, "at most"),
        ({"note": "typed"}, "Choose why"),
        ({"why": ["spam", "abuse"], "note": "typed"}, ""),
    ],
)
def test_hostile_reports_are_refused_keeping_the_text(client, reply, member, data, message):
    client.force_login(member)

    response = client.post(_report_url(reply), data)

    assert response.status_code == 400 or response.status_code == 302
    if response.status_code == 400:
        assert message in response.content.decode()
        assert form_values(response)["note"] == data["note"]
    else:  # several values: the last one counts, as Django reads a form
        assert Report.objects.get().why == "abuse"


def test_a_second_report_is_refused_with_a_message(client, reply, member):
    services.post_report(post=reply, reporter=member, why="spam")
    client.force_login(member)

    response = client.post(_report_url(reply), {"why": "abuse", "note": "again"})

    assert response.status_code == 403
    assert "reported this post already" in response.content.decode()
    assert form_values(response)["note"] == "again"


@pytest.mark.parametrize("what", ["own", "removed", "missing"])
def test_what_cannot_be_reported(client, reply, member, other_member, moderator, what):
    client.force_login(other_member if what == "own" else member)
    if what == "removed":
        services.post_remove(post=reply, moderator=moderator, reason="x")
    url = _report_url(reply) if what != "missing" else reverse("threads:post_report", args=[999])

    got, sent = client.get(url), client.post(url, {"why": "spam"})

    expected = 404 if what == "missing" else 403
    assert (got.status_code, sent.status_code) == (expected, expected)
    assert not Report.objects.exists()


def test_a_suspended_member_is_told_why_they_cannot_report(client, reply, member, moderator):
    services.member_suspend(
        member=member, moderator=moderator, until=timezone.now() + timedelta(days=1), reason="Spam"
    )
    client.force_login(member)

    response = client.get(_report_url(reply))

    assert response.status_code == 403
    assert "The moderators&#x27; reason: Spam" in response.content.decode()


# --- Two members at once ------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_members_reporting_at_once_all_count_and_hide_once(settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "reports_to_hide": 4}
    author = UserFactory()
    post = opening_post(TopicFactory(author=author))
    reporters = [veteran() for _ in range(4)]

    errors, _ = run_concurrently(
        [
            lambda reporter=reporter: services.post_report(post=post, reporter=reporter, why="spam")
            for reporter in reporters
        ]
    )

    assert errors == []
    assert Report.objects.filter(post=post).count() == 4
    assert Post.objects.get(pk=post.pk).removal == Post.Removal.REPORTED
    assert Post.objects.get(pk=post.pk).topic.description == ""


@examples(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    post_id=st.one_of(st.integers(min_value=0, max_value=2**70), st.sampled_from([1, 2])),
    why=st.one_of(st.sampled_from(Report.Why.values), st.text(max_size=20)),
    note=st.one_of(st.text(max_size=600), st.just("n" * 100_000)),
)
def test_any_report_is_taken_or_refused_with_a_message(member_client, reply, post_id, why, note):
    before = Report.objects.count()
    exists = post_id < 2**63 and Post.objects.filter(pk=post_id).exists()

    response = member_client.post(f"/p/{post_id}/report/", {"why": why, "note": note})

    if not exists:
        assert response.status_code == 404
    elif response.status_code == 302:
        assert Report.objects.count() == before + 1
    else:
        assert response.status_code in {400, 403}
        assert 'class="errorlist' in response.content.decode()
        assert Report.objects.count() == before
