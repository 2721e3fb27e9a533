import pytest
from django.db import IntegrityError, transaction
from django.urls import resolve
from django.utils import timezone

from threads import rendering
from threads.models import BODY_MAX_LENGTH, Post, Topic, User

from .factories import ReplyFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db


def _raw_post(topic: Topic, body: str) -> Post:
    """A post saved straight to the database, skipping the services' checks."""
    return Post.objects.create(
        topic=topic,
        author=topic.author,
        body=body,
        body_html="",
        fragment="",
        render_version=rendering.RENDER_VERSION,
        created=timezone.now(),
    )


def test_the_database_refuses_an_empty_title(member):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Topic.objects.create(title="", slug="x", author=member, created=now, last_activity=now)
    assert not Topic.objects.exists()


def test_the_database_refuses_an_empty_body(topic):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_post(topic, "")
    assert Post.objects.count() == 1


def test_the_database_refuses_a_body_over_the_limit(topic):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_post(topic, "x" * (BODY_MAX_LENGTH + 1))
    assert Post.objects.count() == 1


def test_the_database_takes_a_body_at_the_limit(topic):
    post = _raw_post(topic, "x" * BODY_MAX_LENGTH)

    assert len(Post.objects.get(pk=post.pk).body) == BODY_MAX_LENGTH


def test_the_database_refuses_an_unknown_removal(topic):
    post = opening_post(topic)
    with pytest.raises(IntegrityError), transaction.atomic():
        Post.objects.filter(pk=post.pk).update(removal="spam")
    assert Post.objects.get(pk=post.pk).removal == ""


def test_usernames_are_unique_ignoring_case(member):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="ALICE", email="other@example.org", password="pw")
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]


def test_user_url_is_the_profile(member):
    assert member.get_absolute_url() == "/u/alice/"


def test_topic_url_has_its_id_and_slug(topic):
    match = resolve(topic.get_absolute_url())

    assert match.view_name == "threads:topic_detail"
    assert match.kwargs == {"pk": topic.pk, "slug": "a-first-topic"}


def test_post_url_is_the_permalink(topic, other_member):
    reply = ReplyFactory(topic=topic, author=other_member)

    assert reply.get_absolute_url() == f"/p/{reply.pk}/"


def test_is_removed_follows_the_removal_field(topic):
    post = opening_post(topic)
    assert not post.is_removed
    for removal in (Post.Removal.AUTHOR, Post.Removal.MODERATOR):
        post.removal = removal
        assert post.is_removed
