"""The search index, written in the transaction of every write that changes what can be found.

A visible post has one entry (threads.models.PostSearch): the plain text of
its body, its topic's title when it opens the topic, and its topic, category
and author, which moves keep (`topic_entries_moved`). A removed or deleted
post has none, so no search can find it. The databases index the entries
themselves as they are written (migration 0013), so a search run after the
write's commit finds exactly what the write left, and no worker is needed.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from ..models import FTS_TABLE, Post, PostSearch, Topic
from ..plaintext import html_text
from . import limits

_INDEX, _POST, _TOPIC = PostSearch._meta.db_table, Post._meta.db_table, Topic._meta.db_table
# SQL over post p and its topic t: the topic's title when p is its opening post
# (its first top-level post), else nothing.
_TITLE = (
    f'CASE WHEN p.level = 0 AND NOT EXISTS (SELECT 1 FROM "{_POST}" o WHERE o.topic_id = p.topic_id'
    " AND o.level = 0 AND o.tree_id < p.tree_id) THEN t.title ELSE '' END"
)
_UPSERT = (
    f'INSERT INTO "{_INDEX}" (post_id, topic_id, category_id, author_id, title, body)'
    f" SELECT p.id, p.topic_id, t.category_id, p.author_id, {_TITLE}, %s"
    f' FROM "{_POST}" p JOIN "{_TOPIC}" t ON t.id = p.topic_id WHERE p.id = %s'
    " ON CONFLICT (post_id) DO UPDATE SET topic_id = excluded.topic_id,"
    " category_id = excluded.category_id, title = excluded.title, body = excluded.body"
)
# Entries written in one statement by `search_reindex`.
_BATCH = 1000


def posts_indexed(posts: Iterable[Post]) -> None:
    """Bring the entries of these posts up to date: as their body is now, or gone if removed.

    Call it in the transaction that wrote them, after the write.
    """
    shown, removed = [], []
    for post in posts:
        (removed if post.is_removed else shown).append(post)
    with connection.cursor() as cursor:
        for start in range(0, len(removed), _BATCH):
            batch = [post.pk for post in removed[start : start + _BATCH]]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f'DELETE FROM "{_INDEX}" WHERE post_id IN ({marks})', batch)
        if shown:
            cursor.executemany(_UPSERT, [(html_text(post.body_html), post.pk) for post in shown])


def title_indexed(topic_id: int) -> None:
    """The topic's title on the entry of its opening post, and on no other entry of the topic.

    After a new title, and after a repair, which may change which post opens the topic.
    """
    title = (
        f'(SELECT {_TITLE} FROM "{_POST}" p JOIN "{_TOPIC}" t ON t.id = p.topic_id'
        f' WHERE p.id = "{_INDEX}".post_id)'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{_INDEX}" SET title = {title} WHERE post_id IN'
            f' (SELECT id FROM "{_POST}" WHERE topic_id = %s AND level = 0) AND title <> {title}',
            [topic_id],
        )


def topic_entries_moved(topic: Topic) -> None:
    """The entries of the topic's posts name it and its category (after a move).

    After a topic moves to another category, or posts move into the topic.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{_INDEX}" SET topic_id = %s, category_id = %s WHERE post_id IN'
            f' (SELECT id FROM "{_POST}" WHERE topic_id = %s)'
            " AND (topic_id <> %s OR category_id <> %s)",
            [topic.pk, topic.category_id, topic.pk, topic.pk, topic.category_id],
        )


def search_reindex() -> int:
    """Write every entry again from the posts, in one transaction; returns how many there are.

    On SQLite the FTS5 index is then rebuilt from the entries, whatever state it was in.
    """
    entries = (
        f"SELECT p.id, p.topic_id, t.category_id, p.author_id, {_TITLE}, p.body_html"
        f' FROM "{_POST}" p'
        f' JOIN "{_TOPIC}" t ON t.id = p.topic_id'
        " WHERE p.removal = '' AND p.id > %s ORDER BY p.id LIMIT %s"
    )
    written, last = 0, 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{_INDEX}"')
        while True:
            cursor.execute(entries, [last, _BATCH])
            rows = cursor.fetchall()
            if not rows:
                break
            cursor.executemany(
                f'INSERT INTO "{_INDEX}" (post_id, topic_id, category_id, author_id, title, body)'
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(*row[:5], html_text(row[5])) for row in rows],
            )
            written, last = written + len(rows), rows[-1][0]
        if connection.vendor == "sqlite":
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
    return written


def search_counted(*, address: str | None) -> None:
    """Count a search by a visitor who is not logged in, refusing past the limit per address.

    `address` is the client's (threads.clients.client_address); searches from
    no known address are not counted.
    """
    if address is None:
        return
    with transaction.atomic():
        limits.count_event(
            "search",
            address,
            limit=settings.FORUM_LIMITS["searches_per_address"],
            window=settings.FORUM_LIMITS["search_window"],
            what="Many searches came from your address in a short time.",
        )
