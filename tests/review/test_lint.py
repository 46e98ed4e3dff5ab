"""ruff through mlgate: the same findings ruff reports itself, with the right configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgate.errors import ValidationError
from mlgate.review import lint as lint_module
from mlgate.review.lint import DEFAULT_RULES, FORMAT_RULE, lint, project_config, ruff_binary


def _write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def _ruff_count(root: Path, arguments: list[str], files: list[str]) -> int:
    """How many diagnostics ruff itself reports, run directly, without syntax errors."""
    done = subprocess.run(
        [ruff_binary(), "check", "--no-cache", "--output-format", "json", "--exit-zero"]
        + arguments
        + files,
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(item["code"] != "invalid-syntax" for item in json.loads(done.stdout))


MESSY = """
import os
import sys


def load(path, cache={}):
    try:
        return open(path).read()
    except:
        raise ValueError("cannot read")
"""


def test_default_rules_match_ruffs_own_count(tmp_path):
    _write(tmp_path, "pkg/load.py", MESSY)
    _write(tmp_path, "pkg/ok.py", "VALUE = 1\n")
    files = ["pkg/load.py", "pkg/ok.py"]

    report = lint(tmp_path, files)

    expected = _ruff_count(tmp_path, ["--isolated", "--select", ",".join(DEFAULT_RULES)], files)
    assert len(report.lint_findings) == expected
    assert {(f.path, f.line, f.rule) for f in report.lint_findings} >= {
        ("pkg/load.py", 1, "F401"),
        ("pkg/load.py", 2, "F401"),
        ("pkg/load.py", 5, "B006"),
        ("pkg/load.py", 8, "E722"),
    }
    assert report.config is None


def test_project_config_decides_rules_and_exclusions(tmp_path):
    _write(
        tmp_path,
        "pyproject.toml",
        """
        [tool.ruff]
        line-length = 40
        extend-exclude = ["pkg/generated.py"]

        [tool.ruff.lint]
        select = ["E501"]
        """,
    )
    _write(
        tmp_path, "pkg/model.py", "import os\nNAME = 'a fairly long string value, over forty'\n"
    )
    _write(tmp_path, "pkg/generated.py", "LONG = 'another string that is longer than forty'\n")
    files = ["pkg/generated.py", "pkg/model.py"]

    report = lint(tmp_path, files)

    assert report.config == "pyproject.toml"
    assert [(f.path, f.line, f.rule) for f in report.lint_findings] == [
        ("pkg/model.py", 2, "E501")
    ]
    config = ["--config", str(tmp_path / "pyproject.toml"), "--force-exclude"]
    assert len(report.lint_findings) == _ruff_count(tmp_path, config, files)


def test_project_config_lookup_order(tmp_path):
    assert project_config(tmp_path) is None
    _write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    assert project_config(tmp_path) is None
    _write(tmp_path, "ruff.toml", "line-length = 79\n")
    assert project_config(tmp_path) == tmp_path / "ruff.toml"
    _write(tmp_path, ".ruff.toml", "line-length = 79\n")
    assert project_config(tmp_path) == tmp_path / ".ruff.toml"


def test_invalid_pyproject_raises_naming_the_file(tmp_path):
    _write(tmp_path, "pyproject.toml", "[tool.ruff\n")
    with pytest.raises(ValidationError, match="pyproject.toml in the project root is not valid"):
        project_config(tmp_path)


def test_unformatted_file_is_named_with_first_changed_line(tmp_path):
    _write(tmp_path, "tidy.py", "VALUE = 1\n")
    _write(tmp_path, "untidy.py", 'VALUE = 1\n\n\nNAME  =  "x"\n')

    report = lint(tmp_path, ["tidy.py", "untidy.py"])

    assert report.unformatted == ("untidy.py",)
    [finding] = [f for f in report.findings if f.rule == FORMAT_RULE]
    assert (finding.path, finding.line) == ("untidy.py", 4)


def test_syntax_errors_are_left_to_the_ast_review(tmp_path):
    _write(tmp_path, "broken.py", "def f(:\n")
    _write(tmp_path, "fine.py", "import os\n")

    report = lint(tmp_path, ["broken.py", "fine.py"])

    assert [(f.path, f.rule) for f in report.findings] == [("fine.py", "F401")]


def test_nothing_is_written_into_the_project(tmp_path):
    _write(tmp_path, "model.py", MESSY)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    lint(tmp_path, ["model.py"])

    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_no_files_gives_an_empty_report(tmp_path):
    report = lint(tmp_path, [])
    assert (report.findings, report.unformatted) == ((), ())


def test_missing_ruff_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ruff", None)
    monkeypatch.setattr(lint_module.shutil, "which", lambda name: None)

    with pytest.raises(ValidationError, match=r"install it with pip install 'mlgate\[review\]'"):
        ruff_binary()


def test_an_undecodable_file_is_left_to_the_ast_review(tmp_path):
    (tmp_path / "latin.py").write_bytes(b'"""Caf\xe9."""\nX = 1\n')
    (tmp_path / "ok.py").write_text('"""Fine."""\n\nimport os\n', encoding="utf-8")

    report = lint(tmp_path, ["latin.py", "ok.py"])

    assert [(f.path, f.rule) for f in report.findings] == [("ok.py", "F401")]
    assert report.unformatted == ()


SWITCHED_OFF = """
[tool.ruff]
exclude = ["src"]
select = []

[tool.ruff.lint]
select = []
"""


def test_mandatory_rules_run_whatever_the_project_configures(tmp_path):
    _write(tmp_path, "pyproject.toml", SWITCHED_OFF)
    _write(
        tmp_path,
        "src/pkg/model.py",
        """
        def score(rows):
            return rows * weight  # noqa: F821


        def kind(name):
            if name is "churn":
                return 1
            return 0
        """,
    )
    _write(tmp_path, "src/pkg/ok.py", "VALUE = 1\n")

    report = lint(tmp_path, ["src/pkg/model.py", "src/pkg/ok.py"])

    assert report.config == "pyproject.toml"
    expected = [("src/pkg/model.py", 2, "F821"), ("src/pkg/model.py", 6, "F632")]
    assert [(f.path, f.line, f.rule) for f in report.mandatory] == expected
    assert [(f.path, f.line, f.rule) for f in report.lint_findings] == expected


def test_a_mandatory_finding_the_project_rules_also_find_is_reported_once(tmp_path):
    _write(tmp_path, "ruff.toml", '[lint]\nselect = ["F"]\n')
    _write(tmp_path, "model.py", "import os\n\n\ndef score():\n    return weight\n")

    report = lint(tmp_path, ["model.py"])

    assert [(f.line, f.rule) for f in report.lint_findings] == [(1, "F401"), (5, "F821")]
    assert [(f.line, f.rule) for f in report.mandatory] == [(5, "F821")]
