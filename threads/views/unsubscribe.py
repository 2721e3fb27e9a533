"""The one-click unsubscribe link of notification mails (RFC 8058)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import services

TEMPLATE = "threads/unsubscribe.html"


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """A GET asks (link scanners open every link of a mail); a POST unsubscribes.

    The POST is the one mail clients send on their own (`List-Unsubscribe=One-Click`,
    with no cookies), so it needs neither a login nor a CSRF token: the signed
    token in the link is what proves it. Doing it again changes nothing.
    """
    try:
        if request.method == "POST":
            member = services.mailing_unsubscribe(token=token)
        else:
            member = services.unsubscribe_read(token=token)
    except services.BadLink as bad:
        return render(request, TEMPLATE, {"problem": bad.message}, status=bad.status_code)
    context = {"member": member, "done": request.method == "POST"}
    return render(request, TEMPLATE, context)
