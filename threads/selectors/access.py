"""What a reader may see and do: the one access filter every read goes through.

A topic or post a reader may not see does not exist for them. Every selector
starts from `visible_topics`, `visible_posts` or `visible_categories` (or
`seen_categories`, without the reader's rights), so a page, a list, a count,
a permalink or a download can only show what these let through. They are
SQL subqueries, not extra queries: a page filtered by them costs the same
number of queries as one that is not.

A reader sees a category when every rule on its path to the top lets them
(a subcategory can narrow who sees it, never widen it), and always sees what
they moderate. Global moderators see and moderate everything; staff members
of a category's moderator groups moderate it and its subcategories.
"""

from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import BooleanField, CharField, QuerySet, Value
from django.db.models.expressions import RawSQL

from .. import permissions
from ..models import Category, Post, Topic, User

Seers, Posters = Category.Seers, Category.Posters

# The rules are written in SQL once, here, rather than built with the ORM per
# request: Django takes milliseconds to build and compile the nested
# subqueries of the ORM's version of them, against a tenth of a millisecond
# for the database to run them. Every table name below is the models' own.
_CATEGORY = Category._meta.db_table
_SEERS = Category.seer_groups.through._meta.db_table
_MODERATORS = Category.moderator_groups.through._meta.db_table
_MEMBERSHIP = User.groups.through._meta.db_table
_TOPIC, _POST = Topic._meta.db_table, Post._meta.db_table
_ID_RANGE = (-(2**63), 2**63 - 1)  # of a BigAutoField, the ids of topics and posts
# SQL: `a` is the category `c` or one of its ancestors (the other modules that write
# SQL over categories use it too).
LINEAGE = "a.tree_id = c.tree_id AND a.lft <= c.lft AND a.rght >= c.rght"


def _in_groups(through: str, member: str = "%s") -> str:
    """SQL: the member (the parameter, or a column) is in a group of category a's `through`."""
    return (
        f'EXISTS (SELECT 1 FROM "{through}" g JOIN "{_MEMBERSHIP}" m ON m.group_id = g.group_id'
        f" WHERE g.category_id = a.id AND m.user_id = {member})"
    )


def _is_staff(viewer) -> bool:
    """A staff member may moderate through a category's moderator groups (the admin wants staff)."""
    return bool(viewer.is_authenticated and viewer.is_active and viewer.is_staff)


def _moderates(viewer) -> tuple[str, list]:
    """SQL over category c: the viewer moderates it, through it or an ancestor."""
    if permissions.is_moderator(viewer):
        return "1 = 1", []
    if not _is_staff(viewer):
        return "1 = 0", []
    return (
        f'EXISTS (SELECT 1 FROM "{_CATEGORY}" a WHERE {LINEAGE} AND {_in_groups(_MODERATORS)})',
        [viewer.pk],
    )


def _sees(viewer) -> tuple[str, list]:
    """SQL over category c: every rule on its path lets the viewer see it, or they moderate it."""
    if permissions.is_moderator(viewer):
        return "1 = 1", []
    if not viewer.is_authenticated:
        rule = (
            f'NOT EXISTS (SELECT 1 FROM "{_CATEGORY}" a WHERE {LINEAGE} AND a.who_sees IN (%s, %s))'
        )
        return rule, [Seers.MEMBERS, Seers.GROUPS]
    refused = (
        f'NOT EXISTS (SELECT 1 FROM "{_CATEGORY}" a WHERE {LINEAGE}'
        f" AND a.who_sees = %s AND NOT {_in_groups(_SEERS)})"
    )
    moderates, params = _moderates(viewer)
    return f"({refused} OR {moderates})", [Seers.GROUPS, viewer.pk, *params]


def _categories_where(condition: tuple[str, list]) -> RawSQL:
    """The ids of the categories c where the condition holds (a subquery)."""
    sql, params = condition
    return RawSQL(f'SELECT c.id FROM "{_CATEGORY}" c WHERE {sql}', params)


def _not(condition: tuple[str, list]) -> tuple[str, list]:
    return f"NOT ({condition[0]})", condition[1]


def _category_of(column: str, condition: tuple[str, list]) -> RawSQL:
    """Whether the condition holds for the category whose id is in `column` of the outer query."""
    sql, params = condition
    query = f'EXISTS (SELECT 1 FROM "{_CATEGORY}" c WHERE c.id = {column} AND {sql})'
    return RawSQL(query, params, output_field=BooleanField())


def _rule(field: str, column: str) -> RawSQL:
    """The nearest rule set for `field` on the path of the category in `column`; else members."""
    nearest = (
        f'SELECT a.{field} FROM "{_CATEGORY}" c JOIN "{_CATEGORY}" a ON {LINEAGE}'
        f" WHERE c.id = {column} AND a.{field} <> '' ORDER BY a.level DESC LIMIT 1"
    )
    return RawSQL(f"COALESCE(({nearest}), %s)", [Posters.MEMBERS], output_field=CharField())


# The outer queries' columns that hold a category id, by the table Django names them after.
_CATEGORY_ID = f'"{_CATEGORY}"."id"'
_TOPIC_CATEGORY = f'"{_TOPIC}"."category_id"'


def visible_categories(viewer) -> QuerySet[Category]:
    """The categories this reader may see, each with their rights in it.

    Annotated: `moderated` (may they moderate it), `start_rule` and
    `reply_rule` (members or moderators), for threads.permissions.
    """
    return seen_categories(viewer).annotate(
        moderated=_flag(viewer, _CATEGORY_ID),
        start_rule=_rule("who_starts", _CATEGORY_ID),
        reply_rule=_rule("who_replies", _CATEGORY_ID),
    )


def _flag(viewer, column: str):
    """Whether the viewer moderates the category in `column` of the outer query."""
    if permissions.is_moderator(viewer):
        return Value(True)
    if not _is_staff(viewer):
        return Value(False)
    return _category_of(column, _moderates(viewer))


def visitor_categories() -> tuple[str, list]:
    """SQL: the ids of the categories anonymous visitors see (a subquery), and its parameters.

    For the queries written in SQL of what anyone may read (threads.selectors.public).
    """
    sql, params = _sees(AnonymousUser())
    return f'SELECT c.id FROM "{_CATEGORY}" c WHERE {sql}', params


def public_category() -> RawSQL:
    """Whether anonymous visitors see the category of the outer query (a subquery).

    For what only public places have: a member's page links a feed only for a
    category or topic anyone may read.
    """
    return _category_of(_CATEGORY_ID, _sees(AnonymousUser()))


def public_topic() -> RawSQL:
    """Whether anonymous visitors see the topic of the outer query (`public_category`)."""
    return _category_of(_TOPIC_CATEGORY, _sees(AnonymousUser()))


def sees_category_in(column: str, viewer):
    """Whether the reader may see the category whose id is in `column` of the outer query.

    A NULL column (nothing in a category) counts as seen. For rows about
    categories that are not topics or posts (the moderation log).
    """
    if permissions.is_moderator(viewer):
        return Value(True)
    sql, params = _sees(viewer)
    query = (
        f"({column} IS NULL OR EXISTS "
        f'(SELECT 1 FROM "{_CATEGORY}" c WHERE c.id = {column} AND {sql}))'
    )
    return RawSQL(query, params, output_field=BooleanField())


def sees_topic_in(column: str, viewer):
    """Whether the topic whose id is in `column` of the outer query exists for the reader."""
    if permissions.is_moderator(viewer):
        return RawSQL(f"{column} IS NOT NULL", [], output_field=BooleanField())
    sql, params = _sees(viewer)
    query = (
        f'EXISTS (SELECT 1 FROM "{_TOPIC}" t JOIN "{_CATEGORY}" c ON c.id = t.category_id '
        f"WHERE t.id = {column} AND {sql})"
    )
    return RawSQL(query, params, output_field=BooleanField())


def seen_categories(viewer) -> QuerySet[Category]:
    """The categories this reader may see, without their rights: for lists of categories."""
    if permissions.is_moderator(viewer):
        return Category.objects.all()
    return Category.objects.filter(pk__in=_categories_where(_sees(viewer)))


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
    return Topic.objects.exclude(category_id__in=_categories_where(_not(_sees(viewer))))


def about_visible_topics(rows: QuerySet, viewer) -> QuerySet:
    """Rows of a model with a `topic` (notifications), only those about topics the reader sees."""
    if permissions.is_moderator(viewer):
        return rows
    return rows.exclude(topic__category_id__in=_categories_where(_not(_sees(viewer))))


def seen_categories_sql(viewer) -> tuple[str, list]:
    """SQL: the ids of the categories this reader may see, for reads written in SQL (search)."""
    if permissions.is_moderator(viewer):
        return f'SELECT id FROM "{_CATEGORY}"', []
    sql, params = _sees(viewer)
    return f'SELECT c.id FROM "{_CATEGORY}" c WHERE {sql}', params


def visible_posts(viewer) -> QuerySet[Post]:
    """The posts this reader may see (removed ones included: they show as placeholders)."""
    if permissions.is_moderator(viewer):
        return Post.objects.all()
    return Post.objects.filter(topic__category_id__in=_categories_where(_sees(viewer)))


def place_of(viewer, *, topic_id: int | None = None, post_id: int | None = None) -> int:
    """The id of the topic (the post's topic, with `post_id`), when the reader may see it.

    `visible_topics` or `visible_posts` for one topic or post, as one query
    written in SQL: for a write that reads them itself under its locks, and
    needs only to know that they exist for this reader (DoesNotExist if not).
    """
    if post_id is not None:
        sql = f'SELECT t.id FROM "{_POST}" p JOIN "{_TOPIC}" t ON t.id = p.topic_id WHERE p.id = %s'
        params, missing = [post_id], Post.DoesNotExist
    else:
        sql = f'SELECT t.id FROM "{_TOPIC}" t WHERE t.id = %s'
        params, missing = [topic_id], Topic.DoesNotExist
    if not _ID_RANGE[0] <= params[0] <= _ID_RANGE[1]:
        raise missing  # as the ORM finds no row for an id no column can hold
    if not permissions.is_moderator(viewer):
        sees, more = _sees(viewer)
        sql += f' AND t.category_id IN (SELECT c.id FROM "{_CATEGORY}" c WHERE {sees})'
        params += more
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise missing
    return row[0]


def with_rights(topics: QuerySet[Topic], viewer) -> QuerySet[Topic]:
    """Topics annotated with what this reader may do in them.

    `visible`, `moderated`, and the `reply_rule` of their category, for
    threads.permissions; services lock topics through this to check a writer.
    """
    visible = (
        Value(True)
        if permissions.is_moderator(viewer)
        else (_category_of(_TOPIC_CATEGORY, _sees(viewer)))
    )
    return topics.annotate(
        visible=visible,
        moderated=_flag(viewer, _TOPIC_CATEGORY),
        reply_rule=_rule("who_replies", _TOPIC_CATEGORY),
    )


_PERMISSION = Permission._meta.db_table
_CONTENT_TYPE = ContentType._meta.db_table
_MEMBER_PERMISSIONS = User.user_permissions.through._meta.db_table
_GROUP_PERMISSIONS = Group.permissions.through._meta.db_table
# The global moderators' right (threads.permissions.is_moderator), as SQL over `u`.
_MAY_MODERATE = (
    f'EXISTS (SELECT 1 FROM "{_PERMISSION}" p JOIN "{_CONTENT_TYPE}" t ON t.id = p.content_type_id'
    " WHERE t.app_label = 'threads' AND p.codename = 'moderate' AND ("
    f' EXISTS (SELECT 1 FROM "{_MEMBER_PERMISSIONS}" up'
    " WHERE up.user_id = u.id AND up.permission_id = p.id)"
    f' OR EXISTS (SELECT 1 FROM "{_GROUP_PERMISSIONS}" gp JOIN "{_MEMBERSHIP}" gm'
    " ON gm.group_id = gp.group_id WHERE gm.user_id = u.id AND gp.permission_id = p.id)))"
)


def members_seeing(category_id: int) -> tuple[str, list]:
    """SQL over a member row `u`: they may see the topics of this category.

    The rules of `_sees` (for one reader) for many members at once: who may
    be notified of a post. Active members only.
    """
    refused = (
        f'NOT EXISTS (SELECT 1 FROM "{_CATEGORY}" a WHERE {LINEAGE}'
        f" AND a.who_sees = %s AND NOT {_in_groups(_SEERS, 'u.id')})"
    )
    staff = "u.is_active AND u.is_staff"
    moderates = (
        f"({staff} AND (u.is_superuser OR {_MAY_MODERATE}"
        f' OR EXISTS (SELECT 1 FROM "{_CATEGORY}" a WHERE {LINEAGE}'
        f" AND {_in_groups(_MODERATORS, 'u.id')})))"
    )
    sql = (
        f'u.is_active AND EXISTS (SELECT 1 FROM "{_CATEGORY}" c'
        f" WHERE c.id = %s AND ({refused} OR {moderates}))"
    )
    return sql, [category_id, Seers.GROUPS]


def moderated_categories(viewer) -> QuerySet[Category]:
    """The categories this member moderates (every one, for a global moderator)."""
    if permissions.is_moderator(viewer):
        return Category.objects.all()
    return Category.objects.filter(pk__in=_categories_where(_moderates(viewer)))


def moderated_topics(viewer) -> QuerySet[Topic]:
    """The topics this member moderates, for the admin's lists."""
    if permissions.is_moderator(viewer):
        return Topic.objects.all()
    return Topic.objects.filter(category_id__in=_categories_where(_moderates(viewer)))


def topics_with_rights(viewer) -> QuerySet[Topic]:
    """The topics this reader may see, each with their rights in it (`with_rights`)."""
    return with_rights(Topic.objects.all(), viewer).filter(visible=True)


def posts_with_rights(viewer) -> QuerySet[Post]:
    """The posts this reader may see, with their topic and its rights; read one with `one_post`."""
    return (
        visible_posts(viewer)
        .select_related("topic", "topic__category")
        .annotate(
            topic_moderated=_flag(viewer, _TOPIC_CATEGORY),
            topic_reply_rule=_rule("who_replies", _TOPIC_CATEGORY),
        )
    )


def one_post(posts: QuerySet[Post], post_id: int) -> Post:
    """A post of `posts_with_rights`, its topic carrying the rights as `with_rights` puts them."""
    post = posts.get(pk=post_id)
    post.topic.visible = True
    post.topic.moderated, post.topic.reply_rule = post.topic_moderated, post.topic_reply_rule
    return post
