"""Every read a page needs, each in a fixed number of queries whatever the thread size."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from . import conversation, permissions, rendering
from .models import Post, Topic, User

TOPICS_PER_PAGE = 30
# A topic page holds whole top-level posts with all their replies, at most this
# many posts in all (a top-level post with more replies gets a page of its own).
POSTS_PER_PAGE = 1_500
# Deeper replies are reached through "Continue this thread".
THREAD_DEPTH = 12
PROFILE_POSTS_PER_PAGE = 20
# Cached pages of threads expire after a day unread (they are never stale).
CACHE_SECONDS = 24 * 60 * 60

_ROW_FIELDS = ("id", "level", "parent_id", "fragment", "author_id", "removal")


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
class Thread:
    """A page of a topic (or of a post's own page), ready to show.

    The HTML of the posts is UTF-8 bytes, in pieces, to be put into the page as it is.
    """

    topic: Topic
    html: list[bytes]
    page: Page | None = None
    post: Post | None = None
    context_html: list[bytes] | None = None


def _id_url(viewname: str) -> str:
    """The URL of `viewname` for any post id, as a str.format pattern."""
    marker = 2_147_483_647
    return reverse(viewname, args=[marker]).replace(str(marker), "{0}")


Owners = dict[int, list[tuple[int, str]]]  # author id: (post id, removal) of their posts


def _tools(owners: Owners, viewer, topic: Topic) -> dict[int, str]:
    """Each post's controls for this reader: edit and delete their own, moderate any.

    `owners` lists the page's posts by author, so that a member's controls cost
    only as much as their own posts.
    """
    links: dict[int, list[tuple[str, str]]] = {}
    if not viewer.is_authenticated:
        return {}
    moderator = permissions.is_moderator(viewer)
    if moderator:
        remove, restore, move = (
            _id_url("admin:threads_post_remove"),
            _id_url("admin:threads_post_restore"),
            _id_url("admin:threads_post_move"),
        )
        for posts in owners.values():
            for post_id, removal in posts:
                url, label = (restore, "Restore") if removal else (remove, "Remove")
                links[post_id] = [(url.format(post_id), label), (move.format(post_id), "Move")]
    if permissions.own_posts_refusal(viewer, topic) is None:
        edit, delete = _id_url("threads:post_edit"), _id_url("threads:post_delete")
        for post_id, removal in owners.get(viewer.pk, ()):
            if not removal:
                own = [(edit.format(post_id), "Edit"), (delete.format(post_id), "Delete")]
                links[post_id] = own + links.get(post_id, [])
    return {post_id: rendering.post_tools(links=items) for post_id, items in links.items()}


def _thread_rows(posts: QuerySet) -> list[tuple]:
    return list(posts.order_by("tree_id", "lft").values_list(*_ROW_FIELDS))


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
    topic = get_object_or_404(Topic.objects.select_related("author"), pk=topic_id)
    pages = Paginator(_pages(topic) or [(0, 0)], 1).get_page(page)
    first, last = pages[0]

    def build() -> tuple[rendering.ThreadHTML, Owners]:
        rows = _thread_rows(
            Post.objects.filter(
                topic=topic, tree_id__gte=first, tree_id__lte=last, level__lte=THREAD_DEPTH + 1
            )
        )
        html = rendering.thread_html(
            rows,
            base_level=0,
            max_depth=THREAD_DEPTH,
            first_class="opening-post" if pages.number == 1 else "",
        )
        return html, _owners(rows)

    key = f"threads:{topic.pk}:{topic.revision}:{rendering.RENDER_VERSION}:{first}-{last}"
    html, owners = _cached(key, build)
    return Thread(topic=topic, html=html.with_tools(_tools(owners, viewer, topic)), page=pages)


def post_thread(*, post_id: int, viewer) -> Thread:
    """A post's own page: its ancestors as context, then the post and all its replies."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=post_id)
    context = list(post.get_ancestors().values_list(*_ROW_FIELDS))
    rows = _thread_rows(
        post.get_descendants(include_self=True).filter(level__lte=post.level + THREAD_DEPTH + 1)
    )
    tools = _tools(_owners(context + rows), viewer, post.topic)
    flat_context = [(row[0], 0, row[2], row[3]) for row in context]
    context_html = rendering.thread_html(flat_context, base_level=0, max_depth=0)
    html = rendering.thread_html(rows, base_level=post.level, max_depth=THREAD_DEPTH)
    return Thread(
        topic=post.topic,
        post=post,
        context_html=context_html.with_tools(tools),
        html=html.with_tools(tools),
    )


def post_location(*, post_id: int) -> str:
    """Where a post is shown: its topic page, or the page of the thread it continues."""
    post = get_object_or_404(Post.objects.select_related("topic"), pk=post_id)
    if post.level > THREAD_DEPTH:
        shown_under = THREAD_DEPTH * ((post.level - 1) // THREAD_DEPTH)
        ancestor = post.get_ancestors().filter(level=shown_under).values_list("pk", flat=True)
        return reverse("threads:post_thread", args=[ancestor.get()]) + f"#p{post.pk}"
    page = next(
        number
        for number, (first, last) in enumerate(_pages(post.topic), start=1)
        if first <= post.tree_id <= last
    )
    query = f"?page={page}" if page > 1 else ""
    return f"{post.topic.get_absolute_url()}{query}#p{post.pk}"


def reply_target(
    *, topic_id: int | None = None, post_id: int | None = None
) -> tuple[Topic, Post | None]:
    """The topic and the post (None for the topic itself) that a reply answers."""
    if post_id is not None:
        parent = get_object_or_404(Post.objects.select_related("topic", "author"), pk=post_id)
        return parent.topic, parent
    return get_object_or_404(Topic, pk=topic_id), None


def post_for_change(*, post_id: int) -> Post:
    """A post with what its edit and delete pages show."""
    return get_object_or_404(Post.objects.select_related("topic", "author"), pk=post_id)


def is_opening_post(post: Post) -> bool:
    """The opening post is the first top-level post of its topic."""
    return (
        post.level == 0
        and not Post.objects.filter(
            topic_id=post.topic_id, level=0, tree_id__lt=post.tree_id
        ).exists()
    )


@dataclass(frozen=True)
class Profile:
    member: User
    topics: list[Topic]
    posts: Page


def profile(*, username: str, page: int | str | None) -> Profile:
    """A member's recent topics and, page by page, their posts."""
    member = get_object_or_404(User, username__iexact=username)
    topics = list(member.topics.order_by("-created")[:10])
    posts = (
        Post.objects.filter(author=member, removal="").select_related("topic").order_by("-created")
    )
    return Profile(
        member=member,
        topics=topics,
        posts=Paginator(posts, PROFILE_POSTS_PER_PAGE).get_page(page),
    )


def conversation_export(*, topic_ids: Sequence[int] | None = None) -> str:
    """Topics (all, or these) in canonical ConversationJS form, in order of creation.

    Two queries whatever the size. Removed posts keep their place with a
    placeholder, so replies keep their parents.
    """
    topics = Topic.objects.order_by("pk")
    posts = Post.objects.order_by("topic_id", "tree_id", "lft")
    if topic_ids is not None:
        topics, posts = topics.filter(pk__in=topic_ids), posts.filter(topic_id__in=topic_ids)
    titles = dict(topics.values_list("pk", "title"))
    messages = defaultdict(list)
    for topic_id, level, handle, created, body, removal in posts.values_list(
        "topic_id", "level", "author__username", "created", "body", "removal"
    ):
        text = f"[{Post.Removal(removal).label.lower()}]" if removal else body
        messages[topic_id].append(conversation.Message(level, handle, created, text))
    return conversation.write(
        conversation.Conversation(title, messages[topic_id]) for topic_id, title in titles.items()
    )


def topic_markdown(*, topic_id: int) -> tuple[Topic, str]:
    """A topic and its ConversationJS text, for the "Download as Markdown" link."""
    topic = get_object_or_404(Topic, pk=topic_id)
    return topic, conversation_export(topic_ids=[topic.pk])


@dataclass(frozen=True)
class TreeProblem:
    """Something wrong with the stored trees: in one tree, or in a topic's counters."""

    message: str
    tree_id: int | None = None
    topic_id: int | None = None


def tree_problems() -> list[TreeProblem]:
    """Check every tree against its parent links, and every topic's reply count.

    A tree is right when it has one root; every post's interval lies inside
    its parent's, one level deeper, left below right; the intervals number
    the tree 1..2n exactly as a walk of the parent links does; and every
    post is in its root's topic. Reads the posts once, tree by tree.
    """
    problems: list[TreeProblem] = []
    rows = Post.objects.order_by("tree_id", "lft", "pk").values_list(
        "pk", "parent_id", "tree_id", "lft", "rght", "level", "topic_id"
    )
    for tree_id, tree in groupby(rows.iterator(chunk_size=5000), key=itemgetter(2)):
        problems += (TreeProblem(m, tree_id=tree_id) for m in _tree_problems(tree_id, list(tree)))
    counts = Topic.objects.annotate(posts_count=Count("posts")).order_by("pk")
    for topic_id, stored, real in counts.values_list("pk", "reply_count", "posts_count"):
        if real == 0:
            problems.append(TreeProblem(f"topic {topic_id} has no posts", topic_id=topic_id))
        elif stored != real - 1:
            message = f"topic {topic_id} stores {stored} replies but has {real - 1}"
            problems.append(TreeProblem(message, topic_id=topic_id))
    return problems


def _tree_problems(tree_id: int, rows: list[tuple]) -> list[str]:
    roots = [row for row in rows if row[1] is None]
    if len(roots) != 1:
        ids = ", ".join(str(row[0]) for row in roots[:5])
        return [f"tree {tree_id} has {len(roots)} roots" + (f" (posts {ids})" if ids else "")]
    root, by_id = roots[0], {row[0]: row for row in rows}
    problems, children = [], defaultdict(list)
    for pk, parent_id, _, lft, rght, level, topic_id in rows:
        parent = by_id.get(parent_id)
        if lft >= rght:
            problems.append(f"post {pk}: left {lft} is not below right {rght}")
        if parent_id is not None and parent is None:
            problems.append(f"post {pk}: its parent {parent_id} is in another tree")
        elif parent is not None:
            children[parent_id].append(pk)
            if not parent[3] < lft < rght < parent[4]:
                problems.append(
                    f"post {pk}: interval {lft}-{rght} is not inside its parent's "
                    f"{parent[3]}-{parent[4]}"
                )
            if level != parent[5] + 1:
                problems.append(f"post {pk}: level {level}, but its parent's is {parent[5]}")
        if topic_id != root[6]:
            problems.append(f"post {pk} is in topic {topic_id} but its root in topic {root[6]}")
    expected, counter, stack = {}, 0, [(root[0], 0, False)]
    while stack:  # walk the parent links, numbering as django-mptt would
        pk, level, leaving = stack.pop()
        counter += 1
        if leaving:
            expected[pk] = (expected[pk], counter, level)
            continue
        expected[pk] = counter
        stack.append((pk, level, True))
        stack.extend((child, level + 1, False) for child in reversed(children[pk]))
    unreachable = [row[0] for row in rows if row[0] not in expected]
    if unreachable:
        problems.append(f"posts {unreachable[:5]} cannot be reached from the root")
    wrong = [row for row in rows if row[0] in expected and row[3:6] != expected[row[0]]]
    if wrong and not problems:
        first = wrong[0]
        problems.append(
            f"{len(wrong)} post(s) numbered unlike a walk of the tree; post {first[0]} has "
            f"left, right, level {first[3:6]}, expected {expected[first[0]]}"
        )
    return problems
