"""The ``contract`` check: does the dataset meet its data contract?

The check runs :func:`mlgate.contracts.validate_frame` on ``CheckInput.data`` and turns each
violation into a finding:

- ``missing_column``, ``unexpected_column``, ``type`` and ``unit_scale`` always fail: the
  column as a whole is not what the contract says;
- ``null``, ``range``, ``allowed`` and ``unique_key`` fail when their share exceeds
  ``max_violation_share`` and warn below it. The share compared is of the column's non-null
  values, except for ``null``, which is of all rows. The default limit 0 fails on any violation.

:class:`~mlgate.checks.base.CheckInput` carries no contract, so the registered
:data:`SPEC` cannot run on its own: the service builds the function for a dataset with
:func:`make_check` (or calls :func:`check_contract` with the contract). The label column may be
absent when ``CheckInput.target`` is ``None`` (scoring data come without it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from mlgate.checks.base import (
    CheckFunction,
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    Severity,
    worst,
)
from mlgate.contracts.schema import Contract
from mlgate.contracts.validate import (
    COLUMN_RULES,
    RULES,
    ContractReport,
    Violation,
    validate_frame,
)
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {"max_violation_share": 0.0}
NEEDS_CONTRACT = "the contract check needs a contract; register the dataset with one"


def check_contract(
    inp: CheckInput, thresholds: Mapping[str, float], contract: Contract | None = None
) -> CheckResult:
    """Validate ``inp.data`` against ``contract`` and grade every violation."""
    if contract is None:
        raise ValidationError(NEEDS_CONTRACT, hint="mlgate data add FILE --contract contract.yaml")
    limit = float({**DEFAULTS, **thresholds}["max_violation_share"])
    if not 0.0 <= limit <= 1.0:
        raise ValidationError(f"max_violation_share must be in [0, 1]; got {limit}")

    report = validate_frame(inp.data, contract, require_label=inp.target is not None)
    graded = [(v, _severity(v, limit)) for v in report.violations]
    findings = [_finding(v, severity, limit) for v, severity in graded]
    logger.info("contract check on %s: %d violation(s)", contract.dataset, len(findings))

    return CheckResult(
        check="contract",
        status=worst([severity for _, severity in graded]),
        summary=_summary(report, graded),
        metrics=_metrics(report, graded),
        findings=findings,
        figures=[_figure(report)],
        tables={"violations": [{**v.to_dict(), "severity": s} for v, s in graded]},
    )


def make_check(contract: Contract) -> CheckFunction:
    """Return the check function bound to ``contract``, with the registry's signature."""
    return functools.partial(check_contract, contract=contract)


def _severity(violation: Violation, limit: float) -> Severity:
    if violation.rule in COLUMN_RULES:
        return "fail"
    share = violation.verdict_share
    return "fail" if share is None or share > limit else "warn"


def _finding(violation: Violation, severity: Severity, limit: float) -> Finding:
    message = violation.message
    if violation.rule not in COLUMN_RULES:
        base = "all rows" if violation.rule == "null" else "non-null values"
        message += f" [limit {100 * limit:.3g}% of {base}]"
    return Finding(severity, message, violation.column, violation.verdict_share)


def _summary(report: ContractReport, graded: list[tuple[Violation, Severity]]) -> str:
    failing = sum(severity == "fail" for _, severity in graded)
    if report.ok:
        return report.summary()
    return f"{report.summary()}; {failing} failing"


def _metrics(
    report: ContractReport, graded: list[tuple[Violation, Severity]]
) -> dict[str, float | int | str | None]:
    metrics: dict[str, float | int | str | None] = {
        "n_rows": report.n_rows,
        "n_columns": report.n_columns,
        "n_violations": len(graded),
        "n_failing": sum(severity == "fail" for _, severity in graded),
    }
    for rule in RULES:
        metrics[f"violations.{rule}"] = report.counts_by_rule().get(rule, 0)
    for violation, _ in graded:
        metrics[f"{violation.column}.{violation.rule}.count"] = violation.count
    return metrics


def _figure(report: ContractReport) -> Figure:
    columns = list(dict.fromkeys(v.column for v in report.violations))
    series = []
    for rule in RULES:
        counts = {v.column: v.count for v in report.violations if v.rule == rule}
        if counts:
            series.append(Series(rule, columns, [float(counts.get(c, 0)) for c in columns]))
    return Figure(
        "contract_violations",
        "Contract violations per column (rows concerned, by rule)",
        "bar",
        "column",
        "rows",
        series,
    )


SPEC = CheckSpec(
    name="contract",
    title="Data contract",
    function=check_contract,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Validates the data against the dataset's contract: missing and unexpected columns, "
        "types, nulls, plausible ranges, allowed categories, unique keys and values in the "
        "wrong unit; every share states its denominator, and sensitive values are never shown."
    ),
)
