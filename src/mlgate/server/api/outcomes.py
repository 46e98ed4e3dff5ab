"""Outcomes: late labels of served predictions and the business's KPI values.

The routes do what ``mlgate labels add`` and ``mlgate kpi add|list`` do, through the same
service functions, acting as the authenticated user.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as ModelError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mlgate.lifecycle.service import Governance
from mlgate.monitoring.kpis import list_kpis, record_kpi
from mlgate.monitoring.labels import ingest_labels
from mlgate.registry.models import KpiValue
from mlgate.server.api.schemas import ERRORS, NO_NUL, utc
from mlgate.server.auth import Project
from mlgate.server.errors import ApiError
from mlgate.server.uploads import bare_name, save_upload, shown_as, staged, too_large

logger = logging.getLogger(__name__)

router = APIRouter(tags=["outcomes"], responses=ERRORS)

MAX_LABELS = 100_000
LABEL_SUFFIXES = (".csv", ".parquet", ".pq")


# -- shapes ----------------------------------------------------------------------------------


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
            recorded_at=utc(row.recorded_at),
            evaluated=row.run_id is not None,
            unit=spec.unit if spec is not None else "",
            direction=spec.direction if spec is not None else None,
            target=spec.target if spec is not None else None,
        )


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
