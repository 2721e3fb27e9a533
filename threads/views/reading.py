"""Pages that read: the front page, categories, topics, posts and profiles."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from .. import permissions, selectors, services
from ..models import Level, Topic
from . import feeds
from .common import missing_is_404, render_with_parts


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    front = selectors.category_index(viewer=request.user, page=request.GET.get("page"))
    context = {
        "categories": front.categories,
        "topics": front.topics,
        "page": front.topics.page,
        "feed": feeds.forum_link(),
    }
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
        "levels": Level.choices,
        "feed": feeds.category_link(place.category, request.user),
    }
    return render(request, "threads/category.html", context)


@require_safe
@missing_is_404
def topic_detail(request: HttpRequest, pk: int, slug: str = "") -> HttpResponse:
    try:
        thread = selectors.topic_thread(
            topic_id=pk, page=request.GET.get("page"), viewer=request.user
        )
    except Topic.DoesNotExist:  # merged into another topic, perhaps: its address follows
        target = selectors.redirected_topic(topic_id=pk, viewer=request.user)
        return redirect(target.get_absolute_url(), permanent=True)
    if slug != thread.topic.slug:
        return redirect(thread.topic.get_absolute_url() + _page_query(request), permanent=True)
    services.topic_seen(member=request.user, topic=thread.topic, post_id=thread.last_post_id)
    return render_with_parts(
        request,
        "threads/topic_detail.html",
        {
            "topic": thread.topic,
            "page": thread.page,
            "reply_refusal": permissions.reply_refusal(request.user, thread.topic),
            "is_moderator": permissions.moderates(request.user, thread.topic),
            "new_posts": thread.new_posts,
            "levels": Level.choices,
            "canonical_url": _canonical_url(thread),
            "feed": feeds.topic_link(thread.topic, request.user),
        },
        {"thread_html": thread.html},
    )


def _canonical_url(thread: selectors.Thread) -> str:
    """The one address of this page of the topic, absolute (settings.FORUM_SITE_URL)."""
    query = f"?page={thread.page.number}" if thread.page.number > 1 else ""
    return settings.FORUM_SITE_URL + thread.topic.get_absolute_url() + query


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
    services.topic_seen(member=request.user, topic=thread.topic, post_id=thread.last_post_id)
    parts = {"thread_html": thread.html}
    if thread.post.level:
        parts = {"context_html": thread.context_html, **parts}
    return render_with_parts(
        request,
        "threads/post_thread.html",
        {"topic": thread.topic, "post": thread.post, "new_posts": thread.new_posts},
        parts,
    )


@require_safe
@missing_is_404
def profile(request: HttpRequest, username: str) -> HttpResponse:
    member_profile = selectors.profile(
        viewer=request.user,
        username=username,
        before=request.GET.get("before"),
        after=request.GET.get("after"),
    )
    context = {
        "profile": member_profile,
        "ignore_refusal": permissions.ignore_refusal(request.user, member_profile.member),
        "feed": feeds.member_link(member_profile.member),
    }
    return render(request, "threads/profile.html", context)
