"""Turning posts into HTML: the only module that imports markdown and bleach.

Everything here runs when a post is written (or re-rendered by
`manage.py rerender_posts`), except `thread_html`, which joins the stored
per-post fragments of a page into nested lists in one pass.
"""

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import bleach
import markdown
from bleach.linkifier import LinkifyFilter, build_url_re
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from markdown import inlinepatterns

from .conversation import iso_utc

# Bump when the Markdown rules, the allowlist or the fragment template change,
# then run `manage.py rerender_posts`.
RENDER_VERSION = 1

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "strong",
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
                )
            ],
        )


_renderer = _Renderer()


def markdown_to_html(source: str) -> str:
    """Markdown source to sanitized HTML, safe to insert into any page."""
    _renderer.markdown.reset()
    return _renderer.cleaner.clean(_renderer.markdown.convert(source))


def _time_element(moment: datetime) -> str:
    label = moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")
    return f'<time datetime="{iso_utc(moment)}">{label}</time>'


def post_fragment(post) -> str:
    """The post as every reader sees it in a thread: byline, body and links.

    The thread loop wraps it in `<li><details>`; the `<summary>` holds only
    text, so collapsing never hides a link inside a button.
    """
    return render_to_string(
        "threads/post_fragment.html",
        {
            "post": post,
            "author_name": post.author.username,
            "created": mark_safe(_time_element(post.created)),
            "edited": mark_safe(_time_element(post.edited)) if post.edited else "",
        },
    ).strip()


def topic_row(topic) -> str:
    """The topic's row in the topic list, the same for every reader."""
    return render_to_string(
        "threads/topic_row.html",
        {
            "topic": topic,
            "author_name": topic.author.username,
            "last_activity": mark_safe(_time_element(topic.last_activity)),
        },
    ).strip()


@dataclass(frozen=True)
class ThreadHTML:
    """A thread as every reader sees it, as UTF-8, and where each post's own controls go.

    Kept as bytes, so that serving a big page never copies or encodes it again.
    """

    html: bytes
    slots: dict[int, int]  # post id: byte offset just after the post's fragment

    def with_tools(self, tools: Mapping[int, str]) -> list[bytes]:
        """The thread with this reader's controls (edit, moderate) under their posts.

        In pieces, for the response to join once.
        """
        parts, start = [], 0
        for offset, post_id in sorted((self.slots[i], i) for i in tools if i in self.slots):
            parts += (self.html[start:offset], tools[post_id].encode())
            start = offset
        parts.append(self.html[start:] if start else self.html)
        return parts


def thread_html(
    rows: Iterable[tuple], *, base_level: int, max_depth: int, first_class: str = ""
) -> ThreadHTML:
    """Nest the fragments of a (tree_id, lft)-ordered page into `<ol>` lists.

    Each row starts with (id, level, parent_id, fragment); more items are ignored.

    One pass, no template per post: a list is opened when the level goes up
    and closed when it comes down. Rows deeper than `base_level + max_depth`
    are not shown; the first of them under a post becomes one "Continue this
    thread" link to that post's own page.
    """
    out = [b'<ol class="thread">']
    length = len(out[0])
    slots = {}
    previous = -1  # depth (relative to base_level) of the last post written
    continued = False  # whether the last post written already got its link
    for row in rows:
        post_id, level, parent_id, fragment = row[0], row[1], row[2], row[3]
        depth = level - base_level
        if depth > max_depth:
            if depth == max_depth + 1 and previous == max_depth and not continued:
                url = reverse("threads:post_thread", args=[parent_id])
                piece = (
                    f'<ol class="replies thread-continue"><li><a href="{url}#p{parent_id}">'
                    "Continue this thread&nbsp;→</a></li></ol>"
                ).encode()
                out.append(piece)
                length += len(piece)
                continued = True
            continue
        if depth > previous:
            piece = '<ol class="replies">' if previous >= 0 else ""
        else:
            piece = "</details></li>" + "</ol></details></li>" * (previous - depth)
        css = "post"
        if first_class and previous == -1:
            css += " " + first_class
        piece += f'<li class="{css}" id="p{post_id}"><details open>{fragment}'
        piece = piece.encode()
        out.append(piece)
        length += len(piece)
        slots[post_id] = length
        previous = depth
        continued = False
    if previous >= 0:
        out.append(b"</details></li>" + b"</ol></details></li>" * previous)
    out.append(b"</ol>")
    return ThreadHTML(b"".join(out), slots)


def post_tools(*, links: Iterable[tuple[str, str]]) -> str:
    """A reader's own controls for one post, as a small list of links."""
    items = "".join(f'<a href="{escape(url)}">{escape(label)}</a>' for url, label in links)
    return f'<p class="post-tools">{items}</p>' if items else ""
