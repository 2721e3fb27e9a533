"""Atom feeds: the latest topics of the forum and of each category, a topic's posts, a member's.

Only what anonymous visitors may see (`selectors.public`), and none on a
members-only forum. An entry is a post: its stored, sanitized HTML (never
Markdown rendered here), author, times and permalink; a topic's entry is its
opening post. Links are absolute, on settings.FORUM_SITE_URL.

Each feed answers a conditional GET by its ETag, made of its stamp (the
revision of each entry's topic), read before any post. Last-Modified is the
newest entry's time, sent for readers but not used to answer 304: removing a
post, or retitling a topic, changes no stored time, so a date alone could
call a changed feed unchanged.
"""

import functools
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import feedgenerator
from django.views.decorators.http import condition, require_safe

from .. import selectors
from ..models import Category, Post, Topic, User
from .common import missing_is_404, public_only

SITE_NAME = "Forum"
# Part of every ETag: renew it when what a feed writes changes.
FEED_VERSION = 1
# What XML 1.0 cannot carry (Django's writer refuses the control characters with an error).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text an XML document can carry: a post may hold control characters, XML may not."""
    return _NOT_XML.sub("", text)


def _absolute(path: str) -> str:
    return settings.FORUM_SITE_URL + path


def _byline(display_name: str, username: str) -> str:
    return f"{display_name} (@{username})" if display_name else f"@{username}"


# --- What pages link ----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedLink:
    """A page's feed, for its <link rel="alternate">."""

    title: str
    url: str


def forum_title() -> str:
    return f"Latest topics · {SITE_NAME}"


def category_title(category: Category) -> str:
    return f"Latest topics in {category.name} · {SITE_NAME}"


def topic_title(topic: Topic) -> str:
    return f"{topic.title} · {SITE_NAME}"


def member_title(member: User) -> str:
    return f"Posts by {_byline(member.display_name, member.username)} · {SITE_NAME}"


def forum_link() -> FeedLink | None:
    """The front page's feed; none on a members-only forum (so for every feed link below)."""
    if settings.FORUM_LOGIN_REQUIRED:
        return None
    return FeedLink(forum_title(), reverse("threads:feed"))


def category_link(category: Category, viewer) -> FeedLink | None:
    """A category's feed, when visitors see it (`public`, annotated for a member's page)."""
    public = category.public if viewer.is_authenticated else True
    if settings.FORUM_LOGIN_REQUIRED or not public:
        return None
    return FeedLink(
        category_title(category), reverse("threads:category_feed", args=[category.slug])
    )


def topic_link(topic: Topic, viewer) -> FeedLink | None:
    """A topic's feed, when visitors see it (`public`, annotated for a member's page)."""
    public = topic.public if viewer.is_authenticated else True
    if settings.FORUM_LOGIN_REQUIRED or not public:
        return None
    return FeedLink(topic_title(topic), reverse("threads:topic_feed", args=[topic.pk]))


def member_link(member: User) -> FeedLink | None:
    if settings.FORUM_LOGIN_REQUIRED:
        return None
    return FeedLink(member_title(member), reverse("threads:member_feed", args=[member.username]))


@functools.lru_cache(maxsize=4096)
def _profile_path(username: str, prefix: str, urlconf: str | None) -> str:
    """A member's profile, reversed once per process for the authors feeds show most."""
    return reverse("threads:profile", args=[username], urlconf=urlconf)


# --- The feeds ---------------------------------------------------------------------------


class _Atom(feedgenerator.Atom1Feed):
    """Atom with each entry's HTML as its content (Django's writes a description as a summary)."""

    def write(self, outfile, encoding):
        # Into the response at once: a piece at a time, the writes took a third of a feed's time.
        text = io.StringIO()
        super().write(text, encoding)
        outfile.write(text.getvalue())

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("content", item["content"], {"type": "html"})


class _PostsFeed(Feed):
    """A feed of posts, made for one request; `read` gives its entries, once it is built."""

    feed_type = _Atom

    def __init__(
        self,
        read: Callable[[], list[Post]],
        *,
        title: str,
        page: str,
        path: str,
        subtitle: str = "",
    ) -> None:
        self.read, self.feed_title, self.feed_subtitle = read, title, subtitle
        self.page, self.path = page, path
        # Reversed once, not for each entry (a fifth of a feed's time went there).
        marker = 2_147_483_647
        self.permalink = _absolute(reverse("threads:post_permalink", args=[marker]))
        self.permalink = self.permalink.replace(str(marker), "{0}")

    def title(self) -> str:
        return _xml(self.feed_title)

    def subtitle(self) -> str | None:
        return _xml(self.feed_subtitle) or None

    def link(self) -> str:
        return _absolute(self.page)

    def feed_url(self) -> str:
        return _absolute(self.path)

    def feed_guid(self) -> str:
        return _absolute(self.path)

    def items(self) -> list[Post]:
        return self.read()

    def item_title(self, post: Post) -> str:
        title = _xml(post.topic_title)
        return title if post.is_opening else f"Re: {title}"

    def item_description(self, post: Post) -> None:
        return None  # the post's HTML is the entry's content (item_extra_kwargs)

    def item_extra_kwargs(self, post: Post) -> dict:
        return {"content": _xml(post.body_html)}

    def item_link(self, post: Post) -> str:
        return self.permalink.format(post.pk)  # and the entry's id (Feed's item_guid)

    def item_author_name(self, post: Post) -> str:
        return _xml(_byline(post.author_display_name, post.author_username))

    def item_author_link(self, post: Post) -> str:
        return _absolute(_profile_path(post.author_username, get_script_prefix(), get_urlconf()))

    def item_pubdate(self, post: Post) -> datetime:
        return post.created

    def item_updateddate(self, post: Post) -> datetime:
        return post.edited or post.created


def _etag(*parts) -> str:
    """An ETag for everything a feed shows: its stamp, its subject, the site and this code."""
    text = repr((FEED_VERSION, settings.FORUM_SITE_URL, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _answered(request: HttpRequest, etag: str, feed: _PostsFeed) -> HttpResponse:
    """The feed, or 304 Not Modified when the reader has it already (If-None-Match)."""
    return condition(etag_func=lambda request: etag)(feed)(request)


@public_only
@require_safe
def forum_feed(request: HttpRequest) -> HttpResponse:
    stamp = selectors.latest_topics_stamp()
    feed = _PostsFeed(
        lambda: selectors.latest_topics(stamp=stamp),
        title=forum_title(),
        page=reverse("threads:index"),
        path=request.path,
    )
    return _answered(request, _etag("forum", stamp), feed)


@public_only
@require_safe
@missing_is_404
def category_feed(request: HttpRequest, slug: str) -> HttpResponse:
    category = selectors.feed_category(slug=slug)
    stamp = selectors.latest_topics_stamp(category=category)
    feed = _PostsFeed(
        lambda: selectors.latest_topics(stamp=stamp),
        title=category_title(category),
        page=category.get_absolute_url(),
        path=request.path,
        subtitle=category.description,
    )
    etag = _etag("category", category.pk, category.name, category.description, stamp)
    return _answered(request, etag, feed)


@public_only
@require_safe
@missing_is_404
def topic_feed(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        topic = selectors.feed_topic(topic_id=pk)
    except Topic.DoesNotExist:  # merged into another topic, perhaps: its feed follows
        target = selectors.redirected_topic(topic_id=pk, viewer=AnonymousUser())
        return redirect(reverse("threads:topic_feed", args=[target.pk]), permanent=True)
    feed = _PostsFeed(
        lambda: selectors.topic_posts(topic=topic),
        title=topic_title(topic),
        page=topic.get_absolute_url(),
        path=request.path,
    )
    return _answered(request, _etag("topic", topic.pk, topic.revision), feed)


@public_only
@require_safe
@missing_is_404
def member_feed(request: HttpRequest, username: str) -> HttpResponse:
    member = selectors.feed_member(username=username)
    stamp = selectors.member_posts_stamp(member=member)
    feed = _PostsFeed(
        lambda: selectors.member_posts(stamp=stamp),
        title=member_title(member),
        page=member.get_absolute_url(),
        path=request.path,
    )
    etag = _etag("member", member.pk, member.username, member.display_name, stamp)
    return _answered(request, etag, feed)
