"""Find blocks of code that are repeated, across files and within one file.

Each file is cut into logical lines with :mod:`tokenize`: comments, blank lines and the way a
statement is wrapped or spaced do not count, identifiers and literals do. Two blocks are the
same when at least ``min_lines`` consecutive logical lines read the same token for token and
are nested alike (the indentation relative to the block's first line is part of each line).
Keeping the names means a copy that was edited afterwards (a renamed variable) is no longer a
duplicate; that is deliberate, since renaming everything in a block is rare, while two
functions of the same shape with different names are common and are not copies. Pass
``normalise_names=True`` to treat every name and literal alike and find those too.

Import lines are left out: the same imports at the top of several modules are not a copy. A
window of ``min_lines`` lines is hashed at every position; matching windows that follow each
other merge into one block, reported once as a :class:`DuplicateBlock` with both locations.
Every later copy is paired with the first one, so a block copied three times gives two pairs.
This is pure Python and linear in the size of the code.
"""

from __future__ import annotations

import io
import keyword
import logging
import time
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULT_MIN_LINES = 6
MIN_LINES_FLOOR = 2
LAYOUT_TOKENS = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)
_LITERALS = frozenset({tokenize.NUMBER, tokenize.STRING})


@dataclass(frozen=True)
class Location:
    """Where a block sits: the file (relative to the project root) and its physical lines."""

    path: str
    first_line: int
    last_line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.first_line}-{self.last_line}"


@dataclass(frozen=True)
class DuplicateBlock:
    """A block of ``statements`` logical lines found at ``original`` and again at ``copy``."""

    original: Location
    copy: Location
    statements: int

    @property
    def lines(self) -> int:
        """Return the physical lines of the copy, which is what removing it would save."""
        return self.copy.last_line - self.copy.first_line + 1


@dataclass(frozen=True)
class _Line:
    """One logical line: its normalised text, nesting depth and physical lines."""

    text: str
    depth: int
    first: int
    last: int


def find_duplicates(
    root: Path,
    files: Sequence[str],
    *,
    min_lines: int = DEFAULT_MIN_LINES,
    normalise_names: bool = False,
) -> list[DuplicateBlock]:
    """Return every block of at least ``min_lines`` logical lines that appears twice or more.

    ``files`` are POSIX paths relative to ``root``. A file that does not decode or tokenize is
    skipped (the AST review reports it). Blocks are sorted by the copy's file and line.
    """
    if min_lines < MIN_LINES_FLOOR:
        raise ValidationError(
            f"min_lines must be at least {MIN_LINES_FLOOR}; got {min_lines}",
            hint="a block of one line repeats everywhere; use 6 or more",
        )
    started = time.monotonic()
    runs = {relative: _logical_lines(Path(root) / relative, normalise_names) for relative in files}

    first_seen: dict[tuple[tuple[str, int], ...], tuple[str, int]] = {}
    matches: set[tuple[str, int, str, int]] = set()
    for relative in files:
        for run in runs[relative]:
            _match_windows(relative, run, min_lines, first_seen, matches, runs)

    blocks = _merge(matches, runs, min_lines)
    logger.info(
        "duplication: %d files, min %d lines, %d duplicated blocks in %.2fs",
        len(files),
        min_lines,
        len(blocks),
        time.monotonic() - started,
    )
    return blocks


def _logical_lines(path: Path, normalise_names: bool) -> list[list[_Line]]:
    """The file's logical lines, split into runs at import lines (which never count)."""
    try:
        text = path.read_bytes().decode("utf-8")
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (UnicodeDecodeError, tokenize.TokenError, SyntaxError):
        logger.debug("duplication skips %s: it does not tokenize", path.name)
        return []

    words = _normaliser(normalise_names)
    runs: list[list[_Line]] = [[]]
    depth = 0
    current: list[tokenize.TokenInfo] = []
    for token in tokens:
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type not in LAYOUT_TOKENS:
            current.append(token)
        if token.type == tokenize.NEWLINE and current:
            _add_line(runs, current, depth, words)
            current = []
    if current:
        _add_line(runs, current, depth, words)
    return [run for run in runs if run]


def _add_line(
    runs: list[list[_Line]],
    tokens: list[tokenize.TokenInfo],
    depth: int,
    words: Callable[[tokenize.TokenInfo], str],
) -> None:
    if tokens[0].string in ("import", "from"):
        runs.append([])
        return
    text = " ".join(words(token) for token in tokens)
    runs[-1].append(_Line(text, depth, tokens[0].start[0], tokens[-1].end[0]))


def _normaliser(normalise_names: bool) -> Callable[[tokenize.TokenInfo], str]:
    def word(token: tokenize.TokenInfo) -> str:
        if not normalise_names:
            return token.string
        if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
            return "<name>"
        if token.type in _LITERALS:
            return "<literal>"
        return token.string

    return word


def _match_windows(
    relative: str,
    run: list[_Line],
    min_lines: int,
    first_seen: dict[tuple[tuple[str, int], ...], tuple[str, int]],
    matches: set[tuple[str, int, str, int]],
    runs: dict[str, list[list[_Line]]],
) -> None:
    """Record each window of ``run`` seen before as a match (first place, this place)."""
    offset = _offset(runs[relative], run)
    for start in range(len(run) - min_lines + 1):
        window = run[start : start + min_lines]
        base = window[0].depth
        key = tuple((line.text, line.depth - base) for line in window)
        here = (relative, offset + start)
        first = first_seen.setdefault(key, here)
        if first == here:
            continue
        overlapping = first[0] == relative and here[1] - first[1] < min_lines
        if not overlapping:
            matches.add((first[0], first[1], relative, here[1]))


def _offset(file_runs: list[list[_Line]], run: list[_Line]) -> int:
    """Index of ``run``'s first line among all the file's lines, counting runs as one list."""
    offset = 0
    for other in file_runs:
        if other is run:
            return offset
        offset += len(other)
    return offset


def _merge(
    matches: set[tuple[str, int, str, int]], runs: dict[str, list[list[_Line]]], min_lines: int
) -> list[DuplicateBlock]:
    """Join matches at consecutive positions into maximal blocks."""
    lines = {relative: [line for run in parts for line in run] for relative, parts in runs.items()}
    blocks = []
    for first_path, first, copy_path, copy in sorted(matches):
        if (first_path, first - 1, copy_path, copy - 1) in matches:
            continue
        length = 1
        while (first_path, first + length, copy_path, copy + length) in matches:
            length += 1
        statements = length + min_lines - 1
        original = _location(first_path, lines[first_path][first : first + statements])
        duplicate = _location(copy_path, lines[copy_path][copy : copy + statements])
        blocks.append(DuplicateBlock(original, duplicate, statements))

    blocks.sort(key=lambda b: (b.copy.path, b.copy.first_line, -b.statements))
    return _without_overlaps(blocks)


def _without_overlaps(blocks: list[DuplicateBlock]) -> list[DuplicateBlock]:
    """Keep one block per stretch of copied lines: a run of identical lines such as a long
    literal table would otherwise match itself at every shift."""
    kept: list[DuplicateBlock] = []
    for block in blocks:
        previous = kept[-1].copy if kept else None
        if (
            previous
            and previous.path == block.copy.path
            and block.copy.first_line <= previous.last_line
        ):
            continue
        kept.append(block)
    return kept


def _location(path: str, block: list[_Line]) -> Location:
    return Location(path, block[0].first, block[-1].last)
