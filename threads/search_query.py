"""The search box's language, read into a `Query` (no database here).

What people type: words, "quoted phrases", -excluded words or -"phrases",
@handle or author:handle, in:category-slug, topic:<id>. Every post found has
all the words and phrases and none of the excluded ones. A query that cannot
be searched (no word to find, a quotation mark left open, too long, too many
words) raises `QueryError` with a message to show beside the box.

Each database turns a Query into its own search expression
(threads.selectors.search), quoting every word, so nothing typed is ever
read as the database's own search syntax.
"""

import re
from dataclasses import dataclass

MAX_LENGTH = 500
# Words (those of phrases and excluded ones too) in one search: each costs the
# database a walk through the posts that have it.
MAX_WORDS = 16

_FILTER = re.compile(r"(?i)(author|in|topic):(.*)", re.S)
# A word is searchable when it has a letter or a digit: both databases read
# anything else as space between words.
_SEARCHABLE = re.compile(r"[^\W_]")
_WORD = re.compile(r"[^\W_]+")
_HANDLE = re.compile(r"[A-Za-z0-9_.+-]{1,150}")
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")
_UNWANTED = re.compile(r"[\x00-\x1f\x7f]")
_TOPIC_ID_MAX = 2**63 - 1


class QueryError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Query:
    # Words and phrases a post must have (a phrase is its words in order).
    terms: tuple[str, ...]
    # Words and phrases it must not have.
    excluded: tuple[str, ...] = ()
    author: str | None = None  # a handle
    category: str | None = None  # a slug: that category and its subcategories
    topic: int | None = None

    def __str__(self) -> str:
        """The query as it would be typed."""
        parts = [_typed(term) for term in self.terms]
        parts += ["-" + _typed(term) for term in self.excluded]
        if self.author:
            parts.append(f"author:{self.author}")
        if self.category:
            parts.append(f"in:{self.category}")
        if self.topic is not None:
            parts.append(f"topic:{self.topic}")
        return " ".join(parts)


def _typed(term: str) -> str:
    """A word or phrase as typed: in quotes when it would be read otherwise."""
    return f'"{term}"' if " " in term or ":" in term or term[0] in "@-" else term


def parse(text: str) -> Query:
    """The query this text says, or QueryError."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"A search can be at most {MAX_LENGTH} characters long.")
    text = _UNWANTED.sub(" ", text)
    terms: list[str] = []
    excluded: list[str] = []
    filters: dict[str, str] = {}
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        negated = text[position] == "-"
        if negated:
            position += 1
        if position < len(text) and text[position] == '"':
            end = text.find('"', position + 1)
            if end < 0:
                raise QueryError(
                    "A quotation mark is not closed: add the closing one, or take it out."
                )
            term, position = " ".join(text[position + 1 : end].split()), end + 1
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            term, position = text[position:end], end
            if not negated and _filter(term, filters):
                continue
        if _SEARCHABLE.search(term):
            (excluded if negated else terms).append(term)
    if not terms:
        if excluded:
            raise QueryError("Add a word to find: a search cannot be only words to leave out.")
        if filters:
            raise QueryError("Add a word to find: author:, @, in: and topic: only narrow a search.")
        raise QueryError("Type a word or a phrase to search for.")
    if sum(len(_WORD.findall(term)) for term in terms + excluded) > MAX_WORDS:
        raise QueryError(f"Use at most {MAX_WORDS} words in one search.")
    topic = filters.get("topic")
    return Query(
        terms=tuple(dict.fromkeys(terms)),
        excluded=tuple(dict.fromkeys(excluded)),
        author=filters.get("author"),
        category=filters.get("in"),
        topic=int(topic) if topic is not None else None,
    )


def _filter(word: str, filters: dict[str, str]) -> bool:
    """Read `word` into `filters` if it is one (the last of a kind counts); QueryError if bad."""
    if word.startswith("@") and len(word) > 1:
        name, value = "author", word[1:]
    elif match := _FILTER.fullmatch(word):
        name, value = match[1].lower(), match[2]
    else:
        return False
    if name == "author" and not _HANDLE.fullmatch(value):
        raise QueryError("After author: or @, write a member's username, as in author:alice.")
    if name == "in" and not _SLUG.fullmatch(value):
        raise QueryError(
            "After in:, write a category's short name, as in its address (/c/short-name/)."
        )
    if name == "topic" and not (
        value.isascii() and value.isdigit() and int(value) <= _TOPIC_ID_MAX
    ):
        raise QueryError("After topic:, write a topic's number, as in its address (/t/123/).")
    filters[name] = value
    return True
