"""Repairing trees from their parent links, and rendering posts again."""

from collections.abc import Sequence

from django.db import transaction
from django.db.models import OuterRef, Subquery

from .. import fragments, rendering
from ..models import Post, Topic
from . import locks, search, writes
from .errors import NotFound, Refused


class _ScopeChanged(Exception):
    """The posts a repair would touch changed before their locks were taken."""


def trees_repair(*, tree_ids: Sequence[int], topic_ids: Sequence[int] = ()) -> None:
    """Rebuild these trees from their parent links, and recount these topics' replies.

    Each post goes to the tree of the root its parent links lead to (a root
    that shares its tree id with an older root gets a new one), and into
    that root's topic. Only the trees named are rewritten, each under the
    locks of every topic the repair reads or writes: those of its posts and
    of every tree their parent links lead into.
    """
    recount = set(topic_ids)
    for tree_id in sorted(set(tree_ids)):
        for _attempt in range(5):
            topics = _repair_scope(tree_id)
            try:
                with transaction.atomic():
                    locks.lock_topics(*topics)
                    locks.lock_tree_ids()
                    if not _repair_scope(tree_id) <= topics:
                        raise _ScopeChanged
                    recount |= topics | _regroup_tree(tree_id)
                break
            except (_ScopeChanged, NotFound):
                continue
        else:
            raise Refused(f"Tree {tree_id} kept changing during its repair; try again.")
    categories = set()
    for topic_id in sorted(recount):
        with transaction.atomic():
            topic = locks.lock_topic(topic_id)
            real = Post.objects.filter(topic=topic).count()
            writes.topic_changed(topic, reply_count=max(real - 1, 0))
            search.title_indexed(topic_id)  # its opening post may be another now
            categories.add(topic.category_id)
    with transaction.atomic():
        writes.categories_recounted(*categories)


def _repair_scope(tree_id: int) -> set[int]:
    """The topics a repair of `tree_id` touches.

    Those of the posts stored under it, and of every tree that their parent
    links lead into, and so on: one query per step of the chain.
    """
    trees, frontier = set(), {tree_id}
    while frontier:
        trees |= frontier
        linked = Post.objects.filter(tree_id__in=frontier, parent__isnull=False).exclude(
            parent__tree_id__in=trees
        )
        frontier = set(linked.values_list("parent__tree_id", flat=True)) - trees
    return set(Post.objects.filter(tree_id__in=trees).values_list("topic_id", flat=True))


def _regroup_tree(tree_id: int) -> set[int]:
    """Give the posts stored under `tree_id` the tree and topic of their real root.

    Rebuilds every tree involved with django-mptt; returns the topics touched.
    """
    stored = Post.objects.filter(tree_id=tree_id)
    nodes = {
        pk: (parent_id, topic_id, tree_id)
        for pk, parent_id, topic_id in stored.values_list("pk", "parent_id", "topic_id")
    }
    members = list(nodes)

    def node(pk: int) -> tuple:
        if pk not in nodes:  # a parent stored in another tree
            nodes[pk] = Post.objects.values_list("parent_id", "topic_id", "tree_id").get(pk=pk)
        return nodes[pk]

    root_of: dict[int, int] = {}
    for pk in members:
        chain = []
        while pk not in root_of and node(pk)[0] is not None:
            if pk in chain:
                raise Refused(f"Posts {chain} link to each other in a cycle; fix them by hand.")
            chain.append(pk)
            pk = node(pk)[0]
        root = root_of.get(pk, pk)
        root_of.update(dict.fromkeys([*chain, pk], root))

    # Roots stored under this tree id: the oldest keeps it, the others get new ones.
    new_tree = {}
    next_tree_id = Post.objects._get_next_tree_id()
    roots = sorted({root_of[pk] for pk in members})
    for root in [r for r in roots if node(r)[2] == tree_id][1:]:
        new_tree[root], next_tree_id = next_tree_id, next_tree_id + 1
    touched = set()
    for root in roots:
        group = [pk for pk in members if root_of[pk] == root]
        topic_id = node(root)[1]
        Post.objects.filter(pk__in=group).update(
            tree_id=new_tree.get(root, node(root)[2]), topic_id=topic_id
        )
        touched |= {node(pk)[1] for pk in group} | {topic_id}
    for final_tree_id in sorted({new_tree.get(root, node(root)[2]) for root in roots}):
        Post.objects.partial_rebuild(final_tree_id)
    return touched


def _opening_posts(topic_ids) -> set[int]:
    """The ids of these topics' opening posts (each the first post in tree order), one query."""
    first = Post.objects.filter(topic=OuterRef("pk")).order_by("tree_id", "lft").values("pk")[:1]
    topics = Topic.objects.filter(pk__in=topic_ids).annotate(opener=Subquery(first))
    return set(topics.values_list("opener", flat=True))


def posts_rerender(*, everything: bool = False, batch_size: int = 500) -> int:
    """Render posts again after the Markdown rules or the fragment changed.

    Only posts rendered by an older RENDER_VERSION, unless `everything`.
    Markdown is rendered before the batch's topics are locked; a post edited
    in between keeps what its edit rendered. A stored post that can no longer
    be formatted within the limits is shown as typed. Returns how many posts
    were rendered.
    """
    pending = Post.objects.order_by("pk")
    if not everything:
        pending = pending.filter(render_version__lt=rendering.RENDER_VERSION)
    done, last_pk = 0, 0
    while True:
        batch = dict(pending.filter(pk__gt=last_pk).values_list("pk", "body")[:batch_size])
        if not batch:
            return done
        mentions = writes.mentions_in(*batch.values())
        htmls = rendering.markdown_to_html_each(list(batch.values()), mentions=mentions.links)
        rendered = {
            pk: (
                body,
                rendering.unformatted_html(body)
                if isinstance(html, rendering.TooComplex)
                else html,
            )
            for (pk, body), html in zip(batch.items(), htmls, strict=True)
        }
        with transaction.atomic():
            topic_ids = set(Post.objects.filter(pk__in=batch).values_list("topic_id", flat=True))
            topics = locks.lock_topics(*topic_ids)
            posts = [
                post
                for post in Post.objects.select_related("author").filter(pk__in=batch)
                if post.body == rendered[post.pk][0]
            ]
            for post in posts:
                post.topic = topics[post.topic_id]
                post.body_html = rendered[post.pk][1]
                post.render_version = rendering.RENDER_VERSION
                post.fragment = fragments.post_fragment(post)
            Post.objects.bulk_update(posts, ["body_html", "fragment", "render_version"])
            search.posts_indexed(posts)
            openers = _opening_posts(topics)
            descriptions = {
                post.topic_id: writes.description(post.body_html, removed=post.is_removed)
                for post in posts
                if post.pk in openers
            }
            for topic in topics.values():
                if topic.pk in descriptions:
                    writes.topic_changed(topic, description=descriptions[topic.pk])
                else:
                    writes.topic_changed(topic)
        done += len(posts)
        last_pk = max(batch)
