"""The report's feature lineage: a table and a three-column graph, both plain data.

The input is the list of edges the service gathers (one dict per path source column -> feature
version -> model version, see :func:`mlgate.lifecycle.features.lineage`). :func:`lineage_view`
groups them into table rows (one per column and feature version, with the model versions that
use it) and lays out a graph: source columns on the left, feature versions in the middle, model
versions on the right. The template draws the graph as inline SVG from these numbers, so every
label passes through the template's autoescaping and nothing is fetched from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

EDGE_KEYS = (
    "dataset",
    "column",
    "column_sensitivity",
    "feature",
    "feature_version",
    "sensitivity",
    "model_version",
)
MAX_ROWS = 200
MAX_NODES = 60
NODE_WIDTH = 230
NODE_HEIGHT = 24
NODE_GAP = 8
COLUMN_X = (10, 330, 650)
HEADINGS = ("Source columns", "Feature versions", "Model versions")
TOP = 34
LABEL_CHARS = 30
NOT_SENSITIVE = "none"


def lineage_view(edges: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Return the rows and the graph layout the template shows for ``edges``.

    Keys: ``rows`` (at most ``MAX_ROWS``), ``total`` (rows before the cut), ``uncatalogued``
    (how many distinct model inputs reach a model without a catalogued feature) and ``graph``
    (``None`` when there is nothing to draw).
    """
    edges = [{**dict.fromkeys(EDGE_KEYS), **dict(edge)} for edge in edges or []]
    rows = _rows(edges)
    raw = {e["column"] for e in edges if e["feature"] is None}

    return {
        "rows": rows[:MAX_ROWS],
        "total": len(rows),
        "uncatalogued": len(raw),
        "graph": _graph(edges) if edges else None,
    }


def _categories(value: Any) -> str:
    return ", ".join(value) if value else NOT_SENSITIVE


def _rows(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (source column, feature version), listing the model versions it feeds."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for edge in edges:
        key = (edge["dataset"], edge["column"], edge["feature"], edge["feature_version"])
        row = grouped.setdefault(
            key,
            {
                "dataset": edge["dataset"],
                "column": edge["column"],
                "column_sensitivity": _categories(edge["column_sensitivity"]),
                "feature": edge["feature"],
                "feature_version": edge["feature_version"],
                "sensitivity": _categories(edge["sensitivity"]),
                "sensitive": bool(edge["sensitivity"]),
                "models": [],
            },
        )
        if edge["model_version"] is not None and edge["model_version"] not in row["models"]:
            row["models"].append(edge["model_version"])

    for row in grouped.values():
        row["models"] = ", ".join(f"v{v}" for v in sorted(row["models"]))
    return list(grouped.values())


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _graph(edges: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes with positions and the lines between them; at most ``MAX_NODES`` per column."""
    columns: dict[Any, dict[str, Any]] = {}
    features: dict[Any, dict[str, Any]] = {}
    models: dict[Any, dict[str, Any]] = {}
    for edge in edges:
        name = f"{edge['dataset'] or '?'}.{edge['column']}"
        columns.setdefault(
            (edge["dataset"], edge["column"]),
            _node(name, edge["column_sensitivity"], "column"),
        )
        if edge["feature"] is not None:
            features.setdefault(
                (edge["feature"], edge["feature_version"]),
                _node(
                    f"{edge['feature']} v{edge['feature_version']}", edge["sensitivity"], "feature"
                ),
            )
        if edge["model_version"] is not None:
            models.setdefault(
                edge["model_version"], _node(f"model v{edge['model_version']}", (), "model")
            )

    groups = (columns, features, models)
    shown = [_place(nodes, x) for nodes, x in zip(groups, COLUMN_X, strict=True)]
    lines = _lines(edges, columns, features, models)
    tallest = max(len(nodes) for nodes in shown)
    return {
        "width": COLUMN_X[-1] + NODE_WIDTH + 10,
        "height": TOP + tallest * (NODE_HEIGHT + NODE_GAP) + 10,
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "headings": [{"x": x, "text": text} for x, text in zip(COLUMN_X, HEADINGS, strict=True)],
        "nodes": [node for nodes in shown for node in nodes],
        "edges": lines,
        "cut": any(len(n) > MAX_NODES for n in (columns, features, models)),
    }


def _node(name: str, sensitivity: Any, kind: str) -> dict[str, Any]:
    categories = list(sensitivity or [])
    label = f"{name} [{', '.join(categories)}]" if categories else name
    return {
        "kind": kind,
        "label": _label(label),
        "title": label,
        "sensitive": bool(categories),
        "x": None,
        "y": None,
    }


def _place(nodes: dict[Any, dict[str, Any]], x: int) -> list[dict[str, Any]]:
    """Stack the first ``MAX_NODES`` nodes of one graph column from the top."""
    placed = []
    for index, node in enumerate(list(nodes.values())[:MAX_NODES]):
        node["x"], node["y"] = x, TOP + index * (NODE_HEIGHT + NODE_GAP)
        placed.append(node)
    return placed


def _lines(
    edges: list[dict[str, Any]],
    columns: dict[Any, dict[str, Any]],
    features: dict[Any, dict[str, Any]],
    models: dict[Any, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The distinct lines between placed nodes; a dashed one for an uncatalogued input."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for edge in edges:
        column = columns[(edge["dataset"], edge["column"])]
        feature = features.get((edge["feature"], edge["feature_version"]))
        model = models.get(edge["model_version"])
        pairs = (
            [(column, feature, False), (feature, model, False)]
            if feature is not None
            else [(column, model, True)]
        )
        for start, end, raw in pairs:
            if start is None or end is None or start["y"] is None or end["y"] is None:
                continue
            key = (id(start), id(end))
            seen.setdefault(key, _line(start, end, raw))
    return list(seen.values())


def _line(start: dict[str, Any], end: dict[str, Any], raw: bool) -> dict[str, Any]:
    x1, x2 = start["x"] + NODE_WIDTH, end["x"]
    y1, y2 = start["y"] + NODE_HEIGHT / 2, end["y"] + NODE_HEIGHT / 2
    middle = (x1 + x2) / 2
    return {
        "d": f"M{x1} {y1:g} C{middle:g} {y1:g} {middle:g} {y2:g} {x2} {y2:g}",
        "raw": raw,
        "sensitive": start["sensitive"],
    }
