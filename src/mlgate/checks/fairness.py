"""Fairness: do the model's decisions differ across the groups of a sensitive attribute?

The fitted model predicts the hold-out frame (or ``data`` when there is none). Outcomes are
reduced to "``positive_label``" against "anything else", both for the truth and the prediction,
so the selection rate is the share of rows predicted ``positive_label``.

What is compared, per sensitive attribute and per *intersection* (every combination of two or
more declared attributes, such as ``sex & age``, whose groups are ``female & <25`` and so on):

- per group, with Fairlearn's ``MetricFrame``: row count, selection rate, accuracy, true and
  false positive rates, false negative rate, precision, and each group's selection rate over
  the highest one (the four-fifths rule reads this ratio against 0.8);
- the gaps, each with Fairlearn's own function: ``demographic_parity_difference`` and
  ``demographic_parity_ratio`` (the latter is the disparate impact ratio), the
  ``equalized_odds_difference``, the ``equal_opportunity_difference`` (the true positive rate
  gap, which is also the false negative rate gap), the ``false_positive_rate_difference`` and
  the precision gap (``MetricFrame.difference``);
- calibration, when the model has ``predict_proba``: per group the mean predicted probability
  of ``positive_label`` against the observed positive rate, overall and in
  ``calibration_bins`` equal-width probability bins (binned as
  :func:`sklearn.calibration.calibration_curve` bins). A group's calibration error is observed
  rate minus mean prediction; the calibration gap is the largest spread of that error between
  groups, over the whole group or within one bin. An observed rate from a few rows swings by
  more than any sensible limit, so a bin is compared only between groups that have
  ``min_calibration_bin_size`` rows in it (50 by default: the standard error of a rate near 0.7
  is then 0.065); the whole-group error is always compared.

Groups are formed as in :mod:`mlgate.checks.group_sizes` (missing values are their own group,
``(missing)``; numeric attributes with more than ten values are binned: ages into ``<25``,
``25-39``, ``40-59``, ``60+``, others into quartiles). Threshold keys
``band.<attribute>.<n>`` replace that binning for a numeric attribute with cut points of your
own: ``band.age.1: 30`` and ``band.age.2: 50`` give ``<30``, ``30-49``, ``50+``.

Evidence rules, so that a gap is never computed from groups too small to judge:

- a group with fewer than ``min_group_size`` rows is reported but left out of every gap;
- a true positive rate (and so the false negative rate) needs ``min_group_positives`` actual
  positives, a false positive rate ``min_group_negatives`` actual negatives, and a precision
  ``min_group_positives`` predicted positives; a group short of them is left out of the gaps that
  need that rate, and the equalized odds difference compares only groups that have both rates;
- a calibration bin of a group with fewer than ``min_calibration_bin_size`` rows is not compared.

Each group left out gives an "insufficient evidence" finding with the count it had and the count
it needs; such a finding is a warning, so the check cannot pass on it. A gap with fewer than two
groups to compare is ``None``, never 0. When the check fails, a finding suggests
``mlgate mitigate`` (group thresholds fitted with Fairlearn's ``ThresholdOptimizer``).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    false_positive_rate_difference,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    column_kind,
    worst,
)
from mlgate.checks.group_sizes import (
    AGE_BINS,
    MISSING,
    group_labels,
    require_sensitive,
    sort_groups,
)
from mlgate.checks.model_quality import feature_columns, positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "max_demographic_parity_difference": 0.1,
    "max_equalized_odds_difference": 0.2,
    "max_equal_opportunity_difference": 0.1,
    "max_precision_difference": 0.2,
    "max_calibration_gap": 0.1,
    "min_disparate_impact_ratio": 0.8,
    "min_group_size": 30,
    "min_group_positives": 10,
    "min_group_negatives": 10,
    "min_calibration_bin_size": 50,
    "calibration_bins": 5,
}
BAND_PREFIX = "band."
AGE_CUTS: tuple[float, ...] = tuple(bound for bound, _ in AGE_BINS)
INTERSECTION = " & "
MAX_CALIBRATION_BINS = 100
GROUP_COLUMNS = (
    "count",
    "n_positive",
    "n_negative",
    "n_predicted_positive",
    "selection_rate",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
)
COUNT_COLUMNS = ("count", "n_positive", "n_negative", "n_predicted_positive")
GAPS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "true_positive_rate_difference",
    "false_positive_rate_difference",
    "precision_difference",
    "calibration_gap",
)
# (metric, threshold key, +1 when the key is a maximum or -1 when it is a minimum)
RULES: tuple[tuple[str, str, int], ...] = (
    ("demographic_parity_difference", "max_demographic_parity_difference", 1),
    ("disparate_impact_ratio", "min_disparate_impact_ratio", -1),
    ("equalized_odds_difference", "max_equalized_odds_difference", 1),
    ("equal_opportunity_difference", "max_equal_opportunity_difference", 1),
    ("precision_difference", "max_precision_difference", 1),
    ("calibration_gap", "max_calibration_gap", 1),
)
# The constraint `mlgate mitigate` is suggested with, by the first gap that failed in this order.
HINT_ORDER: tuple[tuple[str, str], ...] = (
    ("equalized_odds_difference", "equalized_odds"),
    ("equal_opportunity_difference", "true_positive_rate_parity"),
    ("demographic_parity_difference", "demographic_parity"),
    ("disparate_impact_ratio", "demographic_parity"),
)
# Which count each per-group rate needs, and the threshold key that sets how many.
EVIDENCE: tuple[tuple[str, str, str, str], ...] = (
    ("true_positive_rate", "n_positive", "min_group_positives", "positive"),
    ("false_positive_rate", "n_negative", "min_group_negatives", "negative"),
    ("precision", "n_predicted_positive", "min_group_positives", "predicted positive"),
)


@dataclass(frozen=True)
class GroupMetrics:
    """Per-group metrics (one row per group, NaN where a rate is undefined) and overall ones."""

    by_group: pd.DataFrame
    overall: dict[str, float]


@dataclass(frozen=True)
class Grouping:
    """The groups of one attribute or intersection: a label per row and their reading order."""

    name: str
    labels: pd.Series
    order: list[str]
    attributes: tuple[str, ...]

    @property
    def intersectional(self) -> bool:
        """Whether the grouping combines two or more attributes."""
        return len(self.attributes) > 1


@dataclass(frozen=True)
class Calibration:
    """Per group: count, mean prediction, observed rate, error; and the same per bin."""

    by_group: pd.DataFrame
    bins: pd.DataFrame


def group_metrics(
    y_true: Any, y_pred: Any, sensitive: Any, *, positive_label: Any = 1, name: str | None = None
) -> GroupMetrics:
    """Compute the per-group counts and rates of :data:`GROUP_COLUMNS` with Fairlearn.

    ``sensitive`` may be a list, numpy array or Series; missing values form the ``(missing)``
    group and the result is the same for all three. A rate whose denominator is 0 in a group
    (TPR or FNR without a positive row, FPR without a negative row, precision without a
    predicted positive) is NaN rather than Fairlearn's or scikit-learn's 0.
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
            "false_negative_rate": false_negative_rate,
            "precision": precision,
        },
        y_true=truth,
        y_pred=predicted,
        sensitive_features=labels.rename(name or "group"),
    )
    by_group = frame.by_group.copy()
    by_group = by_group.reindex(sort_groups(by_group.index))
    by_group["count"] = by_group["count"].astype(np.int64)

    keys = labels.to_numpy()
    for column, values in (("n_positive", truth), ("n_predicted_positive", predicted)):
        sums = pd.Series(values).groupby(keys).sum()
        by_group[column] = sums.reindex(by_group.index).to_numpy().astype(np.int64)
    by_group["n_negative"] = by_group["count"] - by_group["n_positive"]
    for rate, need in (
        ("true_positive_rate", "n_positive"),
        ("false_negative_rate", "n_positive"),
        ("false_positive_rate", "n_negative"),
        ("precision", "n_predicted_positive"),
    ):
        by_group.loc[by_group[need] == 0, rate] = np.nan

    overall = {k: float(v) for k, v in frame.overall.items()}
    return GroupMetrics(by_group[list(GROUP_COLUMNS)], overall)


def precision(y_true: Any, y_pred: Any) -> float:
    """Return the precision of the positive class, NaN (not 0) without a predicted positive."""
    return float(precision_score(y_true, y_pred, zero_division=np.nan))


def observed_rate(y_true: Any, y_pred: Any) -> float:
    """Return the share of positive rows in the truth (``y_pred`` is ignored)."""
    return float(np.mean(y_true))


def calibration_by_group(
    y_true: Any, scores: Any, groups: Any, *, positive_label: Any = 1, n_bins: int = 5
) -> Calibration:
    """Return per group the mean predicted probability and the observed positive rate.

    ``scores`` are the model's probabilities of ``positive_label``. The per-group means come from
    Fairlearn's ``MetricFrame`` (``mean_prediction`` and :func:`observed_rate`); the bins are
    ``n_bins`` equal-width bins of [0, 1], assigned exactly as
    :func:`sklearn.calibration.calibration_curve` assigns them (a probability on an inner edge
    falls in the lower bin). Empty bins are left out.
    """
    truth = _binary(y_true, positive_label).astype(np.float64)
    probability = np.asarray(scores, dtype=np.float64)
    labels = group_labels(groups)
    if not len(truth) == len(probability) == len(labels):
        raise ValidationError(
            f"y_true, scores and groups must have one value per row; got {len(truth)}, "
            f"{len(probability)} and {len(labels)}"
        )

    frame = MetricFrame(
        metrics={
            "count": count,
            "mean_predicted": mean_prediction,
            "observed_rate": observed_rate,
        },
        y_true=truth,
        y_pred=probability,
        sensitive_features=labels.rename("group"),
    )
    by_group = frame.by_group.copy()
    by_group["count"] = by_group["count"].astype(np.int64)
    by_group["calibration_error"] = by_group["observed_rate"] - by_group["mean_predicted"]

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = pd.DataFrame(
        {
            "group": labels.to_numpy(),
            "bin": np.searchsorted(edges[1:-1], probability),
            "probability": probability,
            "truth": truth,
        }
    )
    bins = rows.groupby(["group", "bin"], sort=True).agg(
        count=("truth", "size"),
        mean_predicted=("probability", "mean"),
        observed_rate=("truth", "mean"),
    )
    bins = bins.reset_index()
    position = bins["bin"].to_numpy()
    bins["lower"], bins["upper"] = edges[position], edges[position + 1]
    bins["calibration_error"] = bins["observed_rate"] - bins["mean_predicted"]
    return Calibration(by_group, bins)


def band_labels(values: Any, cuts: Sequence[float]) -> pd.Series:
    """Return a band label per value for ascending ``cuts``; missing values get ``(missing)``.

    Whole-number cuts read like ages (``<25``, ``25-39``, ``60+``, the labels of
    :mod:`mlgate.checks.group_sizes`); other cuts read ``<2.5``, ``2.5 to <4``, ``>=4``.
    A value equal to a cut belongs to the band that starts there.
    """
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    names = band_names(cuts)
    labels = pd.Series(MISSING, index=series.index, dtype=object)
    present = series.notna().to_numpy()
    numbers = pd.to_numeric(series[present], errors="coerce").to_numpy(dtype=np.float64)
    index = np.searchsorted(np.asarray(cuts, dtype=np.float64), numbers, side="right")
    labels[present] = np.asarray(names, dtype=object)[index]
    return labels


def band_names(cuts: Sequence[float]) -> list[str]:
    """Return the labels of the bands that ascending ``cuts`` make, lowest band first."""
    if not cuts:
        return ["(all)"]
    whole = all(float(c).is_integer() for c in cuts)
    text = [f"{float(c):g}" for c in cuts]
    if whole:
        inner = [f"{a}-{int(float(b)) - 1}" for a, b in itertools.pairwise(text)]
        return [f"<{text[0]}", *inner, f"{text[-1]}+"]
    inner = [f"{a} to <{b}" for a, b in itertools.pairwise(text)]
    return [f"<{text[0]}", *inner, f">={text[-1]}"]


def band_cuts(thresholds: Mapping[str, Any], attributes: Sequence[str]) -> dict[str, list[float]]:
    """Parse the ``band.<attribute>.<n>`` threshold keys into ascending cut points per attribute.

    Raises :class:`ValidationError` for a key naming an attribute that is not declared sensitive,
    or a cut that is not a finite number.
    """
    cuts: dict[str, set[float]] = {}
    for key, value in thresholds.items():
        if not str(key).startswith(BAND_PREFIX):
            continue
        attribute, dot, _ = str(key)[len(BAND_PREFIX) :].rpartition(".")
        if not dot or attribute not in attributes:
            raise ValidationError(
                f"threshold key '{key}': expected band.<attribute>.<n> with an attribute among "
                f"{sorted(map(str, attributes))}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError(
                f"threshold key '{key}': expected a finite number; got {value!r}"
            )
        cuts.setdefault(attribute, set()).add(float(value))
    return {attribute: sorted(points) for attribute, points in cuts.items()}


def sensitive_groupings(
    frame: pd.DataFrame, attributes: Sequence[str], cuts: Mapping[str, Sequence[float]]
) -> list[Grouping]:
    """Return the groupings to compare: each attribute, then every combination of two or more.

    An attribute with cuts in ``cuts`` is banded by them; any other is grouped by
    :func:`~mlgate.checks.group_sizes.group_labels`. Intersectional labels join the attributes'
    labels with `` & `` and keep their reading order.
    """
    singles = [_single(frame[a], a, cuts.get(a)) for a in attributes]
    groupings = list(singles)
    for size in range(2, len(singles) + 1):
        for parts in itertools.combinations(singles, size):
            groupings.append(_intersection(parts))
    return groupings


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
    """Compare selection, error and calibration of the model across sensitive groups."""
    limits = _limits(thresholds)
    if inp.model is None:
        raise ValidationError("the fairness check needs a fitted model (CheckInput.model)")
    frame = inp.holdout if inp.holdout is not None else inp.data
    attributes = require_sensitive(inp, frame)
    if len(frame) == 0:
        raise ValidationError("the fairness check needs scored rows; the frame has 0 rows")
    cuts = band_cuts(thresholds, attributes)
    y_true, y_pred, scores = _truth_and_predictions(inp, frame)

    findings: list[Finding] = []
    if inp.holdout is None:
        findings.append(Finding("info", "no hold-out frame given; predictions on CheckInput.data"))
    if scores is None:
        message = "the model has no predict_proba; calibration is not assessed"
        findings.append(Finding("info", message))
    metrics: dict[str, float | int | str | None] = {"n_rows": len(frame)}
    tables: dict[str, list[dict[str, Any]]] = {"groups": [], "calibration": []}
    figures: list[Figure] = []

    groupings = sensitive_groupings(frame, attributes, cuts)
    for grouping in groupings:
        part = _grouping(grouping, y_true, y_pred, scores, inp.positive_label, limits)
        metrics.update(part["metrics"])
        findings += part["findings"]
        tables["groups"] += part["table"]
        tables["calibration"] += part["calibration"]
        figures += part["figures"]
    logger.info(
        "fairness: %d attributes and %d intersections on %d rows",
        len(attributes),
        len(groupings) - len(attributes),
        len(frame),
    )

    metrics.update(_overall(y_true, y_pred, scores, inp.positive_label))
    metrics["n_intersections"] = len(groupings) - len(attributes)
    findings = _evidence_verdict(attributes, metrics, limits) + findings
    status = worst([f.severity for f in findings if f.severity != "info"])
    if status == "fail":
        findings.append(_mitigation_hint(findings))
    return CheckResult(
        check="fairness",
        status=status,
        summary=_summary(groupings, metrics),
        metrics=metrics,
        findings=findings,
        figures=figures,
        tables=tables,
    )


# --- one attribute or intersection ------------------------------------------------------------


def _grouping(
    grouping: Grouping,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None,
    positive_label: Any,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    name, labels = grouping.name, grouping.labels
    by_group = group_metrics(
        y_true, y_pred, labels, positive_label=positive_label, name=name
    ).by_group
    by_group = by_group.reindex(_ordered(grouping, by_group.index))
    judged = _judged(by_group, limits)
    findings = _evidence_findings(name, by_group, judged, limits)

    gaps = _gaps(labels, judged, y_true, y_pred, positive_label)
    calibration = None
    if scores is not None:
        calibration = calibration_by_group(
            y_true, scores, labels, positive_label=positive_label,
            n_bins=int(limits["calibration_bins"]),
        )  # fmt: skip
        gaps.update(_calibration_gap(calibration, judged["included"], limits))
    findings += _gap_findings(name, gaps, judged)
    findings += _limit_findings(name, gaps, by_group.loc[judged["included"]], limits)

    figures = [_selection_figure(name, by_group, judged, gaps, limits)]
    if not grouping.intersectional:
        figures += _rate_figures(name, by_group, judged, limits)
        if calibration is not None:
            figures.append(_calibration_figure(name, calibration, judged["included"], limits))
    return {
        "metrics": {f"{name}.{k}": v for k, v in gaps.items()},
        "findings": findings,
        "table": _table(name, grouping, by_group, judged, calibration),
        "calibration": _calibration_rows(name, calibration, judged["included"], limits),
        "figures": figures,
    }


def _judged(by_group: pd.DataFrame, limits: Mapping[str, float]) -> dict[str, pd.Index]:
    """Return, per rate, the groups with enough rows (and enough of the class it needs)."""
    included = by_group.index[by_group["count"] >= limits["min_group_size"]]
    judged = {"included": included}
    for rate, need, key, _ in EVIDENCE:
        kept = by_group.loc[included]
        judged[rate] = kept.index[kept[need] >= max(limits[key], 1)]
    judged["equalized_odds"] = judged["true_positive_rate"].intersection(
        judged["false_positive_rate"], sort=False
    )
    return judged


def _gaps(
    labels: pd.Series,
    judged: Mapping[str, pd.Index],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive_label: Any,
) -> dict[str, float | int | str | None]:
    """Compute every gap with Fairlearn, each on the rows of the groups it may compare."""
    gaps: dict[str, float | int | str | None] = dict.fromkeys(GAPS)
    gaps["n_groups"] = int(labels.nunique())
    gaps["n_groups_excluded"] = gaps["n_groups"] - len(judged["included"])
    truth, predicted = _binary(y_true, positive_label), _binary(y_pred, positive_label)
    keys = labels.to_numpy()

    def on(groups: pd.Index, function: Any) -> float | None:
        if len(groups) < 2:
            return None
        mask = np.isin(keys, groups.to_numpy())
        return _finite(function(truth[mask], predicted[mask], sensitive_features=keys[mask]))

    gaps["demographic_parity_difference"] = on(judged["included"], demographic_parity_difference)
    gaps["demographic_parity_ratio"] = on(judged["included"], demographic_parity_ratio)
    gaps["disparate_impact_ratio"] = gaps["demographic_parity_ratio"]
    gaps["equal_opportunity_difference"] = on(
        judged["true_positive_rate"], equal_opportunity_difference
    )
    gaps["true_positive_rate_difference"] = gaps["equal_opportunity_difference"]
    gaps["false_positive_rate_difference"] = on(
        judged["false_positive_rate"], false_positive_rate_difference
    )
    gaps["equalized_odds_difference"] = on(judged["equalized_odds"], equalized_odds_difference)
    gaps["precision_difference"] = on(judged["precision"], _precision_difference)
    return gaps


def _precision_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any) -> float:
    frame = MetricFrame(
        metrics=precision,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive_features,
    )
    return float(frame.difference(method="between_groups"))


def _calibration_gap(
    calibration: Calibration, included: pd.Index, limits: Mapping[str, float]
) -> dict[str, float | int | str | None]:
    """Return the largest spread of calibration error between groups, and where it is."""
    overall = calibration.by_group.loc[calibration.by_group.index.isin(included)]
    spreads: list[tuple[float, str]] = []
    if len(overall) >= 2:
        errors = overall["calibration_error"]
        spreads.append((float(errors.max() - errors.min()), "all"))

    bins = _compared_bins(calibration.bins, included, limits)
    for (lower, upper), rows in bins.groupby(["lower", "upper"], sort=True):
        if len(rows) >= 2:
            errors = rows["calibration_error"]
            spreads.append((float(errors.max() - errors.min()), f"{lower:g}-{upper:g}"))
    if not spreads:
        return {"calibration_gap": None, "calibration_gap_bin": None}
    gap, where = max(spreads, key=lambda s: s[0])
    return {"calibration_gap": _finite(gap), "calibration_gap_bin": where}


def _compared_bins(
    bins: pd.DataFrame, included: pd.Index, limits: Mapping[str, float]
) -> pd.DataFrame:
    kept = bins["group"].isin(included) & (bins["count"] >= limits["min_calibration_bin_size"])
    return bins[kept]


# --- findings ---------------------------------------------------------------------------------


def _evidence_findings(
    name: str, by_group: pd.DataFrame, judged: Mapping[str, pd.Index], limits: Mapping[str, float]
) -> list[Finding]:
    """One "insufficient evidence" finding per group and rate left out, with the counts."""
    findings = []
    for group in by_group.index.difference(judged["included"], sort=False):
        size = int(by_group.loc[group, "count"])
        message = (
            f"{name}: insufficient evidence: group '{group}' has {size} rows "
            f"(< {limits['min_group_size']:g}); left out of the gaps"
        )
        findings.append(Finding("warn", message, name, size))

    for rate, need, key, what in EVIDENCE:
        lacking = judged["included"].difference(judged[rate], sort=False)
        for group in lacking:
            have, size = int(by_group.loc[group, need]), int(by_group.loc[group, "count"])
            message = (
                f"{name}: insufficient evidence: group '{group}' has {have} {what} rows among "
                f"{size} (needs at least {max(limits[key], 1):g}), so its "
                f"{rate.replace('_', ' ')} is not judged; {_left_out_of(rate)}"
            )
            findings.append(Finding("warn", message, name, have))
    return findings


def _left_out_of(rate: str) -> str:
    return {
        "true_positive_rate": "left out of the equal opportunity and equalized odds differences",
        "false_positive_rate": "left out of the equalized odds difference",
        "precision": "left out of the precision difference",
    }[rate]


def _gap_findings(
    name: str, gaps: Mapping[str, Any], judged: Mapping[str, pd.Index]
) -> list[Finding]:
    """Say why a gap is undefined: too few groups to compare, or no group ever selected."""
    if len(judged["included"]) < 2:
        message = (
            f"{name}: insufficient evidence: {len(judged['included'])} group(s) large enough to "
            f"compare; the gaps are not computed"
        )
        return [Finding("warn", message, name, len(judged["included"]))]
    findings = []
    if gaps["disparate_impact_ratio"] is None:
        message = f"{name}: no group is ever selected; the disparate impact ratio is undefined"
        findings.append(Finding("warn", message, name))
    return findings


def _limit_findings(
    name: str,
    gaps: Mapping[str, Any],
    by_group: pd.DataFrame,
    limits: Mapping[str, float],
) -> list[Finding]:
    findings = []
    for key, limit, sign in RULES:
        value, bound = gaps[key], limits[limit]
        if value is None or sign * (value - bound) <= 0:
            continue
        side = "above the maximum" if sign > 0 else "below the minimum"
        message = f"{name}: {key.replace('_', ' ')} {value:.3f} is {side} {bound:g}"
        if key == "disparate_impact_ratio":
            message += _four_fifths_detail(by_group, gaps)
        if key == "calibration_gap":
            message += f" (probability bin {gaps['calibration_gap_bin']})"
        findings.append(Finding("fail", message, name, value))
    return findings


def _four_fifths_detail(by_group: pd.DataFrame, gaps: Mapping[str, Any]) -> str:
    rates = by_group["selection_rate"].dropna()
    if rates.empty:
        return ""
    low, high = rates.idxmin(), rates.idxmax()
    return (
        f" (four-fifths rule): group '{low}' is selected at {rates[low]:.3f} against "
        f"{rates[high]:.3f} for '{high}'"
    )


def _evidence_verdict(
    attributes: Sequence[str],
    metrics: Mapping[str, float | int | str | None],
    limits: Mapping[str, float],
) -> list[Finding]:
    compared = [
        a for a in attributes if metrics.get(f"{a}.demographic_parity_difference") is not None
    ]
    if compared:
        return []
    message = (
        "insufficient evidence for every sensitive attribute: no attribute has two groups of at "
        f"least {limits['min_group_size']:g} rows, so fairness cannot be shown"
    )
    return [Finding("fail", message)]


def _mitigation_hint(findings: Sequence[Finding]) -> Finding:
    """Suggest ``mlgate mitigate`` with the constraint that answers the failed gaps."""
    failed = " ".join(f.message for f in findings if f.severity == "fail")
    constraint = "equalized_odds"
    for key, suggested in HINT_ORDER:
        if key.replace("_", " ") in failed:
            constraint = suggested
            break
    message = (
        f"to narrow the gaps, `mlgate mitigate --constraint {constraint}` fits per-group "
        "thresholds (Fairlearn ThresholdOptimizer) and registers them as a new model version; "
        "removing proxies of the sensitive attributes and retraining is the other route"
    )
    return Finding("info", message)


# --- tables and figures -----------------------------------------------------------------------


def _table(
    name: str,
    grouping: Grouping,
    by_group: pd.DataFrame,
    judged: Mapping[str, pd.Index],
    calibration: Calibration | None,
) -> list[dict[str, Any]]:
    rates = by_group.loc[judged["included"], "selection_rate"]
    top = rates.max() if len(rates) else math.nan
    rows = []
    for group, row in by_group.iterrows():
        entry: dict[str, Any] = {
            "attribute": name,
            "group": str(group),
            "intersectional": grouping.intersectional,
        }
        for column in GROUP_COLUMNS:
            counted = column in COUNT_COLUMNS
            entry[column] = int(row[column]) if counted else _finite(row[column])
        entry["impact_ratio"] = _ratio(row["selection_rate"], top)
        entry["mean_predicted"] = entry["observed_rate"] = entry["calibration_error"] = None
        if calibration is not None and group in calibration.by_group.index:
            cal = calibration.by_group.loc[group]
            entry["mean_predicted"] = _finite(cal["mean_predicted"])
            entry["observed_rate"] = _finite(cal["observed_rate"])
            entry["calibration_error"] = _finite(cal["calibration_error"])
        entry["included"] = bool(group in judged["included"])
        entry["insufficient"] = [
            rate for rate, *_ in EVIDENCE if entry["included"] and group not in judged[rate]
        ]
        rows.append(entry)
    return rows


def _calibration_rows(
    name: str, calibration: Calibration | None, included: pd.Index, limits: Mapping[str, float]
) -> list[dict[str, Any]]:
    if calibration is None:
        return []
    compared = _compared_bins(calibration.bins, included, limits).index
    rows = []
    for index, row in calibration.bins.iterrows():
        rows.append(
            {
                "attribute": name,
                "group": str(row["group"]),
                "bin": f"{row['lower']:g}-{row['upper']:g}",
                "count": int(row["count"]),
                "mean_predicted": _finite(row["mean_predicted"]),
                "observed_rate": _finite(row["observed_rate"]),
                "calibration_error": _finite(row["calibration_error"]),
                "compared": bool(index in compared),
            }
        )
    return rows


def _selection_figure(
    name: str,
    by_group: pd.DataFrame,
    judged: Mapping[str, pd.Index],
    gaps: Mapping[str, Any],
    limits: Mapping[str, float],
) -> Figure:
    rates = [_finite(v) for v in by_group["selection_rate"]]
    ratio_line = None
    if gaps["disparate_impact_ratio"] is not None:
        top = by_group.loc[judged["included"], "selection_rate"].max()
        ratio_line = limits["min_disparate_impact_ratio"] * float(top)
    return Figure(
        name=f"selection_rate_{name}",
        title=(
            f"Selection rate by {name}; line: {limits['min_disparate_impact_ratio']:g} x highest"
        ),
        kind="bar",
        x_label=str(name),
        y_label="selection rate",
        series=[Series("selection rate", [str(g) for g in by_group.index], rates)],
        threshold=ratio_line,
    )


def _rate_figures(
    name: str, by_group: pd.DataFrame, judged: Mapping[str, pd.Index], limits: Mapping[str, float]
) -> list[Figure]:
    """TPR bars with the lowest rate allowed, FPR bars with the highest rate allowed."""
    tpr = by_group.loc[judged["true_positive_rate"], "true_positive_rate"]
    fpr = by_group.loc[judged["false_positive_rate"], "false_positive_rate"]
    tpr_line = float(tpr.max()) - limits["max_equal_opportunity_difference"] if len(tpr) else None
    fpr_line = float(fpr.min()) + limits["max_equalized_odds_difference"] if len(fpr) else None
    groups = [str(g) for g in by_group.index]
    return [
        Figure(
            name=f"true_positive_rate_{name}",
            title=(
                f"True positive rate by {name}; line: highest - "
                f"{limits['max_equal_opportunity_difference']:g}"
            ),
            kind="bar",
            x_label=str(name),
            y_label="true positive rate",
            series=[Series("true positive rate", groups, _values(by_group, "true_positive_rate"))],
            threshold=tpr_line,
        ),
        Figure(
            name=f"false_positive_rate_{name}",
            title=(
                f"False positive rate by {name}; line: lowest + "
                f"{limits['max_equalized_odds_difference']:g}"
            ),
            kind="bar",
            x_label=str(name),
            y_label="false positive rate",
            series=[
                Series("false positive rate", groups, _values(by_group, "false_positive_rate"))
            ],
            threshold=fpr_line,
        ),
    ]


def _calibration_figure(
    name: str, calibration: Calibration, included: pd.Index, limits: Mapping[str, float]
) -> Figure:
    """Observed positive rate against mean predicted probability, one line per group."""
    bins = calibration.bins
    series = [Series("perfectly calibrated", [0.0, 1.0], [0.0, 1.0])]
    for group in [g for g in calibration.by_group.index if g in included]:
        rows = bins[bins["group"] == group]
        series.append(
            Series(
                str(group),
                [float(v) for v in rows["mean_predicted"]],
                [_finite(v) for v in rows["observed_rate"]],
            )
        )
    return Figure(
        name=f"calibration_{name}",
        title=(
            f"Calibration by {name}; bins under {limits['min_calibration_bin_size']:g} rows "
            "not compared"
        ),
        kind="line",
        x_label="mean predicted probability",
        y_label="observed positive rate",
        series=series,
    )


def _summary(groupings: Sequence[Grouping], metrics: Mapping[str, Any]) -> str:
    parts = []
    for grouping in groupings:
        if grouping.intersectional:
            continue
        name = grouping.name
        parts.append(
            f"{name}: DP difference {_text(metrics[f'{name}.demographic_parity_difference'])}, "
            f"EO difference {_text(metrics[f'{name}.equalized_odds_difference'])}, "
            f"disparate impact {_text(metrics.get(f'{name}.disparate_impact_ratio'))}"
        )
    crossed = [g.name for g in groupings if g.intersectional]
    if crossed:
        values = [
            (metrics[f"{n}.demographic_parity_difference"], n)
            for n in crossed
            if metrics[f"{n}.demographic_parity_difference"] is not None
        ]
        worst_dp = max(values, default=None)
        tail = f"; {len(crossed)} intersection(s)"
        if worst_dp is not None:
            tail += f", largest DP difference {worst_dp[0]:.3f} ({worst_dp[1]})"
        parts[-1] += tail
    return "; ".join(parts)


# --- inputs and helpers -----------------------------------------------------------------------


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **{k: v for k, v in thresholds.items() if k in DEFAULTS}}
    for key in ("min_group_size", "calibration_bins"):
        value = limits[key]
        if not float(value).is_integer() or value < 1:
            raise ValidationError(f"{key} must be a whole number >= 1; got {value}")
    if limits["calibration_bins"] > MAX_CALIBRATION_BINS:
        raise ValidationError(
            f"calibration_bins must be at most {MAX_CALIBRATION_BINS}; "
            f"got {limits['calibration_bins']:g}"
        )
    for key in ("min_group_positives", "min_group_negatives", "min_calibration_bin_size"):
        if limits[key] < 0:
            raise ValidationError(f"{key} must be >= 0; got {limits[key]:g}")
    return limits


def _single(values: pd.Series, attribute: str, cuts: Sequence[float] | None) -> Grouping:
    if cuts is None:
        labels = group_labels(values, attribute)
        return Grouping(attribute, labels, sort_groups(labels), (attribute,))
    if column_kind(values) != "numeric":
        raise ValidationError(
            f"threshold keys band.{attribute}.<n> bin a numeric attribute; '{attribute}' holds "
            f"{values.dtype} values"
        )
    labels = band_labels(values, cuts)
    present = set(labels)
    order = [n for n in band_names(cuts) if n in present] + [MISSING] * (MISSING in present)
    return Grouping(attribute, labels, order, (attribute,))


def _intersection(parts: Sequence[Grouping]) -> Grouping:
    labels = parts[0].labels.astype(str)
    for part in parts[1:]:
        labels = labels + INTERSECTION + part.labels.astype(str)
    present = set(labels)
    ordered = (INTERSECTION.join(combo) for combo in itertools.product(*(p.order for p in parts)))
    order = [label for label in ordered if label in present]
    name = INTERSECTION.join(p.name for p in parts)
    return Grouping(name, labels, order, tuple(a for p in parts for a in p.attributes))


def _ordered(grouping: Grouping, present: pd.Index) -> list[str]:
    known = [g for g in grouping.order if g in present]
    return known + [g for g in present if g not in known]


def _overall(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None, positive_label: Any
) -> dict[str, float | None]:
    truth, predicted = _binary(y_true, positive_label), _binary(y_pred, positive_label)
    overall: dict[str, float | None] = {
        "selection_rate": float(predicted.mean()),
        "accuracy": float((predicted == truth).mean()),
        "observed_rate": float(truth.mean()),
        "mean_predicted": None,
    }
    if scores is not None:
        overall["mean_predicted"] = float(np.mean(scores))
    return overall


def _truth_and_predictions(
    inp: CheckInput, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
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

    features = frame[feature_columns(inp, frame)]
    y_pred = np.asarray(inp.model.predict(features))
    known = set(y_true.tolist()) | set(y_pred.tolist())
    if inp.positive_label not in known:
        raise ValidationError(
            f"positive_label {inp.positive_label!r} occurs neither in the target nor in the "
            f"predictions; the values are {sorted(map(str, known))}"
        )

    scores = None
    if hasattr(inp.model, "predict_proba") and hasattr(inp.model, "classes_"):
        scores = positive_class_scores(inp.model, features, inp.positive_label)
    return y_true, y_pred, scores


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


def _values(by_group: pd.DataFrame, column: str) -> list[float | None]:
    return [_finite(v) for v in by_group[column]]


def _ratio(value: Any, top: Any) -> float | None:
    if _finite(value) is None or _finite(top) is None or top == 0:
        return None
    return float(value) / float(top)


def _text(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


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
        "Per sensitive attribute and per intersection of attributes: selection rate, accuracy, "
        "TPR, FPR, FNR, precision and calibration per group (Fairlearn MetricFrame); "
        "demographic parity difference and ratio, disparate impact (four-fifths rule), "
        "equalized odds, equal opportunity, precision and calibration gaps. Groups too small "
        "or lacking a class are reported as insufficient evidence, never as a gap of 0."
    ),
    threshold_prefixes=(BAND_PREFIX,),
)
