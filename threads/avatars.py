"""Members' avatars: the generated one (initials on a colour of the handle), the
HTML that shows either it or an uploaded image, and the checking and re-encoding
of an uploaded image. No database here.

The generated avatar is text on a background colour chosen by a CSS class
(`avatar-c0` ... in static/css/forum.css), made here with no image and no
outside request; an uploaded one is an image in Django's default storage,
kept at two sizes under the name stored in `User.avatar`.
"""

import hashlib
import io
import unicodedata
import warnings

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape
from PIL import Image, ImageCms, ImageFile, ImageOps

# The colours of generated avatars (static/css/forum.css has one class for each).
COLOURS = 12
# Square sizes in CSS pixels, each stored at twice that for sharp screens.
SIZES = {"small": 32, "large": 96}


def initials(name: str) -> str:
    """One or two letters for a name: the first letter of its first two words."""
    words = []
    word = ""
    for c in unicodedata.normalize("NFC", name):
        if c.isalnum():
            word += c
        elif word:
            words.append(word)
            word = ""
    if word:
        words.append(word)
    if not words:
        return "?"
    return "".join(w[0] for w in words[:2]).upper()


def colour(username: str) -> int:
    """The colour of a handle's generated avatar: the same everywhere, for every process."""
    digest = hashlib.sha256(username.lower().encode()).digest()
    return int.from_bytes(digest[:4], "big") % COLOURS


def file_name(stem: str, size: str) -> str:
    """Where the image of an uploaded avatar is stored at one of SIZES."""
    return f"{stem}-{SIZES[size] * 2}.webp"


def avatar_html(user, size: str = "small") -> str:
    """The member's avatar at one of SIZES: their image, or else their generated one.

    Decorative (empty alt text): the member's name is always shown beside it.
    """
    pixels = SIZES[size]
    if user.avatar:
        url = escape(default_storage.url(file_name(user.avatar, size)))
        return (
            f'<img class="avatar avatar-{size}" src="{url}" alt="" '
            f'width="{pixels}" height="{pixels}" loading="lazy">'
        )
    return generated_html(user, size)


def generated_html(user, size: str = "small") -> str:
    """The member's generated avatar at one of SIZES, whether or not they uploaded one."""
    letters = escape(initials(user.display_name or user.username))
    return (
        f'<span class="avatar avatar-{size} avatar-c{colour(user.username)}" '
        f'aria-hidden="true">{letters}</span>'
    )


# --- Uploads ---------------------------------------------------------------------------

MAX_BYTES = 2 * 1024 * 1024
TOO_BIG = "This image is over 2 MB: upload a smaller one."
MAX_SIDE = 4000
# What Pillow may read an upload as (its format names), and what the form offers.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
ACCEPT = "image/png,image/jpeg,image/gif,image/webp"
WEBP_QUALITY = 85

_NOT_AN_IMAGE = "This file is not an image we can read: upload a PNG, JPEG, GIF or WebP image."
_SVG_MARKERS = (b"<?xml", b"<svg", b"<!doctype svg", b"<!--")
# How each accepted format begins, to tell a real image named .svg from an SVG.
_IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF")


def check_size(upload: UploadedFile) -> None:
    """Refuse a file over MAX_BYTES, from its size alone, before reading it."""
    if upload.size is None or upload.size > MAX_BYTES:
        raise ValidationError(TOO_BIG, code="avatar_too_big")


def process(upload: UploadedFile) -> dict[str, bytes]:
    """Check an uploaded image and re-encode it: WebP bytes for each of SIZES, at 2x.

    The image is turned by its EXIF orientation, cropped to its centre square,
    and stored without any metadata (no EXIF, GPS, ICC profile or XMP); of an
    animation, the first frame. Raises ValidationError, with a message for the
    member and a code, for a file over 2 MB (before reading it), an SVG, a file
    that is no PNG, JPEG, GIF or WebP, one over MAX_SIDE pixels a side (from its
    header, before decoding it, so decompression bombs cost nothing) and one
    whose data is truncated or corrupt.
    """
    check_size(upload)
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # a size that did not tell the truth
        check_size(upload)
    if _looks_like_svg(data, upload.name or "", upload.content_type or ""):
        raise ValidationError(
            "SVG images are not accepted, for safety (they can hold scripts): "
            "upload a PNG, JPEG, GIF or WebP image.",
            code="avatar_svg",
        )
    image = _open(data)
    try:
        large = _decode(image)
    finally:
        image.close()
    return {
        size: _webp(large if pixels * 2 == large.width else large.resize((pixels * 2,) * 2))
        for size, pixels in SIZES.items()
    }


def _looks_like_svg(data: bytes, name: str, content_type: str) -> bool:
    """SVG by its content (XML text with an <svg> element), or by what it says it is."""
    start = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(_SVG_MARKERS) and b"<svg" in start:
        return True
    said = name.lower().endswith((".svg", ".svgz")) or content_type.startswith("image/svg")
    return said and not data.startswith(_IMAGE_SIGNATURES)


def _open(data: bytes) -> ImageFile.ImageFile:
    """Identify the image and check its dimensions from its header, decoding nothing."""
    too_large = ValidationError(
        f"This image is too large: at most {MAX_SIDE:,} by {MAX_SIDE:,} pixels.",
        code="avatar_too_large",
    )
    try:
        # Pillow warns of, or refuses, a decompression bomb when it reads the header.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_large from None
    except Exception:  # whatever a parser raises on hostile bytes, the file is the fault
        raise ValidationError(_NOT_AN_IMAGE, code="avatar_not_an_image") from None
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE:
        image.close()
        raise too_large
    if width < 1 or height < 1:
        image.close()
        raise ValidationError(_NOT_AN_IMAGE, code="avatar_not_an_image")
    return image


def _decode(image: ImageFile.ImageFile) -> Image.Image:
    """The upright centre square of the image, in RGB or RGBA, at the large size's pixels."""
    large = SIZES["large"] * 2
    if image.format == "JPEG":
        # The decoder scales a big photo down by up to 8, far quicker than decoding it whole.
        image.draft(None, (large, large))
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
        converted = _to_rgb(upright)
    except Exception:  # a truncated or corrupt file fails somewhere in its decoder
        raise ValidationError(
            "This image is damaged or incomplete (perhaps the upload was cut short): "
            "save it again, or choose another.",
            code="avatar_corrupt",
        ) from None
    width, height = converted.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = converted.crop((left, top, left + side, top + side))
    if side >= 4 * large:  # cheap box reduction first, then the fine resampling
        square = square.reduce(side // (2 * large))
    return square.resize((large, large), Image.Resampling.LANCZOS)


_SRGB = ImageCms.createProfile("sRGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency; in sRGB when it carries a colour profile."""
    transparent = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if image.mode.startswith("I"):  # 16-bit grey: scaled to 8 bits, not clipped to white
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    target = "RGBA" if transparent else "RGB"
    profile = image.info.get("icc_profile")
    if image.mode != "CMYK":
        image = image.convert(target)
    if profile:
        try:
            return ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), _SRGB, outputMode=target
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a profile Little CMS cannot use (or one for grey): the colours as they are
    return image.convert(target)


def _webp(image: Image.Image) -> bytes:
    """WebP with nothing but the pixels: no EXIF, ICC profile or XMP."""
    image.info = {}
    out = io.BytesIO()
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, exif=b"", icc_profile=None, xmp=b"")
    return out.getvalue()


def stem_for(user_id: int, images: dict[str, bytes]) -> str:
    """Where an avatar's files are stored: named by their content, so a URL never changes."""
    digest = hashlib.sha256(b"".join(images[size] for size in sorted(images))).hexdigest()
    return f"avatars/{user_id}/{digest[:32]}"
