"""Posts in the admin: each topic's tree, removal with a reason, restoring, moving."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.text import Truncator
from mptt.admin import MPTTModelAdmin

from .. import services
from ..models import Post, Topic
from .common import (
    ServiceRefusals,
    admin_page,
    each_selected,
    moderator_only,
    on_the_form,
    refusal_reason,
)


class RemovalForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with the post, for moderators. Readers only see that it was removed.",
    )


class MoveForm(forms.Form):
    new_parent = forms.IntegerField(
        required=False,
        min_value=1,
        label="New parent post id",
        help_text="Leave empty to make the post a top-level post of the topic below.",
    )
    topic = forms.IntegerField(
        required=False, min_value=1, label="Topic id", help_text="Empty: the post's own topic."
    )


# action: (flag, value, what the message says was done)


@admin.register(Post)
class PostAdmin(ServiceRefusals, MPTTModelAdmin):
    # Few, narrow columns, so that the tree of excerpts has room at 1280 px.
    list_display = ["excerpt", "author", "topic_title", "created", "removal"]
    list_select_related = ["author", "topic"]
    list_filter = ["removal", "created"]
    search_fields = ["author__username", "body"]
    list_per_page = 200
    mptt_level_indent = 16
    mptt_indent_field = "excerpt"
    readonly_fields = [
        "topic",
        "parent",
        "author",
        "created",
        "edited",
        "removal",
        "removal_reason",
    ]
    fields = [*readonly_fields, "body"]
    actions = ["remove", "restore"]

    def lookup_allowed(self, lookup, value, request) -> bool:
        # The topic list links here with ?topic__id__exact=N to show one topic's tree.
        return lookup == "topic__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are written on the site

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # remove instead: the post keeps its place so replies keep theirs

    @admin.display(description="Post")
    def excerpt(self, post: Post) -> str:
        return Truncator(post.body).chars(80)

    @admin.display(description="Topic", ordering="topic__title")
    def topic_title(self, post: Post) -> str:
        return Truncator(post.topic.title).chars(24)

    def save_model(self, request, obj, form, change) -> None:
        if "body" in form.changed_data:
            with on_the_form("body"):
                services.post_edit(post=obj, editor=request.user, body=obj.body)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/remove/", view(self.remove_view), name="threads_post_remove"),
            path("<int:pk>/restore/", view(self.restore_view), name="threads_post_restore"),
            path("<int:pk>/move/", view(self.move_view), name="threads_post_move"),
            *super().get_urls(),
        ]

    def _render(self, request, template: str, **context) -> TemplateResponse:
        return admin_page(self, request, f"admin/threads/post/{template}", **context)

    def _removal_page(self, request, posts: QuerySet, as_action: bool) -> HttpResponse | None:
        """Ask for a reason, then remove the posts. None when the reason was given."""
        form = RemovalForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            each_selected(
                request,
                posts,
                lambda p: services.post_remove(
                    post=p, moderator=request.user, reason=form.cleaned_data["reason"]
                ),
                "Removed",
            )
            return None
        return self._render(
            request,
            "remove.html",
            form=form,
            posts=posts,
            as_action=as_action,
            title="Remove posts",
        )

    @admin.action(description="Remove selected posts (asks for a reason)", permissions=["change"])
    def remove(self, request, queryset):
        return self._removal_page(request, queryset, as_action=True)

    @admin.action(description="Restore selected posts", permissions=["change"])
    def restore(self, request, queryset) -> None:
        each_selected(
            request,
            queryset,
            lambda p: services.post_restore(post=p, moderator=request.user),
            "Restored",
        )

    def remove_view(self, request, pk: int) -> HttpResponse:
        moderator_only(request)
        posts = Post.objects.filter(pk=pk).select_related("author", "topic")
        if not posts:
            raise Http404("There is no post with that id.")
        page = self._removal_page(request, posts, as_action=False)
        if page is None:
            return redirect(posts[0].get_absolute_url())
        return page

    def restore_view(self, request, pk: int) -> HttpResponse:
        moderator_only(request)
        post = get_object_or_404(Post.objects.select_related("author", "topic"), pk=pk)
        if request.method == "POST":
            self.restore(request, Post.objects.filter(pk=pk))
            return redirect(post.get_absolute_url())
        return self._render(request, "restore.html", post=post, title="Restore a post")

    def move_view(self, request, pk: int) -> HttpResponse:
        moderator_only(request)
        post = get_object_or_404(Post.objects.select_related("author", "topic"), pk=pk)
        form = MoveForm(request.POST or None)
        if form.is_valid():
            new_parent = topic = None
            if form.cleaned_data["new_parent"]:
                new_parent = Post.objects.filter(pk=form.cleaned_data["new_parent"]).first()
                if new_parent is None:
                    form.add_error("new_parent", "There is no post with that id.")
            if form.cleaned_data["topic"]:
                topic = Topic.objects.filter(pk=form.cleaned_data["topic"]).first()
                if topic is None:
                    form.add_error("topic", "There is no topic with that id.")
            if form.is_valid():
                try:
                    services.post_move(
                        post=post, moderator=request.user, new_parent=new_parent, topic=topic
                    )
                except (services.Refused, ValidationError) as error:
                    form.add_error(None, refusal_reason(error))
                else:
                    messages.success(request, "Moved.")
                    return HttpResponseRedirect(post.get_absolute_url())
        return self._render(request, "move.html", form=form, post=post, title="Move a post")
