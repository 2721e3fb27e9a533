"""Rebuilding what shows a member's byline (their posts' fragments, their topics'
rows) after they change their display name or avatar, in the background.

A member may have written thousands of posts across thousands of topics, so no
request rewrites them: the change queues `bylines_rebuild_task`, and a worker
rewrites the posts in batches, each in a transaction of its own that locks
only the topics of its posts (and renews their revisions, so their cached
pages are built again). No lock is held for longer than one batch.

It is idempotent: every batch reads the member as they are now, so a rebuild
run twice, or two rebuilds racing after two quick changes, end with every
fragment showing the latest byline.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from time import perf_counter, sleep

from django.db import DatabaseError, transaction
from django.utils import timezone
from django_tasks import task

from .. import fragments
from ..models import Post, User
from . import locks, writes

logger = logging.getLogger(__name__)

# Posts rewritten per transaction: each holds its topics' locks (and on SQLite
# the database's write lock) for as long as this many fragments take to build;
# between two, the rebuild waits PAUSE seconds, so that other writers go first.
BATCH, PAUSE = 200, 0.1
# A rebuild the database interrupted (a lock timeout, a restart) is tried again.
ATTEMPTS, RETRY_AFTER = 5, timedelta(seconds=30)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: posts rewritten, batches, and the longest batch (its lock held)."""

    posts: int = 0
    batches: int = 0
    longest_batch_ms: float = 0

    def plus(self, posts: int, seconds: float) -> "Rebuilt":
        return Rebuilt(
            self.posts + posts, self.batches + 1, max(self.longest_batch_ms, seconds * 1000)
        )


def bylines_changed(*, user: User) -> None:
    """Queue the rebuild of the member's bylines, with the change that calls for it.

    Called inside the transaction that changes the display name or the avatar:
    the task exists exactly when the change is committed.
    """
    bylines_rebuild_task.enqueue(user_id=user.pk)


@task()
def bylines_rebuild_task(user_id: int, attempt: int = 1) -> dict:
    """The background job of `bylines_rebuild`; returns what it did (kept with the task)."""
    try:
        rebuilt = bylines_rebuild(user_id=user_id)
    except DatabaseError:
        if attempt >= ATTEMPTS:
            raise
        bylines_rebuild_task.using(run_after=timezone.now() + RETRY_AFTER * attempt).enqueue(
            user_id=user_id, attempt=attempt + 1
        )
        return {"retried": True}
    logger.info(
        "Rebuilt the bylines of member %s: %s posts in %s batches, the longest %.0f ms",
        user_id, rebuilt.posts, rebuilt.batches, rebuilt.longest_batch_ms,
    )  # fmt: skip
    return asdict(rebuilt)


def bylines_rebuild(*, user_id: int, batch: int = BATCH, pause: float = PAUSE) -> Rebuilt:
    """Rewrite every fragment and topic row that shows the member, batch by batch.

    A batch is the member's next `batch` posts (by id), whatever their topics:
    it locks those topics (in id order, as every writer does), rewrites the
    posts and renews the topics, and commits. Between batches it waits
    `pause` seconds, so that writers waiting for a lock get it (on SQLite a
    waiting writer only polls: without a pause a worker committing batch
    after batch could keep them waiting). A member who no longer exists has
    nothing to rewrite.
    """
    rebuilt = Rebuilt()
    after = 0
    while True:
        began = perf_counter()
        done, after = _rebuild_batch(user_id=user_id, after=after, size=batch)
        rebuilt = rebuilt.plus(done, perf_counter() - began)
        if done < batch:
            return rebuilt
        sleep(pause)


_FRAGMENT_FIELDS = (
    "id",
    "topic_id",
    "parent_id",
    "body_html",
    "created",
    "edited",
    "removal",
    "split_notes",
)


def _rebuild_batch(*, user_id: int, after: int, size: int) -> tuple[int, int]:
    """Rewrite the member's next `size` posts with ids after `after`, in one transaction.

    Returns how many were rewritten and the last id, for the next batch.
    """
    with transaction.atomic():
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return 0, after
        mine = Post.objects.filter(author_id=user_id, pk__gt=after).order_by("pk")
        ids = list(mine.values_list("pk", flat=True)[:size])
        if not ids:
            return 0, after
        topic_ids = set(Post.objects.filter(pk__in=ids).values_list("topic_id", flat=True))
        topics = locks.lock_topics_present(*topic_ids)
        # Read again under the locks: a post moved or deleted meanwhile is as it is now.
        posts = list(Post.objects.filter(pk__in=ids, topic_id__in=topics).only(*_FRAGMENT_FIELDS))
        for post in posts:
            post.author = user
            post.fragment = fragments.post_fragment(post)
        Post.objects.bulk_update(posts, ["fragment"])
        for topic_id in sorted({post.topic_id for post in posts}):
            writes.topic_changed(topics[topic_id])
        return len(ids), ids[-1]
