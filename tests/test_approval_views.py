"""The pages of posts awaiting approval, and their authors' pending replies in place."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import services
from threads.models import PendingPost

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory, in_groups
from .helpers import opening_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def approval_posts(settings, topic):
    """A member's first post waits for a moderator (alice, who wrote `topic`, is past it)."""
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "approval_posts": 1}


@pytest.fixture
def newcomer(db):
    return UserFactory(username="newcomer")


def _html(response) -> str:
    return response.content.decode()


def test_a_held_reply_leads_to_its_page_awaiting_approval(client, approval_posts, topic, newcomer):
    client.force_login(newcomer)

    response = client.post(f"/t/{topic.pk}/reply/", {"body": "Hello, I am **new**"})

    pending = PendingPost.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/pending/{pending.pk}/"
    page = _html(client.get(response["Location"]))
    assert "Awaiting approval" in page
    assert "Hello, I am <strong>new</strong>" in page
    assert "Only you and the moderators see this post" in page


def test_a_held_topic_leads_to_its_page(client, member):
    strict = CategoryFactory(name="Strict", requires_approval=True)
    client.force_login(member)

    response = client.post("/t/new/", {"title": "Mine", "body": "text", "category": strict.slug})

    pending = PendingPost.objects.get()
    assert response["Location"] == f"/pending/{pending.pk}/"
    page = _html(client.get(response["Location"]))
    assert "Mine" in page
    assert "A new topic in" in page
    assert "new topics in this category need approval" in page


def test_the_pending_page_costs_three_queries(
    client, approval_posts, topic, newcomer, django_assert_num_queries
):
    pending = services.post_reply(author=newcomer, topic=topic, body="waiting")
    client.force_login(newcomer)

    with django_assert_num_queries(3):  # the session, the member, the pending post
        assert client.get(f"/pending/{pending.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("author", 200),
        ("moderator", 200),
        ("category_moderator_here", 200),
        ("category_moderator_elsewhere", 404),
        ("member", 404),
        ("anonymous", 404),
    ],
)
def test_only_its_author_and_the_moderators_of_its_place_see_a_pending_post(
    client, approval_posts, member, newcomer, moderator, helpers_group, who, status
):
    help_category = CategoryFactory(name="Help", moderator_groups=[helpers_group])
    in_help = TopicFactory(author=member, category=help_category)
    pending = services.post_reply(author=newcomer, topic=in_help, body="in help")
    readers = {
        "author": newcomer,
        "moderator": moderator,
        "category_moderator_here": in_groups(UserFactory(is_staff=True), helpers_group),
        "category_moderator_elsewhere": in_groups(
            UserFactory(is_staff=True),
            CategoryFactory(name="Other").moderator_groups.create(name="Others"),
        ),
        "member": UserFactory(),
    }
    if who in readers:
        client.force_login(readers[who])

    response = client.get(f"/pending/{pending.pk}/")

    assert response.status_code == status
    assert ("in help" in _html(response)) == (status == 200)
    assert ("the approval queue" in _html(response)) == (
        who in {"moderator", "category_moderator_here"}
    )


@pytest.mark.parametrize("pk", ["0", "999", "99999999999999999999999"])
def test_a_missing_pending_post_is_404(client, newcomer, pk):
    client.force_login(newcomer)

    assert client.get(f"/pending/{pk}/").status_code == 404


def test_the_pending_page_takes_no_post(client, approval_posts, topic, newcomer):
    pending = services.post_reply(author=newcomer, topic=topic, body="waiting")
    client.force_login(newcomer)

    assert client.post(f"/pending/{pending.pk}/", {"status": "approved"}).status_code == 405
    assert PendingPost.objects.get().status == "pending"


def test_a_rejected_post_shows_the_reason_and_an_approved_one_links_to_the_post(
    client, approval_posts, topic, newcomer, moderator
):
    rejected = services.post_reply(author=newcomer, topic=topic, body="spam")
    services.pending_reject(pending=rejected, moderator=moderator, reason="Looks like <b>spam</b>")
    approved = services.post_reply(author=newcomer, topic=topic, body="good")
    approved = services.pending_approve(pending=approved, moderator=moderator)
    client.force_login(newcomer)

    rejected_page = _html(client.get(f"/pending/{rejected.pk}/"))
    approved_page = _html(client.get(f"/pending/{approved.pk}/"))

    assert "Rejected" in rejected_page
    assert "Reason: Looks like &lt;b&gt;spam&lt;/b&gt;" in rejected_page
    assert "Approved" in approved_page
    assert f'href="/p/{approved.post_id}/"' in approved_page


def test_a_member_lists_their_posts_awaiting_approval(
    client, approval_posts, topic, newcomer, member
):
    services.post_reply(author=newcomer, topic=topic, body="mine")
    services.post_reply(author=UserFactory(), topic=topic, body="someone else's")
    client.force_login(newcomer)

    page = _html(client.get("/pending/"))

    assert f"A reply in “{topic.title}”" in page
    assert page.count('href="/pending/') == 2  # theirs, and the settings menu's link to this page
    assert "Awaiting approval" in page


def test_visitors_are_sent_to_log_in_for_their_list(client):
    response = client.get("/pending/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- In place, on the topic page -----------------------------------------------------------


def test_the_author_sees_their_pending_replies_in_place_and_nobody_else_does(
    client, approval_posts, topic, newcomer, member
):
    parent = ReplyFactory(topic=topic, author=member, body="Parent")
    under = services.post_reply(author=newcomer, topic=topic, parent=parent, body="Under parent")
    top = services.post_reply(author=newcomer, topic=topic, body="At the end")
    ReplyFactory(topic=topic, author=member, body="Last post")
    client.force_login(member)  # the shared page is built for someone else first
    others = _html(client.get(topic.get_absolute_url()))
    client.force_login(newcomer)

    page = _html(client.get(topic.get_absolute_url()))

    assert "Under parent" not in others
    assert "At the end" not in others
    assert page.count("Awaiting approval") == 2
    parent_at, under_at = page.index(f'id="p{parent.pk}"'), page.index(f'id="pending-{under.pk}"')
    last_at, top_at = page.index("Last post"), page.index(f'id="pending-{top.pk}"')
    assert parent_at < under_at < last_at < top_at
    assert page.index("Under parent") < page.index("Last post") < page.index("At the end")


def test_a_pending_reply_costs_its_author_one_query_on_the_topic_page(
    client, approval_posts, topic, newcomer, django_assert_num_queries
):
    client.force_login(newcomer)
    client.get(topic.get_absolute_url())  # the first read mark
    with CaptureQueriesContext(connection) as without:
        client.get(topic.get_absolute_url())
    services.post_reply(author=newcomer, topic=topic, body="waiting")

    with django_assert_num_queries(len(without) + 1):
        response = client.get(topic.get_absolute_url())

    assert "waiting" in _html(response)
    assert len(without) == 3  # the session, the member, the topic (its page is cached)


def test_decided_posts_are_no_longer_shown_in_place(
    client, approval_posts, topic, newcomer, moderator
):
    pending = services.post_reply(author=newcomer, topic=topic, body="Soon gone")
    services.pending_reject(pending=pending, moderator=moderator, reason="no")
    client.force_login(newcomer)

    assert "Soon gone" not in _html(client.get(topic.get_absolute_url()))


def test_a_pending_reply_whose_parent_is_on_another_page_is_not_shown_here(
    client, approval_posts, topic, newcomer, member, monkeypatch
):
    from threads import selectors

    monkeypatch.setattr(selectors.threads, "POSTS_PER_PAGE", 1)
    ReplyFactory(topic=topic, author=member, body="Second page")
    services.post_reply(author=newcomer, topic=topic, parent=opening_post(topic), body="Under OP")
    services.post_reply(author=newcomer, topic=topic, body="Top level")
    client.force_login(newcomer)

    first = _html(client.get(topic.get_absolute_url()))
    second = _html(client.get(topic.get_absolute_url() + "?page=2"))

    assert "Under OP" in first
    assert "Top level" not in first
    assert "Under OP" not in second
    assert "Top level" in second


def test_hostile_text_is_shown_sanitized_wherever_it_waits(client, approval_posts, topic, newcomer):
    client.force_login(newcomer)
    client.post(
        f"/t/{topic.pk}/reply/", {"body": "<script>alert(1)</script> [x](javascript:alert(1))"}
    )
    pending = PendingPost.objects.get()

    for url in (f"/pending/{pending.pk}/", topic.get_absolute_url(), "/pending/"):
        page = _html(client.get(url))
        assert "<script>alert" not in page
        assert 'href="javascript' not in page


def test_a_refused_reply_keeps_its_text(client, approval_posts, topic, newcomer, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "pending_posts_per_member": 1}
    client.force_login(newcomer)
    client.post(f"/t/{topic.pk}/reply/", {"body": "first"})

    response = client.post(f"/t/{topic.pk}/reply/", {"body": "second, typed with care"})

    assert response.status_code == 429
    assert "second, typed with care" in _html(response)
    assert PendingPost.objects.count() == 1
