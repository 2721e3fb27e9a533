"""Posting, editing and counted limits (FORUM_LIMITS), slow mode, and the duplicate guard."""

import math
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Value
from django.utils import timezone

from .. import permissions
from ..models import Post, RateEvent, Topic, User
from . import errors, locks
from .errors import AlreadyPosted, RateLimited


def check_posting(
    author: User,
    body: str,
    *,
    topic: Topic | None,
    parent: Post | None,
    title: str = "",
    body_html: str | None = None,
) -> None:
    """`refuse_duplicate`, then `check_posting_limits`: what every new post must pass.

    Whether the author posted this text here already, whether they posted
    anything within their interval, and the topic's slow mode with their last
    post there, is one query; their last post is read again only to say how
    long to wait, and a newcomer's day only for them.
    """
    now, limits = timezone.now(), settings.FORUM_LIMITS
    guarded, limited = bool(limits["duplicate_window"]), not permissions.is_moderator(author)
    # Slow mode, in the same query, for members who cannot moderate the topic; staff
    # (who may moderate it) are checked with their rights under its lock (`check_slow_mode`).
    slowed = topic is not None and limited and not author.is_staff
    newcomer = now < _newcomer_until(author)
    lookups = []
    if guarded:
        lookups.append(
            _duplicate_sql(author, body, topic=topic, parent=parent, title=title, now=now)
        )
    if limited:
        interval = limits["new_account_post_interval" if newcomer else "post_interval"]
        lookups.append(_posted_since_sql(author, now - interval, now))
    if slowed:
        lookups += _slow_mode_sql(author, topic, now)
    found = list(_select(lookups)) if lookups else []
    duplicate = found.pop(0) if guarded else None
    too_soon = found.pop(0) if limited else False
    if duplicate:
        raise AlreadyPosted(Post.objects.select_related("topic").get(pk=duplicate))
    if slowed:
        _check_slow_mode(*found, now=now)
    if limited and (too_soon or newcomer):
        check_posting_limits(author, body_html)  # how long to wait; a newcomer's day and links


def check_slow_mode(author: User, topic: Topic) -> None:
    """Refuse a post in a slowed topic by a staff member who does not moderate it.

    For the topic as locked, with the author's rights (`locks.lock_topic`):
    `check_posting` has checked everyone else in its one query. One query
    more, only for staff in a slowed topic; moderators of the topic are not slowed.
    """
    if not author.is_staff or topic.slow_mode is None or permissions.moderates(author, topic):
        return
    now = timezone.now()
    posts = Post.objects.filter(author=author, topic=topic, created__lte=now)
    last = posts.order_by("-created").values_list("created", flat=True).first()
    _check_slow_mode_interval(topic.slow_mode, last, now)


def refuse_duplicate(
    author: User, body: str, *, topic: Topic | None, parent: Post | None, title: str = ""
) -> None:
    """Raise AlreadyPosted if the author just posted this text in the same place.

    The same place is the same parent in the same topic, or, for a new topic
    (`topic` None), the opening post of a topic of the same title.
    """
    if not settings.FORUM_LIMITS["duplicate_window"]:
        return
    now = timezone.now()
    duplicate = _select(
        [_duplicate_sql(author, body, topic=topic, parent=parent, title=title, now=now)]
    )
    if duplicate[0]:
        raise AlreadyPosted(Post.objects.select_related("topic").get(pk=duplicate[0]))


# The lookups every new post makes twice are written in SQL once (as in
# selectors.access): the ORM took longer to build them than the database to answer.
_POSTS, _TOPICS = Post._meta.db_table, Topic._meta.db_table


def _select(lookups: list[tuple[str, list]]) -> tuple:
    """The values of these SQL expressions, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(sql for sql, _ in lookups),
            [param for _, params in lookups for param in params],
        )
        return cursor.fetchone()


def _duplicate_sql(
    author: User,
    body: str,
    *,
    topic: Topic | None,
    parent: Post | None,
    title: str,
    now: datetime,
) -> tuple[str, list]:
    """SQL: the author's latest post of this text in this place within the duplicate window."""
    window = settings.FORUM_LIMITS["duplicate_window"]
    where = "p.author_id = %s AND p.body = %s AND p.created >= %s AND p.removal = ''"
    params = [author.pk, body, connection.ops.adapt_datetimefield_value(now - window)]
    if topic is None:
        where += " AND p.level = 0 AND t.title = %s AND p.created = t.created"
        params.append(title)
    elif parent is None:  # the opening post is no reply, though it has no parent either
        where += " AND p.topic_id = %s AND p.parent_id IS NULL AND p.created <> t.created"
        params.append(topic.pk)
    else:
        where += " AND p.topic_id = %s AND p.parent_id = %s"
        params += [topic.pk, parent.pk]
    sql = (
        f'(SELECT p.id FROM "{_POSTS}" p JOIN "{_TOPICS}" t ON t.id = p.topic_id'
        f" WHERE {where} ORDER BY p.created DESC LIMIT 1)"
    )
    return sql, params


def _posted_since_sql(author: User, since: datetime, now: datetime) -> tuple[str, list]:
    """SQL: whether the author wrote a post after `since` (and not after `now`)."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f'EXISTS (SELECT 1 FROM "{_POSTS}" WHERE author_id = %s AND created > %s AND created <= %s)'
    )
    return sql, [author.pk, adapt(since), adapt(now)]


def _slow_mode_sql(author: User, topic: Topic, now: datetime) -> list[tuple[str, list]]:
    """SQL: the topic's slow mode, and the author's latest post there within the longest
    slow mode (`FORUM_LIMITS["slow_mode_max"]`), looked up only when the topic is slowed."""
    adapt = connection.ops.adapt_datetimefield_value
    since = now - settings.FORUM_LIMITS["slow_mode_max"]
    slow_mode = f'(SELECT slow_mode FROM "{_TOPICS}" WHERE id = %s)'
    latest = (
        f'(SELECT MAX(p.created) FROM "{_POSTS}" p JOIN "{_TOPICS}" t ON t.id = p.topic_id'
        " WHERE t.id = %s AND t.slow_mode IS NOT NULL AND p.author_id = %s"
        " AND p.created > %s AND p.created <= %s)"
    )
    return [(slow_mode, [topic.pk]), (latest, [topic.pk, author.pk, adapt(since), adapt(now)])]


def _from_db(value, field):
    """A value of `field` as the database driver returned it, as the ORM would read it."""
    expression = Value(None, output_field=field)
    converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
    for converter in converters:
        value = converter(value, expression, connection)
    return value


def _check_slow_mode(slow_mode, latest, *, now: datetime) -> None:
    """Refuse a post within the slow mode's interval (raw values of `_slow_mode_sql`)."""
    if slow_mode is None or latest is None:
        return
    _check_slow_mode_interval(
        _from_db(slow_mode, Topic._meta.get_field("slow_mode")),
        _from_db(latest, Post._meta.get_field("created")),
        now,
    )


def _check_slow_mode_interval(interval: timedelta, last: datetime | None, now: datetime) -> None:
    if last is not None and now - last < interval:
        raise RateLimited(
            f"This topic is in slow mode: each member may post here once every "
            f"{errors.duration(math.ceil(interval.total_seconds()))}.",
            interval - (now - last),
        )


def _newcomer_until(author: User) -> datetime:
    return author.date_joined + settings.FORUM_LIMITS["new_account_age"]


def _check_interval(last: datetime | None, interval: timedelta, what: str) -> None:
    now = timezone.now()
    if last and now - last < interval:
        raise RateLimited(
            f"You can {what} once every {errors.duration(math.ceil(interval.total_seconds()))}.",
            interval - (now - last),
        )


def _links(body_html: str) -> int:
    """The links in a rendered post, but for mentions of members (never a link elsewhere)."""
    return body_html.count("<a ") - body_html.count('<a class="mention" ')


def _check_links(author: User, body_html: str) -> None:
    links = settings.FORUM_LIMITS["new_account_links"]
    newcomer_until = _newcomer_until(author)
    if links is not None and timezone.now() < newcomer_until and _links(body_html) > links:
        raise RateLimited(
            f"During their first day, members can put at most {links} links in a post: "
            "take some out, or wait.",
            newcomer_until - timezone.now(),
        )


def check_posting_limits(author: User, body_html: str | None = None) -> None:
    """Refuse a post that comes too soon, is one too many, or has too many links.

    Counted from the author's posts: once before the post is rendered (without
    `body_html`, so that a refused post costs no render), and again under the
    lock on the author's row. Moderators have no limits.
    """
    if permissions.is_moderator(author):
        return
    limits, now = settings.FORUM_LIMITS, timezone.now()
    newcomer = now < _newcomer_until(author)
    interval = limits["new_account_post_interval" if newcomer else "post_interval"]
    posts = Post.objects.filter(author=author, created__lte=now).order_by("-created")
    _check_interval(posts.values_list("created", flat=True).first(), interval, "post")
    if not newcomer:
        return
    per_day = limits["new_account_posts_per_day"]
    if per_day is not None:
        today = list(
            posts.filter(created__gt=now - timedelta(days=1)).values_list("created", flat=True)
        )
        if len(today) >= per_day:
            raise RateLimited(
                f"New members can write {per_day} posts a day.",
                today[per_day - 1] + timedelta(days=1) - now,
            )
    if body_html is not None:
        _check_links(author, body_html)


def check_edit_limits(editor: User, body_html: str | None = None) -> None:
    """Refuse an edit that comes too soon after the editor's last one, or adds too many links.

    Counted from the editor's own posts, like posting limits; moderators have none.
    """
    if permissions.is_moderator(editor):
        return
    limits, now = settings.FORUM_LIMITS, timezone.now()
    newcomer = now < _newcomer_until(editor)
    interval = limits["new_account_edit_interval" if newcomer else "edit_interval"]
    edits = Post.objects.filter(author=editor, edited__lte=now).order_by("-edited")
    _check_interval(edits.values_list("edited", flat=True).first(), interval, "edit a post")
    if body_html is not None:
        _check_links(editor, body_html)


def count_render(author: User) -> None:
    """Count one render the author asks for (a post, an edit, a preview), refused or not.

    Posting limits count stored posts; a text refused as too complex to format
    is never stored, yet it cost a render worker up to a second. So renders are
    counted too: a few in a burst, and a few more a minute. Moderators are not
    counted.
    """
    if not author.is_authenticated or permissions.is_moderator(author):
        return
    config = settings.FORUM_LIMITS
    with transaction.atomic():
        count_events(
            str(author.pk),
            EventLimit(
                "render_burst",
                config["renders_per_burst"],
                config["render_burst_window"],
                "You are sending posts to be formatted faster than anyone types.",
            ),
            EventLimit(
                "render",
                config["renders_per_window"],
                config["render_window"],
                "You have sent many posts to be formatted in a short time.",
            ),
        )


# How many expired events one counted event deletes at most, whatever their key.
PRUNE_BATCH = 100


class EventLimit(NamedTuple):
    """A limited kind of event: at most `limit` (None: no limit) within `window`."""

    kind: str
    limit: int | None
    window: timedelta
    what: str  # what the refusal says


def count_event(kind: str, key: str, *, limit: int | None, window: timedelta, what: str) -> None:
    """Record one event of a limited kind, or refuse it when the limit is reached.

    Only events younger than `window` count. Each recorded event also deletes
    up to PRUNE_BATCH expired events of its kind, of any key, so the table
    holds little more than the events still counting, with no job to run.
    Rows another transaction is deleting are skipped, never waited for.
    Call it inside a transaction: the lock and the counted event last until it ends.
    """
    count_events(key, EventLimit(kind, limit, window, what))


# Counted events are written and read in SQL (every render counts two): the ORM
# took a millisecond to build the count alone (four filtered aggregates), the
# database a twentieth of that to run it.
_EVENTS = RateEvent._meta.db_table


def _counted(key: str, limits: tuple[EventLimit, ...], now: datetime) -> tuple[int, ...]:
    """How many events of each kind under the key are in its window now, in one query."""
    adapt = connection.ops.adapt_datetimefield_value
    counts = ", ".join(['COUNT(CASE WHEN "kind" = %s AND "created" > %s THEN 1 END)'] * len(limits))
    kinds = ", ".join(["%s"] * len(limits))
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {counts} FROM "{_EVENTS}" '
            f'WHERE "key" = %s AND "kind" IN ({kinds}) AND "created" > %s',
            [
                *(part for each in limits for part in (each.kind, adapt(now - each.window))),
                key,
                *(each.kind for each in limits),
                adapt(now - max(each.window for each in limits)),
            ],
        )
        return cursor.fetchone()


def count_events(key: str, *limits: EventLimit) -> None:
    """Record one event of each of these kinds under one key, as `count_event` does each,
    or none of them when any limit is reached (the first one reached is the refusal).

    However many kinds, one query counts them, one records them and one deletes
    the oldest expired events (up to PRUNE_BATCH for each kind counted).
    """
    limits = tuple(each for each in limits if each.limit is not None)
    if not limits:
        return
    locks.lock_rate_keys(*(f"{each.kind}:{key}" for each in limits))
    now = timezone.now()
    for each, count in zip(limits, _counted(key, limits, now), strict=True):
        if count >= each.limit:
            events = RateEvent.objects.filter(
                kind=each.kind, key=key, created__gt=now - each.window
            )
            first = events.order_by("created").values_list("created", flat=True).first()
            raise RateLimited(each.what, first + each.window - now)
    _record_and_prune(key, limits, now)


def _record_and_prune(key: str, limits: tuple[EventLimit, ...], now: datetime) -> None:
    """Record an event of each kind; delete up to PRUNE_BATCH expired events for each,
    oldest first, skipping rows another transaction holds (it is deleting them)."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = ", ".join(["(%s, %s, %s)"] * len(limits))
    expired = " OR ".join(['("kind" = %s AND "created" <= %s)'] * len(limits))
    skip = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{_EVENTS}" ("kind", "key", "created") VALUES {rows}',
            [part for each in limits for part in (each.kind, key, adapt(now))],
        )
        cursor.execute(
            f'DELETE FROM "{_EVENTS}" WHERE "id" IN (SELECT "id" FROM "{_EVENTS}" '
            f'WHERE {expired} ORDER BY "id" LIMIT %s{skip})',
            [
                *(part for each in limits for part in (each.kind, adapt(now - each.window))),
                PRUNE_BATCH * len(limits),
            ],
        )
