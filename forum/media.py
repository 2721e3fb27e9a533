"""Serving uploads (avatars) from MEDIA_ROOT, when the default storage is the filesystem.

`make run` and `make serve` (and a single app server, or several sharing a
network filesystem) serve them here; another storage (S3 and the like) has
URLs of its own. Every stored name is made from its content, so a file never
changes and may be cached for a year.
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views import static

CACHE_FOREVER = "max-age=31536000, immutable"
# What may be served, by extension: only the images the forum writes.
CONTENT_TYPES = {".webp": "image/webp"}


def served_here() -> bool:
    """Whether uploads are files in MEDIA_ROOT, at MEDIA_URL on this site."""
    backend = import_string(settings.STORAGES["default"]["BACKEND"])
    return issubclass(backend, FileSystemStorage) and settings.MEDIA_URL.startswith("/")


def serve(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded file, cached for good; anything but the forum's own images is a 404.

    Django's static view refuses any path that leaves MEDIA_ROOT. On a forum
    for members only, LoginRequiredMiddleware keeps files for members too, and
    only the member's browser may cache them (private, not public).
    """
    content_type = next(
        (kind for ending, kind in CONTENT_TYPES.items() if path.lower().endswith(ending)), None
    )
    if content_type is None:
        raise Http404("There is nothing here.")
    response = static.serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Content-Type"] = content_type
    audience = "private" if settings.FORUM_LOGIN_REQUIRED else "public"
    response["Cache-Control"] = f"{audience}, {CACHE_FOREVER}"
    return response
