"""Run ruff's linter and formatter over a model project's code and report what they find.

ruff runs in a subprocess on the listed files, with its cache off, so nothing is written into
the project. When the project configures ruff itself (``ruff.toml``, ``.ruff.toml`` or a
``[tool.ruff]`` table in ``pyproject.toml`` in its root), that configuration decides the rules,
the line length and the files ruff leaves out. Otherwise ruff runs isolated from any
configuration around the project, with :data:`DEFAULT_RULES`: the rules that find likely bugs
rather than matters of taste, so that a project that never chose a style is not buried in
findings. ruff's own default selection changes between releases; naming the rules keeps a
review repeatable.

Files that do not parse are left to :mod:`mlgate.review.code`, which reports them once as
``syntax-error``; ruff's ``invalid-syntax`` diagnostics are dropped here.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.errors import ValidationError
from mlgate.review.source import relative_posix

logger = logging.getLogger(__name__)

# pycodestyle's syntax-level errors (E4 imports, E7 statements, E9 runtime), pyflakes (F:
# undefined and unused names), bugbear (B: likely bugs such as mutable defaults and loop
# variables caught in closures), NumPy's deprecated and legacy APIs (NPY) and pylint's
# error-level rules (PLE).
DEFAULT_RULES = ("E4", "E7", "E9", "F", "B", "NPY", "PLE")
# The rules no project configuration turns off: pycodestyle's runtime errors (E9), pyflakes'
# invalid comparisons and tests (F63: ``x is "a"``, ``assert (a, b)``), statements out of place
# (F7: ``break``/``return``/``yield`` outside a loop or function) and undefined names (F82).
MANDATORY_RULES = ("E9", "F63", "F7", "F82")
CONFIG_FILES = (".ruff.toml", "ruff.toml")
FORMAT_RULE = "format"
# Files that do not parse or decode are the AST review's findings (syntax-error, unreadable);
# ruff's own reports of them (E999, invalid-syntax, E902 and ruff format's "io") are dropped so
# that one broken file counts once.
SYNTAX_CODES = frozenset({"invalid-syntax", "E999", "E902", "io", ""})
INSTALL_HINT = "pip install 'mlgate[review]'"
RUFF_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class LintFinding:
    """One ruff diagnostic: the file (relative to the project root), line, rule and message.

    Unformatted files are findings of the rule ``format`` at the first line ruff would change.
    """

    path: str
    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class LintReport:
    """What ruff found in the reviewed files, and which configuration it used.

    ``findings`` holds every finding, once; ``mandatory`` those of :data:`MANDATORY_RULES`
    found by the isolated run, which fail whatever the thresholds.
    """

    findings: tuple[LintFinding, ...]
    unformatted: tuple[str, ...]
    config: str | None
    ruff_version: str
    mandatory: tuple[LintFinding, ...] = ()

    @property
    def lint_findings(self) -> tuple[LintFinding, ...]:
        """Return the linter's findings, without the formatter's."""
        return tuple(f for f in self.findings if f.rule != FORMAT_RULE)


def ruff_binary() -> str:
    """Return the path of the ruff executable: the installed ``ruff`` package's, else PATH's.

    Raises :class:`ValidationError` naming the extra to install when neither exists.
    """
    try:
        import ruff

        return str(ruff.find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
    if found is None:
        raise ValidationError(
            "the code review needs ruff, which is neither an installed Python package nor on "
            f"PATH; install it with {INSTALL_HINT}",
            hint=f"install it with {INSTALL_HINT}",
        )
    return found


def project_config(root: Path) -> Path | None:
    """Return the ruff configuration file in the project root, or ``None`` without one.

    ``.ruff.toml`` wins over ``ruff.toml``, which wins over ``pyproject.toml``, as in ruff; a
    ``pyproject.toml`` counts only when it has a ``[tool.ruff]`` table.
    """
    for name in CONFIG_FILES:
        if (root / name).is_file():
            return root / name

    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        content = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{pyproject.name} in the project root is not valid TOML: {exc}",
            hint="fix the file; ruff would refuse it too",
        ) from None
    return pyproject if "ruff" in content.get("tool", {}) else None


def lint(root: Path, files: Sequence[str]) -> LintReport:
    """Lint and format-check ``files`` (POSIX paths relative to ``root``) with ruff."""
    root = Path(root).resolve()
    binary = ruff_binary()
    config = project_config(root)
    started = time.monotonic()
    if not files:
        return LintReport((), (), _config_name(root, config), _version(binary))

    check = ["check", *_settings(config, lint=True), "--output-format", "json", "--exit-zero"]
    check_format = ["format", "--check", *_settings(config, lint=False), "--output-format", "json"]
    checked = _run(binary, check, root, files)
    formatted = _run(binary, check_format, root, files)
    mandatory = _diagnostics(_run(binary, _mandatory_settings(), root, files), root)

    # The project's own rules may find the same errors; each is reported once.
    seen = {(f.path, f.line, f.rule) for f in mandatory}
    own = [f for f in _diagnostics(checked, root) if (f.path, f.line, f.rule) not in seen]
    findings = [*own, *mandatory, *_diagnostics(formatted, root)]
    findings.sort(key=lambda f: (f.path, f.line, f.rule))
    mandatory.sort(key=lambda f: (f.path, f.line, f.rule))
    unformatted = tuple(sorted({f.path for f in findings if f.rule == FORMAT_RULE}))
    logger.info(
        "ruff read %d files with %s in %.1fs: %d lint findings (%d mandatory), "
        "%d unformatted files",
        len(files),
        _config_name(root, config) or "mlgate's rule set",
        time.monotonic() - started,
        len(findings) - len(unformatted),
        len(mandatory),
        len(unformatted),
    )
    return LintReport(
        tuple(findings),
        unformatted,
        _config_name(root, config),
        _version(binary),
        tuple(mandatory),
    )


def _settings(config: Path | None, *, lint: bool) -> list[str]:
    """Command-line settings: the project's config with its exclusions, or mlgate's rules."""
    if config is not None:
        return ["--no-cache", "--config", str(config), "--force-exclude"]
    rules = ["--select", ",".join(DEFAULT_RULES)] if lint else []
    return ["--no-cache", "--isolated", *rules]


def _mandatory_settings() -> list[str]:
    """The isolated run of :data:`MANDATORY_RULES`: no project configuration, no exclusions
    (files named on the command line are checked unless ``--force-exclude``), no ``# noqa``."""
    return [
        "check",
        "--no-cache",
        "--isolated",
        "--ignore-noqa",
        "--select",
        ",".join(MANDATORY_RULES),
        "--output-format",
        "json",
        "--exit-zero",
    ]


def _run(binary: str, arguments: list[str], root: Path, files: Sequence[str]) -> list[Any]:
    """Run one ruff command on ``files`` in ``root``; return its JSON diagnostics."""
    command = [binary, *arguments, "--", *files]
    try:
        done = subprocess.run(
            command,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=RUFF_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValidationError(
            f"ruff {arguments[0]} did not finish within {RUFF_TIMEOUT_SECONDS} s on "
            f"{len(files)} files; expected seconds",
            hint="narrow review.source in mlgate.yaml or add review.exclude patterns",
        ) from None

    try:
        diagnostics = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        diagnostics = None
    if not isinstance(diagnostics, list):
        message = (done.stderr or done.stdout).strip().splitlines()
        raise ValidationError(
            f"ruff {arguments[0]} failed with exit code {done.returncode}: "
            f"{message[-1] if message else 'no output'}",
            hint="check the project's ruff configuration; ruff 0.9 or newer is needed",
        )
    return diagnostics


def _diagnostics(diagnostics: list[Any], root: Path) -> list[LintFinding]:
    findings = []
    for item in diagnostics:
        code = item.get("code") or ""
        if code in SYNTAX_CODES:
            continue
        location = item.get("location") or {}
        if code == "unformatted":
            rule = FORMAT_RULE
            message = "file is not formatted as ruff format would write it; run ruff format"
        else:
            rule = str(code)
            message = str(item.get("message", ""))
        path = relative_posix(root, str(item.get("filename", "")))
        findings.append(LintFinding(path, int(location.get("row") or 1), rule, message))
    return findings


def _config_name(root: Path, config: Path | None) -> str | None:
    return None if config is None else config.relative_to(root).as_posix()


def _version(binary: str) -> str:
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stdout.strip().removeprefix("ruff ").strip() or "unknown"
