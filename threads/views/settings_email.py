"""A member's e-mail address: seeing it, confirming it, changing it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import EmailChangeForm
from .common import confirmation_link, form_page

TEMPLATE = "registration/settings_email.html"


@login_required
@require_http_methods(["GET", "POST"])
def settings_email(request: HttpRequest) -> HttpResponse:
    """The member's address and whether it is confirmed; the link again; a new address."""
    if request.method == "POST" and "resend" in request.POST:
        return _resend(request)
    if request.method == "POST":
        return _change(request)
    return _page(request, EmailChangeForm(user=request.user), status=200)


def _page(request, form, *, status: int, retry_after: int | None = None) -> HttpResponse:
    return form_page(request, TEMPLATE, {"form": form}, status=status, retry_after=retry_after)


def _resend(request: HttpRequest) -> HttpResponse:
    try:
        mail = services.email_confirmation_send(user=request.user, link=confirmation_link(request))
    except services.Refused as refused:
        messages.error(request, refused.message)
        retry_after = getattr(refused, "retry_after", None)
        form = EmailChangeForm(user=request.user)
        return _page(request, form, status=refused.status_code, retry_after=retry_after)
    messages.success(request, f"A confirmation link is on its way to {mail.to}.")
    return redirect("threads:settings_email")


def _change(request: HttpRequest) -> HttpResponse:
    """A new address, with the password: its tries counted before the password is checked."""
    try:
        services.password_change_count(user=request.user)
    except services.RateLimited as limited:
        messages.error(request, limited.message)
        # Unbound, so that nothing is checked; the address typed is kept.
        form = EmailChangeForm(user=request.user, initial={"email": request.POST.get("email")})
        return _page(request, form, status=limited.status_code, retry_after=limited.retry_after)
    form = EmailChangeForm(request.POST, user=request.user)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        mail = services.email_change(
            user=request.user, email=form.cleaned_data["email"], link=confirmation_link(request)
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, form, status=400)
    except services.Refused as refused:
        form.add_error(None, refused.message)
        retry_after = getattr(refused, "retry_after", None)
        return _page(request, form, status=refused.status_code, retry_after=retry_after)
    messages.success(
        request,
        f"A confirmation link is on its way to {mail.to}. Your address changes when you follow it.",
    )
    return redirect("threads:settings_email")


@login_not_required
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The page of a confirmation link: a GET asks, only the Confirm button (a POST) confirms.

    Mail scanners that open every link in a mail confirm nothing. The link
    proves the mailbox, so it needs no login.
    """
    try:
        if request.method == "POST":
            confirmation = services.email_confirm(token=token)
        else:
            confirmation = services.confirmation_read(token=token)
    except services.BadLink as bad:
        context = {"problem": bad.message}
        return render(request, "registration/email_confirm.html", context, status=bad.status_code)
    if request.method == "GET":
        return render(request, "registration/email_confirm.html", {"confirmation": confirmation})
    messages.success(request, f"{confirmation.address} is confirmed as your e-mail address.")
    if request.user.pk == confirmation.user.pk:
        return redirect("threads:settings_email")
    return redirect("threads:index")
