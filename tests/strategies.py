"""Hypothesis strategies for conversations: nearly valid files, and valid topics."""

from datetime import UTC

from hypothesis import strategies as st

from threads.conversation import Conversation, Message

STAMPS = st.sampled_from(
    [
        "2025-02-12T01:14:44Z",
        "2025-02-12T03:14:44+02:00",
        "2025-02-12 01:14",
        "soon",
        "",
        "2025-13-45",
    ]
)
LINES = st.one_of(
    st.builds(lambda t: f"### {t}", st.text(max_size=30)),
    st.builds(
        lambda indent, handle, stamp, text: f"{' ' * indent}- @{handle} [{stamp}]: {text}",
        st.integers(0, 9),
        st.from_regex(r"[A-Za-z0-9_.+-]{1,12}", fullmatch=True),
        STAMPS,
        st.text(max_size=40),
    ),
    st.builds(lambda indent, text: " " * indent + text, st.integers(0, 12), st.text(max_size=40)),
    st.just(""),
)
NEARLY_VALID = st.lists(LINES, max_size=25).map("\n".join)


MESSAGE_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"), min_size=1
).filter(lambda t: t.strip())


@st.composite
def conversations(draw) -> list[Conversation]:
    result = []
    for _ in range(draw(st.integers(1, 3))):
        depth, messages = 0, []
        for index in range(draw(st.integers(1, 6))):
            depth = 0 if index == 0 else draw(st.integers(0, depth + 1))
            when = draw(st.datetimes(timezones=st.just(UTC))).replace(microsecond=0)
            handle = draw(st.from_regex(r"[A-Za-z0-9_.+-]{1,10}", fullmatch=True))
            text = "\n".join(line for line in draw(MESSAGE_TEXT).split("\n")).strip("\n")
            messages.append(Message(depth, handle, when, text))
        title = draw(st.text(st.characters(min_codepoint=32, blacklist_categories=["Cs", "Cc"]),
                             min_size=1, max_size=40).filter(lambda t: t.strip()))  # fmt: skip
        result.append(Conversation(title.strip(), messages))
    return result
