"""Slices: subgroups of the hold-out set where the model is markedly less accurate.

The check ``slices`` scores the fitted model once on the hold-out frame (``CheckInput.holdout``,
else ``data``) and searches subgroups ("slices") for a lower score:

- every level of each categorical feature (a numeric feature with four distinct values or fewer
  counts as levels), the quartile bins of each numeric feature, and the rows where a feature is
  missing. Declared sensitive attributes present in the frame are sliced too, even when the
  model does not use them, since a subgroup the model cannot see can still be served worse;
- pairs of two such slices of different features, at most ``pair_budget`` of them. The pairs
  are taken in a fixed order: the one-feature slices with at least ``slice_rows_needed`` rows
  are ranked from the lowest accuracy up (ties by description), and pairs are visited by the
  sum of their two ranks, so the search spends its budget where single features already look
  weakest and gives the same pairs on every run. A pair equal to one of its parts is skipped,
  and a pair inside a degraded part is flagged only when it is a further
  ``degradation_to_flag`` below that part.

Per slice it reports the accuracy and, where the slice has rows of ``positive_label``, the
recall of that class, each with its Wilson score interval (as
:meth:`scipy.stats.binomtest(...).proportion_ci(method="wilson")` gives it). The search tests
many slices at once, so the interval's level is Bonferroni-corrected: with ``m`` slice metrics
searched, each interval is taken at ``1 - (1 - confidence_level) / m``, and the chance that any
healthy slice is flagged stays below ``1 - confidence_level`` (at 95 % per slice, one healthy
slice in twenty would otherwise look degraded). The metrics report ``m`` and the level used.
A slice's metric is **degraded** when all three hold: it is at least ``degradation_to_flag``
below the overall metric; the upper end of its interval is below the overall metric (the drop
is not chance); and the metric's denominator (the slice's rows for accuracy, its positive rows
for recall) is at least ``slice_rows_needed``. A smaller slice with such a drop is listed as too
small to judge, with its count and the count needed, and never flagged. A degraded slice more
than ``max_degradation_fail`` below overall fails the check; any other degraded slice warns.

``slice_rows_needed``, ``degradation_to_flag`` and ``pair_budget`` carry no ``min_``/``max_``
prefix on purpose: a project may tighten a ``min_`` key upwards and a ``max_`` key downwards,
but raising the rows needed, the drop that counts or lowering the pairs searched would hide
slices, so these are settings that only the policy changes.

Slices are described only by category levels and bin edges. A column that looks like an
identifier (and has more than ten levels), or has more than 50 levels, is not sliced: its
slices would be single people. Slices too small to judge are listed largest first, since those
are the ones a little more data would settle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
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
    column_kind,
    finite_or_none,
    labelled_rows,
    require_model,
    short_number,
    worst,
)
from mlgate.checks.eda import looks_like_identifier
from mlgate.checks.representation import wilson_interval
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "slice_rows_needed": 30,
    "degradation_to_flag": 0.10,
    "max_degradation_fail": 0.20,
    "pair_budget": 200,
    "confidence_level": 0.95,
}
QUARTILES = np.linspace(0.0, 1.0, 5)
LEVEL_DISTINCT = 4  # a numeric column with this many values or fewer is sliced by value
MAX_LEVELS = 50
IDENTIFIER_LEVELS = 10  # an identifier-like name with this many levels or fewer is a category
TOP_ROWS = 20
TOP_FINDINGS = 10
TOP_SMALL_FINDINGS = 5
FLAGGABLE = ("warn", "fail", "too small")

Metrics = dict[str, float | int | str | None]


@dataclass(frozen=True)
class Slice:
    """A subgroup of rows: how it reads, the features it uses, and which rows it holds."""

    description: str
    features: tuple[str, ...]
    mask: np.ndarray
    parts: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Number of rows in the slice."""
        return int(self.mask.sum())


@dataclass(frozen=True)
class Scored:
    """The model's outcome per row: whether it was right, and the positive-class facts."""

    correct: np.ndarray
    positive: np.ndarray
    predicted_positive: np.ndarray

    def accuracy(self, mask: np.ndarray) -> tuple[int, int]:
        """Correct predictions and rows in ``mask``."""
        return int(self.correct[mask].sum()), int(mask.sum())

    def recall(self, mask: np.ndarray) -> tuple[int, int]:
        """Positive rows predicted positive, and positive rows, in ``mask``."""
        positives = mask & self.positive
        return int((positives & self.predicted_positive).sum()), int(positives.sum())


def check_slices(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Search one- and two-feature slices for a markedly lower score (module docstring)."""
    limits = _limits(thresholds)
    model = require_model(inp, "slices")
    frame = inp.holdout if inp.holdout is not None else inp.data
    x, y = labelled_rows(inp, frame)
    scored = _score(model, x, y, inp.positive_label)

    columns = _sliced_columns(inp, frame, list(x.columns))
    singles, skipped = one_feature_slices(frame, columns)
    findings = [Finding("info", reason, column) for column, reason in skipped]

    overall = _overall(scored)
    rows = [row for s in singles for row in _judge(s, scored, overall, limits, {})]
    pairs = list(
        pair_slices(singles, rows, int(limits["pair_budget"]), limits["slice_rows_needed"])
    )
    family = len(rows) + sum(len(_judge(s, scored, overall, limits, {})) for s in pairs)
    limits = {**limits, "confidence_level": family_confidence(limits["confidence_level"], family)}
    rows = [row for s in singles for row in _judge(s, scored, overall, limits, {})]
    by_part = {(r["slice"], r["metric"]): r for r in rows}
    rows += [row for s in pairs for row in _judge(s, scored, overall, limits, by_part)]

    findings += _degraded_findings(rows, limits)
    findings += _small_findings(rows, limits)
    metrics = _metrics(rows, overall, len(y), len(singles), len(pairs))
    metrics["tests_in_family"] = family
    metrics["interval_confidence_level"] = limits["confidence_level"]
    status = worst([f.severity for f in findings if f.severity != "info"])
    logger.info(
        "slices: %d rows, %d one-feature slices and %d pairs searched, %d degraded: %s",
        len(y),
        len(singles),
        len(pairs),
        metrics["n_degraded"],
        status,
    )
    return CheckResult(
        check="slices",
        status=status,
        summary=_summary(metrics),
        metrics=metrics,
        findings=findings,
        figures=[_figure(rows, overall)],
        tables={"worst_slices": _worst_table(rows), "too_small": _small_table(rows, limits)},
    )


# --- inputs -----------------------------------------------------------------------------------


def family_confidence(confidence_level: float, family: int) -> float:
    """Return the per-slice confidence that keeps the whole search at ``confidence_level``.

    Bonferroni: with ``family`` slice metrics each judged at ``1 - alpha / family``, the chance
    that any healthy slice looks degraded by chance stays below ``alpha``.
    """
    return 1.0 - (1.0 - confidence_level) / max(family, 1)


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    for key, low in (("slice_rows_needed", 1), ("pair_budget", 0)):
        value = limits[key]
        if not float(value).is_integer() or value < low:
            raise ValidationError(f"{key} must be a whole number >= {low}; got {value}")
    for key in ("degradation_to_flag", "max_degradation_fail"):
        if not 0 <= limits[key] <= 1:
            raise ValidationError(f"{key} must be in [0, 1]; got {limits[key]}")
    if not 0 < limits["confidence_level"] < 1:
        raise ValidationError(
            f"confidence_level must be in (0, 1); got {limits['confidence_level']}"
        )
    return limits


def _score(model: Any, x: pd.DataFrame, y: pd.Series, positive_label: Any) -> Scored:
    try:
        predictions = np.asarray(model.predict(x))
    except (ValueError, TypeError) as error:
        missing = [str(c) for c in x.columns if x[c].isna().any()]
        held = f"; column(s) {', '.join(missing)} hold missing values" if missing else ""
        raise ValidationError(
            f"the model could not predict the {len(x)} rows: {error}{held}"
        ) from error
    truth = y.to_numpy()
    return Scored(
        correct=predictions == truth,
        positive=truth == positive_label,
        predicted_positive=predictions == positive_label,
    )


def _sliced_columns(inp: CheckInput, frame: pd.DataFrame, features: list[str]) -> list[str]:
    extra = [
        str(s)
        for s in inp.sensitive
        if s in frame.columns and s not in features and s != inp.target
    ]
    return [*features, *extra]


# --- the search -------------------------------------------------------------------------------


def one_feature_slices(
    frame: pd.DataFrame, columns: Sequence[str]
) -> tuple[list[Slice], list[tuple[str, str]]]:
    """Every one-feature slice of ``columns``, and the columns skipped with the reason why.

    A slice holding no row, or every row, is left out: it compares nothing.
    """
    slices: list[Slice] = []
    skipped: list[tuple[str, str]] = []
    for column in columns:
        series = frame[column]
        reason = _skip_reason(column, series)
        if reason is not None:
            skipped.append((column, reason))
            continue
        if column_kind(series) == "numeric" and series.nunique() > LEVEL_DISTINCT:
            found = _bin_slices(column, series)
        else:
            found = _level_slices(column, series)
        if series.isna().any():
            found.append(Slice(f"{column} is missing", (column,), series.isna().to_numpy()))
        slices += [s for s in found if 0 < s.size < len(frame)]
    return slices, skipped


def _skip_reason(column: str, series: pd.Series) -> str | None:
    kind = column_kind(series)
    if kind == "temporal":
        return f"'{column}' holds dates or durations; not sliced"
    if looks_like_identifier(column) and series.nunique() > IDENTIFIER_LEVELS:
        return f"'{column}' looks like an identifier; not sliced"
    if kind == "categorical" and series.nunique() > MAX_LEVELS:
        return f"'{column}' has {series.nunique()} levels (> {MAX_LEVELS}); not sliced"
    return None


def _level_slices(column: str, series: pd.Series) -> list[Slice]:
    present = series.dropna()
    numeric = column_kind(series) == "numeric"
    levels = sorted(present.unique(), key=lambda v: (float(v), "") if numeric else (0.0, str(v)))
    slices = []
    for level in levels:
        text = f"{float(level):.4g}" if numeric else str(level)
        mask = (series == level).fillna(False).to_numpy(dtype=bool)
        slices.append(Slice(f"{column} = {text}", (column,), mask))
    return slices


def _bin_slices(column: str, series: pd.Series) -> list[Slice]:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    edges = np.unique(np.quantile(finite, QUARTILES)) if finite.size else np.array([])
    slices = []
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        if i == 0:
            mask = (values >= low) & (values <= high)
            text = f"{column} in [{low:.4g}, {high:.4g}]"
        else:
            mask = (values > low) & (values <= high)
            text = f"{column} in ({low:.4g}, {high:.4g}]"
        slices.append(Slice(text, (column,), mask))
    return slices


def pair_slices(
    singles: Sequence[Slice],
    rows: Sequence[Mapping[str, Any]],
    pair_budget: int,
    slice_rows_needed: float,
) -> Iterator[Slice]:
    """Up to ``pair_budget`` intersections of two one-feature slices, in a fixed order.

    Only one-feature slices with at least ``slice_rows_needed`` rows take part; they are ranked
    by their accuracy (lowest first, ties by description) and pairs are visited by the sum of
    the two ranks. Pairs of the same feature, empty pairs and pairs equal to one of their parts are
    skipped and do not count against ``pair_budget``.
    """
    accuracy = {r["slice"]: r["value"] for r in rows if r["metric"] == "accuracy"}
    ranked = sorted(
        (s for s in singles if s.size >= slice_rows_needed),
        key=lambda s: (accuracy[s.description], s.description),
    )
    found = 0
    for i, j in _by_rank_sum(len(ranked)):
        if found >= pair_budget:
            return
        left, right = ranked[i], ranked[j]
        if left.features == right.features:
            continue
        mask = left.mask & right.mask
        size = int(mask.sum())
        if size == 0 or size in (left.size, right.size):
            continue
        found += 1
        yield Slice(
            f"{left.description} & {right.description}",
            left.features + right.features,
            mask,
            (left.description, right.description),
        )


def _by_rank_sum(n: int) -> Iterator[tuple[int, int]]:
    """Index pairs ``i < j < n`` ordered by ``i + j``, then by ``i``."""
    for total in range(1, 2 * n - 2):
        for i in range(max(0, total - n + 1), (total + 1) // 2):
            yield i, total - i


# --- judging a slice --------------------------------------------------------------------------


def _overall(scored: Scored) -> dict[str, float | None]:
    everything = np.ones(len(scored.correct), dtype=bool)
    overall: dict[str, float | None] = {}
    for name, counts in (("accuracy", scored.accuracy), ("recall", scored.recall)):
        hits, n = counts(everything)
        overall[name] = hits / n if n else None
    return overall


def _judge(
    piece: Slice,
    scored: Scored,
    overall: Mapping[str, float | None],
    limits: Mapping[str, float],
    by_part: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One row per metric defined on the slice, with its interval and verdict.

    A pair whose part is itself degraded, and that is not at least ``degradation_to_flag``
    below that part, adds nothing the part does not already say: its verdict is ``within
    degraded part``, and it is neither flagged again nor listed as too small.
    """
    rows = []
    for name, counts in (("accuracy", scored.accuracy), ("recall", scored.recall)):
        hits, n = counts(piece.mask)
        reference = overall[name]
        if n == 0 or reference is None:
            continue
        value = hits / n
        interval = wilson_interval(hits, n, limits["confidence_level"])
        assert interval is not None  # n > 0
        drop = reference - value
        verdict = _verdict(drop, n, interval[1], reference, limits)
        if verdict in FLAGGABLE and _explained(piece, name, value, by_part, limits):
            verdict = "within degraded part"
        rows.append(
            {
                "slice": piece.description,
                "features": len(piece.features),
                "metric": name,
                "size": n,
                "value": value,
                "ci_low": interval[0],
                "ci_high": interval[1],
                "overall": reference,
                "drop": drop,
                "verdict": verdict,
            }
        )
    return rows


def _verdict(
    drop: float, n: int, ci_high: float, reference: float, limits: Mapping[str, float]
) -> str:
    if drop < limits["degradation_to_flag"]:
        return "ok"
    if n < limits["slice_rows_needed"]:
        return "too small"
    if ci_high >= reference:
        return "within chance"
    return "fail" if drop > limits["max_degradation_fail"] else "warn"


def _explained(
    piece: Slice,
    metric: str,
    value: float,
    by_part: Mapping[tuple[str, str], Mapping[str, Any]],
    limits: Mapping[str, float],
) -> bool:
    for part in piece.parts:
        row = by_part.get((part, metric))
        degraded = row is not None and row["verdict"] in ("warn", "fail")
        if degraded and value > row["value"] - limits["degradation_to_flag"]:
            return True
    return False


def _degraded_findings(
    rows: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
) -> list[Finding]:
    degraded = _by_drop([r for r in rows if r["verdict"] in ("warn", "fail")])
    findings = []
    for row in degraded[:TOP_FINDINGS]:
        message = (
            f"slice '{row['slice']}' ({row['size']} rows): {row['metric']} {row['value']:.3f} "
            f"vs {row['overall']:.3f} overall (interval {row['ci_low']:.3f}-"
            f"{row['ci_high']:.3f})"
        )
        if row["verdict"] == "fail":
            message += f", more than {limits['max_degradation_fail']:g} below"
        findings.append(Finding(row["verdict"], message, row["slice"], row["value"]))

    rest = degraded[TOP_FINDINGS:]
    if rest:
        severity = worst([r["verdict"] for r in rest])
        message = f"{len(rest)} more degraded slice(s); see the table worst_slices"
        findings.append(Finding(severity, message, None, len(rest)))
    return findings


def _small_findings(
    rows: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
) -> list[Finding]:
    small = _by_size([r for r in rows if r["verdict"] == "too small"])
    needed = int(limits["slice_rows_needed"])
    findings = []
    for row in small[:TOP_SMALL_FINDINGS]:
        message = (
            f"slice '{row['slice']}': {row['metric']} {row['value']:.3f} on {row['size']} rows, "
            f"too small to judge ({needed} needed)"
        )
        findings.append(Finding("info", message, row["slice"], row["size"]))
    if len(small) > TOP_SMALL_FINDINGS:
        message = f"{len(small) - TOP_SMALL_FINDINGS} more slice(s) too small to judge"
        findings.append(Finding("info", message, None, len(small) - TOP_SMALL_FINDINGS))
    return findings


# --- assembling the result --------------------------------------------------------------------


def _shown(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows judged on their own: neither too small nor inside a degraded part."""
    return [r for r in rows if r["verdict"] not in ("too small", "within degraded part")]


def _by_drop(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda r: (-r["drop"], r["metric"], r["features"], r["slice"]))


def _by_size(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Largest first: the slices closest to the size that could be judged come first."""
    return sorted(rows, key=lambda r: (-r["size"], -r["drop"], r["metric"], r["slice"]))


def _metrics(
    rows: Sequence[Mapping[str, Any]],
    overall: Mapping[str, float | None],
    n_rows: int,
    n_singles: int,
    n_pairs: int,
) -> Metrics:
    judged = _by_drop(_shown(rows))
    accuracy = [r for r in judged if r["metric"] == "accuracy"]
    worst_row = accuracy[0] if accuracy else None
    return {
        "n_rows": n_rows,
        "overall_accuracy": finite_or_none(overall["accuracy"]),
        "overall_recall": finite_or_none(overall["recall"]),
        "n_slices": n_singles,
        "n_pairs": n_pairs,
        "n_degraded": sum(r["verdict"] in ("warn", "fail") for r in rows),
        "n_degraded_fail": sum(r["verdict"] == "fail" for r in rows),
        "n_too_small": sum(r["verdict"] == "too small" for r in rows),
        "worst_slice": worst_row["slice"] if worst_row else None,
        "worst_slice_accuracy": finite_or_none(worst_row["value"]) if worst_row else None,
        "worst_accuracy_drop": finite_or_none(worst_row["drop"]) if worst_row else None,
    }


def _summary(metrics: Metrics) -> str:
    text = (
        f"{metrics['n_degraded']} degraded slice metric(s) among {metrics['n_slices']} "
        f"one-feature slices and {metrics['n_pairs']} pairs; overall accuracy "
        f"{short_number(metrics['overall_accuracy'])}"
    )
    if metrics["worst_slice"] is not None:
        worst = short_number(metrics["worst_slice_accuracy"])
        text += f", lowest '{metrics['worst_slice']}' {worst}"
    return text


def _worst_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    shown = _shown(rows)
    flagged = _by_drop([r for r in shown if r["verdict"] in ("warn", "fail")])
    others = _by_drop([r for r in shown if r["verdict"] not in ("warn", "fail")])
    return [_table_row(r) for r in [*flagged, *others][:TOP_ROWS]]


def _small_table(
    rows: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
) -> list[dict[str, Any]]:
    small = _by_size([r for r in rows if r["verdict"] == "too small"])
    needed = int(limits["slice_rows_needed"])
    return [{**_table_row(r), "needed": needed} for r in small[:TOP_ROWS]]


def _table_row(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("slice", "metric", "size", "value", "ci_low", "ci_high", "overall", "drop", "verdict")
    return {k: finite_or_none(row[k]) if isinstance(row[k], float) else row[k] for k in keys}


def _figure(rows: Sequence[Mapping[str, Any]], overall: Mapping[str, float | None]) -> Figure:
    top = _by_drop([r for r in _shown(rows) if r["metric"] == "accuracy"])[:TOP_ROWS]
    values = [finite_or_none(r["value"]) for r in top]
    return Figure(
        name="slice_accuracy",
        title="Accuracy of the lowest-scoring slices; the line is the overall accuracy",
        kind="bar",
        x_label="slice",
        y_label="accuracy",
        series=[Series("accuracy", [r["slice"] for r in top], values)],
        threshold=finite_or_none(overall["accuracy"]),
    )


SPEC = CheckSpec(
    name="slices",
    title="Subgroups with markedly lower accuracy",
    function=check_slices,
    needs_model=True,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Scores the model on the hold-out set and searches slices: each level of a categorical "
        "feature, the quartile bins of a numeric one, missing values, and up to pair_budget "
        "pairs of them. A slice whose accuracy (or positive-class recall) is at least "
        "degradation_to_flag below overall, whose Wilson interval at confidence_level lies "
        "below overall, and that has at least slice_rows_needed rows is degraded: a failure "
        "when more than max_degradation_fail below, else a warning. Smaller slices are listed "
        "as too small to judge."
    ),
)
