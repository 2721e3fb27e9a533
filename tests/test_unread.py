"""Read marks: what is new to a member (selectors.unread, services.unread), on topic pages
and in topic lists, without breaking the shared page cache."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from threads import services
from threads.models import Post, TopicRead

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import opening_post


def _html(response) -> str:
    return response.content.decode()


def _new(html: str) -> list[int]:
    """The ids of the posts marked new on a page."""
    return [int(n) for n in re.findall(r'<li class="post[^"]* new" id="p(\d+)"', html)]


@pytest.fixture
def reader(db, client):
    """A member of a month's standing, logged in."""
    carol = UserFactory(username="carol", date_joined=timezone.now() - timedelta(days=30))
    client.force_login(carol)
    return carol


@pytest.fixture
def talk(db, member, other_member):
    topic = TopicFactory(author=member, title="Backups at home", body="How do you back up?")
    ReplyFactory(parent=opening_post(topic), author=other_member, body="restic")
    return topic


def test_a_first_visit_marks_every_post_new_and_the_next_none(client, reader, talk):
    first = _html(client.get(talk.get_absolute_url()))
    again = _html(client.get(talk.get_absolute_url()))

    assert _new(first) == list(
        Post.objects.filter(topic=talk).order_by("pk").values_list("pk", flat=True)
    )
    assert "2 new posts" in first
    assert _new(again) == []
    assert "new post" not in again


def test_only_what_came_since_is_new_and_the_link_leads_to_it(client, reader, talk, other_member):
    client.get(talk.get_absolute_url())
    later = ReplyFactory(topic=talk, author=other_member, body="And borg.")

    html = _html(client.get(talk.get_absolute_url()))

    assert _new(html) == [later.pk]
    assert f'<a href="#p{later.pk}">1 new post</a>' in html


def test_a_posts_own_page_marks_what_is_new_below_it_and_then_nothing(
    client, reader, talk, other_member, django_assert_num_queries
):
    client.get(talk.get_absolute_url())
    start = opening_post(talk)
    later = ReplyFactory(parent=start, author=other_member, body="And borg.")
    url = reverse("threads:post_thread", args=[start.pk])

    # The session, the member, the post with its topic and marks, its replies, and
    # the mark written (a top-level post has no ancestors to read).
    with django_assert_num_queries(5):
        first = _html(client.get(url))
    again = _html(client.get(url))

    assert _new(first) == [later.pk]
    assert f'<a href="#p{later.pk}">1 new post</a>' in first
    assert _new(again) == []
    assert _new(_html(client.get(talk.get_absolute_url()))) == []


def test_ones_own_posts_are_never_new(client, reader, talk):
    mine = ReplyFactory(topic=talk, author=reader, body="I use tapes.")

    assert mine.pk not in _new(_html(client.get(talk.get_absolute_url())))


def test_marks_are_per_reader_on_the_shared_page(client, reader, talk):
    client.get(talk.get_absolute_url())  # carol's visit fills the cache and her mark
    other = UserFactory(username="dave", date_joined=timezone.now() - timedelta(days=30))
    dave = Client()
    dave.force_login(other)

    assert len(_new(_html(dave.get(talk.get_absolute_url())))) == 2
    assert _new(_html(Client().get(talk.get_absolute_url()))) == []


def test_what_came_before_the_member_joined_or_long_ago_is_not_new(client, talk, other_member):
    newcomer = UserFactory(username="erin")  # joined after the topic was written
    client.force_login(newcomer)
    assert _new(_html(client.get(talk.get_absolute_url()))) == []

    old = TopicFactory(author=other_member, title="Ancient")
    Post.objects.filter(topic=old).update(created=timezone.now() - timedelta(days=91))
    veteran = UserFactory(username="fay", date_joined=timezone.now() - timedelta(days=400))
    client.force_login(veteran)
    assert _new(_html(client.get(old.get_absolute_url()))) == []


def test_marks_only_go_forward(reader, talk):
    first, second = Post.objects.filter(topic=talk).order_by("pk")
    talk.refresh_from_db()
    services.topic_seen(member=reader, topic=talk, post_id=second.pk)
    services.topic_seen(member=reader, topic=talk, post_id=first.pk)

    assert TopicRead.objects.get(member=reader, topic=talk).seen_post_id == second.pk


def test_a_page_read_again_writes_nothing(client, reader, talk, django_assert_num_queries):
    with django_assert_num_queries(6):  # session, member, topic, its pages, posts, the mark
        client.get(talk.get_absolute_url())
    with django_assert_num_queries(3):  # session, member, topic: the page is cached
        client.get(talk.get_absolute_url())


def test_topic_lists_say_how_many_posts_are_new(client, reader, talk, other_member):
    assert "2 new</span>" in _html(client.get("/"))

    client.get(talk.get_absolute_url())
    assert "new</span>" not in _html(client.get("/"))

    ReplyFactory(topic=talk, author=other_member, body="And borg.")
    assert "1 new</span>" in _html(client.get("/"))
    assert "1 new</span>" in _html(client.get(talk.category.get_absolute_url()))
    assert "new</span>" not in _html(Client().get("/"))


def test_lists_cost_a_member_no_query_more_for_the_marks(
    client, reader, talk, django_assert_num_queries
):
    with django_assert_num_queries(4):  # session, member, the categories, a page of topics
        client.get("/")


def test_marking_everything_as_read(client, reader, talk, other_member):
    response = client.post(reverse("threads:all_read"))

    assert response.status_code == 302
    assert "new</span>" not in _html(client.get("/"))
    assert _new(_html(client.get(talk.get_absolute_url()))) == []
    later = ReplyFactory(topic=talk, author=other_member, body="Later")
    assert _new(_html(client.get(talk.get_absolute_url()))) == [later.pk]


def test_marking_a_category_as_read_leaves_the_others(client, reader, talk, other_member):
    help_desk = CategoryFactory(name="Help desk")
    question = TopicFactory(author=other_member, title="A question", category=help_desk)

    client.post(reverse("threads:category_read", args=[talk.category.slug]))

    assert _new(_html(client.get(talk.get_absolute_url()))) == []
    assert len(_new(_html(client.get(question.get_absolute_url())))) == 1


def test_visitors_mark_nothing(client, talk):
    assert client.post(reverse("threads:all_read")).status_code == 302  # to log in
    client.get(talk.get_absolute_url())

    assert not TopicRead.objects.exists()


def test_old_marks_are_pruned(reader, talk):
    talk.refresh_from_db()
    services.topic_seen(member=reader, topic=talk, post_id=1)
    TopicRead.objects.update(seen=timezone.now() - timedelta(days=91))

    call_command("prune_read_marks", verbosity=0)

    assert not TopicRead.objects.exists()
