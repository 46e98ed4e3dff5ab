"""Read the section structure of a project's documentation: headings and how much each says.

Markdown (``.md``, and ``.txt``, which is read the same way) has two kinds of heading: ATX
(``## Title``, level = number of ``#``) and setext (a text line underlined with ``===``, level 1,
or ``---``, level 2). Lines inside fenced code blocks (```` ``` ```` or ``~~~``) are never
headings, but their words count towards the section they sit in.

reStructuredText (``.rst``) has no fixed levels: a title is a line underlined (and optionally
overlined) with a run of one punctuation character, and each new style met in a file is one
level deeper than the styles seen before it, as docutils does.

A section's body runs from the line after its heading to the next heading of the same or a
higher level, so the words of its subsections count towards it: a "Training" section made of
three numbered steps is not empty. Everything here is pure text processing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = frozenset({".md", ".txt"})
RST_SUFFIXES = frozenset({".rst"})
RST_PUNCTUATION = "=-`:'\"~^_*+#<>."
MIN_UNDERLINE = 3

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([-+*>]\s|\d+[.)]\s|#|```|~~~|\|)")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Heading:
    """One heading: its 1-based line, its level (1 is the top) and its text."""

    line: int
    level: int
    title: str


@dataclass(frozen=True)
class Section:
    """A heading and the number of words in its body (subsections included)."""

    file: str
    line: int
    level: int
    title: str
    words: int

    @property
    def where(self) -> str:
        """Return ``file:line`` of the heading."""
        return f"{self.file}:{self.line}"


def count_words(text: str) -> int:
    """Return the number of words (runs of letters, digits or underscores) in ``text``."""
    return len(_WORD.findall(text))


def markdown_headings(text: str) -> list[Heading]:
    """Return the ATX and setext headings of a Markdown text, in order."""
    lines = text.splitlines()
    headings: list[Heading] = []
    fence: str | None = None

    for index, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue

        atx = _ATX.match(line)
        if atx:
            headings.append(Heading(index + 1, len(atx.group(1)), (atx.group(2) or "").strip()))
            continue
        underline = _SETEXT.match(line)
        if underline and index > 0 and _is_paragraph_line(lines[index - 1], headings, index):
            level = 1 if underline.group(1)[0] == "=" else 2
            headings.append(Heading(index, level, lines[index - 1].strip()))
    return headings


def _is_paragraph_line(line: str, headings: list[Heading], index: int) -> bool:
    """Return whether the line before an underline is plain text that a setext heading takes."""
    if not line.strip() or _NOT_PARAGRAPH.match(line) or line.startswith(("    ", "\t")):
        return False
    return not headings or headings[-1].line != index  # not already a heading itself


def rst_headings(text: str) -> list[Heading]:
    """Return the section titles of a reStructuredText text, levels in order of first style."""
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    index = 0

    while index < len(lines) - 1:
        found = _rst_title(lines, index)
        if found is None:
            index += 1
            continue
        title_index, style, consumed = found
        if style not in styles:
            styles.append(style)
        headings.append(Heading(title_index + 1, styles.index(style) + 1, lines[title_index]))
        index += consumed
    return [Heading(h.line, h.level, h.title.strip()) for h in headings]


def _rst_title(lines: list[str], index: int) -> tuple[int, tuple[str, bool], int] | None:
    """Return (title line index, style, lines used) when a title starts at ``index``."""
    line = lines[index]
    nxt = lines[index + 1]
    after = lines[index + 2] if index + 2 < len(lines) else ""

    if _rst_rule(line) and _rst_text(nxt) and after.rstrip() == line.rstrip():
        return index + 1, (line.strip()[0], True), 3
    previous_blank = index == 0 or not lines[index - 1].strip()
    long_enough = len(nxt.strip()) >= min(len(line.strip()), MIN_UNDERLINE)
    if previous_blank and _rst_text(line) and _rst_rule(nxt) and long_enough:
        return index, (nxt.strip()[0], False), 2
    return None


def _rst_rule(line: str) -> bool:
    stripped = line.rstrip()
    return (
        len(stripped) >= 2
        and stripped == line.rstrip().lstrip()
        and stripped[0] in RST_PUNCTUATION
        and stripped == stripped[0] * len(stripped)
    )


def _rst_text(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and not _rst_rule(line)


def headings_of(text: str, file: str) -> list[Heading]:
    """Return the headings of ``text``, parsed by the syntax the suffix of ``file`` names."""
    suffix = "." + file.rsplit(".", 1)[-1].lower() if "." in file else ""
    if suffix in RST_SUFFIXES:
        return rst_headings(text)
    return markdown_headings(text)


def sections(text: str, file: str) -> list[Section]:
    """Return every section of one document with the word count of its body.

    The body of a heading ends at the next heading of the same or a higher level; heading lines
    and rst underlines are not counted as body words.
    """
    lines = text.splitlines()
    headings = headings_of(text, file)
    heading_lines = _heading_line_numbers(lines, headings)
    result = []

    for position, heading in enumerate(headings):
        end = len(lines)
        for later in headings[position + 1 :]:
            if later.level <= heading.level:
                end = later.line - 1
                break
        body = [
            lines[number - 1]
            for number in range(heading.line + 1, end + 1)
            if number not in heading_lines
        ]
        words = count_words("\n".join(body))
        result.append(Section(file, heading.line, heading.level, heading.title, words))
    return result


def _heading_line_numbers(lines: list[str], headings: list[Heading]) -> set[int]:
    """Return the 1-based numbers of heading lines and the rules drawn around them."""
    numbers: set[int] = set()
    for heading in headings:
        numbers.add(heading.line)
        for neighbour in (heading.line - 1, heading.line + 1):
            if 1 <= neighbour <= len(lines) and _is_rule(lines[neighbour - 1]):
                numbers.add(neighbour)
    return numbers


def _is_rule(line: str) -> bool:
    return bool(_SETEXT.match(line)) or _rst_rule(line)
