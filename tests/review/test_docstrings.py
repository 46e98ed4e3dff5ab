"""Docstring coverage and comment density, against counts made by hand."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlgate.review.docstrings import document_coverage


def _write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


MODEL = '''
"""The model."""

from typing import overload


class Model:
    """A model."""

    def __init__(self):
        self.ready = False

    def fit(self, rows):
        return rows

    def predict(self, rows):
        """Score rows."""

        def helper(row):
            return row

        return [helper(r) for r in rows]

    @property
    def size(self):
        """How big it is."""
        return 1

    @size.setter
    def size(self, value):
        self.ready = value

    def _private(self):
        return None


class _Hidden:
    def visible(self):
        return None


@overload
def load(path: str) -> str: ...
def load(path):
    return path


async def serve():
    """Serve forever."""
'''


def test_public_definitions_are_counted_as_by_hand(tmp_path):
    _write(tmp_path, "pkg/model.py", MODEL)

    report = document_coverage(tmp_path, ["pkg/model.py"])

    # module, Model, fit, predict, size (getter), load, serve: 7 public, 2 undocumented
    assert [(m.line, m.kind, m.name) for m in report.missing] == [
        (12, "function", "Model.fit"),
        (43, "function", "load"),
    ]
    assert report.public == 7
    assert report.coverage == pytest.approx(5 / 7)


def test_private_module_needs_no_docstring_but_its_public_functions_do(tmp_path):
    _write(tmp_path, "pkg/_impl.py", "def run():\n    return 1\n")
    _write(tmp_path, "pkg/__init__.py", "from pkg._impl import run\n")

    report = document_coverage(tmp_path, ["pkg/__init__.py", "pkg/_impl.py"])

    assert [(m.path, m.line, m.kind, m.name) for m in report.missing] == [
        ("pkg/__init__.py", 1, "module", "pkg/__init__.py"),
        ("pkg/_impl.py", 1, "function", "run"),
    ]
    assert report.coverage == 0.0


def test_comment_density_counts_comment_lines_per_code_line(tmp_path):
    _write(
        tmp_path,
        "job.py",
        '''
        #!/usr/bin/env python
        """Run the job.

        Three docstring lines, which are neither code nor comment.
        """
        # what follows sets the limit
        LIMIT = 3  # rows

        values = [
            1,
            2,
        ]
        ''',
    )

    [measured] = document_coverage(tmp_path, ["job.py"]).files

    assert (measured.comment_lines, measured.code_lines) == (2, 5)
    assert measured.comment_density == pytest.approx(2 / 5)


def test_overall_density_weights_files_by_their_code_lines(tmp_path):
    _write(tmp_path, "a.py", "# one\nA = 1\n")
    _write(tmp_path, "b.py", "B = 1\nC = 2\nD = 3\n")
    _write(tmp_path, "empty.py", "")

    report = document_coverage(tmp_path, ["a.py", "b.py", "empty.py"])

    assert report.comment_density == pytest.approx(1 / 4)
    assert [f.comment_density for f in report.files] == [1.0, 0.0, None]


def test_file_that_does_not_parse_is_left_out(tmp_path):
    _write(tmp_path, "ok.py", '"""Fine."""\n')
    _write(tmp_path, "broken.py", "def f(:\n")

    report = document_coverage(tmp_path, ["broken.py", "ok.py"])

    assert [f.path for f in report.files] == ["ok.py"]
    assert report.coverage == 1.0


def test_no_public_definition_gives_no_coverage(tmp_path):
    _write(tmp_path, "_private.py", "def _f():\n    return 1\n")

    assert document_coverage(tmp_path, ["_private.py"]).coverage is None
