"""The search box's language (threads.search_query)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads.search_query import MAX_LENGTH, MAX_WORDS, Query, QueryError, parse


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("zfs pool", Query(terms=("zfs", "pool"))),
        ('"zfs pool"  scrub', Query(terms=("zfs pool", "scrub"))),
        ('"  spaced   out "', Query(terms=("spaced out",))),
        ('kernel -docker -"big box"', Query(terms=("kernel",), excluded=("docker", "big box"))),
        ("x @alice", Query(terms=("x",), author="alice")),
        ("x author:Bob.2", Query(terms=("x",), author="Bob.2")),
        ("x in:general topic:12", Query(terms=("x",), category="general", topic=12)),
        ("x IN:Help Author:carol", Query(terms=("x",), category="Help", author="carol")),
        ("x in:a in:b", Query(terms=("x",), category="b")),  # the last one counts
        ('"author:bob" x', Query(terms=("author:bob", "x"))),  # quoted: words, not a filter
        ("foo:bar", Query(terms=("foo:bar",))),
        ("x x X", Query(terms=("x", "X"))),
        ("x -- - -& &&", Query(terms=("x",))),  # nothing to find in those
        ("x\x00y\x1fz", Query(terms=("x", "y", "z"))),
        ("élan ünïcode", Query(terms=("élan", "ünïcode"))),
        ('-"x y" z', Query(terms=("z",), excluded=("x y",))),
    ],
)
def test_what_people_type_is_read(text, query):
    assert parse(text) == query


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a word or a phrase to search for."),
        ("   &&  ", "Type a word or a phrase to search for."),
        ('""', "Type a word or a phrase to search for."),
        ("author:alice in:general", "Add a word to find: author:, @, in: and topic: only narrow"),
        ("@alice", "Add a word to find"),
        ("-spam", "Add a word to find: a search cannot be only words to leave out."),
        ('an "open quote', "A quotation mark is not closed"),
        ("x author:", "After author: or @, write a member's username"),
        ("x author:a/b", "After author: or @, write a member's username"),
        ("x in:", "After in:, write a category's short name"),
        ("x in:a/b", "After in:, write a category's short name"),
        ("x topic:abc", "After topic:, write a topic's number"),
        ("x topic:-1", "After topic:, write a topic's number"),
        ("x topic:٣", "After topic:, write a topic's number"),  # a digit, not an ASCII one
        (f"x topic:{2**63}", "After topic:, write a topic's number"),
        ("a " * (MAX_WORDS + 1), f"Use at most {MAX_WORDS} words in one search."),
        ('"' + "a " * MAX_WORDS + '" b', f"Use at most {MAX_WORDS} words in one search."),
        ("a" * (MAX_LENGTH + 1), f"A search can be at most {MAX_LENGTH} characters long."),
    ],
)
def test_what_cannot_be_searched_says_why(text, message):
    with pytest.raises(QueryError) as refused:
        parse(text)
    assert refused.value.message.startswith(message)


def test_the_longest_search_is_read():
    assert parse("a" * MAX_LENGTH) == Query(terms=("a" * MAX_LENGTH,))


@pytest.mark.parametrize(
    "text",
    ['zfs "big pool" -docker -"old box" author:alice in:general topic:3', '"author:x" "-y" "@z"'],
)
def test_a_query_reads_back_as_itself(text):
    assert parse(str(parse(text))) == parse(text)


@given(st.text(max_size=MAX_LENGTH))
def test_any_text_is_a_query_or_a_reason(text):
    try:
        query = parse(text)
    except QueryError as refused:
        message = refused.message
        query = None
    if query is None:
        assert message
    else:
        assert query.terms
        assert parse(str(query)) == query
