"""What the forum's admin pages share: refusals from services shown as form errors
or messages, moderator-only pages, category moderators, and acting on each selected object.
"""

import contextlib
from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse

from .. import permissions, selectors, services
from ..models import Category, Topic

# Names in the admin's lists are cut to this many characters (usernames run to 150),
# so that the columns of titles and posts keep their room at 1280 px.
NAME_CHARS = 20


def moderator_only(request: HttpRequest, place: Topic | Category | None = None) -> None:
    """Refuse (403) a member who does not moderate `place`, or everything when it is None.

    `place` carries the member's rights in it (`selectors.topics_with_rights`,
    `selectors.post_for_change`), so that category moderators pass where they moderate.
    """
    if refusal := permissions.moderation_refusal(request.user, place):
        raise PermissionDenied(refusal)


def moderates_somewhere(request: HttpRequest) -> bool:
    """Whether the member moderates everything or at least one category (asked once a request)."""
    known = getattr(request, "_forum_moderates_somewhere", None)
    if known is None:
        user = request.user
        known = permissions.is_moderator(user) or bool(
            user.is_active and user.is_staff and selectors.moderated_categories(user).exists()
        )
        request._forum_moderates_somewhere = known
    return known


def moderators_somewhere_only(request: HttpRequest) -> None:
    """Refuse (403) a member who moderates nothing, before reading what the page acts on."""
    if not moderates_somewhere(request):
        raise PermissionDenied(permissions.moderation_refusal(request.user))


class CategoryModerators:
    """Lets category moderators use this admin for the topics and posts they moderate.

    A category moderator is staff in a category's moderator group, not in the
    global Moderators group, so they hold none of the admin's model
    permissions: they are given view and change (never add or delete) here,
    and see only what `moderated` lets through. Staff who hold the model
    permissions see everything, as before; the services refuse what they may
    not do.
    """

    def moderated(self, queryset, user):
        raise NotImplementedError

    def _has_model_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return any(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "change")
        )

    def _category_moderator(self, request: HttpRequest) -> bool:
        return not self._has_model_permission(request) and moderates_somewhere(request)

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        if self._category_moderator(request):
            return self.moderated(queryset, request.user)
        return queryset

    # An object here comes through get_queryset, so it is one they moderate.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self._category_moderator(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self._category_moderator(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) or self._category_moderator(request)


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
