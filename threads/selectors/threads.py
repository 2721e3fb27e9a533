"""Reading threads: a topic's pages, a post's own page, where a post is shown.

Each page is built once per revision of its topic and shared by every reader
through the cache; each reader's own controls are added per request.
"""

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.urls import get_script_prefix, get_urlconf, reverse

from .. import fragments, permissions, rendering
from ..models import Ignore, Post, Topic
from . import access, approval, unread
from . import notifications as levels

# A topic page holds whole top-level posts with all their replies, at most this
# many posts in all (a top-level post with more replies gets a page of its own).
POSTS_PER_PAGE = 1_500
# Deeper replies are reached through "Continue this thread".
THREAD_DEPTH = 12
# Cached pages of threads expire after a day unread (they are never stale).
CACHE_SECONDS = 24 * 60 * 60

_ROW_FIELDS = ("id", "level", "parent_id", "fragment", "author_id", "removal")
# What a topic page shows of its topic, its author and its category: not the
# topic's list row, nor the whole member and category rows.
_TOPIC_PAGE_FIELDS = (
    *(f.name for f in Topic._meta.concrete_fields if f.name != "row_html"),
    "author__username",
    "author__display_name",
    "category__name",
    "category__slug",
    "category__parent__name",
    "category__parent__slug",
)


@dataclass(frozen=True)
class Thread:
    """A page of a topic (or of a post's own page), ready to show.

    The HTML of the posts is UTF-8 bytes, in pieces, to be put into the page as it is.
    """

    topic: Topic
    html: list[bytes]
    page: Page | None = None
    post: Post | None = None
    context_html: list[bytes] | None = None
    # On a topic's page: the posts new to the reader, in page order, and the
    # highest post id on the page (how far the reader has now been shown).
    new_posts: tuple[int, ...] = ()
    last_post_id: int = 0


def id_url(viewname: str) -> str:
    """The URL of `viewname` for any post id, as a str.format pattern."""
    return _url_under(viewname, 2_147_483_647, get_script_prefix(), get_urlconf())


def name_url(viewname: str) -> str:
    """The URL of `viewname` for any username or slug, as a str.format pattern.

    Usernames and slugs have only characters a path keeps as they are.
    """
    return _url_under(viewname, "zz-name-zz", get_script_prefix(), get_urlconf())


@functools.cache
def _url_under(viewname: str, marker: int | str, prefix: str, urlconf: str | None) -> str:
    """A URL pattern, once for each URL configuration (reversing is most of a member's controls)."""
    urlconf = urlconf or settings.ROOT_URLCONF
    return reverse(viewname, args=[marker], urlconf=urlconf).replace(str(marker), "{0}")


Owners = dict[int, list[tuple[int, str]]]  # author id: (post id, removal) of their posts


def _tools(owners: Owners, viewer, topic: Topic, opening: int | None) -> dict[int, str]:
    """Each post's controls for this reader: edit and delete their own, moderate any.

    `owners` lists the page's posts by author, so that a member's controls cost
    only as much as their own posts; `opening` is the opening post's id when it
    is among them (it cannot be split off).
    """
    links: dict[int, list[tuple[str, str]]] = {}
    if not viewer.is_authenticated:
        return {}
    moderator = permissions.moderates(viewer, topic)
    if moderator:
        remove, restore, move, split = (
            id_url("admin:threads_post_remove"),
            id_url("admin:threads_post_restore"),
            id_url("admin:threads_post_move"),
            id_url("admin:threads_post_split"),
        )
        for posts in owners.values():
            for post_id, removal in posts:
                url, label = (restore, "Restore") if removal else (remove, "Remove")
                links[post_id] = [(url.format(post_id), label), (move.format(post_id), "Move")]
                if post_id != opening:
                    links[post_id].append((split.format(post_id), "Split"))
    if permissions.own_posts_refusal(viewer, topic) is None:
        edit, delete = id_url("threads:post_edit"), id_url("threads:post_delete")
        for post_id, removal in owners.get(viewer.pk, ()):
            if not removal:
                own = [(edit.format(post_id), "Edit"), (delete.format(post_id), "Delete")]
                links[post_id] = own + links.get(post_id, [])
    return {post_id: fragments.post_tools(links=items) for post_id, items in links.items()}


# Written in SQL once, as the access filter is: the ORM took longer to build it than
# the database to answer it.
_IGNORES = f'EXISTS (SELECT 1 FROM "{Ignore._meta.db_table}" i WHERE i.member_id = %s)'


def _ignores(viewer) -> RawSQL:
    """Whether the reader ignores anyone (mostly not): for `reader_ignores`."""
    return RawSQL(_IGNORES, [viewer.pk], output_field=BooleanField())


def _with_ignores(rows: QuerySet, viewer) -> QuerySet:
    """Annotate `reader_ignores`: whether the reader ignores anyone (mostly not: no query more)."""
    if not viewer.is_authenticated:
        return rows
    return rows.annotate(reader_ignores=_ignores(viewer))


def _folded(owners: Owners, viewer, read) -> list[int]:
    """The posts of this page by members the reader ignores, to fold for them.

    A query only for a reader who ignores someone (`read`, from `_with_ignores`).
    """
    if not getattr(read, "reader_ignores", False):
        return []
    ignored = Ignore.objects.filter(member_id=viewer.pk).values_list("ignored_id", flat=True)
    return [post_id for author in ignored if author in owners for post_id, _ in owners[author]]


def _thread_rows(posts: QuerySet) -> list[tuple]:
    """The rows of a thread, each with the number of replies under its post (from lft, rght)."""
    replies = ExpressionWrapper((F("rght") - F("lft") - 1) / 2, output_field=IntegerField())
    posts = posts.annotate(replies=replies).order_by("tree_id", "lft")
    return list(posts.values_list(*_ROW_FIELDS, "replies", "created"))


def _owners(rows: list[tuple]) -> Owners:
    """The posts of these rows by author: what per-reader controls depend on."""
    owners: Owners = defaultdict(list)
    for row in rows:
        owners[row[4]].append((row[0], row[5]))
    return dict(owners)


def _cached(key: str, build):
    """A value of the shared cache, built on a miss.

    Keys name the topic's revision, which every write to the topic renews in
    the same transaction: a cached value can be old, but never stale.
    """
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, CACHE_SECONDS)
    return value


def _pages(topic: Topic) -> list[tuple[int, int]]:
    """The topic's pages, as (first, last) tree ids of the top-level posts on each."""

    def build() -> list[tuple[int, int]]:
        roots = Post.objects.filter(topic=topic, level=0).order_by("tree_id")
        pages: list[tuple[int, int]] = []
        size = 0
        for tree_id, lft, rght in roots.values_list("tree_id", "lft", "rght"):
            posts = (rght - lft + 1) // 2
            if pages and size + posts <= POSTS_PER_PAGE:
                pages[-1] = (pages[-1][0], tree_id)
                size += posts
            else:
                pages.append((tree_id, tree_id))
                size = posts
        return pages

    return _cached(f"threads:{topic.pk}:{topic.revision}:{POSTS_PER_PAGE}:pages", build)


def topic_thread(*, topic_id: int, page: int | str | None, viewer) -> Thread:
    """A page of a topic: whole top-level posts, each followed by its replies.

    The page is built once per revision of the topic and shared by every
    reader; only each reader's own controls are added per request.
    """
    topics = access.topics_with_rights(viewer)
    if viewer.is_authenticated:  # the reader's marks, in one annotate (each one copies the query)
        topics = topics.annotate(
            reader_ignores=_ignores(viewer),
            public=access.public_topic(),  # anyone may read it: the page links its feed
            **unread.seen_marks(viewer),
            **levels.topic_marks(viewer),
            reader_pending=approval.reader_pending(viewer),
        )
    topic = (
        topics.select_related("author", "category__parent")
        .only(*_TOPIC_PAGE_FIELDS)
        .get(pk=topic_id)
    )
    pages = Paginator(_pages(topic) or [(0, 0)], 1).get_page(page)
    first, last = pages[0]

    def build() -> tuple[fragments.ThreadHTML, Owners, list[tuple[int, datetime]]]:
        rows = _thread_rows(
            Post.objects.filter(
                topic=topic, tree_id__gte=first, tree_id__lte=last, level__lte=THREAD_DEPTH + 1
            )
        )
        html = fragments.thread_html(
            rows,
            base_level=0,
            max_depth=THREAD_DEPTH,
            first_class="opening-post" if pages.number == 1 else "",
        )
        return html, _owners(rows), [(row[0], row[7]) for row in rows]

    key = f"threads:{topic.pk}:{topic.revision}:{rendering.RENDER_VERSION}:{first}-{last}:marks"
    html, owners, stamps = _cached(key, build)
    opening = stamps[0][0] if pages.number == 1 and stamps else None
    tools, folded = _tools(owners, viewer, topic, opening), _folded(owners, viewer, topic)
    new = _new_posts(stamps, viewer, topic, owners)
    last_page = pages.number == pages.paginator.num_pages
    after = _with_pending(tools, html.slots, viewer, topic, last_page)
    return Thread(
        topic=topic,
        html=html.with_tools(tools, folded, new) + after,
        page=pages,
        new_posts=new,
        last_post_id=max((post_id for post_id, _ in stamps), default=0),
    )


def _with_pending(
    tools: dict[int, str], slots: dict[int, int], viewer, topic: Topic, last_page: bool
) -> list[bytes]:
    """Add the reader's own replies awaiting approval under their parents on this page.

    A query only for a reader who has some in the topic (`reader_pending`, from
    the topic's query). Returns what goes after the thread: their top-level
    replies, on the last page.
    """
    if not getattr(topic, "reader_pending", False):
        return []
    under: dict[int | None, list] = defaultdict(list)
    for pending in approval.pending_replies(topic_id=topic.pk, viewer=viewer):
        under[pending.parent_id].append(pending)
    for parent_id, replies in under.items():
        if parent_id in slots:
            tools[parent_id] = tools.get(parent_id, "") + fragments.pending_replies(replies)
    if last_page and None in under:
        return [fragments.pending_replies(under[None]).encode()]
    return []


def _new_posts(
    stamps: list[tuple[int, datetime]], viewer, topic: Topic, owners: Owners
) -> tuple[int, ...]:
    """The posts of the page new to the reader, but for their own (threads.selectors.unread)."""
    if not viewer.is_authenticated:
        return ()
    seen = topic.seen_post_id or 0
    start = unread.since(unread.marks_of(topic), unread.horizon(viewer))
    own = {post_id for post_id, _ in owners.get(viewer.pk, ())}
    return tuple(
        post_id
        for post_id, created in stamps
        if post_id > seen and created > start and post_id not in own
    )


def post_thread(*, post_id: int, viewer) -> Thread:
    """A post's own page: its ancestors as context, then the post and all its replies.

    For a member, with what is new to them among the replies, as on a topic page.
    """
    posts = _with_ignores(access.posts_with_rights(viewer), viewer)
    if viewer.is_authenticated:
        posts = levels.notified_of_topic(unread.with_seen_of_topic(posts, viewer), viewer)
    if viewer.is_authenticated and viewer.is_staff:  # may moderate: no Split for the opening post
        posts = posts.annotate(opening_tree=_opening_tree())
    post = access.one_post(posts, post_id)
    for mark in (*unread.MARKS, "unread_notified"):
        setattr(post.topic, mark, getattr(post, f"topic_{mark}", None))
    context = list(post.get_ancestors().values_list(*_ROW_FIELDS))
    rows = _thread_rows(
        post.get_descendants(include_self=True).filter(level__lte=post.level + THREAD_DEPTH + 1)
    )
    owners = _owners(context + rows)
    # The root of the post's tree, when it is the opening post.
    in_opening = post.tree_id == getattr(post, "opening_tree", None)
    opening = (context[0][0] if context else post.pk) if in_opening else None
    tools, folded = _tools(owners, viewer, post.topic, opening), _folded(owners, viewer, post)
    stamps = [(row[0], row[7]) for row in rows]
    new = _new_posts(stamps, viewer, post.topic, owners)
    flat_context = [(row[0], 0, row[2], row[3]) for row in context]
    context_html = fragments.thread_html(flat_context, base_level=0, max_depth=0)
    html = fragments.thread_html(rows, base_level=post.level, max_depth=THREAD_DEPTH)
    return Thread(
        topic=post.topic,
        post=post,
        context_html=context_html.with_tools(tools, folded),
        html=html.with_tools(tools, folded, new),
        new_posts=new,
        last_post_id=max((post_id for post_id, _ in stamps), default=0),
    )


def _opening_tree() -> Subquery:
    """The tree id of the opening post of the outer query's post's topic (no query more)."""
    roots = Post.objects.filter(topic_id=OuterRef("topic_id"), level=0).order_by("tree_id")
    return Subquery(roots.values("tree_id")[:1])


def post_location(*, post_id: int, viewer) -> str:
    """Where a post is shown: its topic page, or the page of the thread it continues."""
    return new_post_location(access.visible_posts(viewer).select_related("topic").get(pk=post_id))


def new_post_location(post: Post) -> str:
    """Where a post is shown, from the post and its topic as they are in hand.

    For a post a service has just written and returns (its tree fields, its
    topic as locked and renewed), whose reader was checked under the lock:
    `post_location` without reading the post again. A topic of at most
    POSTS_PER_PAGE posts is one page, so the page takes no query; a post
    deeper than a page shows takes one (its ancestor's id).
    """
    if post.level > THREAD_DEPTH:
        shown_under = THREAD_DEPTH * ((post.level - 1) // THREAD_DEPTH)
        ancestor = post.get_ancestors().filter(level=shown_under).values_list("pk", flat=True)
        return reverse("threads:post_thread", args=[ancestor.get()]) + f"#p{post.pk}"
    page = 1
    # Pages hold whole top-level posts, POSTS_PER_PAGE posts in all: a topic of no
    # more is one page (its stored count, which check_trees verifies).
    if post.topic.reply_count + 1 > POSTS_PER_PAGE:
        page = next(
            number
            for number, (first, last) in enumerate(_pages(post.topic), start=1)
            if first <= post.tree_id <= last
        )
    query = f"?page={page}" if page > 1 else ""
    return f"{post.topic.get_absolute_url()}{query}#p{post.pk}"


def reply_target(
    *, viewer, topic_id: int | None = None, post_id: int | None = None
) -> tuple[Topic, Post | None]:
    """The topic and the post (None for the topic itself) that a reply answers, with rights."""
    if post_id is not None:
        parent = access.one_post(access.posts_with_rights(viewer).select_related("author"), post_id)
        return parent.topic, parent
    return access.topics_with_rights(viewer).get(pk=topic_id), None


def reply_place(
    *, viewer, topic_id: int | None = None, post_id: int | None = None
) -> tuple[Topic, Post | None]:
    """The topic and the post that a reply answers, as references (their ids only).

    For a reply sent to `services.post_reply`, which reads both itself under
    the topic's lock and checks every right there: this checks only that the
    reader may see them, and raises DoesNotExist as `reply_target` does.
    """
    topic_id = access.place_of(viewer, topic_id=topic_id, post_id=post_id)
    if post_id is not None:
        return Topic(pk=topic_id), Post(pk=post_id, topic_id=topic_id)
    return Topic(pk=topic_id), None


def post_for_change(*, post_id: int, viewer) -> Post:
    """A post with what its edit and delete pages show, and the viewer's rights in its topic."""
    return access.one_post(access.posts_with_rights(viewer).select_related("author"), post_id)


def is_opening_post(post: Post) -> bool:
    """The opening post is the first top-level post of its topic."""
    return (
        post.level == 0
        and not Post.objects.filter(
            topic_id=post.topic_id, level=0, tree_id__lt=post.tree_id
        ).exists()
    )
