"""Read marks: what a member has seen of each topic, and marking everything as read."""

from django.db import connection, transaction
from django.utils import timezone

from ..models import READ_MARKS_KEPT, Category, CategoryRead, Topic, TopicRead, User
from . import notifications


def topic_seen(*, member: User, topic: Topic, post_id: int) -> None:
    """The member was shown the topic up to `post_id`: so were its notifications.

    One statement, whoever else writes the row meanwhile: marks only ever go
    forward (a reader back on an older page does not make posts new again).
    None when the marks the topic was read with (`selectors.unread.with_seen`)
    say the member has seen that much already: a page read again costs no write.
    """
    if not member.is_authenticated:
        return
    notifications.notifications_seen(member=member, topic=topic, post_id=post_id)
    posts = topic.reply_count + 1
    seen_post_id, seen_posts = getattr(topic, "seen_post_id", None), getattr(topic, "seen_posts", 0)
    if seen_post_id is not None and seen_post_id >= post_id and seen_posts >= posts:
        return
    topic_id = topic.pk
    table = TopicRead._meta.db_table
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (member_id, topic_id, seen_post_id, seen_posts, seen) '
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (member_id, topic_id) DO UPDATE SET "
            f'seen_post_id = {greatest}("{table}".seen_post_id, excluded.seen_post_id), '
            f'seen_posts = {greatest}("{table}".seen_posts, excluded.seen_posts), '
            "seen = excluded.seen",
            [member.pk, topic_id, post_id, posts, timezone.now()],
        )


def all_read(*, member: User, category: Category | None = None) -> None:
    """Mark everything (or everything in a category and its subcategories) as read."""
    now = timezone.now()
    with transaction.atomic():
        if category is None:
            User.objects.filter(pk=member.pk).update(read_before=now)
            member.read_before = now
            return
        for each in category.get_descendants(include_self=True):
            CategoryRead.objects.update_or_create(
                member=member, category=each, defaults={"before": now}
            )


def read_marks_prune() -> int:
    """Delete the marks older than any read horizon (`manage.py prune_read_marks`)."""
    cutoff = timezone.now() - READ_MARKS_KEPT
    deleted, _ = TopicRead.objects.filter(seen__lt=cutoff).delete()
    deleted_categories, _ = CategoryRead.objects.filter(before__lt=cutoff).delete()
    return deleted + deleted_categories
