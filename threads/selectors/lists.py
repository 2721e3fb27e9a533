"""Lists of topics and a member's profile, page by page."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.utils.safestring import SafeString, mark_safe

from ..models import Post, Topic, User

TOPICS_PER_PAGE = 30
PROFILE_POSTS_PER_PAGE = 20


@dataclass(frozen=True)
class TopicList:
    page: Page
    html: SafeString


def topic_list(*, page: int | str | None) -> TopicList:
    """One page of topics, pinned first, then the most recently active."""
    rows = Topic.objects.values_list("row_html", flat=True)
    page_of_rows = Paginator(rows, TOPICS_PER_PAGE).get_page(page)
    return TopicList(page=page_of_rows, html=mark_safe("".join(page_of_rows)))


@dataclass(frozen=True)
class Profile:
    member: User
    topics: list[Topic]
    posts: Page


def profile(*, username: str, page: int | str | None) -> Profile:
    """A member's recent topics and, page by page, their posts."""
    member = User.objects.named(username).get()
    topics = list(member.topics.order_by("-created")[:10])
    posts = (
        Post.objects.filter(author=member, removal="").select_related("topic").order_by("-created")
    )
    return Profile(
        member=member,
        topics=topics,
        posts=Paginator(posts, PROFILE_POSTS_PER_PAGE).get_page(page),
    )
