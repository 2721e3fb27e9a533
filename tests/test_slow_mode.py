"""Slow mode: each member posts in a slowed topic at most once per its interval."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from threads import services
from threads.models import ModerationAction, Post, Topic

from .factories import CategoryFactory, TopicFactory, UserFactory
from .helpers import form_values, opening_post

pytestmark = pytest.mark.django_db

FIVE_MINUTES = timedelta(minutes=5)
# What a reply costs through the service, as it did before slow mode (measured on the
# code before it), with the first read of the author's and the topic's rows; one more
# on PostgreSQL, the tree ids' advisory lock of a top-level post.
REPLY_QUERIES = {"sqlite": 20, "postgresql": 21}


@pytest.fixture
def slowed(topic, moderator):
    return services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=FIVE_MINUTES)


def _age_posts(author, topic, by: timedelta) -> None:
    for post in Post.objects.filter(author=author, topic=topic):
        Post.objects.filter(pk=post.pk).update(created=post.created - by)


# --- Setting it --------------------------------------------------------------------------


def test_a_moderator_sets_slow_mode_and_the_cached_page_says_so(client, topic, moderator):
    assert "Slow mode" not in client.get(topic.get_absolute_url()).content.decode()  # cached
    revision = Topic.objects.get(pk=topic.pk).revision

    services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=FIVE_MINUTES)

    stored = Topic.objects.get(pk=topic.pk)
    assert (stored.slow_mode, stored.revision != revision) == (FIVE_MINUTES, True)
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "Slow mode: one post per 5 minutes per member." in html
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.moderator, entry.topic_id) == (
        ModerationAction.Action.SLOW_MODE,
        moderator,
        topic.pk,
    )
    assert entry.details == "Slow mode: one post per 5 minutes per member."


def test_turning_it_off(client, slowed, moderator):
    services.topic_set_slow_mode(topic=slowed, moderator=moderator, interval=None)

    assert Topic.objects.get(pk=slowed.pk).slow_mode is None
    assert "Slow mode" not in client.get(slowed.get_absolute_url()).content.decode()
    assert ModerationAction.objects.order_by("-id").first().details == "Slow mode off."


def test_setting_the_same_interval_again_changes_nothing(slowed, moderator):
    revision = Topic.objects.get(pk=slowed.pk).revision

    services.topic_set_slow_mode(topic=slowed, moderator=moderator, interval=FIVE_MINUTES)

    assert Topic.objects.get(pk=slowed.pk).revision == revision
    assert ModerationAction.objects.count() == 1


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-5), timedelta(days=2)])
def test_an_interval_out_of_range_is_refused(topic, moderator, interval):
    with pytest.raises(ValidationError, match="from a second to 1 day"):
        services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=interval)

    assert Topic.objects.get(pk=topic.pk).slow_mode is None


@pytest.mark.parametrize("who", ["member", "other_member"])
def test_members_cannot_set_slow_mode(topic, member, other_member, who):
    user = member if who == "member" else other_member

    with pytest.raises(services.Refused, match="Only moderators"):
        services.topic_set_slow_mode(topic=topic, moderator=user, interval=FIVE_MINUTES)

    assert Topic.objects.get(pk=topic.pk).slow_mode is None
    assert not ModerationAction.objects.exists()


# --- Posting in a slowed topic ------------------------------------------------------------


def test_a_member_posts_once_per_interval(slowed, other_member):
    services.post_reply(author=other_member, topic=slowed, body="first")

    with pytest.raises(services.RateLimited, match=r"slow mode.*once every 5 minutes") as caught:
        services.post_reply(author=other_member, topic=slowed, body="second")

    assert 290 <= caught.value.retry_after <= 300
    assert "Try again in 5 minutes." in caught.value.message
    _age_posts(other_member, slowed, FIVE_MINUTES + timedelta(seconds=1))
    services.post_reply(author=other_member, topic=slowed, body="second")
    assert Post.objects.filter(author=other_member).count() == 2


def test_slow_mode_counts_only_posts_in_that_topic(slowed, other_member, member):
    services.post_reply(author=other_member, topic=slowed, body="here")
    elsewhere = TopicFactory(author=member)

    services.post_reply(author=other_member, topic=elsewhere, body="there")
    services.topic_create(author=other_member, title="New", body="a topic of mine")

    assert Post.objects.filter(author=other_member).count() == 3


def test_the_opening_post_counts(slowed, member):
    """The author of the topic wrote its opening post a moment ago."""
    with pytest.raises(services.RateLimited):
        services.post_reply(author=member, topic=slowed, body="my own reply")


def test_a_topic_slowed_after_a_post_slows_the_next(topic, moderator, other_member):
    services.post_reply(author=other_member, topic=topic, body="before")
    services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=FIVE_MINUTES)

    with pytest.raises(services.RateLimited):
        services.post_reply(author=other_member, topic=topic, body="after")


def test_moderators_of_the_topic_are_not_slowed(
    member, moderator, category_moderator, helpers_group
):
    theirs = CategoryFactory(name="Help", moderator_groups=[helpers_group])
    topic = TopicFactory(author=member, category=theirs)
    services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=FIVE_MINUTES)

    for author in (moderator, category_moderator):
        services.post_reply(author=author, topic=topic, body="one")
        services.post_reply(author=author, topic=topic, body="two")

    assert Post.objects.filter(topic=topic).count() == 5


def test_a_category_moderator_is_slowed_outside_their_categories(
    member, moderator, category_moderator, helpers_group
):
    CategoryFactory(name="Help", moderator_groups=[helpers_group])
    outside = TopicFactory(author=member)
    services.topic_set_slow_mode(topic=outside, moderator=moderator, interval=FIVE_MINUTES)
    services.post_reply(author=category_moderator, topic=outside, body="one")

    with pytest.raises(services.RateLimited, match="slow mode"):
        services.post_reply(author=category_moderator, topic=outside, body="two")

    staff = UserFactory(is_staff=True)  # staff who moderate nothing, likewise
    services.post_reply(author=staff, topic=outside, body="one")
    with pytest.raises(services.RateLimited, match="slow mode"):
        services.post_reply(author=staff, topic=outside, body="two")


def test_edits_are_not_slowed(slowed, other_member):
    reply = services.post_reply(author=other_member, topic=slowed, body="first")

    for text in ("fixed", "fixed again"):
        services.post_edit(post=reply, editor=other_member, body=text)

    assert Post.objects.get(pk=reply.pk).body == "fixed again"


def test_posts_older_than_the_longest_slow_mode_are_not_looked_at(slowed, other_member, settings):
    services.post_reply(author=other_member, topic=slowed, body="first")
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "slow_mode_max": timedelta(minutes=1)}
    _age_posts(other_member, slowed, timedelta(minutes=2))

    services.post_reply(author=other_member, topic=slowed, body="second")


# --- What it costs ------------------------------------------------------------------------


def _reply_queries(author, topic) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.post_reply(author=author, topic=Topic(pk=topic.pk), body=f"at {timezone.now()}")
    return len(queries)


def test_a_reply_costs_no_query_more_for_slow_mode(topic, moderator, other_member, member):
    expected = REPLY_QUERIES[connection.vendor]
    assert _reply_queries(other_member, topic) == expected  # off: as before slow mode
    slowed = TopicFactory(author=member)
    services.topic_set_slow_mode(topic=slowed, moderator=moderator, interval=FIVE_MINUTES)

    assert _reply_queries(other_member, slowed) == expected  # on: in the same query


def test_staff_cost_one_query_more_in_a_slowed_topic_only(topic, moderator, member):
    staff = UserFactory(is_staff=True)
    _reply_queries(staff, TopicFactory(author=member))  # reads their permissions, kept
    before = _reply_queries(staff, topic)  # a first reply in the topic, as the next
    slowed = TopicFactory(author=member)
    services.topic_set_slow_mode(topic=slowed, moderator=moderator, interval=FIVE_MINUTES)

    assert _reply_queries(staff, slowed) == before + 1


# --- Through the pages --------------------------------------------------------------------


def test_a_slowed_reply_is_a_429_that_keeps_the_text(client, slowed, other_member):
    client.force_login(other_member)
    client.post(f"/t/{slowed.pk}/reply/", {"body": "first"})

    response = client.post(f"/t/{slowed.pk}/reply/", {"body": "my *careful* second reply"})

    assert response.status_code == 429
    assert 290 <= int(response["Retry-After"]) <= 300
    assert "slow mode" in response.content.decode()
    assert form_values(response)["body"] == "my *careful* second reply"
    assert Post.objects.filter(author=other_member).count() == 1


def test_a_slowed_edit_goes_through_the_page(client, slowed, member):
    client.force_login(member)
    post = opening_post(slowed)

    response = client.post(f"/p/{post.pk}/edit/", {"body": "changed", "title": slowed.title})

    assert response.status_code == 302
    assert Post.objects.get(pk=post.pk).body == "changed"
