"""What a reader may see and do: the one access filter every read goes through.

A topic or post a reader may not see does not exist for them. Every selector
starts from `visible_topics`, `visible_posts` or `visible_categories` (or
`seen_categories` and the `topics_in` them), so a
page, a list, a count, a permalink or a download can only show what these
let through. They are SQL subqueries, not extra queries: a page filtered by
them costs the same number of queries as one that is not.

A reader sees a category when every rule on its path to the top lets them
(a subcategory can narrow who sees it, never widen it), and always sees what
they moderate. Global moderators see and moderate everything; staff members
of a category's moderator groups moderate it and its subcategories.
"""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .. import permissions
from ..models import Category, Post, Topic

Seers, Posters = Category.Seers, Category.Posters


def _lineage(prefix: str = "") -> QuerySet[Category]:
    """The outer query's category and its ancestors (`prefix` leads to the category's fields)."""
    return Category.objects.filter(
        tree_id=OuterRef(f"{prefix}tree_id"),
        lft__lte=OuterRef(f"{prefix}lft"),
        rght__gte=OuterRef(f"{prefix}rght"),
    )


def _groups_of(viewer) -> QuerySet:
    return viewer.groups.values("pk")


def _moderated(viewer, prefix: str = ""):
    """Whether the viewer moderates the outer query's category (an SQL expression)."""
    if permissions.is_moderator(viewer):
        return Value(True)
    if not (viewer.is_authenticated and viewer.is_active and viewer.is_staff):
        return Value(False)  # moderators are staff accounts, as the admin wants
    return Exists(_lineage(prefix).filter(moderator_groups__in=_groups_of(viewer)))


def _sees(viewer, prefix: str = ""):
    """Whether the viewer may see the outer query's category (an SQL expression)."""
    if permissions.is_moderator(viewer):
        return Value(True)
    if not viewer.is_authenticated:
        return ~Exists(_lineage(prefix).filter(who_sees__in=[Seers.MEMBERS, Seers.GROUPS]))
    in_groups = Category.seer_groups.through.objects.filter(
        category_id=OuterRef("pk"), group__in=_groups_of(viewer)
    )
    refused = _lineage(prefix).filter(who_sees=Seers.GROUPS).exclude(Exists(in_groups))
    return Q(~Exists(refused)) | Q(_moderated(viewer, prefix))


def _rule(field: str, prefix: str = ""):
    """The nearest rule set on the category's path for `field`; members when none is."""
    nearest = _lineage(prefix).exclude(**{field: ""}).order_by("-level").values(field)[:1]
    return Coalesce(Subquery(nearest), Value(Posters.MEMBERS))


def visible_categories(viewer) -> QuerySet[Category]:
    """The categories this reader may see, each with their rights in it.

    Annotated: `moderated` (may they moderate it), `start_rule` and
    `reply_rule` (members or moderators), for threads.permissions.
    """
    return (
        Category.objects.alias(sees=_sees(viewer))
        .filter(sees=True)
        .annotate(
            moderated=_moderated(viewer),
            start_rule=_rule("who_starts"),
            reply_rule=_rule("who_replies"),
        )
    )


def seen_categories(viewer) -> QuerySet[Category]:
    """The categories this reader may see, without their rights: for lists of categories."""
    return Category.objects.alias(sees=_sees(viewer)).filter(sees=True)


def _visible_ids(viewer) -> QuerySet:
    return seen_categories(viewer).values("pk")


def _hidden_ids(viewer) -> QuerySet:
    """The categories this reader may not see: NOT of the rule (a condition never NULL)."""
    return Category.objects.alias(sees=_sees(viewer)).filter(sees=False).values("pk")


def visible_topics(viewer) -> QuerySet[Topic]:
    """The topics this reader may see.

    Said as "not in a category they may not see" (every topic has one): then
    a list read in the order of one of its indexes walks that index and stops
    at the end of its page. "In a category they may see" has SQLite gather
    every visible topic through the category index and sort them all (12 ms
    of SQL for the front page of 20,000 topics, against 0.05 ms).
    """
    if permissions.is_moderator(viewer):
        return Topic.objects.all()
    return Topic.objects.exclude(category__in=_hidden_ids(viewer))


def topics_in(categories: Iterable[Category]) -> QuerySet[Topic]:
    """The topics of these categories, just read for this reader through `seen_categories`.

    A page that has read the categories a reader sees takes their topics from
    the ids at hand rather than building the filter again: for a member, building
    and compiling it costs more than the queries (several milliseconds). Said as
    "in none of the other categories", as `visible_topics` says it; a category
    made since they were read is one of the others.
    """
    shown = [category.pk for category in categories]
    return Topic.objects.exclude(category__in=Category.objects.exclude(pk__in=shown))


def visible_posts(viewer) -> QuerySet[Post]:
    """The posts this reader may see (removed ones included: they show as placeholders)."""
    if permissions.is_moderator(viewer):
        return Post.objects.all()
    return Post.objects.filter(topic__category__in=_visible_ids(viewer))


def with_rights(topics: QuerySet[Topic], viewer) -> QuerySet[Topic]:
    """Topics annotated with what this reader may do in them.

    `visible`, `moderated`, and the `reply_rule` of their category, for
    threads.permissions; services lock topics through this to check a writer.
    """
    return topics.annotate(
        visible=_sees(viewer, "category__"),
        moderated=_moderated(viewer, "category__"),
        reply_rule=_rule("who_replies", "category__"),
    )


def moderated_categories(viewer) -> QuerySet[Category]:
    """The categories this member moderates (every one, for a global moderator)."""
    return Category.objects.alias(mine=_moderated(viewer)).filter(mine=True)


def moderated_topics(viewer) -> QuerySet[Topic]:
    """The topics this member moderates, for the admin's lists."""
    if permissions.is_moderator(viewer):
        return Topic.objects.all()
    return Topic.objects.filter(category__in=moderated_categories(viewer).values("pk"))


def topics_with_rights(viewer) -> QuerySet[Topic]:
    """The topics this reader may see, each with their rights in it (`with_rights`)."""
    return with_rights(Topic.objects.all(), viewer).filter(visible=True)


def posts_with_rights(viewer) -> QuerySet[Post]:
    """The posts this reader may see, with their topic and its rights; read one with `one_post`."""
    return (
        visible_posts(viewer)
        .select_related("topic", "topic__category")
        .annotate(
            topic_moderated=_moderated(viewer, "topic__category__"),
            topic_reply_rule=_rule("who_replies", "topic__category__"),
        )
    )


def one_post(posts: QuerySet[Post], post_id: int) -> Post:
    """A post of `posts_with_rights`, its topic carrying the rights as `with_rights` puts them."""
    post = posts.get(pk=post_id)
    post.topic.visible = True
    post.topic.moderated, post.topic.reply_rule = post.topic_moderated, post.topic_reply_rule
    return post
