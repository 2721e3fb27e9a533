"""What anyone may read without logging in: the feeds and the sitemap.

Every read goes through the access filter as an anonymous visitor sees the
forum, so a topic or post of a category only members (or some groups) see is
in no feed and no sitemap, whoever asks. Removed posts are in no feed.

A feed is read in two steps: its stamp, each entry's id with the revision of
its topic (a topic's feed: the topic's own revision; every write that changes
what a topic shows renews it: an edit, a removal, a retitle, a byline), from
which the view answers a conditional GET without reading a post; then its
entries. Each is one query whatever the size of the forum, walking an index
(newest first: by when they were written, not by id, which an import does not
give in that order).
"""

from functools import cached_property

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from ..models import Category, Post, Topic, User
from . import access, members

# Entries of a feed: the newest.
FEED_ENTRIES = 30

_VISITOR = AnonymousUser()
Stamp = tuple[tuple[int, int], ...]  # (id, topic revision) of each entry, newest first

# The entries are written in SQL once, as the access filter is: the ORM took 1.5 ms
# to build the query of a feed's thirty posts, which SQLite answers in 0.2 ms.
_POST, _TOPIC, _USER = (model._meta.db_table for model in (Post, Topic, User))
# An entry: its post, with its topic's title, its author's names, and whether it opens
# the topic (`is_opening`); the post's other fields are not read.
_ENTRY = (
    "SELECT p.id, p.topic_id, p.author_id, p.body_html, p.created, p.edited,"
    " t.title AS topic_title, u.username AS author_username,"
    " u.display_name AS author_display_name, {opening} AS is_opening"
)
# SQL over topic t: its opening post, the first in tree order (an index's first row).
_FIRST_POST = (
    f'SELECT r.id FROM "{_POST}" r WHERE r.topic_id = t.id ORDER BY r.tree_id, r.lft LIMIT 1'
)
# SQL over post p: it is its topic's opening post, the first of its top-level posts.
_OPENS = (
    f'p.level = 0 AND NOT EXISTS (SELECT 1 FROM "{_POST}" r'
    " WHERE r.topic_id = p.topic_id AND r.level = 0 AND r.tree_id < p.tree_id)"
)
_AUTHOR = f'JOIN "{_USER}" u ON u.id = p.author_id'
_POST_TOPIC = f'"{_POST}" p JOIN "{_TOPIC}" t ON t.id = p.topic_id {_AUTHOR}'
# What every entry is: shown to visitors, and not removed.
_SHOWN = "p.removal = '' AND t.category_id IN ({categories})"


def _entries(sql: str, params: list, *, limit: int) -> list[Post]:
    """The posts of an `_ENTRY` query (`{shown}` in its WHERE, LIMIT %s last)."""
    categories, seen = access.visitor_categories()
    sql = sql.replace("{shown}", _SHOWN.format(categories=categories))
    return list(Post.objects.raw(sql, [*params, *seen, limit]))


def _placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


# --- The latest topics: of the forum, of a category -----------------------------------------


def feed_category(*, slug: str) -> Category:
    """A category a visitor sees, for its feed (DoesNotExist if none)."""
    return access.seen_categories(_VISITOR).only("id", "name", "slug", "description").get(slug=slug)


def latest_topics_stamp(*, category: Category | None = None) -> Stamp:
    """The newest topics a visitor sees (of the forum, or of one category), with revisions."""
    topics = access.visible_topics(_VISITOR)
    if category is not None:
        topics = topics.filter(category=category)
    topics = topics.order_by("-created", "-pk")
    return tuple(topics.values_list("pk", "revision")[:FEED_ENTRIES])


def latest_topics(*, stamp: Stamp) -> list[Post]:
    """The opening posts of the stamp's topics, newest topic first.

    A topic whose opening post is removed is left out: the post is its entry.
    """
    ids = [pk for pk, _ in stamp]
    if not ids:
        return []
    sql = (
        f'{_ENTRY.format(opening="1")} FROM "{_TOPIC}" t JOIN "{_POST}" p ON p.id = ({_FIRST_POST})'
        f" {_AUTHOR} WHERE t.id IN ({_placeholders(ids)}) AND {{shown}}"
        " ORDER BY t.created DESC, t.id DESC LIMIT %s"
    )
    return _entries(sql, ids, limit=len(ids))


# --- A topic's posts ---------------------------------------------------------------------------


def feed_topic(*, topic_id: int) -> Topic:
    """A topic a visitor sees, with its revision (DoesNotExist if none)."""
    return access.visible_topics(_VISITOR).only("id", "title", "slug", "revision").get(pk=topic_id)


def topic_posts(*, topic: Topic) -> list[Post]:
    """The topic's newest posts a visitor sees, newest first."""
    sql = (
        f"{_ENTRY.format(opening=_OPENS)} FROM {_POST_TOPIC}"
        " WHERE p.topic_id = %s AND {shown} ORDER BY p.created DESC, p.id DESC LIMIT %s"
    )
    return _entries(sql, [topic.pk], limit=FEED_ENTRIES)


# --- A member's posts --------------------------------------------------------------------------


def feed_member(*, username: str) -> User:
    """A member, for the feed of their posts (DoesNotExist if none)."""
    return members.member(username=username)


def member_posts_stamp(*, member: User) -> Stamp:
    """The member's newest posts a visitor sees, with their topics' revisions."""
    posts = access.visible_posts(_VISITOR).filter(author=member, removal=Post.Removal.VISIBLE)
    rows = posts.order_by("-created", "-pk").values_list("pk", "topic__revision")
    return tuple(rows[:FEED_ENTRIES])


def member_posts(*, stamp: Stamp) -> list[Post]:
    """The stamp's posts, newest first."""
    ids = [pk for pk, _ in stamp]
    if not ids:
        return []
    sql = (
        f"{_ENTRY.format(opening=_OPENS)} FROM {_POST_TOPIC}"
        f" WHERE p.id IN ({_placeholders(ids)}) AND {{shown}} ORDER BY p.created DESC, p.id DESC"
        " LIMIT %s"
    )
    return _entries(sql, ids, limit=len(ids))


# --- The sitemap -------------------------------------------------------------------------------


def public_categories() -> list[Category]:
    """The categories a visitor sees, in order, with their latest activity."""
    categories = access.seen_categories(_VISITOR).order_by("tree_id", "lft")
    return list(categories.only("id", "slug", "last_activity"))


class IdRanges(Paginator):
    """Pages of rows by ranges of ids: page n holds the ids from (n - 1) * per_page + 1 to
    n * per_page.

    A page is an index range, as cheap at any depth as the first (an OFFSET read
    every row before it, and PostgreSQL sorted the whole table for it). A page
    holds at most `per_page` rows, fewer where ids went to deleted or private
    topics, maybe none; how many pages there are comes from the highest id.
    """

    def __init__(self, rows: QuerySet, per_page: int, highest_id: int) -> None:
        super().__init__(rows, per_page)
        self.highest_id = highest_id

    @cached_property
    def count(self) -> int:
        return self.highest_id  # what the pages span, so that num_pages counts the ranges

    def page(self, number) -> Page:
        number = self.validate_number(number)
        top = number * self.per_page
        rows = self.object_list.filter(pk__gt=top - self.per_page, pk__lte=top)
        return self._get_page(list(rows), number, self)


def public_topic_pages(*, per_page: int) -> IdRanges:
    """Pages of the topics a visitor sees, by ranges of ids, as (id, slug, last activity) rows.

    One query for the highest id; then one for each page read.
    """
    topics = access.visible_topics(_VISITOR).order_by("pk")
    highest = topics.reverse().values_list("pk", flat=True).first() or 0
    return IdRanges(topics.values_list("pk", "slug", "last_activity"), per_page, highest)
