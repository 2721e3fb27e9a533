"""Members' avatars: the generated one (initials on a colour of the handle) and
the HTML that shows either it or an uploaded image.

The generated avatar is text on a background colour chosen by a CSS class
(`avatar-c0` ... in static/css/forum.css), made here with no image and no
outside request; an uploaded one is an image in Django's default storage,
kept at two sizes under the name stored in `User.avatar`.
"""

import hashlib
import unicodedata

from django.core.files.storage import default_storage
from django.utils.html import escape

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
    letters = escape(initials(user.display_name or user.username))
    return (
        f'<span class="avatar avatar-{size} avatar-c{colour(user.username)}" '
        f'aria-hidden="true">{letters}</span>'
    )
