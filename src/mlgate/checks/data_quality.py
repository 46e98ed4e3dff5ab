"""Data quality: missing values, mixed types, duplicates, outliers and messy categories.

The check profiles the declared features and the target of ``CheckInput.data`` (every column
when no feature is declared) and looks for:

- missing values: the share of **all rows** that are null, per column;
- mixed types: an object column holding, say, strings and integers; and, in every text
  (object or string) column, the share of non-null values that parse as numbers
  (``pandas.to_numeric`` after trimming spaces). A column where some values parse and others do
  not (``'12'``, ``'7.5'``, ``'N/A'``) is a numeric column stored as text, or codes mixed with
  numbers, and warns;
- duplicate rows: the share of all rows that repeat an earlier row;
- outliers in numeric columns: robust z-score ``0.6745 * (x - median) / MAD`` above 3.5
  (Iglewicz and Hoaglin). When the MAD is 0 (half the values are equal) the IQR fences
  ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]`` are used instead; when the IQR is 0 too, outliers are not
  assessed. Shares are of **non-null** values (the limit applies to that) and of all rows;
- categorical domain: levels below ``rare_level_share`` of the non-null values, and values that
  differ only in case or whitespace (``'A'`` and ``'a '``), counted as the rows that use a
  less common spelling;
- constant and all-null columns, reported as "single value 5.0" or "all null";
- multivariate outliers: an isolation forest (scikit-learn ``IsolationForest``, 100 trees,
  ``contamination='auto'``, ``random_state`` = ``CheckInput.seed``) on the numeric feature
  columns (not the target) with more than two distinct values (binary flags hold no outlying
  value and make a forest on two columns flag ordinary rows). It is fitted on the rows whose
  values in those columns are all finite, sampled with the seed down to
  ``MAX_MULTIVARIATE_ROWS`` rows, and scored on the same rows; a strictly positive, right-skewed
  column is taken on the log scale, as for the per-column rule. Each row gets the anomaly score
  ``s = 2 ** (-E[path length] / c(n))`` of Liu, Ting and Zhou (sklearn's ``-score_samples``);
  a row is an outlier when the robust z-score of its anomaly score, ``0.6745 * (s - median) /
  MAD`` over the scored rows, exceeds ``multivariate_outlier_z`` (default 5). The share of such
  rows fails above ``max_multivariate_outlier_share``. Needs two such columns and
  ``MIN_MULTIVARIATE_ROWS`` complete rows; when the scores have no spread (MAD 0) the share is
  not computed.

  Why not sklearn's own ``predict`` (the ``'auto'`` cut at ``s > 0.5``): on clean data it flags
  7 to 29 % of the rows (Gaussian samples, iris, digits; every row of a frame of small integer
  codes), so any share limit would fail nearly every dataset. A fixed higher cut (``s > 0.65``)
  keeps clean data near 1 % but, in ten dimensions, misses 97 % of 2 % of rows planted far
  from the bulk, since anomaly scores shrink as columns are added. Measured on 5,000-row samples,
  the rule above flags at most 3.6 % of clean rows (2 to 10 Gaussian columns, uniform,
  log-normal, exponential, Student t with 3 degrees of freedom, binary and count columns mixed
  with Gaussian ones, iris, wine, diabetes, breast cancer, digits) and 80 to 100 % of 2 to 20 %
  of rows planted far from the bulk in 3 and 10 dimensions. A tight cluster of 10 % of the
  rows or more is masked, as it is for any isolation forest.

Every share is named after its denominator (``..._of_rows``, ``..._of_non_null``), and every
message says which one it uses. Findings carry counts, column names and shares, never the
values of individual rows, except the one value of a constant column.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

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
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

SKEW_LIMIT = 1.0
ROBUST_Z_LIMIT = 3.5
ROBUST_Z_SCALE = 0.6745  # the normal 0.75 quantile: makes the MAD estimate the standard deviation
IQR_FACTOR = 1.5
PARALLEL_MIN_ROWS = 50_000  # below this, starting threads costs more than it saves
HIGH_CARDINALITY_LEVELS = 50
# Scoring dominates the forest's cost; 20,000 rows estimate an outlier share of 2 % to within
# about +-0.2 percentage points (one standard error 0.1), which is all the verdict needs.
MAX_MULTIVARIATE_ROWS = 20_000
MIN_MULTIVARIATE_ROWS = 100  # below, an isolation forest flags a few % of clean rows by chance

DEFAULTS: dict[str, float] = {
    "max_missing_share": 0.2,
    "max_duplicate_share": 0.01,
    "max_outlier_share": 0.05,
    "rare_level_share": 0.01,
    "max_multivariate_outlier_share": 0.05,
    "multivariate_outlier_z": 5.0,
}


@dataclass(frozen=True)
class DomainResult:
    """How many values of a column fall outside an allowed set, with explicit denominators.

    ``share_of_non_null`` divides by the non-null values and decides ``passed``;
    ``share_of_rows`` divides by all rows. A share with a zero denominator is ``None``.
    """

    n_rows: int
    n_missing: int
    n_unexpected: int
    share_of_non_null: float | None
    share_of_rows: float | None
    missing_share: float | None
    passed: bool


def unexpected_values(values: Any, allowed: Iterable[Any], *, mostly: float = 1.0) -> DomainResult:
    """Count the non-null values outside ``allowed``; pass when the expected share >= ``mostly``.

    Nulls are neither expected nor unexpected: they are left out of the verdict and counted in
    ``missing_share``. A column with no non-null value passes (there is nothing unexpected).
    """
    if not 0.0 <= mostly <= 1.0:
        raise ValidationError(f"mostly must be in [0, 1]; got {mostly}")
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    present = series.notna()
    n_rows, n_non_null = len(series), int(present.sum())

    n_unexpected = int((~series[present].isin(list(allowed))).sum())
    share_non_null = n_unexpected / n_non_null if n_non_null else None
    passed = share_non_null is None or 1.0 - share_non_null >= mostly
    return DomainResult(
        n_rows=n_rows,
        n_missing=n_rows - n_non_null,
        n_unexpected=n_unexpected,
        share_of_non_null=share_non_null,
        share_of_rows=n_unexpected / n_rows if n_rows else None,
        missing_share=(n_rows - n_non_null) / n_rows if n_rows else None,
        passed=passed,
    )


def outlier_fences(values: np.ndarray) -> tuple[float, float, str] | None:
    """Return ``(low, high, method)``: finite values outside ``[low, high]`` are outliers.

    The robust z-score rule ``0.6745 * |x - median| / MAD > 3.5`` is used when the MAD is
    positive (method ``robust_z``), else the IQR fences (method ``iqr``). ``None`` when both the
    MAD and the IQR are 0, or there is no value: no spread is left to measure distance by.

    A strictly positive column with a long right tail (skewness above ``SKEW_LIMIT``, as money
    amounts and durations have) is judged on the log scale (methods ending in ``_log``): on the
    raw scale every large but ordinary amount would count as an outlier.
    """
    return _outlier_fences_sorted(np.sort(values[np.isfinite(values)]))


def _outlier_fences_sorted(ordered: np.ndarray) -> tuple[float, float, str] | None:
    if ordered.size == 0:
        return None
    if ordered[0] > 0 and _skewness(ordered) > SKEW_LIMIT:
        fences = _fences(np.log(ordered))
        if fences is not None:
            low, high, method = fences
            return float(np.exp(low)), float(np.exp(high)), f"{method}_log"
    return _fences(ordered)


def _skewness(values: np.ndarray) -> float:
    deviation = values - values.mean()
    cubed = deviation * deviation
    spread = math.sqrt(float(cubed.mean()))
    if spread == 0:
        return 0.0
    cubed *= deviation
    return float(cubed.mean()) / spread**3


def _fences(ordered: np.ndarray) -> tuple[float, float, str] | None:
    median = _sorted_median(ordered)
    mad = float(np.median(np.abs(ordered - median)))

    if mad > 0:
        reach = ROBUST_Z_LIMIT * mad / ROBUST_Z_SCALE
        return median - reach, median + reach, "robust_z"
    q1, q3 = np.percentile(ordered, [25, 75])
    iqr = float(q3 - q1)
    if iqr > 0:
        return float(q1 - IQR_FACTOR * iqr), float(q3 + IQR_FACTOR * iqr), "iqr"
    return None


def robust_outliers(values: Any) -> np.ndarray | None:
    """Return a mask of the outliers among ``values`` (see :func:`outlier_fences`).

    NaN and infinite values are never outliers here; ``None`` when outliers cannot be assessed.
    """
    array = np.asarray(values, dtype=np.float64)
    fences = outlier_fences(array)
    if fences is None:
        return None
    low, high, _ = fences
    return np.isfinite(array) & ((array < low) | (array > high))


def check_data_quality(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Profile every column of ``inp.data`` and flag quality problems."""
    limits = {**DEFAULTS, **thresholds}
    reject_duplicate_columns(inp.data)
    frame = inp.data[_profiled_columns(inp)]
    n_rows = len(frame)

    started = time.perf_counter()
    spread = [c for c in frame.columns if c != inp.target and has_spread(frame[c])]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="forest") as forest:
        # The forest is mostly Python (holding the GIL) and the profiles mostly NumPy and
        # Arrow (releasing it), so running them side by side uses both cores.
        scored = forest.submit(_multivariate, frame[spread], inp.seed, limits)
        profiles = _profile_all(frame, limits)
        multivariate, multivariate_findings = scored.result()
    findings = [f for p in profiles for f in p.pop("findings")]
    duplicates, duplicate_findings = _duplicates(frame, limits)
    findings = _frame_findings(frame) + duplicate_findings + multivariate_findings + findings
    logger.info(
        "data_quality: profiled %d columns of %d rows in %.2f s",
        frame.shape[1],
        n_rows,
        time.perf_counter() - started,
    )

    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="data_quality",
        status=status,
        summary=_summary(profiles, duplicates, n_rows, limits, findings),
        metrics={**_metrics(profiles, duplicates, n_rows), **multivariate},
        findings=findings,
        figures=_figures(profiles, limits),
        tables={"profile": profiles},
    )


def _profile_all(frame: pd.DataFrame, limits: Mapping[str, float]) -> list[dict[str, Any]]:
    """Profile every column, on all cores when the frame is large enough to pay for it.

    Profiling a column is mostly sorting and counting in NumPy and Arrow, which release the
    GIL, so threads profile columns in parallel without copying the frame. Order is kept.
    """
    n_rows, n_columns = frame.shape
    workers = min(n_columns, os.cpu_count() or 1)
    if workers <= 1 or n_rows < PARALLEL_MIN_ROWS:
        return [_profile(frame.iloc[:, i], n_rows, limits) for i in range(n_columns)]

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quality") as pool:
        return list(
            pool.map(lambda i: _profile(frame.iloc[:, i], n_rows, limits), range(n_columns))
        )


def has_spread(series: pd.Series) -> bool:
    """Whether ``series`` is numeric with more than two distinct finite values.

    Binary flags and constants hold no outlying value, and an isolation forest splitting on
    them gives the rows of a two-column frame spuriously extreme scores. A third distinct value
    exists exactly when some value lies strictly between the minimum and the maximum, which
    needs no sort.
    """
    if column_kind(series) != "numeric":
        return False
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size < 3:
        return False
    low, high = values.min(), values.max()
    return bool(np.any((values > low) & (values < high)))


def reject_duplicate_columns(frame: pd.DataFrame) -> None:
    """Raise :class:`ValidationError` naming every column name that occurs more than once."""
    names = pd.Index(frame.columns)
    if names.has_duplicates:
        repeated = ", ".join(str(n) for n in names[names.duplicated()].unique())
        raise ValidationError(
            f"duplicate column name(s): {repeated}; expected each column name once"
        )


def _profiled_columns(inp: CheckInput) -> list[Any]:
    # Declared features plus the target; columns left out of the features (identifiers,
    # personal data the project excludes) are not profiled. No features declared: every column.
    if not inp.features:
        return list(inp.data.columns)
    columns = list(inp.features)
    if inp.target is not None and inp.target not in columns:
        columns.append(inp.target)

    missing = [str(c) for c in columns if c not in inp.data.columns]
    if missing:
        raise ValidationError(f"column(s) not in the data: {', '.join(missing)}")
    return columns


def _profile(series: pd.Series, n_rows: int, limits: Mapping[str, float]) -> dict[str, Any]:
    name = str(series.name)
    n_missing = int(series.isna().sum())
    profile: dict[str, Any] = {
        "column": name,
        "dtype": str(series.dtype),
        "kind": column_kind(series),
        "n_missing": n_missing,
        "missing_share_of_rows": n_missing / n_rows if n_rows else None,
        "findings": [],
    }

    if profile["kind"] == "numeric":
        profile.update(_numeric_profile(name, series, n_rows, limits))
    elif profile["kind"] == "categorical":
        profile.update(_categorical_profile(name, series, n_rows, limits))
    else:
        profile.update(_other_profile(name, series))

    profile["distinct_with_null"] = _plus_null(profile["distinct"], n_missing)
    profile["findings"] = _column_findings(profile, series, n_rows, limits) + profile["findings"]
    return profile


def _numeric_profile(
    name: str, series: pd.Series, n_rows: int, limits: Mapping[str, float]
) -> dict[str, Any]:
    array = series.to_numpy(dtype=np.float64, na_value=np.nan)
    ordered = np.sort(array[np.isfinite(array)])
    n_pos_inf, n_neg_inf = int(np.isposinf(array).sum()), int(np.isneginf(array).sum())
    has_values = ordered.size > 0

    fences = _outlier_fences_sorted(ordered)
    n_outliers = None
    if fences is not None:
        low, high, method = fences
        above = ordered.size - np.searchsorted(ordered, high, side="right")
        n_outliers = int(np.searchsorted(ordered, low, side="left") + above)
    method = "none" if fences is None else fences[2]

    distinct = int(np.count_nonzero(np.diff(ordered)) + 1) if has_values else 0
    out: dict[str, Any] = {
        "distinct": distinct + (n_pos_inf > 0) + (n_neg_inf > 0),
        "min": float(ordered[0]) if has_values else None,
        "max": float(ordered[-1]) if has_values else None,
        "mean": _finite_or_none(ordered.mean()) if has_values else None,
        "n_infinite": n_pos_inf + n_neg_inf,
        "outlier_method": method,
        "n_outliers": n_outliers,
        "outlier_share_of_non_null": _share(n_outliers, ordered.size),
        "outlier_share_of_rows": _share(n_outliers, n_rows),
        "findings": _outlier_findings(name, n_outliers, ordered.size, n_rows, method, limits),
    }

    if n_outliers is None and distinct > 1:
        message = f"{name}: most values are equal (MAD and IQR are 0); outliers not assessed"
        out["findings"].append(Finding("info", message, name))
    if out["n_infinite"]:
        message = f"{name}: {out['n_infinite']} infinite values, left out of the statistics"
        out["findings"].append(Finding("warn", message, name, out["n_infinite"]))
    return out


def _outlier_findings(
    name: str,
    n_outliers: int | None,
    n_values: int,
    n_rows: int,
    method: str,
    limits: Mapping[str, float],
) -> list[Finding]:
    share = _share(n_outliers, n_values)
    if share is None or share <= limits["max_outlier_share"]:
        return []

    how = "robust z-score > 3.5" if method == "robust_z" else "outside the 1.5 IQR fences"
    message = (
        f"{name}: {n_outliers} outliers ({how}): {share:.1%} of {n_values} non-null values "
        f"(limit {limits['max_outlier_share']:.1%}), {n_outliers / n_rows:.1%} of all "
        f"{n_rows} rows"
    )
    return [Finding("fail", message, name, share)]


def _categorical_profile(
    name: str, series: pd.Series, n_rows: int, limits: Mapping[str, float]
) -> dict[str, Any]:
    try:
        counts = series.value_counts(dropna=True)
    except TypeError:
        message = f"{name}: holds unhashable values (lists or dicts); levels not profiled"
        return {"distinct": None, "findings": [Finding("warn", message, name)]}

    n_non_null = int(counts.sum())
    out: dict[str, Any] = {"distinct": len(counts), "findings": _mixed_types(name, series)}
    out.update(_numbers_in_text(name, series, counts, n_non_null))
    out["findings"] += out.pop("number_findings")
    if len(counts) > HIGH_CARDINALITY_LEVELS and len(counts) > n_non_null / 2:
        message = (
            f"{name}: {len(counts)} distinct values in {n_non_null} non-null values; looks like "
            f"an identifier or free text, so rare levels and spelling variants are not assessed"
        )
        out["findings"].append(Finding("info", message, name, len(counts)))
        return out

    out.update(_rare_levels(name, counts, n_non_null, limits))
    out.update(_variants(name, counts, n_non_null, n_rows))
    out["findings"] += out.pop("rare_findings") + out.pop("variant_findings")
    return out


def _mixed_types(name: str, series: pd.Series) -> list[Finding]:
    if series.dtype != object:
        return []
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if not inferred.startswith("mixed"):
        return []

    types = series.dropna().map(lambda v: type(v).__name__).value_counts()
    described = ", ".join(f"{kind} {n}" for kind, n in types.items())
    message = f"{name}: mixes value types ({described} non-null values)"
    return [Finding("warn", message, name, len(types))]


def _numbers_in_text(
    name: str, series: pd.Series, counts: pd.Series, n_non_null: int
) -> dict[str, Any]:
    """Count the non-null values of a text column that parse as numbers; warn on a mix.

    Parsing runs once per distinct value and is weighted by its count, so a column of a
    million rows with a handful of levels costs a handful of parses.
    """
    out: dict[str, Any] = {"number_findings": []}
    textual = pd.api.types.is_object_dtype(series.dtype) or isinstance(
        series.dtype, pd.StringDtype
    )
    if not textual or not n_non_null:
        return out

    texts = counts.index.to_series(index=range(len(counts))).map(str).str.strip()
    parses = pd.to_numeric(texts, errors="coerce").notna().to_numpy()
    n_numbers = int(counts.to_numpy()[parses].sum())
    share = n_numbers / n_non_null
    out.update({"n_numeric_text": n_numbers, "numeric_share_of_non_null": share})
    if 0 < n_numbers < n_non_null:
        message = (
            f"{name}: {n_numbers} of {n_non_null} non-null values ({share:.1%}) parse as numbers "
            f"and {n_non_null - n_numbers} ({1 - share:.1%}) do not; expected one kind (a "
            f"numeric column stored as text, or codes such as 'N/A' among numbers)"
        )
        out["number_findings"].append(Finding("warn", message, name, share))
    return out


def _rare_levels(
    name: str, counts: pd.Series, n_non_null: int, limits: Mapping[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"n_rare_levels": None, "rare_findings": []}
    if len(counts) < 2:
        return out

    rare = counts[counts / n_non_null < limits["rare_level_share"]]
    out["n_rare_levels"] = len(rare)
    if len(rare):
        message = (
            f"{name}: {len(rare)} rare level(s) below {limits['rare_level_share']:.1%} of "
            f"non-null values, {int(rare.sum())} of {n_non_null} non-null values in all"
        )
        out["rare_findings"].append(Finding("info", message, name, len(rare)))
    return out


def _variants(name: str, counts: pd.Series, n_non_null: int, n_rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n_variant_values": 0,
        "variant_share_of_non_null": 0.0 if n_non_null else None,
        "variant_share_of_rows": 0.0 if n_rows else None,
        "variant_findings": [],
    }
    texts = counts.index.to_series(index=range(len(counts))).map(str)
    keys = texts.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()
    levels = pd.DataFrame({"key": keys.to_numpy(), "n": counts.to_numpy()})
    grouped = levels.groupby("key")["n"].agg(["size", "sum", "max"])
    spelled = grouped[grouped["size"] > 1]
    if spelled.empty:
        return out

    n_variant = int((spelled["sum"] - spelled["max"]).sum())
    out["n_variant_values"] = n_variant
    out["variant_share_of_non_null"] = n_variant / n_non_null
    out["variant_share_of_rows"] = n_variant / n_rows
    message = (
        f"{name}: {len(spelled)} value(s) spelled several ways (case or whitespace); "
        f"{n_variant} values use a less common spelling: {n_variant / n_non_null:.3%} of "
        f"{n_non_null} non-null values, {n_variant / n_rows:.3%} of all {n_rows} rows"
    )
    out["variant_findings"].append(Finding("warn", message, name, n_variant))
    return out


def _other_profile(name: str, series: pd.Series) -> dict[str, Any]:
    try:
        distinct = int(series.nunique(dropna=True))
    except TypeError:
        distinct = None
    return {"distinct": distinct, "findings": []}


def _column_findings(
    profile: Mapping[str, Any], series: pd.Series, n_rows: int, limits: Mapping[str, float]
) -> list[Finding]:
    name, n_missing = profile["column"], profile["n_missing"]
    share = profile["missing_share_of_rows"]
    findings = []
    if share is not None and share > limits["max_missing_share"]:
        message = (
            f"{name}: {n_missing} of {n_rows} rows missing ({share:.1%} of all rows; limit "
            f"{limits['max_missing_share']:.1%})"
        )
        findings.append(Finding("fail", message, name, share))

    if n_rows and n_missing == n_rows:
        findings.append(Finding("warn", f"{name}: all null ({n_rows} of {n_rows} rows)", name))
    elif profile["distinct"] == 1:
        value = _plain(series.dropna().iloc[0])
        message = (
            f"{name}: single value {value} (nulls ignored); {n_missing} of {n_rows} rows are "
            f"null ({share:.1%} of all rows)"
        )
        findings.append(Finding("warn", message, name, value))
    return findings


def _duplicates(
    frame: pd.DataFrame, limits: Mapping[str, float]
) -> tuple[dict[str, Any], list[Finding]]:
    n_rows = len(frame)
    try:
        n_duplicate = count_duplicate_rows(frame)
    except TypeError:
        message = "duplicate rows not counted: some cells hold unhashable values (lists, dicts)"
        return {"duplicate_rows": None, "duplicate_row_share": None}, [Finding("warn", message)]

    share = n_duplicate / n_rows if n_rows else None
    findings = []
    if share is not None and share > limits["max_duplicate_share"]:
        message = (
            f"{n_duplicate} of {n_rows} rows repeat an earlier row ({share:.1%} of all rows; "
            f"limit {limits['max_duplicate_share']:.1%})"
        )
        findings.append(Finding("fail", message, None, share))
    return {"duplicate_rows": n_duplicate, "duplicate_row_share": share}, findings


def count_duplicate_rows(frame: pd.DataFrame) -> int:
    """Return how many rows repeat an earlier row, exactly as ``frame.duplicated()`` counts.

    Rows are hashed first and only rows whose hash repeats are compared in full, which is
    several times faster than ``duplicated`` on a wide frame with few duplicates.
    """
    if frame.shape[1] == 0 or len(frame) == 0:
        return 0
    hashes = pd.util.hash_pandas_object(frame, index=False)
    candidates = hashes.duplicated(keep=False).to_numpy()
    if not candidates.any():
        return 0
    return int(frame[candidates].duplicated(keep="first").sum())


def complete_rows(frame: pd.DataFrame) -> np.ndarray:
    """Return which rows have a finite value in every column, one column at a time."""
    mask = np.ones(len(frame), dtype=bool)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position].to_numpy(dtype=np.float64, na_value=np.nan)
        mask &= np.isfinite(column)
    return mask


def multivariate_outliers(
    frame: pd.DataFrame,
    *,
    seed: int = 0,
    z_limit: float = 5.0,
    max_rows: int = MAX_MULTIVARIATE_ROWS,
) -> dict[str, int | float | None]:
    """Score the complete rows of numeric ``frame`` with an isolation forest (module docstring).

    Returns ``n_complete_rows`` (rows whose values are all finite), ``n_rows_scored`` (those
    rows, sampled with ``seed`` down to ``max_rows``), ``n_outliers`` (scored rows whose
    anomaly score has a robust z-score above ``z_limit``) and ``outlier_share`` (of the scored
    rows); the last two are ``None`` when the scores have no spread. The forest is fitted and
    scored on the same rows, with ``contamination='auto'`` and ``random_state=seed``.
    """
    if not z_limit > 0:
        raise ValidationError(f"z_limit must be > 0; got {z_limit}")
    positions = np.flatnonzero(complete_rows(frame))
    n_complete = positions.size
    if n_complete == 0:
        raise ValidationError("no row has finite values in every numeric column; expected one")

    if n_complete > max_rows:
        rng = np.random.default_rng(seed)
        positions = positions[np.sort(rng.choice(n_complete, size=max_rows, replace=False))]
    # Only the scored rows become a matrix: a whole 1M x 20 float matrix (and its filtered
    # copy) would cost hundreds of MiB for rows the forest never sees.
    values = frame.iloc[positions].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    for j in range(values.shape[1]):
        # The same log scale as the per-column rule: on the raw scale the long tail of an
        # amount would isolate quickly and every large ordinary amount would count.
        if values[:, j].min() > 0 and _skewness(values[:, j]) > SKEW_LIMIT:
            values[:, j] = np.log(values[:, j])
    forest = IsolationForest(contamination="auto", random_state=seed).fit(values)
    scores = -forest.score_samples(values)
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median)))
    found: dict[str, int | float | None] = {
        "n_complete_rows": n_complete,
        "n_rows_scored": len(values),
        "n_outliers": None,
        "outlier_share": None,
    }
    if mad > 0:
        n_outliers = int((ROBUST_Z_SCALE * (scores - median) / mad > z_limit).sum())
        found.update(n_outliers=n_outliers, outlier_share=n_outliers / len(values))
    return found


def _multivariate(
    numeric: pd.DataFrame, seed: int, limits: Mapping[str, float]
) -> tuple[dict[str, float | int | None], list[Finding]]:
    metrics: dict[str, float | int | None] = {
        "multivariate_outlier_share": None,
        "multivariate_outlier_rows": None,
        "multivariate_rows_scored": None,
    }
    n_columns, n_rows = numeric.shape[1], len(numeric)
    if n_columns < 2:
        message = (
            f"multivariate outlier scoring skipped: {n_columns} numeric feature column(s) with "
            f"more than two distinct values, need 2"
        )
        return metrics, [Finding("info", message)]
    complete = int(complete_rows(numeric).sum())
    if complete < MIN_MULTIVARIATE_ROWS:
        message = (
            f"multivariate outlier scoring skipped: {complete} rows have every numeric column "
            f"finite, need {MIN_MULTIVARIATE_ROWS}"
        )
        return metrics, [Finding("info", message, None, complete)]

    z_limit = limits["multivariate_outlier_z"]
    found = multivariate_outliers(numeric, seed=seed, z_limit=z_limit)
    logger.info("data_quality: isolation forest scored %d rows", found["n_rows_scored"])
    return multivariate_findings(found, n_columns, n_rows, z_limit, limits, metrics)


def multivariate_findings(
    found: Mapping[str, Any],
    n_columns: int,
    n_rows: int,
    z_limit: float,
    limits: Mapping[str, float],
    metrics: dict[str, float | int | None],
) -> tuple[dict[str, float | int | None], list[Finding]]:
    """Turn an isolation-forest count (:func:`multivariate_outliers`) into metrics and findings.

    Shared with the out-of-core path, which counts the same way on a sample it draws itself.
    """
    share = found["outlier_share"]
    metrics.update(
        multivariate_outlier_share=share,
        multivariate_outlier_rows=found["n_outliers"],
        multivariate_rows_scored=found["n_rows_scored"],
    )

    findings = []
    if found["n_complete_rows"] < n_rows:
        message = (
            f"multivariate outliers scored on the {found['n_complete_rows']} of {n_rows} rows "
            f"whose {n_columns} numeric columns are all finite"
        )
        findings.append(Finding("info", message, None, found["n_complete_rows"]))
    if share is None:
        message = "multivariate outliers not counted: the isolation-forest scores have no spread"
        findings.append(Finding("info", message))
    elif share > limits["max_multivariate_outlier_share"]:
        message = (
            f"{found['n_outliers']} of {found['n_rows_scored']} scored rows ({share:.1%}) are "
            f"multivariate outliers (robust z-score of the isolation-forest anomaly score > "
            f"{z_limit:g}, over {n_columns} numeric columns); limit "
            f"{limits['max_multivariate_outlier_share']:.1%}"
        )
        findings.append(Finding("fail", message, None, share))
    return metrics, findings


def _frame_findings(frame: pd.DataFrame) -> list[Finding]:
    if frame.shape[1] == 0:
        return [Finding("fail", "the data has no column")]
    if len(frame) == 0:
        return [Finding("fail", f"the data has 0 rows ({frame.shape[1]} columns)")]
    return []


def _metrics(
    profiles: list[dict[str, Any]], duplicates: Mapping[str, Any], n_rows: int
) -> dict[str, float | int | str | None]:
    missing = [
        p["missing_share_of_rows"] for p in profiles if p["missing_share_of_rows"] is not None
    ]
    metrics: dict[str, float | int | str | None] = {
        "n_rows": n_rows,
        "n_columns": len(profiles),
        **duplicates,
        "max_missing_share_of_rows": max(missing) if missing else None,
    }
    for p in profiles:
        metrics[f"{p['column']}.missing_share_of_rows"] = p["missing_share_of_rows"]
        if p["kind"] == "numeric":
            metrics[f"{p['column']}.outlier_share_of_non_null"] = p["outlier_share_of_non_null"]
        if p.get("n_variant_values"):
            metrics[f"{p['column']}.variant_share_of_non_null"] = p["variant_share_of_non_null"]
        if 0 < p.get("numeric_share_of_non_null", 0) < 1:
            metrics[f"{p['column']}.numeric_share_of_non_null"] = p["numeric_share_of_non_null"]
    return metrics


def _summary(
    profiles: list[dict[str, Any]],
    duplicates: Mapping[str, Any],
    n_rows: int,
    limits: Mapping[str, float],
    findings: list[Finding],
) -> str:
    """Return the counts, followed by the first failure (or warning) so the cause is in view."""
    over = sum(
        p["missing_share_of_rows"] is not None
        and p["missing_share_of_rows"] > limits["max_missing_share"]
        for p in profiles
    )
    dup = duplicates["duplicate_rows"]
    counts = (
        f"{len(profiles)} columns, {n_rows} rows: {over} column(s) over the missing limit, "
        f"{'unknown' if dup is None else dup} duplicate row(s)"
    )
    for severity in ("fail", "warn"):
        notable = [f for f in findings if f.severity == severity]
        if notable:
            more = f" (and {len(notable) - 1} more)" if len(notable) > 1 else ""
            return f"{counts}; {severity}: {notable[0].message}{more}"
    return counts


def _figures(profiles: list[dict[str, Any]], limits: Mapping[str, float]) -> list[Figure]:
    numeric = [p for p in profiles if p["kind"] == "numeric"]
    missing = Series(
        "missing share of rows",
        [p["column"] for p in profiles],
        [p["missing_share_of_rows"] for p in profiles],
    )
    outliers = Series(
        "outlier share of non-null values",
        [p["column"] for p in numeric],
        [p["outlier_share_of_non_null"] for p in numeric],
    )
    return [
        Figure(
            "missing_share",
            "Missing values per column (share of all rows)",
            "bar",
            "column",
            "share of rows",
            [missing],
            limits["max_missing_share"],
        ),
        Figure(
            "outlier_share",
            "Outliers per numeric column (share of non-null values)",
            "bar",
            "column",
            "share of non-null values",
            [outliers],
            limits["max_outlier_share"],
        ),
    ]


def _finite_or_none(value: Any) -> float | None:
    # The mean of huge finite values can overflow to infinity; report it as unknown instead.
    number = float(value)
    return number if np.isfinite(number) else None


def _sorted_median(ordered: np.ndarray) -> float:
    middle = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[middle])
    return float(ordered[middle - 1] / 2 + ordered[middle] / 2)


def _share(part: int | None, whole: int) -> float | None:
    if part is None or whole == 0:
        return None
    return part / whole


def _plus_null(distinct: int | None, n_missing: int) -> int | None:
    if distinct is None:
        return None
    return distinct + (1 if n_missing else 0)


def _plain(value: Any) -> float | int | str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | str):
        return value
    return str(value)


SPEC = CheckSpec(
    name="data_quality",
    title="Data quality",
    function=check_data_quality,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Per column: missing share of all rows, mixed types (Python types, and text values "
        "that parse as numbers next to ones that do not), outliers (robust z-score, IQR "
        "fallback) as share of non-null values, rare levels and case/whitespace variants, "
        "constant and all-null columns; the share of duplicate rows; and the share of rows an "
        "isolation forest on the numeric features scores as multivariate outliers."
    ),
)
