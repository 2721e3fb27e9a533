"""A member's notifications, what they watch, and their notification settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .. import selectors, services
from ..forms import NotificationSettingsForm, WatchForm
from ..models import Level
from ..selectors import notifications as inbox_selectors
from .common import missing_is_404

_LEVEL_SAID = {
    Level.WATCHING: "You watch {}: every new post notifies you.",
    Level.NORMAL: "{}: you are notified of replies to you and mentions.",
    Level.MUTED: "You muted {}: nothing in it notifies you.",
}


@login_required
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    """The member's notifications, newest first, a page at a time."""
    page = inbox_selectors.inbox(member=request.user, before=request.GET.get("before"))
    return render(request, "threads/notifications.html", {"inbox": page})


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark one of the member's notifications read (the `entry` sent), or all of them."""
    entry = request.POST.get("entry", "")
    if entry:
        if entry.isascii() and entry.isdigit() and len(entry) <= 18:
            services.notification_read(member=request.user, notification_id=int(entry))
    else:
        services.notifications_all_read(member=request.user)
        messages.success(request, "All your notifications are marked as read.")
    return redirect("threads:notifications")


def _watched(request: HttpRequest, place, name: str, **where) -> HttpResponse:
    """Set the member's level for `place` (`where` says which: topic= or category=)."""
    form = WatchForm(request.POST)
    if form.is_valid():
        level = form.cleaned_data["level"]
        services.watch_set(member=request.user, level=level, **where)
        messages.success(request, _LEVEL_SAID[level].format(name))
    else:
        messages.error(request, "Choose watching, normal or muted.")
    return redirect(place.get_absolute_url())


@login_required
@require_POST
@missing_is_404
def topic_watch(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the member's level for a topic they may see."""
    topic = selectors.visible_topics(request.user).get(pk=pk)
    return _watched(request, topic, "this topic", topic=topic)


@login_required
@require_POST
@missing_is_404
def category_watch(request: HttpRequest, slug: str) -> HttpResponse:
    """Set the member's level for a category they may see (and its subcategories)."""
    category = selectors.visible_categories(request.user).get(slug=slug)
    return _watched(request, category, category.name, category=category)


@login_required
@require_http_methods(["GET", "POST"])
def settings_notifications(request: HttpRequest) -> HttpResponse:
    """What the member is mailed, and whether what they post in is watched."""
    user = request.user
    form = NotificationSettingsForm(
        request.POST or None,
        initial={"mailing": user.mailing, "watch_own_topics": user.watch_own_topics},
    )
    if request.method == "POST" and form.is_valid():
        services.notification_settings_set(member=user, **form.cleaned_data)
        messages.success(request, "Saved.")
        return redirect("threads:settings_notifications")
    status = 400 if form.errors else 200
    context = {"form": form, "section": "notifications"}
    return render(request, "threads/settings_notifications.html", context, status=status)
