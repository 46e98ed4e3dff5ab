"""The model side of a window: score drift, performance once labels arrive, estimates before.

For each window of the prediction log, against the deployed model's scores on the reference:

- ``score.psi``, ``score.wasserstein_scaled`` and ``score.mean``: how the distribution of the
  positive-class score moved. PSI uses ten bins at the reference score deciles; the Wasserstein
  distance is divided by the reference scores' population standard deviation; the statistics
  are those of :mod:`mlgate.checks.drift`. Subject ``score``.
- ``performance.<metric>`` for roc_auc, accuracy, precision, recall and f1, on the window's
  predictions whose label has arrived (joined by request id), computed by scikit-learn through
  :func:`mlgate.checks.business.point_value`. For a binary model precision, recall and f1 are
  those of the positive label; for more classes they are macro averages, and ROC AUC is not
  computed, because the log keeps the positive-class score only. Subject ``model``.
- ``estimate.<metric>``, marked ``estimated``: the same metrics from the scores alone, before
  labels arrive (confidence-based performance estimation, CBPE). Binary models with scores
  only. Subject ``model``.

**Intervals (95 %).** Accuracy, and for a binary model precision and recall, are proportions
of rows: Wilson's score interval. ROC AUC: DeLong's variance with a normal approximation,
clipped to [0, 1]; it costs one sort, so ten million labelled rows stay cheap. F1 and the
macro averages: a percentile bootstrap of :data:`BOOTSTRAP_SAMPLES` resamples with seed
:data:`SEED`. Those metrics depend on the rows only through the confusion matrix, so a
resample of the rows is drawn as a multinomial resample of the matrix's cells, which is the
same distribution at a cost that does not grow with the rows.

**Undefined values** are ``None`` with the reason in ``details["reason"]``: no label yet, one
class only among the labels (a window of one labelled row has no ROC AUC), a zero denominator.

**Estimates.** Each score is read as the probability that the row is positive. The expected
confusion matrix adds, over the window's rows, ``p`` to the true-positive cell of a positive
prediction and ``1 - p`` to its false-positive cell (and likewise for negative predictions);
accuracy, precision, recall and f1 follow from its cells. The expected ROC AUC ranks the rows
by score and counts each row as ``p`` positive and ``1 - p`` negative. This holds only while
the scores are calibrated: when the reference has labels, the scores are first mapped through
an isotonic regression of the reference labels on the reference scores. The reference is
usually the training data, on which a flexible model is over-confident; the calibration then
inherits that optimism. No estimate can see concept drift (the same scores meaning another
outcome): that shows only in ``performance.*`` once labels arrive.

**Memory.** The log is read file by file: only the scores and a positive-prediction flag of
every row are kept (9 bytes a row), and the request ids of one file at a time are joined with
the stored labels in Arrow, so no request id becomes a Python string. The scores are then
sorted in place, once; the Wasserstein distance and the expected ROC AUC walk the sorted array
in blocks, so no merged or reordered copy of ten million scores is made.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.stats import rankdata
from sklearn.isotonic import IsotonicRegression
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.checks.business import (
    Interval,
    ScoredRows,
    metric_interval,
    percentile_interval,
    point_value,
    replicate_values,
)
from mlgate.checks.drift import DEFAULT_BINS, histogram, psi
from mlgate.errors import ValidationError
from mlgate.lifecycle.deploy import load_scorer
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.labels import canonical_labels, class_texts, labels_table
from mlgate.monitoring.store import Observation
from mlgate.monitoring.windows import Window
from mlgate.registry.models import ModelVersion, MonitorMetric
from mlgate.scale._numeric_drift import merged_distances

if TYPE_CHECKING:
    from mlgate.monitoring.reference import Reference

logger = logging.getLogger(__name__)

PERFORMANCE_METRICS: tuple[str, ...] = ("roc_auc", "accuracy", "precision", "recall", "f1")
CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 1000
ESTIMATE_BLOCK = 1 << 20  # scores per block when summing estimates
SEED = 0
MODEL_SUBJECT = "model"
SCORE_SUBJECT = "score"
LOG_COLUMNS: tuple[str, ...] = ("request_id", "model_version", "prediction", "score")
CBPE = "expected confusion matrix from the scores read as probabilities (CBPE)"
ASSUMPTION = "valid while the scores stay calibrated; concept drift shows only with labels"


@dataclass(frozen=True)
class ModelClasses:
    """The classes the window's model versions predict, as logged text, and the positive one."""

    texts: list[str]
    positive: str

    @property
    def binary(self) -> bool:
        """Return whether the model has two classes, so that the score is meaningful."""
        return len(self.texts) == 2


@dataclass(frozen=True)
class WindowRows:
    """What a window's model metrics need from the log, kept small.

    ``scores`` holds every logged row's score (NaN without one) and ``positive`` whether its
    prediction was the positive class; ``labelled`` the rows whose label has arrived, with
    their score, prediction and label.
    """

    logged: int
    scores: np.ndarray
    positive: np.ndarray
    labelled: pa.Table


# -- the reference ---------------------------------------------------------------------------


def reference_scores(
    gov: Governance, version: ModelVersion, reference: Reference
) -> np.ndarray | None:
    """Return model ``version``'s positive-class scores on the reference rows, in their order.

    ``None`` when the model gives no score (no ``predict_proba``, or more than two classes), or
    when the reference lacks one of its inputs.
    """
    started = time.perf_counter()
    scorer = load_scorer(gov, version)
    if scorer.positive_column is None:
        logger.info("model v%d gives no positive-class score; no score drift", version.version)
        return None
    missing = [f for f in scorer.features if f not in reference.frame.columns]
    if missing:
        logger.warning(
            "reference %s lacks model v%d's input(s) %s; no reference scores",
            reference.dataset_name,
            version.version,
            ", ".join(missing),
        )
        return None

    frame = reference.frame[scorer.features]
    scores = scorer.score(frame, f"reference {reference.dataset_name}").score
    logger.info(
        "scored %d reference rows of %s with model v%d in %.1f s",
        len(frame),
        reference.dataset_name,
        version.version,
        time.perf_counter() - started,
    )
    return np.asarray(scores, dtype=np.float64)


# -- one window ------------------------------------------------------------------------------


def window_model_metrics(
    gov: Governance,
    session: Session,
    reference: Reference,
    ref_scores: np.ndarray | None,
    window: Window,
) -> list[Observation]:
    """Return the window's score drift, performance with labels and estimates without."""
    started = time.perf_counter()
    project_id = gov.project(session).id
    classes = window_classes(gov, session, project_id, window)
    rows = read_window(window, labels_table(session, project_id), classes.positive)

    calibrator = None
    if ref_scores is not None and classes.binary:
        calibrator = reference_calibrator(reference, ref_scores, classes)
    observations = [
        *performance(rows, classes, window),
        *score_observations(rows, ref_scores, calibrator, window),
    ]

    logger.info(
        "model metrics of window %s..%s: %d row(s), %d labelled, %d value(s) in %.1f s",
        window.start.isoformat(),
        window.end.isoformat(),
        rows.logged,
        rows.labelled.num_rows,
        len(observations),
        time.perf_counter() - started,
    )
    return observations


def catch_up_performance(
    gov: Governance,
    session: Session,
    reference: Reference,
    ref_scores: np.ndarray | None,
    monitored: Sequence[tuple[int, Window]],
) -> list[tuple[int, Observation]]:
    """Return new performance values of monitored windows whose labelled count has changed.

    ``monitored`` pairs each window with the run that monitored it; the values are returned
    with that run's id, to be recorded under it.
    """
    project_id = gov.project(session).id
    labels = labels_table(session, project_id)
    late: list[tuple[int, Observation]] = []
    for run_id, window in monitored:
        before = labelled_before(session, project_id, window)
        classes = window_classes(gov, session, project_id, window)
        rows = read_window(window, labels, classes.positive)
        if rows.labelled.num_rows == before:
            continue
        late.extend((run_id, obs) for obs in performance(rows, classes, window))
        logger.info(
            "window %s..%s: %d labelled prediction(s), %d before; performance recomputed",
            window.start.isoformat(),
            window.end.isoformat(),
            rows.labelled.num_rows,
            before,
        )
    return late


def labelled_before(session: Session, project_id: int, window: Window) -> int:
    """Return the labelled count the window's newest performance values rest on (0 if none)."""
    stmt = (
        select(MonitorMetric.details)
        .where(
            MonitorMetric.project_id == project_id,
            MonitorMetric.metric.like("performance.%"),
            MonitorMetric.window_start == window.start,
            MonitorMetric.window_end == window.end,
        )
        .order_by(MonitorMetric.id.desc())
        .limit(1)
    )
    details = session.execute(stmt).scalar_one_or_none()
    return int((details or {}).get("labelled", 0))


def window_classes(
    gov: Governance, session: Session, project_id: int, window: Window
) -> ModelClasses:
    """Return the classes of the model versions logged in ``window`` (else the newest one's)."""
    logged = _logged_versions(window)
    stmt = select(ModelVersion).where(ModelVersion.project_id == project_id)
    versions = list(session.execute(stmt.order_by(ModelVersion.version.desc())).scalars())
    chosen = [v for v in versions if v.version in logged] or versions[:1]
    if not chosen:
        raise ValidationError(
            f"project {gov.config.project} has no model version, so its predictions have no "
            "classes to judge them by"
        )
    classes: list[Any] = []
    for version in chosen:
        classes.extend(c for c in version.classes if str(c) not in class_texts(classes))
    return ModelClasses(class_texts(classes), _positive_text(gov, classes))


def _positive_text(gov: Governance, classes: list[Any]) -> str:
    """Return the positive class as logged text, chosen as the scorer chooses its column."""
    try:
        return str(canonical_labels(pd.Series([gov.config.data.positive_label]), classes)[0])
    except ValidationError:
        return class_texts(classes)[min(1, len(classes) - 1)]


def _logged_versions(window: Window) -> set[int]:
    versions: set[int] = set()
    for table in _pieces(window, ["model_version"]):
        column = table.column("model_version")
        if column.null_count < len(column):
            versions.update(int(v) for v in pc.unique(column.drop_null()).to_pylist())
    return versions


def read_window(window: Window, labels: pa.Table, positive: str) -> WindowRows:
    """Read the window's scores and predictions file by file, joining labels by request id."""
    files = window.files()
    capacity = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    scores = np.empty(capacity, dtype=np.float64)  # filled in place: no second copy to join
    flags = np.empty(capacity, dtype=bool)
    labelled: list[pa.Table] = []
    schema = pa.schema(
        [("score", pa.float64()), ("prediction", pa.string()), ("label", pa.string())]
    )
    filled = 0
    for table in _pieces(window, ["request_id", "prediction", "score"]):
        score = table.column("score").cast(pa.float64())
        prediction = table.column("prediction").cast(pa.string())
        end = filled + table.num_rows
        scores[filled:end] = pc.fill_null(score, math.nan).to_numpy()
        flags[filled:end] = pc.fill_null(pc.equal(prediction, positive), False).to_numpy()
        filled = end
        if labels.num_rows:
            keyed = pa.table(
                {
                    "request_id": table.column("request_id").cast(pa.string()),
                    "score": score,
                    "prediction": prediction,
                }
            )
            # the hash table is built on the right side: the file's rows, not every label
            joined = labels.join(keyed, "request_id", join_type="inner", use_threads=False)
            labelled.append(joined.select(["score", "prediction", "label"]).cast(schema))

    joined_rows = pa.concat_tables(labelled) if labelled else schema.empty_table()
    return WindowRows(filled, scores[:filled], flags[:filled], joined_rows)


def _pieces(window: Window, columns: list[str]) -> Iterator[pa.Table]:
    """Yield the window's rows of each log file, with ``columns`` (null where a file lacks one)."""
    start = pa.scalar(window.start, pa.timestamp("us", "UTC"))
    end = pa.scalar(window.end, pa.timestamp("us", "UTC"))
    for path in window.files():
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=["ts", *(c for c in columns if c in present)])
        ts = table.column("ts").cast(pa.timestamp("us", "UTC"))
        table = table.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end)))
        if not table.num_rows:
            continue
        for name in columns:
            if name not in present:
                table = table.append_column(name, pa.nulls(table.num_rows, pa.null()))
        yield table


# -- score drift -----------------------------------------------------------------------------


def score_observations(
    rows: WindowRows,
    ref_scores: np.ndarray | None,
    calibrator: Calibrator | None,
    window: Window,
) -> list[Observation]:
    """Return the score drift (with ``ref_scores``) and estimates (with ``calibrator``).

    Memory stays at the window's scores and flags: the expected confusion matrix is summed
    block by block in logged order, then the scores are sorted in place (``rows.scores`` is
    consumed) and both the drift statistics and the expected ROC AUC read the sorted array.
    """
    finite = np.isfinite(rows.scores)
    whole = bool(finite.all())
    scores = rows.scores if whole else rows.scores[finite]
    cells = None
    if calibrator is not None:
        cells = expected_cells(
            scores, rows.positive if whole else rows.positive[finite], calibrator
        )
    del finite
    scores.sort()

    found = score_drift(ref_scores, scores, window)
    if calibrator is not None and cells is not None:
        found.extend(estimates(scores, cells, calibrator, rows.logged, window))
    return found


def score_drift(
    ref_scores: np.ndarray | None, scores: np.ndarray, window: Window
) -> list[Observation]:
    """Return ``score.psi``, ``score.wasserstein_scaled`` and ``score.mean`` of the window.

    ``scores`` are the window's finite scores, sorted. The Wasserstein distance is walked in
    blocks (:func:`mlgate.scale._numeric_drift.merged_distances`, equal to the in-memory value
    up to rounding), so ten million scores cost no merged copy.
    """
    if ref_scores is None:
        return []
    ref = np.sort(ref_scores[np.isfinite(ref_scores)])
    if scores.size == 0 or ref.size == 0:
        side = "window" if scores.size == 0 else "reference"
        reason = f"the {side} has no score"
        return [
            _observation(f"score.{m}", SCORE_SUBJECT, None, 0, window, {"reason": reason})
            for m in ("psi", "wasserstein_scaled", "mean")
        ]

    ref_counts, cur_counts, edges = histogram(ref, scores, bins=DEFAULT_BINS)
    bins = {
        "edges": edges.tolist(),
        "reference": (ref_counts / ref_counts.sum()).tolist(),
        "current": (cur_counts / cur_counts.sum()).tolist(),
    }
    spread = float(np.std(ref))
    distance = merged_distances(ref, scores)[1]
    scaled = distance / spread if spread > 0 else None
    scaled_details: dict[str, Any] = {"wasserstein": distance, "reference_std": spread}
    if scaled is None:
        scaled_details["reason"] = "the reference scores are all equal"
    mean_details = {"reference_mean": float(ref.mean()), "std": float(scores.std())}
    n = scores.size
    return [
        _observation("score.psi", SCORE_SUBJECT, psi(ref_counts, cur_counts), n, window, bins),
        _observation("score.wasserstein_scaled", SCORE_SUBJECT, scaled, n, window, scaled_details),
        _observation("score.mean", SCORE_SUBJECT, float(scores.mean()), n, window, mean_details),
    ]


# -- performance with labels -----------------------------------------------------------------


def performance(rows: WindowRows, classes: ModelClasses, window: Window) -> list[Observation]:
    """Return ``performance.<metric>`` on the window's labelled rows, with 95 % intervals."""
    labelled = rows.labelled.filter(pc.is_valid(rows.labelled.column("prediction")))
    common = {"labelled": rows.labelled.num_rows, "logged": rows.logged}
    if labelled.num_rows == 0:
        reason = (
            f"no label has arrived yet for the {rows.logged} prediction(s) of the window"
            if rows.labelled.num_rows == 0
            else "the labelled predictions have no logged prediction"
        )
        return [
            _observation(
                f"performance.{m}", MODEL_SUBJECT, None, 0, window, {**common, "reason": reason}
            )
            for m in PERFORMANCE_METRICS
        ]

    scored = scored_rows(labelled, classes)
    observations = []
    for metric in PERFORMANCE_METRICS:
        used = scored
        if metric == "roc_auc" and classes.binary:
            used = scored_rows(labelled.filter(pc.is_finite(labelled.column("score"))), classes)
        value, reason = point_value(used, metric) if used.n_rows else (None, "no row has a score")
        details: dict[str, Any] = {**common, "confidence": CONFIDENCE}
        if value is None:
            details["reason"] = reason
        else:
            details.update(_interval(used, metric))
        observations.append(
            _observation(
                f"performance.{metric}", MODEL_SUBJECT, value, used.n_rows, window, details
            )
        )
    return observations


def scored_rows(labelled: pa.Table, classes: ModelClasses) -> ScoredRows:
    """Return the labelled rows as :class:`ScoredRows`, classes as positions in sorted text."""
    truth = labelled.column("label").to_numpy(zero_copy_only=False).astype(str)
    predicted = labelled.column("prediction").to_numpy(zero_copy_only=False).astype(str)
    names = sorted({*classes.texts, *np.unique(truth).tolist(), *np.unique(predicted).tolist()})
    position = {name: i for i, name in enumerate(names)}
    lookup = np.array(names)

    y = np.searchsorted(lookup, truth)
    guess = np.searchsorted(lookup, predicted)
    proba = None
    no_proba = (
        f"the prediction log keeps the positive-class score only; the ROC AUC of a model with "
        f"{len(classes.texts)} classes needs every class's probability"
    )
    score = labelled.column("score").to_numpy(zero_copy_only=False)
    if classes.binary and len(names) == 2 and np.isfinite(score).all():
        proba = np.zeros((len(score), 2))
        proba[:, position[classes.positive]] = score
        proba[:, 1 - position[classes.positive]] = 1 - score
        no_proba = None
    elif classes.binary:
        no_proba = "some labelled predictions have no score"
    return ScoredRows(
        labels=names,
        y=y,
        predicted=guess,
        proba=proba,
        model_columns=[position[t] for t in classes.texts],
        positive=position[classes.positive],
        binary=len(names) <= 2,
        unseen=not set(np.unique(truth).tolist()) <= set(classes.texts),
        no_proba=no_proba,
    )


def _interval(rows: ScoredRows, metric: str) -> dict[str, Any]:
    """Return the 95 % interval of ``metric`` and how it was obtained (see the module notes)."""
    if metric == "roc_auc":
        assert rows.proba is not None
        low, high = delong_interval(rows.proba[:, rows.positive], rows.y == rows.positive)
        return {"ci_low": low, "ci_high": high, "interval": "delong"}
    if metric == "accuracy" or (rows.binary and metric in ("precision", "recall")):
        found = metric_interval(rows, metric, CONFIDENCE, BOOTSTRAP_SAMPLES, SEED)
        return {"ci_low": found.low, "ci_high": found.high, "interval": found.method}
    found = confusion_bootstrap(rows, metric)
    return {
        "ci_low": found.low,
        "ci_high": found.high,
        "interval": "bootstrap",
        "resamples": BOOTSTRAP_SAMPLES,
        "seed": SEED,
    }


def delong_interval(
    score: np.ndarray, positive: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float | None, float | None]:
    """Return the ROC AUC's interval from DeLong's variance; ``None`` with under two per class.

    Ties count half, as in the AUC itself (midranks).
    """
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return None, None
    ranks = rankdata(score)
    placements_pos = (ranks[positive] - rankdata(score[positive])) / n
    placements_neg = 1 - (ranks[~positive] - rankdata(score[~positive])) / m
    auc = float(placements_pos.mean())
    variance = placements_pos.var(ddof=1) / m + placements_neg.var(ddof=1) / n
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def confusion_bootstrap(rows: ScoredRows, metric: str) -> Interval:
    """Return the percentile bootstrap interval of a metric of the confusion matrix.

    Resampling the rows with replacement and counting the cells is a multinomial draw over the
    cells with the observed shares, so the cells are drawn directly.
    """
    k = len(rows.labels)
    counts = np.bincount(rows.y * k + rows.predicted, minlength=k * k)
    cells = np.flatnonzero(counts)
    compact = ScoredRows(
        labels=rows.labels,
        y=cells // k,
        predicted=cells % k,
        proba=None,
        model_columns=rows.model_columns,
        positive=rows.positive,
        binary=rows.binary,
        unseen=rows.unseen,
        no_proba=rows.no_proba,
    )
    rng = np.random.default_rng(SEED)
    shares = counts[cells] / rows.n_rows
    weights = rng.multinomial(rows.n_rows, shares, size=BOOTSTRAP_SAMPLES).astype(np.float64)
    return percentile_interval(replicate_values(compact, metric, weights), CONFIDENCE)


# -- estimates without labels ----------------------------------------------------------------


@dataclass(frozen=True)
class Calibrator:
    """Maps scores to probabilities of the positive class; ``how`` says on what it rests."""

    model: IsotonicRegression | None
    how: str

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Return the probabilities of ``scores`` (the scores themselves, clipped, if none)."""
        if self.model is None:
            return np.clip(scores, 0.0, 1.0)
        return np.asarray(self.model.predict(scores), dtype=np.float64)


_CALIBRATORS: list[tuple[np.ndarray, Calibrator]] = []


def reference_calibrator(
    reference: Reference, ref_scores: np.ndarray, classes: ModelClasses
) -> Calibrator:
    """Return the isotonic calibration of the reference scores on the reference labels.

    Without usable labels (no target column, one class only) the scores are taken as they are.
    The last calibrator is kept, as every window of a run shares the reference.
    """
    for scores, calibrator in _CALIBRATORS:
        if scores is ref_scores:
            return calibrator

    calibrator = _fit_calibrator(reference, ref_scores, classes)
    _CALIBRATORS[:] = [(ref_scores, calibrator)]
    logger.info("estimates calibrated: %s", calibrator.how)
    return calibrator


def _fit_calibrator(
    reference: Reference, ref_scores: np.ndarray, classes: ModelClasses
) -> Calibrator:
    target = getattr(reference, "target", None)
    if not target or target not in reference.frame.columns:
        return Calibrator(None, "none: the reference has no labels; scores read as probabilities")
    truth = reference.frame[target]
    usable = truth.notna().to_numpy() & np.isfinite(ref_scores)
    try:
        labels = canonical_labels(truth[usable], classes.texts)
    except ValidationError:
        return Calibrator(None, "none: the reference labels are not the model's classes")
    positive = (labels == classes.positive).to_numpy()
    if positive.all() or not positive.any():
        return Calibrator(None, "none: the reference labels hold one class only")

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(ref_scores[usable], positive.astype(np.float64))
    return Calibrator(model, f"isotonic on {int(usable.sum())} labelled reference rows")


def expected_cells(
    scores: np.ndarray, positive: np.ndarray, calibrator: Calibrator
) -> dict[str, float]:
    """Return the expected confusion matrix of rows with ``scores`` and predicted ``positive``.

    Each row adds its probability ``p`` to the true positives (predicted positive) or false
    negatives (predicted negative), and ``1 - p`` to the false positives or true negatives.
    """
    tp = fp = fn = tn = 0.0
    for start in range(0, scores.size, ESTIMATE_BLOCK):
        p = calibrator(scores[start : start + ESTIMATE_BLOCK])
        flagged = positive[start : start + ESTIMATE_BLOCK]
        hit = float(np.sum(p, where=flagged))
        miss = float(np.sum(p, where=~flagged))
        chosen = int(flagged.sum())
        tp, fp = tp + hit, fp + chosen - hit
        fn, tn = fn + miss, tn + (flagged.size - chosen) - miss
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def estimates(
    scores: np.ndarray,
    cells: dict[str, float],
    calibrator: Calibrator,
    logged: int,
    window: Window,
) -> list[Observation]:
    """Return ``estimate.<metric>`` of the window (CBPE), marked estimated.

    ``scores`` are the window's finite scores, sorted; ``cells`` their expected confusion
    matrix (:func:`expected_cells`).
    """
    common = {"method": CBPE, "calibration": calibrator.how, "assumption": ASSUMPTION}
    if scores.size == 0:
        reason = f"none of the window's {logged} prediction(s) has a score"
        return [
            _observation(
                f"estimate.{m}", MODEL_SUBJECT, None, 0, window, {**common, "reason": reason}, True
            )
            for m in PERFORMANCE_METRICS
        ]

    values = {"roc_auc": expected_auc(scores, calibrator), **_cell_metrics(cells)}
    observations = []
    for metric in PERFORMANCE_METRICS:
        value = values[metric]
        details = {**common, "expected_confusion": cells}
        if value is None:
            details["reason"] = "its expected denominator is 0"
        observations.append(
            _observation(
                f"estimate.{metric}", MODEL_SUBJECT, value, scores.size, window, details, True
            )
        )
    return observations


def _cell_metrics(cells: dict[str, float]) -> dict[str, float | None]:
    tp, fp, fn, tn = cells["tp"], cells["fp"], cells["fn"], cells["tn"]

    def ratio(top: float, bottom: float) -> float | None:
        return top / bottom if bottom > 0 else None

    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
    }


def expected_auc(scores: np.ndarray, calibrator: Calibrator) -> float | None:
    """Return the ROC AUC expected when a row of score ``s`` is positive with ``p(s)``.

    ``scores`` are sorted. Each row counts ``p`` as a positive and ``1 - p`` as a negative;
    a positive outranks the negatives of lower score, and tied scores count half, as in the
    AUC itself. The sum runs block by block, blocks cut between distinct scores.
    """
    wins = below = total_pos = 0.0
    start = 0
    while start < scores.size:
        stop = min(start + ESTIMATE_BLOCK, scores.size)
        if stop < scores.size:  # keep a run of equal scores within one block
            stop = int(np.searchsorted(scores, scores[stop - 1], side="right"))
        block = scores[start:stop]
        p = calibrator(block)
        starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
        positive = np.add.reduceat(p, starts)
        negative = np.add.reduceat(1 - p, starts)
        wins += float(np.dot(positive, below + np.cumsum(negative) - 0.5 * negative))
        below += float(negative.sum())
        total_pos += float(positive.sum())
        start = stop
    if total_pos <= 0 or below <= 0:
        return None
    return wins / (total_pos * below)


# -- helpers ---------------------------------------------------------------------------------


def _observation(
    metric: str,
    subject: str,
    value: float | None,
    n: int,
    window: Window,
    details: dict[str, Any],
    estimated: bool = False,
) -> Observation:
    finite = value is not None and math.isfinite(value)
    return Observation(
        metric=metric,
        subject=subject,
        value=float(value) if finite else None,
        n=int(n),
        window_start=window.start,
        window_end=window.end,
        estimated=estimated,
        details=details,
    )
