"""The admin's part in edit history and slow mode: a post's versions, a topic's slow mode."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from threads import services
from threads.models import ModerationAction, PostRevision, Topic

from .factories import CategoryFactory, TopicFactory, UserFactory
from .helpers import form_data, opening_post

pytestmark = pytest.mark.django_db

Action = ModerationAction.Action


@pytest.fixture
def keeper(db):
    """Staff in the Cat keepers group, which moderates Cats: not a global moderator."""
    user = UserFactory(username="keeper", is_staff=True)
    user.groups.add(Group.objects.create(name="Cat keepers"))
    return user


@pytest.fixture
def places(keeper, member):
    """A topic in Cats (the keeper's) and one in General (not theirs)."""
    cats = CategoryFactory(name="Cats", moderator_groups=[keeper.groups.get()])
    return {
        "cats": TopicFactory(author=member, category=cats, title="About cats"),
        "general": TopicFactory(author=member, title="About nothing"),
    }


# --- A post's versions ---------------------------------------------------------------------


def test_a_moderators_edit_in_the_admin_keeps_a_revision_and_is_logged(
    moderator_client, moderator, topic, member
):
    post = opening_post(topic)
    url = reverse("admin:threads_post_change", args=[post.pk])
    data = form_data(moderator_client.get(url), "post_form")

    response = moderator_client.post(url, {**data, "body": "Tidied by a moderator"})

    assert response.status_code == 302
    revision = PostRevision.objects.get(post=post)
    assert (revision.body, revision.editor) == ("Hello, **forum**.", moderator)
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.member, entry.post_id) == (Action.EDIT, member, post.pk)


def test_the_post_page_lists_its_versions_read_only(moderator_client, topic, member, moderator):
    post = opening_post(topic)
    for text in ("Second", "Third"):
        post = services.post_edit(post=post, editor=member, body=text)
    revision = PostRevision.objects.filter(post=post).first()
    services.revision_set_hidden(revision=revision, moderator=moderator, hidden=True)
    url = reverse("admin:threads_post_change", args=[post.pk])

    page = moderator_client.get(url)
    html = page.content.decode()

    assert "Earlier versions" in html
    assert "Hello, **forum**." in html
    assert "Second" in html
    assert f'href="/p/{post.pk}/history/#r{revision.pk}"' in html
    assert 'name="revisions-0-hidden"' not in html  # hidden or shown through the service only
    # Saving the post's page leaves its versions as they are.
    moderator_client.post(url, form_data(page, "post_form"))
    assert PostRevision.objects.filter(post=post, hidden=True).count() == 1
    assert PostRevision.objects.filter(post=post).count() == 2


def test_a_category_moderator_sees_the_versions_of_their_posts_only(keeper, places, client):
    for topic in places.values():
        services.post_edit(post=opening_post(topic), editor=topic.author, body="edited")
    client.force_login(keeper)

    mine = client.get(reverse("admin:threads_post_change", args=[opening_post(places["cats"]).pk]))
    theirs = client.get(
        reverse("admin:threads_post_change", args=[opening_post(places["general"]).pk])
    )

    assert mine.status_code == 200
    assert "Earlier versions" in mine.content.decode()
    assert theirs.status_code == 302  # the admin's "does not exist" sends them to its index


# --- A topic's slow mode -------------------------------------------------------------------


def test_slow_mode_is_set_from_the_topic_page(moderator_client, topic):
    url = reverse("admin:threads_topic_slow_mode", args=[topic.pk])
    assert moderator_client.get(url).status_code == 200
    assert reverse("admin:threads_topic_slow_mode", args=[topic.pk]) in (
        moderator_client.get(topic.get_absolute_url()).content.decode()
    )

    response = moderator_client.post(url, {"interval": "300"})

    assert response.status_code == 302
    assert Topic.objects.get(pk=topic.pk).slow_mode == timedelta(minutes=5)
    assert ModerationAction.objects.get().action == Action.SLOW_MODE
    moderator_client.post(url, {"interval": ""})
    assert Topic.objects.get(pk=topic.pk).slow_mode is None


def test_an_interval_not_offered_is_refused_with_the_form(moderator_client, topic):
    url = reverse("admin:threads_topic_slow_mode", args=[topic.pk])

    response = moderator_client.post(url, {"interval": "7"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).slow_mode is None


def test_slow_mode_is_set_on_selected_topics(moderator_client, topic, member):
    other = TopicFactory(author=member)
    data = {"action": "set_slow_mode", "_selected_action": [topic.pk, other.pk]}
    changelist = reverse("admin:threads_topic_changelist")

    asked = moderator_client.post(changelist, data)
    done = moderator_client.post(changelist, {**data, "interval": "3600"}, follow=True)

    assert asked.status_code == 200
    assert "One post per member every" in asked.content.decode()
    assert "Slow mode set on 2 topics." in done.content.decode()
    assert set(Topic.objects.values_list("slow_mode", flat=True)) == {timedelta(hours=1)}
    assert ModerationAction.objects.filter(action=Action.SLOW_MODE).count() == 2


def test_the_topic_admin_shows_the_slow_mode(moderator_client, topic, moderator):
    services.topic_set_slow_mode(topic=topic, moderator=moderator, interval=timedelta(minutes=15))

    html = moderator_client.get(reverse("admin:threads_topic_change", args=[topic.pk])).content

    assert "0:15:00" in html.decode()


def test_category_moderators_set_slow_mode_in_their_categories_only(keeper, places, client):
    client.force_login(keeper)

    def url(place: str) -> str:
        return reverse("admin:threads_topic_slow_mode", args=[places[place].pk])

    assert client.post(url("cats"), {"interval": "60"}).status_code == 302
    assert client.get(url("general")).status_code == 403
    assert client.post(url("general"), {"interval": "60"}).status_code == 403
    assert Topic.objects.get(pk=places["cats"].pk).slow_mode == timedelta(minutes=1)
    assert Topic.objects.get(pk=places["general"].pk).slow_mode is None


def test_members_cannot_reach_the_slow_mode_page(member_client, topic):
    response = member_client.post(
        reverse("admin:threads_topic_slow_mode", args=[topic.pk]), {"interval": "60"}
    )

    assert response.status_code == 302  # to the admin's login
    assert Topic.objects.get(pk=topic.pk).slow_mode is None
