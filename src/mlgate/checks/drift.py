"""Data drift: does the current window look like the reference it is compared with?

Each feature is compared on its own. Numeric features get the population stability index (PSI)
on ten reference-quantile bins, the two-sample Kolmogorov-Smirnov test, the Wasserstein distance
(raw and divided by the reference standard deviation) and the Jensen-Shannon distance on the same
bins. Categorical features get the chi-square test of homogeneity on the 2 x k table of counts,
the Jensen-Shannon distance, the PSI over categories and the unseen share (the share of current
values whose category never occurs in the reference). Both kinds get the missing share on each
side.

The verdict rests on effect sizes, not p-values: with a million rows every test is significant,
and with eight rows none is. A numeric feature drifts when its PSI reaches ``psi_threshold``
(default 0.2) or its scaled Wasserstein distance reaches ``wasserstein_threshold`` (default 0.1,
a tenth of the reference's standard deviation); a categorical one when its JS distance reaches
``js_threshold`` (default 0.1); either kind when its missing share moves by
``missing_share_threshold`` (default 0.1) or more. The tests are reported beside the verdict.

Why two numeric effect sizes: PSI on ten decile bins misses shifts that stay inside the bins of
a discrete or skewed column (a Poisson mean 15 % higher, a log-normal spread 30 % wider), while
the scaled Wasserstein distance measures how far the mass moved in units of the reference
spread. Neither depends on the sample size beyond its noise: a shift of 0.05 standard deviations
scores about 0.05 at ten thousand rows and at ten million, below both thresholds, whereas the
KS p-value of that shift falls to zero as rows grow.

Conventions, chosen so that every number is finite and documented:

- PSI is ``sum((c - r) * ln(c / r))`` over bin proportions. A proportion of zero is replaced by
  ``PSI_EPSILON`` (1e-4) without renormalising the others, so an empty bin gives a large, finite
  term. The value depends on epsilon: with 1e-6 it is larger. PSI is symmetric in its arguments.
- Bin edges sit at the reference deciles, each placed midway between the decile value and the
  next larger distinct reference value. A tied value therefore never straddles an edge and a tiny
  shift of a discrete value moves no mass; a heavily tied column gets fewer than ten bins.
- The Jensen-Shannon distance uses base 2, so it lies in [0, 1] and two disjoint distributions
  give exactly 1.0.
- A feature with no non-null value on one side is "not computed", with a reason naming the side;
  it never gets a drift verdict from the distribution statistics.
- The Wasserstein distance is scaled by the reference's population standard deviation; for a
  constant reference the scaled value is ``None``.

Status: ``fail`` when the share of drifted features (of all features compared) exceeds
``max_drift_share``; otherwise ``warn`` when any feature drifted or could not be computed, since
missing evidence is not a pass; otherwise ``pass``. Small samples, heavy ties and low expected
counts are reported as findings beside the numbers.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    Status,
    column_kind,
    feature_columns,
)
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

PSI_EPSILON = 1e-4
DEFAULT_BINS = 10
KS_MAX_EXACT_N = 10_000  # scipy's ks_2samp(method="auto") tries the exact p-value up to here
PARALLEL_MIN_ROWS = 50_000  # below this, starting threads costs more than it saves
# Above this many values on both sides together, compare_sorted walks the merged order in
# blocks: the five merged arrays of the one-pass method would take 40 bytes per value.
BLOCKWISE_MIN_VALUES = 2_000_000

DEFAULTS: dict[str, float] = {
    "psi_threshold": 0.2,
    "wasserstein_threshold": 0.1,
    "js_threshold": 0.1,
    "missing_share_threshold": 0.1,
    "max_drift_share": 0.3,
    "min_sample_size": 30,
}


@dataclass(frozen=True)
class KsResult:
    """A two-sample Kolmogorov-Smirnov test; ``method`` is ``exact`` or ``asymp``."""

    statistic: float
    pvalue: float
    method: str


@dataclass(frozen=True)
class NumericComparison:
    """The numeric statistics of one feature, with the bin counts a chart of them needs.

    ``statistics`` holds the feature-row entries of the check (``psi``, ``ks_statistic``,
    ``wasserstein_scaled``, ...); ``n_distinct`` counts the distinct values of both samples.
    """

    statistics: dict[str, Any]
    edges: np.ndarray
    reference_counts: np.ndarray
    current_counts: np.ndarray
    scale: float
    n_distinct: int


@dataclass(frozen=True)
class Chi2Result:
    """A chi-square test of homogeneity, with the smallest expected count of its table."""

    statistic: float
    pvalue: float
    dof: int
    min_expected: float


def quantile_edges(reference: Any, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Return the interior bin edges at the reference quantiles, midway between distinct values.

    Edge ``k`` lies between the ``k/bins`` quantile of the reference (its lower order statistic)
    and the next larger distinct reference value. Duplicate edges collapse, so heavily tied data
    yield fewer bins; a constant reference yields no edge (one bin).
    """
    if bins < 1:
        raise ValidationError(f"bins must be at least 1; got {bins}")
    values = np.sort(_finite(reference))
    if values.size == 0:
        raise ValidationError("the reference has 0 finite values; quantile bins need at least one")
    return _quantile_edges_sorted(values, bins)


def _quantile_edges_sorted(values: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    n = values.size
    idx = np.ceil(np.arange(1, bins) * n / bins).astype(np.int64) - 1
    lower = values[np.clip(idx, 0, n - 1)]
    nxt = np.searchsorted(values, lower, side="right")
    has_next = nxt < n

    upper = values[nxt[has_next]]
    return np.unique(lower[has_next] / 2 + upper / 2)


def histogram(
    reference: Any, current: Any, bins: int | Sequence[float] = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count reference and current values in the same bins; return (ref, cur, edges).

    ``bins`` is a number of reference-quantile bins (see :func:`quantile_edges`) or explicit
    interior edges. Bins are ``(-inf, e0), [e0, e1), ..., [e_last, inf)``, so no value is ever
    dropped. NaN and infinite values are left out.
    """
    ref = np.sort(_finite(reference))
    cur = np.sort(_finite(current))
    edges = _edges(ref, bins)
    return _counts_sorted(ref, edges), _counts_sorted(cur, edges), edges


def psi(reference_counts: Any, current_counts: Any, epsilon: float = PSI_EPSILON) -> float:
    """Return the population stability index of two aligned count (or proportion) vectors.

    Zero proportions are replaced by ``epsilon`` without renormalising, so the result is finite.
    """
    ref, cur = _aligned_counts(reference_counts, current_counts)
    if epsilon <= 0:
        raise ValidationError(f"epsilon must be positive; got {epsilon}")

    p = ref / ref.sum()
    q = cur / cur.sum()
    p = np.where(p == 0, epsilon, p)
    q = np.where(q == 0, epsilon, q)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference_counts: Any, current_counts: Any) -> float:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) of two aligned count vectors."""
    ref, cur = _aligned_counts(reference_counts, current_counts)
    value = float(jensenshannon(ref, cur, base=2))

    # Equal inputs can leave a divergence of -1e-17 after rounding, whose square root is NaN;
    # the true value is 0. Rounding can also push disjoint inputs a hair above 1.
    if math.isnan(value):
        return 0.0
    return min(value, 1.0)


def chi2_homogeneity(reference_counts: Any, current_counts: Any) -> Chi2Result:
    """Test whether two count vectors come from one distribution (2 x k table, no correction).

    Categories empty on both sides are dropped, since they carry no information and would make
    an expected count zero. A single remaining category gives statistic 0, p-value 1, dof 0.
    """
    ref, cur = _aligned_counts(reference_counts, current_counts)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]

    result = stats.chi2_contingency(table, correction=False)
    return Chi2Result(
        statistic=float(result.statistic),
        pvalue=float(result.pvalue),
        dof=int(result.dof),
        min_expected=float(np.min(result.expected_freq)),
    )


def ks(reference: Any, current: Any) -> KsResult:
    """Run the two-sample KS test as ``scipy.stats.ks_2samp(method="auto")`` does.

    Up to ``KS_MAX_EXACT_N`` values per side scipy itself is called and its exact p-value used
    (falling back to the asymptotic one when scipy says so). Above that, the statistic is
    computed here on sorted arrays and the p-value with scipy's asymptotic formula, which is what
    ``ks_2samp`` would do, at a third of the cost.
    """
    return _ks_sorted(np.sort(_finite(reference)), np.sort(_finite(current)))


def wasserstein(reference: Any, current: Any) -> float:
    """Return the first Wasserstein distance, equal to ``scipy.stats.wasserstein_distance``."""
    ref = np.sort(_finite(reference))
    cur = np.sort(_finite(current))
    merged, gap = _ecdf_gap(ref, cur)
    return _w1_gap(merged, gap)


def compare_sorted(
    ref: np.ndarray,
    cur: np.ndarray,
    edges: np.ndarray | None = None,
    scale: float | None = None,
) -> NumericComparison:
    """Compare two sorted samples of finite values with every numeric statistic of the check.

    ``edges`` (from :func:`quantile_edges`) and ``scale`` (the reference's population standard
    deviation) are computed from ``ref`` when not given; a caller comparing one reference with
    many samples passes them in once computed. The arrays are not modified.
    """
    if edges is None:
        edges = _quantile_edges_sorted(ref)
    if scale is None:
        scale = float(np.std(ref))
    ref_counts, cur_counts = _counts_sorted(ref, edges), _counts_sorted(cur, edges)

    if ref.size + cur.size > BLOCKWISE_MIN_VALUES:
        ks_result, w1, n_distinct = _distances_blockwise(ref, cur)
    else:
        merged, gap = _ecdf_gap(ref, cur)
        run_end = _run_ends(merged)
        ks_result = _ks_sorted(ref, cur, lambda: _ks_gap(gap, run_end))
        w1 = _w1_gap(merged, gap)
        n_distinct = int(np.count_nonzero(run_end))

    statistics: dict[str, Any] = {
        "n_reference": int(ref.size),
        "n_current": int(cur.size),
        "psi": psi(ref_counts, cur_counts),
        "js_distance": js_distance(ref_counts, cur_counts),
        "ks_statistic": ks_result.statistic,
        "ks_pvalue": ks_result.pvalue,
        "ks_method": ks_result.method,
        "wasserstein": w1,
        "wasserstein_scaled": w1 / scale if scale > 0 else None,
        "n_bins": int(edges.size + 1),
    }
    return NumericComparison(statistics, edges, ref_counts, cur_counts, scale, n_distinct)


def _distances_blockwise(ref: np.ndarray, cur: np.ndarray) -> tuple[KsResult, float, int]:
    """KS test, Wasserstein distance and distinct values of two large sorted samples.

    The merged order is walked in blocks (:mod:`mlgate.scale._numeric_drift`), so memory
    beyond the two samples stays at a few blocks instead of five merged arrays; the KS
    statistic is the same bit for bit and the distance agrees to rounding.
    """
    from mlgate.scale._numeric_drift import merged_distances  # scale imports this module

    statistic, w1, n_distinct = merged_distances(ref, cur)
    if max(ref.size, cur.size) <= KS_MAX_EXACT_N:
        return _scipy_ks(ref, cur), w1, n_distinct
    return _ks_asymp(statistic, ref.size, cur.size), w1, n_distinct


def unseen_share(labels: Sequence[Any], reference_counts: Any, current_counts: Any) -> float:
    """Return the share of current values whose category has no reference value.

    The counts are aligned with ``labels`` (see :func:`category_counts`); missing values are
    not counted on either side, so the share is of the current's non-missing values.
    """
    ref, cur = _aligned_counts(reference_counts, current_counts)
    if len(labels) != ref.size:
        raise ValidationError(
            f"labels and counts must have the same length; got {len(labels)} labels and "
            f"{ref.size} counts"
        )
    return float(cur[ref == 0].sum() / cur.sum())


def category_counts(reference: Any, current: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Count each category on both sides, missing values left out; return (labels, ref, cur)."""
    ref = pd.Series(reference).value_counts(dropna=True, sort=False)
    cur = pd.Series(current).value_counts(dropna=True, sort=False)
    labels = ref.index.union(cur.index, sort=False)

    ref_counts = ref.reindex(labels, fill_value=0).to_numpy(dtype=np.float64)
    cur_counts = cur.reindex(labels, fill_value=0).to_numpy(dtype=np.float64)
    return list(labels), ref_counts, cur_counts


def check_drift(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Compare every feature of ``inp.data`` (current) with ``inp.reference``."""
    limits = {**DEFAULTS, **thresholds}
    if inp.reference is None:
        raise ValidationError(
            "the drift check needs a reference frame (CheckInput.reference); got None"
        )
    features = feature_columns(inp, inp.data)
    _require_columns(inp.reference, features, "reference")

    started = time.perf_counter()
    rows = _compare_all(features, inp.reference, inp.data, limits)
    findings = [f for row in rows for f in row.pop("findings")]
    logger.info(
        "drift: compared %d features on %d reference and %d current rows in %.2f s",
        len(rows),
        len(inp.reference),
        len(inp.data),
        time.perf_counter() - started,
    )

    return _assemble(rows, findings, limits)


def _compare_all(
    features: Sequence[str],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    limits: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Compare every feature, on all cores when the frames are large enough to pay for it.

    The work per column is sorting and searching NumPy arrays, which release the GIL, so
    threads run columns in parallel without copying the frames. Results keep feature order.
    """
    workers = min(len(features), os.cpu_count() or 1)
    if workers <= 1 or len(reference) + len(current) < PARALLEL_MIN_ROWS:
        return [_compare_feature(n, reference[n], current[n], limits) for n in features]

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drift") as pool:
        return list(
            pool.map(lambda n: _compare_feature(n, reference[n], current[n], limits), features)
        )


def _compare_feature(
    name: str, ref: pd.Series, cur: pd.Series, limits: Mapping[str, float]
) -> dict[str, Any]:
    kind = _drift_kind(ref)
    row: dict[str, Any] = {
        "feature": str(name),
        "kind": kind,
        "missing_share_reference": _missing_share(ref),
        "missing_share_current": _missing_share(cur),
        "findings": [],
    }
    finite = (_finite(ref), _finite(cur)) if kind == "numeric" == _drift_kind(cur) else None
    reason = _not_computable(name, ref, cur, kind, finite)

    if reason is None and finite is not None:
        row.update(_numeric_stats(name, ref, cur, finite, limits))
    elif reason is None:
        row.update(_categorical_stats(name, ref, cur, limits))
    else:
        row["findings"].append(Finding("warn", f"{name}: not computed: {reason}", str(name)))
    row["reason"] = reason

    row["drifted"] = is_drifted(row, limits)
    return row


def _not_computable(
    name: str,
    ref: pd.Series,
    cur: pd.Series,
    kind: str,
    finite: tuple[np.ndarray, np.ndarray] | None,
) -> str | None:
    counts = {"reference": int(ref.notna().sum()), "current": int(cur.notna().sum())}
    reason = _empty_side(counts)
    if reason is not None:
        logger.debug("drift: %s not computed: %s", name, reason)
        return reason

    if kind == "unsupported":
        return f"dtype {ref.dtype} is neither numeric nor categorical"
    if kind != _drift_kind(cur):
        return f"dtype differs: reference {ref.dtype}, current {cur.dtype}"
    if finite is not None:
        sizes = {"reference": finite[0].size, "current": finite[1].size}
        return _empty_side(sizes, what="finite")
    return None


def _empty_side(counts: Mapping[str, int], what: str = "non-null") -> str | None:
    for side in ("current", "reference"):
        if counts[side] == 0:
            return (
                f"{side} has 0 {what} values "
                f"(reference {counts['reference']}, current {counts['current']})"
            )
    return None


def _numeric_stats(
    name: str,
    ref_series: pd.Series,
    cur_series: pd.Series,
    finite: tuple[np.ndarray, np.ndarray],
    limits: Mapping[str, float],
) -> dict[str, Any]:
    ref, cur = finite
    ref.sort()  # the finite arrays are this comparison's own copies
    cur.sort()
    comparison = compare_sorted(ref, cur)
    out = comparison.statistics
    scale, n_distinct = comparison.scale, comparison.n_distinct

    n_infinite = {
        "reference": int(ref_series.notna().sum()) - ref.size,
        "current": int(cur_series.notna().sum()) - cur.size,
    }
    out["findings"] = numeric_findings(name, scale, n_distinct, ref.size + cur.size, n_infinite)
    out["findings"] += _sample_findings(name, ref.size, cur.size, limits)
    return out


def numeric_findings(
    name: str, scale: float, n_distinct: int, n_values: int, n_infinite: Mapping[str, int]
) -> list[Finding]:
    """Notes on a numeric comparison: a constant reference, heavy ties, infinities left out.

    ``n_values`` counts the finite values of both sides; ``n_infinite`` the infinite ones per
    side. The out-of-core check calls this with its blockwise counts.
    """
    findings: list[Finding] = []
    if scale == 0:
        findings.append(
            Finding(
                "info",
                f"{name}: the reference is constant (standard deviation 0); the scaled "
                f"Wasserstein distance is not defined",
                str(name),
            )
        )

    if n_distinct <= n_values / 2:
        findings.append(
            Finding(
                "warn",
                f"{name}: heavily tied: {n_distinct} distinct values in {n_values} non-null "
                f"values; the KS p-value is unreliable and the verdict does not use it",
                str(name),
                n_distinct,
            )
        )

    for side in ("reference", "current"):
        if n_infinite[side] > 0:
            message = f"{name}: {n_infinite[side]} infinite values in {side} left out"
            findings.append(Finding("info", message, str(name)))
    return findings


def _categorical_stats(
    name: str, ref_series: pd.Series, cur_series: pd.Series, limits: Mapping[str, float]
) -> dict[str, Any]:
    labels, ref_counts, cur_counts = category_counts(ref_series, cur_series)
    chi2 = chi2_homogeneity(ref_counts, cur_counts)
    out: dict[str, Any] = {
        "n_reference": int(ref_counts.sum()),
        "n_current": int(cur_counts.sum()),
        "psi": psi(ref_counts, cur_counts),
        "js_distance": js_distance(ref_counts, cur_counts),
        "chi2_statistic": chi2.statistic,
        "chi2_pvalue": chi2.pvalue,
        "chi2_dof": chi2.dof,
        "unseen_share": unseen_share(labels, ref_counts, cur_counts),
        "n_categories": len(labels),
        "findings": [],
    }

    if chi2.dof > 0 and chi2.min_expected < 5:
        out["findings"].append(
            Finding(
                "warn",
                f"{name}: smallest expected count is {chi2.min_expected:.3g} (< 5); the "
                f"chi-square p-value is approximate",
                str(name),
                chi2.min_expected,
            )
        )
    out["findings"] += _sample_findings(name, out["n_reference"], out["n_current"], limits)
    return out


def _sample_findings(
    name: str, n_ref: int, n_cur: int, limits: Mapping[str, float]
) -> list[Finding]:
    minimum = limits["min_sample_size"]
    findings = []
    for side, n in (("reference", n_ref), ("current", n_cur)):
        if n < minimum:
            findings.append(
                Finding(
                    "warn",
                    f"{name}: small sample: {side} has {n} non-null values (< {minimum:g}); "
                    f"statistics are uncertain",
                    str(name),
                    n,
                )
            )
    return findings


def is_drifted(row: Mapping[str, Any], limits: Mapping[str, float]) -> bool:
    """Return the verdict on a feature row: did any effect size reach its threshold?"""
    return bool(drift_reasons(row, limits))


def drift_reasons(row: Mapping[str, Any], limits: Mapping[str, float]) -> list[str]:
    """Return which effect sizes of a feature row reached their thresholds, in a fixed order.

    The names are ``missing_share``, ``psi``, ``wasserstein_scaled`` and ``js_distance``; an
    empty list means no drift. A row whose statistics were not computed (``reason`` set) can
    drift only by its missing share.
    """
    reasons = []
    shift = _missing_shift(row)
    if shift is not None and shift >= limits["missing_share_threshold"]:
        reasons.append("missing_share")
    if row["reason"] is not None:
        return reasons

    if row["kind"] == "numeric":
        if row["psi"] >= limits["psi_threshold"]:
            reasons.append("psi")
        scaled = row.get("wasserstein_scaled")
        if scaled is not None and scaled >= limits["wasserstein_threshold"]:
            reasons.append("wasserstein_scaled")
    elif row["js_distance"] >= limits["js_threshold"]:
        reasons.append("js_distance")
    return reasons


def _missing_shift(row: Mapping[str, Any]) -> float | None:
    before, after = row["missing_share_reference"], row["missing_share_current"]
    if before is None or after is None:
        return None
    return abs(after - before)


def _assemble(
    rows: list[dict[str, Any]], findings: list[Finding], limits: Mapping[str, float]
) -> CheckResult:
    n_features = len(rows)
    drifted = [r["feature"] for r in rows if r["drifted"]]
    not_computed = [r["feature"] for r in rows if r["reason"] is not None]
    share = len(drifted) / n_features if n_features else None

    findings = [*_drift_findings(rows, limits), *findings]
    if share is None:
        findings.append(Finding("warn", "no feature to compare; the drift share is not defined"))
    status = _status(share, len(drifted), not_computed, limits)

    metrics: dict[str, float | int | str | None] = {
        "n_features": n_features,
        "n_drifted": len(drifted),
        "n_not_computed": len(not_computed),
        "drift_share": share,
    }
    for row in rows:
        metrics.update(_row_metrics(row))

    summary = (
        f"{len(drifted)} of {n_features} features drifted"
        + (f" ({share:.0%})" if share is not None else "")
        + (f"; {len(not_computed)} not computed" if not_computed else "")
    )
    return CheckResult(
        check="drift",
        status=status,
        summary=summary,
        metrics=metrics,
        findings=findings,
        figures=_figures(rows, limits),
        tables={"features": [_table_row(r) for r in rows]},
    )


def _status(
    share: float | None, n_drifted: int, not_computed: list[str], limits: Mapping[str, float]
) -> Status:
    if share is not None and share > limits["max_drift_share"]:
        return "fail"
    if n_drifted or not_computed or share is None:
        return "warn"
    return "pass"


def _drift_findings(rows: list[dict[str, Any]], limits: Mapping[str, float]) -> list[Finding]:
    findings = []
    for row in rows:
        if not row["drifted"]:
            continue
        name, shift = row["feature"], _missing_shift(row)
        if shift is not None and shift >= limits["missing_share_threshold"]:
            findings.append(
                Finding(
                    "warn",
                    f"{name}: missing share moved from {row['missing_share_reference']:.1%} to "
                    f"{row['missing_share_current']:.1%} of rows",
                    name,
                    shift,
                )
            )
        for reason in drift_reasons(row, limits):
            if reason in _EFFECT_LABELS:
                label, limit = _EFFECT_LABELS[reason]
                message = f"{name}: {label} {row[reason]:.3f} >= {limits[limit]:g}"
                findings.append(Finding("warn", message, name, row[reason]))
    return findings


_EFFECT_LABELS = {
    "psi": ("PSI", "psi_threshold"),
    "wasserstein_scaled": ("scaled Wasserstein distance", "wasserstein_threshold"),
    "js_distance": ("JS distance", "js_threshold"),
}


_METRIC_KEYS = (
    "psi",
    "js_distance",
    "ks_statistic",
    "ks_pvalue",
    "ks_method",
    "wasserstein",
    "wasserstein_scaled",
    "chi2_statistic",
    "chi2_pvalue",
    "unseen_share",
    "missing_share_reference",
    "missing_share_current",
)


def _row_metrics(row: Mapping[str, Any]) -> dict[str, float | int | str | None]:
    name = row["feature"]
    keys = [k for k in _METRIC_KEYS if k in row or row["reason"] is not None]
    if row["kind"] == "numeric":
        keys = [k for k in keys if not k.startswith(("chi2", "unseen"))]
    else:
        keys = [k for k in keys if not k.startswith(("ks_", "wasserstein"))]

    metrics: dict[str, float | int | str | None] = {f"{name}.{k}": row.get(k) for k in keys}
    metrics[f"{name}.drifted"] = bool(row["drifted"])
    return metrics


def _table_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "findings"}


def _figures(rows: list[dict[str, Any]], limits: Mapping[str, float]) -> list[Figure]:
    figures = []
    for kind, key, label, limit in (
        ("numeric", "psi", "PSI", "psi_threshold"),
        ("numeric", "wasserstein_scaled", "scaled Wasserstein distance", "wasserstein_threshold"),
        ("categorical", "js_distance", "JS distance (base 2)", "js_threshold"),
    ):
        chosen = [r for r in rows if r["kind"] == kind]
        if not chosen:
            continue
        series = Series(label, [r["feature"] for r in chosen], [r.get(key) for r in chosen])
        figures.append(
            Figure(
                name=f"drift_{key}",
                title=f"{label} per {kind} feature (drift at or above the line)",
                kind="bar",
                x_label="feature",
                y_label=label,
                series=[series],
                threshold=limits[limit],
            )
        )
    return figures


def _drift_kind(series: pd.Series) -> str:
    kind = column_kind(series)
    return "unsupported" if kind == "temporal" else kind


def _missing_share(series: pd.Series) -> float | None:
    if len(series) == 0:
        return None
    return float(series.isna().sum() / len(series))


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], side: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the {side} frame lacks column(s) {', '.join(map(str, missing))}; "
            f"expected every feature in both frames"
        )


def _finite(values: Any) -> np.ndarray:
    if isinstance(values, pd.Series):
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def _edges(ref: np.ndarray, bins: int | Sequence[float]) -> np.ndarray:
    if isinstance(bins, int | np.integer):
        return quantile_edges(ref, int(bins))

    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or np.any(np.diff(edges) <= 0) or not np.all(np.isfinite(edges)):
        raise ValidationError(f"bins must be strictly increasing finite edges; got {list(bins)}")
    return edges


def _counts_sorted(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    cuts = np.searchsorted(values, edges, side="left")
    return np.diff(np.concatenate([[0], cuts, [values.size]])).astype(np.float64)


def _aligned_counts(reference_counts: Any, current_counts: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference_counts, dtype=np.float64).ravel()
    cur = np.asarray(current_counts, dtype=np.float64).ravel()
    if ref.shape != cur.shape:
        raise ValidationError(
            f"count vectors must have the same length; got {ref.size} (reference) and "
            f"{cur.size} (current)"
        )
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur))):
        raise ValidationError("counts must be finite; got NaN or infinity")
    if np.any(ref < 0) or np.any(cur < 0):
        raise ValidationError("counts must be non-negative; got a negative count")

    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValidationError(
            f"both sides need at least one value; got totals {ref.sum():g} (reference) and "
            f"{cur.sum():g} (current)"
        )
    return ref, cur


def _merge_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge two sorted samples; return (merged, reference count, current count) per position.

    The counts are those among the first ``i + 1`` merged values. At the last position of a run
    of equal values they equal the counts of values ``<=`` that value, i.e. n times each
    empirical CDF there. Each reference value goes after equal current values.
    """
    if ref.size == 0 or cur.size == 0:
        raise ValidationError(
            f"both samples need at least one finite value; got sizes {ref.size} (reference) "
            f"and {cur.size} (current)"
        )
    is_ref = np.zeros(ref.size + cur.size, dtype=bool)
    is_ref[np.arange(ref.size) + np.searchsorted(cur, ref, side="right")] = True
    merged = np.empty(is_ref.size)
    merged[is_ref], merged[~is_ref] = ref, cur

    # 32-bit counts halve the memory of the two largest arrays of a column's comparison.
    dtype = np.int32 if is_ref.size < np.iinfo(np.int32).max else np.int64
    ref_count = np.cumsum(is_ref, dtype=dtype)
    cur_count = np.arange(1, is_ref.size + 1, dtype=dtype)
    cur_count -= ref_count
    return merged, ref_count, cur_count


def _ecdf_gap(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted samples; return (merged, gap between their empirical CDFs per position).

    ``gap[i]`` is the reference's share minus the current's share among the first ``i + 1``
    merged values (see :func:`_merge_counts`); KS and Wasserstein both read it.
    """
    merged, ref_count, cur_count = _merge_counts(ref, cur)
    gap = ref_count / ref_count[-1]
    gap -= cur_count / cur_count[-1]
    return merged, gap


def _run_ends(merged: np.ndarray) -> np.ndarray:
    """Mark the last position of each run of equal values in a sorted array."""
    run_end = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=run_end[:-1])
    run_end[-1] = True
    return run_end


def _ks_statistic(
    merged: np.ndarray,
    ref_count: np.ndarray,
    cur_count: np.ndarray,
    run_end: np.ndarray | None = None,
) -> float:
    if run_end is None:
        run_end = _run_ends(merged)
    gap = ref_count[run_end] / ref_count[-1] - cur_count[run_end] / cur_count[-1]
    return float(np.max(np.abs(gap)))


def _ks_gap(gap: np.ndarray, run_end: np.ndarray) -> float:
    # Only the last position of a run of ties is a point where both CDFs are complete.
    return float(np.max(np.abs(gap[run_end])))


def _w1(merged: np.ndarray, ref_count: np.ndarray, cur_count: np.ndarray) -> float:
    gap = ref_count / ref_count[-1] - cur_count / cur_count[-1]
    return _w1_gap(merged, gap)


def _w1_gap(merged: np.ndarray, gap: np.ndarray) -> float:
    # Inside a run of equal values the step width is 0, so partial counts there add nothing.
    steps = np.diff(merged)
    steps *= np.abs(gap[:-1])
    # np.sum, not np.dot: dot goes through multithreaded BLAS, whose start-up cost dominates
    # on these one-pass vectors.
    return float(np.sum(steps))


def _ks_sorted(
    ref: np.ndarray, cur: np.ndarray, statistic: Callable[[], float] | None = None
) -> KsResult:
    """KS test on sorted samples; ``statistic`` computes D from work already done, if given."""
    if max(ref.size, cur.size) <= KS_MAX_EXACT_N:
        return _scipy_ks(ref, cur)
    if statistic is None:
        return _ks_asymp(_ks_statistic(*_merge_counts(ref, cur)), ref.size, cur.size)
    return _ks_asymp(statistic(), ref.size, cur.size)


def _scipy_ks(ref: np.ndarray, cur: np.ndarray) -> KsResult:
    if ref.size == 0 or cur.size == 0:
        raise ValidationError(
            f"both samples need at least one finite value; got sizes {ref.size} (reference) "
            f"and {cur.size} (current)"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = stats.ks_2samp(ref, cur, method="auto")

    switched = any("Switching to" in str(w.message) for w in caught)
    method = "asymp" if switched else "exact"
    return KsResult(float(result.statistic), float(result.pvalue), method)


def _ks_asymp(statistic: float, n_ref: int, n_cur: int) -> KsResult:
    en = n_ref * n_cur / (n_ref + n_cur)
    pvalue = float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))
    return KsResult(statistic, pvalue, "asymp")


SPEC = CheckSpec(
    name="drift",
    title="Data drift against a reference",
    function=check_drift,
    needs_model=False,
    needs_reference=True,
    defaults=DEFAULTS,
    description=(
        "Per feature: PSI on 10 reference-quantile bins (epsilon 1e-4), KS test, scaled "
        "Wasserstein distance and JS distance for numeric features; chi-square homogeneity and "
        "JS distance (base 2) and the unseen-category share for categorical ones; missing share "
        "on both sides. Drift is decided on PSI, scaled Wasserstein, JS or the missing-share "
        "change."
    ),
)
