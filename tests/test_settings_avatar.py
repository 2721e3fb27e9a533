"""The avatar page, /settings/avatar/ (threads/views/settings_avatar.py)."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from tests import images
from threads import avatars, services
from threads.models import Post

URL = reverse("threads:settings_avatar")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_visitors_are_sent_to_log_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_shows_the_form_and_both_avatars(member_client, member, django_assert_num_queries):
    services.avatar_set(user=member, upload=images.upload(images.png()))

    with django_assert_num_queries(2):  # the session, the member
        response = member_client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Avatar</h1>" in html
    assert 'enctype="multipart/form-data"' in html
    assert f'accept="{avatars.ACCEPT}"' in html
    assert default_storage.url(avatars.file_name(member.avatar, "large")) in html
    assert 'class="avatar avatar-large avatar-c' in html  # the generated one
    assert "Use the generated avatar" in html


def test_without_an_upload_the_generated_avatar_shows(member_client):
    html = member_client.get(URL).content.decode()

    assert "<img" not in html
    assert "the generated one" in html
    assert "Use the generated avatar" not in html


HOSTILE = [
    ("over-2-MB", b"\x89PNG" + b"x" * avatars.MAX_BYTES, "big.png", "over 2 MB"),
    ("text", b"Just some text.\n", "notes.txt", "not an image we can read"),
    ("svg", images.SVG, "drawing.svg", "SVG images are not accepted"),
    ("svg-named-png", images.SVG, "drawing.png", "SVG images are not accepted"),
    ("bomb", images.png_claiming(50_000, 50_000), "bomb.png", "at most 4,000 by 4,000 pixels"),
    ("truncated", images.truncated_jpeg(), "cut.jpg", "damaged or incomplete"),
]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_refused_upload_shows_why_on_the_form(member_client, member, data, name, message):
    response = member_client.post(URL, {"image": images.upload(data, name)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'enctype="multipart/form-data"' in response.content.decode()
    member.refresh_from_db()
    assert member.avatar == ""
    assert not default_storage.exists("avatars")
    assert not DBTaskResult.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(member_client, member):
    """No temporary file of it is kept: the body is refused from its declared length."""
    data = b"\x89PNG" + b"x" * (avatars.MAX_BYTES + 512 * 1024)  # under the global limit

    response = member_client.post(URL, {"image": images.upload(data, "huge.png")})

    assert response.status_code == 413
    assert "over 2 MB" in response.content.decode()
    member.refresh_from_db()
    assert member.avatar == ""


def test_a_big_body_without_the_security_token_is_refused_too(client, member):
    client.force_login(member)
    client.handler.enforce_csrf_checks = True

    small = client.post(URL, {"image": images.upload(images.png(), "me.png")})

    assert small.status_code == 403
    member.refresh_from_db()
    assert member.avatar == ""


def test_a_form_without_a_file_says_so(member_client):
    response = member_client.post(URL, {})

    assert response.status_code == 400
    assert "Choose an image to upload." in response.content.decode()


@pytest.mark.django_db(transaction=True)  # the worker (run_tasks) closes connections
def test_an_upload_shows_on_every_post_of_the_member(client, member, run_tasks):
    from tests.factories import TopicFactory

    topic = TopicFactory(author=member)
    client.force_login(member)

    response = client.post(URL, {"image": images.upload(images.jpeg_with_metadata(), "me.jpg")})

    assert response.status_code == 302
    assert response["Location"] == URL
    member.refresh_from_db()
    assert all(stored for stored in _stored(member.avatar))
    assert "Your new avatar is saved" in client.get(URL).content.decode()
    run_tasks()
    fragment = Post.objects.get(topic=topic).fragment
    assert f'<img class="avatar avatar-small" src="/media/{member.avatar}-64.webp"' in fragment


def _stored(stem: str) -> list[bool]:
    return [default_storage.exists(avatars.file_name(stem, size)) for size in avatars.SIZES]


def test_removing_goes_back_to_the_generated_avatar(member_client, member):
    services.avatar_set(user=member, upload=images.upload(images.png()))

    response = member_client.post(URL, {"remove": "1"}, follow=True)

    member.refresh_from_db()
    assert member.avatar == ""
    assert "Your avatar is the generated one again." in response.content.decode()


def test_a_limit_reached_is_a_429(member_client, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "avatar_uploads_per_window": 1}
    member_client.post(URL, {"image": images.upload(images.png())})

    response = member_client.post(URL, {"image": images.upload(images.png(colour=images.BLUE))})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "many times" in response.content.decode()
