"""Labels: are the answers the model learns from complete, balanced and consistent?

The check reads the target column of ``CheckInput.data`` and computes:

- **missing labels**: rows whose target is null. A training row without an answer is dropped
  silently by most libraries, so any fails;
- **class balance**: the count and share of each class among the labelled rows, and the share
  of the smallest class (the *minority share*). It warns below ``min_minority_share`` and fails
  below ``fail_minority_share``: with a rare class, accuracy says little and the minority class
  may never be predicted. A single class fails (a classifier needs two);
- **conflicting labels**: groups of labelled rows with identical values in every feature column
  but different labels. Rows are grouped by a 64-bit hash of their feature values
  (``pandas.util.hash_pandas_object``; missing values compare equal). The rows of such groups,
  as a share of the labelled rows, warn above ``max_conflict_share``: either the features miss
  something that decides the label, or some labels are wrong.

The features are the declared ones, else every column but the target. A numeric target with
non-integer values or more than ``MAX_CLASSES`` distinct values is a regression target: class
balance and conflicts are then not assessed (equal inputs with different continuous outcomes are
expected noise) and an info finding says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series, worst
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

MAX_CLASSES = 50

DEFAULTS: dict[str, float] = {
    "min_minority_share": 0.05,
    "fail_minority_share": 0.01,
    "max_conflict_share": 0.01,
}


def check_labels(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Count missing labels, the class balance and conflicting labels (module docstring)."""
    limits = {**DEFAULTS, **thresholds}
    target, features = _columns(inp)
    labels = inp.data[target]
    n_rows = len(labels)
    n_missing = int(labels.isna().sum())
    labelled = labels.notna().to_numpy()

    findings = _missing_findings(target, n_missing, n_rows)
    classes: list[dict[str, Any]] = []
    conflicts: dict[str, int | float | None] = {
        "conflict_groups": None,
        "conflict_rows": None,
        "conflict_share": None,
    }
    if is_continuous(labels[labelled]):
        message = (
            f"{target}: numeric target with {labels.nunique()} distinct values (continuous); "
            f"class balance and conflicting labels not assessed"
        )
        findings.append(Finding("info", message, target))
    else:
        classes = class_counts(labels)
        findings += _balance_findings(target, classes, limits)
        conflicts, conflict_findings = _conflicts(inp.data, features, labelled, target, limits)
        findings += conflict_findings
    logger.info("labels: %d rows, %d classes", n_rows, len(classes))

    metrics = _metrics(n_rows, n_missing, classes, conflicts)
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="labels",
        status=status,
        summary=_summary(target, metrics, classes),
        metrics=metrics,
        findings=findings,
        figures=[_figure(target, classes)] if classes else [],
        tables={"classes": classes},
    )


def class_counts(labels: pd.Series) -> list[dict[str, Any]]:
    """Return one row per class of the non-null ``labels``: label text, count and share.

    Rows come in the order of the label text, so two runs list the classes alike.
    """
    counts = labels.value_counts(dropna=True)
    total = int(counts.sum())
    rows = [
        {"label": str(label), "count": int(count), "share": int(count) / total}
        for label, count in counts.items()
    ]
    return sorted(rows, key=lambda r: r["label"])


def is_continuous(labels: pd.Series) -> bool:
    """Return whether non-null ``labels`` look like a regression target (module docstring)."""
    dtype = labels.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return False
    values = labels.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return False
    return not np.array_equal(values, np.round(values)) or np.unique(values).size > MAX_CLASSES


def conflicting_groups(features: pd.DataFrame, labels: pd.Series) -> tuple[int, int]:
    """Return ``(groups, rows)``: feature-identical groups with more than one distinct label.

    ``features`` and ``labels`` hold the same rows, labels without nulls.
    """
    hashes = pd.util.hash_pandas_object(features, index=False).to_numpy()
    pairs = pd.DataFrame({"row": hashes, "label": labels.to_numpy()})
    distinct = pairs.groupby("row", sort=False)["label"].nunique()
    conflicted = distinct.index[distinct.to_numpy() > 1]
    rows = int(pairs["row"].isin(conflicted).sum())
    return len(conflicted), rows


def _columns(inp: CheckInput) -> tuple[str, list[Any]]:
    frame = inp.data
    if inp.target is None or inp.target not in frame.columns:
        raise ValidationError(
            f"the labels check needs the target column; got {inp.target!r}, which is not in the "
            f"data; set CheckInput.target"
        )
    features = list(inp.features) or [c for c in frame.columns if c != inp.target]
    missing = [str(c) for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(f"feature column(s) not in the data: {', '.join(missing)}")
    return inp.target, [c for c in features if c != inp.target]


def _missing_findings(target: str, n_missing: int, n_rows: int) -> list[Finding]:
    if n_rows == 0:
        return [Finding("fail", f"{target}: the data has 0 rows", target)]
    if not n_missing:
        return []
    message = (
        f"{target}: {n_missing} of {n_rows} rows have no label ({n_missing / n_rows:.1%} of all "
        f"rows); expected none"
    )
    return [Finding("fail", message, target, n_missing)]


def _balance_findings(
    target: str, classes: list[dict[str, Any]], limits: Mapping[str, float]
) -> list[Finding]:
    if not classes:
        return []
    if len(classes) == 1:
        message = (
            f"{target}: every labelled row has the class '{classes[0]['label']}'; a classifier "
            f"needs at least two classes"
        )
        return [Finding("fail", message, target, 1)]

    smallest = min(classes, key=lambda r: r["count"])
    share = smallest["share"]
    total = sum(r["count"] for r in classes)
    where = (
        f"{target}: the smallest class '{smallest['label']}' has {smallest['count']} of {total} "
        f"labelled rows ({share:.2%})"
    )
    if share < limits["fail_minority_share"]:
        message = f"{where}; below {limits['fail_minority_share']:.1%}"
        return [Finding("fail", message, target, share)]
    if share < limits["min_minority_share"]:
        message = f"{where}; below {limits['min_minority_share']:.1%}"
        return [Finding("warn", message, target, share)]
    return []


def _conflicts(
    frame: pd.DataFrame,
    features: list[Any],
    labelled: np.ndarray,
    target: str,
    limits: Mapping[str, float],
) -> tuple[dict[str, int | float | None], list[Finding]]:
    empty: dict[str, int | float | None] = {
        "conflict_groups": None,
        "conflict_rows": None,
        "conflict_share": None,
    }
    n_labelled = int(labelled.sum())
    if not features or n_labelled == 0:
        message = "no feature column or no labelled row; conflicting labels not assessed"
        return empty, [Finding("info", message)]
    try:
        groups, rows = conflicting_groups(frame.loc[labelled, features], frame[target][labelled])
    except TypeError:
        message = "conflicting labels not counted: some cells hold unhashable values (lists)"
        return empty, [Finding("warn", message)]

    share = rows / n_labelled
    found: dict[str, int | float | None] = {
        "conflict_groups": groups,
        "conflict_rows": rows,
        "conflict_share": share,
    }
    if share <= limits["max_conflict_share"]:
        return found, []
    message = (
        f"{groups} group(s) of rows with identical features have different labels: {rows} of "
        f"{n_labelled} labelled rows ({share:.1%}; limit {limits['max_conflict_share']:.1%})"
    )
    return found, [Finding("warn", message, None, share)]


def _metrics(
    n_rows: int,
    n_missing: int,
    classes: list[dict[str, Any]],
    conflicts: Mapping[str, int | float | None],
) -> dict[str, float | int | str | None]:
    minority = min((r["share"] for r in classes), default=None) if len(classes) > 1 else None
    metrics: dict[str, float | int | str | None] = {
        "n_rows": n_rows,
        "missing_labels": n_missing,
        "missing_label_share": n_missing / n_rows if n_rows else None,
        "n_classes": len(classes),
        "minority_share": minority,
        **conflicts,
    }
    for row in classes:
        metrics[f"class.{row['label']}.share"] = row["share"]
    return metrics


def _summary(target: str, metrics: Mapping[str, Any], classes: list[dict[str, Any]]) -> str:
    minority = metrics["minority_share"]
    conflicts = metrics["conflict_rows"]
    return (
        f"{target}: {metrics['n_rows']} rows, {metrics['missing_labels']} without a label, "
        f"{len(classes)} class(es), smallest class "
        f"{'n/a' if minority is None else f'{minority:.1%}'}, "
        f"{'n/a' if conflicts is None else conflicts} row(s) with conflicting labels"
    )


def _figure(target: str, classes: list[dict[str, Any]]) -> Figure:
    return Figure(
        name="class_counts",
        title=f"Rows per class of {target}",
        kind="bar",
        x_label=str(target),
        y_label="rows",
        series=[
            Series("rows", [r["label"] for r in classes], [float(r["count"]) for r in classes])
        ],
    )


SPEC = CheckSpec(
    name="labels",
    title="Labels",
    function=check_labels,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Missing labels (any fails); class balance as the share of the smallest class (warn "
        "below min_minority_share, fail below fail_minority_share); and conflicting labels, "
        "rows with identical features but different labels, warning above max_conflict_share."
    ),
)
