"""Exploratory data analysis, kept as evidence of what the data looked like before modelling.

The check describes ``CheckInput.data``; it judges little and computes a lot. Everything lands
in the :class:`~mlgate.checks.base.CheckResult` as plain tables and figures (charts as data), so
the analysis can be stored, compared between dataset versions and rendered offline by
:mod:`mlgate.reports.eda`. What it computes:

- per column: kind, missing and infinite counts, distinct values, a numeric summary, and a
  distribution chart (numeric: a 30-bin histogram of the finite values; categorical: the 20
  most frequent levels, then ``(other)`` and ``(missing)``);
- missingness: missing rows per column and the co-missingness patterns, that is which columns
  are missing together in the same row, the ten most frequent with their row counts;
- correlations between numeric columns (Pearson and Spearman, pairwise complete rows) and
  associations between categorical columns of at most 50 levels (bias-corrected Cramér's V);
- the relation of every feature to the target: for a binary target (or a ``positive_label``
  against the rest) the label rate per quantile bin or per level, ranked by univariate
  strength (``|2 AUC - 1|`` for numeric features, Cramér's V for categorical ones); for a
  numeric target with more than two values, the target mean, ranked by ``|Spearman|`` and the
  correlation ratio;
- per sensitive attribute: group sizes and the label rate with its 95 % Wilson interval.

Scale: missingness, distributions and group sizes are exact counts over all rows. Correlations,
associations and the label relation are computed on a deterministic sample of at most
``max_sample_rows`` rows (drawn with ``CheckInput.seed``); the sample size is a metric.

Privacy: a column whose name looks like an identifier or contact detail (``id``, ``email``,
``name``, ``phone`` and the like), or a text column with more than 50 levels that are mostly
unique, is described by counts only. Its values never appear in a table, chart or message, and
it takes part in no further analysis.

A value that cannot be computed (the correlation of a constant column, the AUC of a one-class
label) is ``None`` with a finding that says why, never NaN.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

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
from mlgate.checks.data_quality import reject_duplicate_columns
from mlgate.checks.group_sizes import group_labels, sort_groups
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

HIST_BINS = 30
TOP_LEVELS = 20
TOP_PATTERNS = 10
TOP_PAIRS = 15
LABEL_BINS = 10
MAX_ASSOCIATION_LEVELS = 50
MAX_PAIR_COLUMNS = 100
FREE_TEXT_LEVELS = 50
CONFIDENCE = 0.95
SPREAD_EPSILON = 1e-12  # a sum of squares this small relative to its scale counts as no spread
MISSING = "(missing)"
OTHER = "(other)"
PAIR_LABEL_CHARS = 14
LABEL_CHARS = 30
SUMMARY_KEYS = ("n_infinite", "mean", "std", "min", "p25", "median", "p75", "max")

DEFAULTS: dict[str, float] = {
    "max_sample_rows": 200_000,
    "leakage_strength": 0.9,
    "redundant_correlation": 0.95,
}

# Name tokens that mark an identifier or a contact detail; "phone" and "email" also count
# inside a longer token ("telephone", "emailaddress").
_IDENTIFIER_TOKENS = frozenset(
    {
        "id",
        "ids",
        "uid",
        "uuid",
        "guid",
        "email",
        "mail",
        "name",
        "names",
        "firstname",
        "lastname",
        "surname",
        "fullname",
        "username",
        "phone",
        "mobile",
        "ssn",
        "passport",
        "iban",
    }
)
_IDENTIFIER_PARTS = ("phone", "email")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")

Metrics = dict[str, float | int | str | None]


# --- public helpers ---------------------------------------------------------------------------


def looks_like_identifier(name: Any) -> bool:
    """Whether a column name reads like an identifier or contact detail (id, email, name, phone).

    The name is split into words at separators and camel case (``customerId`` gives
    ``customer``, ``id``), so ``paid`` or ``valid`` do not match but ``user_id``, ``ID``,
    ``e-mail``, ``first_name`` and ``telephone`` do.
    """
    text = _CAMEL.sub(r"\1_\2", str(name)).lower()
    tokens = [token for token in _NON_WORD.split(text) if token]
    return any(
        token in _IDENTIFIER_TOKENS or any(part in token for part in _IDENTIFIER_PARTS)
        for token in tokens
    )


def deterministic_sample(frame: pd.DataFrame, max_rows: int, seed: int = 0) -> pd.DataFrame:
    """Return at most ``max_rows`` rows of ``frame``, the same ones for the same seed, in order."""
    positions = sample_positions(len(frame), max_rows, seed)
    return frame if positions is None else frame.iloc[positions]


def sample_positions(n_rows: int, max_rows: int, seed: int = 0) -> np.ndarray | None:
    """Sorted positions of a uniform sample of ``max_rows`` of ``n_rows`` rows; ``None`` if all."""
    if max_rows < 1:
        raise ValidationError(f"max_rows must be at least 1; got {max_rows}")
    if n_rows <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=max_rows, replace=False))


def cramers_v_table(table: Any) -> float | None:
    """Bias-corrected Cramér's V (Bergsma 2013) of a contingency table of counts.

    Empty rows and columns are dropped first. ``None`` when fewer than two rows or columns
    remain, or when the corrected table has no degree of freedom left (tiny samples).
    """
    counts = np.asarray(table, dtype=np.float64)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    n = counts.sum()
    n_rows, n_cols = counts.shape if counts.ndim == 2 else (0, 0)
    if n_rows < 2 or n_cols < 2 or n < 2:
        return None

    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (n_rows - 1) * (n_cols - 1) / (n - 1))
    rows_corrected = n_rows - (n_rows - 1) ** 2 / (n - 1)
    cols_corrected = n_cols - (n_cols - 1) ** 2 / (n - 1)
    denominator = min(rows_corrected, cols_corrected) - 1
    if denominator <= 0:
        return None
    return _finite(math.sqrt(phi2 / denominator))


def cramers_v(x: Any, y: Any) -> float | None:
    """Bias-corrected Cramér's V of two categorical vectors; rows missing either are left out."""
    frame = pd.DataFrame({"x": _as_series(x), "y": _as_series(y)}).dropna()
    if frame.empty:
        return None
    codes_x, levels_x = pd.factorize(frame["x"])
    codes_y, levels_y = pd.factorize(frame["y"])
    return cramers_v_table(_crosstab(codes_x, len(levels_x), codes_y, len(levels_y)))


def wilson_interval(successes: int, trials: int) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion, as scipy gives it; ``None`` if no trial."""
    if trials <= 0:
        return None
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=CONFIDENCE, method="wilson"
    )
    return float(interval.low), float(interval.high)


def roc_auc(scores: Any, labels: Any) -> float | None:
    """ROC AUC of ``scores`` for binary ``labels`` (1 positive, 0 negative), ties counted half.

    Computed from average ranks (the Mann-Whitney U statistic). ``None`` when one class is
    absent, since the AUC is then undefined.
    """
    score = np.asarray(scores, dtype=np.float64)
    label = np.asarray(labels, dtype=np.float64)
    n_pos = int((label == 1).sum())
    n_neg = len(label) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(score)
    u = ranks[label == 1].sum() - n_pos * (n_pos + 1) / 2
    return _finite(u / (n_pos * n_neg))


def missing_patterns(frame: pd.DataFrame, top: int = TOP_PATTERNS) -> dict[str, Any]:
    """Count which columns are missing together, row by row, over all rows of ``frame``.

    Returns ``n_complete_rows`` (rows with nothing missing), ``n_patterns`` (distinct sets of
    missing columns) and ``patterns``: the ``top`` most frequent sets, each with its columns,
    row count and share of all rows, most frequent first (ties: fewer columns first).
    """
    n_rows = len(frame)
    missing = frame.isna().to_numpy()
    with_missing = missing.any(axis=0)
    names = [str(c) for c in frame.columns[with_missing]]
    subset = missing[:, with_missing]
    incomplete = subset.any(axis=1)
    out: dict[str, Any] = {
        "n_complete_rows": int(n_rows - incomplete.sum()),
        "n_patterns": 0,
        "patterns": [],
    }
    if not names:
        return out

    keys, counts = np.unique(np.packbits(subset[incomplete], axis=1), axis=0, return_counts=True)
    patterns = []
    for key, count in zip(keys, counts, strict=True):
        bits = np.unpackbits(key)[: len(names)].astype(bool)
        columns = [name for name, bit in zip(names, bits, strict=True) if bit]
        patterns.append((int(count), columns))
    patterns.sort(key=lambda p: (-p[0], len(p[1]), p[1]))

    out["n_patterns"] = len(patterns)
    out["patterns"] = [
        {
            "columns_missing": " + ".join(columns),
            "n_columns": len(columns),
            "rows": count,
            "share_of_rows": count / n_rows,
        }
        for count, columns in patterns[:top]
    ]
    return out


# --- the check --------------------------------------------------------------------------------


def check_eda(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Describe the data, its missingness, correlations, relation to the label and groups.

    Sums over values near the largest float overflow to infinity; such a statistic is then
    reported as not available (``None``), so the overflow itself is not worth a warning.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _check_eda(inp, thresholds)


def _check_eda(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    limits = _limits(thresholds)
    reject_duplicate_columns(inp.data)
    columns = _analysed_columns(inp)
    frame = inp.data[columns]
    positions = sample_positions(len(frame), int(limits["max_sample_rows"]), inp.seed)
    sample = frame if positions is None else frame.iloc[positions]
    findings: list[Finding] = []

    profiles, figures = _profiles(frame, inp)
    findings += _profile_findings(profiles)
    missing, missing_figures = _missingness(frame, profiles)
    figures += missing_figures

    correlations = _correlations(sample, profiles)
    associations = _associations(sample, profiles)
    findings += _pair_findings(correlations, associations, limits)
    figures += _pair_figures(correlations, associations)

    y, mode, label_finding = _label_vector(frame, inp)
    findings += [label_finding] if label_finding else []
    y_sample = y if y is None or positions is None else y[positions]
    label = _label_relation(sample, profiles, y_sample, mode, limits)
    label["overall"] = _finite(np.nanmean(y)) if y is not None and np.isfinite(y).any() else None
    groups = _groups(frame, inp, profiles, y, mode)
    findings += label["findings"] + groups["findings"]
    figures += label["figures"] + groups["figures"]

    if len(sample) < len(frame):
        findings.insert(0, Finding("info", _sample_message(len(sample), len(frame))))
    logger.info(
        "eda: %d columns, %d rows, %d sampled, %d figures",
        len(columns),
        len(frame),
        len(sample),
        len(figures),
    )

    metrics = _metrics(frame, sample, profiles, missing, correlations, associations, label)
    metrics.update(groups["metrics"])
    return CheckResult(
        check="eda",
        status=worst([f.severity for f in findings if f.severity != "info"]),
        summary=_summary(frame, sample, profiles, label),
        metrics=metrics,
        findings=findings,
        figures=figures,
        tables={
            "columns": profiles,
            "missing_patterns": missing["patterns"],
            "correlations": correlations,
            "associations": associations,
            "label_strength": label["strength"],
            "label_by_bin": label["bins"],
            "groups": groups["rows"],
        },
    )


def _limits(thresholds: Mapping[str, float]) -> dict[str, float]:
    limits = {**DEFAULTS, **thresholds}
    rows = limits["max_sample_rows"]
    if not float(rows).is_integer() or rows < 2:
        raise ValidationError(f"max_sample_rows must be a whole number >= 2; got {rows}")
    for key in ("leakage_strength", "redundant_correlation"):
        if not 0 < limits[key] <= 1:
            raise ValidationError(f"{key} must be in (0, 1]; got {limits[key]}")
    return limits


def _analysed_columns(inp: CheckInput) -> list[Any]:
    """The declared features, target and sensitive attributes; all columns if none is declared."""
    data = inp.data
    declared = [*inp.features, *([inp.target] if inp.target is not None else []), *inp.sensitive]
    absent = [str(c) for c in dict.fromkeys(declared) if c not in data.columns]
    if absent:
        raise ValidationError(
            f"column(s) not in the data: {', '.join(absent)}; the data has columns "
            f"{', '.join(map(str, data.columns[:30]))}"
            + (" ..." if len(data.columns) > 30 else "")
        )
    if not inp.features:
        return list(data.columns)
    return list(dict.fromkeys(declared))


def _sample_message(n_sample: int, n_rows: int) -> str:
    return (
        f"correlations, associations and the label relation use a deterministic sample of "
        f"{n_sample:,} of {n_rows:,} rows; counts, missingness and groups use all rows"
    )


# --- per column -------------------------------------------------------------------------------


def _profiles(frame: pd.DataFrame, inp: CheckInput) -> tuple[list[dict[str, Any]], list[Figure]]:
    profiles, figures = [], []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        profile, figure = _profile(series, _role(series.name, inp))
        profiles.append(profile)
        if figure is not None:
            figures.append(figure)
    return profiles, figures


def _role(name: Any, inp: CheckInput) -> str:
    if inp.target is not None and name == inp.target:
        return "target"
    return "sensitive" if name in list(inp.sensitive) else "feature"


def _profile(series: pd.Series, role: str) -> tuple[dict[str, Any], Figure | None]:
    """One column's summary row and its distribution chart (``None`` for counts-only columns)."""
    name = str(series.name)
    n_rows, n_missing = len(series), int(series.isna().sum())
    profile: dict[str, Any] = {
        "column": name,
        "role": role,
        "kind": column_kind(series),
        "dtype": str(series.dtype),
        "n_missing": n_missing,
        "missing_share": n_missing / n_rows if n_rows else None,
        "n_distinct": _n_distinct(series),
        "identifier": looks_like_identifier(name),
        "note": None,
    }
    if profile["identifier"]:
        profile["note"] = "name looks like an identifier or contact detail: counts only"
    elif profile["kind"] == "categorical" and _free_text(
        profile["n_distinct"], n_rows - n_missing
    ):
        profile["identifier"] = True
        profile["note"] = "mostly unique text (identifier or free text): counts only"

    numeric = profile["kind"] == "numeric" and not profile["identifier"]
    profile.update(_numeric_summary(series) if numeric else dict.fromkeys(SUMMARY_KEYS))
    if n_rows and n_missing == n_rows:
        profile["note"] = _join(profile["note"], "all values missing")
        return profile, None
    if profile["n_distinct"] == 1:
        profile["note"] = _join(profile["note"], "constant: a single distinct value")
    if profile["identifier"] or n_rows == 0:
        return profile, None

    if profile["kind"] == "numeric":
        if profile["min"] is None:
            profile["note"] = _join(profile["note"], "no finite value: not charted")
            return profile, None
        return profile, _histogram(name, series)
    if profile["kind"] == "categorical":
        return profile, _level_chart(name, series)
    profile["note"] = _join(profile["note"], f"{profile['kind']} column: not charted")
    return profile, None


def _n_distinct(series: pd.Series) -> int | None:
    try:
        return int(series.nunique(dropna=True))
    except TypeError:
        return None


def _free_text(n_distinct: int | None, n_non_null: int) -> bool:
    # The rule of the data-quality check: many levels, and most of them used once or twice.
    return n_distinct is not None and n_distinct > FREE_TEXT_LEVELS and n_distinct > n_non_null / 2


def _numeric_summary(series: pd.Series) -> dict[str, Any]:
    values = _floats(series)
    finite = values[np.isfinite(values)]
    out: dict[str, Any] = {"n_infinite": int(np.isinf(values).sum())}
    keys = SUMMARY_KEYS[1:]
    if finite.size == 0:
        return {**out, **dict.fromkeys(keys)}

    q = np.percentile(finite, [0, 25, 50, 75, 100])
    std = float(finite.std(ddof=1)) if finite.size > 1 else None
    moments = (_finite(finite.mean()), _finite(std) if std is not None else None)
    return {**out, **dict(zip(keys, (*moments, *map(float, q)), strict=True))}


def _histogram(name: str, series: pd.Series) -> Figure:
    """Counts of the finite values in about 30 bins; whole numbers get one bin per value."""
    values = _floats(series)
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    if not math.isfinite(high - low):
        # A span wider than the largest float (values near +-1e308): equal-width bins cannot
        # be computed, so the bins follow the quantiles instead.
        edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, HIST_BINS + 1)))
    elif np.all(finite == np.round(finite)) and high - low < 2**53:
        # Whole numbers: bins of a whole width centred on the values, so no bin is empty
        # merely because it falls between two integers.
        width = math.ceil((high - low + 1) / HIST_BINS)
        n_bins = math.ceil((high - low + 1) / width)
        edges = low - 0.5 + width * np.arange(n_bins + 1)
    else:
        edges = np.histogram_bin_edges(finite, bins=HIST_BINS)
    counts, edges = np.histogram(finite, bins=edges)

    n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    left_out = f"; {n_nan:,} missing and {n_inf:,} infinite left out" if n_nan or n_inf else ""
    return Figure(
        name=f"distribution:{name}",
        title=f"{name}: {finite.size:,} finite values{left_out}",
        kind="hist",
        x_label=name,
        y_label="rows",
        series=[Series("rows", [float(e) for e in edges], [float(c) for c in counts])],
    )


def _level_chart(name: str, series: pd.Series) -> Figure:
    """Rows per level: the most frequent levels, then the rest as ``(other)``, then missing."""
    counts = _level_counts(series)
    top = counts.iloc[:TOP_LEVELS]
    levels = [_shorten(level, LABEL_CHARS) for level in top.index]
    rows = [float(n) for n in top]
    if len(counts) > TOP_LEVELS:
        levels.append(f"{OTHER} {len(counts) - TOP_LEVELS} levels")
        rows.append(float(counts.iloc[TOP_LEVELS:].sum()))
    n_missing = int(series.isna().sum())
    if n_missing:
        levels.append(MISSING)
        rows.append(float(n_missing))

    return Figure(
        name=f"distribution:{name}",
        title=f"{name}: {len(counts):,} levels, rows per level",
        kind="bar",
        x_label=name,
        y_label="rows",
        series=[Series("rows", _unique(levels), rows)],
    )


def _level_counts(series: pd.Series) -> pd.Series:
    """Non-null rows per level, most frequent first, ties in the order of their text."""
    counts = series.dropna().astype(str).value_counts()
    frame = pd.DataFrame({"level": counts.index, "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "level"], ascending=[False, True], kind="stable")
    return pd.Series(frame["n"].to_numpy(), index=frame["level"].to_numpy())


def _profile_findings(profiles: Sequence[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for p in profiles:
        name = p["column"]
        if p["identifier"]:
            findings.append(Finding("info", f"{name}: {p['note']}", name))
        if p["n_missing"] and p["n_distinct"] == 0:
            findings.append(Finding("info", f"{name}: all values missing; not analysed", name))
        elif p["n_distinct"] == 1:
            message = f"{name}: constant (one distinct value); left out of correlations"
            findings.append(Finding("info", message, name))
    return findings


# --- missingness ------------------------------------------------------------------------------


def _missingness(
    frame: pd.DataFrame, profiles: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[Figure]]:
    missing = missing_patterns(frame)
    with_missing = sorted(
        (p for p in profiles if p["n_missing"]), key=lambda p: (-p["n_missing"], p["column"])
    )
    if not with_missing:
        return missing, []

    figure = Figure(
        name="missing:columns",
        title="Missing values per column (share of all rows)",
        kind="bar",
        x_label="column",
        y_label="share of rows",
        series=[
            Series(
                "missing share",
                [p["column"] for p in with_missing],
                [p["missing_share"] for p in with_missing],
            )
        ],
    )
    return missing, [figure]


# --- correlations and associations ------------------------------------------------------------


def _eligible(profiles: Sequence[Mapping[str, Any]], kind: str) -> list[str]:
    return [
        p["column"]
        for p in profiles
        if p["kind"] == kind
        and p["role"] != "target"
        and not p["identifier"]
        and (p["n_distinct"] or 0) >= 2
    ][:MAX_PAIR_COLUMNS]


def _correlations(
    sample: pd.DataFrame, profiles: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Pearson and Spearman for every pair of numeric columns, on pairwise complete rows."""
    names = _eligible(profiles, "numeric")
    if len(names) < 2:
        return []
    positions = {str(c): i for i, c in enumerate(sample.columns)}
    values = np.column_stack([_floats(sample.iloc[:, positions[name]]) for name in names])
    values[np.isinf(values)] = np.nan

    pearson, n_pairs = pairwise_pearson(values)
    spearman = pairwise_spearman(values)
    rows = [
        {
            "column_a": names[i],
            "column_b": names[j],
            "n": int(n_pairs[i, j]),
            "pearson": _finite(pearson[i, j]),
            "spearman": _finite(spearman[i, j]),
        }
        for i, j in itertools.combinations(range(len(names)), 2)
    ]
    return sorted(rows, key=lambda r: -max(abs(r["pearson"] or 0), abs(r["spearman"] or 0)))


def pairwise_pearson(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson's r of every pair of columns on the rows where both are present (not NaN).

    Returns the matrix of r (NaN where a pair has fewer than three rows or no spread) and the
    matrix of row counts. Sums over each pair's rows come from a few matrix products, which is
    much faster than a loop over pairs; the columns are centred first to keep the sums exact.
    """
    present = ~np.isnan(values)
    weights = present.astype(np.float64)
    counts = present.sum(axis=0)
    totals = np.where(present, values, 0.0).sum(axis=0)
    means = np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
    x = np.where(present, values - means, 0.0)

    n = weights.T @ weights
    sums = x.T @ weights  # sums[i, j]: column i summed over the rows where i and j are present
    squares = (x * x).T @ weights
    products = x.T @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = squares - sums**2 / n
        r = (products - sums * sums.T / n) / np.sqrt(spread * spread.T)
    flat = (spread <= SPREAD_EPSILON * squares) | (spread.T <= SPREAD_EPSILON * squares.T)
    r[flat | (n < 3)] = np.nan
    return np.clip(r, -1.0, 1.0), n


def pairwise_spearman(values: np.ndarray) -> np.ndarray:
    """Spearman's rho of every pair of columns, ranked on the rows where both are present.

    This is what ``scipy.stats.spearmanr`` gives on each pair with its missing rows dropped.
    Pairs whose columns are missing in the same rows share one ranking per column; only pairs
    whose missing rows differ are ranked again on their own rows (from each column's sort
    order, computed once).
    """
    present = ~np.isnan(values)
    orders = [np.argsort(values[:, i], kind="stable") for i in range(values.shape[1])]
    ordered = [values[orders[i], i] for i in range(values.shape[1])]
    ranks = np.column_stack(
        [_subset_ranks(ordered[i], orders[i], present[:, i]) for i in range(values.shape[1])]
    )
    rho, n = pairwise_pearson(ranks)

    for i, j in itertools.combinations(range(values.shape[1]), 2):
        keep = present[:, i] & present[:, j]
        if n[i, j] < 3 or (keep == present[:, i]).all() and (keep == present[:, j]).all():
            continue
        rho[i, j] = rho[j, i] = _pearson(
            _subset_ranks(ordered[i], orders[i], keep)[keep],
            _subset_ranks(ordered[j], orders[j], keep)[keep],
        )
    return rho


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of two complete vectors; NaN with fewer than three rows or no spread."""
    # Plain sums rather than BLAS dot products: as fast on one vector, and no thread pool.
    x, y = x - x.mean(), y - y.mean()
    sxx, syy = float((x * x).sum()), float((y * y).sum())
    if x.size < 3 or sxx == 0 or syy == 0:
        return math.nan
    return max(-1.0, min(1.0, float((x * y).sum()) / math.sqrt(sxx * syy)))


def _subset_ranks(ordered: np.ndarray, order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Average ranks of the kept rows of a column (ties share their mean rank), NaN elsewhere.

    ``order`` sorts the column and ``ordered`` is the column in that order, so the kept values
    are already sorted and ranking them needs no new sort.
    """
    kept_in_order = keep[order]
    rows, values = order[kept_in_order], ordered[kept_in_order]
    ranks = np.full(keep.shape, np.nan)
    if rows.size == 0:
        return ranks
    starts_run = np.empty(rows.size, dtype=bool)
    starts_run[0] = True
    starts_run[1:] = values[1:] != values[:-1]
    starts = np.flatnonzero(starts_run)
    ends = np.append(starts[1:], rows.size)
    ranks[rows] = ((starts + ends + 1) / 2)[np.cumsum(starts_run) - 1]
    return ranks


def _associations(
    sample: pd.DataFrame, profiles: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Bias-corrected Cramér's V for every pair of categorical columns with 2 to 50 levels."""
    positions = {str(c): i for i, c in enumerate(sample.columns)}
    coded = {}
    for name in _eligible(profiles, "categorical"):
        codes, levels = pd.factorize(sample.iloc[:, positions[name]].astype(object))
        if len(levels) <= MAX_ASSOCIATION_LEVELS:
            coded[name] = (codes, len(levels))

    rows = []
    for a, b in itertools.combinations(coded, 2):
        (codes_a, k_a), (codes_b, k_b) = coded[a], coded[b]
        keep = (codes_a >= 0) & (codes_b >= 0)
        table = _crosstab(codes_a[keep], k_a, codes_b[keep], k_b)
        rows.append(
            {
                "column_a": a,
                "column_b": b,
                "n": int(keep.sum()),
                "levels_a": k_a,
                "levels_b": k_b,
                "cramers_v": cramers_v_table(table),
            }
        )
    return sorted(rows, key=lambda r: -(r["cramers_v"] or 0))


def _crosstab(codes_x: np.ndarray, k_x: int, codes_y: np.ndarray, k_y: int) -> np.ndarray:
    flat = np.bincount(codes_x * k_y + codes_y, minlength=k_x * k_y)
    return flat.reshape(k_x, k_y)


def _pair_findings(
    correlations: Sequence[Mapping[str, Any]],
    associations: Sequence[Mapping[str, Any]],
    limits: Mapping[str, float],
) -> list[Finding]:
    limit = limits["redundant_correlation"]
    findings = []
    for r in correlations:
        strongest = max(abs(r["pearson"] or 0), abs(r["spearman"] or 0))
        if strongest >= limit:
            message = (
                f"{r['column_a']} and {r['column_b']} are nearly redundant: |correlation| "
                f"{strongest:.3f} >= {limit:g}"
            )
            findings.append(Finding("info", message, f"{r['column_a']} ~ {r['column_b']}"))
    for r in associations:
        if (r["cramers_v"] or 0) >= limit:
            message = (
                f"{r['column_a']} and {r['column_b']} are nearly redundant: Cramér's V "
                f"{r['cramers_v']:.3f} >= {limit:g}"
            )
            findings.append(Finding("info", message, f"{r['column_a']} ~ {r['column_b']}"))
    return findings


def _pair_figures(
    correlations: Sequence[Mapping[str, Any]], associations: Sequence[Mapping[str, Any]]
) -> list[Figure]:
    figures = []
    if correlations:
        top = correlations[:TOP_PAIRS]
        pairs = _pair_labels(top)
        figures.append(
            Figure(
                name="correlation:top_pairs",
                title=f"The {len(top)} most correlated numeric pairs (by largest |r|)",
                kind="bar",
                x_label="pair",
                y_label="correlation",
                series=[
                    Series("Pearson", pairs, [r["pearson"] for r in top]),
                    Series("Spearman", pairs, [r["spearman"] for r in top]),
                ],
            )
        )
    if associations:
        top = associations[:TOP_PAIRS]
        figures.append(
            Figure(
                name="association:top_pairs",
                title=f"The {len(top)} most associated categorical pairs",
                kind="bar",
                x_label="pair",
                y_label="Cramér's V (bias-corrected)",
                series=[Series("Cramér's V", _pair_labels(top), [r["cramers_v"] for r in top])],
            )
        )
    return figures


# --- relation to the label --------------------------------------------------------------------


def _pair_labels(pairs: Sequence[Mapping[str, Any]]) -> list[str]:
    short = PAIR_LABEL_CHARS
    return _unique(
        [f"{_shorten(r['column_a'], short)} ~ {_shorten(r['column_b'], short)}" for r in pairs]
    )


def _label_relation(
    sample: pd.DataFrame,
    profiles: Sequence[Mapping[str, Any]],
    y: np.ndarray | None,
    mode: str | None,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    """Label rate (or target mean) per bin or level, and the univariate strength ranking."""
    out: dict[str, Any] = {"mode": mode, "strength": [], "bins": [], "figures": [], "findings": []}
    if y is None or mode is None:
        return out

    positions = {str(c): i for i, c in enumerate(sample.columns)}
    for p in profiles:
        if p["role"] == "target" or p["identifier"] or not p["n_distinct"]:
            continue
        series = sample.iloc[:, positions[p["column"]]]
        if p["kind"] == "numeric":
            relation = _numeric_relation(p["column"], series, y, mode)
        elif p["kind"] == "categorical":
            relation = _categorical_relation(p["column"], series, y, mode)
        else:
            continue
        out["bins"] += relation["bins"]
        out["strength"].append(relation["strength"])
        out["figures"].append(relation["figure"])

    out["strength"].sort(key=lambda r: -(r["strength"] if r["strength"] is not None else -1))
    out["findings"] += _strength_findings(out["strength"], limits)
    if out["strength"]:
        out["figures"].insert(0, _strength_figure(out["strength"], mode))
    return out


def _label_vector(frame: pd.DataFrame, inp: CheckInput) -> tuple[Any, str | None, Any]:
    """The target as floats (NaN where missing), its mode (``rate`` or ``mean``) and a finding.

    A target with at most two values, or that is not numeric, becomes an indicator of
    ``positive_label`` (mode ``rate``); a numeric target with more values is kept as it is
    (mode ``mean``). No target, or none usable: ``(None, None, finding or None)``.
    """
    if inp.target is None:
        return None, None, None
    target, positive_label = frame[inp.target], inp.positive_label
    name = str(target.name)
    present = target.notna().to_numpy()
    n_distinct = _n_distinct(target) or 0
    if n_distinct == 0:
        return (
            None,
            None,
            Finding("warn", f"target {name}: no value; label relation skipped", name),
        )

    numeric = column_kind(target) == "numeric" and not pd.api.types.is_bool_dtype(target.dtype)
    if numeric and n_distinct > 2:
        return _floats(target), "mean", None

    values = target.to_numpy().astype(object)
    hits = (values == positive_label) & present
    if not hits.any():
        message = (
            f"target {name}: the positive label {positive_label!r} does not occur among its "
            f"{n_distinct} distinct values; set positive_label to relate features to the label"
        )
        return None, None, Finding("warn", message, name)
    return np.where(present, hits.astype(np.float64), np.nan), "rate", None


def _numeric_relation(name: str, series: pd.Series, y: np.ndarray, mode: str) -> dict[str, Any]:
    x = _floats(series)
    keep = np.isfinite(x) & np.isfinite(y)
    x, yk = x[keep], y[keep]
    bins = _quantile_bins(x)
    rows, xs, values = [], [], []
    for i, (low, high, members) in enumerate(bins, start=1):
        centre = float(np.median(x[members]))
        value = float(yk[members].mean())
        rows.append(
            {
                "feature": name,
                "bin": i,
                "lower": low,
                "upper": high,
                "x_median": centre,
                "n": int(members.sum()),
                "value": value,
            }
        )
        xs.append(centre)
        values.append(value)

    statistic, strength = _numeric_strength(x, yk, mode)
    measure = "ROC AUC" if mode == "rate" else "Spearman"
    figure = Figure(
        name=f"label:{name}",
        title=f"{_value_word(mode).capitalize()} by quantile bin of {name}",
        kind="line",
        x_label=f"{name} (median of the bin)",
        y_label=_value_word(mode),
        series=[Series(_value_word(mode), xs, values)],
    )
    return {
        "bins": rows,
        "figure": figure,
        "strength": _strength_row(name, "numeric", measure, statistic, strength, len(x)),
    }


def _quantile_bins(x: np.ndarray) -> list[tuple[float, float, np.ndarray]]:
    """Up to ten bins of about equal size; one bin per value when there are few values."""
    if x.size == 0:
        return []
    distinct = np.unique(x)
    if distinct.size <= LABEL_BINS:
        return [(float(v), float(v), x == v) for v in distinct]
    edges = np.unique(np.quantile(x, np.linspace(0, 1, LABEL_BINS + 1)))
    index = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(edges) - 2)
    return [
        (float(edges[i]), float(edges[i + 1]), index == i)
        for i in range(len(edges) - 1)
        if (index == i).any()
    ]


def _numeric_strength(x: np.ndarray, y: np.ndarray, mode: str) -> tuple[Any, Any]:
    if x.size < 2:
        return None, None
    if mode == "rate":
        auc = roc_auc(x, y)
        return auc, (abs(2 * auc - 1) if auc is not None else None)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    rho = _finite(stats.spearmanr(x, y).statistic)
    return rho, (abs(rho) if rho is not None else None)


def _categorical_relation(
    name: str, series: pd.Series, y: np.ndarray, mode: str
) -> dict[str, Any]:
    keep = np.isfinite(y)
    levels = series.astype(object).where(series.notna(), MISSING).astype(str).to_numpy()[keep]
    yk = y[keep]
    frame = pd.DataFrame({"level": levels, "y": yk})
    grouped = frame.groupby("level", sort=False)["y"].agg(["size", "mean"])
    grouped = grouped.reset_index().sort_values(
        ["size", "level"], ascending=[False, True], kind="stable"
    )
    shown = _top_with_other(grouped)

    rows = [
        {
            "feature": name,
            "bin": level,
            "lower": None,
            "upper": None,
            "x_median": None,
            "n": n,
            "value": value,
        }
        for level, n, value in shown
    ]
    statistic = _categorical_strength(levels, yk, mode, len(grouped))
    measure = "Cramér's V" if mode == "rate" else "correlation ratio"
    figure = Figure(
        name=f"label:{name}",
        title=f"{_value_word(mode).capitalize()} by level of {name}",
        kind="bar",
        x_label=name,
        y_label=_value_word(mode),
        series=[
            Series(
                _value_word(mode),
                _unique([_shorten(r[0], LABEL_CHARS) for r in shown]),
                [r[2] for r in shown],
            )
        ],
    )
    return {
        "bins": rows,
        "figure": figure,
        "strength": _strength_row(name, "categorical", measure, statistic, statistic, len(yk)),
    }


def _top_with_other(grouped: pd.DataFrame) -> list[tuple[str, int, float | None]]:
    """The 20 most frequent levels, the rest pooled as ``(other)``, and ``(missing)`` last."""
    missing = grouped[grouped["level"] == MISSING]
    levels = grouped[grouped["level"] != MISSING]
    shown = [
        (str(r.level), int(r.size), _finite(r.mean)) for r in levels.iloc[:TOP_LEVELS].itertuples()
    ]
    rest = levels.iloc[TOP_LEVELS:]
    if len(rest):
        n_rest = int(rest["size"].sum())
        pooled = float((rest["size"] * rest["mean"]).sum() / n_rest)
        shown.append((f"{OTHER} {len(rest)} levels", n_rest, _finite(pooled)))
    for r in missing.itertuples():
        shown.append((MISSING, int(r.size), _finite(r.mean)))
    return shown


def _categorical_strength(levels: np.ndarray, y: np.ndarray, mode: str, n_levels: int) -> Any:
    if n_levels > MAX_ASSOCIATION_LEVELS or y.size < 2:
        return None
    codes, uniques = pd.factorize(levels)
    if mode == "rate":
        return cramers_v_table(_crosstab(codes, len(uniques), y.astype(np.int64), 2))

    # Correlation ratio: the share of the target's spread that the levels explain, square-rooted.
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return None
    sums = np.bincount(codes, weights=y)
    sizes = np.bincount(codes)
    between = float((sizes * (sums / sizes - y.mean()) ** 2).sum())
    return _finite(math.sqrt(between / total))


def _strength_row(
    name: str, kind: str, measure: str, statistic: Any, strength: Any, n: int
) -> dict[str, Any]:
    return {
        "feature": name,
        "kind": kind,
        "measure": measure,
        "statistic": statistic,
        "strength": strength,
        "n": n,
    }


def _strength_findings(
    ranking: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
) -> list[Finding]:
    limit = limits["leakage_strength"]
    findings = []
    for r in ranking:
        if r["strength"] is None:
            reason = (
                f"more than {MAX_ASSOCIATION_LEVELS} levels"
                if r["kind"] == "categorical"
                else "too few values or a single class"
            )
            message = f"{r['feature']}: univariate strength not computed ({reason})"
            findings.append(Finding("info", message, r["feature"]))
        elif r["strength"] >= limit:
            message = (
                f"{r['feature']} alone separates the label almost perfectly ({r['measure']} "
                f"{r['statistic']:.3f}, strength {r['strength']:.3f} >= {limit:g}); check it "
                f"for leakage: is it known before the outcome?"
            )
            findings.append(Finding("warn", message, r["feature"], r["strength"]))
    return findings


def _strength_figure(ranking: Sequence[Mapping[str, Any]], mode: str) -> Figure:
    what = "|2 AUC - 1| or Cramér's V" if mode == "rate" else "|Spearman| or correlation ratio"
    return Figure(
        name="strength:label",
        title="Univariate strength of each feature for the label",
        kind="bar",
        x_label="feature",
        y_label=what,
        series=[
            Series(
                "strength",
                _unique([_shorten(r["feature"], LABEL_CHARS) for r in ranking]),
                [r["strength"] for r in ranking],
            )
        ],
    )


def _value_word(mode: str | None) -> str:
    return "label rate" if mode == "rate" else "target mean"


# --- sensitive groups -------------------------------------------------------------------------


def _groups(
    frame: pd.DataFrame,
    inp: CheckInput,
    profiles: Sequence[Mapping[str, Any]],
    y: np.ndarray | None,
    mode: str | None,
) -> dict[str, Any]:
    """Exact group sizes and label rates with Wilson intervals, per sensitive attribute."""
    out: dict[str, Any] = {"rows": [], "figures": [], "findings": [], "metrics": {}}
    by_name = {p["column"]: p for p in profiles}

    for attribute in dict.fromkeys(inp.sensitive):
        name = str(attribute)
        if by_name[name]["identifier"]:
            message = f"{name}: sensitive column looks like an identifier; groups not listed"
            out["findings"].append(Finding("info", message, name))
            continue
        labels = group_labels(frame[attribute], name).to_numpy()
        rows = _group_rows(name, labels, y, mode)
        out["rows"] += rows
        out["figures"].append(_group_figure(name, rows, mode))
        out["metrics"].update(_group_metrics(name, rows))
    return out


def _group_rows(
    name: str, labels: np.ndarray, y: np.ndarray | None, mode: str | None
) -> list[dict[str, Any]]:
    rows = []
    for group in sort_groups(labels):
        members = labels == group
        row: dict[str, Any] = {"attribute": name, "group": group, "n": int(members.sum())}
        row["share"] = row["n"] / len(labels)
        row.update(n_labelled=0, value=None, ci_low=None, ci_high=None)
        if y is not None:
            known = y[members][np.isfinite(y[members])]
            row["n_labelled"] = int(known.size)
            row["value"] = _finite(known.mean()) if known.size else None
            if mode == "rate" and known.size:
                row["ci_low"], row["ci_high"] = wilson_interval(int(known.sum()), known.size)
        rows.append(row)
    return rows


def _group_figure(name: str, rows: Sequence[Mapping[str, Any]], mode: str | None) -> Figure:
    groups = [r["group"] for r in rows]
    if mode is None:
        return Figure(
            name=f"groups:{name}",
            title=f"Rows per group of {name}",
            kind="bar",
            x_label=name,
            y_label="rows",
            series=[Series("rows", groups, [float(r["n"]) for r in rows])],
        )
    series = [Series(_value_word(mode), groups, [r["value"] for r in rows])]
    if mode == "rate":
        series += [
            Series("95% Wilson low", groups, [r["ci_low"] for r in rows]),
            Series("95% Wilson high", groups, [r["ci_high"] for r in rows]),
        ]
    return Figure(
        name=f"groups:{name}",
        title=f"{_value_word(mode).capitalize()} per group of {name}",
        kind="scatter",
        x_label=name,
        y_label=_value_word(mode),
        series=series,
    )


def _group_metrics(name: str, rows: Sequence[Mapping[str, Any]]) -> Metrics:
    values = [r["value"] for r in rows if r["value"] is not None]
    return {
        f"{name}.n_groups": len(rows),
        f"{name}.smallest_group": min((r["n"] for r in rows), default=None),
        f"{name}.value_gap": max(values) - min(values) if values else None,
    }


# --- metrics and summary ----------------------------------------------------------------------


def _metrics(
    frame: pd.DataFrame,
    sample: pd.DataFrame,
    profiles: Sequence[Mapping[str, Any]],
    missing: Mapping[str, Any],
    correlations: Sequence[Mapping[str, Any]],
    associations: Sequence[Mapping[str, Any]],
    label: Mapping[str, Any],
) -> Metrics:
    n_rows = len(frame)
    ranked = [r for r in label["strength"] if r["strength"] is not None]
    return {
        "n_rows": n_rows,
        "n_columns": frame.shape[1],
        "sample_rows": len(sample),
        "n_numeric": sum(p["kind"] == "numeric" for p in profiles),
        "n_categorical": sum(p["kind"] == "categorical" for p in profiles),
        "n_identifier_like": sum(bool(p["identifier"]) for p in profiles),
        "n_constant": sum(p["n_distinct"] == 1 for p in profiles),
        "n_all_null": sum(bool(n_rows) and p["n_missing"] == n_rows for p in profiles),
        "n_complete_rows": missing["n_complete_rows"],
        "complete_row_share": missing["n_complete_rows"] / n_rows if n_rows else None,
        "n_missing_patterns": missing["n_patterns"],
        "max_abs_pearson": _max_abs(r["pearson"] for r in correlations),
        "max_abs_spearman": _max_abs(r["spearman"] for r in correlations),
        "max_cramers_v": _max_abs(r["cramers_v"] for r in associations),
        "label_mode": label["mode"],
        "label_overall": label["overall"],
        "top_feature": ranked[0]["feature"] if ranked else None,
        "top_feature_strength": ranked[0]["strength"] if ranked else None,
    }


def _summary(
    frame: pd.DataFrame,
    sample: pd.DataFrame,
    profiles: Sequence[Mapping[str, Any]],
    label: Mapping[str, Any],
) -> str:
    kinds = [p["kind"] for p in profiles]
    n_id = sum(bool(p["identifier"]) for p in profiles)
    text = (
        f"{frame.shape[1]} columns, {len(frame):,} rows ({kinds.count('numeric')} numeric, "
        f"{kinds.count('categorical')} categorical, {n_id} shown as counts only); pairs on "
        f"{len(sample):,} rows"
    )
    ranked = [r for r in label["strength"] if r["strength"] is not None]
    if ranked:
        top = ranked[0]
        text += f"; strongest feature {top['feature']} ({top['measure']} {top['statistic']:.3f})"
    return text


# --- small helpers ----------------------------------------------------------------------------


def _floats(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float).to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True).astype(object)
    return pd.Series(list(values), dtype=object)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _max_abs(values: Any) -> float | None:
    present = [abs(v) for v in values if v is not None]
    return max(present) if present else None


def _shorten(text: Any, limit: int) -> str:
    # Chart labels only: long names squeeze the plot. Tables keep the full text.
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unique(labels: Sequence[str]) -> list[str]:
    """The labels, with a counter added to repeats (shortening can make two labels equal)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _join(first: str | None, second: str) -> str:
    return second if first is None else f"{first}; {second}"


SPEC = CheckSpec(
    name="eda",
    title="Exploratory data analysis",
    function=check_eda,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Distributions, missingness and co-missingness, Pearson/Spearman correlations, "
        "bias-corrected Cramér's V, label rate by feature bin or level with a univariate "
        "strength ranking, and sensitive-group label rates with Wilson intervals. Warns when "
        "one feature alone reaches leakage_strength; pairs use a sample of max_sample_rows."
    ),
)
