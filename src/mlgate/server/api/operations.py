"""Running a model in production: deployments, monitoring, alerts, late labels and KPIs.

Each route does what the matching command does (``mlgate deploy``, ``rollback``, ``monitor``,
``alerts``, ``labels add``, ``kpi add``) through the same service functions, acting as the
authenticated user: roles, gates and separation of duties are checked, and audited, there.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as ModelError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mlgate.errors import ConflictError
from mlgate.lifecycle.deploy import deploy as deploy_model
from mlgate.lifecycle.deployments import DeploymentRecord, deployment_history, rollback
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import (
    MAX_ID,
    describe_resolution,
    get_alert,
    list_alerts,
    resolve_alert,
)
from mlgate.monitoring.alerts import resolutions as alert_resolutions
from mlgate.monitoring.kpis import list_kpis, record_kpi
from mlgate.monitoring.labels import ingest_labels
from mlgate.monitoring.run import MonitorSummary, WindowResult, monitor, monitor_history
from mlgate.registry.models import Alert, Deployment, KpiValue, ModelVersion, MonitorRun
from mlgate.server.api.schemas import ERRORS
from mlgate.server.auth import Project
from mlgate.server.errors import ApiError
from mlgate.server.uploads import bare_name, save_upload, shown_as, staged, too_large

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"], responses=ERRORS)

Mode = Literal["batch", "rest", "stream"]
MAX_LABELS = 100_000
LABEL_SUFFIXES = (".csv", ".parquet", ".pq")
# The store's text columns take any character but NUL (PostgreSQL refuses it).
NO_NUL = r"^[^\x00]*$"
AlertId = PathParam(ge=1, le=MAX_ID, description="The alert's number, as the list shows it.")


# -- shapes ----------------------------------------------------------------------------------


class NewDeployment(BaseModel):
    """What deploying takes: the mode, and optionally the version the caller means to deploy.

    Deploying always puts the project's newest model version in service once every gate up to
    deployment holds for it; naming ``version`` makes the request fail (409) rather than deploy
    another version than the one the caller reviewed.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "batch"
    version: int | None = Field(default=None, ge=1, le=MAX_ID)
    endpoint: str | None = Field(default=None, min_length=1, max_length=300, pattern=NO_NUL)


class DeploymentOut(BaseModel):
    """One deployment; ``ended_at`` is empty and ``live`` true while it serves."""

    id: int
    mode: str
    version: int
    endpoint: str
    actor: str
    created_at: datetime
    ended_at: datetime | None
    live: bool

    @classmethod
    def of(cls, record: DeploymentRecord) -> DeploymentOut:
        """Return the API view of a deployment of the history."""
        return cls(
            id=record.id,
            mode=record.mode,
            version=record.version,
            endpoint=record.endpoint,
            actor=record.actor,
            created_at=record.created_at,
            ended_at=record.ended_at,
            live=record.live,
        )


class RollbackRequest(BaseModel):
    """Which mode to roll back, and why (at least 10 characters; it goes into the trail)."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "batch"
    reason: str = Field(max_length=2000, pattern=NO_NUL)


class RollbackOut(BaseModel):
    """What a rollback did: the version it took back and the version now serving."""

    mode: str
    from_version: int
    to_version: int
    deployment: DeploymentOut


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
            performance=_finite_values(window.performance),
            estimates=_finite_values(window.estimates),
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


class LabelIn(BaseModel):
    """The true outcome of one served prediction, joined to it by its request id."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    label: int | Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] = Field(
        description="one of the model's classes"
    )
    observed_at: datetime | None = Field(
        default=None, description="when the outcome became known; UTC without a zone"
    )


class LabelsIn(BaseModel):
    """Labels sent as JSON; ``replace`` overwrites stored labels that differ (audited)."""

    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn] = Field(min_length=1, max_length=MAX_LABELS)
    replace: bool = False


class LabelsOut(BaseModel):
    """What ingesting labels did."""

    received: int
    stored: int
    unchanged: int
    replaced: int
    unlogged: int = Field(description="labels whose request id is not in the prediction log")
    source: str
    summary: str


class NewKpi(BaseModel):
    """A business KPI's value for one period, both days included (as ``mlgate kpi add``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    value: float
    period_start: date
    period_end: date
    source: str = Field(default="api", min_length=1, max_length=200, pattern=NO_NUL)


class KpiOut(BaseModel):
    """A reported KPI value with its declared unit, direction and target."""

    id: int
    name: str
    period_start: date
    period_end: date
    value: float
    source: str
    actor: str
    recorded_at: datetime
    evaluated: bool = Field(description="whether a monitor run has evaluated the value")
    unit: str
    direction: str | None
    target: float | None

    @classmethod
    def of(cls, gov: Governance, row: KpiValue) -> KpiOut:
        """Return the API view of a stored KPI value with its declaration."""
        spec = next((s for s in gov.config.monitoring.kpis if s.name == row.name), None)
        return cls(
            id=row.id,
            name=row.name,
            period_start=row.period_start,
            period_end=row.period_end,
            value=row.value,
            source=row.source,
            actor=row.actor,
            recorded_at=_utc(row.recorded_at),
            evaluated=row.run_id is not None,
            unit=spec.unit if spec is not None else "",
            direction=spec.direction if spec is not None else None,
            target=spec.target if spec is not None else None,
        )


# -- deployments -----------------------------------------------------------------------------


@router.get("/projects/{project}/deployments", response_model=list[DeploymentOut])
def list_deployments(gov: Project, mode: Mode | None = None) -> list[DeploymentOut]:
    """List every deployment of the project (of one mode if given), oldest first."""
    return [DeploymentOut.of(r) for r in deployment_history(gov, mode)]


@router.post("/projects/{project}/deployments", response_model=DeploymentOut, status_code=201)
def deploy(gov: Project, body: NewDeployment) -> DeploymentOut:
    """Deploy the newest model version once every gate up to deployment holds for it.

    ML engineers and admins only. A closed gate is refused with 403 naming each gap.
    """
    if body.version is not None:
        _check_newest(gov, body.version)
    row = deploy_model(gov, body.mode, body.endpoint)
    logger.info("%s deployed %s over the API (%s)", gov.actor, gov.config.project, body.mode)
    return DeploymentOut.of(_record_of(gov, row))


@router.post("/projects/{project}/rollback", response_model=RollbackOut)
def roll_back(gov: Project, body: RollbackRequest) -> RollbackOut:
    """Re-deploy the version that served in a mode before the live one (gates not re-run)."""
    done = rollback(gov, body.mode, body.reason)
    return RollbackOut(
        mode=done.mode,
        from_version=done.from_version,
        to_version=done.to_version,
        deployment=DeploymentOut.of(_record_of(gov, done.deployment)),
    )


def _check_newest(gov: Governance, version: int) -> None:
    """Refuse a request naming another version than the newest, which deploying would serve."""
    with gov.transaction() as session:
        newest = max((m.version for m in gov.project_rows(session, ModelVersion)), default=None)
    if newest is not None and newest != version:
        raise ConflictError(
            f"deploying serves the newest model version, {newest}, which the gates were "
            f"checked for; the request names version {version}",
            hint="send version null or the newest one; to serve an earlier version again, "
            "roll back",
        )


def _record_of(gov: Governance, row: Deployment) -> DeploymentRecord:
    """Return the history's record of a deployment just made."""
    return next(r for r in deployment_history(gov, row.mode) if r.id == row.id)


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
            "window_start": _utc(run.window_start),
            "window_end": _utc(run.window_end),
            "started_at": _utc(run.started_at),
            "ended_at": None if run.ended_at is None else _utc(run.ended_at),
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
        "threshold": _finite(alert.threshold),
        "first_value": _finite(alert.first_value),
        "last_value": _finite(alert.last_value),
        "breaches": alert.breaches,
        "first_window_start": _utc(alert.first_window_start),
        "last_window_end": _utc(alert.last_window_end),
        "model_version": alert.model_version,
        "message": alert.message,
        "opened_at": _utc(alert.opened_at),
        "resolved_at": None if alert.resolved_at is None else _utc(alert.resolved_at),
        "resolution": None if open_now else describe_resolution(resolution),
    }


# -- labels ----------------------------------------------------------------------------------


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON schema with its ``$defs`` references replaced by the definitions.

    The labels route reads its body itself (JSON or a form), so its schema is written into the
    OpenAPI document by hand, where a ``#/$defs/...`` reference would point nowhere.
    """
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


LABELS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(LabelsIn.model_json_schema())},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV or Parquet with request_id, label[, observed_at]",
                        },
                        "replace": {"type": "boolean", "default": False},
                    },
                }
            },
        },
    }
}


@router.post(
    "/projects/{project}/labels",
    response_model=LabelsOut,
    status_code=201,
    openapi_extra=LABELS_BODY,
    responses={413: {"description": "the body or the file is larger than the server takes"}},
)
async def add_labels(request: Request, gov: Project) -> LabelsOut:
    """Store the true outcomes of served predictions, as JSON or as a CSV or Parquet file.

    Data scientists, ML engineers, business owners and admins; ``replace`` (changing stored
    labels) is for ML engineers, business owners and admins. Labels already stored alike are
    skipped; one bad row refuses the whole input, naming it. The file is read into the store
    and not kept; the trail records its name.
    """
    limit = request.app.state.settings.max_upload_bytes
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/json":
        frame, replace = _labels_from_json(await _read_body(request, limit))
        return await run_in_threadpool(_ingest, gov, frame, replace)
    if kind == "multipart/form-data":
        _refuse_declared_size(request, limit)
        async with request.form(max_files=1, max_fields=10) as form:
            upload, replace = _label_form(form)
            return await run_in_threadpool(_ingest_file, gov, upload, replace, limit)
    raise ApiError(
        415,
        "labels come as application/json or as multipart/form-data with a file; got "
        f"'{kind[:100] or 'no content type'}'",
    )


def _ingest(gov: Governance, source: Path | pd.DataFrame, replace: bool) -> LabelsOut:
    result = ingest_labels(gov, source, replace=replace)
    return LabelsOut(
        received=result.received,
        stored=result.stored,
        unchanged=result.unchanged,
        replaced=result.replaced,
        unlogged=result.unlogged,
        source=result.source,
        summary=result.summary(),
    )


def _ingest_file(gov: Governance, upload: UploadFile, replace: bool, limit: int) -> LabelsOut:
    """Stage the upload under its bare name in the project's uploads, ingest it, remove it."""
    name = bare_name(upload.filename, LABEL_SUFFIXES, "label file")
    with staged(gov, name) as path, shown_as(path.parent):
        save_upload(upload, path, limit, "label file")
        return _ingest(gov, path, replace)


async def _read_body(request: Request, limit: int) -> bytes:
    """Return the request body; refuse (413) one above ``limit`` bytes."""
    _refuse_declared_size(request, limit)
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large("body of labels", size, limit)
        parts.append(part)
    return b"".join(parts)


def _labels_from_json(raw: bytes) -> tuple[pd.DataFrame, bool]:
    """Return the labels of a JSON body as a frame, and whether to replace stored ones."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, f"the body is not valid JSON: {exc}") from None
    try:
        body = LabelsIn.model_validate(document)
    except ModelError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None
    frame = pd.DataFrame(
        {
            "request_id": [item.request_id for item in body.labels],
            "label": pd.Series([item.label for item in body.labels], dtype=object),
        }
    )
    observed = [item.observed_at for item in body.labels]
    if any(moment is not None for moment in observed):
        frame["observed_at"] = pd.Series(observed, dtype=object)
    return frame, body.replace


def _label_form(form: Any) -> tuple[UploadFile, bool]:
    """Return the form's label file and its ``replace`` flag; refuse a form without a file."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(
            422,
            "the form has no file field 'file'; expected a CSV or Parquet file with "
            "request_id, label[, observed_at]",
        )
    return upload, _form_flag(form.get("replace"))


def _form_flag(value: Any) -> bool:
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "false", "0", "no", "off"):
        return False
    if text in ("true", "1", "yes", "on"):
        return True
    raise ApiError(422, f"the form field 'replace' must be true or false; got '{text[:40]}'")


def _refuse_declared_size(request: Request, limit: int) -> None:
    """Refuse (413) a body whose declared length is above ``limit`` before reading it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large("request body", int(declared), limit)


# -- KPIs ------------------------------------------------------------------------------------


@router.get("/projects/{project}/kpis", response_model=list[KpiOut])
def kpis(
    gov: Project,
    name: str | None = Query(None, min_length=1, max_length=100, description="Only this KPI."),
) -> list[KpiOut]:
    """List the reported KPI values by name and period, with their target."""
    return [KpiOut.of(gov, row) for row in list_kpis(gov, name)]


@router.post("/projects/{project}/kpis", response_model=KpiOut, status_code=201)
def add_kpi(gov: Project, body: NewKpi) -> KpiOut:
    """Report a KPI's value for one period (business owners and admins).

    The KPI must be declared under ``monitoring.kpis``; a different value for a period already
    reported, or an overlapping period, is refused with 409.
    """
    row = record_kpi(gov, body.name, body.value, body.period_start, body.period_end, body.source)
    return KpiOut.of(gov, row)


# -- helpers ---------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """Return ``value``, or ``None`` for NaN and infinities (which JSON cannot carry)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _finite_values(values: dict[str, float | None]) -> dict[str, float | None]:
    return {name: _finite(value) for name, value in values.items()}


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC; SQLite hands stored times back without their zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
