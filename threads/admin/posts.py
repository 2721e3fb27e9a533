"""Posts in the admin: each topic's tree, removal with a reason, restoring, moving, and
each post's earlier versions.

Category moderators see and moderate the posts of their categories (common.CategoryModerators).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from mptt.admin import MPTTModelAdmin

from .. import permissions, selectors, services
from ..models import Post, PostRevision, Topic
from . import splits
from .common import (
    NAME_CHARS,
    CategoryModerators,
    ServiceRefusals,
    admin_page,
    each_selected,
    moderator_only,
    moderators_somewhere_only,
    on_the_form,
    refusal_reason,
)


class RemovalForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown in the public moderation log; the thread shows only that it was removed.",
    )


class MoveForm(forms.Form):
    """Where a post goes: only into topics the moderator moderates (their categories')."""

    new_parent = forms.IntegerField(
        required=False,
        min_value=1,
        label="New parent post id",
        help_text="Leave empty to make the post a top-level post of the topic below.",
    )
    topic = forms.IntegerField(
        required=False, min_value=1, label="Topic id", help_text="Empty: the post's own topic."
    )

    def __init__(self, *args, moderator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.topics = selectors.moderated_topics(moderator)
        self.everywhere = permissions.is_moderator(moderator)
        if not self.everywhere:
            topic = self.fields["topic"]
            topic.help_text = "Empty: the post's own topic. Else one in a category you moderate."

    def _missing(self, what: str) -> ValidationError:
        where = "" if self.everywhere else " in the categories you moderate"
        return ValidationError(f"There is no {what} with that id{where}.", code="missing")

    def clean_new_parent(self) -> Post | None:
        pk = self.cleaned_data["new_parent"]
        if pk is None:
            return None
        posts = Post.objects.filter(topic__in=self.topics.values("pk"))
        if (parent := posts.filter(pk=pk).first()) is None:
            raise self._missing("post")
        return parent

    def clean_topic(self) -> Topic | None:
        pk = self.cleaned_data["topic"]
        if pk is None:
            return None
        if (topic := self.topics.filter(pk=pk).first()) is None:
            raise self._missing("topic")
        return topic


class RevisionInline(admin.TabularInline):
    """The post's earlier versions, read-only: moderators hide or show them on its history
    page, through the service (which logs it)."""

    model = PostRevision
    fields = ["created", "editor", "excerpt", "hidden", "history"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    can_delete = False
    verbose_name = "earlier version"
    verbose_name_plural = "earlier versions (hide or show them on the post's history page)"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("editor")

    # The post's page is the moderator's already (PostAdmin): the inline follows it.
    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Text")
    def excerpt(self, revision: PostRevision) -> str:
        return Truncator(revision.body).chars(80)

    @admin.display(description="History")
    def history(self, revision: PostRevision) -> str:
        url = reverse("threads:post_history", args=[revision.post_id])
        return format_html('<a href="{}#r{}">On the history page</a>', url, revision.pk)


@admin.register(Post)
class PostAdmin(CategoryModerators, ServiceRefusals, MPTTModelAdmin):
    # Few, narrow columns, so that the tree of excerpts has room at 1280 px.
    list_display = ["excerpt", "author_name", "topic_title", "created", "removal"]
    change_list_template = "admin/threads/post/change_list.html"
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
    inlines = [RevisionInline]

    def lookup_allowed(self, lookup, value, request) -> bool:
        # The topic list links here with ?topic__id__exact=N to show one topic's tree.
        return lookup == "topic__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are written on the site

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # remove instead: the post keeps its place so replies keep theirs

    def moderated(self, queryset, user):
        return queryset.filter(topic__in=selectors.moderated_topics(user).values("pk"))

    def _moderated_post(self, request, pk: int) -> Post:
        """The post a page acts on: 404 if the member may not see it, 403 if not moderate it."""
        moderators_somewhere_only(request)
        try:
            post = selectors.post_for_change(post_id=pk, viewer=request.user)
        except Post.DoesNotExist:
            raise Http404("There is no post with that id.") from None
        moderator_only(request, post.topic)
        return post

    @admin.display(description="Post")
    def excerpt(self, post: Post) -> str:
        return Truncator(post.body).chars(80)

    @admin.display(description="Author", ordering="author__username")
    def author_name(self, post: Post) -> str:
        return Truncator(post.author.username).chars(NAME_CHARS)

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
            path("<int:pk>/split/", view(self.split_view), name="threads_post_split"),
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
        post = self._moderated_post(request, pk)
        page = self._removal_page(request, [post], as_action=False)
        if page is None:
            return redirect(post.get_absolute_url())
        return page

    def restore_view(self, request, pk: int) -> HttpResponse:
        post = self._moderated_post(request, pk)
        if request.method == "POST":
            self.restore(request, Post.objects.filter(pk=pk))
            return redirect(post.get_absolute_url())
        return self._render(request, "restore.html", post=post, title="Restore a post")

    def move_view(self, request, pk: int) -> HttpResponse:
        post = self._moderated_post(request, pk)
        form = MoveForm(request.POST or None, moderator=request.user)
        if form.is_valid():
            try:
                services.post_move(
                    post=post,
                    moderator=request.user,
                    new_parent=form.cleaned_data["new_parent"],
                    topic=form.cleaned_data["topic"],
                )
            except (services.Refused, ValidationError) as error:
                form.add_error(None, refusal_reason(error))
            else:
                messages.success(request, "Moved.")
                return HttpResponseRedirect(post.get_absolute_url())
        return self._render(request, "move.html", form=form, post=post, title="Move a post")

    def split_view(self, request, pk: int) -> HttpResponse:
        return splits.split_view(self, request, self._moderated_post(request, pk))
