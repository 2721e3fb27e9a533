"""A post's history: its versions, newest first, each with a line diff to the one before.

Two queries whatever the history's length: the post through the access filter
(with its number of revisions), and the page's revisions. Diffs are lists of
lines of the Markdown source, escaped, with <ins> and <del> marking what
changed; their cost is bounded however long or hostile the texts (`line_diff`).
"""

import difflib
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .. import permissions
from ..models import Post, PostRevision, User
from . import access

VERSIONS_PER_PAGE = 20
# Unchanged lines shown around each change; longer unchanged runs are cut.
CONTEXT_LINES = 3
# The most line pairs difflib may compare for one diff (lines of one side times
# the other's, once their common start and end are set aside): beyond, the
# changed middle is shown as removed, then added, at a linear cost. difflib's
# cost grows faster than the pairs on lines that match here and there (a few
# milliseconds at this budget, a tenth of a second at 250,000).
DIFF_BUDGET = 10_000

# The most lines of a diff a page shows per version (its size stays bounded).
DIFF_LINES_SHOWN = 1_000

# A line of a diff: "equal", "insert", "delete", or "skip" (unchanged lines left out: a count).
DiffLine = tuple[str, str]


@dataclass(frozen=True)
class Version:
    """One version of a post's text: who wrote it, when, and what it changed."""

    number: int  # 1 for the original text
    editor: User | None  # who wrote this version (None: an account since deleted)
    created: datetime
    body: str | None  # None: hidden from this reader
    hidden: bool  # a moderator hid it (moderators still see it)
    revision_id: int | None  # the revision keeping it; None for the current text
    diff: SafeString | None  # to the version before, as HTML (`diff_html`); None: not shown
    current: bool = False


@dataclass(frozen=True)
class History:
    post: Post
    versions: list[Version]  # newest first
    page: Page
    moderator: bool  # the reader moderates the post's topic: sees hidden versions


def post_history(*, post_id: int, viewer, page: int | str | None) -> History:
    """A page of a post's versions for this reader, newest first.

    A removed post's history is for moderators only (DoesNotExist for others).
    Hidden versions are replaced for other readers, and so are the diffs that
    would show their text: their own, and the next version's (shown without one).
    """
    count = (
        PostRevision.objects.filter(post=OuterRef("pk"))
        .order_by()
        .values("post")
        .annotate(n=Count("pk"))
        .values("n")
    )
    posts = access.posts_with_rights(viewer).select_related("author")
    posts = posts.annotate(revision_count=Coalesce(Subquery(count), 0, output_field=IntegerField()))
    post = access.one_post(posts, post_id)
    moderator = permissions.moderates(viewer, post.topic)
    if post.is_removed and not moderator:
        raise Post.DoesNotExist("Only moderators see the history of a removed post.")
    total = post.revision_count + 1  # every revision, and the current text
    pages = Paginator(range(total), VERSIONS_PER_PAGE).get_page(page)
    # Versions are numbered from 0 (the original) to total - 1 (the current text); the
    # page shows `newest` down to `oldest`. Revision i keeps version i, and its editor
    # wrote version i + 1: the page reads the revisions from oldest - 1 to newest.
    newest = total - pages.start_index()
    oldest = max(0, newest - VERSIONS_PER_PAGE + 1)
    first = max(0, oldest - 1)
    revisions = list(
        PostRevision.objects.filter(post=post)
        .select_related("editor")
        .order_by("id")[first : newest + 1]
    )
    versions = _versions(post, revisions, first, oldest, newest, total, moderator)
    return History(post=post, versions=versions, page=pages, moderator=moderator)


def _versions(
    post: Post,
    revisions: list[PostRevision],
    first: int,
    oldest: int,
    newest: int,
    total: int,
    moderator: bool,
) -> list[Version]:
    """The versions `oldest` to `newest`, newest first, from the revisions read from `first`.

    Version `total - 1` is the post's text as read with it (a revision made
    since, by an edit between the two queries, is left out).
    """

    def revision(number: int) -> PostRevision | None:
        index = number - first
        return revisions[index] if 0 <= index < len(revisions) and number < total - 1 else None

    def text(number: int) -> tuple[str | None, bool]:
        kept = revision(number)
        if kept is None:  # the current text
            return post.body, False
        return (None if kept.hidden and not moderator else kept.body), kept.hidden

    versions = []
    for number in range(newest, oldest - 1, -1):
        body, hidden = text(number)
        kept, made_by = revision(number), revision(number - 1)
        before = text(number - 1)[0] if number else ""
        diff = None if body is None or before is None else diff_html(line_diff(before, body))
        versions.append(
            Version(
                number=number + 1,
                editor=made_by.editor if made_by else post.author,
                created=made_by.created if made_by else post.created,
                body=body,
                hidden=hidden,
                revision_id=kept.pk if kept else None,
                diff=diff,
                current=kept is None,
            )
        )
    return versions


def line_diff(before: str, after: str) -> list[DiffLine]:
    """The lines of `after` as a change of `before`: equal, inserted and deleted lines,
    with runs of unchanged lines longer than the context around changes cut ("skip").

    Bounded: the common first and last lines are set aside in linear time, and
    difflib compares the rest only within DIFF_BUDGET line pairs (it can be
    quadratic); a bigger change is shown as its old lines removed, then its new ones.
    """
    a, b = before.split("\n") if before else [], after.split("\n") if after else []
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    lines: list[DiffLine] = [("equal", line) for line in a[:start]]
    if len(middle_a) * len(middle_b) <= DIFF_BUDGET:
        matcher = difflib.SequenceMatcher(None, middle_a, middle_b)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                lines += [("equal", line) for line in middle_a[i1:i2]]
                continue
            lines += [("delete", line) for line in middle_a[i1:i2]]
            lines += [("insert", line) for line in middle_b[j1:j2]]
    else:
        lines += [("delete", line) for line in middle_a]
        lines += [("insert", line) for line in middle_b]
    lines += [("equal", line) for line in a[len(a) - end :]]
    return _in_context(lines)


def _in_context(lines: list[DiffLine]) -> list[DiffLine]:
    """The diff with unchanged runs longer than twice the context cut to its edges."""
    out: list[DiffLine] = []
    run: list[DiffLine] = []

    def flush(at_start: bool, at_end: bool) -> None:
        keep_head = 0 if at_start else CONTEXT_LINES
        keep_tail = 0 if at_end else CONTEXT_LINES
        if len(run) <= keep_head + keep_tail + 1:
            out.extend(run)
        else:
            out.extend(run[:keep_head])
            out.append(("skip", str(len(run) - keep_head - keep_tail)))
            out.extend(run[len(run) - keep_tail :])
        run.clear()

    changed = any(kind != "equal" for kind, _ in lines)
    if not changed:
        return [("skip", str(len(lines)))] if lines else []
    for kind, line in lines:
        if kind == "equal":
            run.append((kind, line))
            continue
        if run:
            flush(at_start=not out, at_end=False)
        out.append((kind, line))
    if run:
        flush(at_start=False, at_end=True)
    return out


_MARKS = {"insert": ("<ins>+ ", "</ins>"), "delete": ("<del>- ", "</del>"), "equal": ("  ", "")}


def diff_html(lines: list[DiffLine]) -> SafeString:
    """A diff's lines as HTML for a <pre>: every line of text escaped, changes in <ins>
    and <del>, at most DIFF_LINES_SHOWN lines (built here: a template's loop over
    thousands of lines would cost seconds)."""
    out = []
    for kind, line in lines[:DIFF_LINES_SHOWN]:
        if kind == "skip":
            plural = "s" * (line != "1")
            out.append(f'<span class="diff-skip">… {line} unchanged line{plural}</span>')
        else:
            start, end = _MARKS[kind]
            out.append(f"{start}{escape(line)}{end}")
    if len(lines) > DIFF_LINES_SHOWN:
        more = len(lines) - DIFF_LINES_SHOWN
        out.append(f'<span class="diff-skip">… and {more} more lines of changes</span>')
    return mark_safe("\n".join(out))  # every piece of text is escaped above
