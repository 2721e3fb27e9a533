"""A member's own settings, and ignoring another member."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from .. import selectors, services
from ..forms import ProfileForm
from .common import form_page, missing_is_404


@login_required
@require_http_methods(["GET", "POST"])
def settings_profile(request: HttpRequest) -> HttpResponse:
    """Display name and bio; the other settings pages are linked from it."""
    user = request.user
    form = ProfileForm(
        request.POST or None, initial={"display_name": user.display_name, "bio": user.bio}
    )
    status, retry_after = (400 if form.errors else 200), None
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
        except services.Refused as refused:
            form.add_error(None, refused.message)
            status, retry_after = refused.status_code, getattr(refused, "retry_after", None)
        else:
            messages.success(
                request,
                "Saved. Your posts show your new name within a minute."
                if "display_name" in form.changed_data
                else "Saved.",
            )
            return redirect("threads:settings")
    return form_page(
        request,
        "threads/settings.html",
        {"form": form, "section": "profile"},
        status=status,
        retry_after=retry_after,
    )


@login_required
@require_POST
@missing_is_404
def ignore(request: HttpRequest, username: str) -> HttpResponse:
    """Ignore a member (their posts are folded for you), or stop ignoring them."""
    member = selectors.member(username=username)
    try:
        if request.POST.get("ignore") == "0":
            services.member_unignore(member=request.user, ignored=member)
            messages.success(request, f"You no longer ignore @{member.username}.")
        else:
            services.member_ignore(member=request.user, ignored=member)
            messages.success(
                request, f"You ignore @{member.username}: their posts are folded for you."
            )
    except services.Refused as refused:
        messages.error(request, refused.message)
    return redirect(member.get_absolute_url())


@login_required
@require_POST
@missing_is_404
def all_read(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Mark everything, or everything in a category, as read."""
    if slug is None:
        services.all_read(member=request.user)
        messages.success(request, "Everything is marked as read.")
        return redirect("threads:index")
    category = selectors.visible_categories(request.user).get(slug=slug)
    services.all_read(member=request.user, category=category)
    messages.success(request, f"{category.name} is marked as read.")
    return redirect(category.get_absolute_url())
