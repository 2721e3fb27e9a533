"""Lists: the categories, a category's topics, the latest topics, and a member's profile.

No list counts rows or skips over them as the forum grows: topic lists take
their length from the categories' stored counts and read a deep page from
whichever end is nearer; a profile pages by keyset (the posts before or after
one post), not by page number.
"""

from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet, Subquery
from django.utils.safestring import SafeString, mark_safe

from ..models import Category, Post, Topic, User
from . import access, members, unread
from . import notifications as levels

TOPICS_PER_PAGE = 30
# A category row shows its latest topic's title and link only.
_LATEST_TOPIC_UNSHOWN = ("last_topic__row_html",)
PROFILE_POSTS_PER_PAGE = 20
PROFILE_TOPICS = 10


class _CountedPaginator(Paginator):
    """Pages of a list whose length is known (stored), read from the nearer end.

    A page past the middle is read in reverse order, so that no query skips
    over more than half the rows; the ordering must be one the list's index
    serves in both directions.
    """

    def __init__(self, rows: QuerySet, per_page: int, count: int) -> None:
        super().__init__(rows, per_page)
        self._stored_count = count

    @cached_property
    def count(self) -> int:
        return self._stored_count

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if bottom > self.count - top:
            rows = list(self.object_list.reverse()[self.count - top : self.count - bottom])[::-1]
        else:
            rows = list(self.object_list[bottom:top])
        return self._get_page(rows, number, self)


@dataclass(frozen=True)
class TopicList:
    page: Page
    html: SafeString


_ROW_MARKS = ("reply_count", "created", "last_activity", "seen_post_id", "seen_posts")


def _topic_rows(topics: QuerySet[Topic], count: int, page: int | str | None, viewer) -> TopicList:
    """A page of topic rows, each with how many posts are new to a member (same queries)."""
    topics = topics.order_by("-is_pinned", "-last_activity", "-id")
    if not viewer.is_authenticated:
        rows = topics.values_list("row_html", flat=True)
        page_of_rows = _CountedPaginator(rows, TOPICS_PER_PAGE, count).get_page(page)
        return TopicList(page=page_of_rows, html=mark_safe("".join(page_of_rows)))
    rows = unread.with_seen(topics, viewer).values_list("row_html", *_ROW_MARKS, "category_read")
    page_of_rows = _CountedPaginator(rows, TOPICS_PER_PAGE, count).get_page(page)
    start = unread.horizon(viewer)
    html = "".join(unread.marked_row(row[0], unread.Marks(*row[1:]), start) for row in page_of_rows)
    return TopicList(page=page_of_rows, html=mark_safe(html))


@dataclass(frozen=True)
class Index:
    """The front page: the categories a reader may see, then the latest topics among them."""

    categories: list[Category]
    topics: TopicList


def category_index(*, viewer, page: int | str | None) -> Index:
    """The categories in order (each followed by its subcategories), then the latest topics."""
    categories = list(
        access.seen_categories(viewer)
        .select_related("last_topic")
        .defer(*_LATEST_TOPIC_UNSHOWN)
        .order_by("tree_id", "lft")
    )
    count = sum(category.topic_count for category in categories)
    return Index(
        categories=categories,
        topics=_topic_rows(access.visible_topics(viewer), count, page, viewer),
    )


@dataclass(frozen=True)
class CategoryPage:
    category: Category
    subcategories: list[Category]
    topics: TopicList


def category_page(*, viewer, slug: str, page: int | str | None) -> CategoryPage:
    """A category with its subcategories and, page by page, its topics (pinned first).

    The category and the subcategories this reader sees are read in one query.
    """
    categories = access.visible_categories(viewer)
    if viewer.is_authenticated:  # and whether anyone may read it: the page links its feed
        categories = levels.category_levels(categories, viewer).annotate(
            public=access.public_category()
        )
    rows = list(
        categories.filter(Q(slug=slug) | Q(parent__slug=slug))
        .select_related("parent", "last_topic")
        .defer(*_LATEST_TOPIC_UNSHOWN)
        .order_by("lft")
    )
    category = next((row for row in rows if row.slug == slug), None)
    if category is None:
        raise Category.DoesNotExist(f"No category {slug!r} that this reader sees.")
    subcategories = [row for row in rows if row.parent_id == category.pk]
    topics = _topic_rows(
        Topic.objects.filter(category=category), category.topic_count, page, viewer
    )
    return CategoryPage(category=category, subcategories=subcategories, topics=topics)


def startable_categories(*, viewer) -> QuerySet[Category]:
    """The categories where this member may start a topic, in order (for the new-topic form)."""
    categories = access.visible_categories(viewer).order_by("tree_id", "lft")
    return categories.exclude(start_rule=Category.Posters.MODERATORS, moderated=False)


@dataclass(frozen=True)
class Profile:
    """A member's recent topics and one page of their posts, newest first.

    `older` and `newer` are the post ids to page on from (None at either end);
    the member comes with `is_ignored`: whether the reader ignores them.
    """

    member: User
    topics: list[Topic]
    posts: list[Post]
    older: int | None
    newer: int | None


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def _created(posts: QuerySet[Post], post_id: int) -> Subquery:
    """When the post to page from was written: one of `posts`, or nothing (no page) if not."""
    return Subquery(posts.filter(pk=post_id).order_by().values("created")[:1])


def profile(
    *, viewer, username: str, before: str | None = None, after: str | None = None
) -> Profile:
    """A member's recent topics and their posts: the newest, or those before or after a post.

    Only what this reader may see; pages by keyset, so a deep page costs what the first does.
    """
    member = members.member(username=username, viewer=viewer)
    topics = access.visible_topics(viewer).filter(author=member).order_by("-created", "-id")
    posts = access.visible_posts(viewer).filter(author=member, removal="").select_related("topic")
    size = PROFILE_POSTS_PER_PAGE
    before_id, after_id = _cursor(before), _cursor(after)
    if after_id is not None:
        anchor = _created(posts, after_id)
        newer = posts.filter(created__gte=anchor).exclude(created=anchor, pk__lte=after_id)
        rows = list(newer.order_by("created", "pk")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        older_exists = True
    else:
        if before_id is not None:
            anchor = _created(posts, before_id)
            posts = posts.filter(created__lte=anchor).exclude(created=anchor, pk__gte=before_id)
        rows = list(posts.order_by("-created", "-pk")[: size + 1])
        older_exists = len(rows) > size
        rows = rows[:size]
        more_newer = before_id is not None
    return Profile(
        member=member,
        topics=list(topics[:PROFILE_TOPICS]),
        posts=rows,
        older=rows[-1].pk if rows and older_exists else None,
        newer=rows[0].pk if rows and more_newer else None,
    )
