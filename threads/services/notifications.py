"""Notifications: whom a new post concerns, their inbox, and what members watch.

`post_notified` runs in the transaction of every new post (a reply, a topic's
opening post), after the post is written. It finds in one query the members
the post concerns, and may notify: the author of the post replied to, the
members it mentions (the first `writes.MENTIONS_NOTIFIED`), and those who
watch its topic or its category. Each of them gets one notification, for the
first reason that holds (reply, mention, watching), unless they mute the
topic, ignore the author, may not see the topic, are not active, or wrote
the post. Then two statements, whatever their number (per 500 members):

1. Their inbox entries (`Notification`), one per member: a new one, or the
   unread entry of that topic and reason counts one post more. For members
   who get mail, the entry is marked as waiting to be mailed (`mail_since`);
   `notification_mails` mails it later, from the worker.
2. The counts of those whose entry is new (`Inbox`: unread entries, the
   number in the header), one more each. Rows are written in the order of
   the members' ids, so two posts notifying the same members lock their
   counts in the same order and never deadlock.
"""

from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from ..models import (
    Category,
    CategoryWatch,
    Ignore,
    Inbox,
    Level,
    Notification,
    Post,
    Reason,
    Topic,
    TopicWatch,
    User,
)
from ..selectors import access
from ..selectors import notifications as levels
from .notification_mails import mails_scheduled

_USER = User._meta.db_table
_CATEGORY = Category._meta.db_table
_TOPIC_WATCH = TopicWatch._meta.db_table
_CATEGORY_WATCH = CategoryWatch._meta.db_table
_IGNORE = Ignore._meta.db_table
_NOTIFICATION = Notification._meta.db_table
_INBOX = Inbox._meta.db_table
_NO_MAIL = User.Mailing.NONE
# Members who watch the topic, or its category or an ancestor of it.
_WATCHERS = (
    f'SELECT w.member_id AS id FROM "{_TOPIC_WATCH}" w WHERE w.topic_id = %s AND w.level = %s'
    f' UNION SELECT w.member_id AS id FROM "{_CATEGORY_WATCH}" w'
    f' JOIN "{_CATEGORY}" a ON a.id = w.category_id JOIN "{_CATEGORY}" c ON c.id = %s'
    f" WHERE {access.LINEAGE} AND w.level = %s"
)
# Rows per statement when many members are notified (well under any database's
# limit on parameters).
_CHUNK = 500


def _concerned(post: Post, topic: Topic, direct: Sequence[int], watchers: bool) -> list[tuple]:
    """(id, level, mailing, may be mailed, told already) of the members the post may
    notify: one query.

    It starts from the few candidates (the watchers, the members named), never
    from all members, and reads each one's level for the topic: their own
    for it, else the nearest category's, else normal; and whether an unread
    entry of theirs for watching the topic tells of this post already (it
    tells of every post after its first) and waits to be mailed if they get mail.
    """
    sees, sees_params = access.members_seeing(topic.category_id)
    named = [f'SELECT u.id FROM "{_USER}" u WHERE u.id IN ({", ".join(["%s"] * len(direct))})']
    candidates = " UNION ".join([*(named if direct else []), *([_WATCHERS] if watchers else [])])
    category_level = levels.category_level_sql("u.id", "%s")
    sql = (
        f"SELECT u.id, COALESCE(t.level, {category_level}, '{Level.NORMAL}'), u.mailing,"
        f" u.email_confirmed AND u.email <> '',"
        f' EXISTS (SELECT 1 FROM "{_NOTIFICATION}" n WHERE n.member_id = u.id'
        f" AND n.topic_id = %s AND n.reason = '{Reason.WATCHING}' AND n.\"read\" IS NULL"
        f" AND (n.mail_since IS NOT NULL OR u.mailing = '{User.Mailing.NONE}'"
        " OR NOT u.email_confirmed OR u.email = ''))"
        f" FROM ({candidates}) k"
        f' JOIN "{_USER}" u ON u.id = k.id'
        f' LEFT JOIN "{_TOPIC_WATCH}" t ON t.member_id = u.id AND t.topic_id = %s'
        f' WHERE u.id <> %s AND NOT EXISTS (SELECT 1 FROM "{_IGNORE}" i'
        " WHERE i.member_id = u.id AND i.ignored_id = %s)"
        f" AND {sees}"
    )
    params = [*direct] if direct else []
    if watchers:
        params += [topic.pk, Level.WATCHING, topic.category_id, Level.WATCHING]
    params = [topic.category_id, topic.pk, *params, topic.pk, post.author_id, post.author_id]
    params += sees_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _reason(member_id: int, level: str, replied_to: int | None, mentioned: set[int]):
    if level == Level.MUTED:
        return None
    if member_id == replied_to:
        return Reason.REPLY
    if member_id in mentioned:
        return Reason.MENTION
    return Reason.WATCHING if level == Level.WATCHING else None


def post_notified(
    *,
    post: Post,
    topic: Topic,
    parent: Post | None,
    mentioned: Sequence[int] = (),
    watchers: bool = True,
) -> int:
    """Notify the members a new post concerns (see the module); returns how many.

    In the transaction that wrote the post, which holds its topic's lock.
    Without `watchers`, only the members it replies to and mentions (an edit
    that mentions more members notifies them, and nobody else again).
    """
    replied_to = parent.author_id if parent is not None else None
    direct = list(dict.fromkeys([*([replied_to] if replied_to else []), *mentioned]))
    notified = []
    if not direct and not watchers:
        return 0
    for member_id, level, mailing, mailable, told in _concerned(post, topic, direct, watchers):
        reason = _reason(member_id, level, replied_to, set(mentioned))
        if reason == Reason.WATCHING and told:
            continue  # nothing to write: a reply into a busy topic is fast however many watch
        if reason is not None:
            notified.append((member_id, reason, mailing if mailable else User.Mailing.NONE))
    if not notified:
        return 0
    notified.sort()
    # Adapted once for all rows (SQLite stores text).
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for start in range(0, len(notified), _CHUNK):
        chunk = notified[start : start + _CHUNK]
        rows = [(member_id, reason, how != _NO_MAIL) for member_id, reason, how in chunk]
        if new := _entries_added(post, topic, rows, now):
            _counts_added(new)
    ways = {how for _, _, how in notified}
    if ways - {_NO_MAIL}:
        mails_scheduled(
            immediate=User.Mailing.IMMEDIATE in ways, digest=User.Mailing.DIGEST in ways
        )
    return len(notified)


def _rows(columns: int, rows: int) -> str:
    """SQL: a table of `rows` rows of `columns` parameters, its columns column1, column2…

    (Both SQLite and PostgreSQL name a VALUES list's columns so.) What every
    row shares is a parameter of the SELECT, given once.
    """
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return f"(VALUES {', '.join([row] * rows)}) v"


def _entries_added(
    post: Post, topic: Topic, notified: list[tuple[int, str, bool]], now
) -> list[int]:
    """One statement: a new unread entry per (member, reason, mailed), or one more post
    in their unread one (not a watcher's: see below); an entry of a mailed member waits
    to be mailed from now on, unless it waited already. Returns the members whose entry
    is new, in ascending order.
    """
    params = [topic.pk, post.pk, post.pk, now, now, now]
    params += [value for row in notified for value in row]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{_NOTIFICATION}" (member_id, reason, topic_id, first_post_id,'
            " last_post_id, count, created, updated, mailed_post_id, mail_since)"
            " SELECT v.column1, v.column2, %s, %s, %s, 1, %s, %s, 0,"
            f" CASE WHEN v.column3 THEN %s END FROM {_rows(3, len(notified))}"
            # (WHERE true: SQLite reads ON CONFLICT after a SELECT only so.)
            ' WHERE true ON CONFLICT (member_id, topic_id, reason) WHERE "read" IS NULL'
            f' DO UPDATE SET count = "{_NOTIFICATION}".count + 1,'
            " last_post_id = excluded.last_post_id, updated = excluded.updated,"
            f' mail_since = COALESCE("{_NOTIFICATION}".mail_since, excluded.mail_since)'
            # A watcher's entry tells of every post after its first: it is written
            # again only to wait to be mailed again (so a reply writes nothing for
            # the many who watch a busy topic and have not read it yet).
            f' WHERE "{_NOTIFICATION}".reason <> %s'
            f' OR ("{_NOTIFICATION}".mail_since IS NULL AND excluded.mail_since IS NOT NULL)'
            " RETURNING member_id, count",
            [*params, Reason.WATCHING],
        )
        return sorted({member_id for member_id, count in cursor.fetchall() if count == 1})


def _counts_added(member_ids: list[int]) -> None:
    """One statement: one more unread entry in each member's inbox (ids in ascending order)."""
    values = ", ".join(["(%s, 1)"] * len(member_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{_INBOX}" (member_id, unread) VALUES {values}'
            f' ON CONFLICT (member_id) DO UPDATE SET unread = "{_INBOX}".unread + 1',
            member_ids,
        )


def _taken(statement: str, params: list, member: User | None = None) -> None:
    """Run an UPDATE or DELETE of unread entries that RETURNs their `member_id`, and take
    them off the members' counts (a subtraction: entries that a reply adds to a count
    meanwhile are not lost). `member`, when one of them, shows their new count.
    """
    with connection.cursor() as cursor:
        cursor.execute(statement + " RETURNING member_id", params)
        taken: dict[int, int] = {}
        for (member_id,) in cursor.fetchall():
            taken[member_id] = taken.get(member_id, 0) + 1
        for member_id, count in sorted(taken.items()):
            cursor.execute(
                f'UPDATE "{_INBOX}" SET unread = CASE WHEN unread > %s THEN unread - %s ELSE 0 END'
                " WHERE member_id = %s RETURNING unread",
                [count, count, member_id],
            )
            row = cursor.fetchone()
            if member is not None and member.pk == member_id and row is not None:
                member.inbox = Inbox(member=member, unread=row[0])  # for the rest of the request


# Read: the entry waits to be mailed no more either.
_MARK_READ = (
    f'UPDATE "{_NOTIFICATION}" SET "read" = %s, mail_since = NULL'
    ' WHERE "read" IS NULL AND member_id = %s'
)


def notifications_seen(*, member: User, topic: Topic, post_id: int) -> None:
    """The member read the topic up to `post_id`: its entries about no later post are read.

    No query unless the member has unread notifications of the topic (as the
    topic was read with: `selectors.notifications.notified`).
    """
    if not member.is_authenticated or not getattr(topic, "unread_notified", True):
        return
    with transaction.atomic():
        _taken(
            _MARK_READ + " AND topic_id = %s AND last_post_id <= %s",
            [timezone.now(), member.pk, topic.pk, post_id],
            member,
        )


def notification_read(*, member: User, notification_id: int) -> None:
    """Mark one of the member's notifications as read (nothing when it is not theirs)."""
    with transaction.atomic():
        _taken(_MARK_READ + " AND id = %s", [timezone.now(), member.pk, notification_id], member)


def notifications_all_read(*, member: User) -> None:
    """Mark all of the member's notifications as read."""
    with transaction.atomic():
        _taken(_MARK_READ, [timezone.now(), member.pk], member)


def notifications_withdrawn(*, post: Post) -> None:
    """A post was taken away: the unread entries that told only of it go.

    Entries that also tell of later posts stay, pointing there; the worker
    mails no removed post. In the transaction that takes the post away.
    """
    _taken(
        f'DELETE FROM "{_NOTIFICATION}" WHERE "read" IS NULL'
        " AND topic_id = %s AND first_post_id = %s AND last_post_id = %s",
        [post.topic_id, post.pk, post.pk],
    )


def watch_set(
    *, member: User, level: str, topic: Topic | None = None, category: Category | None = None
) -> None:
    """Set the member's level for a topic or a category (Level: watching, normal, muted)."""
    if level not in Level.values:
        raise ValueError(f"Not a watch level: {level!r}")
    if (topic is None) == (category is None):
        raise ValueError("Watch a topic or a category.")
    with transaction.atomic():
        if topic is not None:
            TopicWatch.objects.update_or_create(
                member=member, topic=topic, defaults={"level": level}
            )
        else:
            CategoryWatch.objects.update_or_create(
                member=member, category=category, defaults={"level": level}
            )


def notification_settings_set(*, member: User, mailing: str, watch_own_topics: bool) -> None:
    """What the member is mailed of notifications, and whether their own topics are watched."""
    if mailing not in User.Mailing.values:
        raise ValueError(f"Not a way of mailing: {mailing!r}")
    User.objects.filter(pk=member.pk).update(mailing=mailing, watch_own_topics=watch_own_topics)
    member.mailing, member.watch_own_topics = mailing, watch_own_topics


def own_topic_watched(*, member: User, topic: Topic) -> None:
    """A member who started or replied to a topic watches it, if they chose so (one statement).

    A level they set for the topic themselves stays.
    """
    if member.watch_own_topics:
        TopicWatch.objects.bulk_create(
            [TopicWatch(member=member, topic=topic, level=Level.WATCHING)], ignore_conflicts=True
        )


def notifications_followed(*, source: Topic, target: Topic) -> None:
    """Posts of `source` were split off into the new topic `target`: the entries whose
    latest post moved follow it there (`target` is new, so it has no entry to meet).

    Watches and read marks stay with `source`: nobody chose to watch the new topic.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{_NOTIFICATION}" SET topic_id = %s WHERE topic_id = %s AND last_post_id IN'
            f' (SELECT id FROM "{Post._meta.db_table}" WHERE topic_id = %s)',
            [target.pk, source.pk, target.pk],
        )


def notifications_merged(*, topic: Topic, into: Topic) -> None:
    """`topic` was merged into `into`: its entries and watches go there too.

    An unread entry of a member who has one of `into` for the same reason goes
    (taken off their count: the entry of `into` stays unread); a watch of a
    member who set a level for `into` goes. Read marks go with `topic`.
    """
    _taken(
        f'DELETE FROM "{_NOTIFICATION}" WHERE "read" IS NULL AND topic_id = %s AND EXISTS'
        f' (SELECT 1 FROM "{_NOTIFICATION}" o WHERE o.topic_id = %s AND o."read" IS NULL'
        f' AND o.member_id = "{_NOTIFICATION}".member_id AND o.reason = "{_NOTIFICATION}".reason)',
        [topic.pk, into.pk],
    )
    Notification.objects.filter(topic=topic).update(topic=into)
    kept = TopicWatch.objects.filter(topic=into).values("member_id")
    TopicWatch.objects.filter(topic=topic).exclude(member_id__in=kept).update(topic=into)
