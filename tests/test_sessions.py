from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from forum.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_forum_keeps_its_sessions_in_the_database():
    assert settings.SESSION_ENGINE == "forum.sessions"


def test_a_session_is_read_back_as_it_was_saved(django_assert_num_queries):
    saved = SessionStore()
    saved["member"] = {"id": 7, "name": "ann"}
    saved.save()

    read = SessionStore(saved.session_key)
    with django_assert_num_queries(1):
        assert read["member"] == {"id": 7, "name": "ann"}
    assert read.session_key == saved.session_key


def test_an_expired_or_unknown_session_is_empty_and_gets_a_new_key():
    expired = SessionStore()
    expired["member"] = 7
    expired.save()
    Session.objects.filter(pk=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    for key in (expired.session_key, "x" * 32):
        read = SessionStore(key)
        assert dict(read) == {}
        read["new"] = 1
        read.save()
        assert read.session_key != key


def test_a_tampered_session_is_empty():
    saved = SessionStore()
    saved["member"] = 7
    saved.save()
    Session.objects.filter(pk=saved.session_key).update(session_data="forged:data")

    assert dict(SessionStore(saved.session_key)) == {}


def test_logging_out_ends_the_session(client, member):
    client.force_login(member)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).get("_auth_user_id") == str(member.pk)

    client.post("/accounts/logout/")

    assert dict(SessionStore(key)) == {}
    assert not Session.objects.filter(pk=key).exists()


def test_a_member_stays_logged_in_from_page_to_page(client, member):
    client.force_login(member)

    assert "@alice" in client.get("/").content.decode()
    assert "@alice" in client.get("/settings/").content.decode()
