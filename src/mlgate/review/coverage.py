"""Run a model project's tests under coverage.py and report what they cover and whether they pass.

The tests run in a subprocess, with the Python interpreter that runs mlgate (so the project's
dependencies must be installed there), from the project root, as::

    python -m coverage run --rcfile=<temp> -m pytest -q -p no:cacheprovider \
        --junitxml=<temp>/junit.xml <test files>

Nothing is written into the project: coverage's data file, its settings, the JUnit report and
the JSON report live in a temporary folder, pytest's cache is off, and Python writes no
bytecode. The project's own coverage settings are not read (mlgate's settings measure exactly
the reviewed code files); its pytest settings are. The project root and its ``src`` folder (if
any) are put on ``PYTHONPATH`` so that both flat and src layouts import.

coverage.py measures the folders holding the code files, so a module no test imports is
reported with 0 %; a file coverage cannot find at all (in a folder without ``__init__.py``
below a measured folder) is listed as not imported. Failing tests are named from the JUnit
report, with their file and line. The run stops after ``timeout`` seconds; the whole process
group is killed so no stray test process lingers.

Running the tests runs the project's code: review only projects you would run anyway.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlgate.errors import ValidationError
from mlgate.review.source import relative_posix

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 600.0
INSTALL_HINT = "pip install 'mlgate[review]'"
OUTPUT_TAIL_LINES = 20
# pytest's exit codes: 0 all passed, 1 some failed, 5 no test collected; others mean it did not
# run the tests (interrupted, internal error, usage error).
PYTEST_PASSED, PYTEST_FAILED, PYTEST_NO_TESTS = 0, 1, 5
PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


@dataclass(frozen=True)
class FailedTest:
    """A test that failed or errored: its id, where it is (if known) and the first message line."""

    test_id: str
    path: str | None
    line: int | None
    message: str


@dataclass(frozen=True)
class FileCoverage:
    """Line coverage of one code file; ``percent`` is ``0.0`` for a module never imported."""

    path: str
    statements: int
    covered: int
    percent: float
    imported: bool


@dataclass(frozen=True)
class CoverageReport:
    """The outcome of one test run under coverage.py.

    ``status`` is ``passed``, ``failed`` (some tests failed), ``no-tests`` (none listed or none
    collected), ``timeout`` or ``error`` (pytest could not run them; ``error`` says how the
    run ended and ``output`` holds its last lines). ``line_coverage`` is coverage.py's own
    total, as a fraction, or ``None`` without data.
    """

    status: str
    line_coverage: float | None
    files: tuple[FileCoverage, ...] = ()
    failed: tuple[FailedTest, ...] = ()
    tests_run: int = 0
    seconds: float = 0.0
    output: str = ""
    not_found: tuple[str, ...] = field(default=())
    error: str = ""

    @property
    def untested(self) -> tuple[FileCoverage, ...]:
        """Return the code files no test imported: none of their lines ran, or coverage.py
        never found them."""
        return tuple(f for f in self.files if not f.imported)


def run_coverage(
    root: Path,
    code: Sequence[str],
    tests: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    workdir: Path | None = None,
) -> CoverageReport:
    """Run the ``tests`` of the project in ``root`` and measure the ``code`` files they cover.

    Paths are POSIX and relative to ``root``. ``workdir`` keeps coverage's data, settings and
    reports in a folder of the caller's (to inspect them); by default a temporary folder is
    used and removed.
    """
    if timeout <= 0:
        raise ValidationError(f"test_timeout_seconds must be above 0; got {timeout:g}")
    _require_coverage()
    root = Path(root).resolve()
    test_files = [t for t in tests if t.rsplit("/", 1)[-1] != "conftest.py"]
    if not test_files:
        logger.info("coverage: the project has no test files; nothing ran")
        return CoverageReport("no-tests", None, output="no test files were found")

    if workdir is not None:
        return _measure(root, code, test_files, timeout, Path(workdir))
    with tempfile.TemporaryDirectory(prefix="mlgate-coverage-") as temporary:
        return _measure(root, code, test_files, timeout, Path(temporary))


def _require_coverage() -> None:
    try:
        import coverage  # noqa: F401
        import pytest  # noqa: F401
    except ImportError as exc:
        raise ValidationError(
            f"the code review runs the tests with coverage.py and pytest; {exc.name} is not "
            "installed",
            hint=f"install them with {INSTALL_HINT}",
        ) from None


def _measure(
    root: Path, code: Sequence[str], tests: list[str], timeout: float, workdir: Path
) -> CoverageReport:
    rcfile = _write_settings(root, code, workdir)
    junit = workdir / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--rcfile={rcfile}",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        f"--rootdir={root}",
        f"--confcutdir={root}",
        *_ini_argument(root, workdir),
        "--",
        *tests,
    ]

    started = time.monotonic()
    returncode, output = _run(command, root, timeout)
    seconds = time.monotonic() - started
    failed, run = _junit(junit, root)
    files, total, not_found = _coverage_json(rcfile, root, code, workdir)
    status = _status(returncode, run, junit.is_file())
    error = f"pytest ended with exit code {returncode}{_ended_early(junit)}"
    logger.info(
        "coverage: %d test files ran in %.1fs: %s, %d tests, %d failed, line coverage %s",
        len(tests),
        seconds,
        status,
        run,
        len(failed),
        "n/a" if total is None else f"{total:.1%}",
    )
    return CoverageReport(
        status,
        total,
        files,
        failed,
        run,
        seconds,
        _tail(output),
        tuple(not_found),
        error if status == "error" else "",
    )


def _write_settings(root: Path, code: Sequence[str], workdir: Path) -> Path:
    """Write coverage.py settings that measure the code folders and report the code files."""
    folders = sorted({(root / relative).parent.as_posix() for relative in code}) or [str(root)]
    included = [(root / relative).as_posix() for relative in code]
    lines = [
        "[run]",
        f"data_file = {(workdir / 'coverage.data').as_posix()}",
        "source =",
        *(f"    {folder}" for folder in folders),
        "[report]",
        "include =",
        *(f"    {path}" for path in included),
    ]
    rcfile = workdir / "coveragerc"
    rcfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rcfile


def _ini_argument(root: Path, workdir: Path) -> list[str]:
    """Point pytest at an empty configuration when the project has none of its own.

    Without this, pytest would look for a configuration above the project root and could take
    the settings of whatever repository the project happens to sit in.
    """
    if any((root / name).is_file() for name in PYTEST_CONFIGS):
        return []
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    return ["-c", str(ini)]


def _run(command: list[str], root: Path, timeout: float) -> tuple[int | None, str]:
    """Run the tests; return pytest's exit code (``None`` on timeout) and the output."""
    paths = [str(root), *([str(root / "src")] if (root / "src").is_dir() else [])]
    inherited = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, *([inherited] if inherited else [])]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("COVERAGE_PROCESS_START", None)
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output or ""
    return process.returncode, output or ""


def _status(returncode: int | None, run: int, reported: bool) -> str:
    if returncode is None:
        return "timeout"
    if not reported:  # the process ended before pytest wrote its report: os._exit, a crash
        return "error"
    if returncode == PYTEST_PASSED:
        return "passed" if run else "no-tests"
    if returncode == PYTEST_FAILED:
        return "failed"
    if returncode == PYTEST_NO_TESTS:
        return "no-tests"
    return "error"


def _ended_early(junit: Path) -> str:
    if junit.is_file():
        return ""
    return (
        " before pytest wrote its report (a test or conftest.py exiting the process, or a crash)"
    )


def _junit(path: Path, root: Path) -> tuple[tuple[FailedTest, ...], int]:
    """Return the failed tests and the number of tests run, from pytest's JUnit report."""
    if not path.is_file():
        return (), 0
    try:
        cases = ElementTree.parse(path).getroot().iter("testcase")
    except ElementTree.ParseError:
        return (), 0

    failed = []
    run = 0
    for case in cases:
        if case.find("skipped") is not None:
            continue
        run += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        failed.append(_failed_test(case, problem, root))
    return tuple(failed), run


def _failed_test(
    case: ElementTree.Element, problem: ElementTree.Element, root: Path
) -> FailedTest:
    classname, name = case.get("classname", ""), case.get("name", "")
    file, line = case.get("file"), case.get("line")
    path = Path(file).as_posix() if file else None
    if path is not None and Path(path).is_absolute():
        path = relative_posix(root, path)
    test_id = f"{path}::{name}" if path else f"{classname}::{name}".lstrip(":")
    message = (problem.get("message") or problem.text or "").strip().splitlines()
    return FailedTest(
        test_id=test_id,
        path=path,
        line=int(line) + 1 if line and line.isdigit() else None,
        message=message[0][:200] if message else problem.tag,
    )


def _coverage_json(
    rcfile: Path, root: Path, code: Sequence[str], workdir: Path
) -> tuple[tuple[FileCoverage, ...], float | None, list[str]]:
    """Return per-file coverage, coverage.py's total and the code files it never saw."""
    report = workdir / "coverage.json"
    done = subprocess.run(
        # --ignore-errors: a file that does not parse is reported by the AST review; it must
        # not stop coverage of every other file from being measured.
        [
            sys.executable,
            "-m",
            "coverage",
            "json",
            "--ignore-errors",
            f"--rcfile={rcfile}",
            "-o",
            str(report),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or not report.is_file():
        return tuple(_never_seen(code)), None, list(code)

    content = json.loads(report.read_text(encoding="utf-8"))
    measured = {}
    for name, data in content.get("files", {}).items():
        summary = data["summary"]
        relative = relative_posix(root, name)
        measured[relative] = FileCoverage(
            path=relative,
            statements=int(summary["num_statements"]),
            covered=int(summary["covered_lines"]),
            percent=float(summary["percent_covered"]) / 100,
            imported=bool(data.get("executed_lines")) or not summary["num_statements"],
        )
    not_found = [relative for relative in code if relative not in measured]
    files = sorted([*measured.values(), *_never_seen(not_found)], key=lambda f: f.path)
    total = float(content["totals"]["percent_covered"]) / 100
    return tuple(files), total, not_found


def _never_seen(files: Sequence[str]) -> list[FileCoverage]:
    return [FileCoverage(relative, 0, 0, 0.0, False) for relative in files]


def _tail(output: str) -> str:
    return "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
