"""Members in the admin: usernames read-only, bans and suspensions through the services."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied

from .. import services
from ..models import ModeratorNote, User
from .common import ServiceRefusals, each_selected, on_the_form
from .decisions import SuspensionForm, decided
from .notes import ModeratorNoteInline

# What the change page shows of a suspension (read-only: the actions set and lift it).
SUSPENSION = ["suspended_until", "suspension_reason"]


class ForumUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class ForumUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User


def _with_confirmation(fields) -> list[str]:
    fields = list(fields)
    if "email" in fields:
        at = fields.index("email") + 1
        fields[at:at] = ["email_confirmed", "pending_email"]
    return fields


@admin.register(User)
class ForumUserAdmin(ServiceRefusals, UserAdmin):
    form = ForumUserChangeForm
    add_form = ForumUserCreationForm
    list_display = [
        "username",
        "display_name",
        "email",
        "email_confirmed",
        "date_joined",
        "is_active",
        "is_staff",
    ]
    search_fields = ["username", "display_name", "email"]
    inlines = [ModeratorNoteInline]
    actions = ["ban", "unban", "reset_profile", "suspend", "unsuspend"]
    # Django's, with the address's confirmation (read-only) beside it.
    fieldsets = [
        (name, {**options, "fields": _with_confirmation(options["fields"])})
        for name, options in UserAdmin.fieldsets
    ] + [("Suspension", {"fields": SUSPENSION})]

    # What a moderator who is not a superuser sees of a member: enough to ban them.
    moderator_fieldsets = [
        (
            None,
            {
                "fields": [
                    "username",
                    "display_name",
                    "bio",
                    "email",
                    "email_confirmed",
                    "is_active",
                    "date_joined",
                    *SUSPENSION,
                ]
            },
        )
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.moderator_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        if not request.user.is_superuser:
            return [
                "username",
                "display_name",
                "bio",
                "email",
                "email_confirmed",
                "date_joined",
                *SUSPENSION,
            ]
        # A username is an identity: it is written into every post and every export. Only
        # following the link mailed to an address confirms it.
        return [
            *super().get_readonly_fields(request, obj),
            "username",
            "email_confirmed",
            "pending_email",
            *SUSPENSION,
        ]

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
                with on_the_form("is_active"):
                    services.user_set_active(user=obj, moderator=request.user, active=obj.is_active)
            return
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not ModeratorNote:
            return super().save_formset(request, form, formset, change)
        # What the admin's change message lists, as ModelFormSet.save() would set it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for note in formset.forms:
            if note.has_changed() and note.instance.pk is None and note.cleaned_data.get("body"):
                with on_the_form(None):
                    formset.new_objects.append(
                        services.moderator_note_add(
                            member=form.instance,
                            moderator=request.user,
                            body=note.cleaned_data["body"],
                        )
                    )
        return None

    @admin.action(description="Ban selected members (deactivate)", permissions=["change"])
    def ban(self, request, queryset) -> None:
        each_selected(
            request,
            queryset,
            lambda u: services.user_set_active(user=u, moderator=request.user, active=False),
            "Banned",
        )

    @admin.action(description="Unban or activate selected members", permissions=["change"])
    def unban(self, request, queryset) -> None:
        each_selected(
            request,
            queryset,
            lambda u: services.user_set_active(user=u, moderator=request.user, active=True),
            "Activated",
        )

    @admin.action(
        description="Take down the display name, bio and avatar of selected members",
        permissions=["change"],
    )
    def reset_profile(self, request, queryset) -> None:
        def reset(user: User) -> None:
            services.profile_reset(user=user, moderator=request.user)
            services.avatar_remove(user=user, moderator=request.user)

        each_selected(request, queryset, reset, "Took down the profile of")

    @admin.action(
        description="Suspend selected members (asks until when, and why)", permissions=["change"]
    )
    def suspend(self, request, queryset):
        return decided(
            self,
            request,
            form_class=SuspensionForm,
            rows=queryset,
            items=lambda user: f"@{user.username}",
            action="suspend",
            intro="These members will not be able to post until then; they may still read.",
            submit="Suspend",
            act=lambda data: each_selected(
                request,
                queryset,
                lambda user: services.member_suspend(
                    member=user, moderator=request.user, until=data["until"], reason=data["reason"]
                ),
                "Suspended",
            ),
        )

    @admin.action(description="Lift the suspension of selected members", permissions=["change"])
    def unsuspend(self, request, queryset) -> None:
        each_selected(
            request,
            queryset,
            lambda user: services.member_unsuspend(member=user, moderator=request.user),
            "Lifted the suspension of",
        )
