"""Challenger against champion: is the new version better than the deployed one?

Once a version is deployed it is the champion. A newer version (the challenger, the project's
current model) replaces it only when it is better on the SAME hold-out rows, by enough to matter
and by more than chance:

- the metric is the ROC AUC for a binary target when both models give probabilities, else
  accuracy;
- the improvement is the challenger's value minus the champion's, and relative to the
  champion's value; both must reach ``min_absolute_improvement`` and
  ``min_relative_improvement``;
- the rows are resampled together (a paired bootstrap) to give an interval of the improvement,
  which must lie above zero. For accuracy, McNemar's exact test on the rows only one of the two
  models gets right must also reject "equally accurate" at the same level; its two-sided
  p-value is the exact binomial tail, computed here without a statistics package.

With no champion deployed there is nothing to compare: the check passes and says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    labelled_rows,
    require_model,
    worst,
)
from mlgate.checks.business import (
    Interval,
    ScoredRows,
    bootstrap_weights,
    percentile_interval,
    point_value,
    replicate_values,
    score_rows,
)
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "min_absolute_improvement": 0.005,
    "min_relative_improvement": 0.01,
    "confidence": 0.95,
    "bootstrap_samples": 1000,
}
NO_CHAMPION = "no champion: nothing to compare"


@dataclass(frozen=True)
class Champion:
    """The deployed version a challenger must beat: its fitted model and its input columns.

    ``features`` are the columns the champion was trained on (its signature); empty means the
    challenger's. ``challenger_version`` lets the check see that the current version is itself
    the champion.
    """

    model: Any
    version: int | None = None
    features: Sequence[str] = ()
    challenger_version: int | None = None


def mcnemar_exact(champion_only: int, challenger_only: int) -> float:
    """Return the two-sided exact p-value of McNemar's test from the discordant row counts.

    Under "equally accurate" each discordant row is the challenger's with chance one half, so
    the p-value is twice the smaller binomial tail, capped at 1. Terms are summed in log space,
    so a hold-out set with many thousands of discordant rows neither overflows nor underflows.
    """
    if champion_only < 0 or challenger_only < 0:
        raise ValidationError(
            f"discordant counts must be >= 0; got {champion_only} and {challenger_only}"
        )
    n = champion_only + challenger_only
    if n == 0:
        return 1.0
    k = min(champion_only, challenger_only)
    logs = np.array(
        [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k + 1)]
    )
    top = logs.max()
    log_tail = top + math.log(np.exp(logs - top).sum()) - n * math.log(2)
    return min(1.0, 2 * math.exp(log_tail))


def check_challenger(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Compare the current model with the deployed champion on the same hold-out rows."""
    limits = _limits(thresholds)
    champion = inp.champion
    if champion is None:
        return _nothing_to_compare(NO_CHAMPION, {})
    if not isinstance(champion, Champion):
        champion = Champion(model=champion)
    if champion.version is not None and champion.version == champion.challenger_version:
        reason = f"version {champion.version} is itself the deployed champion; nothing to compare"
        return _nothing_to_compare(reason, {"champion_version": champion.version})

    require_model(inp, "challenger")
    frame = inp.holdout if inp.holdout is not None else inp.data
    x, y = labelled_rows(inp, frame)
    new = score_rows(inp.model, x, y, inp.positive_label)
    old = score_rows(champion.model, _champion_columns(champion, frame, x), y, inp.positive_label)
    metric = _metric(new, old)

    comparison = _compare(new, old, metric, limits, inp.seed)
    comparison.update({"champion_version": champion.version, "n_rows": new.n_rows})
    comparison["challenger_version"] = champion.challenger_version
    findings = _findings(comparison, limits)
    comparison.pop("undefined")
    logger.info(
        "challenger: %s on %d rows, champion %s, challenger %s",
        metric,
        new.n_rows,
        comparison["champion_value"],
        comparison["challenger_value"],
    )

    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="challenger",
        status=status,
        summary=_summary(comparison, status),
        metrics=comparison,
        findings=findings,
        figures=[_figure(comparison)],
        tables={"comparison": _table(comparison)},
    )


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    if not 0 < limits["confidence"] < 1:
        raise ValidationError(f"confidence must be in (0, 1); got {limits['confidence']:g}")
    if limits["bootstrap_samples"] < 1:
        raise ValidationError(
            f"bootstrap_samples must be at least 1; got {limits['bootstrap_samples']:g}"
        )
    return limits


def _nothing_to_compare(reason: str, metrics: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check="challenger",
        status="pass",
        summary=reason,
        metrics=metrics,
        findings=[Finding("info", reason)],
    )


def _champion_columns(champion: Champion, frame: pd.DataFrame, x: pd.DataFrame) -> pd.DataFrame:
    columns = list(champion.features) or list(x.columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the hold-out rows lack the champion's feature column(s) {', '.join(missing)}; "
            "both versions must be scored on the same rows"
        )
    return frame[columns]


def _metric(new: ScoredRows, old: ScoredRows) -> str:
    both_proba = new.proba is not None and old.proba is not None
    return "roc_auc" if new.binary and old.binary and both_proba else "accuracy"


def _compare(
    new: ScoredRows, old: ScoredRows, metric: str, limits: Mapping[str, float], seed: int
) -> dict[str, Any]:
    challenger_value, why_new = point_value(new, metric)
    champion_value, why_old = point_value(old, metric)
    result: dict[str, Any] = {
        "metric": metric,
        "champion_value": champion_value,
        "challenger_value": challenger_value,
        "absolute_improvement": None,
        "relative_improvement": None,
        "ci_low": None,
        "ci_high": None,
        "test": "McNemar exact" if metric == "accuracy" else "paired bootstrap",
        "p_value": None,
        "undefined": why_new or why_old,
    }
    if challenger_value is None or champion_value is None:
        return result

    difference = challenger_value - champion_value
    result["absolute_improvement"] = difference
    if champion_value != 0:
        result["relative_improvement"] = difference / abs(champion_value)
    interval = paired_interval(new, old, metric, limits, seed)
    result.update({"ci_low": interval.low, "ci_high": interval.high})
    if metric == "accuracy":
        new_right, old_right = new.y == new.predicted, old.y == old.predicted
        champion_only = int((old_right & ~new_right).sum())
        challenger_only = int((new_right & ~old_right).sum())
        result["p_value"] = mcnemar_exact(champion_only, challenger_only)
        result["champion_only_correct"] = champion_only
        result["challenger_only_correct"] = challenger_only
    return result


def paired_interval(
    new: ScoredRows, old: ScoredRows, metric: str, limits: Mapping[str, float], seed: int
) -> Interval:
    """Return the bootstrap interval of ``new`` minus ``old``, both scored on each replicate."""
    differences = [
        replicate_values(new, metric, w) - replicate_values(old, metric, w)
        for w in bootstrap_weights(new.n_rows, int(limits["bootstrap_samples"]), seed)
    ]
    return percentile_interval(np.concatenate(differences), limits["confidence"])


def _findings(comparison: Mapping[str, Any], limits: Mapping[str, float]) -> list[Finding]:
    metric = comparison["metric"]
    if comparison["absolute_improvement"] is None:
        message = f"{metric} cannot be computed for both versions: {comparison['undefined']}"
        return [Finding("fail", message, metric)]

    difference, relative = comparison["absolute_improvement"], comparison["relative_improvement"]
    level = f"{limits['confidence']:.0%}"
    findings = []
    if difference < limits["min_absolute_improvement"]:
        message = (
            f"{metric} improves by {difference:+.4f}, below the minimum "
            f"{limits['min_absolute_improvement']:g}"
        )
        findings.append(Finding("fail", message, "absolute_improvement", difference))
    if relative is None or relative < limits["min_relative_improvement"]:
        shown = "n/a" if relative is None else f"{relative:+.2%}"
        message = (
            f"{metric} improves by {shown} relative to the champion, below the minimum "
            f"{limits['min_relative_improvement']:.2%}"
        )
        findings.append(Finding("fail", message, "relative_improvement", relative))
    low, high = comparison["ci_low"], comparison["ci_high"]
    if low is None or low <= 0:
        shown = "cannot be estimated" if low is None else f"[{low:+.4f}, {high:+.4f}] reaches 0"
        message = f"the {level} interval of the improvement {shown}: not shown to be better"
        findings.append(Finding("fail", message, "ci_low", low))
    p_value = comparison["p_value"]
    if p_value is not None and p_value >= 1 - limits["confidence"]:
        message = (
            f"McNemar's exact test gives p = {p_value:.3g}: the accuracies are not shown to "
            f"differ at the {level} level"
        )
        findings.append(Finding("fail", message, "p_value", p_value))
    if not findings:
        message = f"the challenger beats the champion on {metric} by {difference:+.4f}"
        findings.append(Finding("info", message, metric, difference))
    return findings


def _label(role: str, version: int | None) -> str:
    return role if version is None else f"{role} v{version}"


def _summary(comparison: Mapping[str, Any], status: str) -> str:
    metric = comparison["metric"]
    champion = _label("champion", comparison["champion_version"])
    challenger = _label("challenger", comparison["challenger_version"])
    if comparison["absolute_improvement"] is None:
        return f"{metric} of {challenger} and {champion} cannot both be computed"
    verdict = "beats" if status != "fail" else "does not beat"
    text = (
        f"{challenger} {verdict} {champion}: {metric} {comparison['challenger_value']:.4f} "
        f"vs {comparison['champion_value']:.4f} ({comparison['absolute_improvement']:+.4f}"
    )
    if comparison["ci_low"] is not None:
        text += f", interval [{comparison['ci_low']:+.4f}, {comparison['ci_high']:+.4f}]"
    return f"{text}) on {comparison['n_rows']} hold-out rows"


def _table(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    metric = comparison["metric"]
    return [
        {
            "model": _label("champion", comparison["champion_version"]),
            "metric": metric,
            "value": comparison["champion_value"],
            "ci_low": None,
            "ci_high": None,
        },
        {
            "model": _label("challenger", comparison["challenger_version"]),
            "metric": metric,
            "value": comparison["challenger_value"],
            "ci_low": None,
            "ci_high": None,
        },
        {
            "model": "improvement",
            "metric": metric,
            "value": comparison["absolute_improvement"],
            "ci_low": comparison["ci_low"],
            "ci_high": comparison["ci_high"],
        },
    ]


def _figure(comparison: Mapping[str, Any]) -> Figure:
    x = [
        _label("champion", comparison["champion_version"]),
        _label("challenger", comparison["challenger_version"]),
    ]
    values = [comparison["champion_value"], comparison["challenger_value"]]
    return Figure(
        name="challenger",
        title=f"Champion and challenger {comparison['metric']} on the same hold-out rows",
        kind="bar",
        x_label="version",
        y_label=comparison["metric"],
        series=[Series(comparison["metric"], x, values)],
    )


SPEC = CheckSpec(
    name="challenger",
    title="Challenger against the deployed champion",
    function=check_challenger,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Scores the current version and the deployed champion on the same hold-out rows (ROC "
        "AUC, or accuracy with McNemar's exact test); passes when the challenger is better by "
        "both minimum improvements and the paired bootstrap interval lies above zero."
    ),
)
