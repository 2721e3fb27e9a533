"""The locks that keep django-mptt's trees and the counted limits consistent.

django-mptt does not lock. Two rules keep the trees consistent:

* Every write to a topic's posts first locks that topic's row
  (`lock_topics`) and then re-reads the posts it will touch, so the tree
  fields it computes from are current. Writers of one topic, and so of one
  tree, go one at a time.
* A new tree gets MAX(tree_id) + 1, so creating one also takes a
  database-wide lock (`lock_tree_ids`), held until commit.

Posting limits are counted under a lock on the author's row (`lock_author`),
so two requests of one member cannot both slip under a limit.

Order, always: the author's row, topic rows by ascending id, the tree-id
lock, then category rows by ascending id (their stored counts, updated
last). PostgreSQL implements them with SELECT ... FOR UPDATE and
transaction advisory locks. SQLite has neither, but every transaction there
begins IMMEDIATE (see settings.DATABASES), which serializes all writers.
"""

from django.db import connection

from ..models import Category, Post, Topic, User
from ..selectors import access
from .errors import NotFound

# Namespaces of PostgreSQL advisory locks (the first of their two keys).
# Namespaces of PostgreSQL advisory locks (the first of their two keys).
_TREE_IDS, _RATE_KEYS = 0, 1


# What a locked topic is read with: the topic, and what its list row shows of its
# author and category (every write renews the row). Not the rest of the member's and
# the category's rows, nor the old row: building the select for all of them took
# a third of the time of a lock; a field left out is read when asked for.
_LOCKED_FIELDS = (
    *(field.name for field in Topic._meta.concrete_fields if field.name != "row_html"),
    "author__username",
    "author__display_name",
    "author__avatar",
    "category__name",
    "category__slug",
)


def lock_topics(*topic_ids: int, viewer: User | None = None) -> dict[int, Topic]:
    """Lock the rows of these topics, in id order, and return them fresh.

    With a `viewer`, a topic they may not see does not exist for them, and
    the topics come with their rights in them (threads.selectors.access).
    """
    locked = Topic.objects.select_for_update(of=("self",)).filter(pk__in=topic_ids)
    if viewer is not None:
        locked = access.with_rights(locked, viewer)
    locked = locked.select_related("author", "category").only(*_LOCKED_FIELDS).order_by("pk")
    topics = {topic.pk: topic for topic in locked if viewer is None or topic.visible}
    if len(topics) != len(set(topic_ids)):
        raise NotFound("That topic no longer exists.")
    return topics


def lock_topics_present(*topic_ids: int) -> dict[int, Topic]:
    """Lock the rows of these topics, in id order; those deleted meanwhile are left out."""
    locked = Topic.objects.select_for_update(of=("self",)).filter(pk__in=topic_ids)
    return {topic.pk: topic for topic in locked.select_related("author", "category").order_by("pk")}


def lock_topic(topic_id: int, viewer: User | None = None) -> Topic:
    return lock_topics(topic_id, viewer=viewer)[topic_id]


def lock_tree_ids() -> None:
    """Serialize the allocation of new tree ids until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_TREE_IDS])


def lock_categories(*category_ids: int) -> None:
    """Lock these categories' rows (their stored counts), in id order, until the transaction ends.

    For a write that does more after taking them (a merge's inbox counts, which
    replies write after their category's counts): the rest of it waits for nothing
    a reply holds.
    """
    locked = Category.objects.select_for_update(no_key=True).filter(pk__in=category_ids)
    list(locked.order_by("pk").values_list("pk", flat=True))


def lock_author(author: User) -> None:
    """Serialize one member's posting until the transaction ends.

    In SQL written once (every post takes it): the ORM took ten times as long
    to build this statement as the database to run it.
    """
    lock = " FOR NO KEY UPDATE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(_MEMBER_ROW + lock, [author.pk])
        cursor.fetchall()


_MEMBER_ROW = f'SELECT "id" FROM "{User._meta.db_table}" WHERE "id" = %s'


def locked_member(user_id: int) -> User:
    """Lock a member's row until the transaction ends, and read it as it is now."""
    return User.objects.select_for_update(no_key=True).get(pk=user_id)


def lock_rate_key(key: str) -> None:
    """Serialize the counting of one limit's events until the transaction ends."""
    lock_rate_keys(key)


def lock_rate_keys(*keys: str) -> None:
    """`lock_rate_key` for each of these keys, in this order, in one statement."""
    if connection.vendor == "postgresql" and keys:
        locks = ", ".join(["pg_advisory_xact_lock(%s, hashtext(%s))"] * len(keys))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {locks}", [part for key in keys for part in (_RATE_KEYS, key)])


def locked_post(post_id: int, viewer: User | None = None) -> Post:
    """Lock the post's topic, then read the post as it is now (see `lock_topics` for `viewer`)."""
    try:
        topic_id = Post.objects.values_list("topic_id", flat=True).get(pk=post_id)
    except Post.DoesNotExist:
        raise NotFound("That post no longer exists.") from None
    try:
        topic = lock_topic(topic_id, viewer)
    except NotFound:
        raise NotFound("That post no longer exists.") from None
    post = Post.objects.select_related("author").get(pk=post_id)
    if post.topic_id != topic.pk:  # moved to another topic before we got the lock
        return locked_post(post_id, viewer)
    post.topic = topic
    return post
