import logging
import sys
from collections.abc import Callable

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse

logger = logging.getLogger(__name__)

# What Django raises when the database cannot be reached: a stopped server, a refused
# connection, a file that cannot be opened.
DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


class CSPMiddleware(BaseCSPMiddleware):
    """The site's Content-Security-Policy, with one exception for the admin.

    django-mptt indents the admin's tree of posts with inline style
    attributes, so admin pages may use inline styles. Scripts stay strict
    everywhere.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path.startswith(reverse("admin:index")):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts


def service_unavailable() -> HttpResponse:
    """The forum's 503 page, rendered without the request: no session, no user, no database."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """While the database cannot be reached, every page answers 503 with Retry-After.

    A view's error comes to `process_exception`. An error in a middleware after this
    one (the session middleware saving a session) Django has already turned into a
    500 on its way back here: `_note_database_down` marks such a request, and its 500
    is replaced. Nothing is kept between requests, so the forum recovers as soon as
    the database answers again (connections are health-checked, CONN_HEALTH_CHECKS).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "database_down", False):
            return service_unavailable()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.error("The database cannot be reached: %s", exception)
        return service_unavailable()


@receiver(got_request_exception)
def _note_database_down(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Mark a request whose uncaught error (sys.exc_info(), being handled) is the database's."""
    if request is not None and isinstance(sys.exc_info()[1], DATABASE_DOWN):
        request.database_down = True


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, while settings.FORUM_LOGIN_REQUIRED is on.

    Then the forum is for members only: anonymous visitors are sent to the
    login page from every page but the views marked `login_not_required`
    (log in, sign up, password reset; and the forms of posts, which refuse an
    anonymous POST themselves and keep its text).
    """

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not settings.FORUM_LOGIN_REQUIRED:
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
