"""Posts awaiting approval, for their authors: one post's page, and the list of one's own."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from ..models import PendingPost
from ..selectors import approval
from .common import login_to_open, missing_is_404


def shown_at(result: object, published) -> str:
    """Where a sent post leads: its page awaiting approval when held, else `published(result)`."""
    if isinstance(result, PendingPost):
        return reverse("threads:pending", args=[result.pk])
    return published(result)


@require_safe
@missing_is_404
def pending_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pending = approval.pending_post(pending_id=pk, viewer=request.user)
    return render(request, "threads/pending_detail.html", {"pending": pending})


@login_to_open
@require_safe
def pending_list(request: HttpRequest) -> HttpResponse:
    context = {"held": approval.own_pending(viewer=request.user), "section": "pending"}
    return render(request, "threads/pending_list.html", context)
