"""Avatar uploads: checking and re-encoding an image (threads/avatars.py), and
setting, removing and deleting a member's avatar (threads/services/avatars.py)."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image, ImageFile

from tests import images
from tests.factories import ReplyFactory
from threads import avatars, services
from threads.models import Post
from threads.services.avatars import KEEP_REPLACED, avatar_files_delete_task


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- Refused files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "content_type", "code", "words"),
    [
        (b"x" * (avatars.MAX_BYTES + 1), "big.png", "image/png", "avatar_too_big", "over 2 MB"),
        (b"Hello, I am text.\n", "notes.txt", "text/plain", "avatar_not_an_image", "PNG, JPEG"),
        (b"Hello, I am text.\n", "notes.png", "image/png", "avatar_not_an_image", "GIF or WebP"),
        (images.SVG, "drawing.svg", "image/svg+xml", "avatar_svg", "SVG images are not"),
        (images.SVG, "drawing.png", "image/png", "avatar_svg", "for safety"),
        (b"\n  " + images.SVG[21:], "d.png", "image/png", "avatar_svg", "SVG"),
        (b"\x1f\x8b\x08gzipped", "drawing.svgz", "image/svg+xml", "avatar_svg", "SVG"),
        (images.png_claiming(50_000, 50_000), "bomb.png", "image/png", "avatar_too_large", "4,000"),
        (images.png_claiming(10_000, 10_000), "warns.png", "image/png", "avatar_too_large", "by"),
        (images.png_claiming(4_001, 10), "wide.png", "image/png", "avatar_too_large", "pixels"),
        (images.png_claiming(0, 10), "empty.png", "image/png", "avatar_not_an_image", "PNG"),
        (images.truncated_jpeg(), "cut.jpg", "image/jpeg", "avatar_corrupt", "incomplete"),
        (images.png()[:60], "cut.png", "image/png", "avatar_corrupt", "damaged"),
        (b"", "empty.png", "image/png", "avatar_not_an_image", "PNG"),
    ],
    ids=[
        "over-2-MB",
        "text",
        "text-named-png",
        "svg",
        "svg-named-png",
        "svg-without-xml-declaration",
        "svgz-by-name",
        "50000-square-bomb",
        "in-pillow-warning-range",
        "4001-wide",
        "zero-wide",
        "truncated-jpeg",
        "truncated-png",
        "empty",
    ],
)
def test_a_refused_file_says_why(data, name, content_type, code, words):
    with pytest.raises(ValidationError) as refused:
        avatars.process(images.upload(data, name, content_type))

    assert refused.value.code == code
    assert words in refused.value.message


def test_the_size_is_checked_before_the_file_is_read():
    upload = images.upload(images.png())
    upload.size = avatars.MAX_BYTES + 1
    upload.file = None  # reading it would fail

    with pytest.raises(ValidationError, match="over 2 MB"):
        avatars.process(upload)


def test_a_bomb_is_refused_from_its_header_without_decoding(monkeypatch):
    bomb = images.upload(images.png_claiming(50_000, 50_000))
    monkeypatch.setattr(ImageFile.ImageFile, "load", pytest.fail)

    with pytest.raises(ValidationError, match="too large"):
        avatars.process(bomb)


# --- Accepted images --------------------------------------------------------------------


def test_an_image_is_stored_as_webp_at_two_sizes():
    result = avatars.process(images.upload(images.png((500, 300), images.GREEN)))

    assert set(result) == set(avatars.SIZES)
    for size, pixels in avatars.SIZES.items():
        image = images.decoded(result[size])
        assert (image.format, image.size) == ("WEBP", (pixels * 2, pixels * 2))
        assert images.close_to(image.getpixel((5, 5)), images.GREEN)


def test_metadata_is_stripped():
    result = avatars.process(images.upload(images.jpeg_with_metadata(), "me.jpg", "image/jpeg"))

    for data in result.values():
        image = images.decoded(data)
        assert not {"exif", "icc_profile", "xmp"} & set(image.info)
        assert not image.getexif()
        for marker in (b"EXIF", b"ICCP", b"XMP ", b"Camera maker", b"where I live"):
            assert marker not in data


def test_the_exif_orientation_is_applied():
    # Orientation 6: shown turned a quarter clockwise, so the left half comes on top.
    data = images.jpeg_with_metadata(orientation=6)

    large = images.decoded(avatars.process(images.upload(data, "me.jpg"))["large"])

    assert images.close_to(large.getpixel((96, 20)), images.RED)
    assert images.close_to(large.getpixel((96, 172)), images.BLUE)


def test_a_wide_image_is_cropped_to_its_centre():
    wide = Image.new("RGB", (900, 300), images.RED)
    wide.paste(images.GREEN, (300, 0, 600, 300))

    large = images.decoded(avatars.process(images.upload(images.encoded(wide, "PNG")))["large"])

    assert images.close_to(large.getpixel((3, 3)), images.GREEN)
    assert images.close_to(large.getpixel((188, 188)), images.GREEN)


def test_a_cmyk_jpeg_becomes_rgb():
    cmyk = images.encoded(Image.new("CMYK", (200, 200), (0, 255, 255, 0)), "JPEG")

    large = images.decoded(avatars.process(images.upload(cmyk, "print.jpg"))["large"])

    assert large.mode == "RGB"
    assert images.close_to(large.getpixel((10, 10)), images.RED)


def test_an_animation_shows_its_first_frame():
    large = images.decoded(avatars.process(images.upload(images.animated_gif(), "a.gif"))["large"])

    assert images.close_to(large.convert("RGB").getpixel((10, 10)), images.RED)
    assert getattr(large, "n_frames", 1) == 1


def test_a_palette_png_keeps_its_transparency():
    result = avatars.process(images.upload(images.transparent_palette_png()))

    large = images.decoded(result["large"])

    assert large.mode == "RGBA"
    assert large.getpixel((96, 20))[3] > 200  # the green top half
    assert images.close_to(large.getpixel((96, 20))[:3], images.GREEN)
    assert large.getpixel((96, 172))[3] == 0  # the transparent bottom half


def test_sixteen_bit_grey_keeps_its_tones():
    grey = images.encoded(Image.new("I;16", (100, 100), 32768), "PNG")

    large = images.decoded(avatars.process(images.upload(grey))["large"])

    assert images.close_to(large.getpixel((10, 10)), (128, 128, 128), tolerance=8)


def test_a_big_photo_is_processed_quickly():
    photo = Image.effect_mandelbrot((4000, 4000), (-2, -1.5, 1, 1.5), 60).convert("RGB")
    data = images.encoded(photo, "JPEG", quality=90)
    assert len(data) <= avatars.MAX_BYTES

    began = time.perf_counter()
    avatars.process(images.upload(data, "photo.jpg", "image/jpeg"))

    assert time.perf_counter() - began < 1


def test_the_stem_is_named_by_the_content():
    first = avatars.process(images.upload(images.png()))
    again = avatars.process(images.upload(images.png()))
    other = avatars.process(images.upload(images.png(colour=images.BLUE)))

    assert avatars.stem_for(7, first) == avatars.stem_for(7, again)
    assert avatars.stem_for(7, first).startswith("avatars/7/")
    assert avatars.stem_for(7, first) != avatars.stem_for(7, other)


# --- Services ---------------------------------------------------------------------------


def stored(stem: str) -> list[bool]:
    return [default_storage.exists(avatars.file_name(stem, size)) for size in avatars.SIZES]


def deletions():
    return DBTaskResult.objects.filter(task_path__endswith="avatar_files_delete_task")


@pytest.mark.django_db(transaction=True)  # the worker (run_tasks) closes connections
def test_setting_an_avatar_stores_it_and_rebuilds_the_posts(member, topic, run_tasks):
    ReplyFactory(author=member, topic=topic)

    user = services.avatar_set(user=member, upload=images.upload(images.png()))

    member.refresh_from_db()
    assert member.avatar == user.avatar
    assert member.avatar.startswith(f"avatars/{member.pk}/")
    assert stored(member.avatar) == [True, True]
    run_tasks()
    url = default_storage.url(avatars.file_name(member.avatar, "small"))
    assert all(url in post.fragment for post in Post.objects.filter(author=member))


@pytest.mark.django_db
def test_a_replaced_avatar_is_deleted_a_day_later(member):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    old = member.avatar

    services.avatar_set(user=member, upload=images.upload(images.png(colour=images.BLUE)))

    assert member.avatar != old
    assert stored(old) == [True, True]  # pages and fragments still show it
    (deletion,) = deletions()
    assert deletion.args_kwargs["kwargs"] == {"user_id": member.pk, "stem": old}
    later = deletion.run_after - timezone.now()
    assert KEEP_REPLACED - timedelta(minutes=1) < later <= KEEP_REPLACED
    assert avatar_files_delete_task.call(user_id=member.pk, stem=old) is True
    assert stored(old) == [False, False]
    assert stored(member.avatar) == [True, True]


@pytest.mark.django_db
def test_an_image_chosen_again_is_not_deleted(member):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    first = member.avatar
    services.avatar_set(user=member, upload=images.upload(images.png(colour=images.BLUE)))
    services.avatar_set(user=member, upload=images.upload(images.png()))

    assert member.avatar == first
    assert avatar_files_delete_task.call(user_id=member.pk, stem=first) is False
    assert stored(first) == [True, True]


@pytest.mark.django_db
def test_an_image_whose_files_were_deleted_is_stored_again(member):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    first = member.avatar
    services.avatar_remove(user=member)
    avatar_files_delete_task.call(user_id=member.pk, stem=first)

    services.avatar_set(user=member, upload=images.upload(images.png()))

    assert member.avatar == first
    assert stored(first) == [True, True]


@pytest.mark.django_db
def test_the_same_image_again_changes_nothing(member):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    tasks = DBTaskResult.objects.count()

    services.avatar_set(user=member, upload=images.upload(images.png()))

    assert DBTaskResult.objects.count() == tasks
    assert len(list(Path(default_storage.path(f"avatars/{member.pk}")).iterdir())) == 2


@pytest.mark.django_db(transaction=True)
def test_removing_goes_back_to_the_generated_avatar(member, run_tasks, topic):
    services.avatar_set(user=member, upload=images.upload(images.png()))
    old = member.avatar

    services.avatar_remove(user=member)

    member.refresh_from_db()
    assert member.avatar == ""
    assert deletions().get().args_kwargs["kwargs"]["stem"] == old
    run_tasks()
    assert 'class="avatar avatar-small avatar-c' in Post.objects.get(author=member).fragment


@pytest.mark.django_db
def test_a_refused_image_changes_nothing(member):
    with pytest.raises(ValidationError):
        services.avatar_set(user=member, upload=images.upload(images.SVG, "x.svg"))

    member.refresh_from_db()
    assert member.avatar == ""
    assert not DBTaskResult.objects.exists()
    assert not default_storage.exists("avatars")


@pytest.mark.django_db
def test_uploads_are_limited(member, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "avatar_uploads_per_window": 2}
    services.avatar_set(user=member, upload=images.upload(images.png()))
    with pytest.raises(ValidationError):  # a refused image counts too: it cost the work
        services.avatar_set(user=member, upload=images.upload(b"text"))

    with pytest.raises(services.RateLimited, match="many times"):
        services.avatar_set(user=member, upload=images.upload(images.png(colour=images.BLUE)))
