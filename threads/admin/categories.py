"""Categories in the admin: the tree, who may see and post, who moderates; global moderators only.

A plain MPTTModelAdmin (names indented by level), not django-mptt's
DraggableMPTTAdmin. Its script is an external file with its data in an
attribute, which the admin's Content-Security-Policy would let run, but a
drop moves the node with django-mptt's own `move_node`, past the services,
and against `order_insertion_by` (position, then name), which puts the
category back where its position says the next time it is saved. Here a
category's place is its parent and its position field.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import redirect
from mptt.admin import MPTTAdminForm, MPTTModelAdmin

from .. import permissions, services
from ..models import Category
from .common import ServiceRefusals, on_the_form

# What services.category_create takes, as the form cleans it.
CREATED_FIELDS = [
    "name",
    "slug",
    "description",
    "parent",
    "position",
    "is_default",
    "who_sees",
    "seer_groups",
    "who_starts",
    "who_replies",
    "moderator_groups",
    "requires_approval",
]


CHANGED_MEANWHILE = "Meanwhile another category took this slug or became the default: look again."


class CategoryForm(MPTTAdminForm):
    """MPTTAdminForm refuses a parent that is the category itself or one of its subcategories."""

    class Meta:
        model = Category
        fields = CREATED_FIELDS
        widgets = {
            "seer_groups": forms.CheckboxSelectMultiple,
            "moderator_groups": forms.CheckboxSelectMultiple,
        }
        error_messages = {
            "slug": {"unique": "Another category has this slug: choose another one."},
        }

    def clean_is_default(self) -> bool:
        """One category is the default (a UniqueConstraint): say so before the database does."""
        wanted = self.cleaned_data["is_default"]
        if wanted:
            other = Category.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
            if other is not None:
                raise ValidationError(
                    f"“{other}” is the default category, and there is only one: "
                    "untick “default” there first.",
                    code="one_default",
                )
        return wanted


@admin.register(Category)
class CategoryAdmin(ServiceRefusals, MPTTModelAdmin):
    form = CategoryForm
    list_display = [
        "name",
        "slug",
        "is_default",
        "who_sees",
        "moderators",
        "topic_count",
        "post_count",
    ]
    list_display_links = ["name"]
    mptt_level_indent = 20
    mptt_indent_field = "name"
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["topic_count", "post_count", "last_activity"]
    actions = None  # one at a time: deleting refuses a category that still holds anything

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["name", "slug", "description", "parent", "position", "is_default"]}),
            (
                "Who may see it and post",
                {"fields": ["who_sees", "seer_groups", "who_starts", "who_replies"]},
            ),
            ("Moderators", {"fields": ["moderator_groups", "requires_approval"]}),
        ]
        if obj is not None:
            fieldsets.append(("Counts", {"fields": self.readonly_fields}))
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("moderator_groups")

    @admin.display(description="Moderator groups")
    def moderators(self, category: Category) -> str:
        return ", ".join(group.name for group in category.moderator_groups.all()) or "—"

    # Categories are the global moderators' (and administrators') business.
    def _global_moderator(self, request: HttpRequest) -> bool:
        return permissions.is_moderator(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._global_moderator(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._global_moderator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._global_moderator(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._global_moderator(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._global_moderator(request)

    def save_model(self, request, obj: Category, form, change: bool) -> None:
        with on_the_form(None):
            try:
                if change:
                    with transaction.atomic():  # a savepoint: the database may still refuse
                        obj.save()
                else:
                    fields = {name: form.cleaned_data[name] for name in CREATED_FIELDS}
                    created = services.category_create(moderator=request.user, **fields)
            except IntegrityError:  # the form checked both, but another moderator was faster
                raise ValidationError(CHANGED_MEANWHILE, code="changed_meanwhile") from None
            if change:
                services.category_changed(
                    category=obj, moderator=request.user, changed=form.changed_data
                )
        if not change:
            # The admin goes on with `obj` (its log entry, its redirect): make it the new row.
            vars(obj).update(vars(created))

    def save_related(self, request, form, formsets, change: bool) -> None:
        if change:  # a new category's groups were set by services.category_create
            super().save_related(request, form, formsets, change)

    def delete_view(self, request, object_id, extra_context=None):
        """Refuse, before the confirmation page, a category that still holds something."""
        category = self.get_object(request, unquote(object_id))
        refusal = category is not None and services.category_delete_refusal(category)
        if refusal and self._global_moderator(request):
            messages.error(request, refusal)
            return redirect("admin:threads_category_change", category.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj: Category) -> None:
        services.category_delete(category=obj, moderator=request.user)
