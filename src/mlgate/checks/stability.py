"""Stability: how much the model's score moves across resamples and across time.

The check ``stability`` scores the fitted model once on the hold-out frame (``CheckInput.holdout``,
else ``data``) and reuses those outputs for every resample. The metric is the ROC AUC of the
``positive_label`` probability for a binary target and a model with ``predict_proba``, else
accuracy.

- **Bootstrap**: ``bootstrap_rounds`` resamples of the rows with replacement, drawn as one
  ``(rounds, rows)`` matrix of row numbers from ``numpy.random.default_rng(seed)``, which is how
  :func:`scipy.stats.bootstrap` draws paired resamples; the mean, standard deviation (ddof 1)
  and 2.5 and 97.5 percentiles (linear interpolation) of the metric are therefore those of
  ``scipy.stats.bootstrap(..., paired=True, method="percentile")`` with the same generator. An
  interval wider than ``max_bootstrap_width`` fails: the score is too uncertain to rely on,
  usually because the hold-out set is small. A resample that holds one class has no ROC AUC;
  it is left out and counted.
- **Time windows**, when ``CheckInput.time_column`` names a column of the frame (the service
  fills it from the data contract's timestamp column): the rows are ordered by time and cut into
  ``time_windows`` windows of equal count. Each window's metric is compared with a band around
  the bootstrap mean: ``band_width_sd`` standard deviations of the metric over bootstrap
  resamples *of the window's size* drawn from all rows. Resampling at the window's size, not at
  the full size, gives the spread a window would show by chance alone if nothing changed over
  time; the full-size spread is narrower and would flag healthy windows. The default of three
  standard deviations is a control chart's limit: with two, four healthy windows would raise a
  warning on about one run in five by chance alone. A window outside the band warns; one below
  the band by more than ``max_window_drop`` fails. A window with fewer than
  ``window_rows_needed`` rows is insufficient evidence and is listed with its count, never
  judged. (That key has no ``min_`` prefix on purpose: a project may raise a ``min_`` key to be
  stricter, but raising the rows a window needs would leave more windows unjudged.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    finite_or_none,
    labelled_rows,
    require_model,
    short_number,
    worst,
)
from mlgate.checks.model_quality import positive_class_scores
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "bootstrap_rounds": 200,
    "max_bootstrap_width": 0.15,
    "time_windows": 4,
    "band_width_sd": 3.0,
    "max_window_drop": 0.05,
    "window_rows_needed": 50,
}
PERCENTILES = (2.5, 97.5)
HIST_BINS = 20

Metrics = dict[str, float | int | str | None]


@dataclass(frozen=True)
class Outcomes:
    """What the metric needs per row: the truth and the score (or whether it was right)."""

    metric: str
    truth: np.ndarray
    values: np.ndarray
    note: str | None = None

    def on(self, rows: np.ndarray) -> float | None:
        """The metric on ``rows`` (row numbers, repeats allowed); ``None`` when undefined."""
        if rows.size == 0:
            return None
        if self.metric == "accuracy":
            return float(self.values[rows].mean())
        truth = self.truth[rows]
        if truth.all() or not truth.any():
            return None
        return float(roc_auc_score(truth, self.values[rows]))


@dataclass(frozen=True)
class Bootstrap:
    """The metric over bootstrap resamples; ``values`` holds only the defined ones."""

    values: np.ndarray
    rounds: int

    @property
    def undefined(self) -> int:
        """Resamples on which the metric was undefined (one class only)."""
        return self.rounds - len(self.values)

    @property
    def mean(self) -> float | None:
        """Mean of the defined values."""
        return finite_or_none(self.values.mean()) if len(self.values) else None

    @property
    def std(self) -> float | None:
        """Standard deviation (ddof 1) of the defined values; ``None`` with fewer than two."""
        return finite_or_none(self.values.std(ddof=1)) if len(self.values) > 1 else None

    @property
    def interval(self) -> tuple[float | None, float | None]:
        """The 2.5 and 97.5 percentiles, linearly interpolated."""
        if len(self.values) < 2:
            return None, None
        low, high = np.percentile(self.values, PERCENTILES)
        return finite_or_none(low), finite_or_none(high)


def check_stability(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Bootstrap the metric on the hold-out rows and compare time windows (module docstring)."""
    limits = _limits(thresholds)
    model = require_model(inp, "stability")
    frame = inp.holdout if inp.holdout is not None else inp.data
    if len(frame) < 2:
        raise ValidationError(f"stability needs at least 2 rows to resample; got {len(frame)}")
    x, y = labelled_rows(inp, frame)
    outcomes = model_outcomes(model, x, y, inp.positive_label)

    rng = np.random.default_rng(inp.seed)
    rounds = int(limits["bootstrap_rounds"])
    boot = bootstrap(outcomes, np.arange(len(y)), rounds, rng)
    findings = _bootstrap_findings(outcomes, boot, limits)
    windows, window_findings = _time_windows(inp, frame, outcomes, boot, limits, rng)
    findings += window_findings

    metrics = _metrics(outcomes, boot, windows, len(y))
    status = worst([f.severity for f in findings if f.severity != "info"])
    logger.info(
        "stability: %s on %d rows, %d bootstrap rounds (width %s), %d time windows "
        "(%d flagged): %s",
        outcomes.metric,
        len(y),
        rounds,
        short_number(metrics["bootstrap_width"]),
        len(windows),
        metrics["n_windows_flagged"],
        status,
    )
    figures = [_bootstrap_figure(outcomes, boot)]
    if windows:
        figures.append(_window_figure(outcomes, windows))
    return CheckResult(
        check="stability",
        status=status,
        summary=_summary(metrics),
        metrics=metrics,
        findings=findings,
        figures=figures,
        tables={"windows": windows},
    )


def model_outcomes(model: Any, x: pd.DataFrame, y: pd.Series, positive_label: Any) -> Outcomes:
    """Score the rows once: positive-class probabilities for the ROC AUC, else right or wrong.

    The ROC AUC is used for a binary task (two classes in ``y`` or in ``model.classes_``) when
    the model has ``predict_proba``; accuracy otherwise.
    """
    truth = y.to_numpy()
    classes = set(truth.tolist()) | set(getattr(model, "classes_", []))
    binary = len(classes) == 2
    try:
        if binary and hasattr(model, "predict_proba"):
            scores = positive_class_scores(model, x, positive_label, sorted(classes, key=str))
            return Outcomes("roc_auc", truth == positive_label, np.asarray(scores, dtype=float))
        predictions = np.asarray(model.predict(x))
    except ValidationError:
        raise
    except (ValueError, TypeError) as error:
        missing = [str(c) for c in x.columns if x[c].isna().any()]
        held = f"; column(s) {', '.join(missing)} hold missing values" if missing else ""
        raise ValidationError(
            f"the model could not score the {len(x)} rows: {error}{held}"
        ) from error

    note = "the model has no predict_proba; accuracy resampled" if binary else None
    return Outcomes("accuracy", truth, (predictions == truth).astype(float), note)


def bootstrap(
    outcomes: Outcomes, rows: np.ndarray, rounds: int, rng: np.random.Generator
) -> Bootstrap:
    """The metric on ``rounds`` resamples of ``rows`` with replacement, each of ``len(rows)``.

    All resamples are drawn at once, ``rng.integers(0, len(rows), (rounds, len(rows)))``, as
    :func:`scipy.stats.bootstrap` draws them.
    """
    draws = rng.integers(0, len(rows), (rounds, len(rows)))
    values = [outcomes.on(rows[draw]) for draw in draws]
    defined = np.asarray([v for v in values if v is not None], dtype=float)
    return Bootstrap(defined, rounds)


# --- inputs -----------------------------------------------------------------------------------


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    for key, low in (("bootstrap_rounds", 2), ("time_windows", 1), ("window_rows_needed", 1)):
        value = limits[key]
        if not float(value).is_integer() or value < low:
            raise ValidationError(f"{key} must be a whole number >= {low}; got {value}")
    for key in ("max_bootstrap_width", "max_window_drop"):
        if not 0 <= limits[key] <= 1:
            raise ValidationError(f"{key} must be in [0, 1]; got {limits[key]}")
    if limits["band_width_sd"] <= 0:
        raise ValidationError(f"band_width_sd must be above 0; got {limits['band_width_sd']}")
    return limits


# --- bootstrap verdict ------------------------------------------------------------------------


def _bootstrap_findings(
    outcomes: Outcomes, boot: Bootstrap, limits: Mapping[str, float]
) -> list[Finding]:
    metric = outcomes.metric
    findings = []
    if outcomes.note is not None:
        findings.append(Finding("info", outcomes.note))
    if boot.undefined:
        message = (
            f"{boot.undefined} of {boot.rounds} resamples held one class, where the ROC AUC is "
            "undefined; left out"
        )
        findings.append(Finding("info", message, "bootstrap", boot.undefined))

    low, high = boot.interval
    if low is None or high is None:
        message = (
            f"the {metric} is defined on {len(boot.values)} of {boot.rounds} resamples; "
            "no bootstrap interval (the rows hold one class)"
        )
        findings.append(Finding("warn", message, "bootstrap"))
        return findings
    width = high - low
    if width > limits["max_bootstrap_width"]:
        message = (
            f"the 95 % bootstrap interval of the {metric} is {low:.3f}-{high:.3f}, "
            f"{width:.3f} wide (> {limits['max_bootstrap_width']:g}): too uncertain to rely "
            "on; score on more rows"
        )
        findings.append(Finding("fail", message, "bootstrap_width", width))
    return findings


# --- time windows -----------------------------------------------------------------------------


def _time_windows(
    inp: CheckInput,
    frame: pd.DataFrame,
    outcomes: Outcomes,
    boot: Bootstrap,
    limits: Mapping[str, float],
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], list[Finding]]:
    column = inp.time_column
    if column is None:
        return [], []
    if column not in frame.columns:
        return [], [Finding("info", f"time column '{column}' is not in the data; no windows")]
    times, findings = _times(frame[column], column)
    if times is None:
        return [], findings

    order = np.flatnonzero(times.notna().to_numpy())
    order = order[np.argsort(times.to_numpy()[order], kind="stable")]
    chunks = np.array_split(order, int(limits["time_windows"]))
    spreads: dict[int, float | None] = {}
    rows = []
    for number, chunk in enumerate(chunks, start=1):
        size = len(chunk)
        if size >= limits["window_rows_needed"] and size not in spreads:
            spreads[size] = _window_spread(outcomes, len(times), size, boot.rounds, rng)
        rows.append(_window(number, chunk, times, outcomes, boot, spreads.get(size), limits))
    findings += _window_findings(rows, outcomes.metric, limits)
    return rows, findings


def _times(values: pd.Series, column: str) -> tuple[pd.Series | None, list[Finding]]:
    """The column as orderable times: dates as they are, numbers as they are, text parsed."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
        times = values
    else:
        times = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        if times.notna().sum() < values.notna().sum() / 2:
            message = f"time column '{column}' does not hold times; no windows"
            return None, [Finding("warn", message, column)]
    findings = []
    n_missing = int(times.isna().sum())
    if n_missing:
        message = f"{n_missing} row(s) have no time in '{column}'; left out of the windows"
        findings.append(Finding("info", message, column, n_missing))
    return times.reset_index(drop=True), findings


def _window_spread(
    outcomes: Outcomes, n_rows: int, size: int, rounds: int, rng: np.random.Generator
) -> float | None:
    """Standard deviation of the metric over resamples of ``size`` rows drawn from all rows."""
    draws = rng.integers(0, n_rows, (rounds, size))
    values = [outcomes.on(draw) for draw in draws]
    defined = np.asarray([v for v in values if v is not None], dtype=float)
    return finite_or_none(defined.std(ddof=1)) if len(defined) > 1 else None


def _window(
    number: int,
    chunk: np.ndarray,
    times: pd.Series,
    outcomes: Outcomes,
    boot: Bootstrap,
    spread: float | None,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    present = times.iloc[chunk]
    row: dict[str, Any] = {
        "window": number,
        "start": str(present.min()) if len(chunk) else None,
        "end": str(present.max()) if len(chunk) else None,
        "rows": len(chunk),
        "value": None,
        "band_low": None,
        "band_high": None,
        "verdict": "insufficient evidence",
    }
    if len(chunk) < limits["window_rows_needed"]:
        return row

    row["value"] = outcomes.on(chunk)
    centre = boot.mean
    if centre is not None and spread is not None:
        row["band_low"] = centre - limits["band_width_sd"] * spread
        row["band_high"] = centre + limits["band_width_sd"] * spread
    row["verdict"] = _window_verdict(row, limits)
    return row


def _window_verdict(row: Mapping[str, Any], limits: Mapping[str, float]) -> str:
    value, low, high = row["value"], row["band_low"], row["band_high"]
    if value is None:
        return "undefined"
    if low is None or high is None:
        return "no band"
    if value < low - limits["max_window_drop"]:
        return "fail"
    if value < low or value > high:
        return "warn"
    return "ok"


def _window_findings(
    rows: list[dict[str, Any]], metric: str, limits: Mapping[str, float]
) -> list[Finding]:
    findings = []
    needed = int(limits["window_rows_needed"])
    for row in rows:
        label = f"window {row['window']} ({row['start']} to {row['end']})"
        verdict = row["verdict"]
        if verdict == "insufficient evidence":
            message = f"{label}: {row['rows']} rows, {needed} needed; insufficient evidence"
            findings.append(Finding("info", message, f"window {row['window']}", row["rows"]))
        elif verdict == "undefined":
            message = f"{label}: the {metric} is undefined (the window holds one class)"
            findings.append(Finding("info", message, f"window {row['window']}"))
        elif verdict == "no band":
            message = f"{label}: no bootstrap band could be drawn; the window is not judged"
            findings.append(Finding("info", message, f"window {row['window']}"))
        elif verdict in ("warn", "fail"):
            findings.append(_outside_band(row, label, metric, limits))
    return findings


def _outside_band(
    row: Mapping[str, Any], label: str, metric: str, limits: Mapping[str, float]
) -> Finding:
    value, low, high = row["value"], row["band_low"], row["band_high"]
    side = "below" if value < low else "above"
    message = (
        f"{label}: {metric} {value:.3f} is {side} the band {low:.3f}-{high:.3f} "
        f"({limits['band_width_sd']:g} bootstrap standard deviations around the mean)"
    )
    if row["verdict"] == "fail":
        message += f", more than {limits['max_window_drop']:g} below it"
    return Finding(row["verdict"], message, f"window {row['window']}", value)


# --- assembling the result --------------------------------------------------------------------


def _metrics(
    outcomes: Outcomes, boot: Bootstrap, windows: list[dict[str, Any]], n: int
) -> Metrics:
    low, high = boot.interval
    judged = [w["value"] for w in windows if w["value"] is not None]
    return {
        "metric": outcomes.metric,
        "n_rows": n,
        "value": outcomes.on(np.arange(n)),
        "bootstrap_rounds": boot.rounds,
        "bootstrap_undefined": boot.undefined,
        "bootstrap_mean": boot.mean,
        "bootstrap_std": boot.std,
        "bootstrap_p2_5": low,
        "bootstrap_p97_5": high,
        "bootstrap_width": (
            finite_or_none(high - low) if low is not None and high is not None else None
        ),
        "n_windows": len(windows),
        "n_windows_flagged": sum(w["verdict"] in ("warn", "fail") for w in windows),
        "n_windows_insufficient": sum(w["verdict"] == "insufficient evidence" for w in windows),
        "lowest_window_value": min(judged) if judged else None,
    }


def _summary(metrics: Metrics) -> str:
    text = (
        f"{metrics['metric']} {short_number(metrics['value'])}, bootstrap 95 % interval "
        f"{short_number(metrics['bootstrap_p2_5'])}-"
        f"{short_number(metrics['bootstrap_p97_5'])} over "
        f"{metrics['bootstrap_rounds']} resamples"
    )
    if metrics["n_windows"]:
        text += f"; {metrics['n_windows_flagged']} of {metrics['n_windows']} time windows flagged"
    return text


def _bootstrap_figure(outcomes: Outcomes, boot: Bootstrap) -> Figure:
    if len(boot.values):
        counts, edges = np.histogram(boot.values, bins=HIST_BINS)
    else:
        counts, edges = np.array([]), np.array([])
    return Figure(
        name="bootstrap",
        title=f"{outcomes.metric} over {boot.rounds} bootstrap resamples",
        kind="hist",
        x_label=outcomes.metric,
        y_label="resamples",
        series=[Series("resamples", [float(e) for e in edges], [float(c) for c in counts])],
    )


def _window_figure(outcomes: Outcomes, windows: list[dict[str, Any]]) -> Figure:
    x = [w["window"] for w in windows]
    return Figure(
        name="time_windows",
        title=f"{outcomes.metric} per time window, with the bootstrap band",
        kind="line",
        x_label="time window (oldest first)",
        y_label=outcomes.metric,
        series=[
            Series(outcomes.metric, x, [finite_or_none(w["value"]) for w in windows]),
            Series("band low", x, [finite_or_none(w["band_low"]) for w in windows]),
            Series("band high", x, [finite_or_none(w["band_high"]) for w in windows]),
        ],
    )


SPEC = CheckSpec(
    name="stability",
    title="Stability across resamples and time",
    function=check_stability,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "The model's ROC AUC (binary, with predict_proba) or accuracy over bootstrap_rounds "
        "seeded bootstrap resamples of the hold-out set: mean, standard deviation and the 2.5-"
        "97.5 percentile interval, failing when it is wider than max_bootstrap_width. With a "
        "timestamp column in the data contract, the rows are cut into time_windows equal-count "
        "windows in time order; a window outside the band of band_width_sd bootstrap standard "
        "deviations (at the window's size) warns, one more than max_window_drop below it fails, "
        "and a window under window_rows_needed rows is insufficient evidence."
    ),
)
