"""The HTML of posts in threads and of topics in lists, built when they are written,
and the one pass that joins a page's stored fragments into nested lists.

Nothing here formats Markdown (that is `rendering`): a post's fragment wraps
its stored body HTML with its byline and links.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from . import avatars
from .conversation import iso_utc


def _time_element(moment: datetime) -> str:
    label = moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")
    return f'<time datetime="{iso_utc(moment)}">{label}</time>'


def _byline(author) -> dict:
    """What a post's byline and a topic's row show of their author."""
    return {
        "author_name": author.username,
        "display_name": author.display_name,
        "avatar": mark_safe(avatars.avatar_html(author)),
    }


def post_fragment(post) -> str:
    """The post as every reader sees it in a thread: byline, body and links.

    The thread loop wraps it in `<li><details>`; the `<summary>` holds only
    the avatar and text, so collapsing never hides a link inside a button.
    """
    return render_to_string(
        "threads/post_fragment.html",
        {
            "post": post,
            **_byline(post.author),
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
            **_byline(topic.author),
            "last_activity": mark_safe(_time_element(topic.last_activity)),
        },
    ).strip()


@dataclass(frozen=True)
class ThreadHTML:
    """A thread as every reader sees it, as UTF-8, and where each reader's changes go.

    Kept as bytes, so that serving a big page never copies or encodes it again.
    """

    html: bytes
    slots: dict[int, int]  # post id: byte offset just after the post's fragment
    opens: dict[int, int]  # post id: byte offset of the `open` attribute of its <details>

    def with_tools(
        self, tools: Mapping[int, str], folded: Iterable[int] = (), new: Iterable[int] = ()
    ) -> list[bytes]:
        """The thread with this reader's controls (edit, moderate) under their posts,
        the posts in `folded` (of members they ignore) folded, and those in `new`
        (new to them) marked with the class `new`.

        In pieces, for the response to join once.
        """
        edits = [(self.slots[i], 0, tools[i].encode()) for i in tools if i in self.slots]
        edits += [(self.opens[i], len(_OPEN), _IGNORED) for i in folded if i in self.opens]
        # The class attribute of the post's <li> ends just before `" id="p{id}"><details`.
        edits += [
            (self.opens[i] - len(f'" id="p{i}"><details'), 0, _NEW) for i in new if i in self.opens
        ]
        parts, start = [], 0
        for offset, skip, piece in sorted(edits):
            parts += (self.html[start:offset], piece)
            start = offset + skip
        parts.append(self.html[start:] if start else self.html)
        return parts


# What folds a post of a member the reader ignores: its <details> is not open.
_OPEN = b" open"
_IGNORED = b' class="is-ignored"'
_NEW = b" new"


def thread_html(
    rows: Iterable[tuple], *, base_level: int, max_depth: int, first_class: str = ""
) -> ThreadHTML:
    """Nest the fragments of a (tree_id, lft)-ordered page into `<ol>` lists.

    Each row starts with (id, level, parent_id, fragment); a seventh item, when
    there is one, is the number of replies under the post, which its summary
    then shows while the post is folded. Other items are ignored.

    One pass, no template per post: a list is opened when the level goes up
    and closed when it comes down. Rows deeper than `base_level + max_depth`
    are not shown; the first of them under a post becomes one "Continue this
    thread" link to that post's own page.
    """
    out = [b'<ol class="thread">']
    length = len(out[0])
    slots, opens = {}, {}
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
        if len(row) > 6:
            fragment = fragment.replace("</summary>", _fold_label(row[6]) + "</summary>", 1)
        piece += f'<li class="{css}" id="p{post_id}"><details'
        opens[post_id] = length + len(piece.encode())
        piece = (piece + f" open>{fragment}").encode()
        out.append(piece)
        length += len(piece)
        slots[post_id] = length
        previous = depth
        continued = False
    if previous >= 0:
        out.append(b"</details></li>" + b"</ol></details></li>" * previous)
    out.append(b"</ol>")
    return ThreadHTML(b"".join(out), slots, opens)


def _fold_label(replies: int) -> str:
    """What a folded post's summary adds: that its text is folded, and how many replies."""
    if not replies:
        return '<span class="fold-label"> · folded</span>'
    return (
        f'<span class="fold-label"> · folded, with {replies} '
        f"{'reply' if replies == 1 else 'replies'}</span>"
    )


def post_tools(*, links: Iterable[tuple[str, str]]) -> str:
    """A reader's own controls for one post, as a small list of links."""
    items = "".join(f'<a href="{escape(url)}">{escape(label)}</a>' for url, label in links)
    return f'<p class="post-tools">{items}</p>' if items else ""


def pending_replies(pending: Iterable) -> str:
    """A reader's own replies awaiting approval, as a list of replies marked so.

    Added per request where they will go (under their parent, or after the
    thread), never into the shared page.
    """
    return render_to_string(
        "threads/pending_replies.html",
        {"pending": [(p, mark_safe(_time_element(p.created))) for p in pending]},
    ).strip()
