"""Per-feature drift of one window of served inputs against the model's reference data.

Each logged input feature of a window is compared with the same feature in the reference by
the ``drift`` check's own statistics (:mod:`mlgate.checks.drift`) and judged by its verdict,
with the thresholds the project's policy sets for that check: PSI or the scaled Wasserstein
distance for a numeric feature, the Jensen-Shannon distance for a categorical one, and the
change of the missing share for both. Being effect sizes, these do not flag a negligible shift
just because a busy day logged a million rows.

One :class:`~mlgate.monitoring.store.Observation` per metric and feature:

- numeric features: ``drift.drifted``, ``drift.psi``, ``drift.ks_statistic``,
  ``drift.wasserstein_scaled``, ``drift.js_distance``, ``drift.missing_share_change``;
- categorical features: ``drift.drifted``, ``drift.psi``, ``drift.js_distance``,
  ``drift.chi2_pvalue``, ``drift.missing_share_change``, ``drift.unseen_share``.

``n`` is the number of non-missing values the statistic rests on, except for the missing-share
change, which rests on every row of the window (an all-missing window has no non-missing value
but is the plainest breach there is); ``drift.drifted`` takes the window's rows when the missing
share decided it. A value is ``None`` when undefined (a window with no row, a side with no
value, a constant reference for the scaled distance), with ``details["reason"]`` saying why.
``drift.drifted``, ``drift.psi`` and ``drift.js_distance`` carry ``details["chart"]``: the bin
or category labels and the reference and current shares, what a chart of the feature needs.

Memory: a window is read one feature column at a time, and the reference's sorted values, bin
edges and category counts are computed once per feature and kept on the
:class:`~mlgate.monitoring.reference.Reference` for every later window. A numeric feature that
arrives as text (a client sent strings) is parsed; values that are not numbers count as
missing, and ``details["unparsable"]`` says how many there were.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlgate.checks import drift as dr
from mlgate.monitoring.reference import Reference
from mlgate.monitoring.store import Observation
from mlgate.monitoring.windows import Window

logger = logging.getLogger(__name__)

CHART_CATEGORIES = 30  # categories drawn one by one; the rest are summed as OTHER
LABEL_CHARS = 60  # longer category labels are cut in chart details
UNSEEN_EXAMPLES = 10  # unseen categories named in the details, most frequent first
OTHER = "(other)"


@dataclass(frozen=True)
class _NumericProfile:
    """A numeric reference feature as every window's comparison needs it."""

    values: np.ndarray  # finite values, sorted
    edges: np.ndarray
    scale: float
    missing_share: float


@dataclass(frozen=True)
class _CategoryProfile:
    """A categorical reference feature: its counts per label, most frequent first."""

    counts: dict[str, float]
    missing_share: float


def window_drift(reference: Reference, window: Window) -> list[Observation]:
    """Compare every monitored feature of ``window`` with ``reference``; return observations."""
    started = time.perf_counter()
    observations: list[Observation] = []
    drifted: list[str] = []
    for name in reference.features:
        # Read each column where it is used, so that no variable here holds it afterwards.
        if reference.is_categorical(name):
            found = _categorical(reference, name, window.feature(name), window)
        else:
            found = _numeric(reference, name, window.feature(name), window)
        observations.extend(found)
        if any(o.metric == "drift.drifted" and o.value == 1.0 for o in found):
            drifted.append(name)

    logger.info(
        "drift of window %s..%s: %d features compared, %d drifted (%s) in %.2f s",
        window.start.isoformat(),
        window.end.isoformat(),
        len(reference.features),
        len(drifted),
        ", ".join(drifted) or "none",
        time.perf_counter() - started,
    )
    return observations


# -- numeric features ----------------------------------------------------------------------


def _numeric(
    reference: Reference, name: str, column: pa.ChunkedArray, window: Window
) -> list[Observation]:
    profile = _numeric_profile(reference, name)
    values, unparsable = as_floats(column)
    del column  # the window's copy; only the float array is needed from here
    n_rows = int(values.size)
    n_missing = int(np.isnan(values).sum())
    current = values[np.isfinite(values)]
    del values
    current.sort()

    row: dict[str, Any] = {
        "feature": name,
        "kind": "numeric",
        "missing_share_reference": profile.missing_share,
        "missing_share_current": n_missing / n_rows if n_rows else None,
        "reason": _numeric_reason(profile, current.size, n_rows),
    }
    chart: dict[str, Any] = {}
    if row["reason"] is None:
        comparison = dr.compare_sorted(profile.values, current, profile.edges, profile.scale)
        row.update(comparison.statistics)
        chart = _bin_chart(comparison)

    base = {
        "kind": "numeric",
        "n_rows": n_rows,
        "unparsable": unparsable,
        "infinite": n_rows - n_missing - int(current.size),
    }
    if unparsable:
        base["note"] = (
            f"{unparsable} logged value(s) were text that is not a number; counted as missing"
        )
    emit = _Emitter(name, window, int(current.size), row, base)
    scaled_reason = None
    if row["reason"] is None and row["wasserstein_scaled"] is None:
        scaled_reason = "the reference is constant (standard deviation 0)"
    return [
        emit.drifted(reference.thresholds, chart),
        emit.statistic("drift.psi", "psi", {"chart": chart}),
        emit.statistic(
            "drift.ks_statistic",
            "ks_statistic",
            {"pvalue": row.get("ks_pvalue"), "method": row.get("ks_method")},
        ),
        emit.statistic(
            "drift.wasserstein_scaled",
            "wasserstein_scaled",
            {"wasserstein": row.get("wasserstein"), "reference_std": profile.scale},
            reason=scaled_reason,
        ),
        emit.statistic("drift.js_distance", "js_distance", {"chart": chart}),
        emit.missing_change(),
    ]


def _numeric_reason(profile: _NumericProfile, n_current: int, n_rows: int) -> str | None:
    if n_rows == 0:
        return "the window holds no logged rows"
    if n_current == 0:
        return f"current has 0 finite values in {n_rows} rows"
    if profile.values.size == 0:
        return "reference has 0 finite values"
    return None


def _numeric_profile(reference: Reference, name: str) -> _NumericProfile:
    key = f"numeric:{name}"
    if key not in reference.cache:
        raw = pd.to_numeric(reference.frame[name], errors="coerce")
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.sort(values[np.isfinite(values)])
        edges = dr.quantile_edges(finite) if finite.size else np.empty(0)
        scale = float(np.std(finite)) if finite.size else math.nan
        missing = float(np.isnan(values).sum() / values.size) if values.size else 0.0
        reference.cache[key] = _NumericProfile(finite, edges, scale, missing)
    profile: _NumericProfile = reference.cache[key]
    return profile


def as_floats(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """Return a logged column as float64 with NaN for missing, and how many values were not
    numbers.

    Numeric and boolean columns convert directly. A text column (a client sent strings) is
    parsed; a value that does not parse counts as missing and is counted as unparsable.
    """
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan), 0
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    if numeric or pa.types.is_boolean(kind) or pa.types.is_decimal(kind):
        floats = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(floats, dtype=np.float64), 0

    text = pd.Series(column.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    present = text.notna().to_numpy()
    parsed = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    unparsable = int(np.count_nonzero(present & np.isnan(parsed)))
    return parsed, unparsable


def _bin_chart(comparison: dr.NumericComparison) -> dict[str, Any]:
    edges = [float(e) for e in comparison.edges]
    bounds = [-math.inf, *edges, math.inf]
    labels = [_interval(low, high) for low, high in zip(bounds[:-1], bounds[1:], strict=True)]
    return {
        "labels": labels,
        "edges": edges,
        "reference_share": _shares(comparison.reference_counts),
        "current_share": _shares(comparison.current_counts),
    }


def _interval(low: float, high: float) -> str:
    def show(x: float) -> str:
        return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:.4g}"

    return f"[{show(low)}, {show(high)})"


# -- categorical features ------------------------------------------------------------------


def _categorical(
    reference: Reference, name: str, column: pa.ChunkedArray, window: Window
) -> list[Observation]:
    profile = _category_profile(reference, name)
    current, n_missing = category_counts(column)
    n_rows = int(len(column))
    labels = [*profile.counts, *sorted(set(current) - set(profile.counts))]
    ref_counts = np.array([profile.counts.get(label, 0.0) for label in labels])
    cur_counts = np.array([current.get(label, 0.0) for label in labels])
    n_current = int(cur_counts.sum())

    row: dict[str, Any] = {
        "feature": name,
        "kind": "categorical",
        "missing_share_reference": profile.missing_share,
        "missing_share_current": n_missing / n_rows if n_rows else None,
        "reason": _categorical_reason(ref_counts.sum(), n_current, n_rows),
    }
    chart: dict[str, Any] = {}
    chi2: dr.Chi2Result | None = None
    unseen: dict[str, Any] = {}
    if row["reason"] is None:
        chi2 = dr.chi2_homogeneity(ref_counts, cur_counts)
        row["psi"] = dr.psi(ref_counts, cur_counts)
        row["js_distance"] = dr.js_distance(ref_counts, cur_counts)
        row["chi2_pvalue"] = chi2.pvalue
        row["unseen_share"] = dr.unseen_share(labels, ref_counts, cur_counts)
        chart = _category_chart(labels, ref_counts, cur_counts)
        unseen = _unseen_details(labels, ref_counts, cur_counts)

    base = {"kind": "categorical", "n_rows": n_rows, "n_categories": len(labels)}
    emit = _Emitter(name, window, n_current, row, base)
    chi2_details = {}
    if chi2 is not None:
        chi2_details = {
            "statistic": chi2.statistic,
            "dof": chi2.dof,
            "min_expected": chi2.min_expected,
        }
    return [
        emit.drifted(reference.thresholds, chart),
        emit.statistic("drift.psi", "psi", {"chart": chart}),
        emit.statistic("drift.js_distance", "js_distance", {"chart": chart}),
        emit.statistic("drift.chi2_pvalue", "chi2_pvalue", chi2_details),
        emit.missing_change(),
        emit.statistic("drift.unseen_share", "unseen_share", unseen),
    ]


def _categorical_reason(n_reference: float, n_current: int, n_rows: int) -> str | None:
    if n_rows == 0:
        return "the window holds no logged rows"
    if n_current == 0:
        return f"current has 0 non-missing values in {n_rows} rows"
    if n_reference == 0:
        return "reference has 0 non-missing values"
    return None


def _category_profile(reference: Reference, name: str) -> _CategoryProfile:
    key = f"categorical:{name}"
    if key not in reference.cache:
        series = reference.frame[name]
        counts: dict[str, float] = {}
        for value, count in series.value_counts(dropna=True).items():
            label = category_label(value)
            counts[label] = counts.get(label, 0.0) + float(count)
        ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        missing = float(series.isna().sum() / len(series)) if len(series) else 0.0
        reference.cache[key] = _CategoryProfile(ordered, missing)
    profile: _CategoryProfile = reference.cache[key]
    return profile


def category_counts(column: pa.ChunkedArray | pa.Array) -> tuple[dict[str, float], int]:
    """Return the count of each category label in a logged column, and how many were missing."""
    if pa.types.is_null(column.type):
        return {}, len(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    counts: dict[str, float] = {}
    for entry in pc.value_counts(column).to_pylist():
        value = entry["values"]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        label = category_label(value)
        counts[label] = counts.get(label, 0.0) + float(entry["counts"])
    missing = len(column) - int(sum(counts.values()))
    return counts, missing


def category_label(value: Any) -> str:
    """Return the label a category is compared under, the same for the reference and the log.

    Text is kept as it is; ``True``/``False`` and numbers are written as Python writes them,
    so a boolean read by pandas and one read from Parquet get the same label.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _category_chart(
    labels: Sequence[str], ref_counts: np.ndarray, cur_counts: np.ndarray
) -> dict[str, Any]:
    ref_share, cur_share = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    order = np.argsort(-np.maximum(ref_share, cur_share), kind="stable")
    shown, rest = order[:CHART_CATEGORIES], order[CHART_CATEGORIES:]
    chart = {
        "labels": [labels[i][:LABEL_CHARS] for i in shown],
        "reference_share": [float(ref_share[i]) for i in shown],
        "current_share": [float(cur_share[i]) for i in shown],
    }
    if rest.size:
        chart["labels"].append(OTHER)
        chart["reference_share"].append(float(ref_share[rest].sum()))
        chart["current_share"].append(float(cur_share[rest].sum()))
    return chart


def _unseen_details(
    labels: Sequence[str], ref_counts: np.ndarray, cur_counts: np.ndarray
) -> dict[str, Any]:
    unseen = [(labels[i], float(cur_counts[i])) for i in np.flatnonzero(ref_counts == 0)]
    unseen.sort(key=lambda item: (-item[1], item[0]))
    return {
        "n_unseen_categories": len(unseen),
        "n_unseen_values": int(sum(count for _, count in unseen)),
        "examples": [label[:LABEL_CHARS] for label, _ in unseen[:UNSEEN_EXAMPLES]],
    }


# -- observations --------------------------------------------------------------------------


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c / total) for c in counts]


class _Emitter:
    """Builds the observations of one feature in one window from its comparison row."""

    def __init__(
        self,
        name: str,
        window: Window,
        n_values: int,
        row: Mapping[str, Any],
        base: Mapping[str, Any],
    ) -> None:
        self.name = name
        self.window = window
        self.n_values = n_values
        self.row = row
        self.base = dict(base)

    def _observation(
        self, metric: str, value: float | None, n: int, details: Mapping[str, Any]
    ) -> Observation:
        return Observation(
            metric=metric,
            subject=self.name,
            value=value,
            n=n,
            window_start=self.window.start,
            window_end=self.window.end,
            details={**self.base, **details},
        )

    def statistic(
        self, metric: str, key: str, details: Mapping[str, Any], reason: str | None = None
    ) -> Observation:
        reason = self.row["reason"] or reason
        value = None if reason is not None else self.row.get(key)
        extra = {"reason": reason} if reason is not None else dict(details)
        return self._observation(metric, value, self.n_values, extra)

    def drifted(self, thresholds: Mapping[str, float], chart: Mapping[str, Any]) -> Observation:
        reasons = dr.drift_reasons(self.row, thresholds)
        details: dict[str, Any] = {"decided_by": reasons, "chart": dict(chart)}
        details["thresholds"] = {
            k: float(thresholds[k])
            for k in (
                "psi_threshold",
                "wasserstein_threshold",
                "js_threshold",
                "missing_share_threshold",
            )
        }
        value: float | None = 1.0 if reasons else 0.0
        if not reasons and self.row["reason"] is not None:
            value = None
            details["reason"] = self.row["reason"]
        n = self.n_values
        if "missing_share" in reasons:
            n = int(self.base["n_rows"])
        return self._observation("drift.drifted", value, n, details)

    def missing_change(self) -> Observation:
        before = self.row["missing_share_reference"]
        after = self.row["missing_share_current"]
        n_rows = int(self.base["n_rows"])
        if after is None:
            reason = "the window holds no logged rows"
            return self._observation("drift.missing_share_change", None, 0, {"reason": reason})
        details = {"reference": before, "current": after}
        return self._observation(
            "drift.missing_share_change", abs(after - before), n_rows, details
        )
