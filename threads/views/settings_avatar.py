"""A member's avatar: uploading an image, or going back to the generated one."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from .. import avatars, services
from ..forms import AvatarForm
from .common import form_page

# What a form of one image at most MAX_BYTES can add to it (boundaries, headers, the token).
_FORM_OVERHEAD = 64 * 1024


def _refuse_big_bodies(view):
    """Refuse a request body over the biggest image the form takes, before anything reads it.

    Django's CSRF check reads the whole body (and keeps a file of it) before any
    view runs, so the check of the token comes after this one.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if request.method == "POST" and declared > avatars.MAX_BYTES + _FORM_OVERHEAD:
            return form_page(
                request,
                "threads/settings_avatar.html",
                {"form": AvatarForm.too_big()},
                status=413,
                retry_after=None,
            )
        return protected(request)

    return wrapper


@login_required
@require_http_methods(["GET", "POST"])
@_refuse_big_bodies
def settings_avatar(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = AvatarForm(request.POST, request.FILES) if request.method == "POST" else AvatarForm()
    status, retry_after = 200, None
    if request.method == "POST" and "remove" in request.POST:
        services.avatar_remove(user=user)
        messages.success(request, "Your avatar is the generated one again.")
        return redirect("threads:settings_avatar")
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.avatar_set(user=user, upload=form.cleaned_data["image"])
            except ValidationError as error:
                form.add_error("image", error)
            except services.RateLimited as limited:
                form.add_error(None, limited.message)
                status, retry_after = limited.status_code, limited.retry_after
            else:
                messages.success(
                    request, "Your new avatar is saved; your posts show it within a minute."
                )
                return redirect("threads:settings_avatar")
    return form_page(
        request,
        "threads/settings_avatar.html",
        {"form": form},
        status=status,
        retry_after=retry_after,
    )
