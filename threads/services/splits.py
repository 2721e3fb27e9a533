"""Splitting replies off into a new topic, and merging a topic into another.

Both keep every post's author and times, and the old addresses: a post's
permalink follows the post, a split leaves a note where the replies were
("N replies were moved to …", `Post.split_notes`, in the post's fragment), and
a merged topic's address redirects to the topic it went into (`TopicRedirect`).

Locks, in the order of `locks`: the rows of every topic touched (a split's new
topic is made under them), the tree-id lock (a split makes a tree, a merge
renumbers the trees of both topics), then the categories' counts (a merge
takes them before the inbox counts it changes, as replies do).

What follows the posts: the search entries, and inbox entries whose latest post
moved. A split leaves watches and read marks with the old topic; a merge takes
the merged topic's watches and entries along (`notifications.notifications_merged`),
its pending replies, queued mail and moderation log entries, and drops its read marks.
"""

import heapq

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Max, Value, When
from django.utils import timezone

from .. import permissions, selectors
from ..models import (
    Category,
    Mail,
    ModerationAction,
    PendingPost,
    Post,
    Topic,
    TopicRedirect,
    User,
)
from . import locks, moderation_log, notifications, search, writes
from .errors import NotFound

# Trees renumbered per statement by a merge.
_BATCH = 500


def _target_category(moderator: User, category: Category) -> Category:
    """The category as the moderator may use it: seen, moderated, and open to new topics."""
    try:
        category = selectors.visible_categories(moderator).get(pk=category.pk)
    except Category.DoesNotExist:
        raise NotFound("That category does not exist.") from None
    writes.refuse_if(permissions.moderation_refusal(moderator, category))
    writes.refuse_if(permissions.start_refusal(moderator, category))
    return category


def topic_split(
    *, post: Post, moderator: User, title: str, category: Category, reason: str = ""
) -> Topic:
    """Make `post` and all its replies a new topic titled `title` in `category`.

    The post opens the new topic; authors and times stay as they were. The
    moderator must moderate the post's topic and `category`. The post's former
    parent (the old topic's opening post, for a top-level post) shows a note
    with a link to the new topic.
    """
    title = writes.clean_title(title)
    reason = moderation_log.clean_reason(reason, action=moderation_log.Action.SPLIT)
    with transaction.atomic():
        post = writes.moderated_post(post.pk, moderator)
        source = post.topic
        category = _target_category(moderator, category)
        if selectors.is_opening_post(post):
            raise ValidationError(
                "The opening post cannot be split off: move the whole topic instead.",
                code="opening_post",
            )
        moved = post.get_descendants(include_self=True)
        size = (post.rght - post.lft + 1) // 2
        newest = moved.aggregate(newest=Max("created"))["newest"]
        if post.parent_id is not None:
            noted = Post.objects.select_related("author").get(pk=post.parent_id)
            locks.lock_tree_ids()
            Post.objects.move_node(post, None)
        else:  # a top-level post is a tree of its own already: it keeps its tree id
            noted = (
                Post.objects.select_related("author")
                .filter(topic=source, level=0)
                .order_by("tree_id")
                .first()
            )
        post.refresh_from_db()
        topic = Topic.objects.create(
            title=title,
            slug=writes.slug(title),
            category=category,
            author=post.author,
            created=post.created,
            last_activity=newest,
            reply_count=size - 1,
            description=writes.description(post.body_html, removed=post.is_removed),
        )
        Post.objects.filter(tree_id=post.tree_id).update(topic=topic)
        post.topic = topic
        writes.rewrite(post)  # its parent link is gone; renews the new topic and its row
        search.topic_entries_moved(topic)
        search.title_indexed(topic.pk)
        notifications.notifications_followed(source=source, target=topic)

        left = Post.objects.filter(topic=source).aggregate(latest=Max("created"))["latest"]
        writes.topic_changed(source, reply_count=source.reply_count - size, last_activity=left)
        noted.topic = source
        note = {"count": size, "topic": topic.pk, "title": title}
        writes.rewrite(noted, split_notes=[*noted.split_notes, note])
        moderation_log.action_logged(
            action=moderation_log.Action.SPLIT,
            moderator=moderator,
            reason=reason,
            topic=topic,
            post=post,
            category=category,
            previous_category=source.category_id,
            details=f"{_posts(size)} of “{source.title}” into “{title}”",
        )
        writes.categories_recounted(source.category_id, category.pk)
    return topic


def _posts(count: int) -> str:
    return f"{count} post{'' if count == 1 else 's'}"


def topic_merge(*, topic: Topic, into: Topic, moderator: User, reason: str = "") -> Topic:
    """Move every post of `topic` into `into`, then delete `topic`; returns `into`.

    The merged topic's top-level posts take their place among those of `into`
    by the time they were written (its opening post becomes one of them);
    `into`'s opening post stays first. The merged topic's address redirects to
    `into` from then on. The moderator must moderate both.
    """
    reason = moderation_log.clean_reason(reason, action=moderation_log.Action.MERGE)
    if topic.pk == into.pk:
        raise ValidationError("A topic cannot be merged into itself.", code="same_topic")
    with transaction.atomic():
        locked = locks.lock_topics(topic.pk, into.pk, viewer=moderator)
        source, target = locked[topic.pk], locked[into.pk]
        for place in (source, target):
            writes.refuse_if(permissions.moderation_refusal(moderator, place))
        locks.lock_tree_ids()
        locks.lock_categories(source.category_id, target.category_id)
        _renumbered(source, target)
        size = Post.objects.filter(topic=source).update(topic=target)
        search.topic_entries_moved(target)
        search.title_indexed(target.pk)  # the merged opening post is a top-level post now
        notifications.notifications_merged(topic=source, into=target)
        for model in (PendingPost, Mail, ModerationAction):
            model.objects.filter(topic=source).update(topic=target)
        TopicRedirect.objects.filter(target=source).update(target=target)
        TopicRedirect.objects.create(old_topic_id=source.pk, target=target, created=timezone.now())
        writes.topic_changed(
            target,
            reply_count=target.reply_count + size,
            last_activity=max(target.last_activity, source.last_activity),
        )
        moderation_log.action_logged(
            action=moderation_log.Action.MERGE,
            moderator=moderator,
            reason=reason,
            topic=target,
            category=target.category_id,
            previous_category=source.category_id,
            details=f"{_posts(size)} of “{source.title}” into “{target.title}”",
        )
        Topic.objects.filter(pk=source.pk).delete()
        writes.categories_recounted(source.category_id, target.category_id)
    return target


def _renumbered(source: Topic, target: Topic) -> None:
    """Give the trees of both topics the tree ids they had between them, in their new order.

    `target`'s opening post first, then its other top-level posts and those of
    `source` merged by the time they were written (each keeping its own order;
    `target`'s first at equal times). Under the topics' locks and the tree-id lock.
    """
    roots = Post.objects.filter(level=0).order_by("tree_id").values_list("tree_id", "created")
    kept, merged = list(roots.filter(topic=target)), list(roots.filter(topic=source))
    order = [kept[0], *heapq.merge(kept[1:], merged, key=lambda root: root[1])]
    pool = sorted(tree_id for tree_id, _ in kept + merged)
    renumbered = {old: new for (old, _), new in zip(order, pool, strict=True) if old != new}
    if not renumbered:
        return
    # Out of the way first (above every tree id: nobody makes a tree while we hold the
    # lock), then each to its place, so that no two trees share an id meanwhile.
    offset = Post.objects.aggregate(top=Max("tree_id"))["top"]
    olds = sorted(renumbered)
    for start in range(0, len(olds), _BATCH):
        batch = olds[start : start + _BATCH]
        Post.objects.filter(tree_id__in=batch).update(tree_id=F("tree_id") + offset)
    for start in range(0, len(olds), _BATCH):
        batch = olds[start : start + _BATCH]
        places = [When(tree_id=old + offset, then=Value(renumbered[old])) for old in batch]
        Post.objects.filter(tree_id__in=[old + offset for old in batch]).update(
            tree_id=Case(*places)
        )
