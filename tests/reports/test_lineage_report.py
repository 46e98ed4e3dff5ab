"""The report's feature lineage: rows grouped per column and feature, and an inline SVG graph."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from mlgate.lifecycle.features import add_feature
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.service import Governance
from mlgate.reports import render_report
from mlgate.reports.collect import collect
from mlgate.reports.lineage import MAX_NODES, lineage_view

SVG = "{http://www.w3.org/2000/svg}"
INJECTED = "<script>alert(1)</script>"


def _edge(column: str, feature: str | None, version: int | None, model: int | None, **kw: Any):
    return {
        "dataset": "train",
        "dataset_version_id": 1,
        "column": column,
        "column_sensitivity": kw.get("column_sensitivity", []),
        "feature": feature,
        "feature_version": version,
        "sensitivity": kw.get("sensitivity", []),
        "model_version": model,
    }


EDGES = [
    _edge("age", "age_band", 2, 1, column_sensitivity=["age"], sensitivity=["age"]),
    _edge("age", "age_band", 2, 2, column_sensitivity=["age"], sensitivity=["age"]),
    _edge("amount", "burden", 1, 2),
    _edge("months", "burden", 1, 2),
    _edge("amount", "burden_old", 1, None),
    _edge("purpose", None, None, 1),
    _edge("purpose", None, None, 2),
]


def _minimal(lineage: list[dict[str, Any]]) -> dict[str, Any]:
    return {"project": {"name": "credit"}, "lineage": lineage}


def _section(html: str) -> str:
    start = html.index('id="card-lineage"')
    return html[start : html.index('id="card-performance"')]


def test_rows_group_models_per_column_and_feature_version() -> None:
    view = lineage_view(EDGES)

    rows = [
        (r["column"], r["feature"], r["feature_version"], r["sensitivity"], r["models"])
        for r in view["rows"]
    ]
    assert rows == [
        ("age", "age_band", 2, "age", "v1, v2"),
        ("amount", "burden", 1, "none", "v2"),
        ("months", "burden", 1, "none", "v2"),
        ("amount", "burden_old", 1, "none", ""),
        ("purpose", None, None, "none", "v1, v2"),
    ]
    assert (view["total"], view["uncatalogued"]) == (5, 1)


def test_graph_has_one_node_per_column_feature_and_model_and_dashes_raw_inputs() -> None:
    graph = lineage_view(EDGES)["graph"]

    kinds = [(n["kind"], n["label"]) for n in graph["nodes"]]
    assert kinds == [
        ("column", "train.age [age]"),
        ("column", "train.amount"),
        ("column", "train.months"),
        ("column", "train.purpose"),
        ("feature", "age_band v2 [age]"),
        ("feature", "burden v1"),
        ("feature", "burden_old v1"),
        ("model", "model v1"),
        ("model", "model v2"),
    ]
    # age->age_band, age_band->v1, age_band->v2, amount->burden, months->burden, burden->v2,
    # amount->burden_old, and the two dashed purpose->v1, purpose->v2.
    assert len(graph["edges"]) == 9
    assert sum(e["raw"] for e in graph["edges"]) == 2
    assert sum(e["sensitive"] for e in graph["edges"]) == 3


def test_report_shows_lineage_rows_and_a_well_formed_svg() -> None:
    html = render_report(_minimal(EDGES))
    section = _section(html)

    assert re.search(r"<code>train.age</code></td>\s*<td>age</td>", section)
    assert "<strong>age_band</strong>" in section
    assert re.search(r"<strong>burden</strong></td>\s*<td class=\"num\">1</td>", section)
    assert section.count("uncatalogued") >= 2
    svg = ET.fromstring(section[section.index("<svg") : section.index("</svg>") + 6])
    assert len(svg.findall(f".//{SVG}rect")) == 9
    dashed = [p for p in svg.findall(f"{SVG}path") if p.get("stroke-dasharray")]
    assert len(dashed) == 2
    assert "http" not in section.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_lineage_labels_are_escaped() -> None:
    html = render_report(_minimal([_edge(INJECTED, INJECTED, 1, 1)]))
    assert INJECTED not in html
    assert "&lt;script&gt;" in _section(html)


def test_report_without_lineage_says_so() -> None:
    section = _section(render_report(_minimal([])))
    assert "No feature is catalogued and no model version is registered yet." in section
    assert "<svg" not in section


def test_graph_of_a_wide_model_is_cut_and_says_so() -> None:
    edges = [_edge(f"c{i:03d}", None, None, 1) for i in range(MAX_NODES + 5)]
    view = lineage_view(edges)

    assert view["graph"]["cut"] is True
    assert sum(n["kind"] == "column" for n in view["graph"]["nodes"]) == MAX_NODES
    assert len(view["rows"]) == MAX_NODES + 5
    assert "only the first nodes of each column are drawn" in render_report(_minimal(edges))


def test_collected_report_traces_a_trained_model(workspace: Path) -> None:
    gov = Governance.open(workspace, actor="alice")
    add_feature(gov, "x1", "identity:x1", ["x1"], unit="cm")
    add_feature(gov, "group_a", "group == 'a'", ["group"])
    train_model(gov)

    data = collect(gov)
    section = _section(render_report(data))

    assert {(e["column"], e["feature"], e["model_version"]) for e in data["lineage"]} == {
        ("x1", "x1", 1),
        ("group", "group_a", None),
        ("x2", None, 1),
        ("region", None, 1),
    }
    assert "<code>train.x1</code>" in section
    assert re.search(r"<code>train.group</code></td>\s*<td>other</td>", section)
    assert "uncatalogued: 2 input(s)" in section
