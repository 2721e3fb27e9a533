"""Every write to the forum: one keyword-only function per action.

Views, admin actions, management commands and tests call these; nothing else
saves a Post. Each function validates its input (raising ValidationError),
checks permissions through threads.permissions (raising Refused), renders
Markdown before it takes any lock, and then writes inside one transaction.

Locks
-----
django-mptt does not lock. Two rules keep the trees consistent:

* Every write to a topic's posts first locks that topic's row
  (`_lock_topics`) and then re-reads the posts it will touch, so the tree
  fields it computes from are current. Writers of one topic, and so of one
  tree, go one at a time.
* A new tree gets MAX(tree_id) + 1, so creating one also takes a
  database-wide lock (`_lock_tree_ids`), held until commit.

Posting limits are counted under a lock on the author's row (`_lock_author`),
so two requests of one member cannot both slip under a limit.

Order, always: the author's row, topic rows by ascending id, then the
tree-id lock. PostgreSQL implements them with SELECT ... FOR UPDATE and
transaction advisory locks. SQLite has neither, but every transaction there
begins IMMEDIATE (see settings.DATABASES), which serializes all writers.
"""

import hashlib
import ipaddress
import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max
from django.db.models.functions import Lower
from django.db.utils import IntegrityError
from django.utils import timezone
from django.utils.text import slugify

from . import conversation, permissions, rendering, selectors
from .apps import MODERATORS_GROUP
from .models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Post,
    RateEvent,
    Topic,
    User,
    handle_validator,
    new_revision,
)


class Refused(Exception):
    """The forum will not do this. `message` is meant for the person who asked."""

    status_code = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Refused):
    status_code = 404


class RateLimited(Refused):
    """Too much, too soon: `retry_after` says in how many seconds to try again."""

    status_code = 429

    def __init__(self, message: str, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"{message} Try again in {_duration(self.retry_after)}.")


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = math.ceil(seconds / size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} second{'s' if seconds > 1 else ''}"


# --- Locks -------------------------------------------------------------------

# Namespaces of PostgreSQL advisory locks (the first of their two keys).
_TREE_IDS, _RATE_KEYS = 0, 1


def _lock_topics(*topic_ids: int) -> dict[int, Topic]:
    """Lock the rows of these topics, in id order, and return them fresh."""
    locked = (
        Topic.objects.select_for_update(of=("self",))
        .select_related("author")
        .filter(pk__in=topic_ids)
        .order_by("pk")
    )
    topics = {topic.pk: topic for topic in locked}
    if len(topics) != len(set(topic_ids)):
        raise NotFound("That topic no longer exists.")
    return topics


def _lock_topic(topic_id: int) -> Topic:
    return _lock_topics(topic_id)[topic_id]


def _lock_tree_ids() -> None:
    """Serialize the allocation of new tree ids until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_TREE_IDS])


def _lock_author(author: User) -> None:
    """Serialize one member's posting until the transaction ends."""
    list(User.objects.select_for_update(no_key=True).filter(pk=author.pk).values_list("pk"))


def _lock_rate_key(key: str) -> None:
    """Serialize the counting of one limit's events until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_RATE_KEYS, key])


# --- Input --------------------------------------------------------------------


def normalize_body(text: str) -> str:
    """Unix line ends and no blank lines at the start or the end, as an import reads them."""
    return conversation.without_blank_edges(conversation.LINE_BREAK.split(text))


def _clean_body(text: str) -> str:
    body = normalize_body(text)
    if not body:
        raise ValidationError("The post is empty: write something first.", code="empty")
    if len(body) > BODY_MAX_LENGTH:
        raise ValidationError(
            f"A post can be at most {BODY_MAX_LENGTH:,} characters long; "
            f"this one has {len(body):,}.",
            code="too_long",
        )
    if "\x00" in body:
        raise ValidationError("The text contains a NUL character.", code="null_characters")
    return body


# Characters that show nothing or reorder the text around them (Unicode format
# characters: bidirectional overrides, zero-width spaces), except the joiners
# that emoji sequences and some scripts need between visible characters.
_JOINERS = {"\u200c", "\u200d"}
# Letters that show as blank space.
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def _visible(text: str) -> str:
    """The text without format characters that hide or reorder it."""
    return "".join(c for c in text if c in _JOINERS or unicodedata.category(c) != "Cf")


def _clean_title(text: str) -> str:
    title = _visible(text).strip()
    if not any(c not in _JOINERS and c not in _BLANK_LETTERS and not c.isspace() for c in title):
        raise ValidationError("The topic needs a title.", code="empty")
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            f"A title can be at most {TITLE_MAX_LENGTH} characters long; "
            f"this one has {len(title)}.",
            code="too_long",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise ValidationError(
            "A title is one line of text, without control characters.", code="control_characters"
        )
    return title


def _render(body: str) -> str:
    """The body's HTML, or a form error when it costs too much to format."""
    try:
        return rendering.markdown_to_html(body)
    except rendering.TooComplex as error:
        raise ValidationError(error.message, code="too_complex") from None


def _slug(title: str) -> str:
    return slugify(title)[:80].strip("-") or "topic"


def _refuse_if(reason: str | None) -> None:
    if reason:
        raise Refused(reason)


# --- Limits -------------------------------------------------------------------------


class AlreadyPosted(Exception):
    """The author posted this very text here a moment ago: `post` is that post.

    Double clicks and resubmitted forms lead to the first post instead of a second.
    """

    def __init__(self, post: Post) -> None:
        super().__init__(post.pk)
        self.post = post


def _refuse_duplicate(
    author: User, body: str, *, topic: Topic | None, parent: Post | None, title: str = ""
) -> None:
    """Raise AlreadyPosted if the author just posted this text in the same place.

    The same place is the same parent in the same topic, or, for a new topic
    (`topic` None), the opening post of a topic of the same title.
    """
    window = settings.FORUM_LIMITS["duplicate_window"]
    if not window:
        return
    posts = Post.objects.filter(
        author=author, body=body, created__gte=timezone.now() - window, removal=""
    )
    if topic is None:
        posts = posts.filter(level=0, topic__title=title, created=F("topic__created"))
    else:
        posts = posts.filter(topic=topic, parent=parent)
    if duplicate := posts.select_related("topic").order_by("-created").first():
        raise AlreadyPosted(duplicate)


def _newcomer_until(author: User) -> datetime:
    return author.date_joined + settings.FORUM_LIMITS["new_account_age"]


def _check_interval(last: datetime | None, interval: timedelta, what: str) -> None:
    now = timezone.now()
    if last and now - last < interval:
        raise RateLimited(
            f"You can {what} once every {_duration(math.ceil(interval.total_seconds()))}.",
            interval - (now - last),
        )


def _check_links(author: User, body_html: str) -> None:
    links = settings.FORUM_LIMITS["new_account_links"]
    newcomer_until = _newcomer_until(author)
    if links is not None and timezone.now() < newcomer_until and body_html.count("<a ") > links:
        raise RateLimited(
            f"During their first day, members can put at most {links} links in a post: "
            "take some out, or wait.",
            newcomer_until - timezone.now(),
        )


def _check_posting_limits(author: User, body_html: str | None = None) -> None:
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


def _check_edit_limits(editor: User, body_html: str | None = None) -> None:
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


# How many expired events one counted event deletes at most, whatever their key.
PRUNE_BATCH = 100


def _count_event(kind: str, key: str, *, limit: int | None, window: timedelta, what: str) -> None:
    """Record one event of a limited kind, or refuse it when the limit is reached.

    Only events younger than `window` count. Each recorded event also deletes
    up to PRUNE_BATCH expired events of its kind, of any key, so the table
    holds little more than the events still counting, with no job to run.
    Rows another transaction is deleting are skipped, never waited for.
    Call it inside a transaction: the lock and the counted event last until it ends.
    """
    if limit is None:
        return
    _lock_rate_key(f"{kind}:{key}")
    now = timezone.now()
    times = RateEvent.objects.filter(kind=kind, key=key, created__gt=now - window)
    first = times.order_by("created").values_list("created", flat=True).first()
    if first is not None and times.count() >= limit:
        raise RateLimited(what, first + window - now)
    RateEvent.objects.create(kind=kind, key=key, created=now)
    expired = RateEvent.objects.filter(kind=kind, created__lte=now - window).order_by("pk")
    batch = expired.select_for_update(skip_locked=True).values_list("pk", flat=True)
    RateEvent.objects.filter(pk__in=list(batch[:PRUNE_BATCH])).delete()


# --- Posts ------------------------------------------------------------------------


def _topic_changed(topic: Topic, **changes) -> Topic:
    """Save changes to a locked topic, renewing its revision and its topic-list row.

    Every write that changes what a topic's pages or its row show ends here.
    """
    for field, value in changes.items():
        setattr(topic, field, value)
    topic.revision = new_revision()
    topic.row_html = rendering.topic_row(topic)
    Topic.objects.filter(pk=topic.pk).update(
        **changes, revision=topic.revision, row_html=topic.row_html
    )
    return topic


def _insert_post(
    *, topic: Topic, parent: Post | None, author: User, body: str, body_html: str, created: datetime
) -> Post:
    """Insert a post as the last child of `parent`, or as a new tree (a top-level post)."""
    post = Post(
        topic=topic,
        parent=parent,
        author=author,
        body=body,
        body_html=body_html,
        render_version=rendering.RENDER_VERSION,
        created=created,
    )
    if parent is None:
        _lock_tree_ids()
    post.save()
    post.fragment = rendering.post_fragment(post)
    Post.objects.filter(pk=post.pk).update(fragment=post.fragment)
    return post


def _rewrite(post: Post, **changes) -> Post:
    """Change a post's own fields (never its place in the tree) and rebuild its fragment."""
    for field, value in changes.items():
        setattr(post, field, value)
    post.render_version = rendering.RENDER_VERSION
    post.fragment = rendering.post_fragment(post)
    Post.objects.filter(pk=post.pk).update(
        **changes, fragment=post.fragment, render_version=post.render_version
    )
    _topic_changed(post.topic)
    return post


def _locked_post(post_id: int) -> Post:
    """Lock the post's topic, then read the post as it is now."""
    try:
        topic_id = Post.objects.values_list("topic_id", flat=True).get(pk=post_id)
    except Post.DoesNotExist:
        raise NotFound("That post no longer exists.") from None
    topic = _lock_topic(topic_id)
    post = Post.objects.select_related("author").get(pk=post_id)
    if post.topic_id != topic.pk:  # moved to another topic before we got the lock
        return _locked_post(post_id)
    post.topic = topic
    return post


def topic_create(*, author: User, title: str, body: str, created: datetime | None = None) -> Topic:
    """Start a topic with its opening post."""
    title = _clean_title(title)
    body = _clean_body(body)
    _refuse_if(permissions.posting_refusal(author))
    _refuse_duplicate(author, body, topic=None, parent=None, title=title)
    _check_posting_limits(author)
    body_html = _render(body)
    created = created or timezone.now()
    with transaction.atomic():
        _lock_author(author)
        _refuse_duplicate(author, body, topic=None, parent=None, title=title)
        _check_posting_limits(author, body_html)
        topic = Topic.objects.create(
            title=title,
            slug=_slug(title),
            author=author,
            created=created,
            last_activity=created,
        )
        _insert_post(
            topic=topic, parent=None, author=author, body=body, body_html=body_html, created=created
        )
        _topic_changed(topic)
    return topic


def post_reply(
    *,
    author: User,
    topic: Topic,
    parent: Post | None = None,
    body: str,
    created: datetime | None = None,
) -> Post:
    """Reply to `parent`, or to the topic itself (a new top-level post) when it is None."""
    body = _clean_body(body)
    _refuse_if(permissions.posting_refusal(author))
    _refuse_duplicate(author, body, topic=topic, parent=parent)
    _check_posting_limits(author)
    body_html = _render(body)
    created = created or timezone.now()
    with transaction.atomic():
        _lock_author(author)
        _refuse_duplicate(author, body, topic=topic, parent=parent)
        _check_posting_limits(author, body_html)
        topic = _lock_topic(topic.pk)
        if parent is not None:
            try:
                parent = Post.objects.get(pk=parent.pk)
            except Post.DoesNotExist:
                raise NotFound("The post you replied to no longer exists.") from None
            if parent.topic_id != topic.pk:
                raise ValidationError(
                    "The post you replied to is in another topic.", code="wrong_topic"
                )
        _refuse_if(permissions.reply_refusal(author, topic, parent))
        post = _insert_post(
            topic=topic,
            parent=parent,
            author=author,
            body=body,
            body_html=body_html,
            created=created,
        )
        _topic_changed(
            topic,
            reply_count=topic.reply_count + 1,
            last_activity=max(topic.last_activity, created),
        )
    return post


def post_edit(*, post: Post, editor: User, body: str, title: str | None = None) -> Post:
    """Replace the text of one's own post, marking it edited.

    `title` renames the topic too; only the opening post carries it.
    """
    body = _clean_body(body)
    if title is not None:
        title = _clean_title(title)
    _refuse_if(permissions.posting_refusal(editor))
    _check_edit_limits(editor)
    body_html = _render(body)
    with transaction.atomic():
        _lock_author(editor)
        _check_edit_limits(editor, body_html)
        post = _locked_post(post.pk)
        _refuse_if(permissions.edit_refusal(editor, post))
        if title is not None and title != post.topic.title:
            if not selectors.is_opening_post(post):
                raise ValidationError(
                    "Only the opening post carries the topic's title.", code="not_opening_post"
                )
            _retitle(post.topic, title)
        if body != post.body:
            post = _rewrite(post, body=body, body_html=body_html, edited=timezone.now())
    return post


def post_preview(*, author: User, body: str) -> str:
    """The HTML a post of this text would show, for members who may post.

    Previews are counted (FORUM_LIMITS "previews_per_window"), so that nobody can make
    the forum format text without end; moderators are not counted.
    """
    body = _clean_body(body)
    _refuse_if(permissions.posting_refusal(author))
    if not permissions.is_moderator(author):
        with transaction.atomic():
            _count_event(
                "preview",
                str(author.pk),
                limit=settings.FORUM_LIMITS["previews_per_window"],
                window=settings.FORUM_LIMITS["preview_window"],
                what="You have previewed many posts in a short time.",
            )
    return _render(body)


def post_delete(*, post: Post, user: User) -> Post:
    """Delete one's own post. It stays as a placeholder so its replies keep their place."""
    with transaction.atomic():
        post = _locked_post(post.pk)
        _refuse_if(permissions.delete_refusal(user, post))
        return _rewrite(post, removal=Post.Removal.AUTHOR)


def post_remove(*, post: Post, moderator: User, reason: str) -> Post:
    """Hide a post from readers, keeping its place in the thread."""
    with transaction.atomic():
        _refuse_if(permissions.moderation_refusal(moderator))
        post = _locked_post(post.pk)
        return _rewrite(post, removal=Post.Removal.MODERATOR, removal_reason=reason.strip())


def post_restore(*, post: Post, moderator: User) -> Post:
    """Show a removed or deleted post again."""
    with transaction.atomic():
        _refuse_if(permissions.moderation_refusal(moderator))
        post = _locked_post(post.pk)
        return _rewrite(post, removal=Post.Removal.VISIBLE, removal_reason="")


def post_move(
    *, post: Post, moderator: User, new_parent: Post | None, topic: Topic | None = None
) -> Post:
    """Move a post and its replies under `new_parent`, or make it a top-level post.

    With `new_parent` None the post becomes the last top-level post of
    `topic` (its own topic when that is None too).
    """
    _refuse_if(permissions.moderation_refusal(moderator))
    with transaction.atomic():
        current = Post.objects.filter(pk=post.pk).values_list("topic_id", flat=True).first()
        if new_parent is not None:
            target_id = Post.objects.filter(pk=new_parent.pk).values_list("topic_id", flat=True)
            target_id = target_id.first()
        else:
            target_id = topic.pk if topic is not None else current
        if current is None or target_id is None:
            raise NotFound("That post no longer exists.")
        topics = _lock_topics(current, target_id)
        post = Post.objects.select_related("author").get(pk=post.pk)
        if new_parent is not None:
            new_parent = Post.objects.get(pk=new_parent.pk)
            if new_parent.topic_id != target_id:
                raise Refused("The post changed topic meanwhile; try again.")
        if post.topic_id != current:
            raise Refused("The post changed topic meanwhile; try again.")
        if selectors.is_opening_post(post):
            raise ValidationError("The opening post cannot be moved.", code="opening_post")
        if (
            new_parent is not None
            and new_parent.tree_id == post.tree_id
            and post.lft <= new_parent.lft <= post.rght
        ):
            raise ValidationError(
                "A post cannot move under itself or its own replies.", code="cycle"
            )

        if target_id != current:
            moved = post.get_descendants(include_self=True)
            size = post.get_descendant_count() + 1
            newest = moved.aggregate(newest=Max("created"))["newest"]
            moved.update(topic_id=target_id)
            source, target = topics[current], topics[target_id]
            _topic_changed(source, reply_count=source.reply_count - size)
            _topic_changed(
                target,
                reply_count=target.reply_count + size,
                last_activity=max(target.last_activity, newest),
            )
            post.topic_id = target_id

        if new_parent is not None:
            Post.objects.move_node(post, new_parent, "last-child")
        elif post.parent_id is not None or target_id != current:
            # A top-level post is the newest tree of its topic: give it a new tree id.
            _lock_tree_ids()
            if post.parent_id is not None:
                Post.objects.move_node(post, None)
            else:
                new_tree_id = Post.objects._get_next_tree_id()
                Post.objects.filter(tree_id=post.tree_id).update(tree_id=new_tree_id)
        post.refresh_from_db()
        post.topic = topics[target_id]
        _rewrite(post)  # its parent link changed
    return post


# --- Topics -------------------------------------------------------------------------


def _retitle(topic: Topic, title: str) -> None:
    _topic_changed(topic, title=title, slug=_slug(title))


def topic_retitle(*, topic: Topic, moderator: User, title: str) -> Topic:
    """Change a topic's title (its author does it by editing the opening post)."""
    title = _clean_title(title)
    with transaction.atomic():
        _refuse_if(permissions.moderation_refusal(moderator))
        topic = _lock_topic(topic.pk)
        _retitle(topic, title)
    return topic


def _set_topic_flag(topic: Topic, moderator: User, **flag: bool) -> Topic:
    with transaction.atomic():
        _refuse_if(permissions.moderation_refusal(moderator))
        return _topic_changed(_lock_topic(topic.pk), **flag)


def topic_set_locked(*, topic: Topic, moderator: User, locked: bool) -> Topic:
    """Lock a topic (no more replies, except from moderators) or unlock it."""
    return _set_topic_flag(topic, moderator, is_locked=locked)


def topic_set_pinned(*, topic: Topic, moderator: User, pinned: bool) -> Topic:
    """Pin a topic to the top of the topic list, or unpin it."""
    return _set_topic_flag(topic, moderator, is_pinned=pinned)


def topic_delete(*, topic: Topic, moderator: User) -> None:
    """Delete a topic and every post in it, for good."""
    with transaction.atomic():
        _refuse_if(permissions.moderation_refusal(moderator))
        topic = _lock_topic(topic.pk)
        Post.objects.filter(topic=topic).delete()
        topic.delete()


# --- Accounts --------------------------------------------------------------------------


def user_create(
    *,
    username: str,
    email: str,
    password: str,
    is_moderator: bool = False,
    address: str | None = None,
) -> User:
    """Sign a new member up; a moderator also gets the admin and the Moderators group.

    `address` is where the sign-up came from: sign-ups per network are limited
    (see `address_key`). A username taken meanwhile (ignoring case) is a
    ValidationError, as the sign-up form would have said.
    """
    handle_validator(username)
    with transaction.atomic():
        if address is not None:
            _count_event(
                "signup",
                address_key(address),
                limit=settings.FORUM_LIMITS["signups_per_address"],
                window=settings.FORUM_LIMITS["signup_window"],
                what="Too many accounts were created from your network.",
            )
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, email=email, password=password, is_staff=is_moderator
                )
        except IntegrityError:
            raise ValidationError({"username": "That username is taken."}) from None
        if is_moderator:
            user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


def address_key(address: str) -> str:
    """The network that limits per address count a client's address as.

    An IPv4 address stands for itself. An IPv6 address stands for its /64,
    written as the /64's first address: a subscriber is usually given a whole
    /64 and can take any address in it at will. An IPv4 address written as
    IPv6 (::ffff:203.0.113.7) is that IPv4 address. Anything else is kept.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.version == 6:
            ip = ipaddress.IPv6Network((int(ip), 64), strict=False).network_address
    except ValueError:
        return address[:100]
    return str(ip)


def _email_key(email: str) -> str:
    """An e-mail address as the reset limit counts it: as Django compares them, hashed."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


def password_reset_send(*, email: str, address: str | None, send: Callable[[], object]) -> None:
    """Send the password-reset mail for `email`, by calling `send`, within the limits.

    Counted per e-mail address (nobody can fill someone's inbox with links)
    and per network asking (one client cannot mail many addresses), whether
    or not an account uses the address: a refusal says nothing about which
    addresses have accounts. When a limit is reached, raises RateLimited and
    sends nothing. The mail goes out after the count, outside its transaction.
    """
    limits = settings.FORUM_LIMITS
    with transaction.atomic():
        _count_event(
            "reset_email",
            _email_key(email),
            limit=limits["reset_mails_per_email"],
            window=limits["reset_window"],
            what="Too many password-reset links were asked for that e-mail address.",
        )
        if address is not None:
            _count_event(
                "reset_address",
                address_key(address),
                limit=limits["reset_mails_per_address"],
                window=limits["reset_window"],
                what="Too many password-reset links were asked for from your network.",
            )
    send()


def user_set_active(*, user: User, moderator: User, active: bool) -> User:
    """Ban a member from posting (deactivate) or let them back in."""
    _refuse_if(permissions.moderation_refusal(moderator))
    if user.pk == moderator.pk and not active:
        raise Refused("You cannot ban yourself.")
    if (user.is_staff or user.is_superuser) and not moderator.is_superuser:
        raise Refused("Only an administrator can ban or reinstate a staff account.")
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    return user


# --- Import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    topics: int
    posts: int
    new_accounts: list[str]


Progress = Callable[[str, int, int], None]


def _checked(document: conversation.Document, line: int | None, clean, value: str) -> str:
    try:
        return clean(value)
    except ValidationError as error:
        raise conversation.ConversationError(document.filename, error.messages[0], line) from None


def conversation_import(
    *,
    documents: Sequence[conversation.Document],
    moderator: User,
    allow_staff_handles: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every topic of the documents, all in one transaction, or nothing.

    Only a moderator imports. Titles and messages follow the same rules as
    the forms; a problem raises ConversationError with its file and line.
    Handles that match a username (ignoring case) are that member; others
    become accounts that cannot log in until a moderator activates them. A
    handle of a staff account is refused unless `allow_staff_handles`, so
    that a file cannot put words in a moderator's mouth by accident.
    Markdown is rendered before any lock is taken; new trees are built with
    django-mptt's bulk tools.
    """
    _refuse_if(permissions.moderation_refusal(moderator))
    report = progress or (lambda stage, done, total: None)
    topics = []  # (title, [(message, body)])
    filenames = []  # each topic's file
    handles: dict[str, str] = {}  # lower-cased handle: first spelling seen
    first_lines: dict[str, tuple[conversation.Document, int]] = {}  # handle: where it is first
    for document in documents:
        for conv in document.conversations:
            title = _checked(document, conv.line, _clean_title, conv.title)
            messages = []
            for message in conv.messages:
                if len(message.handle) > User._meta.get_field("username").max_length:
                    raise conversation.ConversationError(
                        document.filename, "the handle is longer than 150 characters", message.line
                    )
                handles.setdefault(message.handle.lower(), message.handle)
                first_lines.setdefault(message.handle.lower(), (document, message.line))
                messages.append(
                    (message, _checked(document, message.line, _clean_body, message.text))
                )
            topics.append((title, messages))
            filenames.append(document.filename)
    total = sum(len(messages) for _, messages in topics)
    members = {
        user.username.lower(): user
        for user in User.objects.annotate(key=Lower("username")).filter(key__in=list(handles))
    }
    if not allow_staff_handles:
        for key, user in members.items():
            if user.is_staff or user.is_superuser:
                document, line = first_lines[key]
                raise conversation.ConversationError(
                    document.filename,
                    f"@{handles[key]} is a staff account; import with the option that allows "
                    "staff handles if this file really is theirs",
                    line,
                )
    new_handles = [handle for key, handle in handles.items() if key not in members]
    if dry_run:
        return ImportSummary(topics=len(topics), posts=total, new_accounts=new_handles)

    rendered, done = [], 0
    for filename, (_, messages) in zip(filenames, topics, strict=True):
        rendered.append(_render_messages(filename, messages))
        done += len(messages)
        report("render", done, total)

    with transaction.atomic():
        new_members = [User(username=handle, is_active=False) for handle in new_handles]
        for user in new_members:
            user.set_unusable_password()
        for user in User.objects.bulk_create(new_members):
            members[user.username.lower()] = user
        _lock_tree_ids()
        next_tree_id = Post.objects._get_next_tree_id()
        topic_rows = Topic.objects.bulk_create(
            Topic(
                title=title,
                slug=_slug(title),
                author=members[messages[0][0].handle.lower()],
                created=messages[0][0].created,
                last_activity=max(message.created for message, _ in messages),
                reply_count=len(messages) - 1,
            )
            for title, messages in topics
        )
        by_level: dict[int, list[Post]] = defaultdict(list)
        for topic, (_, messages), htmls in zip(topic_rows, topics, rendered, strict=True):
            for tree in _subtrees(topic, messages, htmls, members):
                nodes = Post.objects.build_tree_nodes(tree)
                for node, parent_index in zip(nodes, _parent_indexes(nodes), strict=True):
                    node.tree_id = next_tree_id
                    node.parent = nodes[parent_index] if parent_index is not None else None
                    by_level[node.level].append(node)
                next_tree_id += 1
        # Parents before children, so every child knows its parent's id.
        posts: list[Post] = []
        for level in sorted(by_level):
            posts += Post.objects.bulk_create(by_level[level])
            report("write", len(posts), total)
        for post in posts:
            post.fragment = rendering.post_fragment(post)
        Post.objects.bulk_update(posts, ["fragment"], batch_size=1000)
        for topic in topic_rows:
            topic.row_html = rendering.topic_row(topic)
        Topic.objects.bulk_update(topic_rows, ["row_html"], batch_size=1000)
    return ImportSummary(topics=len(topic_rows), posts=len(posts), new_accounts=new_handles)


def _render_messages(filename: str, messages: list[tuple[conversation.Message, str]]) -> list[str]:
    """The HTML of a topic's messages; one too complex to format is refused at its line."""
    htmls = rendering.markdown_to_html_each([body for _, body in messages])
    for (message, _), html in zip(messages, htmls, strict=True):
        if isinstance(html, rendering.TooComplex):
            raise conversation.ConversationError(filename, html.message, message.line)
    return htmls


def _subtrees(topic: Topic, messages, htmls, members) -> list[dict]:
    """Nested dicts, one per top-level message, as build_tree_nodes takes them."""
    roots: list[dict] = []
    path: list[dict] = []  # the latest node at each depth
    for (message, body), html in zip(messages, htmls, strict=True):
        node = {
            "topic": topic,
            "author": members[message.handle.lower()],
            "body": body,
            "body_html": html,
            "render_version": rendering.RENDER_VERSION,
            "created": message.created,
            "children": [],
        }
        del path[message.depth :]
        (path[-1]["children"] if path else roots).append(node)
        path.append(node)
    return roots


def _parent_indexes(nodes: list[Post]) -> list[int | None]:
    """For nodes of one tree in depth-first order, the index of each one's parent."""
    indexes: list[int | None] = []
    path: list[int] = []
    for index, node in enumerate(nodes):
        del path[node.level :]
        indexes.append(path[-1] if path else None)
        path.append(index)
    return indexes


# --- Repair ---------------------------------------------------------------------------------


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
                    _lock_topics(*topics)
                    _lock_tree_ids()
                    if not _repair_scope(tree_id) <= topics:
                        raise _ScopeChanged
                    recount |= topics | _regroup_tree(tree_id)
                break
            except (_ScopeChanged, NotFound):
                continue
        else:
            raise Refused(f"Tree {tree_id} kept changing during its repair; try again.")
    for topic_id in sorted(recount):
        with transaction.atomic():
            topic = _lock_topic(topic_id)
            real = Post.objects.filter(topic=topic).count()
            _topic_changed(topic, reply_count=max(real - 1, 0))


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


# --- Re-rendering --------------------------------------------------------------------------


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
        htmls = rendering.markdown_to_html_each(list(batch.values()))
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
            topics = _lock_topics(*topic_ids)
            posts = [
                post
                for post in Post.objects.select_related("author").filter(pk__in=batch)
                if post.body == rendered[post.pk][0]
            ]
            for post in posts:
                post.topic = topics[post.topic_id]
                post.body_html = rendered[post.pk][1]
                post.render_version = rendering.RENDER_VERSION
                post.fragment = rendering.post_fragment(post)
            Post.objects.bulk_update(posts, ["body_html", "fragment", "render_version"])
            for topic in topics.values():
                _topic_changed(topic)
        done += len(posts)
        last_pk = max(batch)
