"""forum/middleware.py: the members-only mode (the outage and CSP middlewares have
tests of their own in test_outages.py and test_security.py)."""

import pytest
from django.urls import reverse

from .helpers import opening_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def members_only(settings):
    settings.FORUM_LOGIN_REQUIRED = True


def _reading_urls(topic) -> list[str]:
    post = opening_post(topic)
    return [
        "/",
        topic.get_absolute_url(),
        f"/t/{topic.pk}/",
        f"/t/{topic.pk}/download.md",
        f"/p/{post.pk}/",
        f"/p/{post.pk}/thread/",
        "/u/alice/",
        "/help/formatting/",
        "/t/new/",
        f"/t/{topic.pk}/reply/",
        f"/p/{post.pk}/edit/",
    ]


def test_members_only_sends_visitors_to_log_in_from_every_page(
    client, topic, members_only, django_assert_num_queries
):
    for url in _reading_urls(topic):
        with django_assert_num_queries(0):
            response = client.get(url)

        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/done/",
        "/static/css/forum.css",
    ],
)
def test_members_only_keeps_the_way_in_public(client, members_only, url):
    assert client.get(url).status_code == 200


def test_members_only_lets_members_read(member_client, topic, members_only):
    for url in _reading_urls(topic)[:8]:
        assert member_client.get(url, follow=True).status_code == 200, url


def test_members_only_keeps_what_a_logged_out_member_typed(client, topic, members_only):
    response = client.post(reverse("threads:topic_reply", args=[topic.pk]), {"body": "typed"})

    assert response.status_code == 403
    assert "typed</textarea>" in response.content.decode()


def test_the_forum_is_public_unless_members_only(client, topic):
    assert client.get("/").status_code == 200
    assert client.get(topic.get_absolute_url()).status_code == 200
