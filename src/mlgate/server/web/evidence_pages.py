"""A piece of evidence shown readably, with its charts; and the project's monitoring page.

A check's result is shown as its metrics, findings and tables, and its figures are drawn as
inline SVG by the report's chart code (a check without figures but with several numbers gets a
bar chart of them). A document is shown field by field. Everything from the payload is escaped
by the templates; only the SVG our chart code draws is inserted as markup.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select

from mlgate.errors import GovernanceError, NotFoundError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.dashboard import write_dashboard
from mlgate.registry.models import DatasetVersion, Evidence, ModelVersion, MonitorRun
from mlgate.reports.charts import figure_to_svg
from mlgate.reports.html import format_text, format_value
from mlgate.server.web.deps import PageProjectName, WebUser, open_for_page
from mlgate.server.web.project_pages import project_url
from mlgate.server.web.rendering import SECURITY_HEADERS, render

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

MAX_DEPTH = 6
MAX_ROWS = 50
MIN_METRICS_CHART = 2
EvidenceId = Annotated[int, Path(ge=1, le=2**62, description="Evidence id.")]


def chart(figure: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Return a figure drawn as inline SVG, or why it could not be drawn."""
    title = str(figure.get("title") or figure.get("name") or "chart")
    try:
        svg = figure_to_svg(figure, id_prefix=prefix)
    except (GovernanceError, ValueError, TypeError, KeyError) as error:
        logger.warning("figure %s could not be drawn: %s", figure.get("name"), error)
        return {"title": title, "svg": None, "error": str(error)}
    # matplotlib escapes the text it writes and the chart code escapes the title.
    return {"title": title, "svg": Markup(svg), "error": None}


def metric_figure(name: str, metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return a bar chart of a result's numeric metrics, or ``None`` with fewer than two."""
    numbers = {
        str(key): float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    }
    if len(numbers) < MIN_METRICS_CHART:
        return None
    return {
        "name": f"{name}-metrics",
        "title": f"{name}: metrics",
        "kind": "bar",
        "x_label": "metric",
        "y_label": "value",
        "series": [{"name": name, "x": list(numbers), "y": list(numbers.values())}],
    }


def table(rows: Any) -> dict[str, Any]:
    """Return a list of records as columns and rows of text, cut to the first rows."""
    rows = list(rows or [])
    columns: dict[str, None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            columns.update(dict.fromkeys(str(key) for key in row))
    names = list(columns) or ["value"]
    cells = [
        [format_text(row.get(c)) for c in names] if isinstance(row, Mapping) else [str(row)]
        for row in rows[:MAX_ROWS]
    ]
    return {"columns": names, "rows": cells, "total": len(rows)}


def fields(value: Any, depth: int = 0) -> dict[str, Any]:
    """Return a document value as a tree the template draws: fields, lists and plain text."""
    if depth >= MAX_DEPTH:
        return {"t": "text", "v": json.dumps(value, default=str)[:2000]}
    if isinstance(value, Mapping):
        entries = [(_label(k), fields(v, depth + 1)) for k, v in value.items()]
        return {"t": "fields", "entries": entries}
    if isinstance(value, list | tuple):
        if value and all(_flat_record(item) for item in value):
            return {"t": "table", **table(value)}
        return {"t": "list", "entries": [fields(item, depth + 1) for item in value]}
    return {"t": "text", "v": format_text(value)}


def _flat_record(item: Any) -> bool:
    """Return whether ``item`` is a mapping of plain values (a row of a table)."""
    return isinstance(item, Mapping) and not any(
        isinstance(v, Mapping | list | tuple) for v in item.values()
    )


def _label(key: Any) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def result_view(evidence: Evidence) -> dict[str, Any] | None:
    """Return a check result's metrics, findings, tables and charts, ready for the page."""
    result = evidence.payload.get("result")
    if not isinstance(result, Mapping):
        return None
    metrics = result.get("metrics") or {}
    figures = list(result.get("figures") or [])
    if not figures:
        extra = metric_figure(evidence.name, metrics)
        figures = [extra] if extra else []
    return {
        "metrics": [(str(k), format_value(v)) for k, v in metrics.items()],
        "findings": table(result.get("findings") or []),
        "tables": [(str(k), table(v)) for k, v in (result.get("tables") or {}).items()],
        "charts": [chart(f, f"ev{evidence.id}-fig{i}") for i, f in enumerate(figures)],
        "thresholds": list((evidence.payload.get("thresholds") or {}).items()),
    }


def load_evidence(gov: Governance, evidence_id: int) -> dict[str, Any]:
    """Return evidence ``evidence_id`` of the project with the dataset and model it is bound to."""
    with gov.transaction() as session:
        project = gov.project(session)
        evidence = session.get(Evidence, evidence_id)
        if evidence is None or evidence.project_id != project.id:
            raise NotFoundError(
                f"no evidence {evidence_id} in project '{project.name}'",
                hint="the project page lists its evidence",
            )
        dataset = (
            session.get(DatasetVersion, evidence.dataset_version_id)
            if evidence.dataset_version_id
            else None
        )
        model = (
            session.get(ModelVersion, evidence.model_version_id)
            if evidence.model_version_id
            else None
        )
        return {"evidence": evidence, "dataset": dataset, "model": model}


@router.get("/projects/{name}/evidence/{evidence_id}")
def show_evidence(
    request: Request,
    user: WebUser,
    name: PageProjectName,
    evidence_id: EvidenceId,
) -> Response:
    """Show one piece of evidence: status, binding, payload and charts."""
    gov, _ = open_for_page(request, user, name)
    found = load_evidence(gov, evidence_id)
    evidence = found["evidence"]
    document = evidence.payload.get("document")
    return render(
        request,
        "evidence.html",
        user,
        project=name,
        url=project_url(name),
        **found,
        result=result_view(evidence),
        document=fields(document) if isinstance(document, Mapping) else None,
    )


def has_monitoring(gov: Governance) -> bool:
    """Return whether the project has any monitor run to show."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(func.count()).where(MonitorRun.project_id == project.id)
        return bool(session.execute(stmt).scalar())


@router.get("/projects/{name}/monitoring")
def monitoring(request: Request, user: WebUser, name: PageProjectName) -> Response:
    """Serve the project's monitoring dashboard, or say that nothing is monitored yet."""
    gov, _ = open_for_page(request, user, name)
    if not has_monitoring(gov):
        return render(request, "monitoring_empty.html", user, project=name, url=project_url(name))
    path = write_dashboard(gov, gov.workspace.root / "monitoring" / "dashboard.html")
    return HTMLResponse(path.read_text(encoding="utf-8"), headers=SECURITY_HEADERS)
