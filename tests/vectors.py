"""The injection corpus, tests/data/xss-vectors.txt, for the server and browser tests."""

import re
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "data" / "xss-vectors.txt"

GROUPS = (
    "raw tags",
    "event handlers",
    "javascript: links, inline",
    "reference-style links",
    "autolinks",
    "entity-encoded schemes",
    "data: and vbscript:",
    "svg",
    "math",
    "noscript / template / style / textarea tricks",
    "broken and nested markup",
    "attribute breaking",
    "markdown-specific",
    "unicode and whitespace tricks",
    "CSS",
    "mXSS",
)

# `\n` is a newline, `\t` a tab, `{U+XXXX}` that character; everything else is literal.
_ESCAPE = re.compile(r"\\n|\\t|\{U\+([0-9A-Fa-f]{4,6})\}")


def unescape_vector(line: str) -> str:
    def replace(match: re.Match) -> str:
        if match[1]:
            return chr(int(match[1], 16))
        return "\n" if match[0] == "\\n" else "\t"

    return _ESCAPE.sub(replace, line)


@dataclass(frozen=True)
class Vector:
    id: str
    group: str
    text: str
    line: int  # in the corpus file

    def __str__(self) -> str:
        return f"{self.id} ({self.group}, line {self.line}): {self.text!r}"


def _load(path: Path) -> list[Vector]:
    vectors, group = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        if line == "#" or line.startswith("# "):
            group = line[2:].strip()  # the last comment above a vector names its group
            continue
        vectors.append(Vector(f"v{len(vectors) + 1:03d}", group, unescape_vector(line), number))
    return vectors


VECTORS = _load(CORPUS)
