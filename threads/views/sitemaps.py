"""The sitemap (an index, then a section of categories and pages of topics) and robots.txt.

Only what anonymous visitors may see (`selectors.public`), at absolute
addresses on settings.FORUM_SITE_URL, whatever Host a request names. On a
members-only forum there is no sitemap (404) and robots.txt keeps crawlers out.
"""

from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps import views as sitemap_views
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from .. import selectors
from ..models import Category
from .common import public_only

# Topic ids per page of the topics' section. The protocol allows 50,000 URLs; a smaller
# page is what keeps one within 50 ms: the template takes most of it.
TOPICS_PER_SITEMAP = 1_000


class _OnSite(Sitemap):
    """Absolute URLs on settings.FORUM_SITE_URL, not on the Host header of the request."""

    def get_protocol(self, protocol=None) -> str:
        return urlsplit(settings.FORUM_SITE_URL).scheme

    def get_domain(self, site=None) -> str:
        return settings.FORUM_SITE_URL.split("://", 1)[1]


class CategorySitemap(_OnSite):
    """The public categories (read when the section is asked for, unless given)."""

    def __init__(self, categories: list[Category] | None = None) -> None:
        self.categories = categories

    def items(self) -> list[Category]:
        if self.categories is None:
            self.categories = selectors.public_categories()
        return self.categories

    def lastmod(self, category: Category):
        return category.last_activity


class TopicSitemap(_OnSite):
    """The topics' first pages, by id, a range of `TOPICS_PER_SITEMAP` ids to a page."""

    limit = TOPICS_PER_SITEMAP

    def __init__(self) -> None:
        # Reversed once, not for each of thousands of URLs.
        marker = (2_147_483_647, "marker")
        path = reverse("threads:topic_detail", args=marker)
        self.path = path.replace(f"{marker[0]}-{marker[1]}", "{0}-{1}", 1)

    @cached_property
    def paginator(self) -> Paginator:
        return selectors.public_topic_pages(per_page=self.limit)

    def location(self, row: tuple) -> str:
        return self.path.format(row[0], row[1])

    def lastmod(self, row: tuple):
        return row[2]


# Built for the section asked for only: Django's view makes an instance of a class.
SECTIONS = {"categories": CategorySitemap, "topics": TopicSitemap}


@public_only
@require_safe
@sitemap_views.x_robots_tag
def sitemap_index(request: HttpRequest) -> TemplateResponse:
    """The sections and each page of them, with the latest activity of the public categories.

    Django's index view would take its addresses from the request's Host. Two queries:
    the categories, and the highest topic id (how many pages of topics there are).
    """
    categories = selectors.public_categories()
    activity = [category.last_activity for category in categories if category.last_activity]
    latest = max(activity, default=None)
    items = []
    sections = {"categories": CategorySitemap(categories), "topics": TopicSitemap()}
    for name, section in sections.items():
        url = settings.FORUM_SITE_URL + reverse("threads:sitemap_section", args=[name])
        pages = section.paginator.num_pages
        items += [
            sitemap_views.SitemapIndexItem(url + (f"?p={page}" if page > 1 else ""), latest)
            for page in range(1, pages + 1)
        ]
    headers = {"Last-Modified": http_date(latest.timestamp())} if latest else None
    return TemplateResponse(
        request,
        "sitemap_index.xml",
        {"sitemaps": items},
        content_type="application/xml",
        headers=headers,
    )


@public_only
@require_safe
def sitemap_section(request: HttpRequest, section: str) -> HttpResponse:
    """A page of a section (`?p=`): Django's view, which answers 404 to a page there is not."""
    return sitemap_views.sitemap(
        request, SECTIONS, section=section, template_name="threads/sitemap.xml"
    )


# Crawlers need not ask for what only members and moderators see.
_PRIVATE = [
    "admin:index",
    "login",
    "logout",
    "signup",
    "password_reset",
    "password_change",
    "threads:settings",
    "threads:notifications",
    "threads:topic_create",
]


@login_not_required
@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Where crawlers may go and where the sitemap is; on a members-only forum, nowhere."""
    lines = ["User-agent: *"]
    if settings.FORUM_LOGIN_REQUIRED:
        lines.append("Disallow: /")
    else:
        lines += [f"Disallow: {reverse(name)}" for name in _PRIVATE]
        lines += ["", f"Sitemap: {settings.FORUM_SITE_URL}{reverse('threads:sitemap')}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
