"""threads/complexity.py: what the cheap checks refuse before any parsing, and what not."""

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads import complexity, rendering

from .hostile import SHAPES
from .test_rendering import ORDINARY, _list_trees, _written


@pytest.mark.parametrize(
    "shape", ["[ runs", "[]( runs", "[a]( runs", "![a]( runs", "[^ runs", "<a runs",
              "<http://a runs", "- nesting", "nested brackets", "( runs in a link",
              "<a space runs", "<a@ runs", "> nesting", "indented nesting"],
)  # fmt: skip
def test_the_shapes_the_review_found_are_refused_before_any_parsing(shape):
    with pytest.raises(complexity.TooComplex):
        complexity.check_complexity(SHAPES[shape](50_000))


@pytest.mark.parametrize(
    "body",
    [
        ORDINARY * 500,
        ("See [the docs](https://example.org/a_(b)) and [1], a[i] < b[j], x<y.\n\n") * 700,
        "```\n" + "arr[i = (f(x\n" * 3_500 + "```\n",
        "\\[" * 20_000,
        "<b>bold</b> <i>it</i>\n" * 2_000,
        "- " * 20 + "x",
    ],
    ids=["ordinary", "prose", "code", "escaped", "tags", "nested-20"],
)
def test_ordinary_posts_of_the_longest_size_pass(body):
    complexity.check_complexity(body)


@pytest.mark.parametrize(
    ("line", "depth"),
    [("plain", 0), ("- a", 1), ("- > 1. a", 3), ("    - a", 3), ("> > > a", 3), ("---", 0),
     ("  - a", 2), ("1234567890. a", 1), ("1234567890. 1234567890. a", 2)],
)  # fmt: skip
def test_nesting_counts_markers_and_indentation(line, depth):
    assert complexity._nesting(line) == depth


def _nested(depth: int, marker: str) -> str:
    """A list `depth` deep, each level indented to the text of the item above, as on GitHub."""
    return "".join(" " * (len(marker) + 1) * level + f"{marker} x\n" for level in range(depth))


@pytest.mark.parametrize(
    ("marker", "allowed"), [("-", 20), ("*", 20), ("1.", 14), ("10.", 10), ("1234567890.", 4)]
)
def test_lists_nested_by_the_width_of_their_markers_are_refused_past_the_limit(marker, allowed):
    """The estimate counts two spaces a level: wider markers are refused sooner than 20 deep."""
    complexity.check_complexity(_nested(allowed, marker))
    with pytest.raises(complexity.TooComplex, match="nested more than 20 deep"):
        complexity.check_complexity(_nested(allowed + 1, marker))

    with pytest.raises(complexity.TooComplex, match="nested more than 20 deep"):
        complexity.check_complexity(_nested(21, marker))
    with pytest.raises(complexity.TooComplex, match="nested more than 20 deep"):
        complexity.check_complexity(_nested(21, marker) * 2_000)  # the longest size


def test_lists_nested_by_two_spaces_render_up_to_the_limit():
    assert rendering._render(_nested(20, "-")).count("<ul>") == 20


@examples(max_examples=200, deadline=None)
@given(_list_trees(), st.booleans())
def test_the_nesting_estimate_is_never_below_the_nesting_rendered(tree, loose):
    text, _, depth = _written(tree, github=True, loose=loose)

    assert max(complexity._nesting(line) for line in text.split("\n")) >= depth


def test_link_scans_count_what_the_parser_reads():
    assert complexity._link_scan("[a](b) [c](d)") == 2 + 2 + 2 + 2
    assert complexity._link_scan("[[[") == 3 + 2 + 1
    assert complexity._link_scan("\\[\\[\\[") == 0
