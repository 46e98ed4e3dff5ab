"""The governance report, laid out along EU AI Act Annex IV and SR 11-7, with its completeness.

It holds everything the earlier report held (the same partial templates draw the model card,
lifecycle, evidence, decisions, deployments and audit trail), regrouped into the six sections
of :data:`mlgate.reports.regulatory.SECTIONS`, and adds what a regulator or a model-risk team
asks for first: how complete the documentation is (:func:`completeness`), every validation
finding with how it was closed, and the audit chain's verification. Each expected item links to
the evidence that documents it; the evidence appendix shows that evidence's dataset and model
hashes.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.reports.files import write_text_atomic
from mlgate.reports.html import _anchor, _environment, anchor_id, build_context
from mlgate.reports.regulatory import SECTIONS, Item, Section, item_label

logger = logging.getLogger(__name__)

TEMPLATE = "governance.html.j2"
APPROVED = "approve"
SATISFIED = "satisfied"
OPEN_FINDING = "open"


def completeness(data: Mapping[str, Any]) -> dict[str, Any]:
    """Score how much of each section's expected evidence the project has recorded.

    Returns ``{"score": float, "present": int, "expected": int, "sections": [...],
    "lacking": [...]}``: each section lists its items with ``present`` and the evidence id that
    documents them, and ``lacking`` names every section with at least one item missing
    (``empty`` among them when nothing of the section is present).
    """
    sections = [_section_score(section, data) for section in SECTIONS]
    present = sum(s["present"] for s in sections)
    expected = sum(s["expected"] for s in sections)

    return {
        "score": present / expected if expected else 0.0,
        "present": present,
        "expected": expected,
        "sections": sections,
        "lacking": [s["id"] for s in sections if s["present"] < s["expected"]],
        "empty": [s["id"] for s in sections if s["present"] == 0],
    }


def render_governance(data: Mapping[str, Any]) -> str:
    """Return the governance report for the collected project state ``data`` as HTML."""
    context = build_context(data)
    score = completeness(data)
    findings = [
        {**f, "anchor": f"finding-{f.get('id')}"} for f in data.get("review_findings") or []
    ]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            **context,
            completeness=score,
            findings=findings,
            monitoring_alerts=data.get("monitoring_alerts") or [],
            monitor_runs=data.get("monitor_runs") or 0,
            regulatory=_references(),
        )
    )


def write_governance(
    data: Mapping[str, Any], path: str | os.PathLike[str], *, pdf: bool = False
) -> list[Path]:
    """Write the governance report to ``path`` (HTML) and, with ``pdf``, a PDF beside it."""
    started = time.perf_counter()
    target = Path(path)
    html = render_governance(data)

    paths = [write_text_atomic(target, html)]
    if pdf:
        from mlgate.reports.pdf import write_pdf

        paths.append(write_pdf(html, target.with_suffix(".pdf")))

    logger.info(
        "wrote governance report %s (%d bytes%s) in %.1f s",
        target,
        len(html.encode("utf-8")),
        ", with PDF" if pdf else "",
        time.perf_counter() - started,
    )
    return paths


def _section_score(section: Section, data: Mapping[str, Any]) -> dict[str, Any]:
    items = [_item(item, data) for item in section.expected]
    present = sum(1 for item in items if item["present"])
    return {
        "id": section.id,
        "title": section.title,
        "annex_iv": section.annex_iv,
        "sr_11_7": section.sr_11_7,
        "items": items,
        "present": present,
        "expected": len(items),
        "score": present / len(items) if items else 0.0,
    }


def _item(item: Item, data: Mapping[str, Any]) -> dict[str, Any]:
    """Whether one expected item is recorded, and the evidence (if any) that records it."""
    kind, name = item
    evidence = None
    anchor = state = None
    if kind == "requirement":
        state = _requirement_state(name, data)
        present = state == SATISFIED
        anchor = requirement_anchor(name) if state is not None else None
    elif kind == "evidence":
        evidence = _newest(data.get("evidence") or [], name)
        present = evidence is not None
    elif kind == "approval":
        present = any(
            a.get("requirement_id") == name and a.get("decision") == APPROVED
            for a in data.get("approvals") or []
        )
    else:
        present = _record_present(name, data)

    return {
        "kind": kind,
        "name": name,
        "label": item_label(item),
        "present": present,
        "evidence_id": evidence.get("id") if evidence else None,
        "anchor": _anchor(evidence.get("id")) if evidence else anchor,
        "status": evidence.get("status") if evidence else state,
        "summary": evidence.get("summary") if evidence else None,
    }


def requirement_anchor(requirement_id: Any) -> str:
    """The id of a requirement's row in the report's lifecycle tables."""
    return "requirement-" + anchor_id(requirement_id)


def _requirement_state(name: str, data: Mapping[str, Any]) -> str | None:
    """The current state of the policy requirement ``name``, or None when no stage has it."""
    for stage in data.get("stages") or []:
        for requirement in stage.get("requirements") or []:
            if requirement.get("id") == name:
                return requirement.get("state")
    return None


def _record_present(name: str, data: Mapping[str, Any]) -> bool:
    if name == "dataset":
        return bool(data.get("datasets"))
    if name == "model":
        return data.get("model") is not None
    if name == "deployment":
        return bool(data.get("deployments"))
    if name == "audit":
        return bool((data.get("audit") or {}).get("ok"))
    if name == "alerts":
        return bool(data.get("monitor_runs") or data.get("monitoring_alerts"))
    findings = data.get("review_findings") or []
    return bool(findings) and all(f.get("status") != OPEN_FINDING for f in findings)


def _newest(evidence: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    found = [e for e in evidence if name in (e.get("name"), e.get("requirement_id"))]
    return max(found, key=lambda e: e.get("id") or 0) if found else None


@functools.cache
def _references() -> dict[str, Section]:
    return {section.id: section for section in SECTIONS}
