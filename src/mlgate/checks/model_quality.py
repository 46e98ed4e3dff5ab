"""Model quality: cross-validated and hold-out scores, determinism and speed.

Four checks live here:

- ``cv_accuracy`` fits fresh estimators from ``CheckInput.estimator_factory`` in stratified k-fold
  cross-validation and reports accuracy, ROC AUC and F1 on the training and validation folds,
  and the gap between them (a large gap means over-fitting);
- ``holdout_accuracy`` scores the fitted ``CheckInput.model`` on the hold-out frame;
- ``determinism`` predicts the same rows twice, in shuffled order, and in a fresh Python process
  that loads the model from its stored artifact, and requires equal outputs;
- ``performance`` times training, single-row latency and batch throughput, and records the
  hardware and software it ran on.

For a binary target, F1, precision and recall are those of ``positive_label``, and the ROC AUC
uses the probability of that class, read from ``predict_proba`` through ``model.classes_`` (never
by column position). For more than two classes, F1, precision and recall are macro averages and
the ROC AUC is one-vs-rest. The feature frame is ``data[list(features)]``; with no features
declared, every column except the target.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    make_scorer,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, cross_validate

from mlgate.checks._fresh_process import portable, score_in_fresh_process
from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    Status,
    feature_columns,
    finite_or_none,
    labelled_rows,
    require_factory,
    require_model,
    require_rows,
    short_number,
    worst,
)
from mlgate.errors import ValidationError
from mlgate.hardware import describe_environment

logger = logging.getLogger(__name__)

CV_DEFAULTS: dict[str, float] = {
    "folds": 5,
    "min_roc_auc": 0.7,
    "max_gap": 0.1,
    "leakage_roc_auc": 0.995,
}
HOLDOUT_DEFAULTS: dict[str, float] = {
    "min_accuracy": 0.7,
    "min_roc_auc": 0.7,
    "min_f1": 0.5,
    "min_precision": 0.5,
    "min_recall": 0.5,
}
DETERMINISM_DEFAULTS: dict[str, float] = {
    "tolerance": 1e-9,
    "max_rows": 10_000,
    "fresh_process_timeout_seconds": 600,
}
FRESH_SUMMARY: dict[str, str] = {
    "ran": "",
    "not run": " (the fresh-process comparison did not run)",
    "failed": "; the stored model could not be scored in a fresh process",
}
PERFORMANCE_DEFAULTS: dict[str, float] = {
    "max_training_seconds": 600,
    "max_latency_p99_ms": 100,
    "min_throughput_rows_per_second": 0,
    "latency_calls": 200,
    "latency_budget_seconds": 10,
}
SCORES = ("accuracy", "roc_auc", "f1")
THROUGHPUT_BATCH_ROWS = 1000  # the fixed batch size throughput is compared at across machines
THROUGHPUT_REPEATS = 3  # timings of that batch; the median is kept


def positive_class_scores(
    model: Any, features: pd.DataFrame, positive_label: Any, classes: Sequence[Any] = ()
) -> np.ndarray:
    """Return the model's probability of ``positive_label`` for each row.

    The column is found through ``model.classes_``. A ``predict_proba`` with fewer columns than
    the task has classes (a model that saw one class only) raises :class:`ValidationError`
    naming the classes, rather than reading a column that is not there. ``classes`` are the
    task's declared classes, used in that message.
    """
    proba = np.asarray(model.predict_proba(features))
    model_classes = list(getattr(model, "classes_", []))
    declared = sorted({*classes, *model_classes, positive_label}, key=str)

    if proba.ndim != 2 or proba.shape[1] != len(model_classes) or len(model_classes) < 2:
        width = proba.shape[1] if proba.ndim == 2 else 1
        raise ValidationError(
            f"predict_proba returned {width} column(s), expected {len(declared)} for classes "
            f"{_labels(declared)}; model saw only class(es) {_labels(model_classes)}"
        )
    if positive_label not in model_classes:
        raise ValidationError(
            f"positive_label {positive_label!r} is not among the model's classes "
            f"{_labels(model_classes)}"
        )
    return proba[:, model_classes.index(positive_label)]


def check_cv_accuracy(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Cross-validate a fresh estimator and compare training with validation scores."""
    limits = {**CV_DEFAULTS, **thresholds}
    factory = require_factory(inp, "cv_accuracy")
    x, y = labelled_rows(inp, inp.data)
    folds = stratified_folds(y, limits["folds"])

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=inp.seed)
    scores = cross_validate(
        factory(),
        x,
        y,
        cv=splitter,
        scoring=cv_scoring(y, inp.positive_label),
        return_train_score=True,
        error_score="raise",
    )
    logger.info("cv_accuracy: %d folds on %d rows", folds, len(y))

    return _cv_result(scores, folds, limits)


def cv_scoring(y: pd.Series, positive_label: Any) -> dict[str, Any]:
    """Return the scorers ``cv_accuracy`` hands to ``cross_validate`` for this target."""
    if y.nunique() > 2:
        return {"accuracy": "accuracy", "roc_auc": "roc_auc_ovr", "f1": "f1_macro"}
    f1 = make_scorer(f1_score, pos_label=positive_label, zero_division=0.0)
    return {"accuracy": "accuracy", "roc_auc": "roc_auc", "f1": f1}


def _cv_result(
    scores: Mapping[str, np.ndarray], folds: int, limits: Mapping[str, float]
) -> CheckResult:
    metrics: dict[str, float | int | str | None] = {"folds": folds}
    for name in SCORES:
        train, valid = scores[f"train_{name}"], scores[f"test_{name}"]
        metrics[f"train_{name}_mean"] = finite_or_none(np.mean(train))
        metrics[f"train_{name}_std"] = finite_or_none(np.std(train))
        metrics[f"validation_{name}_mean"] = finite_or_none(np.mean(valid))
        metrics[f"validation_{name}_std"] = finite_or_none(np.std(valid))
        metrics[f"{name}_gap"] = finite_or_none(np.mean(train) - np.mean(valid))

    findings = _cv_findings(metrics, limits)
    status = worst([f.severity for f in findings if f.severity != "info"])
    summary = (
        f"validation ROC AUC {short_number(metrics['validation_roc_auc_mean'])}, "
        f"train-validation gap {short_number(metrics['roc_auc_gap'])} over {folds} folds"
    )
    return CheckResult(
        check="cv_accuracy",
        status=status,
        summary=summary,
        metrics=metrics,
        findings=findings,
        figures=[_fold_figure(scores, folds)],
        tables={"folds": _fold_table(scores, folds)},
    )


def _cv_findings(
    metrics: Mapping[str, float | int | str | None], limits: Mapping[str, float]
) -> list[Finding]:
    auc, gap = metrics["validation_roc_auc_mean"], metrics["roc_auc_gap"]
    findings = []
    if not isinstance(auc, float) or not isinstance(gap, float):
        return [Finding("warn", "the ROC AUC could not be computed on every fold")]

    if auc < limits["min_roc_auc"]:
        message = f"validation ROC AUC {auc:.3f} is below the minimum {limits['min_roc_auc']:g}"
        findings.append(Finding("fail", message, "roc_auc", auc))
    if gap > limits["max_gap"]:
        message = (
            f"training ROC AUC exceeds validation by {gap:.3f} (> {limits['max_gap']:g}); "
            f"the model over-fits"
        )
        findings.append(Finding("fail", message, "roc_auc_gap", gap))
    if auc >= limits["leakage_roc_auc"]:
        message = (
            f"validation ROC AUC {auc:.4f} is suspiciously high (>= "
            f"{limits['leakage_roc_auc']:g}); check the features for target leakage"
        )
        findings.append(Finding("warn", message, "roc_auc", auc))
    return findings


def _fold_figure(scores: Mapping[str, np.ndarray], folds: int) -> Figure:
    x = list(range(1, folds + 1))
    series = [
        Series(f"{split} {name}", x, [finite_or_none(v) for v in scores[f"{prefix}_{name}"]])
        for name in SCORES
        for split, prefix in (("train", "train"), ("validation", "test"))
    ]
    return Figure(
        name="cv_scores",
        title="Scores per fold, training and validation",
        kind="line",
        x_label="fold",
        y_label="score",
        series=series,
    )


def _fold_table(scores: Mapping[str, np.ndarray], folds: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(folds):
        row: dict[str, Any] = {"fold": i + 1}
        for name in SCORES:
            row[f"train_{name}"] = finite_or_none(scores[f"train_{name}"][i])
            row[f"validation_{name}"] = finite_or_none(scores[f"test_{name}"][i])
        rows.append(row)
    return rows


def check_holdout_accuracy(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Score the fitted model on the hold-out frame (or on ``data`` when there is none)."""
    limits = {**HOLDOUT_DEFAULTS, **thresholds}
    model = require_model(inp, "holdout_accuracy")
    frame = inp.holdout if inp.holdout is not None else inp.data
    x, y = labelled_rows(inp, frame)

    # The service passes the hold-out dataset as ``data``; which dataset it was is recorded
    # with the evidence, so no note about a missing ``holdout`` frame is added here.
    findings: list[Finding] = []
    predictions = np.asarray(model.predict(x))
    metrics, why = classification_scores(model, x, y, predictions, inp.positive_label)

    findings += [Finding("warn", f"{name} is not defined: {reason}", name) for name, reason in why]
    findings += _below_minimum(metrics, limits)
    status = worst([f.severity for f in findings if f.severity != "info"])
    metrics["n_rows"] = len(y)

    summary = ", ".join(f"{k} {short_number(metrics[k])}" for k in ("accuracy", "roc_auc", "f1"))
    return CheckResult(
        check="holdout_accuracy",
        status=status,
        summary=f"{summary} on {len(y)} rows",
        metrics=metrics,
        findings=findings,
    )


def classification_scores(
    model: Any, x: pd.DataFrame, y: pd.Series, predictions: np.ndarray, positive_label: Any
) -> tuple[dict[str, float | int | str | None], list[tuple[str, str]]]:
    """Return accuracy, ROC AUC, F1, precision and recall, and why any of them is undefined.

    An undefined score is ``None`` and comes with a ``(name, reason)`` pair, for instance the ROC
    AUC of a set that holds one class only, or the precision of a model that predicts no
    positive.
    """
    y_true = y.to_numpy()
    known = set(y_true.tolist()) | set(getattr(model, "classes_", []))
    if positive_label not in known:
        raise ValidationError(
            f"positive_label {positive_label!r} is neither in the target nor among the model's "
            f"classes {_labels(sorted(known, key=str))}"
        )
    classes = sorted(known, key=str)
    binary = len(known) <= 2
    average, pos = ("binary", positive_label) if binary else ("macro", 1)

    metrics: dict[str, float | int | str | None] = {
        "accuracy": finite_or_none(accuracy_score(y_true, predictions))
    }
    why: list[tuple[str, str]] = []
    scorers = (("f1", f1_score), ("precision", precision_score), ("recall", recall_score))
    for name, scorer in scorers:
        value = scorer(y_true, predictions, pos_label=pos, average=average, zero_division=np.nan)
        metrics[name] = finite_or_none(value)
        if metrics[name] is None:
            why.append((name, f"its denominator is 0 for positive label {positive_label!r}"))

    metrics["roc_auc"], reason = _roc_auc(model, x, y_true, positive_label, classes, binary)
    if reason is not None:
        why.append(("roc_auc", reason))
    return metrics, why


def _roc_auc(
    model: Any,
    x: pd.DataFrame,
    y_true: np.ndarray,
    positive_label: Any,
    classes: Sequence[Any],
    binary: bool,
) -> tuple[float | None, str | None]:
    present = set(y_true.tolist())
    if len(present) < 2:
        return None, f"the scored rows hold one class only ({len(y_true)} rows)"
    if not hasattr(model, "predict_proba"):
        return None, "the model has no predict_proba"

    if binary:
        scores = positive_class_scores(model, x, positive_label, classes)
        return finite_or_none(roc_auc_score(y_true == positive_label, scores)), None

    proba = np.asarray(model.predict_proba(x))
    labels = list(model.classes_)
    if not present <= set(labels):
        return None, "the scored rows hold classes the model never saw"
    return finite_or_none(roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)), None


def _below_minimum(
    metrics: Mapping[str, float | int | str | None], limits: Mapping[str, float]
) -> list[Finding]:
    findings = []
    for name in ("accuracy", "roc_auc", "f1", "precision", "recall"):
        value, minimum = metrics.get(name), limits[f"min_{name}"]
        if isinstance(value, float) and value < minimum:
            message = f"{name} {value:.3f} is below the minimum {minimum:g}"
            findings.append(Finding("fail", message, name, value))
    return findings


def check_determinism(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Predict the same rows twice, in shuffled order and in a fresh process; compare outputs.

    The fresh process loads the model from ``inp.model_artifact`` with ``inp.model_loader``;
    without them that comparison is reported as not run.
    """
    limits = {**DETERMINISM_DEFAULTS, **thresholds}
    model = require_model(inp, "determinism")
    require_rows(inp.data)
    x = _sample(inp.data[feature_columns(inp, inp.data)], int(limits["max_rows"]), inp.seed)
    order = np.random.default_rng(inp.seed).permutation(len(x))

    first, second, shuffled = (_outputs(model, x), _outputs(model, x), _outputs(model, x, order))
    tolerance = limits["tolerance"]
    repeat_bad, repeat_diff = _mismatch(first, second, tolerance)
    order_bad, order_diff = _mismatch(first, shuffled, tolerance)
    fresh_bad, fresh_metrics, fresh_findings = _fresh_comparison(inp, x, first, limits)

    mismatched = repeat_bad | order_bad | fresh_bad
    n_mismatched = int(mismatched.sum())
    diffs = [d for d in (repeat_diff, order_diff) if d is not None]
    metrics: dict[str, float | int | str | None] = {
        "n_rows": len(x),
        "n_mismatched": n_mismatched,
        "n_mismatched_repeat": int(repeat_bad.sum()),
        "n_mismatched_shuffled": int(order_bad.sum()),
        "max_abs_diff": max(diffs) if len(diffs) == 2 else None,
        **fresh_metrics,
    }

    findings = _determinism_findings(metrics, tolerance) + fresh_findings
    failed = n_mismatched or any(f.severity == "fail" for f in fresh_findings)
    status: Status = "fail" if failed else "pass"
    summary = f"{n_mismatched} of {len(x)} rows gave different outputs across repeated calls"
    summary += FRESH_SUMMARY[str(metrics["fresh_process"])]
    return CheckResult("determinism", status, summary, metrics, findings)


def _fresh_comparison(
    inp: CheckInput,
    x: pd.DataFrame,
    first: Mapping[str, np.ndarray],
    limits: Mapping[str, float],
) -> tuple[np.ndarray, dict[str, float | int | str | None], list[Finding]]:
    """Score ``x`` in a fresh Python process from the stored artifact and compare with ``first``.

    Returns the rows that differ, the metrics and the findings of this comparison. A model that
    cannot be loaded or scored there fails: its outputs cannot be reproduced from what is stored.
    """
    none = np.zeros(len(x), dtype=bool)
    if inp.model_artifact is None or inp.model_loader is None:
        metrics = {"fresh_process": "not run", "n_mismatched_fresh_process": None}
        message = (
            "the fresh-process comparison did not run: no stored model artifact was given, so "
            "only this process's outputs were compared"
        )
        return none, metrics, [Finding("info", message, "fresh_process")]

    timeout = limits["fresh_process_timeout_seconds"]
    outcome = score_in_fresh_process(inp.model_artifact, inp.model_loader, x, timeout)
    if outcome.outputs is None:
        metrics = {"fresh_process": "failed", "n_mismatched_fresh_process": None}
        message = (
            f"the stored model could not be scored in a fresh Python process: {outcome.error}"
        )
        return none, metrics, [Finding("fail", message, "fresh_process")]

    here = {name: portable(values) for name, values in first.items()}
    bad, diff = _mismatch_outputs(here, outcome.outputs, limits["tolerance"])
    n_bad = int(bad.sum())
    metrics = {
        "fresh_process": "ran",
        "n_mismatched_fresh_process": n_bad,
        "max_abs_diff_fresh_process": diff,
    }
    logger.info("determinism: %d of %d rows differ in a fresh process", n_bad, len(x))
    if not n_bad:
        return bad, metrics, []
    message = (
        f"{n_bad} of {len(x)} rows gave different outputs when the stored model was loaded and "
        f"scored in a fresh Python process (tolerance {limits['tolerance']:g}); the outputs "
        "depend on something the artifact does not hold, such as an unseeded random draw"
    )
    return bad, metrics, [Finding("fail", message, "fresh_process", n_bad)]


def _mismatch_outputs(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], tolerance: float
) -> tuple[np.ndarray, float | None]:
    """Like :func:`_mismatch`, but every row differs when the two give different methods."""
    if set(a) != set(b):
        return np.ones(len(a["predict"]), dtype=bool), None
    return _mismatch(a, b, tolerance)


def _outputs(
    model: Any, x: pd.DataFrame, order: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    frame = x if order is None else x.iloc[order]
    outputs = {"predict": np.asarray(model.predict(frame))}
    if hasattr(model, "predict_proba"):
        outputs["predict_proba"] = np.asarray(model.predict_proba(frame), dtype=np.float64)
    if order is None:
        return outputs

    restored = {}
    for name, values in outputs.items():
        back = np.empty_like(values)
        back[order] = values
        restored[name] = back
    return restored


def _mismatch(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], tolerance: float
) -> tuple[np.ndarray, float | None]:
    """Return which rows differ between two sets of outputs, and the largest numeric difference.

    The difference is ``None`` when it has no finite value: shapes differ, or a value turned
    into NaN on one call only.
    """
    bad = np.zeros(len(a["predict"]), dtype=bool)
    max_diff = 0.0
    for name, left in a.items():
        right = b[name]
        if left.shape != right.shape:
            return np.ones(len(bad), dtype=bool), None
        if np.issubdtype(left.dtype, np.number) and np.issubdtype(right.dtype, np.number):
            diff = np.abs(left.astype(np.float64) - right.astype(np.float64))
            diff = np.where(np.isnan(left) & np.isnan(right), 0.0, diff)
            diff = np.where(np.isnan(diff), np.inf, diff)
            rows = diff.reshape(len(bad), -1).max(axis=1) if diff.size else np.zeros(len(bad))
            bad |= rows > tolerance
            max_diff = max(max_diff, float(rows.max(initial=0.0)))
        else:
            bad |= (left != right).reshape(len(bad), -1).any(axis=1)
    return bad, max_diff if math.isfinite(max_diff) else None


def _determinism_findings(
    metrics: Mapping[str, float | int | str | None], tolerance: float
) -> list[Finding]:
    findings = []
    if metrics["n_mismatched_repeat"]:
        message = (
            f"{metrics['n_mismatched_repeat']} of {metrics['n_rows']} rows changed between two "
            f"identical calls (tolerance {tolerance:g})"
        )
        findings.append(Finding("fail", message, "repeat", metrics["n_mismatched_repeat"]))
    if metrics["n_mismatched_shuffled"]:
        message = (
            f"{metrics['n_mismatched_shuffled']} of {metrics['n_rows']} rows changed when the "
            f"rows were shuffled; outputs depend on row order or batch content"
        )
        findings.append(Finding("fail", message, "shuffled", metrics["n_mismatched_shuffled"]))
    if metrics["max_abs_diff"] is None:
        message = "outputs differ in shape or in missing values between calls; no numeric diff"
        findings.append(Finding("fail", message))
    return findings


def check_performance(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Time training, single-row latency and batch throughput, and record the machine.

    Throughput is measured on a batch of :data:`THROUGHPUT_BATCH_ROWS` rows (the data's rows
    repeated when it has fewer), timed :data:`THROUGHPUT_REPEATS` times with the median kept,
    and on the whole frame. The hardware and software of the run are stored as
    ``environment.*`` metrics and in the ``environment`` table: a timing means little without
    the machine it was taken on.
    """
    limits = {**PERFORMANCE_DEFAULTS, **thresholds}
    require_rows(inp.data)
    x = inp.data[feature_columns(inp, inp.data)]
    findings: list[Finding] = []

    training_seconds, fitted = None, None
    factory = inp.estimator_factory
    if factory is None:
        findings.append(Finding("info", "no estimator factory given; training time not measured"))
    else:
        _, y = labelled_rows(inp, inp.data)
        training_seconds, fitted = _timed(lambda: factory().fit(x, y))
    model = inp.model if inp.model is not None else fitted
    if model is None:
        raise ValidationError("performance needs CheckInput.model or an estimator_factory")

    calls, budget = int(limits["latency_calls"]), limits["latency_budget_seconds"]
    latencies = _latencies(model, x, calls, budget)
    batch_seconds, _ = _timed(lambda: model.predict(x))
    metrics = _performance_metrics(training_seconds, latencies, len(x), batch_seconds)
    metrics.update(_fixed_batch_throughput(model, x))
    environment = describe_environment()
    metrics.update({f"environment.{key}": value for key, value in environment.items()})
    logger.info(
        "performance: %d latency calls, %d-row batch, on %s",
        len(latencies),
        len(x),
        environment["cpu_model"],
    )

    findings += _performance_findings(metrics, limits)
    if len(x) < THROUGHPUT_BATCH_ROWS:
        message = f"the data has {len(x)} rows; the {THROUGHPUT_BATCH_ROWS}-row batch repeats them"
        findings.append(Finding("info", message, "batch_1k_rows", len(x)))
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        "performance",
        status,
        _performance_summary(metrics, environment),
        metrics,
        findings,
        [_latency_figure(latencies, limits["max_latency_p99_ms"])],
        {
            "timings": _timing_table(metrics),
            "environment": [{"item": k, "value": v} for k, v in environment.items()],
        },
    )


def _fixed_batch_throughput(model: Any, x: pd.DataFrame) -> dict[str, float | int | None]:
    """Time prediction on a batch of :data:`THROUGHPUT_BATCH_ROWS` rows; keep the median."""
    copies = -(-THROUGHPUT_BATCH_ROWS // len(x))
    batch = pd.concat([x] * copies, ignore_index=True).iloc[:THROUGHPUT_BATCH_ROWS]
    seconds = float(
        np.median([_timed(lambda: model.predict(batch))[0] for _ in range(THROUGHPUT_REPEATS)])
    )
    return {
        "batch_1k_rows": len(batch),
        "batch_1k_seconds": seconds,
        "throughput_1k_rows_per_second": len(batch) / seconds if seconds > 0 else None,
    }


def _performance_summary(
    metrics: Mapping[str, float | int | str | None], environment: Mapping[str, Any]
) -> str:
    return (
        f"training {short_number(metrics['training_seconds'])} s, latency p50/p95/p99 "
        f"{short_number(metrics['latency_p50_ms'])}/{short_number(metrics['latency_p95_ms'])}/"
        f"{short_number(metrics['latency_p99_ms'])} ms, throughput "
        f"{short_number(metrics['throughput_1k_rows_per_second'])} rows/s at 1k rows and "
        f"{short_number(metrics['throughput_rows_per_second'])} rows/s at "
        f"{metrics['batch_rows']} rows, "
        f"on {environment['cpu_model'] or 'an unknown CPU'} "
        f"({environment['usable_cores'] or '?'} usable cores)"
    )


def _latency_figure(latencies: list[float | None], limit: float) -> Figure:
    return Figure(
        name="latency",
        title="Single-row prediction latency per call",
        kind="line",
        x_label="call",
        y_label="milliseconds",
        series=[Series("latency", list(range(1, len(latencies) + 1)), latencies)],
        threshold=limit,
    )


def _timing_table(metrics: Mapping[str, float | int | str | None]) -> list[dict[str, Any]]:
    rows = (
        ("training time", "training_seconds", "s"),
        ("single-row latency p50", "latency_p50_ms", "ms"),
        ("single-row latency p95", "latency_p95_ms", "ms"),
        ("single-row latency p99", "latency_p99_ms", "ms"),
        (
            f"throughput, batch of {metrics['batch_1k_rows']} rows",
            "throughput_1k_rows_per_second",
            "rows/s",
        ),
        (
            f"throughput, batch of {metrics['batch_rows']} rows",
            "throughput_rows_per_second",
            "rows/s",
        ),
    )
    return [{"measure": label, "value": metrics[key], "unit": unit} for label, key, unit in rows]


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _latencies(model: Any, x: pd.DataFrame, calls: int, budget: float) -> list[float | None]:
    if len(x) == 0:
        return []
    row = x.iloc[[0]]
    model.predict(row)  # warm-up: the first call may build caches

    latencies: list[float | None] = []
    spent = 0.0
    while len(latencies) < calls and spent < budget:
        seconds, _ = _timed(lambda: model.predict(row))
        latencies.append(seconds * 1000.0)
        spent += seconds
    return latencies


def _performance_metrics(
    training_seconds: float | None,
    latencies: list[float | None],
    n_rows: int,
    batch_seconds: float,
) -> dict[str, float | int | str | None]:
    values = np.asarray([v for v in latencies if v is not None], dtype=np.float64)
    has_latency = values.size > 0
    return {
        "training_seconds": training_seconds,
        "latency_calls": int(values.size),
        "latency_p50_ms": float(np.percentile(values, 50)) if has_latency else None,
        "latency_p95_ms": float(np.percentile(values, 95)) if has_latency else None,
        "latency_p99_ms": float(np.percentile(values, 99)) if has_latency else None,
        "batch_rows": n_rows,
        "batch_seconds": batch_seconds,
        "throughput_rows_per_second": n_rows / batch_seconds if batch_seconds > 0 else None,
    }


def _performance_findings(
    metrics: Mapping[str, float | int | str | None], limits: Mapping[str, float]
) -> list[Finding]:
    checks = (
        ("training_seconds", "max_training_seconds", "training took {v:.2f} s (> {m:g} s)", 1),
        ("latency_p99_ms", "max_latency_p99_ms", "latency p99 is {v:.2f} ms (> {m:g} ms)", 1),
        (
            "throughput_rows_per_second",
            "min_throughput_rows_per_second",
            "throughput is {v:.0f} rows/s (< {m:g})",
            -1,
        ),
    )
    findings = []
    for key, limit, template, sign in checks:
        value, bound = metrics[key], limits[limit]
        if isinstance(value, float) and sign * (value - bound) > 0:
            findings.append(Finding("fail", template.format(v=value, m=bound), key, value))

    if metrics["latency_calls"] == 0:
        findings.append(Finding("warn", "the data has no row; latency not measured"))
    elif metrics["throughput_rows_per_second"] is None:
        findings.append(Finding("info", "the batch finished too fast to time; no throughput"))
    return findings


def stratified_folds(y: pd.Series, requested: float) -> int:
    """Return the number of stratified folds, refusing one that the classes cannot fill."""
    folds = int(requested)
    if folds < 2:
        raise ValidationError(f"folds must be at least 2; got {requested:g}")

    counts = y.value_counts()
    if len(counts) < 2:
        raise ValidationError(f"the target has {len(counts)} class(es); expected at least 2")
    if counts.min() < folds:
        raise ValidationError(
            f"folds={folds} but the smallest class has only {counts.min()} row(s); "
            f"lower folds or add rows"
        )
    return folds


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed)


def _labels(values: Sequence[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


CV_SPEC = CheckSpec(
    name="cv_accuracy",
    title="Cross-validated accuracy",
    function=check_cv_accuracy,
    needs_model=True,
    needs_reference=False,
    defaults=CV_DEFAULTS,
    description=(
        "Stratified k-fold cross-validation of a fresh estimator: accuracy, ROC AUC and F1 on "
        "training and validation folds; fails on a low validation ROC AUC or a large "
        "train-validation gap."
    ),
)
HOLDOUT_SPEC = CheckSpec(
    name="holdout_accuracy",
    title="Hold-out accuracy",
    function=check_holdout_accuracy,
    needs_model=True,
    needs_reference=False,
    defaults=HOLDOUT_DEFAULTS,
    description=(
        "Accuracy, ROC AUC, F1, precision and recall of the fitted model on hold-out data."
    ),
)
DETERMINISM_SPEC = CheckSpec(
    name="determinism",
    title="Deterministic predictions",
    function=check_determinism,
    needs_model=True,
    needs_reference=False,
    defaults=DETERMINISM_DEFAULTS,
    description=(
        "Predicts the same rows twice, in shuffled order and in a fresh Python process that "
        "loads the stored model; fails if any output differs by more than the tolerance."
    ),
)
PERFORMANCE_SPEC = CheckSpec(
    name="performance",
    title="Training time, latency and throughput",
    function=check_performance,
    needs_model=True,
    needs_reference=False,
    defaults=PERFORMANCE_DEFAULTS,
    description=(
        "Times training from the estimator factory, single-row prediction latency (p50, p95, "
        "p99) and throughput on 1,000-row and full batches, and records the hardware and "
        "software it ran on; fails above the time limits."
    ),
)
