"""The project's tests under coverage.py: totals equal coverage.py's own report, failures named."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgate.errors import ValidationError
from mlgate.review.coverage import run_coverage
from mlgate.review.source import discover

SAMPLES = Path(__file__).parent / "samples"


def _write(root: Path, name: str, source: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def _sample(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(SAMPLES / name, tmp_path / name))


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*"))


def _reference_total(root: Path, workdir: Path) -> float:
    """coverage.py's own total for the same data and settings, as a percentage."""
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "report", f"--rcfile={workdir / 'coveragerc'}"]
        + ["--format=total", "--precision=6"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


@pytest.mark.parametrize(("sample", "expected"), [("clean", 1.0), ("faulty", 25 / 38)])
def test_line_coverage_equals_coverage_report(tmp_path, sample, expected):
    root = _sample(tmp_path, sample)
    tree = discover(root)
    workdir = tmp_path / "work"
    workdir.mkdir()

    report = run_coverage(root, tree.code, tree.tests, workdir=workdir)

    assert report.status == "passed"
    assert report.tests_run == 4
    assert report.line_coverage == pytest.approx(expected)
    assert round(report.line_coverage * 100, 6) == pytest.approx(_reference_total(root, workdir))


def test_module_no_test_imports_is_untested(tmp_path):
    root = _sample(tmp_path, "faulty")
    tree = discover(root)

    report = run_coverage(root, tree.code, tree.tests)

    by_path = {f.path: f for f in report.files}
    assert set(by_path) == {"churn/__init__.py", "churn/monitor.py", "churn/train.py"}
    assert (by_path["churn/monitor.py"].statements, by_path["churn/monitor.py"].percent) == (5, 0)
    assert [f.path for f in report.untested] == ["churn/monitor.py"]


def test_nothing_is_written_into_the_project(tmp_path):
    root = _sample(tmp_path, "clean")
    tree = discover(root)
    before = _files(root)

    run_coverage(root, tree.code, tree.tests)

    assert _files(root) == before


def test_failing_tests_are_named_with_file_and_line(tmp_path):
    _write(tmp_path, "calc.py", "def double(x):\n    return 2 * x\n")
    _write(
        tmp_path,
        "tests/test_calc.py",
        """
        from calc import double


        def test_double():
            assert double(2) == 4


        def test_double_wrong():
            assert double(2) == 5
        """,
    )

    report = run_coverage(tmp_path, ["calc.py"], ["tests/test_calc.py"])

    assert report.status == "failed"
    assert report.tests_run == 2
    [failed] = report.failed
    assert (failed.test_id, failed.path, failed.line) == (
        "tests/test_calc.py::test_double_wrong",
        "tests/test_calc.py",
        8,
    )
    assert "assert 4 == 5" in failed.message
    assert report.line_coverage == 1.0


def test_no_test_files_is_reported_not_raised(tmp_path):
    _write(tmp_path, "calc.py", "X = 1\n")

    report = run_coverage(tmp_path, ["calc.py"], ["tests/conftest.py"])

    assert (report.status, report.line_coverage, report.tests_run) == ("no-tests", None, 0)


def test_test_file_without_tests_is_no_tests(tmp_path):
    _write(tmp_path, "calc.py", "X = 1\n")
    _write(tmp_path, "tests/test_calc.py", "import calc\n")

    report = run_coverage(tmp_path, ["calc.py"], ["tests/test_calc.py"])

    assert report.status == "no-tests"
    assert report.line_coverage == 1.0


def test_collection_error_is_an_error_with_the_output(tmp_path):
    _write(tmp_path, "calc.py", "X = 1\n")
    _write(tmp_path, "tests/test_calc.py", "import not_a_module_anywhere\n")

    report = run_coverage(tmp_path, ["calc.py"], ["tests/test_calc.py"])

    assert report.status == "error"
    assert "not_a_module_anywhere" in report.output


def test_tests_that_hang_are_stopped(tmp_path):
    _write(tmp_path, "calc.py", "X = 1\n")
    _write(
        tmp_path,
        "tests/test_calc.py",
        "import time\n\n\ndef test_hangs():\n    time.sleep(600)\n",
    )

    report = run_coverage(tmp_path, ["calc.py"], ["tests/test_calc.py"], timeout=3)

    assert report.status == "timeout"
    assert report.failed == ()


def test_src_layout_imports(tmp_path):
    _write(tmp_path, "src/calc/__init__.py", "def one():\n    return 1\n")
    _write(
        tmp_path,
        "tests/test_calc.py",
        "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n",
    )

    report = run_coverage(tmp_path, ["src/calc/__init__.py"], ["tests/test_calc.py"])

    assert (report.status, report.line_coverage) == ("passed", 1.0)


def test_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValidationError, match="test_timeout_seconds must be above 0; got 0"):
        run_coverage(tmp_path, [], [], timeout=0)


def test_missing_coverage_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "coverage", None)

    with pytest.raises(ValidationError, match="coverage is not installed") as caught:
        run_coverage(tmp_path, ["calc.py"], ["tests/test_calc.py"])
    assert caught.value.hint == "install them with pip install 'mlgate[review]'"


def test_a_file_that_does_not_parse_leaves_the_others_measured(tmp_path):
    root = _sample(tmp_path, "clean")
    _write(root, "churn/broken.py", '"""Broken."""\ndef f(:\n    pass\n')
    tree = discover(root)

    report = run_coverage(root, tree.code, tree.tests)

    assert report.status == "passed"
    assert report.line_coverage == pytest.approx(1.0)
    assert [f.path for f in report.untested] == ["churn/broken.py"]


@pytest.mark.parametrize(
    ("exit_call", "expected"),
    [
        ("sys.exit(3)", "pytest ended with exit code 3"),
        ("os._exit(0)", "exit code 0 before pytest wrote its report"),
    ],
)
def test_a_conftest_that_exits_is_named_as_the_cause(tmp_path, exit_call, expected):
    root = _sample(tmp_path, "clean")
    _write(root, "tests/conftest.py", f"import os\nimport sys\n\n{exit_call}\n")
    tree = discover(root)

    report = run_coverage(root, tree.code, tree.tests)

    assert report.status == "error"
    assert expected in report.error
