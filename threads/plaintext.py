"""The plain text of a post's sanitized HTML: for the search index and link previews.

Read from the HTML the renderer stored rather than from the Markdown source,
so that what is indexed and quoted is what readers see: no Markdown syntax,
no link targets, an image's description instead of its address. Blocks
(paragraphs, list items, cells, quotes) are kept apart by a line break, so
words of two paragraphs never run together.
"""

import re
from html.parser import HTMLParser

from django.utils.text import Truncator

_BLOCKS = frozenset(
    {
        "p", "div", "br", "hr", "li", "ul", "ol", "blockquote", "pre", "table", "tr",
        "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "dl",
    }
)  # fmt: skip
# Control characters (search snippets mark matches with two of them:
# threads.selectors.search): never part of a post's text.
_UNWANTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r" *\n[ \n]*")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_text(html: str) -> str:
    """The text of sanitized HTML: blocks on lines of their own, spaces collapsed."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = _UNWANTED.sub("", "".join(parser.parts))
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def excerpt(text: str, length: int) -> str:
    """The text on one line, cut at a word to at most `length` characters (with an ellipsis)."""
    return Truncator(" ".join(text.split())).chars(length)
