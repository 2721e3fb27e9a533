import contextlib
import re
import threading
import time
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads import fragments, rendering, services

from .factories import ReplyFactory
from .helpers import opening_post
from .hostile import SHAPES

md = rendering.markdown_to_html


# --- Markdown -----------------------------------------------------------------------


def test_fenced_code_keeps_its_language_as_a_class():
    html = md("```python\nprint('<hi>')\n```")

    assert html == ("<pre><code class=\"language-python\">print('&lt;hi&gt;')\n</code></pre>")


def test_a_language_class_that_is_not_a_name_is_dropped():
    assert md("```c++\ncode\n```") == "<pre><code>code\n</code></pre>"


def test_tables_keep_their_alignment():
    html = md("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |")

    assert '<th align="left">a</th>' in html
    assert '<th align="center">b</th>' in html
    assert '<td align="right">3</td>' in html
    assert "<table>" in html
    assert "<tbody>" in html


def test_lists():
    assert md("- one\n- two") == "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    assert md("3. three\n4. four") == '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'


def test_single_line_breaks_are_kept():
    assert md("first line\nsecond line") == "<p>first line<br>\nsecond line</p>"


def test_basic_inline_markup():
    assert md("**b** _i_ `c` ~~no~~") == (
        "<p><strong>b</strong> <em>i</em> <code>c</code> ~~no~~</p>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<iframe src="https://example.org/"></iframe>',
        '<div onclick="alert(1)">x</div>',
        "<style>body{}</style>",
    ],
)
def test_raw_html_is_shown_as_the_text_that_was_typed(source):
    html = md(source)

    assert "<script" not in html
    assert "<iframe" not in html
    assert "<div" not in html
    assert "<style" not in html
    assert "&lt;" in html


def test_allowed_raw_tags_lose_their_event_attributes():
    html = md('<b onclick="alert(1)">bold</b> <img src="x.png" onerror="alert(1)">')

    assert html == '<p><b>bold</b> &lt;img src="x.png" onerror="alert(1)"&gt;</p>'


def test_images_become_links_so_nothing_loads_from_other_sites():
    html = md('![a cat](https://example.org/cat.png "Cat") and ![ref][c]\n\n[c]: /c.png')

    assert html == (
        '<p><a href="https://example.org/cat.png" title="Cat" rel="nofollow ugc">a cat</a>'
        ' and <a href="/c.png" rel="nofollow ugc">ref</a></p>'
    )
    assert md("![x](javascript:alert(1))") == "<p><a>x</a></p>"


def test_file_names_are_not_mistaken_for_addresses():
    html = md("see main.py and readme.md, or www.example.org")

    assert html == (
        '<p>see main.py and readme.md, or <a href="http://www.example.org" '
        'rel="nofollow ugc">www.example.org</a></p>'
    )


def test_html_comments_are_dropped():
    assert "secret" not in md("before <!-- secret --> after")


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
    ],
)
def test_dangerous_links_lose_their_href(href):
    html = md(f"[click]({href}) ![img]({href})")

    assert "href" not in html
    assert "src" not in html
    assert "<a>click</a>" in html


@pytest.mark.parametrize(
    "href",
    ["http://example.org/a", "https://example.org/b?c=d", "mailto:someone@example.org", "/t/1/x/"],
)
def test_safe_links_are_kept_with_nofollow_ugc(href):
    html = md(f"[link]({href})")

    assert html == f'<p><a href="{href}" rel="nofollow ugc">link</a></p>'


def test_an_author_cannot_choose_rel_or_target():
    html = md('<a href="https://example.org/" rel="me" target="_blank">x</a>')

    assert html == '<p><a href="https://example.org/" rel="nofollow ugc">x</a></p>'


def test_bare_urls_are_linkified():
    html = md("see https://example.org/page and http://example.com")

    assert '<a href="https://example.org/page" rel="nofollow ugc">' in html
    assert '<a href="http://example.com" rel="nofollow ugc">' in html


def test_bare_urls_in_code_are_not_linkified():
    html = md("`https://example.org/inline`\n\n```\nhttps://example.org/block\n```")

    assert "<a" not in html
    assert "https://example.org/inline" in html
    assert "https://example.org/block" in html


def test_email_addresses_are_not_linkified():
    assert md("write to someone@example.org") == "<p>write to someone@example.org</p>"


# --- Nested lists, as on GitHub ------------------------------------------------------


def test_lists_nest_by_two_spaces():
    assert md("- a\n  - b\n    - c\n- d") == (
        "<ul>\n<li>a<ul>\n<li>b<ul>\n<li>c</li>\n</ul>\n</li>\n</ul>\n</li>\n<li>d</li>\n</ul>"
    )


def test_ordered_lists_nest_by_three_spaces_and_two_are_not_enough():
    assert md("1. one\n   1. sub\n2. two") == (
        "<ol>\n<li>one<ol>\n<li>sub</li>\n</ol>\n</li>\n<li>two</li>\n</ol>"
    )
    # As on GitHub: two spaces do not reach the text of "1. ", so it is the next item.
    assert md("1. one\n  1. two") == "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"


def test_mixed_lists_nest_under_the_text_of_each_item():
    assert md("1. one\n   - sub\n     1. subsub\n2. two") == (
        "<ol>\n<li>one<ul>\n<li>sub<ol>\n<li>subsub</li>\n</ol>\n</li>\n</ul>\n</li>\n"
        "<li>two</li>\n</ol>"
    )


def test_lists_nested_by_four_spaces_still_nest():
    assert md("- a\n    - b\n        - c") == md("- a\n  - b\n    - c")
    assert md("1. one\n    1. sub") == md("1. one\n   1. sub")


def test_a_line_back_at_a_shallower_item_continues_that_item():
    assert md("- a\n  - b\n\n  more of a\n\n- c") == (
        "<ul>\n<li>\n<p>a</p>\n<ul>\n<li>b</li>\n</ul>\n<p>more of a</p>\n</li>\n"
        "<li>\n<p>c</p>\n</li>\n</ul>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "text\n\n    code\n      - more",
        "- a\n  - b\n\ntext\n\n    code\n      - more",  # the list ended before it
        "Text\n- not a list\n  - still text\n\n    code\n      - more",
    ],
    ids=["no list", "after a list", "after text like a list"],
)
def test_code_indented_by_four_spaces_outside_lists_is_still_code(source):
    assert md(source).endswith("<pre><code>code\n  - more\n</code></pre>")
    assert rendering.nest_lists(source.split("\n"))[-2:] == ["    code", "      - more"]


def test_code_in_a_list_item_is_indented_four_spaces_past_the_items_text():
    expected = "<li>\n<p>a</p>\n<pre><code>code\n</code></pre>\n</li>"

    assert expected in md("- a\n\n      code\n\n- b")
    assert expected in md("1. a\n\n       code\n\n2. b")
    # Four spaces reach only the item's text, as on GitHub and as before.
    assert md("- a\n\n    not code") == "<ul>\n<li>\n<p>a</p>\n<p>not code</p>\n</li>\n</ul>"


def test_fenced_code_is_kept_as_typed_and_a_fence_in_an_item_stays_in_it():
    html = md("- a\n  - b\n\n```\n- x\n  - y\n```\n\n- c\n  - d")

    assert "<pre><code>- x\n  - y\n</code></pre>" in html
    assert html.count("<ul>") == 4
    # Python-Markdown takes a fence at the margin only: one in an item is text, of the item.
    assert md("1. Install:\n\n   ```\n   pip install x\n   ```\n\n2. Run") == (
        "<ol>\n<li>\n<p>Install:</p>\n<p><code>pip install x</code></p>\n</li>\n"
        "<li>\n<p>Run</p>\n</li>\n</ol>"
    )


def test_a_heading_ends_a_list():
    assert md("- a\n# H\n  - b") == "<ul>\n<li>a</li>\n</ul>\n<h2>H</h2>\n<ul>\n<li>b</li>\n</ul>"


@pytest.mark.parametrize(
    ("lines", "nested"),
    [
        (["- a", "# H", "  - b"], ["- a", "# H", "  - b"]),
        (["- a", "* * *", "  - b"], ["- a", "* * *", "  - b"]),
        (["- a", "===", "  - b"], ["- a", "===", "  - b"]),  # "- a" is a heading
        (["- a", "  ---", "  - b"], ["- a", "  ---", "  - b"]),
        (["| a | b |", "|---|---|", "- x", "  - y"], ["| a | b |", "|---|---|", "- x", "  - y"]),
        (["    code", "- a", "  - b"], ["    code", "- a", "    - b"]),  # a block after code
        (["# H", "- a", "  - b"], ["# H", "- a", "    - b"]),
        (["text", "- a", "  - b"], ["text", "- a", "  - b"]),  # no blank line: not a list
        (["- a", "lazy", "  - b"], ["- a", "lazy", "    - b"]),
        (["- a", "", "  para", "", "  - b"], ["- a", "", "    para", "", "    - b"]),
        (["- a", "", "text", "", "  - b"], ["- a", "", "text", "", "  - b"]),
    ],
)
def test_lists_end_where_python_markdown_ends_them(lines, nested):
    assert rendering.nest_lists(lines) == nested


def test_the_formatting_helps_list_example_renders_as_it_says():
    source = (
        "Things to bring:\n\n- a router\n- cables\n  - two short ones\n  - one long one\n\n"
        "1. unplug\n2. wait ten seconds\n   1. count them\n3. plug back in"
    )

    assert md(source) == (
        "<p>Things to bring:</p>\n<ul>\n<li>a router</li>\n<li>cables<ul>\n"
        "<li>two short ones</li>\n<li>one long one</li>\n</ul>\n</li>\n</ul>\n"
        "<ol>\n<li>unplug</li>\n<li>wait ten seconds<ol>\n<li>count them</li>\n</ol>\n"
        "</li>\n<li>plug back in</li>\n</ol>"
    )


@st.composite
def _list_trees(draw, depth=0):
    """A list as (marker, items), each item (continued in a paragraph, its sub-list or None)."""
    marker = draw(st.sampled_from(["-", "*", "+", "1.", "10."]))
    items = []
    for _ in range(draw(st.integers(1, 3))):
        sub = draw(_list_trees(depth + 1)) if depth < 5 and draw(st.booleans()) else None
        items.append((draw(st.booleans()), sub))
    return marker, items


def _written(tree, *, github: bool, loose: bool) -> tuple[str, int, int]:
    """The list's text, nested as on GitHub or by four spaces; its items and depth."""
    lines, count, depth = [], 0, 0

    def write(tree, column, level):
        nonlocal count, depth
        depth = max(depth, level)
        marker, items = tree
        text = column + len(marker) + 1 if github else column + 4
        for continued, sub in items:
            count += 1
            lines.append(f"{' ' * column}{marker} item {count}")
            if continued and loose:  # (Python-Markdown runs a tight item into a paragraph)
                lines.append(f"{' ' * text}more of it")
            if sub:
                write(sub, text, level + 1)

    write(tree, 0, 1)
    return ("\n\n" if loose else "\n").join(lines), count, depth


_plain_markdown = rendering._Renderer().markdown  # what Python-Markdown alone makes of it
_plain_markdown.preprocessors.deregister("nested_lists")


@examples(max_examples=200, deadline=None)
@given(_list_trees(), st.booleans())
def test_lists_nested_as_on_github_render_as_the_same_list_nested_by_four_spaces(tree, loose):
    github, items, depth = _written(tree, github=True, loose=loose)
    four, _, _ = _written(tree, github=False, loose=loose)
    expected = _plain_markdown.reset().convert(four)

    assert rendering._renderer.markdown.reset().convert(github) == expected
    assert rendering._render(github) == rendering._render(four)
    assert expected.count("<li>") == items
    assert _list_depth(expected) == depth


def _list_depth(html: str) -> int:
    depth = deepest = 0
    for closing, _tag in re.findall(r"<(/?)(ul|ol)\b", html):
        depth += -1 if closing else 1
        deepest = max(deepest, depth)
    return deepest


_LINES = st.lists(
    st.builds(
        lambda indent, text: " " * indent + text,
        st.integers(0, 10),
        st.sampled_from(["- a", "* b", "1. c", "10. d", "text", "> q", "# h", "---", "```", ""]),
    ),
    max_size=30,
)


@examples(max_examples=300, deadline=None)
@given(_LINES)
def test_nesting_lists_changes_only_indents_and_at_most_doubles_them(lines):
    nested = rendering.nest_lists(lines)

    assert [line.lstrip(" ") for line in nested] == [line.lstrip(" ") for line in lines]
    for before, after in zip(lines, nested, strict=True):
        assert len(after) - len(after.lstrip(" ")) <= 2 * (len(before) - len(before.lstrip(" ")))
    if not any(rendering._LIST_ITEM.match(line) for line in lines):
        assert nested == lines


# --- Fragments ----------------------------------------------------------------------

WHEN = datetime(2025, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def test_headings_never_outrank_the_pages_own_title():
    assert md("# One\n\n## Two\n\n###### Six") == "<h2>One</h2>\n<h3>Two</h3>\n<h6>Six</h6>"
    assert md("<h1>typed</h1>") == "&lt;h1&gt;typed&lt;/h1&gt;"


# --- The cost of a render ------------------------------------------------------------------

ANSWER_SECONDS = 2.0  # the most that any text may cost a request

ORDINARY = "# Notes\n\n- one\n- [two](https://example.org/)\n\n1. a\n2. b\n\nPara *x*\nline"
ORDINARY_HTML = (
    "<h2>Notes</h2>\n<ul>\n<li>one</li>\n"
    '<li><a href="https://example.org/" rel="nofollow ugc">two</a></li>\n</ul>\n'
    "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n<p>Para <em>x</em><br>\nline</p>"
)


@pytest.mark.parametrize("marker", ["- ", "* ", "+ ", "1. "])
def test_deeply_nested_lists_are_refused_and_leave_the_renderer_as_it_was(marker):
    """A recursion error inside Python-Markdown used to leave its parser broken for good."""
    assert md(ORDINARY) == ORDINARY_HTML

    with pytest.raises(rendering.TooComplex, match="nested more than 20 deep"):
        md(marker * 500 + "x")

    assert md(ORDINARY) == ORDINARY_HTML


@pytest.mark.parametrize("marker", ["- ", "* ", "1. "])
def test_a_parse_that_fails_inside_the_worker_gets_a_fresh_renderer(marker):
    """Past the cheap checks, the worker's own renderer is renewed after any failure."""
    with pytest.raises(rendering.TooComplex, match="nested too deeply"):
        rendering._render(marker * 500 + "x")  # what the worker does, in this process

    assert rendering._render(ORDINARY) == ORDINARY_HTML


def test_nesting_up_to_the_limit_is_kept():
    html = md("- " * 20 + "x")

    assert html.count("<ul>") == 20
    assert md("".join("  " * i + "- x\n" for i in range(20))).count("<ul>") == 20
    assert md("> " * 20 + "x").count("<blockquote>") == 20


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_hostile_shape_is_refused_or_rendered_within_the_limit(shape):
    body = SHAPES[shape](50_000)
    began = time.perf_counter()

    with contextlib.suppress(rendering.TooComplex):
        md(body)

    assert time.perf_counter() - began < ANSWER_SECONDS
    assert md(ORDINARY) == ORDINARY_HTML


def test_a_render_past_the_time_limit_is_stopped_and_the_next_one_works():
    body = SHAPES["lines of -"](50_000)  # passes the cheap checks, then takes seconds
    began = time.perf_counter()

    with pytest.raises(rendering.TooComplex, match="took too long to format"):
        md(body)

    assert time.perf_counter() - began < ANSWER_SECONDS
    assert md(ORDINARY) == ORDINARY_HTML


def test_big_tables_are_refused():
    rows = "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 999  # and the heading row
    # Rendered here, without the time limit: a busy test machine may take a second for it.
    assert rendering._render(rows).count("<tr>") == 1_000

    with pytest.raises(rendering.TooComplex, match="tables of more than 1,000 rows"):
        md(rows + "| 1 | 2 |\n")


@pytest.mark.parametrize(
    "body",
    [
        # Links, brackets and angle signs as people write them.
        ("See [the docs](https://example.org/a_(b)) and [1], a[i] < b[j], x<y.\n\n") * 70,
        # Code is not parsed for links: unmatched brackets inside fences cost nothing.
        "```\n" + "arr[i = (f(x\n" * 350 + "```\n",
        "\\[" * 2_000,  # escaped brackets
        "<b>bold</b> <i>it</i>\n" * 200,
    ],
    ids=["prose", "code", "escaped", "tags"],
)
def test_ordinary_posts_render(body):
    # A tenth of the longest size, so that a busy test machine stays far from the time
    # limit (test_complexity.py checks them at the longest size).
    assert md(body)


def test_many_texts_render_together_and_say_which_was_refused():
    results = rendering.markdown_to_html_each(["*a*", "- " * 30 + "x", "b"])

    assert results[0] == "<p><em>a</em></p>"
    assert isinstance(results[1], rendering.TooComplex)
    assert results[1].index == 1
    assert results[2] == "<p>b</p>"


def test_unformatted_html_escapes_the_text():
    assert rendering.unformatted_html("<b>x</b>\n[") == "<pre>&lt;b&gt;x&lt;/b&gt;\n[</pre>"


@pytest.mark.django_db
def test_fragment_has_byline_time_and_links(topic, other_member):
    op = opening_post(topic)
    reply = ReplyFactory(parent=op, author=other_member, body="A *reply*", created=WHEN)

    fragment = reply.fragment

    assert '<span class="author">@bob</span>' in fragment
    assert '<time datetime="2025-03-04T05:06:07Z">4 Mar 2025, 05:06 UTC</time>' in fragment
    assert "<p>A <em>reply</em></p>" in fragment
    assert f'href="#p{reply.pk}"' in fragment
    assert f'href="#p{op.pk}"' in fragment
    assert f'href="/p/{reply.pk}/reply/"' in fragment
    assert 'href="/u/bob/"' in fragment
    assert "edited" not in fragment


@pytest.mark.django_db
def test_fragment_time_is_in_utc(member):
    from zoneinfo import ZoneInfo

    moment = datetime(2025, 3, 4, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    topic = services.topic_create(author=member, title="t", body="b", created=moment)

    assert '<time datetime="2025-03-04T07:00:00Z">' in opening_post(topic).fragment


@pytest.mark.django_db
def test_a_top_level_post_has_no_parent_link(topic):
    op = opening_post(topic)

    assert op.fragment.count('href="#p') == 1


@pytest.mark.django_db
def test_an_edited_post_says_so(topic):
    post = services.post_edit(post=opening_post(topic), editor=topic.author, body="changed")

    assert '<span class="edited">· edited <time datetime="' in post.fragment


@pytest.mark.django_db
def test_a_deleted_post_is_a_placeholder(topic, other_member):
    reply = ReplyFactory(topic=topic, author=other_member, body="my secret words")

    post = services.post_delete(post=reply, user=other_member)

    assert "[deleted by its author]" in post.fragment
    assert "secret" not in post.fragment
    assert "/reply/" not in post.fragment
    assert f'href="#p{post.pk}"' in post.fragment


@pytest.mark.django_db
def test_a_removed_post_is_a_placeholder(topic, other_member, moderator):
    reply = ReplyFactory(topic=topic, author=other_member, body="buy cheap things")

    post = services.post_remove(post=reply, moderator=moderator, reason="spam")

    assert "[removed by a moderator]" in post.fragment
    assert "cheap" not in post.fragment
    assert "spam" not in post.fragment  # the reason is for moderators
    assert "/reply/" not in post.fragment


# --- The thread loop ----------------------------------------------------------------


class _Tree(HTMLParser):
    """Checks that ol/li/details are balanced and records, for each post, its parent post."""

    NESTED = {"ol", "li", "details", "summary", "p", "div", "a", "span"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.parent_of: dict[int, int | None] = {}
        self.order: list[int] = []
        self.continue_links: list[tuple[int | None, str]] = []
        self._in_continue: int | None = None
        self.feed(html)
        self.close()
        assert self.stack == [], f"unclosed: {self.stack}"

    def _enclosing_post(self) -> int | None:
        for tag, post_id in reversed(self.stack):
            if tag == "li" and post_id:
                return int(post_id[1:])
        return None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and attrs.get("id"):
            post_id = int(attrs["id"][1:])
            self.parent_of[post_id] = self._enclosing_post()
            self.order.append(post_id)
        if tag == "ol" and "thread-continue" in (attrs.get("class") or ""):
            self._in_continue = len(self.stack)
        if tag == "a" and self._in_continue is not None:
            self.continue_links.append((self._enclosing_post(), attrs["href"]))
        if tag in self.NESTED:
            self.stack.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        if tag in self.NESTED:
            assert self.stack, f"</{tag}> without an opening tag"
            opened, _ = self.stack.pop()
            assert opened == tag, f"</{tag}> closes <{opened}>"
            if tag == "ol" and self._in_continue == len(self.stack):
                self._in_continue = None


def _rows(*spec):
    """Rows from (id, level, parent_id) triples, each with a tiny fragment."""
    return [(i, level, parent, f"<summary>post {i}</summary>") for i, level, parent in spec]


def _render(rows, tools=None, **kwargs):
    kwargs.setdefault("base_level", 0)
    kwargs.setdefault("max_depth", 12)
    return b"".join(fragments.thread_html(rows, **kwargs).with_tools(tools or {})).decode()


def test_thread_html_nests_replies_under_their_parents():
    rows = _rows(
        (1, 0, None),
        (2, 1, 1),
        (3, 2, 2),
        (4, 3, 3),
        (5, 1, 1),
        (6, 0, None),
        (7, 1, 6),
        (8, 2, 7),
        (9, 0, None),
    )

    tree = _Tree(_render(rows))

    assert tree.order == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert tree.parent_of == {row[0]: row[2] for row in rows}


def test_thread_html_of_nothing_is_an_empty_list():
    assert _render([]) == '<ol class="thread"></ol>'


def test_thread_html_wraps_each_fragment_in_an_open_details():
    html = _render(_rows((1, 0, None), (2, 1, 1)))

    assert html.count("<details open><summary>post ") == 2
    assert _Tree(html).parent_of == {1: None, 2: 1}


def test_thread_html_marks_only_the_first_post():
    tree_html = _render(_rows((1, 0, None), (2, 0, None)), first_class="opening-post")

    assert tree_html.count("opening-post") == 1
    assert '<li class="post opening-post" id="p1">' in tree_html


def test_thread_html_ends_deep_threads_with_one_continue_link():
    chain = [(i, i - 1, i - 1 or None) for i in range(1, 16)]  # levels 0..14
    rows = _rows(*[row for row in chain if row[1] <= 13], (20, 13, 13), (21, 12, 12))

    tree = _Tree(_render(rows))

    assert tree.order == [*range(1, 14), 21]
    assert tree.continue_links == [(13, "/p/13/thread/#p13")]
    assert tree.parent_of[21] == 12


def test_thread_html_continue_links_for_sibling_branches():
    rows = _rows((1, 0, None), (2, 1, 1), (3, 2, 2), (4, 1, 1), (5, 2, 4), (6, 1, 1))

    tree = _Tree(_render(rows, max_depth=1))

    assert tree.order == [1, 2, 4, 6]
    assert tree.continue_links == [(2, "/p/2/thread/#p2"), (4, "/p/4/thread/#p4")]


def test_thread_html_counts_depth_from_the_base_level():
    rows = _rows((10, 5, 9), (11, 6, 10), (12, 7, 11), (13, 6, 10))

    tree = _Tree(_render(rows, base_level=5, max_depth=1))

    assert tree.order == [10, 11, 13]
    assert tree.parent_of == {10: None, 11: 10, 13: 10}
    assert tree.continue_links == [(11, "/p/11/thread/#p11")]


def test_thread_html_flat_context():
    rows = [(1, 0, None, "<summary>a</summary>"), (2, 0, 1, "<summary>b</summary>")]

    tree = _Tree(_render(rows, max_depth=0))

    assert tree.parent_of == {1: None, 2: None}
    assert tree.continue_links == []


def test_thread_html_inserts_each_posts_tools_in_that_post():
    tools = {2: fragments.post_tools(links=[("/p/2/edit/", "Edit")])}

    html = _render(_rows((1, 0, None), (2, 1, 1), (3, 2, 2)), tools=tools)

    assert html.count("post-tools") == 1
    start = html.index('id="p2"')
    assert start < html.index('href="/p/2/edit/"') < html.index('id="p3"')
    _Tree(html)


def test_thread_html_places_tools_right_after_each_fragment():
    thread = fragments.thread_html(
        _rows((1, 0, None), (2, 1, 1), (3, 0, None)), base_level=0, max_depth=12
    )
    tools = {1: "[one]", 3: "[three]", 99: "[not on this page]"}

    html = b"".join(thread.with_tools(tools))

    assert html == thread.html.replace(
        b"<summary>post 1</summary>", b"<summary>post 1</summary>[one]"
    ).replace(b"<summary>post 3</summary>", b"<summary>post 3</summary>[three]")
    assert thread.with_tools({}) == [thread.html]


def test_post_tools_escape_and_can_be_empty():
    assert fragments.post_tools(links=[]) == ""
    assert fragments.post_tools(links=[("/x/?a=1&b=2", "<Edit>")]) == (
        '<p class="post-tools"><a href="/x/?a=1&amp;b=2">&lt;Edit&gt;</a></p>'
    )


def test_a_render_that_cannot_start_in_time_is_refused_as_busy():
    """Renders queue for the workers; a request's waits at most RENDER_QUEUE_SECONDS."""
    slow = SHAPES["lines of -"](50_000)  # each holds a worker for the whole time limit

    def hold_a_worker() -> None:
        with contextlib.suppress(rendering.TooComplex):
            md(slow)

    ahead = [threading.Thread(target=hold_a_worker) for _ in range(rendering.RENDER_WORKERS)]
    for thread in ahead:
        thread.start()
    time.sleep(0.2)
    began = time.perf_counter()

    with pytest.raises(rendering.Busy):
        md("*waiting*")

    assert time.perf_counter() - began < rendering.RENDER_QUEUE_SECONDS + 0.3
    for thread in ahead:
        thread.join()
    assert md("*waiting*") == "<p><em>waiting</em></p>"


def test_a_batch_stops_at_its_first_refusal_when_asked():
    results = rendering.markdown_to_html_each(
        ["*a*", SHAPES["lines of -"](50_000), "*c*"], stop_at_refusal=True
    )

    assert results[0] == "<p><em>a</em></p>"
    assert isinstance(results[1], rendering.TooComplex)
    assert len(results) == 2
    assert (
        rendering.markdown_to_html_each(["*a*", "[" * 50_000], stop_at_refusal=True)[0].index == 1
    )


# --- Mentions -----------------------------------------------------------------------------

MENTIONABLE = {"alice": "/u/alice/", "bob.x": "/u/bob.x/"}


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("hi @alice.", '<p>hi <a class="mention" href="/u/alice/">@alice</a>.</p>'),
        ("@Alice!", '<p><a class="mention" href="/u/alice/">@Alice</a>!</p>'),
        (
            "@bob.x. and @bob.xy",
            '<p><a class="mention" href="/u/bob.x/">@bob.x</a>. and @bob.xy</p>',
        ),
        ("(@alice)", '<p>(<a class="mention" href="/u/alice/">@alice</a>)</p>'),
        ("@nobody", "<p>@nobody</p>"),
        ("mail bob@alice.com", "<p>mail bob@alice.com</p>"),
        ("`@alice`", "<p><code>@alice</code></p>"),
        ("    @alice", "<pre><code>@alice\n</code></pre>"),
        ("[@alice](https://e.org)", '<p><a href="https://e.org" rel="nofollow ugc">@alice</a></p>'),
        (
            "https://e.org/@alice",
            '<p><a href="https://e.org/@alice" rel="nofollow ugc">https://e.org/@alice</a></p>',
        ),
    ],
)
def test_a_mention_of_a_member_links_to_them_outside_code_and_links(source, html):
    assert rendering._render(source, MENTIONABLE) == html


def test_a_typed_mention_link_is_an_ordinary_link():
    html = rendering._render('<a class="mention" href="https://spam.example">x</a>', MENTIONABLE)

    assert 'class="mention"' not in html
    assert rendering.mention_links(html) == []


def test_the_mentions_of_a_text_are_found_before_rendering_at_most_fifty():
    assert rendering.mention_candidates("@Alice. and @b-") == {"alice.", "alice", "b-", "b"}
    many = " ".join(f"@m{n}" for n in range(500))
    assert len(rendering.mention_candidates(many)) == rendering.MAX_MENTION_LOOKUPS


def test_the_mention_links_of_a_rendered_text_in_order_each_once():
    html = rendering._render("@bob.x @alice @bob.x", MENTIONABLE)

    assert rendering.mention_links(html) == ["/u/bob.x/", "/u/alice/"]
