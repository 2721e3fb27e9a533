"""Serving uploads from MEDIA_ROOT (forum/media.py), by the test client and by gunicorn."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from forum import media
from tests import images
from threads import avatars, services

FOREVER = "max-age=31536000, immutable"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def avatar_url(member):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    return default_storage.url(avatars.file_name(member.avatar, "large"))


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_avatar_is_served_for_good(client, avatar_url, member):
    response = client.get(avatar_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == f"public, {FOREVER}"
    assert response["X-Content-Type-Options"] == "nosniff"
    with default_storage.open(avatars.file_name(member.avatar, "large")) as stored:
        assert content(response) == stored.read()


def test_a_missing_file_is_a_404(client, db):
    assert client.get("/media/avatars/1/0123abcd-192.webp").status_code == 404


@pytest.mark.parametrize("name", ["page.html", "drawing.svg", "avatars/script.js", "a.webp.html"])
def test_only_webp_images_are_served(client, db, name):
    default_storage.save(name, ContentFile(b"<script>alert(1)</script>"))

    assert client.get(f"/media/{name}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/../secret.webp",
        "/media/%2e%2e/secret.webp",
        "/media/avatars/../../secret.webp",
        "/media/avatars/%2E%2E/%2E%2E/secret.webp",
        "/media/..%2fsecret.webp",
        "/media/..%5csecret.webp",
        "/media//{root}/secret.webp",
        "/media/%00/../secret.webp",
    ],
)
def test_no_path_leads_out_of_the_media_folder(client, db, media_root, path):
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root.parent / "secret.webp").write_bytes(b"SECRET")

    response = client.get(path.format(root=str(media_root.parent).lstrip("/")))

    assert response.status_code in (400, 404)
    body = content(response) if response.streaming else response.content
    assert b"SECRET" not in body


def test_members_only_forums_keep_avatars_for_members(client, members_only, avatar_url, member):
    response = client.get(avatar_url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))

    client.force_login(member)
    response = client.get(avatar_url)
    assert response.status_code == 200
    assert response["Cache-Control"] == f"private, {FOREVER}"  # no shared cache keeps it


def test_another_storage_serves_its_own_files(settings):
    assert media.served_here()

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }

    assert not media.served_here()


def test_gunicorn_serves_an_avatar_for_good(start_server, media_root, member, tmp_path):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    name = avatars.file_name(member.avatar, "small")
    server = start_server(DJANGO_MEDIA_ROOT=str(media_root))

    answer = server.get(default_storage.url(name))

    assert answer.status == 200, server.log_text()
    assert answer.headers["Content-Type"] == "image/webp"
    assert answer.headers["Cache-Control"] == f"public, {FOREVER}"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert images.decoded(answer.body).size == (64, 64)
    assert server.get("/media/../forum/settings.py").status == 404
