"""The approval queue: posts held for a moderator, oldest first; approve, or reject saying why.

Category moderators see and decide only the posts of the categories they
moderate (a reply's topic's category, a new topic's category). Every
decision goes through threads.services.
"""

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from .. import services
from ..models import PendingPost
from ..models.moderation import REASON_MAX_LENGTH
from ..selectors import approval
from .common import NAME_CHARS, ServiceRefusals, each_selected, moderates_somewhere
from .decisions import ReasonForm, decided


class RejectionForm(ReasonForm):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Its author sees it, and so does everyone in the moderation log.",
    )


def _held(pending: PendingPost) -> str:
    """A held post as the rejection page lists it."""
    place = f"in “{pending.topic}”" if pending.topic_id else f"a new topic “{pending.title}”"
    return f"@{pending.author.username}, {place}: {Truncator(pending.body).chars(160)}"


@admin.register(PendingPost)
class PendingPostAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = ["created", "author_name", "place", "excerpt", "held"]
    list_display_links = ["created", "excerpt"]
    list_per_page = 100
    fields = ["author", "place", "title", "created", "held", "text", "body"]
    readonly_fields = fields
    actions = ["approve", "reject"]

    def get_queryset(self, request: HttpRequest):
        return approval.pending_queue(request.user)

    # The queue is for whoever moderates something; what they see is scoped above.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return moderates_somewhere(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return moderates_somewhere(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return moderates_somewhere(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are held when sent on the site

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # reject instead: the author is told why

    @admin.display(description="Author", ordering="author__username")
    def author_name(self, pending: PendingPost) -> str:
        return Truncator(pending.author.username).chars(NAME_CHARS)

    @admin.display(description="Where")
    def place(self, pending: PendingPost) -> str:
        if pending.topic_id is not None:
            return f"Reply in “{Truncator(pending.topic.title).chars(40)}”"
        return f"New topic “{Truncator(pending.title).chars(40)}” in {pending.category.name}"

    @admin.display(description="Post")
    def excerpt(self, pending: PendingPost) -> str:
        return Truncator(pending.body).chars(80)

    @admin.display(description="As readers would see it")
    def text(self, pending: PendingPost) -> str:
        # Rendered and sanitized (threads.rendering) when it was sent, as posts are.
        return mark_safe(f'<div class="pending-text">{pending.body_html}</div>')

    @admin.action(description="Approve selected posts (publish them)", permissions=["change"])
    def approve(self, request: HttpRequest, queryset) -> None:
        each_selected(
            request,
            queryset,
            lambda p: services.pending_approve(pending=p, moderator=request.user),
            "Approved",
        )

    @admin.action(description="Reject selected posts (asks for a reason)", permissions=["change"])
    def reject(self, request: HttpRequest, queryset) -> HttpResponse | None:
        return decided(
            self,
            request,
            form_class=RejectionForm,
            rows=queryset.select_related("author", "topic"),
            items=_held,
            action="reject",
            intro=(
                "These posts will not be published. Their authors will see the reason, "
                "and so will everyone in the moderation log."
            ),
            submit="Reject",
            act=lambda data: each_selected(
                request,
                queryset,
                lambda p: services.pending_reject(
                    pending=p, moderator=request.user, reason=data["reason"]
                ),
                "Rejected",
            ),
        )
