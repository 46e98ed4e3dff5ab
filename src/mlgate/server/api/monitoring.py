"""Monitoring: running the monitor over the prediction log, its history, and the alerts.

The routes do what ``mlgate monitor`` and ``mlgate alerts`` do, through the same service
functions, acting as the authenticated user.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from mlgate.monitoring.alerts import (
    MAX_ID,
    describe_resolution,
    get_alert,
    list_alerts,
    resolve_alert,
)
from mlgate.monitoring.alerts import resolutions as alert_resolutions
from mlgate.monitoring.run import MonitorSummary, WindowResult, monitor, monitor_history
from mlgate.registry.models import Alert, MonitorRun
from mlgate.server.api.schemas import ERRORS, NO_NUL, finite, finite_values, utc
from mlgate.server.auth import Project

logger = logging.getLogger(__name__)

router = APIRouter(tags=["monitoring"], responses=ERRORS)

AlertId = PathParam(ge=1, le=MAX_ID, description="The alert's number, as the list shows it.")


# -- shapes ----------------------------------------------------------------------------------


class MonitorRequest(BaseModel):
    """What a monitor run takes: monitor only the windows that ended by ``until`` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    until: datetime | None = Field(
        default=None, description="default: now; a time without a zone is read as UTC"
    )


class WindowOut(BaseModel):
    """What a monitor run did with one window of the prediction log."""

    run_id: int | None
    length: str
    start: datetime
    end: datetime
    model_version: int | None
    rows: int
    status: str
    summary: str
    drifted: list[str]
    performance: dict[str, float | None]
    estimates: dict[str, float | None]
    opened: list[str]
    resolved: list[str]

    @classmethod
    def of(cls, window: WindowResult) -> WindowOut:
        """Return the API view of one window's result."""
        return cls(
            run_id=window.run_id,
            length=window.length,
            start=window.start,
            end=window.end,
            model_version=window.model_version,
            rows=window.rows,
            status=window.status,
            summary=window.summary,
            drifted=list(window.drifted),
            performance=finite_values(window.performance),
            estimates=finite_values(window.estimates),
            opened=list(window.opened),
            resolved=list(window.resolved),
        )


class AlertOut(BaseModel):
    """A monitoring alert: which rule breached for which subject, and whether it still stands."""

    id: int
    rule_id: str
    metric: str
    subject: str
    severity: str
    action: str
    open: bool
    threshold: float | None
    first_value: float | None
    last_value: float | None
    breaches: int
    first_window_start: datetime
    last_window_end: datetime
    model_version: int | None
    message: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None = Field(description="how a resolved alert closed")

    @classmethod
    def of(cls, alert: Alert, resolution: dict[str, Any] | None = None) -> AlertOut:
        """Return the API view of an alert, with how it closed if it did."""
        return cls(**_alert_fields(alert, resolution))


class AlertDetail(AlertOut):
    """An alert with every notice sent about it (channel, status, attempts, detail)."""

    notified: list[dict[str, Any]]


class Delivered(BaseModel):
    """One notice about an alert: the channel, and whether it went out."""

    alert_id: int
    event: str
    channel: str
    status: str
    detail: str


class RetrainOut(BaseModel):
    """What a retraining rule did during the run."""

    status: str
    detail: str
    pipeline: str | None
    model_version: int | None


class MonitorOut(BaseModel):
    """Everything one monitor run did: the windows, the alerts opened and resolved, and more."""

    windows: list[WindowOut]
    failed: int
    silent: int = Field(description="windows monitored without a single logged prediction")
    opened: list[AlertOut]
    resolved: list[AlertOut]
    continued: int
    caught_up: int = Field(description="performance values recomputed with late labels")
    kpis: int = Field(description="KPI values evaluated")
    not_applicable: dict[str, str]
    late_error: str
    deliveries: list[Delivered]
    retrain: RetrainOut | None
    seconds: float

    @classmethod
    def of(cls, summary: MonitorSummary) -> MonitorOut:
        """Return the API view of a monitor run's summary."""
        retrain = summary.retrain
        return cls(
            windows=[WindowOut.of(w) for w in summary.windows],
            failed=len(summary.failed),
            silent=len(summary.silent),
            opened=[AlertOut.of(a) for a in summary.opened],
            resolved=[AlertOut.of(a) for a in summary.resolved],
            continued=len(summary.continued),
            caught_up=summary.caught_up,
            kpis=summary.kpis,
            not_applicable=dict(summary.not_applicable),
            late_error=summary.late_error,
            deliveries=[
                Delivered(
                    alert_id=d.alert_id,
                    event=d.event,
                    channel=d.channel,
                    status=d.status,
                    detail=d.detail,
                )
                for d in summary.deliveries
            ],
            retrain=None
            if retrain is None
            else RetrainOut(
                status=retrain.status,
                detail=retrain.detail,
                pipeline=retrain.pipeline,
                model_version=retrain.model_version,
            ),
            seconds=round(summary.seconds, 3),
        )


class MonitorRunOut(BaseModel):
    """One monitored window as the history lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    window: str
    window_start: datetime
    window_end: datetime
    model_version: int | None
    rows: int
    status: str
    summary: str
    trigger: str
    actor: str
    started_at: datetime
    ended_at: datetime | None


class Resolution(BaseModel):
    """Why an alert is resolved by hand: what was found or done (10 characters or more)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, pattern=NO_NUL)


# -- monitoring ------------------------------------------------------------------------------


@router.post("/projects/{project}/monitor", response_model=MonitorOut)
def run_monitor(gov: Project, body: MonitorRequest | None = None) -> MonitorOut:
    """Monitor every complete window of the prediction log not yet monitored.

    ML engineers, data scientists and admins. Windows are compared with the reference, alerts
    opened and resolved, late labels and KPI values evaluated; a failed window is reported in
    the answer (``failed``, each window's ``summary``) while the others are still recorded.
    """
    until = body.until if body is not None else None
    summary = monitor(gov, until=until)
    return MonitorOut.of(summary)


@router.get("/projects/{project}/monitor/runs", response_model=list[MonitorRunOut])
def list_monitor_runs(
    gov: Project, limit: int = Query(30, ge=1, le=10_000, description="How many runs.")
) -> list[MonitorRunOut]:
    """List the monitored windows, newest window first."""
    return [_run_out(run) for run in monitor_history(gov, limit)]


def _run_out(run: MonitorRun) -> MonitorRunOut:
    out = MonitorRunOut.model_validate(run)
    return out.model_copy(
        update={
            "window_start": utc(run.window_start),
            "window_end": utc(run.window_end),
            "started_at": utc(run.started_at),
            "ended_at": None if run.ended_at is None else utc(run.ended_at),
        }
    )


# -- alerts ----------------------------------------------------------------------------------


@router.get("/projects/{project}/alerts", response_model=list[AlertOut])
def alerts(
    gov: Project,
    include_all: bool = Query(False, alias="all", description="Resolved alerts too."),
) -> list[AlertOut]:
    """List the open alerts, most severe first; with ``all``, the resolved ones after them."""
    rows = list_alerts(gov, include_resolved=include_all)
    how = alert_resolutions(gov) if include_all else {}
    return [AlertOut.of(a, how.get(a.id)) for a in rows]


@router.get("/projects/{project}/alerts/{alert_id}", response_model=AlertDetail)
def alert(gov: Project, alert_id: int = AlertId) -> AlertDetail:
    """Show one alert with every notice sent about it."""
    row = get_alert(gov, alert_id)
    resolution = None if row.open else alert_resolutions(gov).get(row.id)
    return AlertDetail(**_alert_fields(row, resolution), notified=list(row.notified or []))


@router.post("/projects/{project}/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(gov: Project, body: Resolution, alert_id: int = AlertId) -> AlertOut:
    """Resolve an open alert by hand (ML engineers and validators); its next breach re-opens."""
    row = resolve_alert(gov, alert_id, body.reason)
    return AlertOut.of(row, {"manual": True, "actor": gov.actor, "reason": body.reason.strip()})


def _alert_fields(alert: Alert, resolution: dict[str, Any] | None) -> dict[str, Any]:
    open_now = bool(alert.open)
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "metric": alert.metric,
        "subject": alert.subject,
        "severity": alert.severity,
        "action": alert.action,
        "open": open_now,
        "threshold": finite(alert.threshold),
        "first_value": finite(alert.first_value),
        "last_value": finite(alert.last_value),
        "breaches": alert.breaches,
        "first_window_start": utc(alert.first_window_start),
        "last_window_end": utc(alert.last_window_end),
        "model_version": alert.model_version,
        "message": alert.message,
        "opened_at": utc(alert.opened_at),
        "resolved_at": None if alert.resolved_at is None else utc(alert.resolved_at),
        "resolution": None if open_now else describe_resolution(resolution),
    }
