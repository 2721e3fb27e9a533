"""The public moderation log (/moderation/) and its Atom feed."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import feedgenerator
from django.views.decorators.http import require_safe

from .. import selectors
from ..selectors.moderation_log import Entry
from .common import public_only
from .feeds import SITE_NAME, FeedLink

LOG_TITLE = f"Moderation log · {SITE_NAME}"


def _feed_link() -> FeedLink | None:
    if settings.FORUM_LOGIN_REQUIRED:
        return None
    return FeedLink(LOG_TITLE, reverse("threads:moderation_feed"))


@require_safe
def moderation_log(request: HttpRequest) -> HttpResponse:
    page = selectors.moderation_log(viewer=request.user, page=request.GET.get("page"))
    return render(request, "threads/moderation_log.html", {"page": page, "feed": _feed_link()})


def _sentence(entry: Entry) -> str:
    """An entry as one line of plain text (the feed's titles)."""
    who = f"@{entry.moderator}" if entry.moderator else "A former moderator"
    text = f"{who} {entry.says}"
    if entry.about_post:
        text += f" by @{entry.member}" if entry.member else ""
        text += f" in “{entry.title}”" if entry.title else ""
    elif entry.title:
        text += f": “{entry.title}”"
    elif entry.member:
        text += f": @{entry.member}"
    if entry.previous_category:
        text += f", from {entry.previous_category} to {entry.category}"
    if entry.details:
        text += f", {entry.details}"
    return text


class _LogFeed(Feed):
    feed_type = feedgenerator.Atom1Feed
    title = LOG_TITLE

    def link(self) -> str:
        return settings.FORUM_SITE_URL + reverse("threads:moderation_log")

    def feed_url(self) -> str:
        return settings.FORUM_SITE_URL + reverse("threads:moderation_feed")

    def items(self) -> list[Entry]:
        return selectors.moderation_feed()

    def item_title(self, entry: Entry) -> str:
        return _sentence(entry)

    def item_description(self, entry: Entry) -> str:
        return f"Reason: {entry.reason}" if entry.reason else ""

    def item_link(self, entry: Entry) -> str:
        return settings.FORUM_SITE_URL + (
            entry.post_url or entry.topic_url or reverse("threads:moderation_log")
        )

    def item_guid(self, entry: Entry) -> str:
        return f"{settings.FORUM_SITE_URL}{reverse('threads:moderation_log')}#m{entry.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, entry: Entry):
        return entry.created


moderation_feed = public_only(require_safe(_LogFeed()))
