"""Gathering a project's stored facts into the plain structure the report renders.

The structure is JSON-like on purpose: the HTML report, a future PDF and a machine-readable model
card can all be made from it without touching the database again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mlgate import __version__
from mlgate.lifecycle.notices import notices
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent, Evidence

AUDIT_ROWS = 50


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


def collect(gov: Governance, now: datetime | None = None) -> dict[str, Any]:
    """Return everything the governance report shows, as plain data."""
    now = now or datetime.now(UTC)
    project, stages = gov.status(now)
    audit = gov.verify_audit()

    with gov.transaction() as session:
        snap = gov.snapshot(session, now)
        stmt = select(AuditEvent).where(AuditEvent.project == project.name)
        events = session.execute(stmt.order_by(AuditEvent.seq)).scalars().all()
        datasets = {d.id: d for d in snap.datasets.values()}
        models = {m.id: m for m in _all_models(session, snap.project.id)}
        all_datasets = {d.id: d for d in _all_datasets(session, snap.project.id)}
        datasets.update(all_datasets)
        findings = _review_findings(session, snap.project.id, models)
        alerts, monitor_runs = _monitoring_alerts(session, snap.project.id, events)

    return {
        "generated_at": _when(now),
        "mlgate_version": __version__,
        "project": {
            "name": project.name,
            "owner": project.owner,
            "tier": project.tier,
            "stage": project.stage,
            "policy_name": project.policy_name,
            "policy_version": project.policy_version,
            "policy_sha256": project.policy_sha256,
            "created_at": _when(project.created_at),
            "members": [{"user": u, "role": r} for u, r in gov.members()],
            "sensitive": gov.sensitive,
        },
        "model": _model(snap.model, datasets),
        "datasets": [
            {
                "name": d.name,
                "uri": d.uri,
                "sha256": d.sha256,
                "n_rows": d.n_rows,
                "n_cols": d.n_cols,
                "created_by": d.created_by,
                "created_at": _when(d.created_at),
                "contract": _contract_summary(d.contract),
                "sensitive_columns": _sensitive_columns(d, gov.sensitive),
            }
            for d in all_datasets.values()
        ],
        "review_findings": findings,
        "monitoring_alerts": alerts,
        "monitor_runs": monitor_runs,
        "stages": [
            {
                "id": s.id,
                "title": s.title,
                "status": s.status,
                "requirements": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "kind": r.kind,
                        "state": r.state,
                        "detail": r.detail + (f" Next: {r.hint}" if r.hint and not r.met else ""),
                        "evidence_id": r.evidence_id,
                        "actor": r.actor,
                        "at": _when(r.at),
                    }
                    for r in s.requirements
                ],
            }
            for s in stages
        ],
        "evidence": [_evidence(e, datasets, models) for e in snap.evidence],
        "approvals": [
            {
                "requirement_id": a.requirement_id,
                "actor": a.actor,
                "role": a.role,
                "decision": a.decision,
                "comment": a.comment,
                "created_at": _when(a.created_at),
                "subject": a.subject,
            }
            for a in snap.approvals
        ],
        "waivers": [
            {
                "requirement_id": w.requirement_id,
                "actor": w.actor,
                "role": w.role,
                "justification": w.justification,
                "expires_at": _when(w.expires_at),
                "live": snap.live_waiver(w.requirement_id) is w,
            }
            for w in snap.waivers
        ],
        "refusals": [
            {
                "at": e.created_at,
                "actor": e.actor,
                "action": e.action.removesuffix(".refused"),
                "reason": e.payload.get("reason", ""),
            }
            for e in events
            if e.action.endswith(".refused") and e.project == project.name
        ],
        "notices": [
            {"severity": n.severity, "message": n.message, "hint": n.hint} for n in notices(snap)
        ],
        "deployments": [
            {
                "model_version": models[d.model_version_id].version
                if d.model_version_id in models
                else None,
                "mode": d.mode,
                "endpoint": d.endpoint,
                "actor": d.actor,
                "created_at": _when(d.created_at),
                "ended_at": _when(d.ended_at),
            }
            for d in snap.deployments
        ],
        "lineage": _lineage(gov),
        "audit": {
            "ok": audit.ok,
            "message": audit.message,
            "n_events": audit.n_events,
            "head_hash": audit.head_hash,
            "events": [
                {
                    "seq": e.seq,
                    "at": e.created_at,
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                }
                for e in events[-AUDIT_ROWS:]
            ],
        },
    }


def _lineage(gov: Governance) -> list[dict[str, Any]]:
    """Every path source column -> feature version -> model version, as plain records."""
    from dataclasses import asdict

    from mlgate.lifecycle.features import lineage

    return [
        {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(edge).items()}
        for edge in lineage(gov)
    ]


def _all_models(session: Any, project_id: int) -> list[Any]:
    from mlgate.registry.models import ModelVersion

    stmt = select(ModelVersion).where(ModelVersion.project_id == project_id)
    return list(session.execute(stmt).scalars())


def _all_datasets(session: Any, project_id: int) -> list[Any]:
    from mlgate.registry.models import DatasetVersion

    stmt = select(DatasetVersion).where(DatasetVersion.project_id == project_id)
    return list(session.execute(stmt.order_by(DatasetVersion.id)).scalars())


def _review_findings(
    session: Any, project_id: int, models: dict[int, Any]
) -> list[dict[str, Any]]:
    """Every validation finding of the project, oldest first, with how it was closed."""
    from mlgate.registry.models import ReviewFinding

    stmt = select(ReviewFinding).where(ReviewFinding.project_id == project_id)
    rows = session.execute(stmt.order_by(ReviewFinding.id)).scalars()
    return [
        {
            "id": f.id,
            "model_version": models[f.model_version_id].version
            if f.model_version_id in models
            else None,
            "severity": f.severity,
            "title": f.title,
            "description": f.description,
            "owner": f.owner,
            "due_date": f.due_date.isoformat() if f.due_date else None,
            "remediation": f.remediation,
            "status": f.status,
            "created_by": f.created_by,
            "created_at": _when(f.created_at),
            "closed_by": f.closed_by,
            "closed_at": _when(f.closed_at),
            "resolution": f.resolution,
        }
        for f in rows
    ]


def _monitoring_alerts(
    session: Any, project_id: int, events: Sequence[AuditEvent]
) -> tuple[list[dict[str, Any]], int]:
    """Every monitoring alert, open ones first, with how it closed; and the monitor run count."""
    from sqlalchemy import func

    from mlgate.monitoring.alerts import describe_resolution
    from mlgate.registry.models import Alert, MonitorRun

    closed = {
        int(e.subject.removeprefix("alert:")): {"actor": e.actor, **e.payload}
        for e in events
        if e.action == "alert.resolved" and e.subject.removeprefix("alert:").isdigit()
    }
    stmt = select(Alert).where(Alert.project_id == project_id).order_by(Alert.id)
    rows = sorted(session.execute(stmt).scalars(), key=lambda a: (not a.open, a.id))
    runs = session.execute(
        select(func.count()).select_from(MonitorRun).where(MonitorRun.project_id == project_id)
    ).scalar_one()
    return [
        {
            "id": a.id,
            "severity": a.severity,
            "rule": a.rule_id,
            "metric": a.metric,
            "subject": a.subject,
            "threshold": a.threshold,
            "first_value": a.first_value,
            "last_value": a.last_value,
            "since": _when(a.first_window_start),
            "last_window_end": _when(a.last_window_end),
            "breaches": a.breaches,
            "model_version": a.model_version,
            "message": a.message,
            "status": "open" if a.open else "resolved",
            "opened_at": _when(a.opened_at),
            "resolved_at": _when(a.resolved_at),
            "how": None if a.open else describe_resolution(closed.get(a.id)),
            "deliveries": [f"{d.get('channel')} {d.get('status')}" for d in (a.notified or [])],
        }
        for a in rows
    ], int(runs)


def _contract_summary(contract: dict[str, Any] | None) -> dict[str, Any] | None:
    """The data contract's name, version and column count (its full text stays in the store)."""
    if not contract:
        return None
    return {
        "dataset": contract.get("dataset"),
        "version": contract.get("version"),
        "n_columns": len(contract.get("columns") or []),
    }


def _sensitive_columns(dataset: Any, declared: list[str]) -> list[str]:
    """Columns of ``dataset`` that are declared sensitive or marked so in its contract."""
    names = [c.get("name") for c in dataset.schema or [] if isinstance(c, dict)]
    marked = [
        c.get("name")
        for c in (dataset.contract or {}).get("columns") or []
        if c.get("sensitivity") not in (None, "none")
    ]
    return [name for name in names if name in declared or name in marked]


def _model(model: Any, datasets: dict[int, Any]) -> dict[str, Any] | None:
    if model is None:
        return None
    dataset = datasets.get(model.dataset_version_id)
    return {
        "version": model.version,
        "sha256": model.artifact_sha256,
        "flavour": model.flavour,
        "estimator": model.estimator,
        "params": model.params,
        "metrics": model.metrics,
        "dataset_sha256": dataset.sha256 if dataset else None,
        "code_version": model.code_version,
        "created_by": model.created_by,
        "created_at": _when(model.created_at),
        "signature": [{"name": c["name"], "dtype": c["dtype"]} for c in model.signature],
    }


def _evidence(e: Evidence, datasets: dict[int, Any], models: dict[int, Any]) -> dict[str, Any]:
    dataset = datasets.get(e.dataset_version_id) if e.dataset_version_id else None
    model = models.get(e.model_version_id) if e.model_version_id else None
    return {
        "id": e.id,
        "kind": e.kind,
        "name": e.name,
        "requirement_id": e.requirement_id,
        "stage": e.stage,
        "status": e.status,
        "actor": e.actor,
        "created_at": _when(e.created_at),
        "dataset_sha256": dataset.sha256 if dataset else None,
        "model_sha256": model.artifact_sha256 if model else None,
        "model_version": model.version if model else None,
        "summary": e.summary,
        "result": e.payload.get("result"),
        "document": e.payload.get("document"),
    }


def explore_dataset(gov: Governance, dataset: str, output: Path | None = None) -> tuple:
    """Run the ``eda`` check on ``dataset``, store it as evidence and write its HTML page.

    Returns the evidence, the check result and the page's path (default: the workspace's
    ``eda-<dataset>.html``).
    """
    from mlgate.lifecycle.data import latest_dataset
    from mlgate.lifecycle.evidence import run_check
    from mlgate.reports.eda import write_eda

    evidence, result = run_check(gov, "eda", dataset)
    version = latest_dataset(gov, dataset)
    header = {
        "name": version.name,
        "sha256": version.sha256,
        "n_rows": version.n_rows,
        "n_cols": version.n_cols,
        "uri": version.uri,
    }
    path = write_eda(
        result, gov.config.project, header, output or gov.workspace.root / f"eda-{dataset}.html"
    )
    return evidence, result, path
