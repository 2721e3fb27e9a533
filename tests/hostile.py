"""Post bodies that cost Python-Markdown, html.parser or bleach far more than their size.

Each shape makes a body of about `size` characters. The review of the forum
found the first ones (quadratic link parsing, unbounded list nesting, big
tables); the rest were found while bounding them. Used by the tests and by
`bench/hostile.py`.
"""

from collections.abc import Callable


def _repeat(unit: str, *, prefix: str = "", suffix: str = "") -> Callable[[int], str]:
    def body(size: int) -> str:
        return prefix + unit * max(1, (size - len(prefix) - len(suffix)) // len(unit)) + suffix

    return body


SHAPES: dict[str, Callable[[int], str]] = {
    # Python-Markdown reads from each [ to its ] (or the end), and from each ]( to its ).
    "[ runs": _repeat("["),
    "[ runs, closed once": _repeat("[", suffix="]"),
    "nested brackets": lambda size: "[" * (size // 2) + "]" * (size // 2),
    "[]( runs": _repeat("[]("),
    "[a]( runs": _repeat("[a]("),
    "![a]( runs": _repeat("![a]("),
    "[^ runs": _repeat("[^"),
    "![ runs": _repeat("!["),
    "[a][ runs": _repeat("[a]["),
    "( runs in a link": _repeat("(", prefix="[a]("),
    # html.parser reads from each < that opens a tag to the next >.
    "<a runs": _repeat("<a"),
    "<a space runs": _repeat("<a "),
    "<http://a runs": _repeat("<http://a"),
    "<a@ runs": _repeat("<a@"),
    "nested <b>": _repeat("<b>"),
    # Python-Markdown recurses once per level of nesting.
    "- nesting": _repeat("- ", suffix="x"),
    "* nesting": _repeat("* ", suffix="x"),
    "+ nesting": _repeat("+ ", suffix="x"),
    "1. nesting": _repeat("1. ", suffix="x"),
    "> nesting": _repeat("> ", suffix="x"),
    "- > nesting": _repeat("- > ", suffix="x"),
    "indented nesting": lambda size: "".join("  " * i + "- x\n" for i in range(400))[:size],
    # Sanitizing tables costs more than linear time in their rows.
    "table rows": _repeat("1|2\n", prefix="a|b\n-|-\n"),
    "one-cell table rows": _repeat("|\n"),
    # Block parsing that is quadratic in the lines of one paragraph.
    "unclosed ``` fences": _repeat("```x\n"),
    "unclosed ~~~ fences": _repeat("~~~x\n"),
    "one unclosed fence": _repeat("a\n", prefix="```\n"),
    "lines of -": _repeat("-\n"),
    "setext headings": _repeat("a\n=\n"),
    "one-letter lines": _repeat("a\n"),
    "*_ runs": _repeat("*_"),
    # Found by attacks on the forum once the shapes above were bounded.
    "-a runs (linkify)": _repeat("-a"),
    "=\\n lines": _repeat("=\n"),
    "* * * rules": _repeat("* * *\n"),
    "# headings": _repeat("# a\n"),
    "loose list": _repeat("- a\n\n"),
    "loose numbered list": _repeat("1. a\n\n"),
    "lazy quote": _repeat("b\n", prefix="> a\n"),
    "***a runs": _repeat("***a"),
    "wide table": lambda size: "|".join(["a"] * (size // 4)) + "\n" + "|".join(["-"] * (size // 4)),
    "<a@b.c> autolinks": _repeat("<a@b.c> "),
}
