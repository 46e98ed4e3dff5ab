"""Render a project's governance report, the first version of its model card, as one HTML file.

The service layer gathers the project's state into a plain dict (see :func:`render_report` for
its keys); this module turns it into a page an auditor can read offline: all CSS is inline,
every chart is an inline SVG, and nothing is fetched from anywhere. All user text goes through
Jinja2's autoescaping, so a document field cannot inject markup.

The work is split in two steps: :func:`build_context` reshapes the input into what the template
shows (formatted values, picked evidence, capped tables, drawn charts), and the template only
lays it out. The same input always gives the same bytes.
"""

from __future__ import annotations

import datetime
import functools
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mlgate.errors import GovernanceError
from mlgate.reports.charts import figure_to_svg
from mlgate.reports.files import template_environment, write_text_atomic
from mlgate.reports.lineage import lineage_view

logger = logging.getLogger(__name__)

TEMPLATE = "report.html.j2"
MAX_TABLE_ROWS = 50
MAX_AUDIT_EVENTS = 50
MAX_DEPTH = 6
# A table wider than this many columns is shown in parts that each repeat the leading text
# columns naming the row (at most MAX_KEY_COLUMNS), so no part runs off an A4 page or a screen.
MAX_TABLE_COLUMNS = 9
MAX_KEY_COLUMNS = 2
MISSING = "—"

# Document fields that feed the model card, first match wins. Document schemas are owned by
# mlgate.documents; these names cover the business-case template and its usual synonyms.
INTENDED_USE_KEYS = ("intended_use", "purpose", "objective", "problem", "problem_statement")
BENEFIT_KEYS = ("benefit", "expected_benefit", "quantified_benefit", "business_value")
BENEFICIARY_KEYS = ("beneficiaries", "who_benefits", "users", "stakeholders")
SUCCESS_KEYS = ("success_metrics", "success_criteria", "kpis")
CURRENT_KEYS = ("current_solution",)
IMPROVEMENT_KEYS = ("improvement_over_current", "improvement")
PERFORMANCE_EVIDENCE = ("cv_accuracy", "holdout_accuracy", "fairness")

# Each status-like value is shown as a coloured badge *and* a symbol plus its word.
_SYMBOLS = {
    "verified": "✓",
    "active": "✓",
    "ended": "■",
    "pass": "✓",
    "satisfied": "✓",
    "passed": "✓",
    "approve": "✓",
    "live": "✓",
    "ok": "✓",
    "warn": "!",
    "expired": "⌛",
    "waived": "≈",
    "current": "▶",
    "fail": "✗",
    "failed": "✗",
    "rejected": "✗",
    "reject": "✗",
    "missing": "○",
    "pending": "…",
    "info": "i",
}
_CLASS_SAFE = re.compile(r"[^a-z0-9-]")
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# The keys of each record of the input. Missing keys are filled with None before rendering, so
# the template (which fails on an undefined name) only meets a wrong key through a template bug.
PROJECT_KEYS = (
    "name",
    "owner",
    "tier",
    "stage",
    "policy_name",
    "policy_version",
    "policy_sha256",
    "created_at",
    "members",
)
MEMBER_KEYS = ("user", "role")
MODEL_KEYS = (
    "version",
    "sha256",
    "flavour",
    "estimator",
    "params",
    "metrics",
    "dataset_sha256",
    "code_version",
    "created_by",
    "created_at",
    "signature",
)
SIGNATURE_KEYS = ("name", "dtype")
DATASET_KEYS = ("name", "uri", "sha256", "n_rows", "n_cols", "created_by", "created_at")
STAGE_KEYS = ("id", "title", "status", "requirements")
REQUIREMENT_KEYS = ("id", "title", "kind", "state", "detail", "evidence_id", "actor", "at")
EVIDENCE_KEYS = (
    "id",
    "kind",
    "name",
    "requirement_id",
    "stage",
    "status",
    "actor",
    "created_at",
    "dataset_sha256",
    "model_sha256",
    "model_version",
    "summary",
    "result",
    "document",
)
FINDING_KEYS = ("severity", "message", "subject", "value")
APPROVAL_KEYS = ("requirement_id", "actor", "role", "decision", "comment", "created_at", "subject")
WAIVER_KEYS = ("requirement_id", "actor", "role", "justification", "expires_at", "live")
REFUSAL_KEYS = ("at", "actor", "action", "reason")
NOTICE_KEYS = ("severity", "message", "hint")
DEPLOYMENT_KEYS = ("model_version", "mode", "endpoint", "actor", "created_at", "ended_at")
AUDIT_KEYS = ("ok", "message", "n_events", "head_hash", "events")
EVENT_KEYS = ("seq", "at", "actor", "action", "subject")


def render_report(data: Mapping[str, Any]) -> str:
    """Return the governance report for ``data`` as one self-contained HTML page.

    Parameters
    ----------
    data
        The project's state as plain values, with the keys ``generated_at``, ``mlgate_version``,
        ``project``, ``model``, ``datasets``, ``stages``, ``evidence``, ``approvals``,
        ``waivers``, ``refusals``, ``deployments`` and ``audit``. Lists may be empty and values
        may be ``None``; ``model`` is ``None`` before the first model version.

    Returns
    -------
    str
        The HTML document. It references no external resource.
    """
    context = build_context(data)
    html = _environment().get_template(TEMPLATE).render(**context)
    logger.debug("rendered report for %s: %d bytes", context["project"].get("name"), len(html))
    return html


def write_report(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Render the report and write it to ``path`` (UTF-8), replacing any file there.

    The page is written to a temporary file in the same folder and then moved into place, so a
    reader never sees half a report. Missing parent folders are created.
    """
    target = Path(path)
    html = render_report(data)

    write_text_atomic(target, html)

    logger.info("wrote governance report %s (%d bytes)", target, len(html.encode("utf-8")))
    return target


def build_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """Reshape the report input into the values the template lays out."""
    project = _fill(data.get("project"), PROJECT_KEYS)
    project["members"] = _fill_all(project["members"], MEMBER_KEYS)
    model = _model(data.get("model"))
    evidence = [_evidence_item(item) for item in data.get("evidence") or []]
    anchors = {item["id"]: item["anchor"] for item in evidence}

    return {
        "generated_at": data.get("generated_at"),
        "mlgate_version": data.get("mlgate_version"),
        "project": project,
        "model": model,
        "datasets": _fill_all(data.get("datasets"), DATASET_KEYS),
        "card": _model_card(project, model, evidence),
        "stages": [_stage(stage, anchors) for stage in data.get("stages") or []],
        "evidence": evidence,
        "approvals": _fill_all(data.get("approvals"), APPROVAL_KEYS),
        "waivers": _fill_all(data.get("waivers"), WAIVER_KEYS),
        "refusals": _fill_all(data.get("refusals"), REFUSAL_KEYS),
        "notices": _fill_all(data.get("notices"), NOTICE_KEYS),
        "deployments": _fill_all(data.get("deployments"), DEPLOYMENT_KEYS),
        "lineage": lineage_view(data.get("lineage")),
        "audit": _audit(data.get("audit")),
    }


def format_value(value: Any) -> str:
    """Format a metric for reading: fixed decimals, thousands separators, ``n/a`` for missing.

    ``None``, NaN and infinities all read ``n/a``; they never print as ``None`` or ``nan``.
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _format_float(value)
    text = str(value)
    return "n/a" if text.strip().lower() in {"nan", "none", "null", ""} else text


def format_text(value: Any) -> str:
    """Format any plain value for a table cell or field: a dash for ``None``."""
    if value is None:
        return MISSING
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Typed by a person (a document field, a parameter): shown as written, not rounded.
        return f"{value:.6g}" if math.isfinite(value) else "n/a"
    return str(value)


def _format_float(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    if size >= 1e9 or 0 < size < 1e-4:
        return f"{value:.3e}"
    if size >= 1000:
        return f"{value:,.1f}"
    if size >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment: templates from the package, autoescaping always on."""
    return template_environment(
        {
            "num": format_value,
            "text": format_text,
            "badge_class": _badge_class,
            "anchor_id": anchor_id,
            "symbol": lambda value: _SYMBOLS.get(str(value).lower(), "•"),
            "short": lambda value: format_text(value)[:12] if value else MISSING,
        }
    )


def _badge_class(value: Any, prefix: str = "b-") -> str:
    return prefix + _CLASS_SAFE.sub("-", str(value).lower())


def _fill(record: Mapping[str, Any] | None, keys: Sequence[str]) -> dict[str, Any]:
    """A copy of ``record`` with every key of ``keys`` present (``None`` when it was missing)."""
    return {**dict.fromkeys(keys), **(record or {})}


def _fill_all(records: Iterable[Mapping[str, Any]] | None, keys: Sequence[str]) -> list[Any]:
    return [_fill(record, keys) for record in records or []]


def anchor_id(value: Any) -> str:
    """``value`` made safe for an HTML id or a ``#`` link: other characters become ``-``."""
    return _ANCHOR_UNSAFE.sub("-", str(value))


def _anchor(evidence_id: Any) -> str:
    return "evidence-" + anchor_id(evidence_id)


def _model(model: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if model is None:
        return None
    model = _fill(model, MODEL_KEYS)
    params = dict(model["params"] or {})
    training = {
        key: params.pop(key) for key in TRAINING_RECORDS if isinstance(params.get(key), dict)
    }
    return {
        **model,
        "training": _training_record(training),
        "params": sorted(params.items()),
        "metrics": sorted((model["metrics"] or {}).items()),
        "signature": _fill_all(model["signature"], SIGNATURE_KEYS),
    }


# Records training keeps beside the estimator's parameters; the report shows them as tables.
TRAINING_RECORDS = ("cv", "search", "selection")


def _training_record(records: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cross-validation, search and model-selection record of a trained version, if any."""
    if not records:
        return None
    cv, search, selection = (dict(records.get(k) or {}) for k in TRAINING_RECORDS)
    candidates = [
        {
            "name": row.get("candidate"),
            "estimator": str(row.get("estimator", "")).rpartition(".")[2],
            "mean": row.get("mean"),
            "std": row.get("std"),
            "fit_seconds": row.get("fit_seconds"),
            "trials": row.get("trials"),
            "winner": row.get("candidate") == selection.get("winner"),
        }
        for row in selection.get("candidates") or []
    ]
    return {
        "cv": cv or None,
        "search": search or None,
        "metric": selection.get("metric") or cv.get("metric") or search.get("metric"),
        "winner": selection.get("winner"),
        "reason": selection.get("reason"),
        "candidates": candidates,
    }


def _stage(stage: Mapping[str, Any], anchors: Mapping[Any, str]) -> dict[str, Any]:
    """A stage with each requirement's evidence link, when that evidence is in the report."""
    requirements = [
        {**requirement, "anchor": anchors.get(requirement["evidence_id"])}
        for requirement in _fill_all(stage.get("requirements"), REQUIREMENT_KEYS)
    ]
    return {**_fill(stage, STAGE_KEYS), "requirements": requirements}


def _evidence_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """One evidence item with its result's metrics, findings, tables and charts made ready."""
    item = _fill(item, EVIDENCE_KEYS)
    result = item["result"]
    if result is not None and hasattr(result, "to_dict"):
        result = result.to_dict()
    result = dict(result or {})
    document = item["document"]

    return {
        **item,
        "anchor": _anchor(item["id"]),
        "result": result or None,
        "metrics": list((result.get("metrics") or {}).items()),
        "findings": _fill_all(result.get("findings"), FINDING_KEYS),
        "tables": [_table(name, rows) for name, rows in (result.get("tables") or {}).items()],
        "figures": [
            _figure(figure, f"ev{item['id']}-fig{i}")
            for i, figure in enumerate(result.get("figures") or [])
        ],
        "document_node": _node(document) if document is not None else None,
    }


def _figure(figure: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A chart drawn to SVG, or the reason it could not be drawn (the report still renders)."""
    title = figure.get("title") or figure.get("name") or "figure"
    try:
        svg = figure_to_svg(figure, id_prefix=prefix)
    except (GovernanceError, ValueError, TypeError, KeyError) as exc:
        logger.warning("figure %s could not be drawn: %s", figure.get("name"), exc)
        return {"title": title, "svg": None, "error": str(exc)}
    # The SVG comes from matplotlib, which escapes every text it writes; the title is escaped.
    return {"title": title, "svg": Markup(svg), "error": None}


def _table(name: str, rows: Sequence[Any]) -> dict[str, Any]:
    """A list of row dicts as columns and cells, cut to the first ``MAX_TABLE_ROWS`` rows."""
    rows = list(rows or [])
    columns: dict[str, None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            columns.update(dict.fromkeys(str(key) for key in row))
    if not columns:
        columns = {"value": None}

    shown = rows[:MAX_TABLE_ROWS]
    cells = [
        [row.get(column) for column in columns] if isinstance(row, Mapping) else [row]
        for row in shown
    ]
    parts = column_parts(len(columns), key_columns(cells, _is_text))
    return {
        "name": name,
        "columns": list(columns),
        "rows": cells,
        "total": len(rows),
        "parts": parts,
    }


def column_parts(
    n_columns: int, key_columns: int, max_columns: int = MAX_TABLE_COLUMNS
) -> list[list[int]]:
    """The column indices of each part a table of ``n_columns`` columns is shown in.

    A table of at most ``max_columns`` columns is one part. A wider one is cut into parts of at
    most ``max_columns`` columns, each starting with the ``key_columns`` leading columns, so
    every part still names its rows.
    """
    if n_columns <= max_columns:
        return [list(range(n_columns))]
    keys = list(range(max(0, min(key_columns, MAX_KEY_COLUMNS, max_columns - 1))))
    rest = list(range(len(keys), n_columns))
    width = max_columns - len(keys)
    return [keys + rest[start : start + width] for start in range(0, len(rest), width)]


def key_columns(rows: Sequence[Sequence[Any]], is_text: Any) -> int:
    """How many leading columns hold only text (or nothing) in every row: they name the row."""
    count = 0
    width = min((len(row) for row in rows), default=0)
    while count < min(width, MAX_KEY_COLUMNS) and all(is_text(row[count]) for row in rows):
        count += 1
    return max(count, 1)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _node(value: Any, depth: int = 0) -> dict[str, Any]:
    """A document value as a tree the template draws: fields, tables, lists and scalars."""
    if depth >= MAX_DEPTH:
        return {"t": "scalar", "v": str(value)}
    if isinstance(value, Mapping):
        items = [(_label(key), _node(item, depth + 1)) for key, item in value.items()]
        return {"t": "dict", "entries": items}
    if isinstance(value, list | tuple):
        if value and all(isinstance(item, Mapping) for item in value):
            table = _table("", value)
            rows = [[_node(cell, depth + 1) for cell in row] for row in table["rows"]]
            columns = [_label(column) for column in table["columns"]]
            return {
                "t": "table",
                "columns": columns,
                "rows": rows,
                "total": table["total"],
                "parts": table["parts"],
            }
        return {"t": "list", "entries": [_node(item, depth + 1) for item in value]}
    return {"t": "scalar", "v": value}


def _label(key: Any) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _model_card(
    project: Mapping[str, Any], model: Mapping[str, Any] | None, evidence: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The model-card views: purpose, performance, limitations and contacts."""
    model_sha = (model or {}).get("sha256")
    business = _latest(evidence, ("business_case",), model_sha)
    risk = _latest(evidence, ("risk_assessment",), model_sha)
    contacts = _latest(evidence, ("emergency_contacts",), model_sha)
    performance = [
        found
        for name in PERFORMANCE_EVIDENCE
        if (found := _latest(evidence, (name,), model_sha)) is not None
    ]

    return {
        "business": business,
        "purpose": _purpose(business),
        "performance": performance,
        "risk": risk,
        "concerns": _concerns(evidence),
        "contacts": contacts,
        "members": list(project.get("members") or []),
    }


def _latest(
    evidence: Sequence[dict[str, Any]], names: Iterable[str], model_sha: str | None
) -> dict[str, Any] | None:
    """The newest evidence named like ``names``, preferring evidence on the current model."""
    names = set(names)
    found = [
        item
        for item in evidence
        if item.get("name") in names
        or item.get("requirement_id") in names
        or (item["result"] or {}).get("check") in names
    ]
    if not found:
        return None
    return max(found, key=lambda item: (item.get("model_sha256") == model_sha, _order(item)))


def _order(item: Mapping[str, Any]) -> tuple[str, int]:
    """Sort key for "newest": creation time, then id (ids grow with time)."""
    evidence_id = item.get("id")
    return (str(item.get("created_at") or ""), evidence_id if isinstance(evidence_id, int) else -1)


def _purpose(business: Mapping[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """Intended use, benefit, beneficiaries and success metrics from the business case."""
    document = (business or {}).get("document")
    if not isinstance(document, Mapping):
        return []
    picked = []
    for title, keys in (
        ("Intended use", INTENDED_USE_KEYS),
        ("Expected benefit", BENEFIT_KEYS),
        ("Beneficiaries", BENEFICIARY_KEYS),
        ("Success metrics", SUCCESS_KEYS),
        ("Today's solution", CURRENT_KEYS),
        ("Improvement over today's solution", IMPROVEMENT_KEYS),
    ):
        key = next((key for key in keys if document.get(key) not in (None, "", [], {})), None)
        if key is not None:
            picked.append((title, _node(document[key])))
    return picked


def _concerns(evidence: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warning and failing findings of the newest evidence of each name, most severe first."""
    newest: dict[str, dict[str, Any]] = {}
    for item in sorted(evidence, key=_order):
        newest[str(item.get("name"))] = item

    concerns = []
    for item in newest.values():
        findings = [f for f in item["findings"] if f.get("severity") in ("warn", "fail")]
        for finding in findings:
            concerns.append({**finding, "evidence": item})
        if not findings and item.get("status") in ("warn", "fail"):
            message = item.get("summary") or f"{item.get('name')} did not pass"
            concerns.append(
                {
                    "severity": item["status"],
                    "message": message,
                    "subject": None,
                    "value": None,
                    "evidence": item,
                }
            )
    return sorted(concerns, key=lambda c: c.get("severity") != "fail")


def _audit(audit: Mapping[str, Any] | None) -> dict[str, Any]:
    """The audit summary with only its last ``MAX_AUDIT_EVENTS`` events."""
    audit = _fill(audit, AUDIT_KEYS)
    events = _fill_all(audit["events"], EVENT_KEYS)
    n_events = audit["n_events"]
    return {
        **audit,
        "n_events": n_events if n_events is not None else len(events),
        "events": events[-MAX_AUDIT_EVENTS:],
        "shown": min(len(events), MAX_AUDIT_EVENTS),
    }
