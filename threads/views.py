"""Thin views: bind a form, call a service or a selector, render or redirect."""

from collections.abc import Callable
from functools import wraps

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware import csrf
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_safe

from . import permissions, selectors, services
from .forms import EditForm, OneMailPasswordResetForm, ReplyForm, SignupForm, TopicForm


def login_to_open(view):
    """Send anonymous visitors of a form to the login page.

    A POST still reaches the view: if the session ran out while someone was
    typing, the service refuses and the form comes back with their text. On
    a members-only forum, where a visitor may see no topic, it comes back
    with their text alone, to send again after logging in.
    """

    @login_not_required  # it sends visitors to log in itself, even when the forum is members-only
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method != "POST":
            return redirect_to_login(request.get_full_path())
        if settings.FORUM_LOGIN_REQUIRED:
            return _send_again(request, logged_out=True)
        return view(request, *args, **kwargs)

    return wrapper


def missing_is_404(view):
    """A page whose topic, post or member does not exist is a 404.

    Selectors raise the model's DoesNotExist; what that means is the view's to say.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404("There is nothing here.") from None

    return wrapper


def _post_form(
    request: HttpRequest,
    *,
    form,
    template: str,
    context: dict,
    refusal: Callable[[], str | None],
    submit: Callable[[], object],
    done: Callable[[object], str],
) -> HttpResponse:
    """What every form that writes a post does.

    A GET that `refusal` turns down gets the refusal page. The Preview button
    shows the rendered Markdown, to members who may post. A valid form is
    handed to `submit` (a service); its result goes to the URL `done` gives,
    and a post that was already there leads to that post, saying so.
    Anything refused shows the form again with the typed text and the
    reason, with the refusal's status: 400, 403, 404, or 429 with Retry-After.
    """
    preview, status, retry_after = None, 200, None
    if request.method != "POST":
        if reason := refusal():
            return _refused_page(request, reason)
    elif form.is_valid():
        try:
            if "preview" in request.POST:
                preview = services.post_preview(author=request.user, body=form.cleaned_data["body"])
            else:
                return redirect(done(submit()))
        except services.AlreadyPosted as already:
            messages.info(request, "You had already posted this, a moment ago: here it is.")
            return redirect(selectors.post_location(post_id=already.post.pk, viewer=request.user))
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
        except services.Refused as refused:
            form.add_error(None, refused.message)
            status = refused.status_code
            retry_after = getattr(refused, "retry_after", None)
    else:
        status = 400
    context = {**context, "form": form, "preview": preview}
    return _form_page(request, template, context, status=status, retry_after=retry_after)


def _form_page(
    request: HttpRequest, template: str, context: dict, *, status: int, retry_after: int | None
) -> HttpResponse:
    """A form shown again; a 429 says, in Retry-After, when to try again."""
    response = render(request, template, context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _refused_page(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "threads/refused.html", {"message": message}, status=status)


# Where a ready-made part goes in a rendered page. NUL cannot appear in a page
# otherwise: every title, post and username refuses it.
_PART = "\x00{}\x00"


def _render_with_parts(
    request: HttpRequest, template: str, context: dict, parts: dict[str, list[bytes]]
) -> HttpResponse:
    """Render a page whose big parts (threads of posts) are UTF-8 bytes already.

    The template shows each part as `{{ name }}`; `parts` lists them in page
    order, each in pieces. Everything is joined once, not copied through the
    template engine and encoded again, which is most of the cost of a big thread.
    """
    markers = {name: _PART.format(name) for name in parts}
    text = render_to_string(
        template, {**context, **{name: mark_safe(m) for name, m in markers.items()}}, request
    )
    rest, pieces = text.encode(), []
    for name, part in parts.items():
        before, rest = rest.split(markers[name].encode(), 1)
        pieces += (before, *part)
    pieces.append(rest)
    return HttpResponse(b"".join(pieces))


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    front = selectors.category_index(viewer=request.user, page=request.GET.get("page"))
    context = {"categories": front.categories, "topics": front.topics, "page": front.topics.page}
    return render(request, "threads/index.html", context)


@require_safe
@missing_is_404
def category(request: HttpRequest, slug: str) -> HttpResponse:
    place = selectors.category_page(viewer=request.user, slug=slug, page=request.GET.get("page"))
    context = {
        "category": place.category,
        "subcategories": place.subcategories,
        "topics": place.topics,
        "page": place.topics.page,
        "start_refusal": permissions.start_refusal(request.user, place.category),
    }
    return render(request, "threads/category.html", context)


@require_safe
@missing_is_404
def topic_detail(request: HttpRequest, pk: int, slug: str = "") -> HttpResponse:
    thread = selectors.topic_thread(topic_id=pk, page=request.GET.get("page"), viewer=request.user)
    if slug != thread.topic.slug:
        return redirect(thread.topic.get_absolute_url() + _page_query(request), permanent=True)
    return _render_with_parts(
        request,
        "threads/topic_detail.html",
        {
            "topic": thread.topic,
            "page": thread.page,
            "reply_refusal": permissions.reply_refusal(request.user, thread.topic),
            "is_moderator": permissions.moderates(request.user, thread.topic),
        },
        {"thread_html": thread.html},
    )


def _page_query(request: HttpRequest) -> str:
    page = request.GET.get("page")
    return "?" + urlencode({"page": page}) if page else ""


@require_safe
@missing_is_404
def topic_download(request: HttpRequest, pk: int) -> HttpResponse:
    topic, text = selectors.topic_markdown(topic_id=pk, viewer=request.user)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{topic.slug}.md"'
    return response


@require_safe
@missing_is_404
def post_permalink(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(selectors.post_location(post_id=pk, viewer=request.user))


@require_safe
@missing_is_404
def post_thread(request: HttpRequest, pk: int) -> HttpResponse:
    thread = selectors.post_thread(post_id=pk, viewer=request.user)
    parts = {"thread_html": thread.html}
    if thread.post.level:
        parts = {"context_html": thread.context_html, **parts}
    return _render_with_parts(
        request,
        "threads/post_thread.html",
        {"topic": thread.topic, "post": thread.post},
        parts,
    )


@login_to_open
@require_http_methods(["GET", "POST"])
def topic_create(request: HttpRequest) -> HttpResponse:
    form = TopicForm(
        request.POST or None, viewer=request.user, category=request.GET.get("category")
    )
    return _post_form(
        request,
        form=form,
        template="threads/topic_form.html",
        context={},
        refusal=lambda: permissions.posting_refusal(request.user) or form.no_category_refusal(),
        submit=lambda: services.topic_create(author=request.user, **form.cleaned_data),
        done=lambda topic: topic.get_absolute_url(),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def reply(
    request: HttpRequest, topic_pk: int | None = None, post_pk: int | None = None
) -> HttpResponse:
    topic, parent = selectors.reply_target(viewer=request.user, topic_id=topic_pk, post_id=post_pk)
    form = ReplyForm(request.POST or None)
    return _post_form(
        request,
        form=form,
        template="threads/reply_form.html",
        context={"topic": topic, "parent": parent},
        refusal=lambda: permissions.reply_refusal(request.user, topic, parent),
        submit=lambda: services.post_reply(
            author=request.user, topic=topic, parent=parent, body=form.cleaned_data["body"]
        ),
        done=lambda post: selectors.post_location(post_id=post.pk, viewer=request.user),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def post_edit(request: HttpRequest, pk: int) -> HttpResponse:
    post = selectors.post_for_change(post_id=pk, viewer=request.user)
    title = post.topic.title if selectors.is_opening_post(post) else None
    form = EditForm(request.POST or None, initial={"body": post.body}, title=title)
    return _post_form(
        request,
        form=form,
        template="threads/edit_form.html",
        context={"post": post, "topic": post.topic},
        refusal=lambda: permissions.edit_refusal(request.user, post),
        submit=lambda: services.post_edit(post=post, editor=request.user, **form.cleaned_data),
        done=lambda edited: selectors.post_location(post_id=edited.pk, viewer=request.user),
    )


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def post_delete(request: HttpRequest, pk: int) -> HttpResponse:
    post = selectors.post_for_change(post_id=pk, viewer=request.user)
    if request.method == "POST":
        try:
            services.post_delete(post=post, user=request.user)
        except services.Refused as refused:
            return _refused_page(request, refused.message, refused.status_code)
        return redirect(selectors.post_location(post_id=post.pk, viewer=request.user))
    if refusal := permissions.delete_refusal(request.user, post):
        return _refused_page(request, refusal)
    return render(request, "threads/delete_confirm.html", {"post": post, "topic": post.topic})


@require_safe
@missing_is_404
def profile(request: HttpRequest, username: str) -> HttpResponse:
    member_profile = selectors.profile(
        viewer=request.user,
        username=username,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
    )
    return render(request, "threads/profile.html", {"profile": member_profile})


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
            )
        except ValidationError as error:
            form.add_error(None, error)
            status = 400
        except services.RateLimited as limited:
            form.add_error(None, limited.message)
            status, retry_after = limited.status_code, limited.retry_after
        else:
            login(request, user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
            return redirect("threads:index")
    return _form_page(
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
    return _send_again(request, logged_out=False)


def _send_again(request: HttpRequest, *, logged_out: bool) -> HttpResponse:
    """A 403 page with what the person typed, in a form to send again to the same address."""
    typed = {name: request.POST[name] for name in ("title", "body") if name in request.POST}
    context = {"resend": True, "typed": typed, "action": request.path, "logged_out": logged_out}
    return render(request, "403_csrf.html", context, status=403)
