"""Render the exploratory data analysis of a dataset (the ``eda`` check) as one HTML page.

The page reads offline, like the governance report: CSS is inline, every chart is an inline
SVG drawn by :func:`~mlgate.reports.charts.figure_to_svg`, there is no script, and every text
from the data (column names, levels) goes through Jinja2's autoescaping. It has a table of
contents, a dataset header (name, sha256, rows, columns) and one section per part of the
analysis: columns and their distributions, missing values, correlations, categorical
associations, relation to the label, and sensitive groups.

The check's result carries figures by name (``distribution:<column>``, ``label:<column>``,
``groups:<attribute>`` and a few fixed names); :func:`build_eda_context` places each figure in
its section, and draws any figure it does not recognise at the end, so every figure of the
result appears exactly once.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mlgate import __version__
from mlgate.checks.base import CheckResult
from mlgate.errors import GovernanceError, ValidationError
from mlgate.reports.charts import figure_to_svg
from mlgate.reports.files import template_environment, write_text_atomic
from mlgate.reports.html import format_text, format_value

logger = logging.getLogger(__name__)

TEMPLATE = "eda.html.j2"
DATASET_KEYS = ("name", "sha256", "n_rows", "n_cols", "uri")
MAX_MATRIX_COLUMNS = 25
MAX_PAIR_ROWS = 30
MISSING = "—"
OVERVIEW_METRICS = (
    ("n_rows", "Rows"),
    ("n_columns", "Columns analysed"),
    ("sample_rows", "Rows in the sample for pairs and the label relation"),
    ("n_numeric", "Numeric columns"),
    ("n_categorical", "Categorical columns"),
    ("n_identifier_like", "Columns shown as counts only"),
    ("n_constant", "Constant columns"),
    ("n_all_null", "All-null columns"),
    ("n_complete_rows", "Rows with no missing value"),
    ("n_missing_patterns", "Distinct missing-value patterns"),
    ("label_overall", "Label rate (or target mean)"),
    ("top_feature", "Strongest single feature"),
)
COLUMN_FIELDS = (
    ("column", "Column"),
    ("role", "Role"),
    ("kind", "Kind"),
    ("n_missing", "Missing"),
    ("missing_share", "Missing share"),
    ("n_distinct", "Distinct"),
    ("n_infinite", "Infinite"),
    ("mean", "Mean"),
    ("std", "Std"),
    ("min", "Min"),
    ("median", "Median"),
    ("max", "Max"),
)


def render_eda(
    result: CheckResult | Mapping[str, Any], title: str, dataset: Mapping[str, Any]
) -> str:
    """Return the exploratory analysis ``result`` as one self-contained HTML page.

    Parameters
    ----------
    result
        The ``eda`` check's result, or the dict that ``CheckResult.to_dict()`` stores.
    title
        The page heading, for instance the project or dataset name.
    dataset
        The dataset header: ``name``, ``sha256``, ``n_rows``, ``n_cols`` and optionally
        ``uri``. Missing rows and columns are taken from the result's metrics.

    Returns
    -------
    str
        The HTML document. It references no external resource and holds no script.

    Raises
    ------
    ValidationError
        When ``result`` is not the result of the ``eda`` check.
    """
    context = build_eda_context(result, title, dataset)
    html = _environment().get_template(TEMPLATE).render(**context)
    logger.debug("rendered EDA report %s: %d bytes", title, len(html))
    return html


def write_eda(
    result: CheckResult | Mapping[str, Any],
    title: str,
    dataset: Mapping[str, Any],
    path: str | os.PathLike[str],
) -> Path:
    """Render the page and write it to ``path`` (UTF-8), replacing any file there.

    The page goes to a temporary file in the same folder first and is then moved into place, so
    a reader never sees half a page. The file is readable by all (``0o666`` less the umask, as
    for the governance report); missing parent folders are created.
    """
    target = Path(path)
    html = render_eda(result, title, dataset)

    write_text_atomic(target, html)

    logger.info("wrote EDA report %s (%d bytes)", target, len(html.encode("utf-8")))
    return target


def build_eda_context(
    result: CheckResult | Mapping[str, Any], title: str, dataset: Mapping[str, Any]
) -> dict[str, Any]:
    """Reshape the check's result into the sections the template lays out."""
    data = result.to_dict() if isinstance(result, CheckResult) else dict(result)
    if data.get("check") != "eda":
        raise ValidationError(
            f"render_eda needs the result of the 'eda' check; got check {data.get('check')!r}"
        )
    tables = data.get("tables") or {}
    metrics = data.get("metrics") or {}
    figures = _Figures(data.get("figures") or [])
    columns = list(tables.get("columns") or [])

    context = {
        "title": title,
        "dataset": _dataset(dataset, metrics),
        "status": data.get("status"),
        "summary": data.get("summary"),
        "findings": list(data.get("findings") or []),
        "overview": [(label, metrics.get(key)) for key, label in OVERVIEW_METRICS],
        "metrics": sorted(metrics.items()),
        "label_mode": metrics.get("label_mode"),
        "sample_rows": metrics.get("sample_rows"),
        "columns": _columns(columns, figures),
        "missing": _missing(columns, tables, figures),
        "correlations": _correlations(columns, tables, figures),
        "associations": _associations(columns, tables, figures),
        "label": _label(tables, figures),
        "groups": _groups(tables, figures),
        "mlgate_version": __version__,
    }
    context["other_figures"] = figures.rest()
    return context


class _Figures:
    """The result's figures drawn to SVG, handed out by name so that each is shown once."""

    def __init__(self, figures: Sequence[Mapping[str, Any]]) -> None:
        self._drawn = [_draw(figure, f"eda-fig{i}") for i, figure in enumerate(figures)]
        self._by_name = {figure["name"]: figure for figure in reversed(self._drawn)}
        self._taken: set[int] = set()

    def take(self, name: str) -> dict[str, Any] | None:
        figure = self._by_name.get(name)
        if figure is None or figure["index"] in self._taken:
            return None
        self._taken.add(figure["index"])
        return figure

    def rest(self) -> list[dict[str, Any]]:
        return [figure for figure in self._drawn if figure["index"] not in self._taken]


def _draw(figure: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A chart drawn to SVG, or the reason it could not be drawn (the page still renders)."""
    name = str(figure.get("name"))
    title = figure.get("title") or name
    index = int(prefix.removeprefix("eda-fig"))
    try:
        svg = figure_to_svg(figure, id_prefix=prefix)
    except (GovernanceError, ValueError, TypeError, KeyError) as exc:
        logger.warning("figure %s could not be drawn: %s", name, exc)
        return {"index": index, "name": name, "title": title, "svg": None, "error": str(exc)}
    # matplotlib escapes every text it writes into the SVG, so it is safe to inline as markup.
    return {"index": index, "name": name, "title": title, "svg": Markup(svg), "error": None}


def _dataset(dataset: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    filled = {**dict.fromkeys(DATASET_KEYS), **dict(dataset or {})}
    if filled["n_rows"] is None:
        filled["n_rows"] = metrics.get("n_rows")
    if filled["n_cols"] is None:
        filled["n_cols"] = metrics.get("n_columns")
    return filled


def _columns(columns: Sequence[Mapping[str, Any]], figures: _Figures) -> list[dict[str, Any]]:
    out = []
    for i, column in enumerate(columns):
        cells = [column.get(key) for key, _ in COLUMN_FIELDS]
        out.append(
            {
                "anchor": f"col-{i}",
                "name": column.get("column"),
                "cells": cells,
                "note": column.get("note"),
                "identifier": bool(column.get("identifier")),
                "figure": figures.take(f"distribution:{column.get('column')}"),
            }
        )
    return out


def _missing(
    columns: Sequence[Mapping[str, Any]], tables: Mapping[str, Any], figures: _Figures
) -> dict[str, Any]:
    with_missing = sorted(
        (c for c in columns if c.get("n_missing")),
        key=lambda c: (-c["n_missing"], str(c.get("column"))),
    )
    return {
        "columns": with_missing,
        "patterns": list(tables.get("missing_patterns") or []),
        "figure": figures.take("missing:columns"),
    }


def _correlations(
    columns: Sequence[Mapping[str, Any]], tables: Mapping[str, Any], figures: _Figures
) -> dict[str, Any]:
    pairs = list(tables.get("correlations") or [])
    names = _pair_names(columns, pairs)
    return {
        "names": names,
        "pearson": _matrix(names, pairs, "pearson"),
        "spearman": _matrix(names, pairs, "spearman"),
        "pairs": pairs[:MAX_PAIR_ROWS],
        "n_pairs": len(pairs),
        "figure": figures.take("correlation:top_pairs"),
    }


def _associations(
    columns: Sequence[Mapping[str, Any]], tables: Mapping[str, Any], figures: _Figures
) -> dict[str, Any]:
    pairs = list(tables.get("associations") or [])
    names = _pair_names(columns, pairs)
    return {
        "names": names,
        "cramers_v": _matrix(names, pairs, "cramers_v"),
        "pairs": pairs[:MAX_PAIR_ROWS],
        "n_pairs": len(pairs),
        "figure": figures.take("association:top_pairs"),
    }


def _pair_names(
    columns: Sequence[Mapping[str, Any]], pairs: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The columns that occur in ``pairs``, in the order of the column table."""
    used = {p["column_a"] for p in pairs} | {p["column_b"] for p in pairs}
    ordered = [str(c.get("column")) for c in columns if c.get("column") in used]
    return ordered + sorted(used - set(ordered))


def _matrix(
    names: Sequence[str], pairs: Iterable[Mapping[str, Any]], key: str
) -> list[dict[str, Any]] | None:
    """A symmetric matrix of ``key`` as rows of heat-coded cells; ``None`` when too wide."""
    if not names or len(names) > MAX_MATRIX_COLUMNS:
        return None
    values = {(p["column_a"], p["column_b"]): p.get(key) for p in pairs}
    rows = []
    for a in names:
        cells = []
        for b in names:
            value = 1.0 if a == b else values.get((a, b), values.get((b, a)))
            cells.append({"value": value, "css": _heat(value), "diagonal": a == b})
        rows.append({"name": a, "cells": cells})
    return rows


def _heat(value: Any) -> str:
    if not isinstance(value, int | float):
        return "h-none"
    step = min(4, int(abs(value) * 5))
    return f"h-{'n' if value < 0 else 'p'}{step}"


def _label(tables: Mapping[str, Any], figures: _Figures) -> dict[str, Any]:
    strength = list(tables.get("label_strength") or [])
    bins = list(tables.get("label_by_bin") or [])
    features = []
    for i, row in enumerate(strength):
        name = row.get("feature")
        features.append(
            {
                "anchor": f"label-{i}",
                "name": name,
                "row": row,
                "bins": [b for b in bins if b.get("feature") == name],
                "figure": figures.take(f"label:{name}"),
            }
        )
    return {
        "strength": strength,
        "figure": figures.take("strength:label"),
        "features": features,
    }


def _groups(tables: Mapping[str, Any], figures: _Figures) -> list[dict[str, Any]]:
    rows = list(tables.get("groups") or [])
    attributes = list(dict.fromkeys(r.get("attribute") for r in rows))
    return [
        {
            "anchor": f"group-{i}",
            "name": attribute,
            "rows": [r for r in rows if r.get("attribute") == attribute],
            "figure": figures.take(f"groups:{attribute}"),
        }
        for i, attribute in enumerate(attributes)
    ]


def format_cell(value: Any) -> str:
    """Format a table cell: numbers for reading, a dash for a missing value."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_value(value)
    return format_text(value)


def _format_r(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    return f"{value:.2f}"


@functools.cache
def _environment() -> jinja2.Environment:
    """Templates from the package, autoescaping always on, undefined names an error."""
    return template_environment(
        {
            "cell": format_cell,
            "r": _format_r,
            "text": format_text,
        }
    )
