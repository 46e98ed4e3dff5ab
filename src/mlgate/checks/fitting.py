"""Fitting: over- and under-fitting, the learning curve, and signs of target leakage.

The check ``fitting`` cross-validates fresh estimators from ``CheckInput.estimator_factory`` on
``data`` (the training set) in stratified folds, shuffled with ``CheckInput.seed``, exactly as
:func:`sklearn.model_selection.cross_validate` does with ``return_train_score=True``. The score is
the ROC AUC for a binary target when the estimator has ``predict_proba`` or
``decision_function``, else accuracy. From those folds it reads:

- **over-fitting**: the mean training score minus the mean validation score, against
  ``max_train_validation_gap``;
- **under-fitting**: the mean validation score against ``min_validation_score``, and its lift
  over a majority-class baseline (:class:`~sklearn.dummy.DummyClassifier` on the same folds,
  0.5 in ROC AUC, the majority share in accuracy) against ``min_lift_over_baseline``;
- **the learning curve**: training and validation scores at five training sizes (10 % to 100 %
  of each training fold, shuffled with the seed), as :func:`sklearn.model_selection.
  learning_curve` computes them on the same folds. A validation score that still rose by more
  than ``learning_curve_rise`` over the last step is reported: more data would help;
- **leakage signals**: a validation score above ``max_plausible_score`` is implausibly high for
  real data and fails, since it usually means a feature carries the label. One raw column that
  carries more than ``max_single_feature_share`` of the permutation importance (the first
  fold's model, scored on that fold's validation rows, with the explanation check's
  scikit-learn compatible permutation importance) is a warning to look at that column.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import FitFailedWarning, UndefinedMetricWarning
from sklearn.model_selection import StratifiedKFold, cross_validate, learning_curve

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    finite_or_none,
    labelled_rows,
    require_factory,
    short_number,
    worst,
)
from mlgate.checks.eda import sample_positions
from mlgate.checks.explanation import importance_shares, permutation_importance
from mlgate.checks.model_quality import stratified_folds
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "folds": 5,
    "max_train_validation_gap": 0.1,
    "min_validation_score": 0.7,
    "min_lift_over_baseline": 0.05,
    "max_plausible_score": 0.99,
    "max_single_feature_share": 0.5,
    "learning_curve_rise": 0.01,
    "importance_repeats": 5,
    "importance_max_rows": 2000,
}
SCORE_KEYS = (
    "max_train_validation_gap",
    "min_validation_score",
    "min_lift_over_baseline",
    "max_plausible_score",
    "max_single_feature_share",
    "learning_curve_rise",
)
TRAIN_SIZES = np.linspace(0.1, 1.0, 5)
TOP_BARS = 15

Metrics = dict[str, float | int | str | None]


def check_fitting(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Look for over-fitting, under-fitting and leakage in cross-validation (module docstring)."""
    limits = _limits(thresholds)
    factory = require_factory(inp, "fitting")
    x, y = _training_rows(inp)
    folds = stratified_folds(y, limits["folds"])
    scoring = fitting_scoring(factory(), y)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=inp.seed)

    scores = _cross_validate(factory, x, y, splitter, scoring)
    baseline = cross_validate(
        DummyClassifier(strategy="most_frequent"), x, y, cv=splitter, scoring=scoring
    )
    curve = _learning_curve(factory, x, y, splitter, scoring, inp.seed)
    importance = _fold_importance(scores, x, y, inp, limits)

    metrics = _metrics(scores, baseline, curve, importance, scoring, folds, len(y))
    findings = _findings(metrics, curve, importance, limits)
    if scoring == "accuracy" and y.nunique() == 2:
        message = "the estimator has no predict_proba or decision_function; scored by accuracy"
        findings.insert(0, Finding("info", message))
    status = worst([f.severity for f in findings if f.severity != "info"])
    logger.info(
        "fitting: %d folds on %d rows and %d features, %s; validation %s, gap %s: %s",
        folds,
        len(y),
        x.shape[1],
        scoring,
        short_number(metrics["validation_score_mean"]),
        short_number(metrics["train_validation_gap"]),
        status,
    )
    return CheckResult(
        check="fitting",
        status=status,
        summary=_summary(metrics),
        metrics=metrics,
        findings=findings,
        figures=[_curve_figure(curve, scoring, limits), *_importance_figure(importance)],
        tables={
            "folds": _fold_table(scores, baseline),
            "learning_curve": curve.table(),
            "importance": importance.table() if importance is not None else [],
        },
    )


def fitting_scoring(estimator: Any, y: pd.Series) -> str:
    """The score ``fitting`` uses for ``estimator`` on target ``y``.

    ``roc_auc`` for a binary target and a model that ranks rows (``predict_proba`` or
    ``decision_function``); else ``accuracy``: a multi-class target, or a model that only
    predicts labels.
    """
    ranks = hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")
    return "roc_auc" if y.nunique() == 2 and ranks else "accuracy"


# --- inputs -----------------------------------------------------------------------------------


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    for key, low in (("folds", 2), ("importance_repeats", 1), ("importance_max_rows", 1)):
        value = limits[key]
        if not float(value).is_integer() or value < low:
            raise ValidationError(f"{key} must be a whole number >= {low}; got {value}")
    for key in SCORE_KEYS:
        if not 0 <= limits[key] <= 1:
            raise ValidationError(f"{key} must be in [0, 1]; got {limits[key]}")
    return limits


def _training_rows(inp: CheckInput) -> tuple[pd.DataFrame, pd.Series]:
    x, y = labelled_rows(inp, inp.data)
    if x.shape[1] == 0:
        raise ValidationError("fitting needs at least one feature column; the data has none")
    return x, y


# --- cross-validation and the learning curve --------------------------------------------------


def _cross_validate(
    factory: Callable[[], Any],
    x: pd.DataFrame,
    y: pd.Series,
    splitter: StratifiedKFold,
    scoring: str,
) -> dict[str, Any]:
    """``cross_validate`` with training scores, the fitted models and the fold indices.

    A model that cannot be fitted (most often on missing values it does not handle) is a bad
    input, reported with the columns that hold missing values.
    """
    try:
        return cross_validate(
            factory(),
            x,
            y,
            cv=splitter,
            scoring=scoring,
            return_train_score=True,
            return_estimator=True,
            return_indices=True,
            error_score="raise",
        )
    except (ValueError, TypeError) as error:
        missing = [str(c) for c in x.columns if x[c].isna().any()]
        advice = (
            f"; column(s) {', '.join(missing)} hold missing values: impute them in the model's "
            "pipeline or use an estimator that accepts them"
            if missing
            else ""
        )
        raise ValidationError(
            f"the estimator could not be cross-validated on {len(y)} rows: {error}{advice}"
        ) from error


@dataclass(frozen=True)
class Curve:
    """A learning curve: absolute training sizes and per-fold scores (one row per size)."""

    sizes: list[int]
    train: np.ndarray
    validation: np.ndarray

    @property
    def train_mean(self) -> list[float | None]:
        """Mean training score per size; ``None`` where any fold failed."""
        return [finite_or_none(np.mean(row)) for row in self.train]

    @property
    def validation_mean(self) -> list[float | None]:
        """Mean validation score per size; ``None`` where any fold failed."""
        return [finite_or_none(np.mean(row)) for row in self.validation]

    @property
    def failed(self) -> list[int]:
        """How many folds gave no score at each size (a fit failed or the score was undefined)."""
        bad = ~np.isfinite(self.train) | ~np.isfinite(self.validation)
        return [int(n) for n in bad.sum(axis=1)]

    def table(self) -> list[dict[str, Any]]:
        """One row per training size: size, mean scores and failed folds."""
        return [
            {"train_size": s, "train_score": t, "validation_score": v, "failed_folds": f}
            for s, t, v, f in zip(
                self.sizes, self.train_mean, self.validation_mean, self.failed, strict=True
            )
        ]


def _learning_curve(
    factory: Callable[[], Any],
    x: pd.DataFrame,
    y: pd.Series,
    splitter: StratifiedKFold,
    scoring: str,
    seed: int,
) -> Curve:
    """The learning curve on the same folds; a fit that fails at a small size is recorded.

    A small shuffled training subset can hold one class only, which most classifiers refuse to
    fit; scikit-learn then scores NaN (and says so through a warning), which the curve keeps as
    a gap rather than an error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        sizes, train, validation = learning_curve(
            factory(),
            x,
            y,
            cv=splitter,
            train_sizes=TRAIN_SIZES,
            scoring=scoring,
            shuffle=True,
            random_state=seed,
            error_score=np.nan,
            n_jobs=1,
        )
    return Curve(
        [int(s) for s in sizes],
        np.asarray(train, dtype=float),
        np.asarray(validation, dtype=float),
    )


# --- concentration of importance --------------------------------------------------------------


@dataclass(frozen=True)
class FoldImportance:
    """Permutation importance of the first fold's model on that fold's validation rows."""

    scoring: str
    mean: pd.Series
    shares: pd.Series
    n_rows: int

    @property
    def ranked(self) -> list[str]:
        """Columns from the most to the least important."""
        return [str(c) for c in self.mean.sort_values(ascending=False, kind="stable").index]

    def table(self) -> list[dict[str, Any]]:
        """One row per column: its mean decrease in score and its share of the importance."""
        return [
            {
                "feature": feature,
                "mean_decrease": finite_or_none(self.mean[feature]),
                "share": finite_or_none(self.shares[feature]),
            }
            for feature in self.ranked
        ]


def _fold_importance(
    scores: Mapping[str, Any],
    x: pd.DataFrame,
    y: pd.Series,
    inp: CheckInput,
    limits: Mapping[str, float],
) -> FoldImportance | None:
    if x.shape[1] < 2:
        return None
    model = scores["estimator"][0]
    rows = np.asarray(scores["indices"]["test"][0])
    picked = sample_positions(len(rows), int(limits["importance_max_rows"]), inp.seed)
    rows = rows if picked is None else rows[picked]

    importance = permutation_importance(
        model,
        x.iloc[rows],
        y.iloc[rows],
        inp.positive_label,
        int(limits["importance_repeats"]),
        inp.seed,
    )
    mean = importance.mean.set_axis([str(c) for c in importance.mean.index])
    return FoldImportance(importance.scoring, mean, importance_shares(mean), len(rows))


# --- verdict ----------------------------------------------------------------------------------


def _metrics(
    scores: Mapping[str, Any],
    baseline: Mapping[str, Any],
    curve: Curve,
    importance: FoldImportance | None,
    scoring: str,
    folds: int,
    n_rows: int,
) -> Metrics:
    train = finite_or_none(np.mean(scores["train_score"]))
    valid = finite_or_none(np.mean(scores["test_score"]))
    base = finite_or_none(np.mean(baseline["test_score"]))
    means = curve.validation_mean
    metrics: Metrics = {
        "scoring": scoring,
        "folds": folds,
        "n_rows": n_rows,
        "train_score_mean": train,
        "train_score_std": finite_or_none(np.std(scores["train_score"])),
        "validation_score_mean": valid,
        "validation_score_std": finite_or_none(np.std(scores["test_score"])),
        "train_validation_gap": _difference(train, valid),
        "baseline_score": base,
        "lift_over_baseline": _difference(valid, base),
        "learning_curve_final_rise": _difference(means[-1], means[-2]),
        "top_feature": None,
        "top_feature_share": None,
    }
    if importance is not None:
        top = importance.ranked[0]
        share = finite_or_none(importance.shares[top])
        metrics["top_feature"] = top if share is not None else None
        metrics["top_feature_share"] = share
    return metrics


def _findings(
    metrics: Metrics,
    curve: Curve,
    importance: FoldImportance | None,
    limits: Mapping[str, float],
) -> list[Finding]:
    scoring = str(metrics["scoring"])
    valid, gap = metrics["validation_score_mean"], metrics["train_validation_gap"]
    findings = []
    if not isinstance(valid, float) or not isinstance(gap, float):
        message = f"the {scoring} could not be computed on every fold; the fit is not judged"
        return [Finding("warn", message)]

    if gap > limits["max_train_validation_gap"]:
        message = (
            f"training {scoring} exceeds validation by {gap:.3f} (> "
            f"{limits['max_train_validation_gap']:g}): the model over-fits"
        )
        findings.append(Finding("fail", message, "train_validation_gap", gap))
    if valid > limits["max_plausible_score"]:
        message = (
            f"validation {scoring} {valid:.4f} is implausibly high (> "
            f"{limits['max_plausible_score']:g}); look for a leaking feature"
        )
        findings.append(Finding("fail", message, "validation_score_mean", valid))
    findings += _underfitting(metrics, limits)
    findings += _concentration(importance, limits)
    findings += _curve_findings(metrics, curve, limits)
    return findings


def _underfitting(metrics: Metrics, limits: Mapping[str, float]) -> list[Finding]:
    scoring, valid = metrics["scoring"], metrics["validation_score_mean"]
    base, lift = metrics["baseline_score"], metrics["lift_over_baseline"]
    findings = []
    if isinstance(valid, float) and valid < limits["min_validation_score"]:
        message = (
            f"validation {scoring} {valid:.3f} is below the minimum "
            f"{limits['min_validation_score']:g}: the model under-fits"
        )
        findings.append(Finding("fail", message, "validation_score_mean", valid))
    if isinstance(lift, float) and lift < limits["min_lift_over_baseline"]:
        message = (
            f"validation {scoring} {valid:.3f} beats the majority-class baseline ({base:.3f}) "
            f"by {lift:.3f} only (< {limits['min_lift_over_baseline']:g})"
        )
        findings.append(Finding("fail", message, "lift_over_baseline", lift))
    return findings


def _concentration(
    importance: FoldImportance | None, limits: Mapping[str, float]
) -> list[Finding]:
    if importance is None:
        return [Finding("info", "one feature only; importance concentration not judged")]
    top = importance.ranked[0]
    share = finite_or_none(importance.shares[top])
    if share is None:
        message = "shuffling any single feature never lowers the score; no importance shares"
        return [Finding("info", message)]
    if share <= limits["max_single_feature_share"]:
        return []
    message = (
        f"feature '{top}' carries {share:.1%} of the permutation importance (> "
        f"{limits['max_single_feature_share']:.0%}); check it for leakage"
    )
    return [Finding("warn", message, top, share)]


def _curve_findings(metrics: Metrics, curve: Curve, limits: Mapping[str, float]) -> list[Finding]:
    findings = []
    for size, failed in zip(curve.sizes, curve.failed, strict=True):
        if failed:
            message = (
                f"learning curve at {size} training rows: {failed} of {curve.train.shape[1]} "
                "fold(s) gave no score (a fit failed or a fold held one class)"
            )
            findings.append(Finding("info", message, "learning_curve", size))

    rise = metrics["learning_curve_final_rise"]
    if isinstance(rise, float) and rise > limits["learning_curve_rise"]:
        message = (
            f"the validation {metrics['scoring']} still rose by {rise:.3f} from "
            f"{curve.sizes[-2]} to {curve.sizes[-1]} training rows: more data would help"
        )
        findings.append(Finding("info", message, "learning_curve_final_rise", rise))
    return findings


# --- assembling the result --------------------------------------------------------------------


def _summary(metrics: Metrics) -> str:
    return (
        f"validation {metrics['scoring']} {short_number(metrics['validation_score_mean'])}, "
        f"train-validation gap {short_number(metrics['train_validation_gap'])}, majority baseline "
        f"{short_number(metrics['baseline_score'])} over {metrics['folds']} folds"
    )


def _fold_table(scores: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "fold": i + 1,
            "train_rows": len(scores["indices"]["train"][i]),
            "validation_rows": len(scores["indices"]["test"][i]),
            "train_score": finite_or_none(scores["train_score"][i]),
            "validation_score": finite_or_none(scores["test_score"][i]),
            "baseline_score": finite_or_none(baseline["test_score"][i]),
        }
        for i in range(len(scores["test_score"]))
    ]


def _curve_figure(curve: Curve, scoring: str, limits: Mapping[str, float]) -> Figure:
    return Figure(
        name="learning_curve",
        title=f"Learning curve: {scoring} by training size (mean over folds)",
        kind="line",
        x_label="training rows",
        y_label=scoring,
        series=[
            Series("training", list(curve.sizes), curve.train_mean),
            Series("validation", list(curve.sizes), curve.validation_mean),
        ],
        threshold=limits["min_validation_score"],
    )


def _importance_figure(importance: FoldImportance | None) -> list[Figure]:
    if importance is None:
        return []
    top = importance.ranked[:TOP_BARS]
    return [
        Figure(
            name="importance_share",
            title="Share of the permutation importance per column (first fold's model)",
            kind="bar",
            x_label="feature",
            y_label="share of importance",
            series=[Series("share", top, [finite_or_none(importance.shares[f]) for f in top])],
        )
    ]


def _difference(left: Any, right: Any) -> float | None:
    if left is None or right is None:
        return None
    return finite_or_none(left - right)


SPEC = CheckSpec(
    name="fitting",
    title="Over-fitting, under-fitting and leakage signals",
    function=check_fitting,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Stratified k-fold cross-validation of a fresh estimator (ROC AUC for a binary target, "
        "else accuracy): fails when training beats validation by more than "
        "max_train_validation_gap, when validation is below min_validation_score or beats the "
        "majority-class baseline by less than min_lift_over_baseline, and when validation is "
        "above max_plausible_score (a leaking feature). Warns when one column carries more than "
        "max_single_feature_share of the permutation importance. Draws the learning curve at "
        "five training sizes and notes when it is still rising by more than learning_curve_rise."
    ),
)
