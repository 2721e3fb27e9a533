"""What the forum's admin pages share: refusals from services shown as form errors
or messages, moderator-only pages, and acting on each selected object.
"""

import contextlib
from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse

from .. import permissions, services


def moderator_only(request: HttpRequest) -> None:
    if refusal := permissions.moderation_refusal(request.user):
        raise PermissionDenied(refusal)


def refusal_reason(error: Exception) -> str:
    """What a refused service call or a validation error says, for a moderator."""
    return getattr(error, "message", None) or "; ".join(error.messages)


def admin_page(model_admin, request: HttpRequest, template: str, **context) -> TemplateResponse:
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
def on_the_form(field: str | None) -> Iterator[None]:
    """Turn what a service refuses, while saving a form, into an error on that form.

    A ValidationError is about `field` (None: the whole change); any other
    refusal is about the whole change.
    """
    try:
        yield
    except ValidationError as error:
        raise _Refusal(field, refusal_reason(error)) from error
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
            messages.error(request, refusal_reason(error))
            return HttpResponseRedirect(request.get_full_path())

    def response_action(self, request, queryset):
        try:
            with transaction.atomic():
                return super().response_action(request, queryset)
        except (services.Refused, ValidationError) as error:
            messages.error(request, refusal_reason(error))
            return HttpResponseRedirect(request.get_full_path())


def each_selected(request: HttpRequest, objects, action, done: str) -> None:
    """Run a service on each selected object, reporting refusals instead of failing.

    Says what was done, e.g. "Locked 2 topics."
    """
    done_with = []
    for obj in objects:
        try:
            action(obj)
            done_with.append(obj)
        except (services.Refused, ValidationError) as error:
            messages.error(request, f"{obj}: {refusal_reason(error)}")
    if done_with:
        meta = done_with[0]._meta
        noun = meta.verbose_name if len(done_with) == 1 else meta.verbose_name_plural
        messages.success(request, f"{done} {len(done_with)} {noun}.")
