"""Fairness: do the model's decisions differ across the groups of a sensitive attribute?

The fitted model predicts the hold-out frame (or ``data`` when there is none). Outcomes are
reduced to "``positive_label``" against "anything else", both for the truth and the prediction,
so the selection rate is the share of rows predicted ``positive_label``. For each sensitive
attribute, Fairlearn's ``MetricFrame`` gives per group the selection rate, accuracy, true and
false positive rates and the row count; Fairlearn's ``demographic_parity_difference``,
``equalized_odds_difference`` and ``demographic_parity_ratio`` (the disparate impact ratio, min
over max selection rate) give the gaps. Groups are formed as in :mod:`mlgate.checks.group_sizes`
(missing values are their own group, ``(missing)``; numeric attributes are binned).

Evidence rules, so that a gap is never reported as smaller than it may be:

- a group with fewer than ``min_group_size`` rows is reported but left out of the gaps, with an
  "insufficient evidence" finding;
- a true positive rate needs a positive row and a false positive rate a negative row. Fairlearn
  returns 0 for an undefined rate, which can hide a gap, so when any counted group lacks one,
  the equalized odds difference (and the rate gap concerned) is ``None`` with a finding naming
  the group and its counts; it is never 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series, worst
from mlgate.checks.group_sizes import group_labels, require_sensitive, sort_groups
from mlgate.checks.model_quality import feature_columns
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "max_demographic_parity_difference": 0.1,
    "max_equalized_odds_difference": 0.2,
    "min_disparate_impact_ratio": 0.8,
    "min_group_size": 30,
}
GROUP_COLUMNS = (
    "count",
    "n_positive",
    "n_negative",
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
)


@dataclass(frozen=True)
class GroupMetrics:
    """Per-group metrics (one row per group, NaN where a rate is undefined) and overall ones."""

    by_group: pd.DataFrame
    overall: dict[str, float]


def group_metrics(
    y_true: Any, y_pred: Any, sensitive: Any, *, positive_label: Any = 1, name: str | None = None
) -> GroupMetrics:
    """Compute per-group count, selection rate, accuracy, TPR and FPR with Fairlearn.

    ``sensitive`` may be a list, numpy array or Series; missing values form the ``(missing)``
    group and the result is the same for all three. A TPR of a group with no positive row, or an
    FPR of a group with no negative row, is NaN rather than Fairlearn's 0.
    """
    truth, predicted = _binary(y_true, positive_label), _binary(y_pred, positive_label)
    labels = group_labels(sensitive, name)
    if not len(truth) == len(predicted) == len(labels):
        raise ValidationError(
            f"y_true, y_pred and sensitive must have one value per row; got {len(truth)}, "
            f"{len(predicted)} and {len(labels)}"
        )

    frame = MetricFrame(
        metrics={
            "count": count,
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=labels.rename(name or "group"),
    )
    by_group = frame.by_group.copy()
    by_group = by_group.reindex(sort_groups(by_group.index))
    by_group["count"] = by_group["count"].astype(np.int64)

    positives = pd.Series(truth).groupby(labels.to_numpy()).sum()
    by_group["n_positive"] = positives.reindex(by_group.index).to_numpy()
    by_group["n_negative"] = by_group["count"] - by_group["n_positive"]
    by_group.loc[by_group["n_positive"] == 0, "true_positive_rate"] = np.nan
    by_group.loc[by_group["n_negative"] == 0, "false_positive_rate"] = np.nan

    overall = {k: float(v) for k, v in frame.overall.items()}
    return GroupMetrics(by_group[list(GROUP_COLUMNS)], overall)


def favourable_rates(outcome: Any, groups: Any, *, favourable: Any) -> dict[str, float]:
    """Return the share of rows with the favourable outcome in each group."""
    hits = pd.Series(np.asarray(outcome, dtype=object) == favourable, dtype=float)
    labels = group_labels(groups)
    if len(hits) != len(labels):
        raise ValidationError(
            f"outcome and groups must have one value per row; got {len(hits)} and {len(labels)}"
        )
    return {str(k): float(v) for k, v in hits.groupby(labels.to_numpy()).mean().items()}


def disparate_impact(
    outcome: Any, groups: Any, *, favourable: Any, privileged: Any
) -> float | None:
    """Return P(favourable | unprivileged) / P(favourable | privileged).

    Every group other than ``privileged`` is pooled as unprivileged. The ratio is ``None`` when
    the privileged group never gets the favourable outcome (division by zero).
    """
    unprivileged, privileged_rate = _two_rates(outcome, groups, favourable, privileged)
    if privileged_rate == 0:
        return None
    return unprivileged / privileged_rate


def statistical_parity_difference(
    outcome: Any, groups: Any, *, favourable: Any, privileged: Any
) -> float:
    """Return P(favourable | unprivileged) - P(favourable | privileged)."""
    unprivileged, privileged_rate = _two_rates(outcome, groups, favourable, privileged)
    return unprivileged - privileged_rate


def check_fairness(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Compare selection rates and error rates of the model across sensitive groups."""
    limits = {**DEFAULTS, **thresholds}
    if inp.model is None:
        raise ValidationError("the fairness check needs a fitted model (CheckInput.model)")
    frame = inp.holdout if inp.holdout is not None else inp.data
    attributes = require_sensitive(inp, frame)
    if len(frame) == 0:
        raise ValidationError("the fairness check needs scored rows; the frame has 0 rows")
    y_true, y_pred = _truth_and_predictions(inp, frame)

    findings: list[Finding] = []
    if inp.holdout is None:
        findings.append(Finding("info", "no hold-out frame given; predictions on CheckInput.data"))
    metrics: dict[str, float | int | str | None] = {"n_rows": len(frame)}
    tables: list[dict[str, Any]] = []
    figures: list[Figure] = []

    for attribute in attributes:
        result = _attribute(
            attribute, frame[attribute], y_true, y_pred, inp.positive_label, limits
        )
        metrics.update(result["metrics"])
        findings += result["findings"]
        tables += result["table"]
        figures.append(result["figure"])
    logger.info("fairness: %d attributes on %d rows", len(attributes), len(frame))

    truth, predicted = _binary(y_true, inp.positive_label), _binary(y_pred, inp.positive_label)
    metrics["selection_rate"] = float(predicted.mean())
    metrics["accuracy"] = float((predicted == truth).mean())
    compared = [
        a for a in attributes if metrics.get(f"{a}.demographic_parity_difference") is not None
    ]
    if not compared:
        findings.insert(
            0,
            Finding(
                "fail",
                "insufficient evidence for every sensitive attribute: no attribute has two groups "
                f"of at least {limits['min_group_size']:g} rows, so fairness cannot be shown",
            ),
        )
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="fairness",
        status=status,
        summary=_summary(attributes, metrics),
        metrics=metrics,
        findings=findings,
        figures=figures,
        tables={"groups": tables},
    )


def _attribute(
    attribute: str,
    values: pd.Series,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive_label: Any,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    labels = group_labels(values, attribute)
    metrics = group_metrics(y_true, y_pred, labels, positive_label=positive_label, name=attribute)
    table = metrics.by_group
    included = table.index[table["count"] >= limits["min_group_size"]]
    findings = _small_group_findings(attribute, table, included, limits)

    gaps, gap_findings = _gaps(attribute, table, included, labels, y_true, y_pred, positive_label)
    findings += gap_findings + _limit_findings(attribute, gaps, limits)
    return {
        "metrics": {f"{attribute}.{k}": v for k, v in gaps.items()},
        "findings": findings,
        "table": _table(attribute, table, included),
        "figure": _figure(attribute, table, gaps, limits),
    }


def _gaps(
    attribute: str,
    table: pd.DataFrame,
    included: pd.Index,
    labels: pd.Series,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive_label: Any,
) -> tuple[dict[str, float | int | None], list[Finding]]:
    gaps: dict[str, float | int | None] = {
        "n_groups": len(table),
        "n_groups_excluded": len(table) - len(included),
        "demographic_parity_difference": None,
        "disparate_impact_ratio": None,
        "equalized_odds_difference": None,
        "true_positive_rate_difference": None,
        "false_positive_rate_difference": None,
    }
    if len(included) < 2:
        message = (
            f"{attribute}: insufficient evidence: {len(included)} group(s) large enough to "
            f"compare; the gaps are not computed"
        )
        return gaps, [Finding("warn", message, attribute, len(included))]

    mask = labels.isin(included).to_numpy()
    truth, predicted = _binary(y_true, positive_label)[mask], _binary(y_pred, positive_label)[mask]
    groups = labels[mask].to_numpy()
    gaps["demographic_parity_difference"] = _finite(
        demographic_parity_difference(truth, predicted, sensitive_features=groups)
    )
    gaps["disparate_impact_ratio"] = _finite(
        demographic_parity_ratio(truth, predicted, sensitive_features=groups)
    )

    findings = _rate_gaps(attribute, table.loc[included], gaps)
    if gaps["disparate_impact_ratio"] is None:
        message = (
            f"{attribute}: no group is ever selected; the disparate impact ratio is undefined"
        )
        findings.append(Finding("warn", message, attribute))
    rate_gaps = ("true_positive_rate_difference", "false_positive_rate_difference")
    if all(gaps[k] is not None for k in rate_gaps):
        gaps["equalized_odds_difference"] = _finite(
            equalized_odds_difference(truth, predicted, sensitive_features=groups)
        )
    return gaps, findings


def _rate_gaps(
    attribute: str, kept: pd.DataFrame, gaps: dict[str, float | int | None]
) -> list[Finding]:
    findings = []
    for rate, need in (
        ("true_positive_rate", "n_positive"),
        ("false_positive_rate", "n_negative"),
    ):
        undefined = kept[kept[rate].isna()]
        if undefined.empty:
            gaps[f"{rate}_difference"] = float(kept[rate].max() - kept[rate].min())
            continue
        for group, row in undefined.iterrows():
            what = "positive" if need == "n_positive" else "negative"
            message = (
                f"{attribute}: insufficient evidence: group '{group}' has 0 {what} rows among "
                f"{int(row['count'])}, so its {rate.replace('_', ' ')} is undefined; the "
                f"equalized odds difference is not computed"
            )
            findings.append(Finding("warn", message, attribute, int(row["count"])))
    return findings


def _small_group_findings(
    attribute: str, table: pd.DataFrame, included: pd.Index, limits: Mapping[str, float]
) -> list[Finding]:
    findings = []
    for group in table.index.difference(included):
        size = int(table.loc[group, "count"])
        message = (
            f"{attribute}: insufficient evidence: group '{group}' has {size} rows "
            f"(< {limits['min_group_size']:g}); left out of the gaps"
        )
        findings.append(Finding("warn", message, attribute, size))
    return findings


def _limit_findings(
    attribute: str, gaps: Mapping[str, float | int | None], limits: Mapping[str, float]
) -> list[Finding]:
    rules = (
        ("demographic_parity_difference", "max_demographic_parity_difference", 1),
        ("equalized_odds_difference", "max_equalized_odds_difference", 1),
        ("disparate_impact_ratio", "min_disparate_impact_ratio", -1),
    )
    findings = []
    for key, limit, sign in rules:
        value, bound = gaps[key], limits[limit]
        if value is not None and sign * (value - bound) > 0:
            side = "above the maximum" if sign > 0 else "below the minimum"
            message = f"{attribute}: {key.replace('_', ' ')} {value:.3f} is {side} {bound:g}"
            findings.append(Finding("fail", message, attribute, value))
    return findings


def _table(attribute: str, table: pd.DataFrame, included: pd.Index) -> list[dict[str, Any]]:
    rows = []
    for group, row in table.iterrows():
        entry: dict[str, Any] = {"attribute": attribute, "group": str(group)}
        for column in GROUP_COLUMNS:
            counted = column in ("count", "n_positive", "n_negative")
            entry[column] = int(row[column]) if counted else _finite(row[column])
        entry["included"] = bool(group in included)
        rows.append(entry)
    return rows


def _figure(
    attribute: str,
    table: pd.DataFrame,
    gaps: Mapping[str, float | int | None],
    limits: Mapping[str, float],
) -> Figure:
    rates = [_finite(v) for v in table["selection_rate"]]
    ratio_line = None
    if gaps["disparate_impact_ratio"] is not None:
        top = max(r for r in rates if r is not None)
        ratio_line = limits["min_disparate_impact_ratio"] * top
    return Figure(
        name=f"selection_rate_{attribute}",
        title=(
            f"Selection rate per group of {attribute}; the line is "
            f"{limits['min_disparate_impact_ratio']:g} x the highest rate"
        ),
        kind="bar",
        x_label=str(attribute),
        y_label="selection rate",
        series=[Series("selection rate", [str(g) for g in table.index], rates)],
        threshold=ratio_line,
    )


def _summary(attributes: list[str], metrics: Mapping[str, float | int | str | None]) -> str:
    parts = []
    for attribute in attributes:
        dp = metrics[f"{attribute}.demographic_parity_difference"]
        eo = metrics[f"{attribute}.equalized_odds_difference"]
        dp_text = "n/a" if dp is None else f"{dp:.3f}"
        eo_text = "n/a" if eo is None else f"{eo:.3f}"
        di = metrics.get(f"{attribute}.disparate_impact_ratio")
        di_text = "n/a" if di is None else f"{di:.3f}"
        parts.append(
            f"{attribute}: DP difference {dp_text}, EO difference {eo_text}, "
            f"disparate impact {di_text}"
        )
    return "; ".join(parts)


def _truth_and_predictions(inp: CheckInput, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if inp.target is None or inp.target not in frame.columns:
        raise ValidationError(
            f"the target column {inp.target!r} is not in the data; set CheckInput.target"
        )
    y_true = frame[inp.target].to_numpy()
    n_missing = int(pd.isna(frame[inp.target]).sum())
    if n_missing:
        raise ValidationError(
            f"the target '{inp.target}' has {n_missing} missing value(s); expected none"
        )

    y_pred = np.asarray(inp.model.predict(frame[feature_columns(inp, frame)]))
    known = set(y_true.tolist()) | set(y_pred.tolist())
    if inp.positive_label not in known:
        raise ValidationError(
            f"positive_label {inp.positive_label!r} occurs neither in the target nor in the "
            f"predictions; the values are {sorted(map(str, known))}"
        )
    return y_true, y_pred


def _binary(values: Any, positive_label: Any) -> np.ndarray:
    # An object array compares element by element whatever the types (1 == 1.0, "1" != 1).
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    return (array.astype(object) == positive_label).astype(np.int64)


def _two_rates(outcome: Any, groups: Any, favourable: Any, privileged: Any) -> tuple[float, float]:
    hits = np.asarray(outcome, dtype=object) == favourable
    labels = group_labels(groups).to_numpy()
    if hits.shape != labels.shape:
        raise ValidationError(
            f"outcome and groups must have one value per row; got {hits.size} and {labels.size}"
        )

    name = str(privileged) if str(privileged) in labels else group_labels([privileged]).iloc[0]
    is_privileged = labels == name
    if not is_privileged.any():
        raise ValidationError(
            f"privileged group {privileged!r} does not occur; the groups are "
            f"{sorted(set(labels.tolist()))}"
        )
    if is_privileged.all():
        raise ValidationError(
            f"every row is in the privileged group {privileged!r}; no comparison"
        )
    return float(hits[~is_privileged].mean()), float(hits[is_privileged].mean())


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


SPEC = CheckSpec(
    name="fairness",
    title="Fairness across sensitive groups",
    function=check_fairness,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Per sensitive attribute: selection rate, accuracy, TPR and FPR per group (Fairlearn "
        "MetricFrame), demographic parity difference, equalized odds difference and disparate "
        "impact ratio; groups too small or lacking a class are reported as insufficient "
        "evidence, never as a gap of 0."
    ),
)
