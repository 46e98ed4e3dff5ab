"""Duplicated blocks: found with both locations, across and within files; edits break a copy."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlgate.errors import ValidationError
from mlgate.review.duplication import find_duplicates

BLOCK = """
    total = 0
    count = 0
    for row in rows:
        total += row["amount"]
        count += 1
    average = total / max(count, 1)
    return total, average
"""


def _write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def _function(name: str, body: str = BLOCK) -> str:
    return f"def {name}(rows):\n" + textwrap.indent(textwrap.dedent(body).lstrip("\n"), "    ")


def _pairs(root: Path, files: list[str], **options) -> list[tuple[str, str, int]]:
    blocks = find_duplicates(root, files, **options)
    return [(str(b.original), str(b.copy), b.statements) for b in blocks]


def test_block_copied_into_another_file_names_both_locations(tmp_path):
    _write(tmp_path, "a.py", "import math\n\n\n" + _function("first"))
    _write(tmp_path, "b.py", "VALUE = 3\n\n\n" + _function("second"))

    assert _pairs(tmp_path, ["a.py", "b.py"]) == [("a.py:5-11", "b.py:5-11", 7)]


def test_block_repeated_within_one_file(tmp_path):
    _write(tmp_path, "a.py", _function("first") + "\n\n" + _function("second"))

    [block] = find_duplicates(tmp_path, ["a.py"])

    assert (str(block.original), str(block.copy), block.lines) == ("a.py:2-8", "a.py:12-18", 7)


def test_comments_blank_lines_and_wrapping_do_not_hide_a_copy(tmp_path):
    edited = BLOCK.replace("count = 0\n", "count = 0  # rows seen\n\n").replace(
        "max(count, 1)", "max(\n        count,\n        1,\n    )"
    )
    _write(tmp_path, "a.py", _function("first"))
    _write(tmp_path, "b.py", _function("second", edited))

    # the trailing comma is a token of its own, so the copy ends before the wrapped call
    assert _pairs(tmp_path, ["a.py", "b.py"], min_lines=5) == [("a.py:2-6", "b.py:2-7", 5)]


def test_renamed_names_break_a_copy_unless_names_are_normalised(tmp_path):
    _write(tmp_path, "a.py", _function("first"))
    _write(tmp_path, "b.py", _function("second", BLOCK.replace("total", "amount_sum")))

    assert _pairs(tmp_path, ["a.py", "b.py"]) == []
    assert _pairs(tmp_path, ["a.py", "b.py"], normalise_names=True) == [
        ("a.py:1-8", "b.py:1-8", 8)
    ]


def test_min_lines_is_the_shortest_block_reported(tmp_path):
    five = "\n".join(BLOCK.strip("\n").splitlines()[:5]) + "\n"
    _write(tmp_path, "a.py", _function("first", five) + "\nx = 1\n")
    _write(tmp_path, "b.py", _function("second", five) + "\ny = 2\n")

    assert _pairs(tmp_path, ["a.py", "b.py"]) == []
    assert _pairs(tmp_path, ["a.py", "b.py"], min_lines=5) == [("a.py:2-6", "b.py:2-6", 5)]


def test_shared_imports_are_not_copies(tmp_path):
    imports = "".join(f"import module{i}\n" for i in range(10))
    _write(tmp_path, "a.py", imports + "\nVALUE = 1\n")
    _write(tmp_path, "b.py", imports + "\nVALUE = 2\n")

    assert _pairs(tmp_path, ["a.py", "b.py"]) == []


def test_same_lines_nested_differently_are_not_copies(tmp_path):
    body = textwrap.dedent(BLOCK)
    moved = body.replace("    count += 1", "count += 1")  # out of the loop
    _write(tmp_path, "a.py", _function("first", body))
    _write(tmp_path, "b.py", _function("second", moved))

    assert _pairs(tmp_path, ["a.py", "b.py"]) == []


def test_whole_function_nested_deeper_is_still_a_copy(tmp_path):
    _write(tmp_path, "a.py", _function("first"))
    _write(tmp_path, "b.py", "if READY:\n" + textwrap.indent(_function("first"), "    "))

    assert _pairs(tmp_path, ["a.py", "b.py"]) == [("a.py:1-8", "b.py:2-9", 8)]


def test_three_copies_pair_each_later_copy_with_the_first(tmp_path):
    for name in ("a", "b", "c"):
        _write(tmp_path, f"{name}.py", _function(name))

    assert _pairs(tmp_path, ["a.py", "b.py", "c.py"]) == [
        ("a.py:2-8", "b.py:2-8", 7),
        ("a.py:2-8", "c.py:2-8", 7),
    ]


def test_run_of_identical_lines_is_one_block_not_one_per_shift(tmp_path):
    _write(tmp_path, "table.py", "rows.append(1)\n" * 14)

    assert _pairs(tmp_path, ["table.py"]) == [("table.py:1-6", "table.py:7-12", 6)]


def test_hundred_files_each_holding_the_block_once(tmp_path):
    files = [f"module{i:03d}.py" for i in range(100)]
    for i, name in enumerate(files):
        _write(tmp_path, name, f"LIMIT = {i}\n\n\n" + _function(f"f{i}"))

    blocks = find_duplicates(tmp_path, files)

    assert len(blocks) == 99
    assert {str(b.original) for b in blocks} == {"module000.py:5-11"}


def test_untokenizable_file_is_skipped(tmp_path):
    _write(tmp_path, "a.py", _function("first"))
    _write(tmp_path, "b.py", _function("second"))
    (tmp_path / "broken.py").write_text('x = """never closed\n', encoding="utf-8")

    assert len(find_duplicates(tmp_path, ["a.py", "b.py", "broken.py"])) == 1


def test_min_lines_below_two_raises(tmp_path):
    with pytest.raises(ValidationError, match="min_lines must be at least 2; got 1"):
        find_duplicates(tmp_path, [], min_lines=1)
