"""How costly a text is to format, estimated before any parsing (no markdown here).

Python-Markdown and html.parser take quadratic time over some shapes of text
and recurse once per level of list nesting; `check_complexity` refuses those
shapes in linear time, a few milliseconds for the longest post. The render
itself is bounded in `threads.rendering`, which uses these.
"""

import re

# Lists and quotes nested deeper than this are refused: Python-Markdown
# recurses once per level and runs out of stack a few hundred levels down.
MAX_NESTING = 20
# Python-Markdown scans from each `[` to its matching `]` (or the end of the
# paragraph), and from each `](` to its `)`; html.parser from each `<` that
# opens a tag to the next `>`. These bound the sums of those scans: above any
# real post, and below a second of work on a small machine.
MAX_LINK_SCAN = 2_000_000
MAX_TAG_SCAN = 20_000_000
# Sanitizing a big table takes time that grows faster than its rows.
MAX_TABLE_ROWS = 1_000

TOO_COMPLEX = "This post is too complex to format; simplify its links or lists."


class TooComplex(Exception):
    """A text whose formatting would cost more than a render may.

    `index` says which of several texts rendered together it was.
    """

    def __init__(self, detail: str = "", index: int = 0) -> None:
        super().__init__(detail, index)
        self.detail, self.index = detail, index
        self.message = TOO_COMPLEX + (f" ({detail})" if detail else "")


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# Python-Markdown takes any number of digits for an ordered item, not just nine.
_CONTAINER = re.compile(r"[ \t]*(?:>|(?:[-*+]|\d+[.)])(?=[ \t]|$))")
_INDENTED_ITEM = re.compile(r"( *)(?:[-*+]|\d+[.)])[ \t]")
_LINK_CHARS = re.compile(r"\\.|[\[\]()]")
_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")


def _without_code_blocks(source: str) -> list[list[str]]:
    """The text's paragraphs (runs of non-blank lines) as lines, fenced code left out.

    Python-Markdown formats neither links nor nesting inside a fence. This is
    an estimate, not a parser: a fence opens and closes on lines that start
    with three or more of the same backtick or tilde.
    """
    paragraphs, lines, fence = [], [], ""
    for line in source.split("\n"):
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
        elif match := _FENCE.match(line):
            fence = match.group(1)
        elif line.strip():
            lines.append(line)
            continue
        if lines:
            paragraphs.append(lines)
            lines = []
    return [*paragraphs, lines] if lines else paragraphs


def _nesting(line: str) -> int:
    """How deeply a line nests lists and quotes: `- > 1. x` is three deep, and an
    item indented by two levels is at least that.

    An item nests at most one level per two spaces of indentation (a sub-list
    indented to the text of `- `, see `rendering.nest_lists`), so this is never
    less than the depth the renderer reaches."""
    item = _INDENTED_ITEM.match(line)
    depth, position = len(item.group(1)) // 2 if item else 0, 0
    while match := _CONTAINER.match(line, position):
        depth, position = depth + 1, match.end()
    return depth


def _link_scan(paragraph: str) -> int:
    """The characters Python-Markdown's link parser reads in this paragraph.

    Each `[` reads to its matching `]`, or to the end when nothing closes it;
    each `](` reads likewise to its `)`, and so does every unclosed `(` after
    one. Backslash-escaped characters do not count.
    """
    scan, end = 0, len(paragraph)
    brackets, parens, link_starts, closes = [], [], [], {}
    for match in _LINK_CHARS.finditer(paragraph):
        char, position = match.group(), match.start()
        if char == "[":
            brackets.append(position)
        elif char == "]" and brackets:
            scan += position - brackets.pop()
        elif char == "(":
            parens.append(position)
            if paragraph[position - 1 : position] == "]":
                link_starts.append(position)
        elif char == ")" and parens:
            closes[parens.pop()] = position
    scan += sum(end - position for position in brackets)
    if link_starts:  # a link's address reads each unclosed `(` after it to the end
        scan += sum(end - position for position in parens if position > link_starts[0])
    return scan + sum(closes.get(position, end) - position for position in link_starts)


def _tag_scan(text: str) -> int:
    """The characters html.parser reads looking for the `>` of each tag opened."""
    scan, close = 0, -1
    for match in _TAG_OPEN.finditer(text):
        if close < match.start():
            close = text.find(">", match.start())
            close = len(text) if close < 0 else close
        scan += close - match.start()
    return scan


def check_complexity(source: str) -> None:
    """Refuse, cheaply and before any parsing, a text known to be costly to format.

    Linear in the length of the text; a few milliseconds for the longest post.
    """
    paragraphs = _without_code_blocks(source)
    if any(_nesting(line) > MAX_NESTING for lines in paragraphs for line in lines):
        raise TooComplex(f"lists or quotes nested more than {MAX_NESTING} deep")
    if sum(_link_scan("\n".join(lines)) for lines in paragraphs) > MAX_LINK_SCAN:
        raise TooComplex("too many unmatched or nested brackets")
    if _tag_scan(source) > MAX_TAG_SCAN:
        raise TooComplex("too many unclosed < signs")
