"""threads/complexity.py: what the cheap checks refuse before any parsing, and what not."""

import pytest

from threads import complexity

from .hostile import SHAPES
from .test_rendering import ORDINARY


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
    [("plain", 0), ("- a", 1), ("- > 1. a", 3), ("    - a", 3), ("> > > a", 3), ("---", 0)],
)
def test_nesting_counts_markers_and_indentation(line, depth):
    assert complexity._nesting(line) == depth


def test_link_scans_count_what_the_parser_reads():
    assert complexity._link_scan("[a](b) [c](d)") == 2 + 2 + 2 + 2
    assert complexity._link_scan("[[[") == 3 + 2 + 1
    assert complexity._link_scan("\\[\\[\\[") == 0
