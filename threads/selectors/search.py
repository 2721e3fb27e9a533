"""Search: the posts a reader may see that have a query's words, best match or newest first.

One interface over each database's index of threads.models.PostSearch: on
SQLite its FTS5 table, ranked by bm25() with snippet(); on PostgreSQL its
weighted tsvector, through django.contrib.postgres.search (websearch_to_tsquery,
ts_rank, ts_headline). Either way a search is two queries, whatever the size
of the forum: the page of results with how many there are, then those posts
with their topics, authors and highlighted snippets.

The work of a search is bounded: its candidates are the newest CANDIDATES
matching posts the reader may see, and relevance ranks those. A word found
in more posts than that ranks the newest of them, and the count says "more
than". Every read goes through the access filter, so what a reader may not
see is neither found nor counted.

Snippets are built from escaped text: the database marks the matched words
with two control characters no indexed text has (threads.plaintext), the
text is escaped, and only then do the marks become <mark> elements.
"""

import math
import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorField,
)
from django.db import connection
from django.db.models import Count, QuerySet, TextChoices, Window
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..models import (
    FTS_TABLE,
    SEARCH_CONFIG,
    VECTOR_COLUMN,
    Category,
    Post,
    PostSearch,
    Topic,
    User,
)
from ..search_query import Query
from . import access
from .threads import id_url, name_url

CANDIDATES = 500
RESULTS_PER_PAGE = 20
# Words of context a snippet shows around what matched.
SNIPPET_WORDS = 32
# How much more a word of the title weighs than one of the body (SQLite; PostgreSQL's
# weights of A and B are 1.0 and 0.4).
TITLE_WEIGHT = 2.5
_START, _STOP = "\x02", "\x03"
_MARKED = re.compile(f"{_START}([^{_START}{_STOP}]*){_STOP}")

_INDEX, _POST, _TOPIC = PostSearch._meta.db_table, Post._meta.db_table, Topic._meta.db_table
_CATEGORY, _USER = Category._meta.db_table, User._meta.db_table


class Sort(TextChoices):
    RELEVANCE = "relevance", "Best match"
    NEWEST = "newest", "Newest first"


@dataclass(frozen=True)
class Result:
    post_id: int
    created: datetime
    topic_id: int
    topic_title: str
    category_name: str
    category_slug: str
    author_username: str
    author_display_name: str
    # The topic's title with its matched words marked, when the post opens the topic.
    title_html: SafeString
    snippet_html: SafeString
    # Links and the time, made here: in the template they were most of the page's cost.
    url: str
    author_url: str
    category_url: str
    when: str  # as every page writes a post's time


@dataclass(frozen=True)
class Results:
    query: Query
    sort: str
    results: list[Result]
    # Posts found, up to CANDIDATES; unknown (None) on a page past the last one.
    total: int | None
    page: int

    @property
    def more(self) -> bool:
        """Found in as many posts as a search counts, or more."""
        return self.total is not None and self.total >= CANDIDATES

    @property
    def pages(self) -> int:
        return math.ceil((self.total or 0) / RESULTS_PER_PAGE)

    @property
    def start(self) -> int:
        """The number of the page's first result."""
        return (self.page - 1) * RESULTS_PER_PAGE + 1

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def search_results(
    *, viewer, query: Query, sort: str = Sort.RELEVANCE, page: int | str | None = 1
) -> Results:
    """A page of the posts this reader may see that the query finds."""
    sort = sort if sort in Sort.values else Sort.RELEVANCE
    page = _page_number(page)
    offset = (page - 1) * RESULTS_PER_PAGE
    search_in = _sqlite if connection.vendor == "sqlite" else _postgresql
    ranked, found = search_in.ranked(viewer, query, sort, offset)
    rows = search_in.shown(viewer, query, ranked) if ranked else {}
    results = [rows[post_id] for post_id in ranked if post_id in rows]
    return Results(query=query, sort=sort, results=results, total=found, page=page)


def _page_number(page: int | str | None) -> int:
    last = math.ceil(CANDIDATES / RESULTS_PER_PAGE)
    try:
        number = int(page or 1)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), last)


def marked(text: str) -> SafeString:
    """Text escaped, then its matched words (between the marks) in <mark>; stray marks dropped."""
    html = _MARKED.sub(r"<mark>\1</mark>", escape(text))
    return mark_safe(html.replace(_START, "").replace(_STOP, ""))


# The members and categories the query's author: and in: name, as SQL.
_AUTHOR_IDS = f'SELECT id FROM "{_USER}" WHERE LOWER(username) = %s'
_CATEGORY_IDS = (
    f'SELECT c.id FROM "{_CATEGORY}" c JOIN "{_CATEGORY}" a ON {access.LINEAGE} WHERE a.slug = %s'
)


def _filters(query: Query) -> tuple[str, list]:
    """SQL over entry s: the query's author, category and topic."""
    sql, params = [], []
    if query.author is not None:
        sql.append(f"s.author_id IN ({_AUTHOR_IDS})")
        params.append(query.author.lower())
    if query.category is not None:
        sql.append(f"s.category_id IN ({_CATEGORY_IDS})")
        params.append(query.category)
    if query.topic is not None:
        sql.append("s.topic_id = %s")
        params.append(query.topic)
    return "".join(f" AND {each}" for each in sql), params


def _page(rows, offset: int) -> tuple[list[int], int | None]:
    """The ids of rows of (post id, how many were found), and how many were found.

    A page past the last has no rows to tell how many: None, unless it is the first.
    """
    rows = list(rows)
    if not rows:
        return [], None if offset else 0
    return [row[0] for row in rows], rows[0][1]


def _results(rows) -> dict[int, Result]:
    """Results by post id, from rows of _SHOWN with the marked title and snippet."""
    permalink, profile = id_url("threads:post_permalink"), name_url("threads:profile")
    category_url = name_url("threads:category")
    results = {}
    for row in rows:
        post_id, created, topic_id, topic_title, category, slug, username, name, title, snippet = (
            row
        )
        if created.tzinfo is None:  # SQLite's, read without the ORM: UTC
            created = created.replace(tzinfo=UTC)
        results[post_id] = Result(
            post_id=post_id,
            created=created,
            topic_id=topic_id,
            topic_title=topic_title,
            category_name=category,
            category_slug=slug,
            author_username=username,
            author_display_name=name,
            title_html=marked(title) if title else SafeString(""),
            snippet_html=marked(snippet),
            url=permalink.format(post_id),
            author_url=profile.format(username),
            category_url=category_url.format(slug),
            when=_when(timezone.localtime(created)),
        )
    return results


def _when(moment: datetime) -> str:
    """As templates write a post's time ("j M Y, H:i"), a tenth of the cost."""
    return f"{moment.day} {moment:%b %Y, %H:%M}"


# What a result shows, over post p, topic t, category c and member u.
_SHOWN = "p.id, p.created, t.id, t.title, c.name, c.slug, u.username, u.display_name"
_SHOWN_JOINS = (
    f'JOIN "{_TOPIC}" t ON t.id = p.topic_id JOIN "{_CATEGORY}" c'
    f' ON c.id = t.category_id JOIN "{_USER}" u ON u.id = p.author_id'
)


class _sqlite:
    """FTS5: each word and phrase a quoted string (never FTS5 syntax), ranked by bm25()."""

    @staticmethod
    def _match(query: Query) -> str:
        def quoted(term: str) -> str:
            return '"' + term.replace('"', '""') + '"'

        match = " AND ".join(quoted(term) for term in query.terms)
        return match + "".join(f" NOT {quoted(term)}" for term in query.excluded)

    @classmethod
    def ranked(cls, viewer, query: Query, sort: str, offset: int) -> tuple[list[int], int | None]:
        seen, seen_params = access.seen_categories_sql(viewer)
        filters, filter_params = _filters(query)
        # Newest first, bm25() of each, read as FTS5 walks the index: one pass.
        score = "NULL" if sort == Sort.NEWEST else f"bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0)"
        order = "id DESC" if sort == Sort.NEWEST else "score, id DESC"
        sql = (
            f"WITH candidates AS MATERIALIZED (SELECT f.rowid AS id, {score} AS score"
            f' FROM "{FTS_TABLE}" f JOIN "{_INDEX}" s ON s.post_id = f.rowid'
            f' WHERE "{FTS_TABLE}" MATCH %s'
            f" AND s.category_id IN ({seen}){filters} ORDER BY f.rowid DESC LIMIT {CANDIDATES})"
            f" SELECT id, COUNT(*) OVER () FROM candidates ORDER BY {order} LIMIT %s OFFSET %s"
        )
        params = [cls._match(query), *seen_params, *filter_params]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, RESULTS_PER_PAGE, offset])
            return _page(cursor.fetchall(), offset)

    @classmethod
    def shown(cls, viewer, query: Query, post_ids: list[int]) -> dict[int, Result]:
        seen, seen_params = access.seen_categories_sql(viewer)
        marks = ", ".join(["%s"] * len(post_ids))
        sql = (
            "WITH found AS MATERIALIZED (SELECT rowid AS id,"
            f" highlight({FTS_TABLE}, 0, %s, %s) AS title,"
            f" snippet({FTS_TABLE}, 1, %s, %s, '…', {SNIPPET_WORDS}) AS snippet"
            f' FROM "{FTS_TABLE}" WHERE "{FTS_TABLE}" MATCH %s AND rowid IN ({marks}))'
            f" SELECT {_SHOWN}, found.title, found.snippet FROM found"
            f' JOIN "{_POST}" p ON p.id = found.id {_SHOWN_JOINS}'
            f" WHERE t.category_id IN ({seen}) AND p.removal = ''"
        )
        params = [_START, _STOP, _START, _STOP, cls._match(query), *post_ids, *seen_params]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return _results(cursor.fetchall())


class _postgresql:
    """websearch_to_tsquery over the weighted vector: each word and phrase quoted."""

    # Unqualified, so that in a subquery it is the subquery's own entry's column (no other
    # table a search reads has one).
    _vector = RawSQL(f'"{VECTOR_COLUMN}"', [], output_field=SearchVectorField())

    # ASCII punctuation read as space, as the indexed text is (migration 0013): PostgreSQL's
    # parser would take <words> for a tag, and a host or a path for one word.
    _as_space = str.maketrans(string.punctuation, " " * len(string.punctuation))

    @classmethod
    def _query(cls, query: Query) -> SearchQuery:
        def quoted(term: str) -> str:
            return '"' + " ".join(term.translate(cls._as_space).split()) + '"'

        text = " ".join(quoted(term) for term in query.terms)
        text += "".join(f" -{quoted(term)}" for term in query.excluded)
        return SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)

    @classmethod
    def _entries(cls, viewer, query: Query) -> QuerySet[PostSearch]:
        seen = RawSQL(*access.seen_categories_sql(viewer))
        entries = PostSearch.objects.filter(category_id__in=seen).alias(vector=cls._vector)
        entries = entries.filter(vector=cls._query(query))
        if query.author is not None:
            entries = entries.filter(author_id__in=RawSQL(_AUTHOR_IDS, [query.author.lower()]))
        if query.category is not None:
            entries = entries.filter(category_id__in=RawSQL(_CATEGORY_IDS, [query.category]))
        if query.topic is not None:
            entries = entries.filter(topic_id=query.topic)
        return entries

    @classmethod
    def ranked(cls, viewer, query: Query, sort: str, offset: int) -> tuple[list[int], int | None]:
        candidates = cls._entries(viewer, query).order_by("-post_id").values("post_id")
        found = PostSearch.objects.filter(post_id__in=candidates[:CANDIDATES]).annotate(
            total=Window(Count("*"))
        )
        if sort == Sort.NEWEST:
            found = found.order_by("-post_id")
        else:
            rank = SearchRank(cls._vector, cls._query(query))
            found = found.annotate(rank=rank).order_by("-rank", "-post_id")
        return _page(
            found.values_list("post_id", "total")[offset : offset + RESULTS_PER_PAGE], offset
        )

    @classmethod
    def shown(cls, viewer, query: Query, post_ids: list[int]) -> dict[int, Result]:
        search_query = cls._query(query)

        def headline(field: str, **options) -> SearchHeadline:
            return SearchHeadline(
                field,
                search_query,
                config=SEARCH_CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                **options,
            )

        seen = RawSQL(*access.seen_categories_sql(viewer))
        entries = PostSearch.objects.filter(pk__in=post_ids, category_id__in=seen)
        rows = entries.filter(post__removal="").values_list(
            "post_id",
            "post__created",
            "post__topic_id",
            "post__topic__title",
            "post__topic__category__name",
            "post__topic__category__slug",
            "post__author__username",
            "post__author__display_name",
            headline("title", highlight_all=True),
            headline(
                "body",
                max_words=SNIPPET_WORDS,
                min_words=SNIPPET_WORDS // 2,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        return _results(rows)
