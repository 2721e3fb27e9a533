"""Reporting a post to the moderators, and seeing what they decided."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from .. import permissions, selectors, services
from ..forms import ReportForm
from .common import form_page, login_to_open, missing_is_404, refused_page


@login_to_open
@require_http_methods(["GET", "POST"])
@missing_is_404
def post_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The report form of a post, or, once reported, the report and its outcome."""
    page = selectors.report_page(post_id=pk, viewer=request.user)
    form = ReportForm(request.POST or None)
    status, retry_after = 200, None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.post_report(post=page.post, reporter=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            except services.Refused as refused:
                form.add_error(None, refused.message)
                status, retry_after = refused.status_code, getattr(refused, "retry_after", None)
            else:
                messages.success(request, "Thank you: the moderators will look at the post.")
                return redirect(selectors.post_location(post_id=pk, viewer=request.user))
    elif page.report is None and (refusal := permissions.report_refusal(request.user, page.post)):
        return refused_page(request, refusal)
    context = {"post": page.post, "topic": page.post.topic, "report": page.report, "form": form}
    return form_page(
        request, "threads/report_form.html", context, status=status, retry_after=retry_after
    )
