"""A post's history, and moderators hiding or showing one of its earlier versions."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from .. import selectors, services
from ..forms import RevisionHiddenForm
from ..models import PostRevision
from .common import login_to_open, missing_is_404, refused_page


@require_safe
@missing_is_404
def post_history(request: HttpRequest, pk: int) -> HttpResponse:
    history = selectors.post_history(post_id=pk, viewer=request.user, page=request.GET.get("page"))
    context = {"history": history, "post": history.post, "topic": history.post.topic}
    return render(request, "threads/post_history.html", context)


@login_to_open
@require_POST
def revision_hidden(request: HttpRequest, pk: int, revision_pk: int) -> HttpResponse:
    """Hide a version of the post (hidden=1) or show it again (hidden=0), then go back."""
    form = RevisionHiddenForm(request.POST)
    if not form.is_valid():
        return refused_page(
            request, "Hide or show the version, with a reason of at most 500 characters.", 400
        )
    try:
        services.revision_set_hidden(
            revision=PostRevision(pk=revision_pk, post_id=pk),
            moderator=request.user,
            hidden=form.cleaned_data["hidden"],
            reason=form.cleaned_data["reason"],
        )
    except services.Refused as refused:
        return refused_page(request, refused.message, refused.status_code)
    except ValidationError as error:
        return refused_page(request, " ".join(error.messages), 400)
    page = form.cleaned_data["page"]
    query = f"?page={page}" if page and page > 1 else ""
    return redirect(reverse("threads:post_history", args=[pk]) + query + f"#r{revision_pk}")
