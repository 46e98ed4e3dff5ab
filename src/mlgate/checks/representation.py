"""Representation: does the sample hold each group as often as the population it stands for?

A model trained on a sample where, say, women are 20 % of the rows while they are half of the
applicants learns less about them; the group-size check cannot see this, since 20 % of a large
sample is a large group. This check compares the observed share of each group with a reference
share the user gives.

``CheckInput`` has no field for reference shares, so they come in the thresholds, one key per
group: ``share.<attribute>.<group>``, for instance ``share.sex.female: 0.5``. ``<attribute>`` is
a column of the data (the longest column name that matches, so names may contain dots);
``<group>`` is a group label as :func:`mlgate.checks.group_sizes.group_labels` writes it (text
values as they are, numbers as ``1`` or ``2.5``, ages as ``<25``, ``25-39``, ``40-59``, ``60+``,
missing values as ``(missing)``). The shares of one attribute must lie in [0, 1] and sum to at
most 1; groups without a key are not judged. Without any ``share.`` key the check passes with an
info finding.

For each group: the observed share ``k / n`` over all ``n`` rows (rows with a missing value
count in the denominator), its Wilson score interval at ``confidence`` (default 95 %, no
continuity correction; scipy's ``binomtest(k, n).proportion_ci(method='wilson')``), and the
limits ``tolerance x reference`` (warn, default 0.8) and ``fail_tolerance x reference`` (fail,
default 0.5). A group is flagged only when the interval's **upper bound** is below a limit, so a
small sample whose share is low by chance raises no alarm; a point estimate below the limit with
an upper bound above it gives an info finding. Over-representation is reported, not flagged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from scipy.stats import norm

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series, worst
from mlgate.checks.group_sizes import group_labels
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

SHARE_PREFIX = "share."

DEFAULTS: dict[str, float] = {"tolerance": 0.8, "fail_tolerance": 0.5, "confidence": 0.95}


def check_representation(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Compare observed group shares with the reference shares in ``thresholds``."""
    limits = {**DEFAULTS, **thresholds}
    _validate_limits(limits)
    references = reference_shares(thresholds, list(inp.data.columns))
    if not references:
        message = (
            "no reference shares given (threshold keys share.<attribute>.<group>, for instance "
            "share.sex.female: 0.5); representation not assessed"
        )
        return CheckResult(
            check="representation",
            status="pass",
            summary="no reference shares given",
            metrics={"n_groups_checked": 0},
            findings=[Finding("info", message)],
        )

    rows: list[dict[str, Any]] = []
    for attribute, shares in references.items():
        labels = group_labels(inp.data[attribute], attribute)
        counts = labels.value_counts()
        for group, reference in shares.items():
            count = int(counts.get(group, 0))
            rows.append(_group_row(attribute, group, count, len(labels), reference, limits))
    logger.info("representation: %d groups over %d attributes", len(rows), len(references))

    findings = [f for row in rows for f in _findings(row, limits)]
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="representation",
        status=status,
        summary=_summary(rows),
        metrics=_metrics(rows),
        findings=findings,
        figures=[_figure(a, rows) for a in references],
        tables={"groups": rows},
    )


def wilson_interval(count: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Return the Wilson score interval for ``count`` successes in ``n`` trials, or None if n=0.

    ``centre = (p + z^2 / 2n) / (1 + z^2 / n)`` and
    ``half width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)``, with ``p = count / n``
    and ``z`` the normal quantile at ``1 - (1 - confidence) / 2``. Unlike the normal
    approximation it stays inside [0, 1] and is not empty at ``p = 0``.
    """
    if not 0 <= count <= n:
        raise ValidationError(f"count must be in [0, n={n}]; got {count}")
    if n == 0:
        return None
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = count / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def reference_shares(
    thresholds: Mapping[str, float], columns: list[Any]
) -> dict[str, dict[str, float]]:
    """Parse the ``share.<attribute>.<group>`` keys into ``{attribute: {group: share}}``.

    Raises :class:`ValidationError` for a key that names no column, a share outside [0, 1], or
    shares of one attribute that sum to more than 1.
    """
    names = sorted((str(c) for c in columns), key=len, reverse=True)
    references: dict[str, dict[str, float]] = {}
    for key, value in thresholds.items():
        if not key.startswith(SHARE_PREFIX):
            continue
        rest = key[len(SHARE_PREFIX) :]
        attribute = next((c for c in names if rest.startswith(f"{c}.")), None)
        if attribute is None or len(rest) == len(attribute) + 1:
            raise ValidationError(
                f"threshold key '{key}' names no column and group of the data; expected "
                f"share.<attribute>.<group> with an attribute among {sorted(names)}"
            )
        share = float(value)
        if not 0.0 <= share <= 1.0:
            raise ValidationError(f"reference share '{key}' must be in [0, 1]; got {value}")
        references.setdefault(attribute, {})[rest[len(attribute) + 1 :]] = share

    for attribute, shares in references.items():
        total = sum(shares.values())
        if total > 1.0 + 1e-9:
            raise ValidationError(
                f"reference shares of '{attribute}' sum to {total:g}; expected at most 1"
            )
    return references


def _validate_limits(limits: Mapping[str, float]) -> None:
    tolerance, fail_tolerance = limits["tolerance"], limits["fail_tolerance"]
    if not 0.0 < fail_tolerance <= tolerance:
        raise ValidationError(
            f"expected 0 < fail_tolerance <= tolerance; got fail_tolerance {fail_tolerance} "
            f"and tolerance {tolerance}"
        )
    if not 0.0 < limits["confidence"] < 1.0:
        raise ValidationError(f"confidence must be in (0, 1); got {limits['confidence']}")


def _group_row(
    attribute: str,
    group: str,
    count: int,
    n_rows: int,
    reference: float,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    interval = wilson_interval(count, n_rows, limits["confidence"])
    low, high = interval if interval is not None else (None, None)
    warn_limit = limits["tolerance"] * reference
    fail_limit = limits["fail_tolerance"] * reference
    status = "pass"
    if high is not None and high < fail_limit:
        status = "fail"
    elif high is not None and high < warn_limit:
        status = "warn"
    return {
        "attribute": attribute,
        "group": group,
        "count": count,
        "n_rows": n_rows,
        "observed_share": count / n_rows if n_rows else None,
        "reference_share": reference,
        "ci_low": low,
        "ci_high": high,
        "ratio": count / n_rows / reference if n_rows and reference else None,
        "warn_limit": warn_limit,
        "fail_limit": fail_limit,
        "status": status,
    }


def _findings(row: Mapping[str, Any], limits: Mapping[str, float]) -> list[Finding]:
    where = f"{row['attribute']}: group '{row['group']}'"
    if row["observed_share"] is None:
        return [Finding("warn", f"{where}: the data has 0 rows; share not computed")]

    level = 100 * limits["confidence"]
    observed = (
        f"{where} is {row['observed_share']:.1%} of {row['n_rows']} rows ({level:g}% interval "
        f"{row['ci_low']:.1%} to {row['ci_high']:.1%}) against a reference share of "
        f"{row['reference_share']:.1%}"
    )
    if row["status"] == "fail":
        message = f"{observed}; under-represented: even the upper bound is below " + (
            f"{limits['fail_tolerance']:g} x reference = {row['fail_limit']:.1%}"
        )
        return [Finding("fail", message, row["attribute"], row["observed_share"])]
    if row["status"] == "warn":
        message = f"{observed}; under-represented: the upper bound is below " + (
            f"{limits['tolerance']:g} x reference = {row['warn_limit']:.1%}"
        )
        return [Finding("warn", message, row["attribute"], row["observed_share"])]
    if row["observed_share"] < row["warn_limit"]:
        message = (
            f"{observed}; below {limits['tolerance']:g} x reference, but the sample is too small "
            f"to tell (the interval reaches {row['warn_limit']:.1%})"
        )
        return [Finding("info", message, row["attribute"], row["observed_share"])]
    return []


def _metrics(rows: list[dict[str, Any]]) -> dict[str, float | int | str | None]:
    metrics: dict[str, float | int | str | None] = {
        "n_groups_checked": len(rows),
        "n_under_represented": sum(r["status"] != "pass" for r in rows),
    }
    for row in rows:
        stem = f"{row['attribute']}.{row['group']}"
        metrics[f"{stem}.observed_share"] = row["observed_share"]
        metrics[f"{stem}.reference_share"] = row["reference_share"]
        metrics[f"{stem}.ci_high"] = row["ci_high"]
    return metrics


def _summary(rows: list[dict[str, Any]]) -> str:
    failed = sum(r["status"] == "fail" for r in rows)
    warned = sum(r["status"] == "warn" for r in rows)
    return (
        f"{len(rows)} group(s) compared with reference shares: {failed} clearly "
        f"under-represented, {warned} under-represented"
    )


def _figure(attribute: str, rows: list[dict[str, Any]]) -> Figure:
    mine = [r for r in rows if r["attribute"] == attribute]
    groups = [r["group"] for r in mine]
    return Figure(
        name=f"representation_{attribute}",
        title=f"Observed and reference share per group of {attribute}",
        kind="bar",
        x_label=str(attribute),
        y_label="share of rows",
        series=[
            Series("observed", groups, [r["observed_share"] for r in mine]),
            Series("reference", groups, [r["reference_share"] for r in mine]),
        ],
    )


SPEC = CheckSpec(
    name="representation",
    title="Representation against reference shares",
    function=check_representation,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Observed share of each group of an attribute against the reference share given as "
        "threshold share.<attribute>.<group>; warns when the upper bound of the Wilson "
        "interval (at confidence) is below tolerance x reference, fails below "
        "fail_tolerance x reference. Passes with an info finding when no share is given."
    ),
    threshold_prefixes=(SHARE_PREFIX,),
)
