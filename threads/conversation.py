"""The ConversationJS markdown format, read and written without the database.

A file holds topics. A topic starts at a line `### Title` in column 0; its
messages follow, each a line `{2*d spaces}- @handle [timestamp]: first line`
where d is the depth (0 for top-level posts, the first being the opening
post). Every other line belongs to the message above it, dedented by up to
2*d+2 spaces.

`read` turns a file into Conversations, refusing anything ambiguous with
`FILE:LINE: reason`. `write` produces the canonical form, which `read` gives
back unchanged.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

HEADING = re.compile(r"### (.*)")
# Any line shaped like a message line, whatever its timestamp; the reader
# treats all of them as messages, so the writer escapes body lines that match.
MESSAGE = re.compile(
    r"(?P<indent>[ \t]*)- @(?P<handle>[A-Za-z0-9_.+-]+) \[(?P<stamp>[^\]]*)\]:(?P<text>.*)"
)
LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_DEPTH = 900  # deeper than any conversation; keeps tree building within Python's stack


class ConversationError(Exception):
    """A file that cannot be imported, with where and why."""

    def __init__(self, filename: str, reason: str, line: int | None = None) -> None:
        self.filename, self.reason, self.line = filename, reason, line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Message:
    depth: int
    handle: str
    created: datetime
    text: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Conversation:
    """One topic: its title and its messages in file order (a depth-first walk)."""

    title: str
    messages: list[Message]
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Document:
    filename: str
    conversations: list[Conversation]


def _timestamp(stamp: str, filename: str, line: int) -> datetime:
    """An ISO 8601 time, in UTC; one without a zone is read as UTC."""
    try:
        moment = datetime.fromisoformat(stamp.strip())
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConversationError(
            filename,
            f"unreadable timestamp [{stamp}]: expected ISO 8601, such as 2025-02-12T01:14:44Z",
            line,
        ) from None


def without_blank_edges(lines: list[str]) -> str:
    """The lines joined, without blank (or blank-looking) lines at either end."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConversationError(
            filename, f"not UTF-8 text (byte 0x{data[error.start]:02x})", line
        ) from None


def read(data: bytes, *, filename: str) -> Document:
    """Parse a file. Raises ConversationError at the first problem."""
    text = _decode(data, filename)
    if not text.strip():
        raise ConversationError(filename, "the file is empty")
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    if not any(HEADING.fullmatch(line) for line in lines):
        raise ConversationError(
            filename, "no topic in the file (a topic starts with a line '### Title')"
        )

    conversations: list[Conversation] = []
    messages: list[Message] = []  # of the current topic
    title, title_line = None, 0
    current: dict | None = None  # the message being read: its header and its lines

    def finish_message() -> None:
        nonlocal current
        if current is None:
            return
        body = without_blank_edges(current["lines"])
        if not body:
            raise ConversationError(filename, "the message has no text", current["line"])
        messages.append(
            Message(current["depth"], current["handle"], current["created"], body, current["line"])
        )
        current = None

    def finish_topic() -> None:
        nonlocal messages
        finish_message()
        if title is None:
            return
        if not messages:
            raise ConversationError(filename, f"the topic '{title}' has no messages", title_line)
        conversations.append(Conversation(title, messages, title_line))
        messages = []

    for number, line in enumerate(lines, start=1):
        if heading := HEADING.fullmatch(line):
            finish_topic()
            title, title_line = heading[1].strip(), number
            if not title:
                raise ConversationError(filename, "the topic heading has no title", number)
            continue
        if message := MESSAGE.fullmatch(line):
            finish_message()
            indent = message["indent"]
            if "\t" in indent:
                raise ConversationError(
                    filename, "message lines are indented with spaces, not tabs", number
                )
            if len(indent) % 2:
                raise ConversationError(
                    filename,
                    f"odd indentation ({len(indent)} spaces): "
                    "message lines are indented by 2 spaces per level",
                    number,
                )
            depth = len(indent) // 2
            if title is None:
                raise ConversationError(
                    filename, "a message before the first topic heading", number
                )
            deepest_allowed = messages[-1].depth + 1 if messages else 0
            if depth > deepest_allowed:
                raise ConversationError(
                    filename,
                    f"a reply at depth {depth} with no message at depth {depth - 1} above it"
                    if messages
                    else f"the first message of a topic must be at depth 0, not {depth}",
                    number,
                )
            if depth > MAX_DEPTH:
                raise ConversationError(
                    filename, f"replies deeper than {MAX_DEPTH} levels are not supported", number
                )
            first = message["text"]
            current = {
                "depth": depth,
                "handle": message["handle"],
                "created": _timestamp(message["stamp"], filename, number),
                "lines": [first[1:] if first.startswith(" ") else first],
                "line": number,
            }
            continue
        if current is None:
            if line.strip():
                where = "the first topic heading" if title is None else "its first message"
                raise ConversationError(filename, f"text before {where}", number)
            continue
        margin = 2 * current["depth"] + 2
        dedent = len(line) - len(line.lstrip(" "))
        current["lines"].append(line[min(dedent, margin) :])
    finish_topic()
    return Document(filename, conversations)


def iso_utc(moment: datetime) -> str:
    """A time as ConversationJS and HTML write it: UTC, to the second, with Z."""
    utc = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"  # isoformat pads the year to four digits


def _escape(line: str) -> str:
    """Keep a line of text from being read back as a message line.

    `- @bob [then]: hi` becomes `- @bob \\[then]: hi`, which Markdown shows the same.
    """
    if match := MESSAGE.fullmatch(line):
        cut = match.start("stamp") - 1
        return line[:cut] + "\\" + line[cut:]
    return line


def write(conversations: Iterable[Conversation]) -> str:
    """The canonical form: what `read` gives back unchanged."""
    out: list[str] = []
    for conversation in conversations:
        if out:
            out.append("")
        out.append(f"### {conversation.title}")
        for message in conversation.messages:
            indent = "  " * message.depth
            stamp = iso_utc(message.created)
            # Lines that only look blank at either end are not read back.
            first, *rest = without_blank_edges(message.text.split("\n")).split("\n")
            out.append(f"{indent}- @{message.handle} [{stamp}]: {first}")
            margin = indent + "  "
            out.extend(margin + _escape(line) if line else "" for line in rest)
    return "\n".join(out) + "\n"
