"""Requests the database or the request parser cannot take are refused with a 4xx.

Hostile input is normal input, and it must end in a clear 4xx, never a 500:

* A NUL character cannot be stored in, nor compared with, a PostgreSQL text
  value (psycopg raises DataError). No page of the forum has a NUL in its
  address, so a path with one is not found (404); a NUL in a query-string
  value or a header is a bad request (400). Form fields refuse NUL themselves
  (every Django form field does, with a message on the form that keeps what
  was typed), so POST bodies are left to the forms.
* A body's declared charset must be one Python can decode text with:
  `charset=rot13` or `idna` make Django's parsers raise, and a form
  (application/x-www-form-urlencoded) in anything but UTF-8 makes Django
  raise on every read of request.POST, the error pages' included. Refused
  before anything reads the body; a UTF-8 alias (`UTF8`) is read as UTF-8.
  With a query string, Django cannot even build the request in such a
  charset, so the WSGI and ASGI entry points refuse those first
  (`wsgi_checks`, `asgi_checks`).
* A body bigger than any form of the forum takes (`FORUM_MAX_REQUEST_BYTES`,
  from its declared length) is refused with a 413 before anything reads it:
  Django reads a form's whole body, and keeps files of any size on disk,
  before a view could say no.
* The admin's actions look up the objects selected by their ids: ids that are
  not ids of that model (`abc`, 2**70) are a bad request, not a ValueError.
"""

import codecs

from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.template import loader
from django.utils.http import parse_header_parameters

FORM = "application/x-www-form-urlencoded"

# What a charset must decode, with errors="replace", to be usable at all.
_PROBE = b"caf\xc3\xa9 %41=&"


def _codec(content_type: str) -> tuple[str, codecs.CodecInfo | None]:
    """The Content-Type's media type, and the codec of its charset if Python knows it."""
    media_type, params = parse_header_parameters(content_type)
    try:
        return media_type, codecs.lookup(params["charset"])
    except (KeyError, LookupError):
        return media_type, None  # Django ignores a charset it does not know: UTF-8


def unreadable_charset(content_type: str) -> str | None:
    """Why text cannot be read at all in this Content-Type's charset, or None."""
    _, codec = _codec(content_type)
    if codec is None:
        return None
    try:
        _PROBE.decode(codec.name, "replace")
    except (LookupError, UnicodeError):  # not a text encoding (rot13), or no "replace" (idna)
        return f"{codec.name} is not a character set text can be read in."
    return None


def charset_problem(request: HttpRequest) -> str | None:
    """Why the request's body cannot be read in its declared charset, or None when it can."""
    content_type = request.META.get("CONTENT_TYPE", "")
    media_type, codec = _codec(content_type)
    if codec is None:
        return None
    if codec.name == "utf-8":
        request.encoding = "utf-8"  # "UTF8", "utf_8": the same thing, as Django wants it
        return None
    if media_type == FORM:
        return f"A form must be sent in UTF-8, not {codec.name}."
    return unreadable_charset(content_type)


def nul_problem(request: HttpRequest) -> str | None:
    """Why a query string or header cannot reach the database, or None."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return "The address contains a NUL character."
    if any("\x00" in str(value) for key, value in request.META.items() if key.startswith("HTTP_")):
        return "A header contains a NUL character."
    return None


def _valid_ids(model, values: list[str]) -> bool:
    field = model._meta.pk
    for value in values:
        try:
            python = field.to_python(value)
        except ValidationError:
            return False
        if isinstance(python, int):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            if (low is not None and python < low) or (high is not None and python > high):
                return False
    return True


class HttpResponseTooBig(HttpResponse):
    status_code = 413


def too_big(request: HttpRequest) -> bool:
    """Whether the request's declared body is bigger than any form of the forum takes."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads such a body as empty
    return declared > settings.FORUM_MAX_REQUEST_BYTES


def _refusal(response_class, template: str) -> HttpResponse:
    """The forum's error page, rendered as Django's own error views render it.

    Not through those views: they look for a CSRF token in request.POST (when
    the request has a CSRF cookie), which is what could not be read here.
    """
    return response_class(loader.render_to_string(template))


class RequestChecksMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Answered here rather than raised: Django's error handling would read
        # request.POST again (DEBUG's error page does) and fail the same way.
        if "\x00" in request.path_info:
            return _refusal(HttpResponseNotFound, "404.html")
        if too_big(request):
            return _refusal(HttpResponseTooBig, "413.html")
        if charset_problem(request) or nul_problem(request):
            return _refusal(HttpResponseBadRequest, "400.html")
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        model_admin = getattr(view_func, "model_admin", None)
        if model_admin is None or request.method != "POST":
            return None
        if not _valid_ids(model_admin.model, request.POST.getlist(ACTION_CHECKBOX_NAME)):
            return _refusal(HttpResponseBadRequest, "400.html")
        return None


_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
]


def wsgi_checks(application):
    """The WSGI application, refusing a charset Django could not build a request in."""

    def checked(environ, start_response):
        if problem := unreadable_charset(environ.get("CONTENT_TYPE", "")):
            start_response("400 Bad Request", [(k.decode(), v.decode()) for k, v in _HEADERS])
            return [problem.encode()]
        return application(environ, start_response)

    return checked


def asgi_checks(application):
    """The ASGI application, refusing a charset Django could not build a request in."""

    async def checked(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers", []))
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if problem := unreadable_charset(content_type):
                await send({"type": "http.response.start", "status": 400, "headers": _HEADERS})
                await send({"type": "http.response.body", "body": problem.encode()})
                return
        await application(scope, receive, send)

    return checked
