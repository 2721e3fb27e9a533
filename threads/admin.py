"""Moderation through the Django admin. Every change goes through threads.services."""

import contextlib
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from mptt.admin import MPTTModelAdmin

from . import conversation, permissions, services
from .models import Post, Topic, User


def _moderator_only(request: HttpRequest) -> None:
    if refusal := permissions.moderation_refusal(request.user):
        raise PermissionDenied(refusal)


def _reason(error: Exception) -> str:
    """What a refused service call or a validation error says, for a moderator."""
    return getattr(error, "message", None) or "; ".join(error.messages)


def _admin_page(model_admin, request: HttpRequest, template: str, **context) -> TemplateResponse:
    """A page of our own inside the admin, with the admin's frame around it."""
    return TemplateResponse(
        request,
        template,
        {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, **context},
    )


class _Refusal(Exception):
    """A service refused what an admin form asked: shown on the form, which keeps the input."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@contextlib.contextmanager
def _on_the_form(field: str) -> Iterator[None]:
    """Turn what a service refuses, while saving a form, into an error on that form.

    A ValidationError is about `field`; any other refusal is about the whole change.
    """
    try:
        yield
    except ValidationError as error:
        raise _Refusal(field, _reason(error)) from error
    except services.Refused as refused:
        raise _Refusal(None, refused.message) from refused


class ServiceRefusals:
    """What a service refuses in an admin page is told, never a server error.

    On a change form, the error is shown on the form with what was typed: the
    save is rolled back with the admin's transaction and the form is shown again,
    validated by Django as before, with the refusal added. On a delete page or
    after an action (delete_selected too, with its log entries), it becomes the
    admin's error message and nothing is changed.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refusal as refusal:
            request.forum_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        refusal = getattr(request, "forum_refusal", None)
        if refusal is None:
            return form

        def clean(self):
            cleaned_data = super(refused, self).clean()
            self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)
            return cleaned_data

        refused = type(form.__name__, (form,), {"clean": clean})
        return refused

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (services.Refused, ValidationError) as error:
            messages.error(request, _reason(error))
            return HttpResponseRedirect(request.get_full_path())

    def response_action(self, request, queryset):
        try:
            with transaction.atomic():
                return super().response_action(request, queryset)
        except (services.Refused, ValidationError) as error:
            messages.error(request, _reason(error))
            return HttpResponseRedirect(request.get_full_path())


def _each(request: HttpRequest, objects, action, done: str) -> None:
    """Run a service on each selected object, reporting refusals instead of failing.

    Says what was done, e.g. "Locked 2 topics."
    """
    done_with = []
    for obj in objects:
        try:
            action(obj)
            done_with.append(obj)
        except (services.Refused, ValidationError) as error:
            messages.error(request, f"{obj}: {_reason(error)}")
    if done_with:
        meta = done_with[0]._meta
        noun = meta.verbose_name if len(done_with) == 1 else meta.verbose_name_plural
        messages.success(request, f"{done} {len(done_with)} {noun}.")


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
TOPIC_FLAG_ACTIONS = {
    "lock": ("locked", True, "Locked"),
    "unlock": ("locked", False, "Unlocked"),
    "pin": ("pinned", True, "Pinned"),
    "unpin": ("pinned", False, "Unpinned"),
}


class ImportForm(forms.Form):
    file = forms.FileField(
        label="ConversationJS file",
        help_text="Markdown: '### Topic' headings and '- @user [timestamp]: text' messages.",
    )
    dry_run = forms.BooleanField(
        required=False, label="Only check the file and show what would be imported"
    )
    allow_staff_handles = forms.BooleanField(
        required=False,
        label="Allow messages by staff accounts",
        help_text="Without this, a file with a message by a moderator or an administrator "
        "is refused.",
    )

    def clean_file(self):
        """Refuse a file over the size limit before anything reads it into memory."""
        upload = self.cleaned_data["file"]
        limit = settings.FORUM_LIMITS["import_max_bytes"]
        if limit is not None and upload.size > limit:
            raise ValidationError(
                f"{upload.name} is {filesizeformat(upload.size)}: "
                f"the import takes files of at most {filesizeformat(limit)}.",
                code="too_big",
            )
        return upload


@admin.register(Topic)
class TopicAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = [
        "title",
        "author",
        "created",
        "last_activity",
        "reply_count",
        "is_locked",
        "is_pinned",
        "posts_link",
    ]
    list_select_related = ["author"]
    list_filter = ["is_locked", "is_pinned", "created"]
    search_fields = ["title", "author__username"]
    date_hierarchy = "created"
    readonly_fields = [
        "author",
        "created",
        "last_activity",
        "reply_count",
        "is_locked",
        "is_pinned",
    ]
    fields = ["title", *readonly_fields]
    actions = ["lock", "unlock", "pin", "unpin"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # topics are started on the site

    @admin.display(description="Posts")
    def posts_link(self, topic: Topic) -> str:
        url = reverse("admin:threads_post_changelist") + f"?topic__id__exact={topic.pk}"
        return format_html('<a href="{}">tree</a>', url)

    def save_model(self, request, obj, form, change) -> None:
        if "title" in form.changed_data:
            with _on_the_form("title"):
                services.topic_retitle(topic=obj, moderator=request.user, title=obj.title)

    def get_deleted_objects(self, objs, request):
        # Posts cannot be deleted one by one in the admin, but a topic's
        # deletion takes its posts along (services.topic_delete does that).
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Post._meta.verbose_name)
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj) -> None:
        with contextlib.suppress(services.NotFound):  # deleted meanwhile: as good as done
            services.topic_delete(topic=obj, moderator=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for topic in queryset:
            with contextlib.suppress(services.NotFound):
                services.topic_delete(topic=topic, moderator=request.user)

    def _set_flag(self, request, topics, action: str) -> None:
        name, value, done = TOPIC_FLAG_ACTIONS[action]
        setter = services.topic_set_locked if name == "locked" else services.topic_set_pinned
        _each(
            request,
            topics,
            lambda topic: setter(topic=topic, moderator=request.user, **{name: value}),
            done,
        )

    @admin.action(description="Lock selected topics", permissions=["change"])
    def lock(self, request, queryset) -> None:
        self._set_flag(request, queryset, "lock")

    @admin.action(description="Unlock selected topics", permissions=["change"])
    def unlock(self, request, queryset) -> None:
        self._set_flag(request, queryset, "unlock")

    @admin.action(description="Pin selected topics", permissions=["change"])
    def pin(self, request, queryset) -> None:
        self._set_flag(request, queryset, "pin")

    @admin.action(description="Unpin selected topics", permissions=["change"])
    def unpin(self, request, queryset) -> None:
        self._set_flag(request, queryset, "unpin")

    def get_urls(self):
        view = self.admin_site.admin_view(self.flag_view)
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="threads_topic_import",
            ),
            *(
                path(
                    f"<int:pk>/{action}/", view, {"action": action}, name=f"threads_topic_{action}"
                )
                for action in TOPIC_FLAG_ACTIONS
            ),
            *super().get_urls(),
        ]

    def import_view(self, request) -> HttpResponse:
        """Upload a ConversationJS file: check it, then import all its topics or none."""
        _moderator_only(request)
        form = ImportForm(request.POST or None, request.FILES or None)
        summary = None
        if form.is_valid():
            upload, dry_run = form.cleaned_data["file"], form.cleaned_data["dry_run"]
            try:
                document = conversation.read(upload.read(), filename=upload.name)
                summary = services.conversation_import(
                    documents=[document],
                    moderator=request.user,
                    allow_staff_handles=form.cleaned_data["allow_staff_handles"],
                    dry_run=dry_run,
                )
            except conversation.ConversationError as error:
                form.add_error("file", str(error))
            else:
                if not dry_run:
                    messages.success(
                        request,
                        f"Imported {summary.topics} topic(s) and {summary.posts} post(s); "
                        f"{len(summary.new_accounts)} new account(s), inactive until activated.",
                    )
                    return redirect("admin:threads_topic_changelist")
        page = _admin_page(
            self,
            request,
            "admin/threads/topic/import.html",
            form=form,
            summary=summary,
            title="Import conversations",
        )
        page.status_code = 400 if form.errors else 200
        return page

    def flag_view(self, request, pk: int, action: str) -> HttpResponse:
        """Confirm, then lock, unlock, pin or unpin one topic; linked from the topic page."""
        _moderator_only(request)
        topic = get_object_or_404(Topic, pk=pk)
        if request.method == "POST":
            self._set_flag(request, [topic], action)
            return redirect(topic)
        return _admin_page(
            self,
            request,
            "admin/threads/topic/flag_confirm.html",
            topic=topic,
            action=action,
            title=f"{action.capitalize()} “{topic}”",
        )


@admin.register(Post)
class PostAdmin(ServiceRefusals, MPTTModelAdmin):
    list_display = ["excerpt", "author", "topic", "created", "edited", "removal"]
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

    def save_model(self, request, obj, form, change) -> None:
        if "body" in form.changed_data:
            with _on_the_form("body"):
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
        return _admin_page(self, request, f"admin/threads/post/{template}", **context)

    def _removal_page(self, request, posts: QuerySet, as_action: bool) -> HttpResponse | None:
        """Ask for a reason, then remove the posts. None when the reason was given."""
        form = RemovalForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            _each(
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
        _each(
            request,
            queryset,
            lambda p: services.post_restore(post=p, moderator=request.user),
            "Restored",
        )

    def remove_view(self, request, pk: int) -> HttpResponse:
        _moderator_only(request)
        posts = Post.objects.filter(pk=pk).select_related("author", "topic")
        if not posts:
            raise Http404("There is no post with that id.")
        page = self._removal_page(request, posts, as_action=False)
        if page is None:
            return redirect(posts[0].get_absolute_url())
        return page

    def restore_view(self, request, pk: int) -> HttpResponse:
        _moderator_only(request)
        post = get_object_or_404(Post.objects.select_related("author", "topic"), pk=pk)
        if request.method == "POST":
            self.restore(request, Post.objects.filter(pk=pk))
            return redirect(post.get_absolute_url())
        return self._render(request, "restore.html", post=post, title="Restore a post")

    def move_view(self, request, pk: int) -> HttpResponse:
        _moderator_only(request)
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
                    form.add_error(None, _reason(error))
                else:
                    messages.success(request, "Moved.")
                    return HttpResponseRedirect(post.get_absolute_url())
        return self._render(request, "move.html", form=form, post=post, title="Move a post")


class ForumUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class ForumUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User


@admin.register(User)
class ForumUserAdmin(ServiceRefusals, UserAdmin):
    form = ForumUserChangeForm
    add_form = ForumUserCreationForm
    list_display = ["username", "email", "date_joined", "is_active", "is_staff"]
    actions = ["ban", "unban"]

    # What a moderator who is not a superuser sees of a member: enough to ban them.
    moderator_fieldsets = [(None, {"fields": ["username", "email", "is_active", "date_joined"]})]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.moderator_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        if not request.user.is_superuser:
            return ["username", "email", "date_joined"]
        # A username is an identity: it is written into every post and every export.
        return [*super().get_readonly_fields(request, obj), "username"]

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and (obj.is_staff or obj.is_superuser) and not request.user.is_superuser:
            return False  # staff accounts are the administrators' business
        return super().has_change_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied("Only administrators set passwords for others.")
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change) -> None:
        if change and not request.user.is_superuser:
            if "is_active" in form.changed_data:
                with _on_the_form("is_active"):
                    services.user_set_active(user=obj, moderator=request.user, active=obj.is_active)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Ban selected members (deactivate)", permissions=["change"])
    def ban(self, request, queryset) -> None:
        _each(
            request,
            queryset,
            lambda u: services.user_set_active(user=u, moderator=request.user, active=False),
            "Banned",
        )

    @admin.action(description="Unban or activate selected members", permissions=["change"])
    def unban(self, request, queryset) -> None:
        _each(
            request,
            queryset,
            lambda u: services.user_set_active(user=u, moderator=request.user, active=True),
            "Activated",
        )
