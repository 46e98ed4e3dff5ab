"""Group sizes: is every group of a sensitive attribute large enough to judge?

A fairness metric over a group of twelve people says little. This check counts the rows of every
group of each sensitive attribute, and of every pair of attributes (intersectional groups such as
``sex=f & age=60+``), and flags groups that are too small in absolute size (fail) or in share of
all rows (warn). Only combinations that occur in the data are listed.

Grouping rules, shared with the fairness check through :func:`group_labels`:

- a missing value becomes its own group, ``(missing)``, so no row is ever dropped;
- a numeric attribute with more than ten distinct values is binned: an attribute whose name
  contains the word ``age`` (``age``, ``Age``, ``applicant_age``) into ``<25``, ``25-39``,
  ``40-59`` and ``60+``; any other into quartiles of its own values, labelled ``Q1 <=a``,
  ``Q2 (a, b]``, ``Q3 (b, c]``, ``Q4 >c`` (fewer when ties merge quartiles; the minimum and
  maximum never appear in a label, since each is one person's value);
- any other value is its own group, labelled by its text.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlgate.checks.base import CheckInput, CheckResult, CheckSpec, Figure, Finding, Series, worst
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

MISSING = "(missing)"
MAX_CATEGORIES = 10
AGE_BINS: tuple[tuple[float, str], ...] = ((25, "<25"), (40, "25-39"), (60, "40-59"))
AGE_TOP = "60+"
_AGE_ORDER = tuple(label for _, label in AGE_BINS) + (AGE_TOP,)
_AGE_NAME = re.compile(r"(^|[^a-z])age([^a-z]|$)")

DEFAULTS: dict[str, float] = {"min_group_size": 30, "min_group_share": 0.05}


def group_labels(values: Any, name: str | None = None) -> pd.Series:
    """Return one text label per row: the group each row belongs to (see the module rules).

    ``values`` may be a list, a numpy array or a pandas Series; the result is an object Series
    with a fresh 0..n-1 index, identical for all three.
    """
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    labels = pd.Series(MISSING, index=series.index, dtype=object)
    present = series.notna().to_numpy()
    if not present.any():
        return labels

    kept = series[present]
    if _is_numeric(kept) and kept.nunique() > MAX_CATEGORIES:
        numbers = kept.to_numpy(dtype=np.float64)
        binned = _age_bins(numbers) if looks_like_age(name) else _quartile_bins(numbers)
        labels[present] = binned
    elif _is_numeric(kept):
        labels[present] = [_number_text(v) for v in kept.to_numpy()]
    else:
        labels[present] = kept.astype(str).to_numpy(dtype=object)
    return labels


def looks_like_age(name: str | None) -> bool:
    """Return whether a column name holds the word ``age`` (so fixed age bands apply)."""
    return name is not None and _AGE_NAME.search(str(name).lower()) is not None


def sort_groups(labels: Any) -> list[str]:
    """Return the distinct group labels in reading order: age bands by age, missing last."""
    return sorted({str(label) for label in labels}, key=_sort_key)


def check_group_sizes(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Count every group and intersectional pair of groups of the sensitive attributes."""
    limits = {**DEFAULTS, **thresholds}
    attributes = require_sensitive(inp, inp.data)
    n_rows = len(inp.data)
    labels = {a: group_labels(inp.data[a], a) for a in attributes}

    rows: list[dict[str, Any]] = []
    for attribute in attributes:
        rows += _group_rows(attribute, labels[attribute], n_rows, limits)
    for first, second in itertools.combinations(attributes, 2):
        pair = labels[first] + " & " + labels[second]
        rows += _group_rows(f"{first} & {second}", pair, n_rows, limits, intersectional=True)
    logger.info("group_sizes: %d groups over %d attributes", len(rows), len(attributes))

    findings = _findings(rows, n_rows, limits)
    status = worst([f.severity for f in findings if f.severity != "info"])
    return CheckResult(
        check="group_sizes",
        status=status,
        summary=_summary(rows, n_rows, limits),
        metrics=_metrics(rows, n_rows),
        findings=findings,
        figures=[_figure(a, rows, limits) for a in attributes],
        tables={"groups": rows},
    )


def require_sensitive(inp: CheckInput, frame: pd.DataFrame) -> list[str]:
    """Return the sensitive attributes, each present in ``frame``; raise if there are none."""
    attributes = list(inp.sensitive)
    if not attributes:
        raise ValidationError(
            "no sensitive attribute declared (CheckInput.sensitive is empty); expected at "
            "least one column such as sex or age"
        )
    missing = [str(a) for a in attributes if a not in frame.columns]
    if missing:
        raise ValidationError(f"sensitive column(s) not in the data: {', '.join(missing)}")
    return attributes


def _group_rows(
    attribute: str,
    labels: pd.Series,
    n_rows: int,
    limits: Mapping[str, float],
    intersectional: bool = False,
) -> list[dict[str, Any]]:
    """Return one row per group; a small group fails, a small intersectional group warns.

    Intersections of two attributes are always thinner than the attributes themselves; a small
    one means per-intersection metrics cannot be trusted, not that the data are unusable.
    """
    counts = labels.value_counts(sort=False)
    counts = counts.reindex(sort_groups(counts.index))
    rows = []
    for group, size in counts.items():
        share = size / n_rows
        status = "pass"
        if size < limits["min_group_size"]:
            status = "warn" if intersectional else "fail"
        elif share < limits["min_group_share"]:
            status = "warn"
        rows.append(
            {
                "attribute": attribute,
                "group": str(group),
                "size": int(size),
                "share": float(share),
                "status": status,
            }
        )
    return rows


def _findings(
    rows: list[dict[str, Any]], n_rows: int, limits: Mapping[str, float]
) -> list[Finding]:
    findings = []
    for row in rows:
        where = f"{row['attribute']}: group '{row['group']}'"
        if row["size"] < limits["min_group_size"]:
            message = f"{where} has {row['size']} rows (< {limits['min_group_size']:g})"
            if row["status"] == "warn":
                message += "; too few to estimate metrics for this intersection"
            findings.append(Finding(row["status"], message, row["attribute"], row["size"]))
        elif row["status"] == "warn":
            message = (
                f"{where} holds {row['share']:.1%} of {n_rows} rows "
                f"(< {limits['min_group_share']:.1%})"
            )
            findings.append(Finding("warn", message, row["attribute"], row["share"]))
        if row["group"] == MISSING:
            message = f"{row['attribute']}: {row['size']} rows have no value; kept as '{MISSING}'"
            findings.append(Finding("info", message, row["attribute"], row["size"]))
    return findings


def _metrics(rows: list[dict[str, Any]], n_rows: int) -> dict[str, float | int | str | None]:
    metrics: dict[str, float | int | str | None] = {"n_rows": n_rows}
    for attribute in dict.fromkeys(r["attribute"] for r in rows):
        mine = [r for r in rows if r["attribute"] == attribute]
        smallest = min(mine, key=lambda r: r["size"])
        metrics[f"{attribute}.n_groups"] = len(mine)
        metrics[f"{attribute}.smallest_group_size"] = smallest["size"]
        metrics[f"{attribute}.smallest_group_share"] = smallest["share"]
    return metrics


def _summary(rows: list[dict[str, Any]], n_rows: int, limits: Mapping[str, float]) -> str:
    small = sum(r["size"] < limits["min_group_size"] for r in rows)
    thin = sum(r["status"] == "warn" and r["size"] >= limits["min_group_size"] for r in rows)
    return (
        f"{len(rows)} groups over {n_rows} rows: {small} below {limits['min_group_size']:g} rows, "
        f"{thin} below {limits['min_group_share']:.0%} of rows"
    )


def _figure(attribute: str, rows: list[dict[str, Any]], limits: Mapping[str, float]) -> Figure:
    mine = [r for r in rows if r["attribute"] == attribute]
    return Figure(
        name=f"group_sizes_{attribute}",
        title=f"Rows per group of {attribute} (minimum size as the line)",
        kind="bar",
        x_label=str(attribute),
        y_label="rows",
        series=[Series("rows", [r["group"] for r in mine], [float(r["size"]) for r in mine])],
        threshold=limits["min_group_size"],
    )


def _is_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _number_text(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _age_bins(values: np.ndarray) -> np.ndarray:
    labels = np.full(values.shape, AGE_TOP, dtype=object)
    for bound, label in reversed(AGE_BINS):
        labels[values < bound] = label
    return labels


def _quartile_bins(values: np.ndarray) -> np.ndarray:
    edges = np.unique(np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0]))
    index = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, len(edges) - 2)
    return np.asarray(_quartile_names(edges), dtype=object)[index]


def _quartile_names(edges: np.ndarray) -> list[str]:
    # The outer bins are named by their inner edge only: the minimum and maximum are the values
    # of single people (the oldest, the richest) and must not appear in a group label.
    last = len(edges) - 2
    if last == 0:
        return ["Q1 (all)"]
    names = [f"Q1 <={edges[1]:g}"]
    names += [f"Q{i + 1} ({edges[i]:g}, {edges[i + 1]:g}]" for i in range(1, last)]
    return [*names, f"Q{last + 1} >{edges[last]:g}"]


def _sort_key(label: Any) -> tuple[int, str]:
    # Age bands sort by age, not alphabetically ("<25" would come last); missing goes last.
    text = str(label)
    for rank, band in enumerate(_AGE_ORDER):
        text = text.replace(band, f"\x00{rank}")
    return (1 if MISSING in str(label) else 0, text)


SPEC = CheckSpec(
    name="group_sizes",
    title="Sizes of sensitive groups",
    function=check_group_sizes,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Rows per group of each sensitive attribute and per pair of attributes; groups below "
        "min_group_size fail, groups below min_group_share of the rows warn. Missing values "
        "form their own group; numeric attributes are binned (age bands or quartiles)."
    ),
)
