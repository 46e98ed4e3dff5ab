"""Leakage: features that hand the model the answer it should predict.

A leaky feature makes a model look excellent in validation and fail in production, because the
information it carries is not there when the prediction is made. The check runs on the training
frame ``CheckInput.data`` (and on ``CheckInput.holdout`` for shared rows) and looks for four
kinds, without fitting a model:

1. **Single-feature predictive power.** The label is reduced to ``positive_label`` against
   anything else. For each feature, the ROC AUC of the feature alone is computed on the rows with
   a label, and its symmetric value ``max(auc, 1 - auc)`` is compared with
   ``max_single_feature_auc`` (a feature that predicts the label in reverse leaks as much).

   - Numeric, boolean, datetime and timedelta features: the rank (Mann-Whitney) AUC of the raw
     values, equal to ``sklearn.metrics.roc_auc_score`` with ties counted half. Missing values
     rank below every value, so a feature whose *missingness* gives the label away is caught too.
     The values are ranked as they are, so an integer code whose high and low values both mean
     the positive class scores lower than it would as a category.
   - Other features (text, category): out-of-fold target-mean encoding. The rows are split into
     5 shuffled folds (``KFold`` with ``CheckInput.seed``); each row is encoded with the share of
     positives of its category in the *other* folds (the overall share there when the category
     does not occur in them), so no row sees its own label. Missing is a category of its own.
     The AUC of the encoded values is then computed as above.

2. **Timestamps recorded after the label.** ``CheckInput`` has no field for the time a label
   became known, so the check uses a naming convention. The label-time column is the first
   column of the frame (a feature or not) whose name, ignoring case, is one of
   ``LABEL_TIME_NAMES`` (``label_time``, ``label_date``, ``outcome_date``...). A feature is a
   timestamp when its dtype is datetime, or when its name ends with ``_at``, ``_date`` or
   ``_time`` and its values are text that parses as dates (a numeric ``response_time`` is a
   duration and is left alone). Naive timestamps are read as UTC. On every row where both are
   present, a feature timestamp strictly later than the label time is a violation: the feature
   was recorded after the outcome. Any violation fails. Without a label-time column this part is
   skipped with an info finding. When no feature is declared, the features are every column but
   the target and the label-time column.

3. **Rows shared between training and hold-out.** The feature columns of both frames are
   concatenated (so equal values get one dtype) and each row is hashed with
   ``pandas.util.hash_pandas_object`` (64-bit; a collision among a million by a million rows has
   a probability near 5e-8). A hold-out row whose hash occurs among the training rows is shared;
   their share of the hold-out rows fails above ``max_shared_row_share``.

4. **Identifiers used as features.** A feature is an identifier when its name holds ``id``,
   ``uuid`` or ``guid`` as a word, or ends with the word ``key``, ``number`` or ``nr``
   (``customer_id``, ``customerId``, ``account_number``; not ``number_of_items``), or when, over
   at least ``MIN_IDENTIFIER_ROWS`` non-null values, its distinct share reaches
   ``min_identifier_distinct_share`` and it is text (identifier or free text) or integer-valued
   with a dense range (``max - min + 1 <= 2 x distinct``, as row numbers are; amounts are not).
   A named identifier with a distinct share below one half is a code such as ``store_id``: it
   warns rather than fails. Boolean, float and datetime values are never identifiers by
   uniqueness alone.

Findings name the feature and the numbers, never the values of individual rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.model_selection import KFold

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series, worst
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

N_FOLDS = 5
MIN_IDENTIFIER_ROWS = 20
CODE_DISTINCT_SHARE = 0.5
LABEL_TIME_NAMES: tuple[str, ...] = (
    "label_time",
    "label_date",
    "label_at",
    "outcome_time",
    "outcome_date",
    "outcome_at",
    "target_time",
    "target_date",
    "target_at",
)
TIMESTAMP_SUFFIXES: tuple[str, ...] = ("_at", "_date", "_time")
_ID_ANYWHERE = frozenset({"id", "uuid", "guid"})
_ID_LAST = frozenset({"key", "number", "nr"})

DEFAULTS: dict[str, float] = {
    "max_single_feature_auc": 0.98,
    "max_shared_row_share": 0.01,
    "min_identifier_distinct_share": 0.95,
}


def check_leakage(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Look for leaky features, late timestamps, shared rows and identifiers (module docstring)."""
    limits = {**DEFAULTS, **thresholds}
    frame = inp.data
    features = _features(inp, frame)
    labelled, y = _binary_label(inp, frame)

    rows = [_feature_row(frame[f], labelled, y, inp.seed, limits) for f in features]
    findings = _label_findings(frame, labelled, y)
    for row in rows:
        findings += row.pop("findings")

    late, late_findings = _late_timestamps(frame, features, rows)
    shared, shared_findings = _shared(frame, inp.holdout, features, limits)
    findings += late_findings + shared_findings
    logger.info("leakage: %d features over %d rows", len(features), len(frame))

    status = worst([f.severity for f in findings if f.severity != "info"])
    metrics = _metrics(rows, len(frame), late, shared)
    return CheckResult(
        check="leakage",
        status=status,
        summary=_summary(rows, metrics),
        metrics=metrics,
        findings=findings,
        figures=[_figure(rows, limits)],
        tables={"features": rows},
    )


def rank_auc(scores: Any, labels: Any) -> float | None:
    """Return the ROC AUC of ``scores`` for binary ``labels`` (1 positive), ties counted half.

    Computed from average ranks (Mann-Whitney U); ``None`` when a class is absent. NaN scores
    rank below every number.
    """
    y = np.asarray(labels, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    values = np.asarray(scores, dtype=np.float64)
    values = np.where(np.isnan(values), -np.inf, values)
    ranks = rankdata(values)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def out_of_fold_encoding(values: Any, labels: Any, *, seed: int = 0) -> np.ndarray:
    """Encode each value by the positive share of its category in the other folds.

    ``values`` are categories (missing is a category of its own), ``labels`` 0/1. The rows are
    split into ``N_FOLDS`` shuffled folds (fewer when there are fewer rows); a category absent
    from the other folds gets their overall positive share.
    """
    codes, _ = pd.factorize(pd.Series(values), use_na_sentinel=False)
    y = np.asarray(labels, dtype=np.float64)
    encoded = np.empty(y.size, dtype=np.float64)
    n_levels = int(codes.max()) + 1 if codes.size else 0
    folds = KFold(n_splits=min(N_FOLDS, y.size), shuffle=True, random_state=seed)

    for fit, held in folds.split(codes):
        sums = np.bincount(codes[fit], weights=y[fit], minlength=n_levels)
        counts = np.bincount(codes[fit], minlength=n_levels)
        seen = counts[codes[held]] > 0
        prior = float(y[fit].mean())
        means = sums[codes[held]] / np.maximum(counts[codes[held]], 1)
        encoded[held] = np.where(seen, means, prior)
    return encoded


def single_feature_auc(values: pd.Series, labels: Any, *, seed: int = 0) -> float | None:
    """Return ``max(auc, 1 - auc)`` of one feature against 0/1 ``labels`` (module docstring).

    ``None`` when a class is absent or there are fewer than two rows.
    """
    y = np.asarray(labels, dtype=np.int64)
    if y.size < 2 or y.min() == y.max():
        return None
    if feature_kind(values) == "numeric":
        auc = rank_auc(_as_numbers(values), y)
    else:
        auc = rank_auc(out_of_fold_encoding(values, y, seed=seed), y)
    return None if auc is None else max(auc, 1.0 - auc)


def feature_kind(values: pd.Series) -> str:
    """Return ``numeric`` (ranked as is) or ``categorical`` (target-encoded) for a feature."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    return "categorical"


def identifier_reason(values: pd.Series, name: str, min_distinct_share: float) -> str | None:
    """Return why ``values`` look like an identifier, or ``None`` (module docstring, part 4)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if identifier_name(name):
        return "its name marks an identifier"

    present = values.dropna()
    if len(present) < MIN_IDENTIFIER_ROWS:
        return None
    share = _distinct_share(present)
    if share is None or share < min_distinct_share:
        return None
    if _is_text(values):
        return f"{share:.1%} of its {len(present)} non-null values are distinct"
    if _dense_integers(present):
        return (
            f"{share:.1%} of its {len(present)} non-null values are distinct integers in a dense "
            f"range"
        )
    return None


def identifier_name(name: str) -> bool:
    """Return whether a column name marks an identifier (``id``, ``uuid``, ``..._number``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    if not words:
        return False
    return bool(_ID_ANYWHERE.intersection(words)) or words[-1] in _ID_LAST


def label_time_column(frame: pd.DataFrame) -> Any | None:
    """Return the first column whose name is one of ``LABEL_TIME_NAMES`` (any case), or None."""
    for column in frame.columns:
        if str(column).lower() in LABEL_TIME_NAMES:
            return column
    return None


def as_timestamps(values: pd.Series, name: str) -> pd.Series | None:
    """Return ``values`` as UTC timestamps, or ``None`` when they are not timestamps.

    Datetime columns are converted (naive read as UTC); text columns whose name ends with a
    ``TIMESTAMP_SUFFIXES`` suffix are parsed, and count as timestamps when at least half of
    their non-null values parse. Any other column is not a timestamp.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.to_datetime(values, utc=True)
    if not _is_text(values) or not str(name).lower().endswith(TIMESTAMP_SUFFIXES):
        return None

    n_present = int(values.notna().sum())
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    if int(parsed.notna().sum()) < n_present:
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    if n_present == 0 or int(parsed.notna().sum()) * 2 < n_present:
        return None
    return parsed


def shared_rows(train: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    """Return a mask over ``holdout``: rows whose values equal a row of ``train``.

    Both frames must have the same columns. They are concatenated before hashing so that a
    column stored as int in one and float in the other still hashes equal values alike.
    """
    both = pd.concat([train, holdout], ignore_index=True)
    hashes = pd.util.hash_pandas_object(both, index=False).to_numpy()
    return np.isin(hashes[len(train) :], hashes[: len(train)])


def _features(inp: CheckInput, frame: pd.DataFrame) -> list[Any]:
    # With no declared features: every column but the target and the label time, which are
    # known only once the outcome is.
    label_time = label_time_column(frame)
    columns = list(inp.features) or [
        c for c in frame.columns if c != inp.target and c != label_time
    ]
    if inp.target in columns:
        raise ValidationError(
            f"the target '{inp.target}' is listed among the features; remove it from features"
        )
    missing = [str(c) for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"feature column(s) not in the data: {', '.join(missing)}")
    return columns


def _binary_label(inp: CheckInput, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the mask of labelled rows and, for them, 1 where the label is ``positive_label``."""
    if inp.target is None or inp.target not in frame.columns:
        raise ValidationError(
            f"the leakage check needs the target column; got {inp.target!r}, which is not in "
            f"the data; set CheckInput.target"
        )
    target = frame[inp.target]
    labelled = target.notna().to_numpy()
    values = target[labelled].to_numpy().astype(object)
    y = (values == inp.positive_label).astype(np.int64)
    if values.size and not y.any():
        known = sorted({str(v) for v in values})[:10]
        raise ValidationError(
            f"positive_label {inp.positive_label!r} does not occur in the target "
            f"'{inp.target}'; its values include {known}"
        )
    return labelled, y


def _label_findings(frame: pd.DataFrame, labelled: np.ndarray, y: np.ndarray) -> list[Finding]:
    findings = []
    n_unlabelled = int((~labelled).sum())
    if n_unlabelled:
        message = (
            f"{n_unlabelled} of {len(frame)} rows have no label and are left out of the "
            f"single-feature AUCs"
        )
        findings.append(Finding("info", message, None, n_unlabelled))
    if y.size < 2 or y.min() == y.max():
        message = (
            f"the {y.size} labelled rows hold a single class; single-feature AUCs are undefined"
        )
        findings.append(Finding("warn", message, None, y.size))
    return findings


def _feature_row(
    values: pd.Series,
    labelled: np.ndarray,
    y: np.ndarray,
    seed: int,
    limits: Mapping[str, float],
) -> dict[str, Any]:
    name = str(values.name)
    row: dict[str, Any] = {
        "feature": name,
        "kind": feature_kind(values),
        "single_feature_auc": None,
        "distinct_share": _distinct_share(values.dropna()),
        "identifier": False,
        "late_timestamp_rows": None,
        "findings": [],
    }
    try:
        row["single_feature_auc"] = single_feature_auc(values[labelled], y, seed=seed)
    except TypeError:
        message = f"{name}: holds unhashable values (lists or dicts); AUC not computed"
        row["findings"].append(Finding("warn", message, name))

    auc, limit = row["single_feature_auc"], limits["max_single_feature_auc"]
    if auc is not None and auc >= limit:
        message = (
            f"feature {name} alone predicts the label (AUC {auc:.3f} >= {limit:g}): likely leakage"
        )
        row["findings"].append(Finding("fail", message, name, auc))

    reason = identifier_reason(values, name, limits["min_identifier_distinct_share"])
    if reason is not None:
        row["identifier"] = True
        row["findings"].append(_identifier_finding(name, reason, row["distinct_share"]))
    return row


def _identifier_finding(name: str, reason: str, distinct_share: float | None) -> Finding:
    if distinct_share is not None and distinct_share < CODE_DISTINCT_SHARE:
        message = (
            f"{name} looks like a code ({reason}, but only {distinct_share:.1%} of its values "
            f"are distinct); keep it as a feature only if the code is a meaningful category"
        )
        return Finding("warn", message, name, distinct_share)
    message = f"identifier {name} is used as a feature ({reason}); remove it from the features"
    return Finding("fail", message, name, distinct_share)


def _late_timestamps(
    frame: pd.DataFrame, features: list[Any], rows: list[dict[str, Any]]
) -> tuple[int | None, list[Finding]]:
    label_column = label_time_column(frame)
    if label_column is None:
        names = ", ".join(LABEL_TIME_NAMES)
        message = f"no label-time column ({names}); feature timestamps not compared with it"
        return None, [Finding("info", message)]
    label_time = as_timestamps(frame[label_column], "label_time")
    if label_time is None:
        message = f"{label_column}: the label-time column does not hold timestamps; not compared"
        return None, [Finding("warn", message, str(label_column))]

    any_late = np.zeros(len(frame), dtype=bool)
    findings = []
    for feature, row in zip(features, rows, strict=True):
        stamps = None if feature == label_column else as_timestamps(frame[feature], feature)
        if stamps is None:
            continue
        # Compare by position: NaT on either side compares False, so it is never a violation.
        later = stamps.reset_index(drop=True) > label_time.reset_index(drop=True)
        late = later.to_numpy(dtype=bool)
        row["late_timestamp_rows"] = int(late.sum())
        any_late |= late
        if late.any():
            message = (
                f"feature {feature} is later than the label time {label_column} on "
                f"{int(late.sum())} of {len(frame)} rows ({late.mean():.1%}): it was recorded "
                f"after the outcome; likely leakage"
            )
            findings.append(Finding("fail", message, str(feature), int(late.sum())))
    return int(any_late.sum()), findings


def _shared(
    frame: pd.DataFrame,
    holdout: pd.DataFrame | None,
    features: list[Any],
    limits: Mapping[str, float],
) -> tuple[dict[str, int | float | None], list[Finding]]:
    empty: dict[str, int | float | None] = {"shared_rows": None, "shared_row_share": None}
    if holdout is None:
        return empty, [Finding("info", "no hold-out frame given; shared rows not checked")]
    missing = [str(c) for c in features if c not in holdout.columns]
    if missing:
        raise ValidationError(f"feature column(s) not in the hold-out data: {', '.join(missing)}")
    if len(holdout) == 0 or not features:
        return empty, [Finding("info", "the hold-out frame has no row; shared rows not checked")]

    try:
        mask = shared_rows(frame[features], holdout[features])
    except TypeError:
        message = "shared rows not counted: some cells hold unhashable values (lists, dicts)"
        return empty, [Finding("warn", message)]
    count, share = int(mask.sum()), float(mask.mean())
    limit = limits["max_shared_row_share"]
    message = (
        f"{count} of {len(holdout)} hold-out rows ({share:.1%}) also occur in the training data "
        f"(same feature values; limit {limit:.1%})"
    )
    severity = "fail" if share > limit else "info"
    findings = [Finding(severity, message, None, share)] if count else []
    return {"shared_rows": count, "shared_row_share": share}, findings


def _metrics(
    rows: list[dict[str, Any]],
    n_rows: int,
    late: int | None,
    shared: Mapping[str, int | float | None],
) -> dict[str, float | int | str | None]:
    aucs = [r["single_feature_auc"] for r in rows if r["single_feature_auc"] is not None]
    metrics: dict[str, float | int | str | None] = {
        "n_rows": n_rows,
        "n_features": len(rows),
        "max_single_feature_auc": max(aucs) if aucs else None,
        "n_identifier_features": sum(r["identifier"] for r in rows),
        "late_timestamp_rows": late,
        **shared,
    }
    for row in rows:
        metrics[f"{row['feature']}.single_feature_auc"] = row["single_feature_auc"]
        metrics[f"{row['feature']}.distinct_share"] = row["distinct_share"]
        if row["late_timestamp_rows"] is not None:
            metrics[f"{row['feature']}.late_timestamp_rows"] = row["late_timestamp_rows"]
    return metrics


def _summary(rows: list[dict[str, Any]], metrics: Mapping[str, Any]) -> str:
    best = max(
        (r for r in rows if r["single_feature_auc"] is not None),
        key=lambda r: r["single_feature_auc"],
        default=None,
    )
    auc = "n/a" if best is None else f"{best['single_feature_auc']:.3f} ({best['feature']})"
    late = metrics["late_timestamp_rows"]
    shared = metrics["shared_rows"]
    return (
        f"{len(rows)} features: highest single-feature AUC {auc}; "
        f"{metrics['n_identifier_features']} identifier(s); "
        f"{'n/a' if late is None else late} row(s) with a timestamp after the label; "
        f"{'n/a' if shared is None else shared} hold-out row(s) shared with training"
    )


def _figure(rows: list[dict[str, Any]], limits: Mapping[str, float]) -> Figure:
    return Figure(
        name="single_feature_auc",
        title="ROC AUC of each feature alone (leakage limit as the line)",
        kind="bar",
        x_label="feature",
        y_label="max(AUC, 1 - AUC)",
        series=[
            Series(
                "single-feature AUC",
                [r["feature"] for r in rows],
                [r["single_feature_auc"] for r in rows],
            )
        ],
        threshold=limits["max_single_feature_auc"],
    )


def _as_numbers(values: pd.Series) -> np.ndarray:
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = pd.to_datetime(values, utc=True)
        return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return values.dt.total_seconds().to_numpy(np.float64)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _distinct_share(present: pd.Series) -> float | None:
    if len(present) == 0:
        return None
    try:
        return int(present.nunique()) / len(present)
    except TypeError:
        return None


def _is_text(values: pd.Series) -> bool:
    dtype = values.dtype
    textual = isinstance(dtype, pd.StringDtype | pd.CategoricalDtype)
    return textual or pd.api.types.is_object_dtype(dtype)


def _dense_integers(present: pd.Series) -> bool:
    dtype = present.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return False
    numbers = present.to_numpy(dtype=np.float64)
    if not np.isfinite(numbers).all() or not np.array_equal(numbers, np.round(numbers)):
        return False
    n_distinct = np.unique(numbers).size
    return float(numbers.max() - numbers.min() + 1) <= 2 * n_distinct


SPEC = CheckSpec(
    name="leakage",
    title="Data leakage",
    function=check_leakage,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Per feature: ROC AUC of the feature alone against the label (rank AUC for numbers, "
        "out-of-fold target encoding for categories), failing at max_single_feature_auc; "
        "feature timestamps later than a label-time column (label_time, outcome_date...); "
        "hold-out rows whose feature values also occur in training, failing above "
        "max_shared_row_share; and identifiers used as features (by name, or near-unique "
        "text or dense integers)."
    ),
    needs_holdout=True,
)
