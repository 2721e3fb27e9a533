"""The admin's Split and Merge pages (threads.admin.splits) and the topic page's links to them."""

import pytest
from django.urls import reverse

from threads import services
from threads.models import Post, Topic

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import form_values, opening_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(member, other_member, helpers_group):
    """A topic in General with a reply, and Help (moderated by the Helpers) with a topic."""
    help_category = CategoryFactory(name="Help", moderator_groups=[helpers_group])
    topic = TopicFactory(author=member, title="Backups")
    reply = ReplyFactory(topic=topic, author=other_member, body="Use borg")
    deeper = ReplyFactory(parent=reply, author=member, body="Why?")
    helped = TopicFactory(author=member, category=help_category, title="Helped")
    return {
        "topic": topic,
        "reply": reply,
        "deeper": deeper,
        "help": help_category,
        "helped": helped,
    }


def _split_url(post: Post) -> str:
    return reverse("admin:threads_post_split", args=[post.pk])


def _merge_url(topic: Topic) -> str:
    return reverse("admin:threads_topic_merge", args=[topic.pk])


# --- Split ----------------------------------------------------------------------------------


def test_the_split_page_splits(moderator_client, scene, django_assert_num_queries):
    with django_assert_num_queries(8):
        page = moderator_client.get(_split_url(scene["reply"]))
    assert page.status_code == 200
    assert "Use borg" in page.content.decode()

    response = moderator_client.post(
        _split_url(scene["reply"]),
        {"title": "About borg", "category": scene["help"].pk, "reason": ""},
    )

    new = Topic.objects.get(title="About borg")
    assert response.status_code == 302
    assert response["Location"] == new.get_absolute_url()
    assert new.category == scene["help"]
    assert Post.objects.get(pk=scene["deeper"].pk).topic == new


def test_the_opening_post_is_refused_on_the_form(moderator_client, scene):
    url = _split_url(opening_post(scene["topic"]))
    assert "cannot be split off" in moderator_client.get(url).content.decode()

    response = moderator_client.post(url, {"title": "Kept title", "category": scene["help"].pk})

    assert response.status_code == 400
    assert "opening post cannot be split off" in response.content.decode()
    assert form_values(response)["title"] == "Kept title"
    assert Topic.objects.count() == 2


@pytest.mark.parametrize(
    ("title", "error"),
    [("   ", "This field is required"), ("\u200b", "The topic needs a title."), ("x" * 201, "")],
)
def test_a_bad_title_is_refused_on_the_form(moderator_client, scene, title, error):
    response = moderator_client.post(
        _split_url(scene["reply"]), {"title": title, "category": scene["help"].pk}
    )

    assert response.status_code == 400
    assert error in response.content.decode()
    assert Topic.objects.count() == 2


def test_a_category_moderator_splits_only_into_their_categories(client, scene, category_moderator):
    client.force_login(category_moderator)
    reply = ReplyFactory(topic=scene["helped"], body="aside")
    page = client.get(_split_url(reply)).content.decode()
    assert "Help" in page
    assert f'value="{services.default_category().pk}"' not in page  # General: not theirs

    response = client.post(
        _split_url(reply), {"title": "Out", "category": services.default_category().pk}
    )

    assert response.status_code == 400
    assert "Choose one of the categories you moderate." in response.content.decode()
    assert form_values(response)["title"] == "Out"
    assert client.get(_split_url(scene["reply"])).status_code == 403  # a post in General
    assert Post.objects.get(pk=reply.pk).topic == scene["helped"]


def test_members_are_sent_to_the_admin_login(member_client, scene):
    for url in (_split_url(scene["reply"]), _merge_url(scene["topic"])):
        response = member_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_a_missing_post_or_topic_is_a_404(moderator_client):
    assert moderator_client.get("/admin/threads/post/999999/split/").status_code == 404
    assert moderator_client.get("/admin/threads/topic/999999/merge/").status_code == 404


# --- Merge ----------------------------------------------------------------------------------


@pytest.mark.parametrize("into", ["id", "url", "short url"])
def test_the_merge_page_merges(moderator_client, scene, into, django_assert_num_queries):
    target = scene["helped"]
    typed = {
        "id": f" {target.pk} ",
        "url": f"https://forum.example{target.get_absolute_url()}?page=1",
        "short url": f"/t/{target.pk}/",
    }[into]
    with django_assert_num_queries(5):
        assert moderator_client.get(_merge_url(scene["topic"])).status_code == 200

    response = moderator_client.post(_merge_url(scene["topic"]), {"into": typed, "reason": ""})

    assert response.status_code == 302
    assert response["Location"] == Topic.objects.get(pk=target.pk).get_absolute_url()
    assert not Topic.objects.filter(pk=scene["topic"].pk).exists()
    assert Post.objects.get(pk=scene["deeper"].pk).topic_id == target.pk


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("next door", "the topic&#x27;s id (a number) or its address"),
        ("99999999999999999999999", "the topic&#x27;s id (a number) or its address"),
        ("999999", "That topic no longer exists."),
        ("self", "cannot be merged into itself"),
        ("x" * 3000, "at most 2000 characters"),
    ],
)
def test_a_refused_merge_keeps_what_was_typed(moderator_client, scene, typed, error):
    typed = str(scene["topic"].pk) if typed == "self" else typed

    response = moderator_client.post(_merge_url(scene["topic"]), {"into": typed})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert form_values(response)["into"] == typed
    assert Topic.objects.count() == 2


def test_a_category_moderator_merges_only_into_topics_they_moderate(
    client, scene, category_moderator
):
    client.force_login(category_moderator)
    other = TopicFactory(author=UserFactory(), category=scene["help"], title="Other help")

    response = client.post(_merge_url(other), {"into": str(scene["topic"].pk)})

    assert response.status_code == 400
    assert "Only moderators can do that." in response.content.decode()
    assert client.get(_merge_url(scene["topic"])).status_code == 403
    assert client.post(_merge_url(other), {"into": str(scene["helped"].pk)}).status_code == 302
    assert not Topic.objects.filter(pk=other.pk).exists()


# --- The topic page's links -----------------------------------------------------------------


def test_moderators_find_split_and_merge_on_the_topic_page(moderator_client, scene):
    html = moderator_client.get(scene["topic"].get_absolute_url()).content.decode()

    assert f'href="{_merge_url(scene["topic"])}">Merge into another topic' in html
    assert f'href="{_split_url(scene["reply"])}">Split' in html
    assert f'href="{_split_url(scene["deeper"])}">Split' in html
    assert _split_url(opening_post(scene["topic"])) not in html


def test_a_posts_own_page_offers_split_but_on_the_opening_post(moderator_client, scene, member):
    opening = opening_post(scene["topic"])
    under = ReplyFactory(parent=opening, author=member, body="Under the opening post")

    on_opening = moderator_client.get(f"/p/{opening.pk}/thread/").content.decode()
    on_under = moderator_client.get(f"/p/{under.pk}/thread/").content.decode()
    on_deeper = moderator_client.get(f"/p/{scene['deeper'].pk}/thread/").content.decode()

    assert _split_url(opening) not in on_opening
    assert _split_url(under) in on_opening
    assert _split_url(opening) not in on_under  # shown above it, as context
    assert _split_url(under) in on_under
    assert _split_url(scene["reply"]) in on_deeper  # a top-level reply, not the opening post
    assert _split_url(scene["deeper"]) in on_deeper


def test_category_moderators_find_the_links_only_where_they_moderate(
    client, scene, category_moderator, member
):
    client.force_login(category_moderator)
    helped = ReplyFactory(topic=scene["helped"], author=member, body="helped reply")

    assert _split_url(helped) in client.get(scene["helped"].get_absolute_url()).content.decode()
    general = client.get(scene["topic"].get_absolute_url()).content.decode()
    assert "/split/" not in general
    assert "/merge/" not in general
    client.force_login(member)  # a member sees neither
    assert "/split/" not in client.get(scene["helped"].get_absolute_url()).content.decode()


@pytest.mark.parametrize("category", ["", "nope", "99999999999999999999999", "-1"])
def test_a_bad_category_is_refused_on_the_form(moderator_client, scene, category):
    response = moderator_client.post(
        _split_url(scene["reply"]), {"title": "Kept title", "category": category}
    )

    assert response.status_code == 400
    assert form_values(response)["title"] == "Kept title"
    assert Topic.objects.count() == 2
