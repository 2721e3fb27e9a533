"""The ConversationJS reader and writer, without the database."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from threads.conversation import Conversation, ConversationError, Message, read, write

from .strategies import NEARLY_VALID, conversations

# A copy of the shared ConversationJS sample, so that every clone has it.
SAMPLE = Path(__file__).resolve().parent / "data" / "conversation.md"


def parse(text: str) -> list[Conversation]:
    return read(text.encode(), filename="f.md").conversations


def when(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def refusal(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ConversationError) as caught:
        read(data, filename="f.md")
    return str(caught.value)


# --- Reading ---------------------------------------------------------------------


def test_topics_messages_and_depths():
    conversations = parse(
        "### First\n"
        "- @ann [2025-02-12T01:14:44Z]: opening\n"
        "  - @bob [2025-02-12T01:15:00Z]: reply\n"
        "    - @ann [2025-02-12T01:16:00Z]: deeper\n"
        "  - @cy [2025-02-12T01:17:00Z]: second reply\n"
        "- @bob [2025-02-12T01:18:00Z]: top level\n"
        "### Second\n"
        "- @cy [2025-02-13T00:00:00Z]: hi\n"
    )

    assert conversations == [
        Conversation(
            "First",
            [
                Message(0, "ann", when(2025, 2, 12, 1, 14, 44), "opening"),
                Message(1, "bob", when(2025, 2, 12, 1, 15), "reply"),
                Message(2, "ann", when(2025, 2, 12, 1, 16), "deeper"),
                Message(1, "cy", when(2025, 2, 12, 1, 17), "second reply"),
                Message(0, "bob", when(2025, 2, 12, 1, 18), "top level"),
            ],
        ),
        Conversation("Second", [Message(0, "cy", when(2025, 2, 13), "hi")]),
    ]
    assert [m.line for m in conversations[0].messages] == [2, 3, 4, 5, 6]
    assert conversations[1].line == 7


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-02-12T01:14:44Z", when(2025, 2, 12, 1, 14, 44)),
        ("2025-02-12T03:14:44+02:00", when(2025, 2, 12, 1, 14, 44)),
        ("2025-02-11T20:14:44-05:00", when(2025, 2, 12, 1, 14, 44)),
        ("2025-02-12T01:14:44", when(2025, 2, 12, 1, 14, 44)),
        ("2025-02-12T01:14:44.250Z", when(2025, 2, 12, 1, 14, 44, 250000)),
    ],
)
def test_timestamps_with_z_an_offset_or_no_zone(stamp, expected):
    (conversation,) = parse(f"### T\n- @ann [{stamp}]: x\n")

    assert conversation.messages[0].created == expected


def test_handles_may_hold_dots_plus_dash_and_underscore():
    (conversation,) = parse("### T\n- @a.b+c-d_e9 [2025-01-01T00:00:00Z]: x\n")

    assert conversation.messages[0].handle == "a.b+c-d_e9"


def test_other_lines_belong_to_the_message_above_dedented_by_its_margin():
    (conversation,) = parse(
        "### T\n"
        "- @ann [2025-01-01T00:00:00Z]: first\n"
        "  second\n"
        "\n"
        "  ### not a topic: indented\n"
        "      indented code\n"
        "  - a list item\n"
        "    - nested\n"
        "  - @bob [2025-01-01T00:01:00Z]: reply\n"
        "    its second line\n"
        "   only three spaces\n"
        "no indentation at all\n"
    )

    first, reply = conversation.messages
    assert first.text == (
        "first\nsecond\n\n### not a topic: indented\n    indented code\n- a list item\n  - nested"
    )
    assert reply.text == "reply\nits second line\nonly three spaces\nno indentation at all"


def test_blank_lines_around_a_message_are_dropped():
    (conversation,) = parse(
        "### T\n\n\n- @ann [2025-01-01T00:00:00Z]: x\n\n  \n  y\n\n\n"
        "- @bob [2025-01-01T00:00:00Z]:\n\n  z\n\n"
    )

    assert [m.text for m in conversation.messages] == ["x\n\n\ny", "z"]


def test_a_deeper_message_replies_to_the_nearest_shallower_one():
    (conversation,) = parse(
        "### T\n"
        "- @a [2025-01-01T00:00:00Z]: 0\n"
        "  - @b [2025-01-01T00:00:00Z]: 1\n"
        "    - @c [2025-01-01T00:00:00Z]: 2\n"
        "      - @d [2025-01-01T00:00:00Z]: 3\n"
        "  - @e [2025-01-01T00:00:00Z]: 1 again\n"
        "    - @f [2025-01-01T00:00:00Z]: 2 under e\n"
    )

    assert [(m.depth, m.text) for m in conversation.messages] == [
        (0, "0"),
        (1, "1"),
        (2, "2"),
        (3, "3"),
        (1, "1 again"),
        (2, "2 under e"),
    ]


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted():
    data = "\ufeff### T\r\n- @ann [2025-01-01T00:00:00Z]: a\r\n  b\r\n".encode()

    (conversation,) = read(data, filename="f.md").conversations
    assert conversation.title == "T"
    assert conversation.messages[0].text == "a\nb"


def test_the_sample_file_reads(tmp_path):
    document = read(SAMPLE.read_bytes(), filename="conversation.md")

    titles = [c.title for c in document.conversations]
    assert titles == [
        "The Future of AI Development",
        "Sustainable Software Architecture",
        "Deep Dive",
    ]
    deep = document.conversations[1].messages
    assert [m.depth for m in deep] == [0, 1, 2, 3, 4, 4, 2]
    assert deep[4].text.endswith("technical discussion.\nBOOM")
    assert deep[4].created == when(2025, 2, 12, 1, 32, 48)


# --- Refusing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "f.md: the file is empty"),
        ("\n  \n", "f.md: the file is empty"),
        ("just some text\n", "f.md: no topic in the file"),
        (
            "### T\n- @a [2025-01-01T00:00:00Z]: x\n    - @b [2025-01-01T00:00:00Z]: y\n",
            "f.md:3: a reply at depth 2 with no message at depth 1 above it",
        ),
        (
            "### T\n  - @a [2025-01-01T00:00:00Z]: x\n",
            "f.md:2: the first message of a topic must be at depth 0, not 1",
        ),
        (
            "### T\n- @a [2025-01-01T00:00:00Z]: x\n   - @b [2025-01-01T00:00:00Z]: y\n",
            "f.md:3: odd indentation (3 spaces)",
        ),
        (
            "### T\n- @a [2025-01-01T00:00:00Z]: x\n\t- @b [2025-01-01T00:00:00Z]: y\n",
            "f.md:3: message lines are indented with spaces, not tabs",
        ),
        ("### T\n- @a [yesterday]: x\n", "f.md:2: unreadable timestamp [yesterday]"),
        ("### T\n- @a [2025-13-01T00:00:00Z]: x\n", "f.md:2: unreadable timestamp"),
        ("### T\n- @a []: x\n", "f.md:2: unreadable timestamp []"),
        ("### T\n- @a [2025-01-01T00:00:00Z]:\n\n", "f.md:2: the message has no text"),
        (
            "### T\n- @a [2025-01-01T00:00:00Z]:   \n- @b [2025-01-01T00:00:00Z]: y\n",
            "f.md:2: the message has no text",
        ),
        ("### T\n\n### U\n- @a [2025-01-01T00:00:00Z]: x\n", "f.md:1: the topic 'T' has no"),
        ("### T\n- @a [2025-01-01T00:00:00Z]: x\n### U\n", "f.md:3: the topic 'U' has no"),
        ("###   \n- @a [2025-01-01T00:00:00Z]: x\n", "f.md:1: the topic heading has no title"),
        (
            "intro\n### T\n- @a [2025-01-01T00:00:00Z]: x\n",
            "f.md:1: text before the first topic heading",
        ),
        (
            "- @a [2025-01-01T00:00:00Z]: x\n### T\n- @a [2025-01-01T00:00:00Z]: x\n",
            "f.md:1: a message before the first topic heading",
        ),
        ("### T\nstray\n- @a [2025-01-01T00:00:00Z]: x\n", "f.md:2: text before its first message"),
    ],
)
def test_refusals_name_the_file_and_line(text, message):
    assert refusal(text).startswith(message)


def test_a_file_that_is_not_utf8_is_refused_at_its_line():
    data = b"### T\n- @a [2025-01-01T00:00:00Z]: caf\xe9\n"

    assert refusal(data) == "f.md:2: not UTF-8 text (byte 0xe9)"


# --- Writing ----------------------------------------------------------------------------

CANONICAL = """\
### First
- @ann [2025-02-12T01:14:44Z]: opening

  second paragraph
      code
  - @bob [2025-02-12T01:15:00Z]: reply
    - @ann [2025-02-12T01:16:00Z]: deeper
- @bob [2025-02-12T01:18:00Z]: top level

### Second
- @cy [2025-02-13T00:00:00Z]: hi
"""


def test_canonical_text_reads_and_writes_back_identically():
    assert write(parse(CANONICAL)) == CANONICAL


def test_writing_uses_utc_seconds_and_indents_other_lines():
    conversations = [
        Conversation(
            "T",
            [
                Message(0, "ann", datetime.fromisoformat("2025-02-12T03:14:44.9+02:00"), "a\n\nb"),
                Message(1, "bob", when(2025, 2, 12, 2), "c\n  d"),
            ],
        )
    ]

    assert write(conversations) == (
        "### T\n"
        "- @ann [2025-02-12T01:14:44Z]: a\n"
        "\n"
        "  b\n"
        "  - @bob [2025-02-12T02:00:00Z]: c\n"
        "      d\n"
    )


def test_lines_that_look_like_messages_are_escaped():
    text = "quoting:\n- @bob [2025-01-01T00:00:00Z]: hi\n  - @cy [not a time]: there\n### fine"
    conversations = [Conversation("T", [Message(0, "ann", when(2025, 1, 1), text)])]

    written = write(conversations)

    assert written == (
        "### T\n"
        "- @ann [2025-01-01T00:00:00Z]: quoting:\n"
        "  - @bob \\[2025-01-01T00:00:00Z]: hi\n"
        "    - @cy \\[not a time]: there\n"
        "  ### fine\n"
    )
    (back,) = parse(written)
    assert len(back.messages) == 1
    assert back.messages[0].text == text.replace(" [", " \\[")
    assert write([back]) == written


def test_the_sample_round_trips_losslessly():
    original = read(SAMPLE.read_bytes(), filename="conversation.md").conversations

    exported = write(original)

    assert parse(exported) == original
    assert write(parse(exported)) == exported


# --- Any input --------------------------------------------------------------------------------


def read_or_refusal(data: bytes):
    try:
        return read(data, filename="f.md")
    except ConversationError as error:
        return error


@examples(max_examples=300, deadline=None)
@given(st.one_of(NEARLY_VALID, st.text(max_size=500)))
def test_any_text_reads_or_is_refused_with_a_reason(text):
    result = read_or_refusal(text.encode())

    if isinstance(result, ConversationError):
        assert str(result).startswith("f.md")
    else:
        exported = write(result.conversations)
        back = read(exported.encode(), filename="x").conversations
        assert write(back) == exported
        assert [[(m.depth, m.handle) for m in c.messages] for c in back] == [
            [(m.depth, m.handle) for m in c.messages] for c in result.conversations
        ]


@examples(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_read_or_are_refused_with_a_reason(data):
    result = read_or_refusal(data)

    assert not isinstance(result, ConversationError) or str(result).startswith("f.md")


@examples(max_examples=300, deadline=None)
@given(conversations())
def test_whatever_is_written_reads_back_the_same_and_writes_the_same(original):
    written = write(original)

    back = read(written.encode(), filename="f.md").conversations

    assert write(back) == written
    assert [c.title for c in back] == [c.title for c in original]
    for got, wanted in zip(back, original, strict=True):
        assert [(m.depth, m.handle, m.created) for m in got.messages] == [
            (m.depth, m.handle, m.created) for m in wanted.messages
        ]


def test_a_message_with_blank_looking_edge_lines_is_written_as_it_reads_back():
    """A line of a form feed looks blank, so reading drops it: writing must too."""
    message = Message(
        depth=0, handle="ann", created=datetime(2000, 1, 1, tzinfo=UTC), text=" \x0c\n0"
    )

    written = write([Conversation(title="t", messages=[message])])

    assert written == "### t\n- @ann [2000-01-01T00:00:00Z]: 0\n"
    assert write(read(written.encode(), filename="f.md").conversations) == written


def test_years_before_1000_are_written_with_four_digits():
    early = [Conversation("T", [Message(0, "ann", when(999, 1, 2, 3, 4, 5), "x")])]

    assert "- @ann [0999-01-02T03:04:05Z]: x" in write(early)
    assert parse(write(early)) == early
