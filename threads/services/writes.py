"""What every write shares: cleaning titles and bodies, rendering, inserting and
rewriting posts, and renewing a topic after any change to what its pages show.

Topic and post services both use these, so neither imports the other.
"""

import dataclasses
import unicodedata
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Count,
    Max,
    OuterRef,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils.text import slugify

from .. import conversation, fragments, permissions, plaintext, rendering, selectors
from ..models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Category,
    Post,
    Topic,
    User,
    new_revision,
)
from . import limits, locks, search
from .errors import Busy, Refused


def normalize_body(text: str) -> str:
    """Unix line ends and no blank lines at the start or the end, as an import reads them."""
    return conversation.without_blank_edges(conversation.LINE_BREAK.split(text))


def clean_text(text: str, *, what: str, max_length: int, empty: str | None) -> str:
    """Markdown text (a post, a bio), normalized; empty is the message `empty`, or allowed."""
    body = normalize_body(text)
    if not body and empty is not None:
        raise ValidationError(empty, code="empty")
    if len(body) > max_length:
        raise ValidationError(
            f"{what} can be at most {max_length:,} characters long; this one has {len(body):,}.",
            code="too_long",
        )
    if "\x00" in body:
        raise ValidationError("The text contains a NUL character.", code="null_characters")
    return body


def clean_body(text: str) -> str:
    return clean_text(
        text,
        what="A post",
        max_length=BODY_MAX_LENGTH,
        empty="The post is empty: write something first.",
    )


# Characters that show nothing or reorder the text around them (Unicode format
# characters: bidirectional overrides, zero-width spaces), except the joiners
# that emoji sequences and some scripts need between visible characters.
_JOINERS = {"\u200c", "\u200d"}
# Letters that show as blank space.
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def visible(text: str) -> str:
    """The text without format characters that hide or reorder it."""
    return "".join(c for c in text if c in _JOINERS or unicodedata.category(c) != "Cf")


def clean_line(text: str, *, what: str, max_length: int, empty: str | None) -> str:
    """One line of text shown as it is (a title, a display name), without hidden characters.

    Format characters that hide or reorder text are dropped; text that shows
    nothing but blank space is `empty` (an error message), or "" when `empty` is None.
    """
    line = visible(text).strip()
    if not any(c not in _JOINERS and c not in _BLANK_LETTERS and not c.isspace() for c in line):
        if empty is None and not text.strip():
            return ""
        raise ValidationError(empty or f"{what} needs a visible letter.", code="empty")
    if len(line) > max_length:
        raise ValidationError(
            f"{what} can be at most {max_length} characters long; this one has {len(line)}.",
            code="too_long",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise ValidationError(
            f"{what} is one line of text, without control characters.",
            code="control_characters",
        )
    return line


def clean_title(text: str) -> str:
    return clean_line(
        text, what="A title", max_length=TITLE_MAX_LENGTH, empty="The topic needs a title."
    )


# Members notified of a mention at most, per post (the first mentioned).
MENTIONS_NOTIFIED = 10


@dataclasses.dataclass(frozen=True)
class Mentions:
    """The members a text may mention: what its render links, and who they are."""

    # Handle (lower case) to the address of the member's profile, for the renderer.
    links: dict[str, str] = dataclasses.field(default_factory=dict)
    # That address to the member's id.
    members: dict[str, int] = dataclasses.field(default_factory=dict)

    def notified(self, html: str, *, besides: str = "") -> list[int]:
        """The members a rendered text mentions (links, not code), the first MENTIONS_NOTIFIED.

        Not those the HTML `besides` mentions too (an edit's text before it).
        """
        before = set(rendering.mention_links(besides))
        hrefs = [href for href in rendering.mention_links(html) if href not in before]
        return [self.members[href] for href in hrefs if href in self.members][:MENTIONS_NOTIFIED]


# Handles looked up per query (a batch of texts may name many).
_LOOKUP_BATCH = 500


def mentions_in(*bodies: str) -> Mentions:
    """Who the texts may mention: one query when they have an @handle, none otherwise.

    A post names at most `rendering.MAX_MENTION_LOOKUPS` handles; a batch of
    texts (an import, a re-render) one query per `_LOOKUP_BATCH` handles.
    """
    candidates = sorted(set().union(*(rendering.mention_candidates(body) for body in bodies)))
    links, members = {}, {}
    for start in range(0, len(candidates), _LOOKUP_BATCH):
        batch = candidates[start : start + _LOOKUP_BATCH]
        found = (
            User.objects.annotate(handle=Lower("username"))
            .filter(handle__in=batch)
            .values_list("pk", "username")
        )
        for pk, username in found:
            href = reverse("threads:profile", args=[username])
            links[username.lower()], members[href] = href, pk
    return Mentions(links, members)


def render(body: str, *, author: User, mentions: Mentions | None = None) -> str:
    """The body's HTML, or a form error when it costs too much to format.

    Every render a member asks for is counted first, refused or not
    (`limits.count_render`): rendering is the costly part of a write.
    Mentions of members become links (`mentions`, else looked up here).
    """
    limits.count_render(author)
    if mentions is None:
        mentions = mentions_in(body)
    try:
        return rendering.markdown_to_html(body, mentions=mentions.links)
    except rendering.TooComplex as error:
        raise ValidationError(error.message, code="too_complex") from None
    except rendering.Busy:
        raise Busy() from None


def slug(title: str) -> str:
    return slugify(title)[:80].strip("-") or "topic"


def refuse_if(reason: str | None) -> None:
    if reason:
        raise Refused(reason)


def moderated_post(post_id: int, moderator: User) -> Post:
    """Lock the post's topic and read the post, refusing a member who does not moderate it."""
    post = locks.locked_post(post_id, viewer=moderator)
    refuse_if(permissions.moderation_refusal(moderator, post.topic))
    return post


def topic_changed(topic: Topic, **changes) -> Topic:
    """Save changes to a locked topic, renewing its revision and its topic-list row.

    Every write that changes what a topic's pages or its row show ends here.
    """
    for field, value in changes.items():
        setattr(topic, field, value)
    topic.revision = new_revision()
    topic.row_html = fragments.topic_row(topic)
    Topic.objects.filter(pk=topic.pk).update(
        **changes, revision=topic.revision, row_html=topic.row_html
    )
    return topic


def insert_post(
    *, topic: Topic, parent: Post | None, author: User, body: str, body_html: str, created: datetime
) -> Post:
    """Insert a post as the last child of `parent`, or as a new tree (a top-level post).

    `parent` must have been read under its topic's lock (`locks`): its tree
    fields are current, and the space for its new child is made from them
    without reading them once more.
    """
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
        locks.lock_tree_ids()
    else:
        Post.objects.insert_node(post, parent, "last-child", refresh_target=False)
    post.save()
    post.fragment = fragments.post_fragment(post)
    Post.objects.filter(pk=post.pk).update(fragment=post.fragment)
    search.posts_indexed([post])
    return post


def rewrite(post: Post, **changes) -> Post:
    """Change a post's own fields (never its place in the tree) and rebuild its fragment.

    A new text, a removal or a restoration of the opening post gives its topic
    a new description (a query more, for a top-level post only).
    """
    for field, value in changes.items():
        setattr(post, field, value)
    post.render_version = rendering.RENDER_VERSION
    post.fragment = fragments.post_fragment(post)
    Post.objects.filter(pk=post.pk).update(
        **changes, fragment=post.fragment, render_version=post.render_version
    )
    opening = {}
    if {"body_html", "removal"} & changes.keys():  # what readers find and see of it changed
        search.posts_indexed([post])
        if selectors.is_opening_post(post):
            opening["description"] = description(post.body_html, removed=post.is_removed)
    topic_changed(post.topic, **opening)
    return post


# How much of its opening post's text a topic keeps, for its page's description and
# link previews (the whole field).
DESCRIPTION_LENGTH = Topic._meta.get_field("description").max_length


def description(body_html: str, *, removed: bool = False) -> str:
    """A topic's description: the start of its opening post's text, as readers see it.

    Empty for a removed (or deleted) opening post, whose text is no longer shown.
    """
    if removed:
        return ""
    return plaintext.excerpt(plaintext.html_text(body_html), DESCRIPTION_LENGTH)


def retitle(topic: Topic, title: str) -> None:
    topic_changed(topic, title=title, slug=slug(title))
    search.title_indexed(topic.pk)


DEFAULT_CATEGORY = ("General", "general")


def default_category() -> Category:
    """The category where topics go when none is chosen: "General", made when missing."""
    category = Category.objects.filter(is_default=True).first()
    if category is not None:
        return category
    try:
        with transaction.atomic():
            return Category.objects.create(
                name=DEFAULT_CATEGORY[0], slug=_free_slug(DEFAULT_CATEGORY[1]), is_default=True
            )
    except IntegrityError:  # made meanwhile by another request
        return Category.objects.get(is_default=True)


def _free_slug(wanted: str) -> str:
    slug, n = wanted, 1
    while Category.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{wanted}-{n}"
    return slug


# Written in SQL once: the ORM takes about a millisecond to build this UPDATE's
# conditional expressions, a hundred times what SQLite takes to run it.
_CATEGORY_COUNTED = (
    'UPDATE "{table}" SET topic_count = topic_count + %s, post_count = post_count + %s, '
    '"{last_topic}" = CASE WHEN {newer} THEN %s ELSE "{last_topic}" END, '
    "last_activity = CASE WHEN {newer} THEN %s ELSE last_activity END "
    "WHERE id = %s"
).format(
    table=Category._meta.db_table,
    last_topic=Category._meta.get_field("last_topic").column,
    newer="(last_activity IS NULL OR last_activity <= %s)",
)


def category_counted(topic: Topic, *, topics: int = 0, posts: int = 0) -> None:
    """Add a topic's new posts (and the topic itself, when new) to its category's counts.

    The topic's last activity becomes the category's when it is newer.
    Category rows are locked last: after the author, the topics and the tree ids.
    """
    when = connection.ops.adapt_datetimefield_value(topic.last_activity)
    with connection.cursor() as cursor:
        cursor.execute(
            _CATEGORY_COUNTED, [topics, posts, when, topic.pk, when, when, topic.category_id]
        )


def categories_recounted(*category_ids: int) -> None:
    """Count these categories' topics and posts again, and find their latest topic.

    For the rare writes that take topics or posts out of a category (moves,
    deletions, repairs); everyday writes add to the counts (`category_counted`).
    """
    topics = Topic.objects.filter(category=OuterRef("pk"))
    totals = topics.order_by().values("category")
    latest = topics.order_by("-last_activity", "-id")
    for category_id in sorted(set(category_ids)):
        Category.objects.filter(pk=category_id).update(
            topic_count=Coalesce(Subquery(totals.annotate(n=Count("pk")).values("n")), 0),
            post_count=Coalesce(
                Subquery(totals.annotate(n=Count("pk") + Sum("reply_count")).values("n")), 0
            ),
            last_activity=Subquery(totals.annotate(latest=Max("last_activity")).values("latest")),
            last_topic=Subquery(latest.values("pk")[:1]),
        )
