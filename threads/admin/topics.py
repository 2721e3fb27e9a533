"""Topics in the admin: flags, slow mode, retitling, moving, deleting, and importing
ConversationJS files.

Category moderators see and moderate the topics of their categories (common.CategoryModerators).
"""

import contextlib
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from .. import conversation, permissions, selectors, services
from ..models import Category, Post, Topic
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
)

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
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(),
        # Never empty on the page; a request without it imports into the default category.
        required=False,
        empty_label=None,
        label="Into the category",
        help_text="Every topic of the file goes there. The categories you moderate are listed.",
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

    def __init__(self, *args, moderator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        # Read as the moderator sees them, so that the chosen one carries their rights.
        field.queryset = (
            selectors.visible_categories(moderator)
            .filter(moderated=True)
            .order_by("tree_id", "lft")
        )
        field.label_from_instance = lambda c: "\u2003" * c.level + c.name
        field.initial = services.default_category().pk


def _indented(category: Category) -> str:
    return "\u2003" * category.level + category.name


class MoveForm(forms.Form):
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(),
        label="Move to",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the categories you moderate."},
    )

    def __init__(self, *args, moderator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        categories = selectors.moderated_categories(moderator).order_by("tree_id", "lft")
        self.fields["category"].queryset = categories
        self.fields["category"].label_from_instance = _indented


# The intervals moderators choose from ("" turns slow mode off); the service takes any
# up to FORUM_LIMITS["slow_mode_max"].
SLOW_MODE_CHOICES = [
    ("", "Off"),
    ("30", "30 seconds"),
    ("60", "1 minute"),
    ("300", "5 minutes"),
    ("900", "15 minutes"),
    ("3600", "1 hour"),
    ("86400", "1 day"),
]


class SlowModeForm(forms.Form):
    interval = forms.TypedChoiceField(
        choices=SLOW_MODE_CHOICES,
        coerce=lambda seconds: timedelta(seconds=int(seconds)),
        empty_value=None,
        required=False,
        label="One post per member every",
    )


class CategoryFilter(admin.SimpleListFilter):
    """The categories the moderator moderates, as a tree (Django's own would list them all)."""

    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        categories = selectors.moderated_categories(request.user).order_by("tree_id", "lft")
        return [(str(category.pk), _indented(category)) for category in categories]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(category_id=int(value))


@admin.register(Topic)
class TopicAdmin(CategoryModerators, ServiceRefusals, admin.ModelAdmin):
    # Few, narrow columns, so that titles are not squeezed at 1280 px: names are
    # cut short, and the title column asks for the room (change_list.html).
    list_display = ["title", "category_name", "author_name", "last_activity", "replies", "flags"]
    list_select_related = ["author", "category"]
    list_filter = [CategoryFilter, "is_locked", "is_pinned", "created"]
    search_fields = ["title", "author__username"]
    date_hierarchy = "created"
    readonly_fields = [
        "category",
        "author",
        "created",
        "last_activity",
        "reply_count",
        "is_locked",
        "is_pinned",
        "slow_mode",
    ]
    fields = ["title", *readonly_fields]
    actions = ["lock", "unlock", "pin", "unpin", "move", "set_slow_mode"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # topics are started on the site

    def moderated(self, queryset, user):
        return queryset.filter(pk__in=selectors.moderated_topics(user).values("pk"))

    def changelist_view(self, request, extra_context=None):
        # Importing is for global moderators: the import page refuses anyone else.
        may_import = permissions.is_moderator(request.user)
        return super().changelist_view(request, {"may_import": may_import, **(extra_context or {})})

    def _moderated_topic(self, request, pk: int) -> Topic:
        """The topic a page acts on: 404 if the member may not see it, 403 if not moderate it."""
        moderators_somewhere_only(request)
        try:
            topic = selectors.topics_with_rights(request.user).select_related("category").get(pk=pk)
        except Topic.DoesNotExist:
            raise Http404("There is no topic with that id.") from None
        moderator_only(request, topic)
        return topic

    @admin.display(description="Category", ordering="category__name")
    def category_name(self, topic: Topic) -> str:
        return Truncator(topic.category.name).chars(NAME_CHARS)

    @admin.display(description="Author", ordering="author__username")
    def author_name(self, topic: Topic) -> str:
        return Truncator(topic.author.username).chars(NAME_CHARS)

    @admin.display(description="Replies", ordering="reply_count")
    def replies(self, topic: Topic) -> int:
        return topic.reply_count

    @admin.display(description="Flags")
    def flags(self, topic: Topic) -> str:
        labels = [
            label for label, on in (("locked", topic.is_locked), ("pinned", topic.is_pinned)) if on
        ]
        url = reverse("admin:threads_post_changelist") + f"?topic__id__exact={topic.pk}"
        return format_html('{} <a href="{}">posts</a>', ", ".join(labels), url)

    def save_model(self, request, obj, form, change) -> None:
        if "title" in form.changed_data:
            with on_the_form("title"):
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
        each_selected(
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

    @admin.action(description="Move selected topics to another category", permissions=["change"])
    def move(self, request, queryset) -> HttpResponse | None:
        """Ask for the category, then move each selected topic there."""
        form = MoveForm(
            request.POST if "category" in request.POST else None, moderator=request.user
        )
        if form.is_valid():
            target = form.cleaned_data["category"]
            each_selected(
                request,
                queryset,
                lambda topic: services.topic_move(
                    topic=topic, moderator=request.user, category=target
                ),
                f"Moved to {target}:",
            )
            return None
        page = admin_page(
            self,
            request,
            "admin/threads/topic/move.html",
            form=form,
            topics=list(queryset),
            as_action=True,
            title="Move topics to another category",
        )
        page.status_code = 400 if form.errors else 200
        return page

    def _slow_mode_page(self, request, topics, as_action: bool) -> HttpResponse | None:
        """Ask for the interval, then set it on each topic. None when it was set."""
        form = SlowModeForm(request.POST if "interval" in request.POST else None)
        if form.is_valid():
            interval = form.cleaned_data["interval"]
            each_selected(
                request,
                topics,
                lambda topic: services.topic_set_slow_mode(
                    topic=topic, moderator=request.user, interval=interval
                ),
                "Slow mode set on" if interval else "Slow mode turned off on",
            )
            return None
        page = admin_page(
            self,
            request,
            "admin/threads/topic/slow_mode.html",
            form=form,
            topics=list(topics),
            as_action=as_action,
            title="Slow mode",
        )
        page.status_code = 400 if form.errors else 200
        return page

    @admin.action(description="Set slow mode on selected topics", permissions=["change"])
    def set_slow_mode(self, request, queryset) -> HttpResponse | None:
        return self._slow_mode_page(request, queryset, as_action=True)

    def slow_mode_view(self, request, pk: int) -> HttpResponse:
        """Set one topic's slow mode; linked from the topic page."""
        topic = self._moderated_topic(request, pk)
        page = self._slow_mode_page(request, [topic], as_action=False)
        return page or redirect(topic)

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
            path(
                "<int:pk>/move/",
                self.admin_site.admin_view(self.move_view),
                name="threads_topic_move",
            ),
            path(
                "<int:pk>/slow-mode/",
                self.admin_site.admin_view(self.slow_mode_view),
                name="threads_topic_slow_mode",
            ),
            path(
                "<int:pk>/merge/",
                self.admin_site.admin_view(self.merge_view),
                name="threads_topic_merge",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request) -> HttpResponse:
        """Upload a ConversationJS file: check it, then import all its topics or none."""
        moderator_only(request)
        form = ImportForm(request.POST or None, request.FILES or None, moderator=request.user)
        summary = category = None
        if form.is_valid():
            upload, dry_run = form.cleaned_data["file"], form.cleaned_data["dry_run"]
            category = form.cleaned_data["category"] or services.default_category()
            try:
                document = conversation.read(upload.read(), filename=upload.name)
                summary = services.conversation_import(
                    documents=[document],
                    moderator=request.user,
                    category=category,
                    allow_staff_handles=form.cleaned_data["allow_staff_handles"],
                    dry_run=dry_run,
                )
            except conversation.ConversationError as error:
                form.add_error("file", str(error))
            except services.Refused as refused:
                form.add_error("category", refused.message)
            else:
                if not dry_run:
                    messages.success(
                        request,
                        f"Imported {summary.topics} topic(s) and {summary.posts} post(s); "
                        f"{len(summary.new_accounts)} new account(s), inactive until activated.",
                    )
                    return redirect("admin:threads_topic_changelist")
        page = admin_page(
            self,
            request,
            "admin/threads/topic/import.html",
            form=form,
            summary=summary,
            category=category,
            title="Import conversations",
        )
        page.status_code = 400 if form.errors else 200
        return page

    def flag_view(self, request, pk: int, action: str) -> HttpResponse:
        """Confirm, then lock, unlock, pin or unpin one topic; linked from the topic page."""
        topic = self._moderated_topic(request, pk)
        if request.method == "POST":
            self._set_flag(request, [topic], action)
            return redirect(topic)
        return admin_page(
            self,
            request,
            "admin/threads/topic/flag_confirm.html",
            topic=topic,
            action=action,
            title=f"{action.capitalize()} “{topic}”",
        )

    def move_view(self, request, pk: int) -> HttpResponse:
        """Move one topic to another category; linked from the topic page."""
        topic = self._moderated_topic(request, pk)
        form = MoveForm(
            request.POST if request.method == "POST" else None,
            moderator=request.user,
            initial={"category": topic.category_id},
        )
        if form.is_valid():
            target = form.cleaned_data["category"]
            if target.pk == topic.category_id:
                form.add_error("category", f"It is in {target} already: choose another category.")
            else:
                try:
                    services.topic_move(topic=topic, moderator=request.user, category=target)
                except services.Refused as refused:
                    form.add_error(None, refused.message)
                else:
                    messages.success(request, f"Moved “{topic}” to {target}.")
                    return redirect(topic)
        page = admin_page(
            self,
            request,
            "admin/threads/topic/move.html",
            form=form,
            topics=[topic],
            title=f"Move “{topic}”",
        )
        page.status_code = 400 if form.errors else 200
        return page

    def merge_view(self, request, pk: int) -> HttpResponse:
        """Merge one topic into another; linked from the topic page."""
        return splits.merge_view(self, request, self._moderated_topic(request, pk))
