"""The outbox in the admin, for administrators: what was sent, what failed, what is stuck.

Read-only, and without the mails' text: a confirmation or password-reset link
in it would let whoever reads it into the account.
"""

from django.contrib import admin
from django.db.models import Q

from ..models import Mail


class MailState(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"
    STATES = {
        "sent": Q(sent__isnull=False),
        "failed": ~Q(failure=""),
        # Claimed by a worker that never finished: perhaps sent, never sent again.
        "stuck": Q(claimed__isnull=False, sent__isnull=True, failure=""),
        "waiting": Q(claimed__isnull=True, sent__isnull=True, failure=""),
    }

    def lookups(self, request, model_admin):
        return [(state, state.capitalize()) for state in self.STATES]

    def queryset(self, request, queryset):
        if self.value() in self.STATES:
            return queryset.filter(self.STATES[self.value()])
        return queryset


@admin.register(Mail)
class MailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to", "created", "attempts", "sent", "failure"]
    list_filter = [MailState]
    search_fields = ["to"]
    fields = ["to", "subject", "created", "claimed", "sent", "attempts", "failure"]
    readonly_fields = fields
    ordering = ["-created"]

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
