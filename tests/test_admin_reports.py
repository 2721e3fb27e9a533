"""The report queue (threads/admin/reports.py) and suspending members (threads/admin/users.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from threads import services
from threads.models import ModerationAction, Post, Report, User

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:threads_report_changelist")
USERS = reverse("admin:threads_user_changelist")
UNTIL = "2099-05-17 12:00"


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _rows(response) -> list[Report]:
    return list(response.context["cl"].result_list)


@pytest.fixture
def keeper(db):
    """Staff in the Cat keepers group, which moderates Cats: a category moderator."""
    return UserFactory(username="keeper", is_staff=True)


@pytest.fixture
def scene(keeper, member, other_member):
    """Two reported posts by bob: one in Cats (moderated by the keeper), one in General."""
    keepers = Group.objects.create(name="Cat keepers")
    keeper.groups.add(keepers)
    cats = CategoryFactory(name="Cats", moderator_groups=[keepers])
    in_cats = ReplyFactory(topic=TopicFactory(author=member, category=cats), author=other_member)
    in_general = ReplyFactory(topic=TopicFactory(author=member), author=other_member)
    services.post_report(post=in_general, reporter=member, why="spam", note="an advert")
    services.post_report(post=in_cats, reporter=member, why="abuse", note="rude <b>words</b>")
    services.post_report(post=in_cats, reporter=UserFactory(), why="abuse")
    services.post_report(post=in_cats, reporter=UserFactory(), why="other", note="mean")
    return {"cats": in_cats, "general": in_general}


def _act(client, action: str, posts: list[Post], **data):
    chosen = Report.objects.filter(post__in=posts, outcome="").values_list("pk", flat=True)
    return client.post(QUEUE, {"action": action, "_selected_action": list(chosen), **data})


def test_the_queue_groups_open_reports_per_post_oldest_first(moderator_client, scene):
    response = moderator_client.get(QUEUE)

    assert response.status_code == 200
    rows = _rows(response)
    assert [row.post_id for row in rows] == [scene["general"].pk, scene["cats"].pk]
    assert [row.open_reports for row in rows] == [1, 3]
    html = response.content.decode()
    assert "Abusive or harassing: 2, Something else: 1" in html
    assert "rude &lt;b&gt;words&lt;/b&gt;" in html
    assert 'value="delete_selected"' not in html


def test_the_queue_costs_the_same_with_more_reports(moderator_client, scene, member):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert moderator_client.get(QUEUE).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(3):
        post = ReplyFactory(topic=scene["cats"].topic, author=member)
        services.post_report(post=post, reporter=UserFactory(), why="spam", note="more")

    assert queries() == few


def test_category_moderators_see_only_the_reports_they_moderate(client, keeper, scene):
    client.force_login(keeper)

    assert "/admin/threads/report/" in client.get("/admin/").content.decode()
    assert [row.post_id for row in _rows(client.get(QUEUE))] == [scene["cats"].pk]


def test_members_have_no_queue(member_client, scene):
    assert member_client.get(QUEUE).status_code == 302  # the admin's login


def test_removing_from_the_queue_asks_for_a_reason(moderator_client, scene, moderator):
    page = _act(moderator_client, "remove", [scene["cats"]])
    assert page.status_code == 200
    assert "reason" in page.content.decode()
    refused = _act(moderator_client, "remove", [scene["cats"]], decided="1", reason="  ")
    assert refused.status_code == 200
    assert Post.objects.get(pk=scene["cats"].pk).removal == Post.Removal.VISIBLE

    done = _act(moderator_client, "remove", [scene["cats"]], decided="1", reason="Insults")

    assert done.status_code == 302
    removed = Post.objects.get(pk=scene["cats"].pk)
    assert (removed.removal, removed.removal_reason) == (Post.Removal.MODERATOR, "Insults")
    assert set(Report.objects.filter(post=removed).values_list("outcome", flat=True)) == {"removed"}
    assert [row.post_id for row in _rows(moderator_client.get(QUEUE))] == [scene["general"].pk]


def test_dismissing_from_the_queue(moderator_client, scene):
    response = _act(moderator_client, "dismiss", [scene["general"], scene["cats"]])

    assert response.status_code == 302
    assert "Dismissed the reports of 2 posts." in _messages(response)
    assert not Report.objects.filter(outcome="").exists()
    assert ModerationAction.objects.filter(action="dismiss").count() == 2


def test_suspending_the_author_from_the_queue(client, keeper, scene):
    client.force_login(keeper)
    page = _act(client, "suspend_author", [scene["cats"]])
    assert "Suspended until" in page.content.decode()

    response = _act(
        client, "suspend_author", [scene["cats"]], decided="1", until=UNTIL, reason="Rude"
    )

    assert response.status_code == 302
    author = User.objects.get(pk=scene["cats"].author_id)
    assert author.suspended_until == datetime(2099, 5, 17, 12, 0, tzinfo=UTC)
    assert author.suspension_reason == "Rude"
    assert set(Report.objects.filter(post=scene["cats"]).values_list("outcome", flat=True)) == {
        "suspended"
    }


def test_a_category_moderator_cannot_act_on_reports_outside_their_categories(client, keeper, scene):
    client.force_login(keeper)

    response = _act(client, "dismiss", [scene["general"]])

    assert Report.objects.get(post=scene["general"]).outcome == ""
    assert response.status_code in {200, 302}


def test_a_suspension_in_the_past_is_refused_on_the_form(moderator_client, scene):
    response = _act(
        moderator_client,
        "suspend_author",
        [scene["cats"]],
        decided="1",
        until="2001-01-01 00:00",
        reason="Rude",
    )

    assert response.status_code == 302
    assert any("in the future" in message for message in _messages(response))
    assert User.objects.get(pk=scene["cats"].author_id).suspended_until is None


# --- Members: suspending and lifting ------------------------------------------------------


def test_suspending_members_from_the_member_list(moderator_client, other_member):
    page = moderator_client.post(
        USERS, {"action": "suspend", "_selected_action": [other_member.pk]}
    )
    assert "Suspended until" in page.content.decode()

    response = moderator_client.post(
        USERS,
        {
            "action": "suspend",
            "_selected_action": [other_member.pk],
            "decided": "1",
            "until": UNTIL,
            "reason": "Cool off",
        },
    )

    assert response.status_code == 302
    member = User.objects.get(pk=other_member.pk)
    assert member.suspension_reason == "Cool off"
    change = moderator_client.get(reverse("admin:threads_user_change", args=[member.pk]))
    html = change.content.decode()
    assert "Suspended until" in html
    assert "Cool off" in html


def test_lifting_a_suspension_from_the_member_list(moderator_client, moderator, other_member):
    services.member_suspend(
        member=other_member,
        moderator=moderator,
        until=timezone.now() + timedelta(days=1),
        reason="x",
    )

    response = moderator_client.post(
        USERS, {"action": "unsuspend", "_selected_action": [other_member.pk]}
    )

    assert response.status_code == 302
    assert User.objects.get(pk=other_member.pk).suspended_until is None


def test_a_moderator_cannot_be_suspended_from_the_member_list(client, moderator):
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(root)

    response = client.post(
        USERS,
        {
            "action": "suspend",
            "_selected_action": [moderator.pk],
            "decided": "1",
            "until": UNTIL,
            "reason": "x",
        },
    )

    assert response.status_code == 302
    assert any("cannot be suspended" in message for message in _messages(response))
    assert User.objects.get(pk=moderator.pk).suspended_until is None


def test_an_opening_post_hidden_by_reports_shows_in_the_queue(settings, moderator_client, member):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "reports_to_hide": 1}
    post = opening_post(TopicFactory(author=member))
    services.post_report(
        post=post, reporter=UserFactory(date_joined=datetime(2020, 1, 1, tzinfo=UTC)), why="spam"
    )

    assert "[hidden]" in moderator_client.get(QUEUE).content.decode()
