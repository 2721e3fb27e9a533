"""Forms that write posts: a new topic, a reply, an edit, a deletion."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import permissions, selectors, services
from ..forms import EditForm, ReplyForm, TopicForm
from .approval import shown_at
from .common import login_to_open, missing_is_404, post_form, refused_page


@login_to_open
@require_http_methods(["GET", "POST"])
def topic_create(request: HttpRequest) -> HttpResponse:
    form = TopicForm(
        request.POST or None, viewer=request.user, category=request.GET.get("category")
    )
    return post_form(
        request,
        form=form,
        template="threads/topic_form.html",
        context={},
        refusal=lambda: permissions.posting_refusal(request.user) or form.no_category_refusal(),
        submit=lambda: services.topic_create(author=request.user, **form.cleaned_data),
        done=lambda topic: shown_at(topic, lambda published: published.get_absolute_url()),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def reply(
    request: HttpRequest, topic_pk: int | None = None, post_pk: int | None = None
) -> HttpResponse:
    target = {"viewer": request.user, "topic_id": topic_pk, "post_id": post_pk}
    sending = request.method == "POST" and "preview" not in request.POST
    if sending:
        # The service reads what the reply answers under its lock, and checks it
        # there: here only whether the reader may see it (else a 404).
        topic, parent = selectors.reply_place(**target)
    else:
        topic, parent = selectors.reply_target(**target)

    def context() -> dict:
        if sending:  # the form came back, refused: now it shows what the reply answers
            return dict(zip(("topic", "parent"), selectors.reply_target(**target), strict=True))
        return {"topic": topic, "parent": parent}

    form = ReplyForm(request.POST or None)
    return post_form(
        request,
        form=form,
        template="threads/reply_form.html",
        context=context,
        refusal=lambda: permissions.reply_refusal(request.user, topic, parent),
        submit=lambda: services.post_reply(
            author=request.user, topic=topic, parent=parent, body=form.cleaned_data["body"]
        ),
        done=lambda post: shown_at(post, selectors.new_post_location),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def post_edit(request: HttpRequest, pk: int) -> HttpResponse:
    post = selectors.post_for_change(post_id=pk, viewer=request.user)
    title = post.topic.title if selectors.is_opening_post(post) else None
    form = EditForm(request.POST or None, initial={"body": post.body}, title=title)
    return post_form(
        request,
        form=form,
        template="threads/edit_form.html",
        context={"post": post, "topic": post.topic},
        refusal=lambda: permissions.edit_refusal(request.user, post),
        submit=lambda: services.post_edit(post=post, editor=request.user, **form.cleaned_data),
        done=lambda edited: selectors.post_location(post_id=edited.pk, viewer=request.user),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def post_delete(request: HttpRequest, pk: int) -> HttpResponse:
    post = selectors.post_for_change(post_id=pk, viewer=request.user)
    if request.method == "POST":
        try:
            services.post_delete(post=post, user=request.user)
        except services.Refused as refused:
            return refused_page(request, refused.message, refused.status_code)
        return redirect(selectors.post_location(post_id=post.pk, viewer=request.user))
    if refusal := permissions.delete_refusal(request.user, post):
        return refused_page(request, refusal)
    return render(request, "threads/delete_confirm.html", {"post": post, "topic": post.topic})
