"""The code-review check: the machine reads a model project's own code before a person does.

The check ``code_review`` runs five groups of review over the code files of
``CheckInput.source`` (a :class:`~mlgate.review.source.SourceTree`; test files are run, not
reviewed):

- ``ast``: the rules of :mod:`mlgate.review.code` (magic numbers, endless loops,
  self-comparisons, swallowed exceptions and more), without importing anything;
- ``lint``: ruff's linter and formatter (:mod:`mlgate.review.lint`), with the project's ruff
  configuration when it has one, and always ruff's mandatory rules (undefined names, statements
  out of place, invalid comparisons), whose findings fail whatever the thresholds;
- ``duplication``: blocks of code repeated across or within files
  (:mod:`mlgate.review.duplication`);
- ``docstrings``: docstring coverage of public modules, classes and functions, and comment
  density (:mod:`mlgate.review.docstrings`);
- ``coverage``: the project's tests, run with pytest under coverage.py
  (:mod:`mlgate.review.coverage`): whether they pass and which lines they run.

Every finding's subject is ``path:line`` and its message starts with the rule. A group whose
count breaches its threshold (:data:`DEFAULTS`) fails and its findings are failures; findings
of groups within their limits are warnings. A Python file over the review's size limit
(:data:`~mlgate.review.source.MAX_FILE_BYTES`) is an ``ast`` finding ``too-large`` that warns,
and is left out of every group. The check reads files and runs the project's tests in
subprocesses, but writes nothing into the project.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    Severity,
    worst,
)
from mlgate.errors import ValidationError
from mlgate.review.code import (
    FAILING_RULES,
    RULES,
    CodeFinding,
    review_source,
    too_large_message,
)
from mlgate.review.coverage import CoverageReport, run_coverage
from mlgate.review.docstrings import DocumentationReport, document_coverage
from mlgate.review.duplication import DuplicateBlock, find_duplicates
from mlgate.review.lint import FORMAT_RULE, MANDATORY_RULES, LintReport, lint
from mlgate.review.source import SourceTree

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "max_failing_findings": 0,
    "max_magic_numbers": 10,
    "max_lint_findings": 0,
    "max_unformatted_files": 0,
    "max_duplicated_blocks": 0,
    "duplicate_min_lines": 6,
    "min_docstring_coverage": 0.8,
    "min_comment_density": 0.0,
    "run_tests": 1,
    "min_line_coverage": 0.8,
    "max_failing_tests": 0,
    "test_timeout_seconds": 600,
}
SHARE_KEYS = ("min_docstring_coverage", "min_line_coverage")
MAX_LISTED = 50  # findings listed per group; the group's table holds all of them
MAGIC_RULE = "magic-number"
MAX_NAMED = 5  # files named in an error message


@dataclass(frozen=True)
class _Reviews:
    """The outcome of every group of review, before it is judged against the thresholds."""

    ast: list[CodeFinding]
    lint: LintReport
    duplicates: list[DuplicateBlock]
    docs: DocumentationReport
    coverage: CoverageReport | None


def check_code_review(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Review the code of ``inp.source`` and run its tests; see the module docstring."""
    limits = _limits(thresholds)
    tree = _source(inp)
    started = time.monotonic()

    reviews = _Reviews(
        ast=sorted(
            [*review_source(tree.root, tree.code), *_too_large(tree)],
            key=lambda f: (f.path, f.line, f.rule),
        ),
        lint=lint(tree.root, tree.code),
        duplicates=find_duplicates(
            tree.root, tree.code, min_lines=int(limits["duplicate_min_lines"])
        ),
        docs=document_coverage(tree.root, tree.code),
        coverage=_coverage(tree, limits),
    )

    findings = [
        *_ast_findings(reviews.ast, limits),
        *_lint_findings(reviews.lint, limits),
        *_duplication_findings(reviews.duplicates, limits),
        *_docstring_findings(reviews.docs, limits),
        *_coverage_findings(reviews.coverage, limits),
    ]
    status = worst([f.severity for f in findings if f.severity != "info"])
    logger.info(
        "code_review: %d code files, %d findings, status %s, in %.1fs",
        len(tree.code),
        len(findings),
        status,
        time.monotonic() - started,
    )
    return CheckResult(
        check="code_review",
        status=status,
        summary=_summary(tree.code, reviews),
        metrics=_metrics(tree, reviews),
        findings=findings,
        figures=_figures(reviews, limits),
        tables=_tables(reviews),
    )


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    """Merge the thresholds with the defaults and refuse values that cannot be meant."""
    limits = {**DEFAULTS, **thresholds}
    for key, value in limits.items():
        if not isinstance(value, int | float) or math.isnan(value) or value < 0:
            raise ValidationError(
                f"code_review threshold {key} must be a number >= 0; got {value!r}"
            )
    for key in SHARE_KEYS:
        if limits[key] > 1:
            raise ValidationError(
                f"code_review threshold {key} is a share between 0 and 1; got {limits[key]:g}"
            )
    if limits["duplicate_min_lines"] < 2 or limits["duplicate_min_lines"] != int(
        limits["duplicate_min_lines"]
    ):
        raise ValidationError(
            "code_review threshold duplicate_min_lines must be a whole number of at least 2; "
            f"got {limits['duplicate_min_lines']:g}"
        )
    if limits["test_timeout_seconds"] <= 0:
        raise ValidationError(
            f"code_review threshold test_timeout_seconds must be above 0; "
            f"got {limits['test_timeout_seconds']:g}"
        )
    return limits


def _source(inp: CheckInput) -> SourceTree:
    tree = inp.source
    if not isinstance(tree, SourceTree):
        raise ValidationError(
            "code_review needs the project's files as a SourceTree (CheckInput.source); "
            f"got {type(tree).__name__}"
        )
    if not tree.code:
        left_out = [name for name in tree.oversized if name.endswith(".py")][:MAX_NAMED]
        too_large = f" under the size limit ({', '.join(left_out)} too large)" if left_out else ""
        raise ValidationError(
            f"the review paths under {tree.root.name!r} hold no Python code file{too_large}; "
            "expected at least one",
            hint="set review.source in mlgate.yaml to the folders of the training and "
            "prediction code",
        )
    return tree


def _too_large(tree: SourceTree) -> list[CodeFinding]:
    """A warning for each Python file the review left out for its size."""
    return [
        CodeFinding(
            path=relative,
            line=1,
            rule="too-large",
            message=too_large_message(tree.path(relative).stat().st_size),
            severity="warn",
        )
        for relative in tree.oversized
        if relative.endswith(".py")
    ]


def _coverage(tree: SourceTree, limits: Mapping[str, float]) -> CoverageReport | None:
    if not limits["run_tests"]:
        logger.info("code_review: run_tests is 0, the project's tests are not run")
        return None
    return run_coverage(
        tree.root, tree.code, tree.tests, timeout=float(limits["test_timeout_seconds"])
    )


def _severity(breached: bool) -> Severity:
    return "fail" if breached else "warn"


def _listed(findings: list[Finding], group: str) -> list[Finding]:
    """The first :data:`MAX_LISTED` findings of a group, and one that counts the rest."""
    if len(findings) <= MAX_LISTED:
        return findings
    rest = findings[MAX_LISTED:]
    severity = worst([f.severity for f in rest])
    note = Finding(severity, f"{group}: {len(rest)} more finding(s) in the {group} table")
    return [*findings[:MAX_LISTED], note]


def _where(path: str, line: int) -> str:
    return f"{path}:{line}"


# --- The groups -----------------------------------------------------------------------------


def _ast_findings(found: Sequence[CodeFinding], limits: Mapping[str, float]) -> list[Finding]:
    failing = sum(f.rule in FAILING_RULES for f in found)
    magic = sum(f.rule == MAGIC_RULE for f in found)
    failing_breached = failing > limits["max_failing_findings"]
    magic_breached = magic > limits["max_magic_numbers"]

    findings = []
    for item in found:
        if item.rule in FAILING_RULES:
            severity = _severity(failing_breached)
        elif item.rule == MAGIC_RULE:
            severity = _severity(magic_breached)
        else:
            severity = "warn"
        message = f"{item.rule}: {item.message}"
        findings.append(Finding(severity, message, _where(item.path, item.line)))

    totals = []
    if failing_breached:
        message = (
            f"{failing} finding(s) of the failing rules ({', '.join(sorted(FAILING_RULES))}); "
            f"max_failing_findings is {limits['max_failing_findings']:g}"
        )
        totals.append(Finding("fail", message, "max_failing_findings", failing))
    if magic_breached:
        message = (
            f"{magic} magic number(s); max_magic_numbers is {limits['max_magic_numbers']:g}: "
            "name them as UPPER_CASE constants"
        )
        totals.append(Finding("fail", message, "max_magic_numbers", magic))
    return totals + _listed(findings, "ast")


def _lint_findings(report: LintReport, limits: Mapping[str, float]) -> list[Finding]:
    count = len(report.lint_findings)
    unformatted = len(report.unformatted)
    lint_severity = _severity(count > limits["max_lint_findings"])
    format_severity = _severity(unformatted > limits["max_unformatted_files"])
    mandatory = set(report.mandatory)

    findings = [
        Finding(
            "fail"
            if item in mandatory
            else format_severity
            if item.rule == FORMAT_RULE
            else lint_severity,
            f"{item.rule}: {item.message}",
            _where(item.path, item.line),
        )
        for item in report.findings
    ]
    totals = []
    if mandatory:
        message = (
            f"{len(mandatory)} finding(s) of the mandatory ruff rules "
            f"({', '.join(MANDATORY_RULES)}), which fail whatever the project's ruff "
            "configuration and the thresholds: the code breaks when it runs"
        )
        totals.append(Finding("fail", message, "lint.mandatory", len(mandatory)))
    if count > limits["max_lint_findings"]:
        message = (
            f"{count} ruff finding(s); max_lint_findings is {limits['max_lint_findings']:g}: "
            "fix them, or set the project's own ruff rules in pyproject.toml"
        )
        totals.append(Finding("fail", message, "max_lint_findings", count))
    if unformatted > limits["max_unformatted_files"]:
        message = (
            f"{unformatted} file(s) not formatted; max_unformatted_files is "
            f"{limits['max_unformatted_files']:g}: run ruff format on them"
        )
        totals.append(Finding("fail", message, "max_unformatted_files", unformatted))
    return totals + _listed(findings, "lint")


def _duplication_findings(
    blocks: Sequence[DuplicateBlock], limits: Mapping[str, float]
) -> list[Finding]:
    breached = len(blocks) > limits["max_duplicated_blocks"]
    findings = [
        Finding(
            _severity(breached),
            f"duplicated-block: lines {block.copy} repeat {block.original} "
            f"({block.statements} statements); move them into one function",
            _where(block.copy.path, block.copy.first_line),
            block.lines,
        )
        for block in blocks
    ]
    if breached:
        message = (
            f"{len(blocks)} duplicated block(s); max_duplicated_blocks is "
            f"{limits['max_duplicated_blocks']:g}"
        )
        findings.insert(0, Finding("fail", message, "max_duplicated_blocks", len(blocks)))
    return _listed(findings, "duplication")


def _docstring_findings(report: DocumentationReport, limits: Mapping[str, float]) -> list[Finding]:
    coverage = report.coverage
    minimum = limits["min_docstring_coverage"]
    breached = coverage is not None and coverage < minimum
    findings = [
        Finding(
            _severity(breached),
            f"missing-docstring: public {item.kind} {item.name!r} has no docstring",
            _where(item.path, item.line),
        )
        for item in report.missing
    ]
    totals = []
    if breached:
        message = f"docstring coverage {coverage:.1%}; min_docstring_coverage is {minimum:.0%}"
        totals.append(Finding("fail", message, "min_docstring_coverage", round(coverage, 4)))

    density = report.comment_density
    low = limits["min_comment_density"]
    if density is not None and density < low:
        message = f"{density:.3f} comment lines per code line; min_comment_density is {low:g}"
        totals.append(Finding("fail", message, "min_comment_density", round(density, 4)))
    return totals + _listed(findings, "docstrings")


def _coverage_findings(
    report: CoverageReport | None, limits: Mapping[str, float]
) -> list[Finding]:
    if report is None:
        return [Finding("info", "coverage: the tests were not run (run_tests is 0)")]

    minimum = limits["min_line_coverage"]
    failed_breached = len(report.failed) > limits["max_failing_tests"]
    findings = _run_findings(report, minimum)
    findings.extend(
        Finding(
            _severity(failed_breached),
            f"failed-test: {test.test_id}: {test.message}",
            _where(test.path, test.line) if test.path and test.line else test.test_id,
        )
        for test in report.failed
    )
    if failed_breached:
        message = (
            f"{len(report.failed)} test(s) failed; max_failing_tests is "
            f"{limits['max_failing_tests']:g}"
        )
        findings.insert(0, Finding("fail", message, "max_failing_tests", len(report.failed)))

    total = report.line_coverage
    breached = total is not None and total < minimum
    if breached:
        message = f"line coverage {total:.1%}; min_line_coverage is {minimum:.0%}"
        findings.insert(0, Finding("fail", message, "min_line_coverage", round(total, 4)))
    findings.extend(
        Finding(
            _severity(breached),
            f"untested-module: no test imports {item.path} ({item.statements} statements)",
            _where(item.path, 1),
        )
        for item in report.untested
    )
    return _listed(findings, "coverage")


def _run_findings(report: CoverageReport, minimum: float) -> list[Finding]:
    """A finding for a test run that did not complete, or had no test to run."""
    severity = _severity(minimum > 0)
    if report.status == "no-tests":
        message = (
            "no-tests: the project has no test that pytest collects, so no line of its code is "
            "tested; add tests under the review.tests paths of mlgate.yaml"
        )
        return [Finding(severity, message, "review.tests")]
    if report.status == "timeout":
        message = (
            "tests-timeout: the tests did not finish within test_timeout_seconds; raise it or "
            "make the tests faster"
        )
        return [Finding("fail", message, "test_timeout_seconds")]
    if report.status == "error":
        last = report.output.splitlines()[-1] if report.output else "no output"
        message = f"tests-error: {report.error}; its last output line: {last}"
        return [Finding("fail", message, "review.tests")]
    if report.line_coverage is None and minimum > 0:
        message = (
            "coverage-unmeasured: the tests ran but coverage.py measured no line of the code "
            "under review, so min_line_coverage cannot be shown to hold"
        )
        return [Finding("fail", message, "min_line_coverage")]
    return []


# --- The result -----------------------------------------------------------------------------


def _metrics(tree: SourceTree, reviews: _Reviews) -> dict[str, float | int | str | None]:
    rules = Counter(f.rule for f in reviews.ast)
    coverage = reviews.coverage
    metrics: dict[str, float | int | str | None] = {
        "files_reviewed": len(tree.code),
        "test_files": len(tree.tests),
        "ast.findings": len(reviews.ast),
        "ast.failing": sum(rules[rule] for rule in FAILING_RULES),
        **{f"ast.{rule}": rules[rule] for rule in RULES},
        "lint.findings": len(reviews.lint.lint_findings),
        "lint.mandatory": len(reviews.lint.mandatory),
        "lint.unformatted_files": len(reviews.lint.unformatted),
        "lint.config": reviews.lint.config or "mlgate default rules",
        "duplication.blocks": len(reviews.duplicates),
        "duplication.lines": _duplicated_lines(reviews.duplicates),
        "docstrings.coverage": reviews.docs.coverage,
        "docstrings.missing": len(reviews.docs.missing),
        "comments.density": reviews.docs.comment_density,
        "coverage.line": coverage.line_coverage if coverage else None,
        "coverage.status": coverage.status if coverage else "not run",
        "coverage.tests_run": coverage.tests_run if coverage else None,
        "coverage.tests_failed": len(coverage.failed) if coverage else None,
        "coverage.untested_modules": len(coverage.untested) if coverage else None,
    }
    return metrics


def _duplicated_lines(blocks: Sequence[DuplicateBlock]) -> int:
    """Physical lines that are a copy of a block elsewhere, each line counted once."""
    lines = {
        (block.copy.path, line)
        for block in blocks
        for line in range(block.copy.first_line, block.copy.last_line + 1)
    }
    return len(lines)


def _summary(code: Sequence[str], reviews: _Reviews) -> str:
    failing = sum(f.rule in FAILING_RULES for f in reviews.ast)
    docs = reviews.docs.coverage
    coverage = reviews.coverage
    if coverage is None:
        tests = "tests not run"
    elif coverage.line_coverage is None:
        tests = f"tests {coverage.status}, no line coverage"
    else:
        tests = f"tests {coverage.status}, line coverage {coverage.line_coverage:.0%}"
    return (
        f"{len(code)} code file(s): {len(reviews.ast)} AST finding(s) ({failing} failing), "
        f"{len(reviews.lint.lint_findings)} lint finding(s), "
        f"{len(reviews.lint.unformatted)} unformatted file(s), "
        f"{len(reviews.duplicates)} duplicated block(s), docstring coverage "
        f"{'n/a' if docs is None else f'{docs:.0%}'}; {tests}"
    )


def _tables(reviews: _Reviews) -> dict[str, list[dict[str, Any]]]:
    coverage = reviews.coverage
    return {
        "ast": [
            {
                "where": _where(f.path, f.line),
                "rule": f.rule,
                "severity": f.severity,
                "message": f.message,
            }
            for f in reviews.ast
        ],
        "lint": [
            {"where": _where(f.path, f.line), "rule": f.rule, "message": f.message}
            for f in reviews.lint.findings
        ],
        "duplication": [
            {
                "copy": str(b.copy),
                "original": str(b.original),
                "statements": b.statements,
                "lines": b.lines,
            }
            for b in reviews.duplicates
        ],
        "docstrings": [
            {"where": _where(m.path, m.line), "kind": m.kind, "name": m.name}
            for m in reviews.docs.missing
        ],
        "comments": [
            {
                "file": f.path,
                "comment_lines": f.comment_lines,
                "code_lines": f.code_lines,
                "comment_density": None
                if f.comment_density is None
                else round(f.comment_density, 4),
            }
            for f in reviews.docs.files
        ],
        "coverage": [
            {
                "file": f.path,
                "statements": f.statements,
                "covered": f.covered,
                "line_coverage": round(f.percent, 4),
                "imported": f.imported,
            }
            for f in (coverage.files if coverage else ())
        ],
        "failed_tests": [
            {"test": t.test_id, "line": t.line, "message": t.message}
            for t in (coverage.failed if coverage else ())
        ],
    }


def _figures(reviews: _Reviews, limits: Mapping[str, float]) -> list[Figure]:
    counts: Counter[str] = Counter(f.rule for f in reviews.ast)
    counts.update(f.rule for f in reviews.lint.findings)
    counts["duplicated-block"] += len(reviews.duplicates)
    counts["missing-docstring"] += len(reviews.docs.missing)
    rules = sorted((rule for rule in counts if counts[rule]), key=lambda r: (-counts[r], r))
    figures = [
        Figure(
            name="findings_per_rule",
            title="Code review findings per rule",
            kind="bar",
            x_label="rule",
            y_label="findings",
            series=[Series("findings", rules, [float(counts[r]) for r in rules])],
        )
    ]
    if reviews.coverage is not None and reviews.coverage.files:
        files = reviews.coverage.files
        figures.append(
            Figure(
                name="coverage_per_file",
                title="Line coverage per code file; the line is min_line_coverage",
                kind="bar",
                x_label="file",
                y_label="line coverage",
                series=[
                    Series("line coverage", [f.path for f in files], [f.percent for f in files])
                ],
                threshold=limits["min_line_coverage"],
            )
        )
    return figures


SPEC = CheckSpec(
    name="code_review",
    title="Code review of the project's source",
    function=check_code_review,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Reviews the model project's own code files by machine: AST rules (magic numbers, "
        "endless loops, self-comparisons, swallowed exceptions, mutable defaults), ruff lint "
        "and format, duplicated blocks of at least duplicate_min_lines logical lines, docstring "
        "coverage and comment density, and runs the project's tests with pytest under "
        "coverage.py for line coverage and failing tests. A group over its limit "
        "(max_failing_findings, max_magic_numbers, max_lint_findings, max_unformatted_files, "
        "max_duplicated_blocks, min_docstring_coverage, min_comment_density, min_line_coverage, "
        "max_failing_tests) fails; other findings warn. Findings name file and line."
    ),
    needs_source=True,
)
