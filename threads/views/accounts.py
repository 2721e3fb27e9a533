"""Accounts: signing up, passwords, and forms sent with an outdated security token."""

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware import csrf
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import OneMailPasswordResetForm, SignupForm
from .common import confirmation_link, form_page, send_again


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("threads:index")
    form = SignupForm(request.POST or None)
    status, retry_after = 400 if form.errors else 200, None
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                address=get_client_ip_address(request),
                confirmation_link=confirmation_link(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
        except services.RateLimited as limited:
            form.add_error(None, limited.message)
            status, retry_after = limited.status_code, limited.retry_after
        else:
            login(request, user, backend="threads.auth.MemberBackend")
            return redirect("threads:index")
    return form_page(
        request, "registration/signup.html", {"form": form}, status=status, retry_after=retry_after
    )


def _limited_form(view, form, limited: services.RateLimited) -> HttpResponse:
    """A class-based view's form shown again after a limit refused it: 429 with Retry-After."""
    response = view.render_to_response(view.get_context_data(form=form), status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, its tries counted before any password is checked."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            services.password_change_count(user=request.user)
        except services.RateLimited as limited:
            messages.error(request, limited.message)
            form = self.get_form_class()(user=request.user)  # unbound: nothing is checked
            return _limited_form(self, form, limited)
        return super().post(request, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, its mails limited by services.password_reset_send.

    One mail per request, however many accounts share the address (the form).

    As Django's, it says the same whether or not an account uses the address;
    a limit reached is a 429 with Retry-After, for any address alike.
    """

    form_class = OneMailPasswordResetForm

    def form_valid(self, form):
        try:
            services.password_reset_send(
                email=form.cleaned_data["email"],
                address=get_client_ip_address(self.request),
                send=lambda: form.save(
                    use_https=self.request.is_secure(),
                    token_generator=self.token_generator,
                    from_email=self.from_email,
                    email_template_name=self.email_template_name,
                    subject_template_name=self.subject_template_name,
                    request=self.request,
                    html_email_template_name=self.html_email_template_name,
                    extra_email_context=self.extra_email_context,
                ),
            )
        except services.RateLimited as limited:
            form.add_error(None, limited.message)
            return _limited_form(self, form, limited)
        return HttpResponseRedirect(self.get_success_url())


# The forms of text a person typed, which a stale security token should not make them lose.
RESENDABLE_FORMS = frozenset(
    {"threads:topic_create", "threads:topic_reply", "threads:post_reply", "threads:post_edit"}
)
# Why Django refuses a request sent from another site (rather than with an old token).
_FROM_ELSEWHERE = tuple(
    reason.split("%s")[0]
    for reason in (
        csrf.REASON_BAD_ORIGIN,
        csrf.REASON_BAD_REFERER,
        csrf.REASON_NO_REFERER,
        csrf.REASON_MALFORMED_REFERER,
        csrf.REASON_INSECURE_REFERER,
    )
)


def _resendable(request: HttpRequest, reason: str) -> bool:
    if request.method != "POST" or reason.startswith(_FROM_ELSEWHERE):
        return False
    try:
        return resolve(request.path_info).view_name in RESENDABLE_FORMS
    except Resolver404:
        return False


def _way_back(request: HttpRequest) -> str:
    """The forum page the request was sent from, or the topic list."""
    referer = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("threads:index")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with an outdated security token, after logging in or out in another tab.

    A form of typed text (a new topic, a reply, an edit) is shown again with
    that text, to send again on purpose. Nothing else is ever rebuilt (deleting,
    logging out, signing in, the admin's actions: a click must not redo them),
    nor is anything sent from another site: those get why, and a link back.
    """
    if not _resendable(request, reason):
        context = {"resend": False, "back": _way_back(request)}
        return render(request, "403_csrf.html", context, status=403)
    return send_again(request, logged_out=False)
