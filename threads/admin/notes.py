"""Moderators' private notes on a member: an inline of the member's admin page.

Notes are only added (through `services.moderator_note_add`), never changed:
what was noted stays as it was written, with who wrote it and when.
"""

from django import forms
from django.contrib import admin

from ..models import ModeratorNote
from ..models.moderation import NOTE_MAX_LENGTH


class NoteForm(forms.ModelForm):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Seen only by moderators, never by the member.",
    )

    class Meta:
        model = ModeratorNote
        fields = ["body"]


class ModeratorNoteInline(admin.TabularInline):
    model = ModeratorNote
    fk_name = "member"
    form = NoteForm
    extra = 1
    can_delete = False
    fields = ["body", "author", "created"]
    readonly_fields = ["author", "created"]
    ordering = ["-created"]
    verbose_name = "moderator's note"
    verbose_name_plural = "moderators' notes (only moderators see them)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # notes are kept as written

    def has_add_permission(self, request, obj=None) -> bool:
        return obj is not None and request.user.has_perm("threads.add_moderatornote")
