"""Checking the stored trees of posts against their parent links (`manage.py check_trees`)."""

from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from django.db.models import Count

from ..models import Post, Topic


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
