"""What the views share: the decorators, the form of a post, pages with ready-made parts."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from .. import selectors, services


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
            return send_again(request, logged_out=True)
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


def public_only(view):
    """A page for anyone, and for search engines and feed readers (feeds, the sitemap).

    None of them asks who is reading, and none exists on a members-only forum
    (FORUM_LOGIN_REQUIRED), where no page is public: there they are 404s, not
    redirects to the login page.
    """

    @login_not_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if settings.FORUM_LOGIN_REQUIRED:
            raise Http404("This forum is for members only.")
        return view(request, *args, **kwargs)

    return wrapper


def post_form(
    request: HttpRequest,
    *,
    form,
    template: str,
    context: dict | Callable[[], dict],
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
    `context` may be a function, called only when the form is shown.
    """
    preview, status, retry_after = None, 200, None
    if request.method != "POST":
        if reason := refusal():
            return refused_page(request, reason)
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
    context = {**(context() if callable(context) else context), "form": form, "preview": preview}
    return form_page(request, template, context, status=status, retry_after=retry_after)


def form_page(
    request: HttpRequest, template: str, context: dict, *, status: int, retry_after: int | None
) -> HttpResponse:
    """A form shown again; a 429 says, in Retry-After, when to try again."""
    response = render(request, template, context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def confirmation_link(request: HttpRequest) -> services.ConfirmationLink:
    """Makes the link, on this site, that a confirmation token is mailed in."""
    return lambda token: request.build_absolute_uri(reverse("threads:email_confirm", args=[token]))


def refused_page(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "threads/refused.html", {"message": message}, status=status)


# Where a ready-made part goes in a rendered page. NUL cannot appear in a page
# otherwise: every title, post and username refuses it.
_PART = "\x00{}\x00"


def render_with_parts(
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


def send_again(request: HttpRequest, *, logged_out: bool) -> HttpResponse:
    """A 403 page with what the person typed, in a form to send again to the same address."""
    typed = {name: request.POST[name] for name in ("title", "body") if name in request.POST}
    context = {"resend": True, "typed": typed, "action": request.path, "logged_out": logged_out}
    return render(request, "403_csrf.html", context, status=403)
