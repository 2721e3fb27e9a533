"""Rebuilding what shows a member's byline (their posts' fragments, their topics'
rows) after they change their display name or avatar, in the background.

A member may have written thousands of posts across thousands of topics, so no
request rewrites them: the change queues `bylines_rebuild_task`, and a worker
rewrites the posts topic by topic, in batches, each batch in a transaction of
its own that locks only its topic (and renews that topic's revision, so its
cached pages are built again). No lock is held for longer than one batch.

It is idempotent: every batch reads the member as they are now, so a rebuild
run twice, or two rebuilds racing after two quick changes, end with every
fragment showing the latest byline.
"""

from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django_tasks import task

from .. import fragments
from ..models import Post, Topic, User
from . import locks, writes
from .errors import NotFound

# Posts rewritten per transaction: each holds its topic's lock (and on SQLite
# the database's write lock) for as long as this many fragments take to build.
BATCH = 200
# A rebuild the database interrupted (a lock timeout, a restart) is tried again.
ATTEMPTS, RETRY_AFTER = 5, timedelta(seconds=30)


def bylines_changed(*, user: User) -> None:
    """Queue the rebuild of the member's bylines, with the change that calls for it.

    Called inside the transaction that changes the display name or the avatar:
    the task exists exactly when the change is committed.
    """
    bylines_rebuild_task.enqueue(user_id=user.pk)


@task()
def bylines_rebuild_task(user_id: int, attempt: int = 1) -> int:
    """The background job of `bylines_rebuild`; returns how many posts it rewrote."""
    try:
        return bylines_rebuild(user_id=user_id)
    except DatabaseError:
        if attempt >= ATTEMPTS:
            raise
        bylines_rebuild_task.using(run_after=timezone.now() + RETRY_AFTER * attempt).enqueue(
            user_id=user_id, attempt=attempt + 1
        )
        return 0


def bylines_rebuild(*, user_id: int, batch: int = BATCH) -> int:
    """Rewrite every fragment and topic row that shows the member, batch by batch.

    Returns the number of posts rewritten. A member who no longer exists has nothing to rewrite.
    """
    topic_ids = set(Post.objects.filter(author_id=user_id).values_list("topic_id", flat=True))
    topic_ids |= set(Topic.objects.filter(author_id=user_id).values_list("pk", flat=True))
    rewritten = 0
    for topic_id in sorted(topic_ids):
        after = 0
        while True:
            done, after = _rebuild_batch(
                user_id=user_id, topic_id=topic_id, after=after, size=batch
            )
            rewritten += done
            if done < batch:
                break
    return rewritten


_FRAGMENT_FIELDS = ("id", "topic_id", "parent_id", "body_html", "created", "edited", "removal")


def _rebuild_batch(*, user_id: int, topic_id: int, after: int, size: int) -> tuple[int, int]:
    """Rewrite up to `size` of the member's posts in one topic with ids after `after`.

    Returns how many were rewritten and the last id, for the next batch.
    """
    with transaction.atomic():
        try:
            topic = locks.lock_topic(topic_id)
        except NotFound:  # deleted meanwhile
            return 0, after
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return 0, after
        posts = list(
            Post.objects.filter(topic_id=topic_id, author_id=user_id, pk__gt=after)
            .only(*_FRAGMENT_FIELDS)
            .order_by("pk")[:size]
        )
        for post in posts:
            post.author = user
            post.fragment = fragments.post_fragment(post)
        Post.objects.bulk_update(posts, ["fragment"])
        if posts or after == 0:  # its row too, when it is the member's topic
            writes.topic_changed(topic)
        return len(posts), posts[-1].pk if posts else after
