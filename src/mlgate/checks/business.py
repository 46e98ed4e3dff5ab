"""Accuracy against the business case: its success metrics are the thresholds.

The business case names measurable success criteria, each with a direction, today's value
(``baseline``) and the value the model must reach (``target``). The ``business_accuracy`` check
reads them from the project's accepted business case (``CheckInput.documents["business_case"]``),
computes on the hold-out rows every criterion that is a model metric, with a 95 % interval, and
judges each one:

- the value reaches the target: pass;
- it beats the baseline but misses the target: fail, or warn when the policy sets
  ``fail_below_target: 0``;
- it is not better than the baseline: fail.

A criterion that is a business KPI (losses in EUR, the share of cases decided without manual
review) cannot be computed from a model and a hold-out set; it is reported as measured in
monitoring, never silently dropped. When no criterion is a model metric the check fails and
names the metrics it understands.

A criterion's name maps to a model metric through :func:`metric_for`: the name is lower-cased,
split into words, a qualifier after "on", "of", "for", "in", "over" or "across" is dropped
("recall of defaults" is recall, "ROC AUC on held-out applications" is roc_auc) and so are
leading words such as "model", "test" or "hold-out"; what remains must be one of
:data:`ALIASES`. "Precision at the top decile" or "recall at 1 % false positives" are not
plain precision or recall, so "at" is not a qualifier and such names stay business KPIs.

Intervals: accuracy, and for a binary target precision and recall, are proportions of rows, so
their interval is Wilson's score interval. Every other metric gets a percentile bootstrap over
resampled hold-out rows; its replicates are computed from weighted counts in NumPy, not by
calling scikit-learn once per replicate, and equal scikit-learn's values on the same rows.
The same machinery serves the paired comparison of :mod:`mlgate.checks.challenger`.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError as PydanticValidationError
from scipy import sparse
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

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
from mlgate.documents.schemas import SuccessMetric
from mlgate.errors import ValidationError, describe_problems

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "fail_below_target": 1,
    "confidence": 0.95,
    "bootstrap_samples": 1000,
}
NOT_A_MODEL_METRIC = "not a model metric: measured in monitoring"
NOT_JUDGED = "not judged: baseline or target outside 0..1"
PERCENT_UNITS = ("%", "percent", "per cent", "percentage", "percentage points", "pct")
QUALIFIERS = ("on", "of", "for", "in", "over", "across")
FILLER_WORDS = ("the", "model", "models", "holdout", "hold", "out", "test", "validation")
BOOTSTRAP_CELLS = 2_000_000  # replicate-by-row cells held in memory at once
MIN_VALID_SHARE = 0.5  # fewer defined replicates than this share leaves no interval


@dataclass(frozen=True)
class ModelMetric:
    """A metric mlgate computes on scored rows, and how to read it."""

    name: str
    title: str
    higher_is_better: bool
    bounded: bool
    needs_proba: bool
    binary_only: bool = False


METRICS: dict[str, ModelMetric] = {
    m.name: m
    for m in (
        ModelMetric("accuracy", "accuracy", True, True, False),
        ModelMetric("balanced_accuracy", "balanced accuracy", True, True, False),
        ModelMetric("precision", "precision", True, True, False),
        ModelMetric("recall", "recall", True, True, False),
        ModelMetric("f1", "F1 score", True, True, False),
        ModelMetric("roc_auc", "ROC AUC", True, True, True),
        ModelMetric("average_precision", "average precision", True, True, True, True),
        ModelMetric("log_loss", "log loss", False, False, True),
        ModelMetric("brier", "Brier score", False, True, True, True),
    )
}

_SPELLINGS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "acc", "classification accuracy", "correct classification rate"),
    "balanced_accuracy": ("balanced accuracy", "balanced acc", "bacc"),
    "precision": ("precision", "positive predictive value", "ppv"),
    "recall": (
        "recall",
        "sensitivity",
        "true positive rate",
        "tpr",
        "hit rate",
        "detection rate",
    ),
    "f1": ("f1", "f1 score", "f score", "f measure", "f1 measure", "fscore"),
    "roc_auc": (
        "auc",
        "roc auc",
        "auc roc",
        "roc auc score",
        "auc score",
        "auroc",
        "area under the roc curve",
        "area under roc curve",
        "area under the curve",
        "c statistic",
        "concordance",
    ),
    "average_precision": (
        "average precision",
        "average precision score",
        "ap",
        "pr auc",
        "auc pr",
        "auprc",
        "area under the precision recall curve",
        "area under precision recall curve",
    ),
    "log_loss": (
        "log loss",
        "logloss",
        "logistic loss",
        "cross entropy",
        "cross entropy loss",
        "binary cross entropy",
    ),
    "brier": ("brier", "brier score", "brier loss", "brier score loss"),
}
ALIASES: dict[str, str] = {
    spelling: metric for metric, spellings in _SPELLINGS.items() for spelling in spellings
}


def metric_for(name: str) -> str | None:
    """Return the model metric a success metric's ``name`` means, or ``None`` for a KPI.

    >>> metric_for("Recall of defaults"), metric_for("ROC-AUC"), metric_for("Loss in EUR")
    ('recall', 'roc_auc', None)
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    full = " ".join(words)
    if full in ALIASES:
        return ALIASES[full]

    cut = next((i for i, w in enumerate(words) if w in QUALIFIERS and i > 0), len(words))
    head = words[:cut]
    while head and head[0] in FILLER_WORDS:
        head = head[1:]
    return ALIASES.get(" ".join(head))


# --- scored rows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredRows:
    """A model's outputs on labelled rows, with classes encoded as positions in ``labels``.

    ``labels`` holds every class of the target and of the model, sorted by their text.
    ``proba`` has one column per label (zero for a label the model never saw), or is ``None``
    with ``no_proba`` saying why. ``unseen`` marks a target holding classes the model never saw.
    """

    labels: list[Any]
    y: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None
    model_columns: list[int]
    positive: int
    binary: bool
    unseen: bool
    no_proba: str | None = None

    @property
    def n_rows(self) -> int:
        """Return how many rows were scored."""
        return len(self.y)


def score_rows(model: Any, x: pd.DataFrame, y: pd.Series, positive_label: Any) -> ScoredRows:
    """Score ``x`` with ``model`` once and return the outputs every metric is computed from."""
    model_classes = list(getattr(model, "classes_", []))
    known = set(y.tolist()) | set(model_classes)
    if positive_label not in known:
        raise ValidationError(
            f"positive_label {positive_label!r} is neither in the target nor among the model's "
            f"classes {sorted(map(str, model_classes))}"
        )
    labels = sorted(known, key=str)
    position = {label: i for i, label in enumerate(labels)}

    predicted = np.asarray(model.predict(x))
    y_index = np.array([position[v] for v in y.tolist()], dtype=np.int64)
    predicted_index = np.array([position.get(v, -1) for v in predicted.tolist()], dtype=np.int64)
    if (predicted_index < 0).any():
        strange = sorted({str(v) for v in predicted.tolist() if v not in position})
        raise ValidationError(
            f"the model predicted class(es) {', '.join(strange)} that are neither in the target "
            f"nor among its classes_ {model_classes}"
        )

    proba, no_proba = _aligned_proba(model, x, model_classes, position)
    return ScoredRows(
        labels=labels,
        y=y_index,
        predicted=predicted_index,
        proba=proba,
        model_columns=[position[c] for c in model_classes],
        positive=position[positive_label],
        binary=len(known) <= 2,
        unseen=not set(y.tolist()) <= set(model_classes),
        no_proba=no_proba,
    )


def _aligned_proba(
    model: Any, x: pd.DataFrame, model_classes: list[Any], position: Mapping[Any, int]
) -> tuple[np.ndarray | None, str | None]:
    if not hasattr(model, "predict_proba"):
        return None, "the model has no predict_proba"
    raw = np.asarray(model.predict_proba(x), dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(model_classes) or len(model_classes) < 2:
        width = raw.shape[1] if raw.ndim == 2 else 1
        return None, (
            f"predict_proba returned {width} column(s) for the model's {len(model_classes)} "
            "class(es)"
        )
    proba = np.zeros((raw.shape[0], len(position)))
    for column, label in enumerate(model_classes):
        proba[:, position[label]] = raw[:, column]
    return proba, None


def point_value(rows: ScoredRows, metric: str) -> tuple[float | None, str | None]:
    """Return ``metric`` on the scored rows, computed by scikit-learn, or ``None`` and why."""
    spec = METRICS[metric]
    reason = _undefined(rows, spec)
    if reason is not None:
        return None, reason

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            value = float(_sklearn_value(rows, metric))
        except ValueError as exc:
            return None, str(exc)
    if not math.isfinite(value):
        return None, f"its denominator is 0 on these {rows.n_rows} rows"
    return value, None


def _undefined(rows: ScoredRows, spec: ModelMetric) -> str | None:
    if spec.binary_only and not rows.binary:
        return f"{spec.title} is computed here for a binary target only"
    if spec.needs_proba and rows.proba is None:
        return rows.no_proba
    if spec.name in ("roc_auc", "average_precision") and len(set(rows.y.tolist())) < 2:
        return f"the {rows.n_rows} scored rows hold one class only"
    multiclass_auc = spec.name == "roc_auc" and not rows.binary
    if rows.unseen and (spec.name == "log_loss" or multiclass_auc):
        return "the scored rows hold classes the model never saw"
    return None


def _sklearn_value(rows: ScoredRows, metric: str) -> float:
    y, predicted, pos = rows.y, rows.predicted, rows.positive
    average = "binary" if rows.binary else "macro"
    if metric == "accuracy":
        return accuracy_score(y, predicted)
    if metric == "balanced_accuracy":
        return balanced_accuracy_score(y, predicted)
    if metric in ("precision", "recall", "f1"):
        scorer = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[metric]
        return scorer(y, predicted, pos_label=pos, average=average, zero_division=np.nan)

    assert rows.proba is not None
    columns = rows.model_columns
    if metric == "log_loss":
        return log_loss(y, rows.proba[:, columns], labels=columns)
    if not rows.binary:
        return roc_auc_score(y, rows.proba[:, columns], multi_class="ovr", labels=columns)
    positive, score = y == pos, rows.proba[:, pos]
    scorers = {
        "roc_auc": roc_auc_score,
        "average_precision": average_precision_score,
        "brier": brier_score_loss,
    }
    return scorers[metric](positive, score)


# --- intervals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval and how it was obtained."""

    low: float | None
    high: float | None
    method: str
    replicates: int | None = None


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Return Wilson's score interval for ``successes`` out of ``trials`` at ``confidence``."""
    if trials <= 0:
        raise ValidationError(f"a proportion needs at least one trial; got {trials}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_weights(n_rows: int, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield blocks of bootstrap replicates as row counts: one row of weights per replicate.

    A replicate draws ``n_rows`` rows with replacement; its weights say how often each row was
    drawn, so a weighted metric over all rows equals the metric on the drawn rows.
    """
    rng = np.random.default_rng(seed)
    block = max(1, min(samples, BOOTSTRAP_CELLS // max(n_rows, 1)))
    chance = np.full(n_rows, 1.0 / n_rows)
    done = 0
    while done < samples:
        size = min(block, samples - done)
        yield rng.multinomial(n_rows, chance, size=size).astype(np.float64)
        done += size


def replicate_values(rows: ScoredRows, metric: str, weights: np.ndarray) -> np.ndarray:
    """Return ``metric`` for each replicate (a row of ``weights``); NaN where undefined."""
    spec = METRICS[metric]
    if _undefined(rows, spec) is not None:
        return np.full(len(weights), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric in ("roc_auc", "average_precision", "log_loss", "brier"):
            return _score_metric(rows, metric, weights)
        return _count_metric(rows, metric, _confusion(rows, weights))


def _confusion(rows: ScoredRows, weights: np.ndarray) -> np.ndarray:
    """Return one weighted confusion matrix (true by predicted) per replicate."""
    k = len(rows.labels)
    cells = rows.y * k + rows.predicted
    indicator = sparse.csr_matrix(
        (np.ones(rows.n_rows), (np.arange(rows.n_rows), cells)), shape=(rows.n_rows, k * k)
    )
    counts = np.asarray((indicator.T @ weights.T).T)
    return counts.reshape(len(weights), k, k)


def _count_metric(rows: ScoredRows, metric: str, confusion: np.ndarray) -> np.ndarray:
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    support, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    if metric == "accuracy":
        return hits.sum(axis=1) / support.sum(axis=1)

    recall, precision = hits / support, hits / predicted
    f1 = 2 * hits / (support + predicted)
    per_class = {"precision": precision, "recall": recall, "f1": f1}
    if metric == "balanced_accuracy":
        return _nanmean(np.where(support > 0, recall, np.nan))
    if rows.binary:
        return per_class[metric][:, rows.positive]
    present = (support + predicted) > 0
    return _nanmean(np.where(present, per_class[metric], np.nan))


def _nanmean(values: np.ndarray) -> np.ndarray:
    counted = (~np.isnan(values)).sum(axis=1)
    return np.where(counted > 0, np.nansum(values, axis=1) / np.maximum(counted, 1), np.nan)


def _score_metric(rows: ScoredRows, metric: str, weights: np.ndarray) -> np.ndarray:
    assert rows.proba is not None
    total = weights.sum(axis=1)
    if metric == "log_loss":
        eps = np.finfo(np.float64).eps
        p_true = np.clip(rows.proba[np.arange(rows.n_rows), rows.y], eps, 1 - eps)
        return weights @ -np.log(p_true) / total

    if not rows.binary:
        aucs = [_weighted_auc(rows.proba[:, c], rows.y == c, weights) for c in rows.model_columns]
        return np.mean(aucs, axis=0)
    positive, score = rows.y == rows.positive, rows.proba[:, rows.positive]
    if metric == "brier":
        return weights @ (score - positive) ** 2 / total
    if metric == "roc_auc":
        return _weighted_auc(score, positive, weights)
    return _weighted_average_precision(score, positive, weights)


def _tie_groups(score: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score if descending else score, kind="mergesort")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _weighted_auc(score: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the ROC AUC per replicate: the chance a positive outranks a negative, ties half."""
    order, starts = _tie_groups(score, descending=False)
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def _weighted_average_precision(
    score: np.ndarray, positive: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Return average precision per replicate: precision summed over steps of recall."""
    order, starts = _tie_groups(score, descending=True)
    w = weights[:, order]
    true_pos = np.cumsum(np.add.reduceat(w * positive[order], starts, axis=1), axis=1)
    false_pos = np.cumsum(np.add.reduceat(w * ~positive[order], starts, axis=1), axis=1)
    flagged = true_pos + false_pos
    precision = np.where(flagged > 0, true_pos / np.where(flagged > 0, flagged, 1), 0.0)
    recall = true_pos / true_pos[:, -1:]
    steps = np.diff(recall, axis=1, prepend=0.0)
    return (steps * precision).sum(axis=1)


def metric_interval(
    rows: ScoredRows, metric: str, confidence: float, samples: int, seed: int
) -> Interval:
    """Return the interval of ``metric``: Wilson's for a proportion, else a bootstrap one."""
    proportion = _proportion(rows, metric)
    if proportion is not None:
        successes, trials = proportion
        if trials == 0:
            return Interval(None, None, "wilson")
        low, high = wilson_interval(successes, trials, confidence)
        return Interval(low, high, "wilson")

    values = np.concatenate(
        [replicate_values(rows, metric, w) for w in bootstrap_weights(rows.n_rows, samples, seed)]
    )
    return percentile_interval(values, confidence)


def percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    """Return the percentile interval of bootstrap ``values``, ignoring undefined replicates."""
    valid = values[np.isfinite(values)]
    if len(valid) < max(2, MIN_VALID_SHARE * len(values)):
        return Interval(None, None, "bootstrap", len(valid))
    low, high = np.quantile(valid, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(low), float(high), "bootstrap", len(valid))


def _proportion(rows: ScoredRows, metric: str) -> tuple[int, int] | None:
    """Return (successes, trials) when ``metric`` is one proportion of rows, else ``None``."""
    correct = rows.y == rows.predicted
    if metric == "accuracy":
        return int(correct.sum()), rows.n_rows
    if not rows.binary or metric not in ("precision", "recall"):
        return None
    hits = int((correct & (rows.y == rows.positive)).sum())
    side = rows.predicted if metric == "precision" else rows.y
    return hits, int((side == rows.positive).sum())


# --- the check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One success metric of the business case, read for judging."""

    name: str
    metric: str | None
    unit: str
    higher: bool
    baseline: float
    target: float


def success_criteria(documents: Mapping[str, Any] | None) -> list[Criterion]:
    """Return the business case's success metrics, each mapped to a model metric or ``None``.

    A baseline and target given in per cent (unit ``%``) of a metric that lies between 0 and 1
    are divided by 100, so "AUC 70 %" is judged as 0.70.
    """
    case = (documents or {}).get("business_case")
    if not case:
        raise ValidationError(
            "business_accuracy needs the project's business case, whose success metrics are "
            "its thresholds; none has been submitted. Submit it with "
            "`mlgate doc submit docs/business_case.yaml`"
        )
    criteria = []
    for position, raw in enumerate(case.get("success_metrics") or []):
        try:
            metric = SuccessMetric.model_validate(raw)
        except PydanticValidationError as exc:
            problems = describe_problems(exc.errors())
            raise ValidationError(
                f"business case success_metrics[{position}] is invalid: {problems}"
            ) from exc
        criteria.append(_criterion(metric))
    if not criteria:
        raise ValidationError("the business case lists no success_metrics; expected at least one")
    return criteria


def _criterion(metric: SuccessMetric) -> Criterion:
    mapped = metric_for(metric.name)
    scale = 1.0
    if mapped is not None and METRICS[mapped].bounded and metric.unit.lower() in PERCENT_UNITS:
        scale = 100.0
    return Criterion(
        name=metric.name,
        metric=mapped,
        unit=metric.unit,
        higher=metric.direction == "higher",
        baseline=metric.baseline / scale,
        target=metric.target / scale,
    )


def check_business_accuracy(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Judge the model on the hold-out rows against the business case's success metrics."""
    limits = _limits(thresholds)
    criteria = success_criteria(inp.documents)
    mapped = [c for c in criteria if c.metric is not None]
    kpis = [c for c in criteria if c.metric is None]
    if not mapped:
        return _nothing_mapped(criteria)

    require_model(inp, "business_accuracy")
    frame = inp.holdout if inp.holdout is not None else inp.data
    x, y = labelled_rows(inp, frame)
    rows = score_rows(inp.model, x, y, inp.positive_label)

    table: list[dict[str, Any]] = []
    findings: list[Finding] = []
    metrics: dict[str, float | int | str | None] = {}
    for criterion in mapped:
        row, found = _judge(criterion, rows, limits, inp.seed)
        table.append(row)
        findings += found
        metrics.update(_criterion_metrics(row))
    table += [_kpi_row(c) for c in kpis]
    findings += [Finding("info", NOT_A_MODEL_METRIC, c.name) for c in kpis]
    logger.info(
        "business_accuracy: %d success metric(s), %d computed on %d rows",
        len(criteria),
        len(mapped),
        rows.n_rows,
    )

    met = sum(r["verdict"] == "meets target" for r in table)
    metrics.update(
        {"n_rows": rows.n_rows, "n_criteria": len(criteria), "n_model_metrics": len(mapped)}
    )
    metrics.update({"n_met": met, "n_business_kpis": len(kpis)})
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="business_accuracy",
        status=status,
        summary=_summary(met, mapped, kpis, rows.n_rows),
        metrics=metrics,
        findings=findings,
        figures=[_figure(table, limits["confidence"])],
        tables={"success_metrics": table},
    )


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    if limits["fail_below_target"] not in (0, 1):
        raise ValidationError(
            f"fail_below_target must be 0 (warn) or 1 (fail); got {limits['fail_below_target']:g}"
        )
    if not 0 < limits["confidence"] < 1:
        raise ValidationError(f"confidence must be in (0, 1); got {limits['confidence']:g}")
    if limits["bootstrap_samples"] < 1:
        raise ValidationError(
            f"bootstrap_samples must be at least 1; got {limits['bootstrap_samples']:g}"
        )
    return limits


def _nothing_mapped(criteria: Sequence[Criterion]) -> CheckResult:
    names = ", ".join(f"'{c.name}'" for c in criteria)
    message = (
        f"no success metric of the business case is a model metric ({names}); mlgate computes "
        f"{', '.join(METRICS)} (spellings such as {', '.join(sorted(ALIASES)[:8])}...); "
        "add one of them to the business case's success_metrics"
    )
    findings = [Finding("fail", message)]
    findings += [Finding("info", NOT_A_MODEL_METRIC, c.name) for c in criteria]
    return CheckResult(
        check="business_accuracy",
        status="fail",
        summary="no success metric of the business case can be computed from the model",
        metrics={"n_criteria": len(criteria), "n_model_metrics": 0},
        findings=findings,
        tables={"success_metrics": [_kpi_row(c) for c in criteria]},
    )


def _judge(
    criterion: Criterion, rows: ScoredRows, limits: Mapping[str, float], seed: int
) -> tuple[dict[str, Any], list[Finding]]:
    assert criterion.metric is not None
    metric = criterion.metric
    value, reason = point_value(rows, metric)
    interval = Interval(None, None, "none")
    if value is not None:
        samples = int(limits["bootstrap_samples"])
        interval = metric_interval(rows, metric, limits["confidence"], samples, seed)

    verdict = "not computed" if value is None else _verdict(value, criterion)
    if value is not None and METRICS[metric].bounded and not _within_unit(criterion):
        verdict = NOT_JUDGED
    row = {
        "success_metric": criterion.name,
        "metric": metric,
        "direction": "higher" if criterion.higher else "lower",
        "unit": criterion.unit,
        "baseline": criterion.baseline,
        "target": criterion.target,
        "achieved": value,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "interval": interval.method,
        "verdict": verdict,
    }
    return row, _criterion_findings(criterion, row, reason, limits)


def _within_unit(criterion: Criterion) -> bool:
    return all(0 <= v <= 1 for v in (criterion.baseline, criterion.target))


def _verdict(value: float, criterion: Criterion) -> str:
    sign = 1 if criterion.higher else -1
    if sign * (value - criterion.target) >= 0:
        return "meets target"
    if sign * (value - criterion.baseline) > 0:
        return "beats baseline, misses target"
    return "not better than baseline"


def _criterion_findings(
    criterion: Criterion, row: Mapping[str, Any], reason: str | None, limits: Mapping[str, float]
) -> list[Finding]:
    metric, value = row["metric"], row["achieved"]
    spec = METRICS[metric]
    label = f"'{criterion.name}' ({metric})"
    if value is None:
        message = f"{label} cannot be computed on the hold-out rows: {reason}"
        return [Finding("fail", message, criterion.name)]
    if row["verdict"] == NOT_JUDGED:
        message = (
            f"{label}: baseline {criterion.baseline:g} and target {criterion.target:g} must lie "
            f"between 0 and 1 for {spec.title}; write them as fractions or set unit: '%'"
        )
        return [Finding("fail", message, criterion.name, value)]

    findings = []
    if criterion.higher != spec.higher_is_better:
        stated = "higher" if criterion.higher else "lower"
        message = (
            f"{label} says direction '{stated}', but for {spec.title} "
            f"{'higher' if spec.higher_is_better else 'lower'} is better; judged as written"
        )
        findings.append(Finding("warn", message, criterion.name))
    findings.append(_verdict_finding(criterion, row, label, limits))
    findings += _interval_finding(criterion, row, label, limits)
    return findings


def _verdict_finding(
    criterion: Criterion, row: Mapping[str, Any], label: str, limits: Mapping[str, float]
) -> Finding:
    value, verdict = row["achieved"], row["verdict"]
    where = f"{value:.4g}{_interval_text(row)}"
    goal = f"target {criterion.target:g}, baseline {criterion.baseline:g}"
    if verdict == "meets target":
        return Finding("info", f"{label} {where} meets the {goal}", criterion.name, value)
    if verdict == "beats baseline, misses target":
        severity = "fail" if limits["fail_below_target"] else "warn"
        message = f"{label} {where} beats the baseline but misses the {goal}"
        return Finding(severity, message, criterion.name, value)
    message = f"{label} {where} is not better than the baseline ({goal})"
    return Finding("fail", message, criterion.name, value)


def _interval_finding(
    criterion: Criterion, row: Mapping[str, Any], label: str, limits: Mapping[str, float]
) -> list[Finding]:
    """Warn when the interval's worse end does not beat the baseline: success is uncertain."""
    worse_end = row["ci_low"] if criterion.higher else row["ci_high"]
    if row["verdict"] == "not better than baseline" or worse_end is None:
        return []
    sign = 1 if criterion.higher else -1
    if sign * (worse_end - criterion.baseline) > 0:
        return []
    message = (
        f"{label}: the {limits['confidence']:.0%} interval{_interval_text(row)} reaches the "
        f"baseline {criterion.baseline:g}; on these rows the improvement is not certain"
    )
    return [Finding("warn", message, criterion.name, worse_end)]


def _interval_text(row: Mapping[str, Any]) -> str:
    if row["ci_low"] is None or row["ci_high"] is None:
        return ""
    return f" [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"


def _criterion_metrics(row: Mapping[str, Any]) -> dict[str, float | int | str | None]:
    metric = row["metric"]
    return {
        metric: row["achieved"],
        f"{metric}_ci_low": row["ci_low"],
        f"{metric}_ci_high": row["ci_high"],
        f"{metric}_baseline": row["baseline"],
        f"{metric}_target": row["target"],
    }


def _kpi_row(criterion: Criterion) -> dict[str, Any]:
    return {
        "success_metric": criterion.name,
        "metric": None,
        "direction": "higher" if criterion.higher else "lower",
        "unit": criterion.unit,
        "baseline": criterion.baseline,
        "target": criterion.target,
        "achieved": None,
        "ci_low": None,
        "ci_high": None,
        "interval": None,
        "verdict": NOT_A_MODEL_METRIC,
    }


def _summary(met: int, mapped: Sequence[Criterion], kpis: Sequence[Criterion], n_rows: int) -> str:
    text = f"{met} of {len(mapped)} model success metric(s) met on {n_rows} hold-out rows"
    if kpis:
        text += f"; {len(kpis)} business KPI(s) measured in monitoring"
    return text


def _figure(table: Sequence[Mapping[str, Any]], confidence: float) -> Figure:
    judged = [r for r in table if r["metric"] is not None]
    x = [f"{r['metric']} ({r['success_metric']})" for r in judged]
    level = f"{confidence:.0%}"
    columns = (
        ("baseline", "baseline"),
        ("target", "target"),
        ("achieved", "achieved"),
        (f"{level} interval low", "ci_low"),
        (f"{level} interval high", "ci_high"),
    )
    return Figure(
        name="business_accuracy",
        title="Success metrics: baseline, target and achieved on the hold-out",
        kind="bar",
        x_label="success metric",
        y_label="value",
        series=[Series(name, x, [r[key] for r in judged]) for name, key in columns],
    )


SPEC = CheckSpec(
    name="business_accuracy",
    title="Accuracy against the business case",
    function=check_business_accuracy,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Computes each success metric of the accepted business case that is a model metric "
        "on the hold-out rows, with a 95 % interval, and fails below the baseline or (by "
        "default) the target; business KPIs are listed as measured in monitoring."
    ),
)
