"""The forum's URLs, plus the reference views the benchmark compares against."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import include, path

from threads.models import Post, Topic

# Response bodies to serve from memory, filled by the benchmark.
FLOOR: dict[str, bytes] = {}


def floor(request, name: str) -> HttpResponse:
    """The same bytes as a real page, returned from memory: the least a page can cost."""
    return HttpResponse(FLOOR[name])


def trivial(request) -> HttpResponse:
    return HttpResponse(b"ok")


def template_loop(request, pk: int) -> HttpResponse:
    """A topic rendered the stock way: a template loop with an include per post."""
    topic = get_object_or_404(Topic, pk=pk)
    posts = Post.objects.filter(topic=topic).select_related("author").order_by("tree_id", "lft")
    return render(request, "bench/template_loop.html", {"topic": topic, "posts": posts})


urlpatterns = [
    path("bench/floor/<str:name>/", floor),
    path("bench/trivial/", trivial),
    path("bench/template-loop/<int:pk>/", template_loop),
    path("", include("forum.urls")),
]
