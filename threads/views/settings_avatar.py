"""A member's avatar: uploading an image, or going back to the generated one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from .. import avatars, services
from ..forms import AvatarForm
from .common import form_page


@login_required
@require_http_methods(["GET", "POST"])
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
    context = {
        "form": form,
        "current": mark_safe(avatars.avatar_html(user, "large")),
        "generated": mark_safe(avatars.generated_html(user, "large")),
    }
    return form_page(
        request, "threads/settings_avatar.html", context, status=status, retry_after=retry_after
    )
