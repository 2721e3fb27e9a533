"""What anyone may read without logging in: the feeds.

Every read goes through the access filter as an anonymous visitor sees the
forum, so a topic or post of a category only members (or some groups) see is
in no feed whoever asks. Removed posts are in no feed.

A feed is read in two steps: its stamp, the (id, revision) of each entry's
topic (every write that changes what a topic shows renews its revision:
an edit, a removal, a retitle, a byline), from which the view answers a
conditional GET without reading a post; then its entries, by the ids of the
stamp. Each is one query whatever the size of the forum, walking an index
(topics by id, a topic's posts by id, a member's posts by date).
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from ..models import Category, Post, Topic, User
from . import access, members

# Entries of a feed: the newest.
FEED_ENTRIES = 30

_VISITOR = AnonymousUser()
# What an entry shows of its post, its topic and its author.
_ENTRY_FIELDS = (
    "id",
    "level",
    "tree_id",
    "topic_id",
    "body_html",
    "created",
    "edited",
    "topic__id",
    "topic__title",
    "topic__slug",
    "author__id",
    "author__username",
    "author__display_name",
)

Stamp = tuple[tuple[int, int], ...]  # (id, topic revision) of each entry, newest first


def _first_post(topic: str = "pk") -> Subquery:
    """The id of a topic's opening post (its first post in tree order), for a topic query."""
    posts = Post.objects.filter(topic=OuterRef(topic)).order_by("tree_id", "lft")
    return Subquery(posts.values("pk")[:1])


def _posts() -> QuerySet[Post]:
    """The posts a visitor sees, not removed, with what an entry shows of them."""
    return (
        access.visible_posts(_VISITOR)
        .filter(removal=Post.Removal.VISIBLE)
        .select_related("topic", "author")
        .only(*_ENTRY_FIELDS)
    )


# --- The latest topics: of the forum, of a category -----------------------------------------


def feed_category(*, slug: str) -> Category:
    """A category a visitor sees, for its feed (DoesNotExist if none)."""
    return access.seen_categories(_VISITOR).only("id", "name", "slug", "description").get(slug=slug)


def latest_topics_stamp(*, category: Category | None = None) -> Stamp:
    """The newest topics a visitor sees (of the forum, or of one category), with revisions."""
    topics = access.visible_topics(_VISITOR)
    if category is not None:
        topics = topics.filter(category=category)
    return tuple(topics.order_by("-pk").values_list("pk", "revision")[:FEED_ENTRIES])


def latest_topics(*, stamp: Stamp) -> list[Post]:
    """The opening posts of the stamp's topics, newest topic first.

    A topic whose opening post is removed is left out: the post is its entry.
    """
    openers = Topic.objects.filter(pk__in=[pk for pk, _ in stamp]).values(first=_first_post())
    posts = _posts().filter(pk__in=openers).order_by("-topic_id")
    return [_opening(post, True) for post in posts]


def _opening(post: Post, is_opening: bool) -> Post:
    """The post, marked with whether it opens its topic (`is_opening`: an entry's title)."""
    post.is_opening = is_opening
    return post


# --- A topic's posts ---------------------------------------------------------------------------


def feed_topic(*, topic_id: int) -> Topic:
    """A topic a visitor sees, with its revision and `first_post` (DoesNotExist if none)."""
    topics = access.visible_topics(_VISITOR).only("id", "title", "slug", "revision")
    return topics.annotate(first_post=_first_post()).get(pk=topic_id)


def topic_posts(*, topic: Topic) -> list[Post]:
    """The topic's newest posts a visitor sees, newest first."""
    posts = _posts().filter(topic=topic).order_by("-pk")[:FEED_ENTRIES]
    return [_opening(post, post.pk == topic.first_post) for post in posts]


# --- A member's posts --------------------------------------------------------------------------


def feed_member(*, username: str) -> User:
    """A member, for the feed of their posts (DoesNotExist if none)."""
    return members.member(username=username)


def _member_posts(member: User) -> QuerySet[Post]:
    return _posts().filter(author=member).order_by("-created", "-pk")


def member_posts_stamp(*, member: User) -> Stamp:
    """The member's newest posts a visitor sees, with their topics' revisions."""
    rows = _member_posts(member).values_list("pk", "topic__revision")
    return tuple(rows[:FEED_ENTRIES])


def member_posts(*, stamp: Stamp) -> list[Post]:
    """The stamp's posts, newest first, each knowing whether it opens its topic."""
    earlier_root = Post.objects.filter(
        topic_id=OuterRef("topic_id"), level=0, tree_id__lt=OuterRef("tree_id")
    )
    posts = (
        _posts()
        .filter(pk__in=[pk for pk, _ in stamp])
        .annotate(after_first=Exists(earlier_root))
        .order_by("-created", "-pk")
    )
    return [_opening(post, post.level == 0 and not post.after_first) for post in posts]
