"""Admin actions that ask for a reason (and an end date) before they act: removing
reported posts, suspending members, rejecting posts awaiting approval."""

from collections.abc import Callable, Iterable

from django import forms
from django.http import HttpRequest, HttpResponse

from ..models.moderation import REASON_MAX_LENGTH
from .common import admin_page


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown in the public moderation log.",
    )


class SuspensionForm(ReasonForm):
    until = forms.DateTimeField(
        label="Suspended until",
        help_text="In UTC, e.g. 2026-12-31 18:00. The suspension ends by itself then.",
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the member when they try to post, and in the moderation log.",
    )


def decided(
    model_admin,
    request: HttpRequest,
    *,
    form_class: type[forms.Form],
    rows: Iterable,
    items: Callable[[object], str],
    action: str,
    intro: str,
    submit: str,
    act: Callable[[dict], None],
) -> HttpResponse | None:
    """Show the form for the selected rows, or, once it is filled in, act (None: done).

    The changelist's action sends none of the form's fields: the form is asked for then.
    """
    sent = any(name in request.POST for name in form_class.base_fields)
    form = form_class(request.POST if sent else None)
    if form.is_valid():
        act(form.cleaned_data)
        return None
    rows = list(rows)
    return admin_page(
        model_admin,
        request,
        "admin/threads/decide.html",
        form=form,
        items=[items(row) for row in rows],
        selected=[row.pk for row in rows],
        action=action,
        intro=intro,
        submit=submit,
        title=submit,
    )
