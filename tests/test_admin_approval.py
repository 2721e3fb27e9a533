"""The approval queue in the admin (threads.admin.approval)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from threads import services
from threads.models import Category, PendingPost, Post, User

from .factories import CategoryFactory, GroupFactory, TopicFactory, UserFactory, in_groups

pytestmark = pytest.mark.django_db

QUEUE = "/admin/threads/pendingpost/"


@pytest.fixture(params=["moderator", "superuser"])
def staff(request, client, moderator):
    """A client logged in as a moderator, then as a superuser."""
    user = moderator
    if request.param == "superuser":
        user = User.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def held(settings, topic, member):
    """Two replies of newcomers, the later one first in id, and a held topic."""
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 1}
    strict = CategoryFactory(name="Strict", requires_approval=True)
    first = services.post_reply(
        author=UserFactory(username="early"), topic=topic, body="First *one*"
    )
    second = services.post_reply(
        author=UserFactory(username="late"), topic=topic, body="<script>x</script>"
    )
    new_topic = services.topic_create(
        author=member, title="Held topic", body="text", category=strict
    )
    return {"first": first, "second": second, "topic": new_topic}


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _results(response) -> list:
    return list(response.context["cl"].result_list)


def test_the_queue_lists_pending_posts_oldest_first(staff, held, moderator):
    services.pending_reject(pending=held["topic"], moderator=moderator, reason="no")

    response = staff.get(QUEUE)

    assert response.status_code == 200
    assert _results(response) == [held["first"], held["second"]]
    html = response.content.decode()
    assert "early" in html
    assert "Reply in “A first topic”" in html
    assert "One of a new account&#x27;s first posts" in html
    assert 'value="approve"' in html
    assert 'value="reject"' in html
    assert 'value="delete_selected"' not in html


def test_a_pending_post_shows_its_text_sanitized(staff, held):
    response = staff.get(reverse("admin:threads_pendingpost_change", args=[held["second"].pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>x" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_approve_action_publishes(staff, held):
    response = staff.post(
        QUEUE, {"action": "approve", "_selected_action": [held["first"].pk, held["topic"].pk]}
    )

    assert response.status_code == 302
    assert "Approved 2 pending posts." in _messages(response)
    assert Post.objects.filter(body="First *one*").exists()
    assert PendingPost.objects.get(pk=held["topic"].pk).post.topic.title == "Held topic"
    assert list(PendingPost.objects.filter(status="pending")) == [held["second"]]


def test_reject_action_asks_for_a_reason_then_rejects(staff, held):
    chosen = [held["first"].pk, held["second"].pk]

    page = staff.post(QUEUE, {"action": "reject", "_selected_action": chosen})
    again = staff.post(QUEUE, {"action": "reject", "_selected_action": chosen, "reason": "  "})

    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert "First *one*" in page.content.decode()
    assert again.status_code == 200
    assert PendingPost.objects.filter(status="pending").count() == 3

    response = staff.post(
        QUEUE, {"action": "reject", "_selected_action": chosen, "reason": "Not here"}
    )

    assert response.status_code == 302
    rejected = PendingPost.objects.filter(status="rejected")
    assert sorted(rejected.values_list("pk", "reason")) == [(pk, "Not here") for pk in chosen]
    assert "Rejected 2 pending posts." in _messages(response)


def test_a_refused_approval_is_a_message(staff, held, moderator):
    services.topic_set_locked(topic=held["first"].topic, moderator=moderator, locked=True)

    response = staff.post(QUEUE, {"action": "approve", "_selected_action": [held["first"].pk]})

    assert response.status_code == 302
    assert any("locked" in m for m in _messages(response))
    assert PendingPost.objects.get(pk=held["first"].pk).status == "pending"


def test_nobody_adds_or_deletes_pending_posts(staff, held):
    assert staff.get(f"{QUEUE}add/").status_code == 403
    assert staff.get(f"{QUEUE}{held['first'].pk}/delete/").status_code == 403


def test_a_category_moderator_sees_and_decides_only_their_categories(client, held, member):
    helpers = GroupFactory(name="Helpers")
    help_category = CategoryFactory(name="Help", moderator_groups=[helpers])
    theirs = services.post_reply(
        author=UserFactory(), topic=TopicFactory(author=member, category=help_category), body="help"
    )
    helper = in_groups(UserFactory(username="helper", is_staff=True), helpers)
    client.force_login(helper)

    listed = client.get(QUEUE)
    elsewhere = client.get(reverse("admin:threads_pendingpost_change", args=[held["first"].pk]))
    client.post(QUEUE, {"action": "approve", "_selected_action": [held["first"].pk, theirs.pk]})

    assert _results(listed) == [theirs]
    assert elsewhere.status_code == 302  # the admin's "no such object": back to the queue
    assert PendingPost.objects.get(pk=theirs.pk).status == "approved"
    assert PendingPost.objects.get(pk=held["first"].pk).status == "pending"


def test_members_and_staff_who_moderate_nothing_have_no_queue(client, member, held):
    client.force_login(member)
    assert client.get(QUEUE).status_code == 302  # to the admin's login
    client.force_login(UserFactory(is_staff=True))
    assert client.get(QUEUE).status_code == 403


def test_the_category_form_sets_requires_approval(client, moderator):
    client.force_login(moderator)
    fields = {"name": "Strict", "slug": "strict", "description": "", "parent": "", "position": "0"}
    fields |= {"who_sees": "", "who_starts": "", "who_replies": ""}

    added = client.post(
        reverse("admin:threads_category_add"), {**fields, "requires_approval": "on"}
    )
    strict = Category.objects.get(slug="strict")
    changed = client.post(reverse("admin:threads_category_change", args=[strict.pk]), fields)

    assert (added.status_code, changed.status_code) == (302, 302)
    assert strict.requires_approval
    assert not Category.objects.get(slug="strict").requires_approval
