"""Members: display names and bios (services.members), the settings page, ignoring a
member, and the rebuild of a member's bylines (services.bylines), with a real worker."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from threads import selectors, services
from threads.models import Ignore, Post, Topic, User
from threads.services import bylines

from .factories import ReplyFactory, TopicFactory, UserFactory


def _html(response) -> str:
    return response.content.decode()


def _set_name(user: User, name: str) -> User:
    return services.profile_update(user=user, display_name=name, bio=user.bio)


# --- Display names and bios ---------------------------------------------------------------


def test_a_display_name_is_saved_without_hidden_characters(member):
    _set_name(member, "  Ali\u200bce \u202eLiddell  ")

    member.refresh_from_db()
    assert member.display_name == "Alice Liddell"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 51, "at most 50 characters"),
        ("Alice\nLiddell", "one line of text"),
        ("\u200b\u3164", "needs a visible letter"),
        ("@mod", "cannot start with @"),
    ],
)
def test_a_display_name_the_rules_refuse_is_a_form_error_of_its_field(member, name, message):
    with pytest.raises(ValidationError) as refused:
        _set_name(member, name)

    assert message in " ".join(refused.value.message_dict["display_name"])
    member.refresh_from_db()
    assert member.display_name == ""


def test_an_empty_display_name_shows_the_handle_alone(member):
    _set_name(member, "Alice")
    _set_name(member, "   ")

    member.refresh_from_db()
    assert member.display_name == ""


def test_a_bio_is_rendered_once_when_it_is_written(member):
    services.profile_update(
        user=member, display_name="", bio="I like **tea**.\n\n<script>x</script>"
    )

    member.refresh_from_db()
    assert "<strong>tea</strong>" in member.bio_html
    assert "<script>" not in member.bio_html


def test_a_bio_is_bounded_like_a_post(member):
    with pytest.raises(ValidationError) as too_long:
        services.profile_update(user=member, display_name="", bio="x" * 2001)
    with pytest.raises(ValidationError) as too_complex:
        services.profile_update(user=member, display_name="", bio=">" * 300)

    assert "at most 2,000 characters" in too_long.value.message_dict["bio"][0]
    assert too_complex.value.error_dict["bio"][0].code == "too_complex"


def test_a_suspended_member_cannot_change_their_profile_or_avatar(banned, settings, tmp_path):
    from . import images

    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(services.Refused):
        _set_name(banned, "Innocent")
    with pytest.raises(services.Refused):
        services.avatar_set(user=banned, upload=images.upload(images.png()))
    banned.refresh_from_db()
    assert (banned.display_name, banned.avatar) == ("", "")


def test_only_a_new_display_name_queues_a_rebuild_of_the_bylines(member):
    services.profile_update(user=member, display_name="", bio="Only a bio.")
    assert DBTaskResult.objects.count() == 0

    _set_name(member, "Alice")
    _set_name(member, "Alice")

    assert DBTaskResult.objects.get().task_path == "threads.services.bylines.bylines_rebuild_task"


def test_changes_of_name_are_limited(member, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "byline_changes_per_window": 2}
    _set_name(member, "A")
    _set_name(member, "B")

    with pytest.raises(services.RateLimited):
        _set_name(member, "C")
    member.refresh_from_db()
    assert member.display_name == "B"


# --- The rebuild of bylines -----------------------------------------------------------------


@pytest.fixture
def prolific(member, other_member):
    """Alice's posts in three topics, one of them bob's, with bob's replies among them."""
    mine = [TopicFactory(author=member, title=f"Mine {n}") for n in range(2)]
    theirs = TopicFactory(author=other_member, title="Bob's")
    for topic in [*mine, theirs]:
        for n in range(4):
            ReplyFactory(topic=topic, author=member, body=f"Alice {n}")
            ReplyFactory(topic=topic, author=other_member, body=f"Bob {n}")
    return [*mine, theirs]


def test_a_rebuild_shows_the_new_name_on_every_post_and_topic_row(prolific, member, run_tasks):
    revisions = dict(Topic.objects.values_list("pk", "revision"))
    _set_name(member, "Alice Liddell")

    assert run_tasks() == 1

    alices = Post.objects.filter(author=member)
    assert alices.count() == 14
    assert all('<bdi class="display-name">Alice Liddell</bdi>' in p.fragment for p in alices)
    assert not any("Alice Liddell" in p.fragment for p in Post.objects.exclude(author=member))
    rows = dict(Topic.objects.values_list("title", "row_html"))
    assert "Alice Liddell" in rows["Mine 0"]
    assert "Alice Liddell" not in rows["Bob's"]
    assert all(revisions[pk] != rev for pk, rev in Topic.objects.values_list("pk", "revision"))


def test_a_rebuild_goes_in_batches_with_pauses_between_them(prolific, member, monkeypatch):
    """Every batch has at most `batch` posts, and the rebuild pauses between batches."""
    batches, pauses = [], []
    rebuild_batch = bylines._rebuild_batch

    def spy(**kwargs):
        done, last = rebuild_batch(**kwargs)
        batches.append(done)
        return done, last

    monkeypatch.setattr(bylines, "_rebuild_batch", spy)
    monkeypatch.setattr(bylines, "sleep", pauses.append)
    _set_name(member, "Alice Liddell")

    rebuilt = services.bylines_rebuild(user_id=member.pk, batch=3, pause=0.25)

    assert (rebuilt.posts, rebuilt.batches) == (14, 5)
    assert batches == [3, 3, 3, 3, 2]
    assert pauses == [0.25] * 4


def test_a_rebuild_run_twice_changes_nothing_more(prolific, member):
    _set_name(member, "Alice Liddell")
    services.bylines_rebuild(user_id=member.pk, pause=0)
    fragments = dict(Post.objects.values_list("pk", "fragment"))

    services.bylines_rebuild(user_id=member.pk, pause=0)

    assert dict(Post.objects.values_list("pk", "fragment")) == fragments


def test_a_rebuild_of_a_member_without_posts_or_account_does_nothing(db):
    assert services.bylines_rebuild(user_id=999_999).posts == 0


@pytest.mark.django_db(transaction=True)
def test_a_new_name_reaches_every_post_through_the_worker(client, start_worker):
    member = UserFactory(username="alice")
    topic = TopicFactory(author=member, title="Tea")
    ReplyFactory(topic=topic, author=member, body="More tea")
    worker = start_worker()
    client.force_login(member)

    response = client.post(reverse("threads:settings"), {"display_name": "Alice L.", "bio": ""})

    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        "Alice L." in fragment for fragment in Post.objects.values_list("fragment", flat=True)
    ):
        time.sleep(0.1)
    assert "Alice L." in _html(client.get(topic.get_absolute_url())), worker.log_text()
    assert all("Alice L." in f for f in Post.objects.values_list("fragment", flat=True))


# --- The settings page ----------------------------------------------------------------------


def test_the_settings_page_shows_the_members_own_values(
    member_client, member, django_assert_num_queries
):
    _set_name(member, "Alice")

    with django_assert_num_queries(2):  # session, member
        response = member_client.get(reverse("threads:settings"))

    assert response.status_code == 200
    assert 'value="Alice"' in _html(response)


def test_visitors_are_sent_to_log_in_for_the_settings_page(client):
    response = client.get(reverse("threads:settings"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_settings_saved_through_the_page_show_on_the_profile(member_client, member):
    response = member_client.post(
        reverse("threads:settings"), {"display_name": "Alice L.", "bio": "Curious."}
    )

    assert response.status_code == 302
    profile = _html(member_client.get(member.get_absolute_url()))
    assert '<bdi class="display-name">Alice L.</bdi> <span class="handle">@alice</span>' in profile
    assert "<p>Curious.</p>" in profile


def test_a_refused_setting_keeps_what_was_typed(member_client, member):
    response = member_client.post(
        reverse("threads:settings"), {"display_name": "@admin", "bio": "My long story"}
    )

    assert response.status_code == 400
    html = _html(response)
    assert "cannot start with @" in html
    assert 'value="@admin"' in html
    assert "My long story" in html
    member.refresh_from_db()
    assert member.bio == ""


# --- Ignoring a member ----------------------------------------------------------------------


def _ignore(client, username: str, ignore: str = "1"):
    return client.post(reverse("threads:ignore", args=[username]), {"ignore": ignore})


def test_a_member_ignored_from_their_profile_has_their_posts_folded(
    member_client, member, other_member, topic, client, moderator
):
    bobs = ReplyFactory(topic=topic, author=other_member, body="Noise")
    mine = ReplyFactory(topic=topic, author=member, body="Signal")
    assert "Ignore @bob" in _html(member_client.get(other_member.get_absolute_url()))

    assert _ignore(member_client, "bob").status_code == 302

    html = _html(member_client.get(topic.get_absolute_url()))
    assert f'id="p{bobs.pk}"><details class="is-ignored">' in html
    assert f'id="p{mine.pk}"><details open>' in html
    assert "Stop ignoring @bob" in _html(member_client.get(other_member.get_absolute_url()))
    client.force_login(moderator)  # the same cached page, unfolded for everyone else
    assert f'id="p{bobs.pk}"><details open>' in _html(client.get(topic.get_absolute_url()))


def test_ignored_posts_are_folded_on_a_posts_own_page(member_client, other_member, topic):
    bobs = ReplyFactory(topic=topic, author=other_member, body="Noise")
    _ignore(member_client, "bob")

    html = _html(member_client.get(reverse("threads:post_thread", args=[bobs.pk])))

    assert f'id="p{bobs.pk}"><details class="is-ignored">' in html


def test_stopping_ignoring_unfolds_their_posts(member_client, other_member, topic):
    bobs = ReplyFactory(topic=topic, author=other_member, body="Noise")
    _ignore(member_client, "bob")

    _ignore(member_client, "bob", ignore="0")

    assert not Ignore.objects.exists()
    html = _html(member_client.get(topic.get_absolute_url()))
    assert f'id="p{bobs.pk}"><details open>' in html


def test_ignoring_twice_is_ignoring_once(member, other_member):
    services.member_ignore(member=member, ignored=other_member)
    services.member_ignore(member=member, ignored=other_member)

    assert Ignore.objects.count() == 1


def test_nobody_ignores_themselves_or_a_moderator(member_client, member, moderator):
    for username in ("alice", "mod"):
        response = _ignore(member_client, username)
        assert response.status_code == 302
    assert not Ignore.objects.exists()
    with pytest.raises(services.Refused):
        services.member_ignore(member=member, ignored=moderator)


def test_ignoring_costs_a_query_only_to_readers_who_ignore_someone(
    member_client, member, other_member, topic, django_assert_num_queries
):
    ReplyFactory(topic=topic, author=other_member, body="Noise")
    member_client.get(topic.get_absolute_url())  # cached

    with django_assert_num_queries(3):  # session, member, topic row
        member_client.get(topic.get_absolute_url())
    services.member_ignore(member=member, ignored=other_member)
    with django_assert_num_queries(4):  # and whom they ignore
        member_client.get(topic.get_absolute_url())


def test_visitors_cannot_ignore_and_nobody_ignores_a_missing_member(client, member, other_member):
    assert _ignore(client, "bob").status_code == 302  # to log in
    assert not Ignore.objects.exists()
    member_client = client
    member_client.force_login(member)
    assert _ignore(member_client, "nobody-here").status_code == 404
    assert member_client.get(reverse("threads:ignore", args=["bob"])).status_code == 405


def test_the_profile_says_whether_the_reader_ignores_the_member(member, other_member):
    services.member_ignore(member=member, ignored=other_member)

    assert selectors.member(username="BOB", viewer=member).is_ignored
    assert not selectors.member(username="bob", viewer=other_member).is_ignored


# --- What reviewers found ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("\uff20moderator", "cannot start with @"),  # a fullwidth @
        ("BOB", "another member's handle"),
        ("a" + "\u0301" * 200, "at most 50 characters"),
        ("\u200b\u200b", "needs a visible letter"),
    ],
)
def test_a_display_name_cannot_pass_for_a_handle_or_hide(member, other_member, name, message):
    with pytest.raises(ValidationError) as refused:
        _set_name(member, name)

    assert message in " ".join(refused.value.message_dict["display_name"])


def test_ones_own_handle_is_a_fine_display_name(member):
    assert _set_name(member, "Alice").display_name == "Alice"
    assert _set_name(member, "alice").display_name == "alice"


def test_a_bio_as_long_as_the_box_allows_is_taken_with_its_line_ends(member_client, member):
    """Browsers send each line end as two characters; the limit counts one."""
    bio = "\r\n".join(["x" * 94] * 21)  # 1,994 characters as typed

    response = member_client.post(reverse("threads:settings"), {"display_name": "", "bio": bio})

    assert response.status_code == 302
    member.refresh_from_db()
    assert len(member.bio) == 1994


def test_the_display_name_box_takes_what_the_rules_allow(member_client):
    html = _html(member_client.get(reverse("threads:settings")))

    assert 'maxlength="50"' in html


def test_a_moderators_profile_offers_no_ignore_button(member_client, moderator, other_member):
    assert "Ignore @mod" not in _html(member_client.get(moderator.get_absolute_url()))
    assert "Ignore @bob" in _html(member_client.get(other_member.get_absolute_url()))


def test_the_password_page_keeps_the_settings_menu(member_client):
    html = _html(member_client.get(reverse("password_change")))

    assert 'class="settings-nav"' in html
    assert 'aria-current="page">Password' in html
