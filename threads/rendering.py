"""Turning posts into HTML: the only module that imports markdown and bleach.

Everything here runs when a post is written (or re-rendered by
`manage.py rerender_posts`). What wraps a body in a thread or a list (bylines,
links, the one pass over a page) is `threads.fragments`.

A render has a bounded cost, whatever the text (see `markdown_to_html`):
cheap checks refuse the shapes Python-Markdown is known to take quadratic
time or deep recursion over, and every render runs in a worker process that
is killed when it takes longer than `RENDER_SECONDS`.
"""

import multiprocessing
import os
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial

import bleach
import markdown
import pebble
from bleach import html5lib_shim
from bleach.linkifier import LinkifyFilter, build_url_re
from django.utils.html import escape
from markdown import inlinepatterns, preprocessors, treeprocessors

from .complexity import MAX_TABLE_ROWS, TooComplex, check_complexity

# Bump when the Markdown rules, the allowlist or the fragment template change,
# then run `manage.py rerender_posts`.
RENDER_VERSION = 6  # 6: Report and History links, split notes, posts hidden after reports

# No <h1>: a post's headings never outrank the page's own title (see _DemoteHeadings).
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "strong",
        "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if tag == "a":
        return name in {"href", "title"}
    if tag in {"td", "th"}:
        return name == "align" and value in {"left", "center", "right"}
    if tag == "ol":
        return name == "start" and value.isdigit()
    if tag == "code":
        # fenced_code marks the language: class="language-python"
        return name == "class" and value.startswith("language-") and value[9:].isidentifier()
    return tag == "abbr" and name == "title"


def _nofollow_ugc(attrs: dict, new: bool = False) -> dict | None:
    if (None, "href") not in attrs:
        return attrs
    if new and not attrs.get("_text", "").lower().startswith(("http://", "https://", "www.")):
        return None  # a bare address, not a file name such as main.py
    attrs[(None, "rel")] = "nofollow ugc"
    return attrs


class _AsLink:
    """Turns the <img> an image processor makes into <a href=src>alt</a>."""

    def handleMatch(self, match, data):
        element, start, end = super().handleMatch(match, data)
        if element is not None:
            element.tag = "a"
            element.set("href", element.attrib.pop("src", ""))
            element.text = element.attrib.pop("alt", "") or element.get("href")
        return element, start, end


class _ImageLink(_AsLink, inlinepatterns.ImageInlineProcessor):
    pass


class _ImageReference(_AsLink, inlinepatterns.ImageReferenceInlineProcessor):
    pass


class _ShortImageReference(_AsLink, inlinepatterns.ShortImageReferenceInlineProcessor):
    pass


class _DemoteHeadings(treeprocessors.Treeprocessor):
    """`#` becomes <h2>, and so on down: the page's <h1> is the topic's title."""

    def run(self, root) -> None:
        for element in root.iter():
            if element.tag in {"h1", "h2", "h3", "h4", "h5"}:
                element.tag = f"h{int(element.tag[1]) + 1}"


# A list item as Python-Markdown reads one: a marker, then at least one space.
_LIST_ITEM = re.compile(r"( *)([*+-]|\d+\.)( +)")
# What ends a list wherever it stands (Python-Markdown splits the block there).
_RULE = re.compile(r" {0,3}(?:(?:-[ ]{0,2}){3,}|(?:\*[ ]{0,2}){3,}|(?:_[ ]{0,2}){3,})")
_UNDERLINE = re.compile(r"[=-]+ *")
_TABLE_RULE = re.compile(r"[|: ]*-[-|: ]*")


def nest_lists(lines: Iterable[str]) -> list[str]:
    """Re-indent the lines inside list items to four spaces a level, as Python-Markdown nests.

    On GitHub (CommonMark) a line belongs to a list item when it is indented to
    the item's text: two spaces under `- `, three under `1. `. Python-Markdown
    wants four spaces a level. So each line inside an item moves to four spaces
    per enclosing item, plus whatever it has beyond that item's text (four more
    still make a code block), and an item's marker to its level. Lines outside
    lists are kept as typed, and lists indented by four spaces keep their
    meaning. A list ends where Python-Markdown ends it: at a heading, a rule, a
    code block or any other block at the margin. One pass, in linear time.

    Takes the lines as Python-Markdown's preprocessors leave them: tabs expanded,
    blank lines empty, and fenced code and HTML blocks already set aside.
    """
    out: list[str] = []
    items: list[int] = []  # the text column of each open item, outermost (and least) first
    block_line = 0  # the line's place in its block of lines (blocks end at blank lines)
    top_block = True  # whether the block's first line stood outside every item
    starts_list = True  # whether a list may start on the line
    kept = ""  # "code" or "table" while the line continues one at the margin, kept as typed
    for line in lines:
        if not line:
            out.append(line)
            block_line, starts_list, kept = 0, True, ""
            continue
        indent = len(line) - len(line.lstrip(" "))
        if kept == "table" or (kept == "code" and indent >= 4):
            out.append(line)
            continue
        if kept:  # a code block ends at a line under four spaces, which starts a block
            block_line, starts_list, kept = 0, True, ""
        block_line += 1
        level = bisect_right(items, indent)  # how many items' text the line is indented to
        if block_line == 1:
            top_block = level == 0
        item = _LIST_ITEM.match(line)
        if (
            block_line == 2
            and top_block
            and "|" in out[-1] + line
            and _TABLE_RULE.fullmatch(line.strip())
        ):
            items.clear()  # a table takes its whole block
            kept = "table"
        elif (
            _RULE.fullmatch(line)
            or line.startswith("#")  # a heading, "#hashtag" too
            or (block_line == 2 and top_block and _UNDERLINE.fullmatch(line))
        ):
            # Python-Markdown ends the list here, and a block (maybe a list) starts next.
            items.clear()
            block_line, starts_list = 0, True
        elif item and indent - (items[level - 1] if level else 0) < 4:
            if items or starts_list:
                del items[level:]
                spaces = len(item.group(3))
                items.append(item.end(2) + (spaces if spaces <= 4 and line[item.end() :] else 1))
                if level:
                    line = " " * (4 * level) + line[indent:]
            starts_list = False  # (Python-Markdown starts a list only at a block's start)
        else:
            if block_line == 1:
                del items[level:]  # a block at the margin ends the list
                kept = "code" if not level and indent >= 4 else ""
            if level:
                line = " " * (4 * level) + line[items[level - 1] :]
            starts_list = False
        out.append(line)
    return out


class _NestedLists(preprocessors.Preprocessor):
    def run(self, lines: list[str]) -> list[str]:  # lists nested as on GitHub
        return nest_lists(lines)


# --- Mentions -------------------------------------------------------------------------

# `@handle`, not inside a word or an address (bob@example.com): a handle's
# characters (threads.models.handle_validator), of which a last . + or - may
# end the sentence rather than the handle.
_MENTION = re.compile(r"(?<![\w@/.+-])@([A-Za-z0-9_.+-]+)")
_HANDLE_END = ".+-"
# Handles looked up per post at most: the lookup is one query, whatever the text.
MAX_MENTION_LOOKUPS = 50


def _readings(handle: str) -> Iterable[str]:
    """A typed handle, then without each trailing . + or -, longest first."""
    while handle:
        yield handle
        if handle[-1] not in _HANDLE_END:
            return
        handle = handle[:-1]


def mention_candidates(source: str) -> set[str]:
    """The handles (lower case) a text may mention, for the writer to look up before rendering.

    A cheap scan of the source, without Markdown: it finds too many (mentions
    in code are not links), never too few; at most MAX_MENTION_LOOKUPS handles.
    """
    found: set[str] = set()
    for match in _MENTION.finditer(source):
        for reading in _readings(match.group(1).lower()):
            found.add(reading)
            if len(found) >= MAX_MENTION_LOOKUPS:
                return found
    return found


def mention_links(html: str) -> list[str]:
    """The addresses of the mention links in a rendered text, each once, in order."""
    return list(dict.fromkeys(_MENTION_LINK.findall(html)))


_MENTION_LINK = re.compile(r'<a class="mention" href="([^"]*)">')


class _Mentions(html5lib_shim.Filter):
    """Links each `@handle` of an existing member to their profile.

    Runs after sanitizing (bleach applies filters to the clean stream), so its
    links are the only ones that can carry class="mention": the sanitizer
    takes that attribute off any link typed in a post. Not inside links, code
    or preformatted text.
    """

    def __init__(self, source, renderer: "_Renderer") -> None:
        super().__init__(source)
        self.links = renderer.mentions

    def __iter__(self):
        inside = 0
        for token in super().__iter__():
            kind = token["type"]
            if kind in ("StartTag", "EndTag") and token["name"] in ("a", "code", "pre"):
                inside += 1 if kind == "StartTag" else -1
            elif kind == "Characters" and not inside and self.links and "@" in token["data"]:
                yield from self._linked(token["data"])
                continue
            yield token

    def _linked(self, text: str):
        start = 0
        for match in _MENTION.finditer(text):
            typed = match.group(1)
            handle = next((h for h in _readings(typed) if h.lower() in self.links), None)
            if handle is None:
                continue
            begin, end = match.start(), match.start() + 1 + len(handle)
            if begin > start:
                yield {"type": "Characters", "data": text[start:begin]}
            attributes = {(None, "class"): "mention", (None, "href"): self.links[handle.lower()]}
            yield {"type": "StartTag", "name": "a", "data": attributes}
            yield {"type": "Characters", "data": text[begin:end]}
            yield {"type": "EndTag", "name": "a"}
            start = end
        if start < len(text):
            yield {"type": "Characters", "data": text[start:]}


class _Renderer(threading.local):
    """Markdown and Cleaner instances keep state, so each thread gets its own."""

    def __init__(self) -> None:
        self.markdown = markdown.Markdown(
            extensions=["fenced_code", "tables", "sane_lists", "nl2br"],
            extension_configs={"tables": {"use_align_attribute": True}},
            output_format="html",
        )
        # No images from elsewhere (they would tell other sites who reads what):
        # ![text](url) becomes a link to the image.
        for name, processor, pattern, priority in [
            ("image_link", _ImageLink, inlinepatterns.IMAGE_LINK_RE, 150),
            ("image_reference", _ImageReference, inlinepatterns.IMAGE_REFERENCE_RE, 140),
            ("short_image_ref", _ShortImageReference, inlinepatterns.IMAGE_REFERENCE_RE, 125),
        ]:
            self.markdown.inlinePatterns.register(processor(pattern, self.markdown), name, priority)
        self.markdown.treeprocessors.register(_DemoteHeadings(self.markdown), "demote_headings", 5)
        # After fenced code and raw HTML blocks are set aside (priorities 25 and 20).
        self.markdown.preprocessors.register(_NestedLists(self.markdown), "nested_lists", 15)
        self.cleaner = bleach.sanitizer.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=_allowed_attribute,
            protocols=ALLOWED_PROTOCOLS,
            strip=False,  # disallowed markup is shown as the text that was typed
            strip_comments=True,
            filters=[
                partial(
                    LinkifyFilter,
                    callbacks=[_nofollow_ugc],
                    skip_tags={"pre", "code"},
                    url_re=build_url_re(protocols=["http", "https"]),
                ),
                partial(_Mentions, renderer=self),
            ],
        )
        # The members a text may mention, for the render under way: handle
        # (lower case) to the address of their profile.
        self.mentions: Mapping[str, str] = {}


_renderer = _Renderer()


# --- The cost of a render ---------------------------------------------------------------

# The last line of defence: a render that takes longer is stopped, its worker
# process killed, and the post refused. Ordinary posts of the longest size
# allowed take well under half of it on a small machine.
RENDER_SECONDS = 1.0
# Worker processes per server process for requests; renders beyond that many at once
# wait their turn, at most RENDER_QUEUE_SECONDS (then they are refused as Busy).
RENDER_WORKERS = 2
RENDER_QUEUE_SECONDS = 0.5


class Busy(Exception):
    """Every render worker stayed busy while a request waited: nothing was rendered."""


def _render(source: str, mentions: Mapping[str, str] | None = None) -> str:
    """Markdown to sanitized HTML, in this process. Runs in a render worker."""
    try:
        _renderer.markdown.reset()
        html = _renderer.markdown.convert(source)
        if html.count("<tr>") > MAX_TABLE_ROWS:
            raise TooComplex(f"tables of more than {MAX_TABLE_ROWS:,} rows")
        _renderer.mentions = mentions or {}
        return _renderer.cleaner.clean(html)
    except TooComplex:
        raise
    except RecursionError:
        _renderer.__init__()
        raise TooComplex("nested too deeply") from None
    except BaseException:
        # A failed parse can leave state behind in the parser: never reuse it.
        _renderer.__init__()
        raise


class _Workers:
    """Render worker processes of this server process, started on first use.

    Workers fork from a clean server process (multiprocessing's forkserver),
    never from a server process with threads and database connections; one
    that runs past the time limit is killed and replaced.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._pool: pebble.ProcessPool | None = None
        self._pid = 0

    def schedule(self, source: str, mentions: Mapping[str, str]):
        with self._lock:
            if self._pool is None or self._pid != os.getpid() or not self._pool.active:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([__name__])
                self._pool = pebble.ProcessPool(max_workers=self.size, context=context)
                self._pid = os.getpid()
            pool = self._pool
        return pool.schedule(_render, args=(source, mentions), timeout=RENDER_SECONDS)


# The requests' workers, and one of its own for long batches (an import through the
# admin, rerender_posts), so that a batch never keeps the requests' workers busy.
_workers = _Workers(RENDER_WORKERS)
_batch_workers = _Workers(1)


def _started(future, within: float) -> bool:
    """Whether a worker took the render up within `within` seconds.

    Waits for the render's end meanwhile, without polling: most renders are
    done within a millisecond, and are returned as soon as they are. One
    still queued after `within` seconds was never taken up (a future once
    running never goes back to pending).
    """
    wait([future], timeout=within, return_when=FIRST_COMPLETED)
    return future.running() or future.done()


def _result(future, index: int) -> str | TooComplex:
    try:
        return future.result()
    except TooComplex as error:
        return TooComplex(error.detail, index)
    except FutureTimeout:
        return TooComplex("it took too long to format", index)
    except pebble.ProcessExpired:
        return TooComplex("formatting it failed", index)


def markdown_to_html(source: str, *, mentions: Mapping[str, str] | None = None) -> str:
    """Markdown source to sanitized HTML, safe to insert into any page.

    `mentions` maps the handles (lower case) of members the text may mention
    to their profiles' addresses (see `mention_candidates`): each `@handle`
    of one of them becomes a link there.

    Raises TooComplex for a text that costs too much to format: refused by
    `check_complexity`, or still rendering after RENDER_SECONDS. Raises Busy
    when no worker takes it up within RENDER_QUEUE_SECONDS: a request waits
    for a render at most about RENDER_QUEUE_SECONDS + RENDER_SECONDS.
    """
    check_complexity(source)
    future = _workers.schedule(source, dict(mentions or {}))
    if not _started(future, RENDER_QUEUE_SECONDS):
        future.cancel()
        raise Busy
    html = _result(future, 0)
    if isinstance(html, TooComplex):
        raise html
    return html


def markdown_to_html_each(
    sources: Sequence[str],
    *,
    mentions: Mapping[str, str] | None = None,
    stop_at_refusal: bool = False,
) -> list[str | TooComplex]:
    """Render many texts in the batch worker, each as long as it takes to get a turn.

    `mentions` (as for `markdown_to_html`) serves every text.

    Each result is the HTML, or the TooComplex refusal of that text (with its
    `index`). With `stop_at_refusal`, the results end at the first refusal,
    and nothing after it is rendered.
    """
    checked: list[str | TooComplex] = []
    for index, source in enumerate(sources):
        try:
            check_complexity(source)
            checked.append(source)
        except TooComplex as error:
            if stop_at_refusal:
                return [TooComplex(error.detail, index)]
            checked.append(TooComplex(error.detail, index))
    links = dict(mentions or {})
    futures = [
        _batch_workers.schedule(item, links) if isinstance(item, str) else None for item in checked
    ]
    results: list[str | TooComplex] = []
    for index, (item, future) in enumerate(zip(checked, futures, strict=True)):
        result = item if future is None else _result(future, index)
        results.append(result)
        if stop_at_refusal and isinstance(result, TooComplex):
            for rest in futures[index + 1 :]:
                rest.cancel()
            break
    return results


def unformatted_html(source: str) -> str:
    """A stored post that can no longer be formatted within the limits, shown as typed."""
    return f"<pre>{escape(source)}</pre>"
