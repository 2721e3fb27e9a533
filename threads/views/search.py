"""The search page: the header's box and a topic's "search in this topic" land here."""

from axes.helpers import get_client_ip_address
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from .. import selectors, services
from ..search_query import QueryError, parse
from .common import form_page


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")
    topic = request.GET.get("topic", "")
    if topic.isascii() and topic.isdigit():  # the topic page's box: its words, in that topic
        text = f"topic:{topic} {text}"
    sort = request.GET.get("sort", "")
    context = {"search_text": text, "sort": sort, "sorts": selectors.Sort}
    if not text.strip():
        return form_page(request, "threads/search.html", context, status=200, retry_after=None)
    try:
        query = parse(text)
        if not request.user.is_authenticated:
            services.search_counted(address=get_client_ip_address(request))
    except QueryError as error:
        context["error"] = error.message
        return form_page(request, "threads/search.html", context, status=400, retry_after=None)
    except services.RateLimited as limited:
        context["error"] = limited.message
        return form_page(
            request,
            "threads/search.html",
            context,
            status=limited.status_code,
            retry_after=limited.retry_after,
        )
    context["found"] = selectors.search_results(
        viewer=request.user, query=query, sort=sort, page=request.GET.get("page")
    )
    return form_page(request, "threads/search.html", context, status=200, retry_after=None)
