import pytest
from django.contrib.auth import get_user
from django.test import RequestFactory

from threads.auth import MemberBackend
from threads.models import Inbox

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_member_is_read_with_their_count_in_one_query(member, django_assert_num_queries):
    Inbox.objects.create(member=member, unread=3)

    with django_assert_num_queries(1):
        read = MemberBackend().get_user(member.pk)
        assert read.unread_notifications == 3
        assert read.inbox.unread == 3

    assert read == member
    fields = [field.attname for field in type(member)._meta.concrete_fields]
    assert [getattr(read, name) for name in fields] == [getattr(member, name) for name in fields]
    assert not hasattr(read, "inbox_unread")


def test_a_member_without_an_inbox_has_no_unread_notifications(member, django_assert_num_queries):
    with django_assert_num_queries(1):
        read = MemberBackend().get_user(member.pk)
        assert read.unread_notifications == 0


def test_a_missing_member_is_nobody():
    assert MemberBackend().get_user(404) is None


def test_a_suspended_member_stays_signed_in():
    banned = UserFactory(username="banned", is_active=False)

    assert MemberBackend().get_user(banned.pk) == banned


def test_a_signed_in_member_is_read_from_the_session(client, member, django_assert_num_queries):
    client.force_login(member)
    request = RequestFactory().get("/")
    request.session = client.session

    with django_assert_num_queries(2):  # the session, the member with their count
        assert get_user(request) == member
