"""Evidence: running checks, reading what was stored, and the validators' findings.

A check runs on the project's current dataset and model versions, as ``mlgate check`` does,
and answers with the stored evidence and the result's numbers and findings. Stored artifacts
are served as downloads (only a PNG image is shown inline), so that no stored HTML or SVG runs
in the server's origin. Findings mirror ``mlgate finding``: who may record, update, close and
reopen one is decided by the service layer.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from mlgate.errors import NotFoundError
from mlgate.lifecycle.evidence import recheck, run_check
from mlgate.lifecycle.findings import (
    add_finding,
    close_finding,
    list_findings,
    reopen_finding,
    update_finding,
    version_numbers,
)
from mlgate.lifecycle.service import READ_ONLY_ROLES, Governance
from mlgate.registry.models import Evidence, ReviewFinding
from mlgate.server.api.schemas import ERRORS, EvidenceDetail, EvidenceOut
from mlgate.server.auth import Project

logger = logging.getLogger(__name__)

router = APIRouter(tags=["evidence"], responses=ERRORS)

DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
SHA256 = r"^[0-9a-f]{64}$"
MAX_TEXT = 10_000
SNIFF_YAML_BYTES = 2**20
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# Answers that carry stored content: nothing in them runs, and the browser guesses no type.
CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The evidence's id.")]
FindingId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The finding's id.")]
CheckName = Annotated[
    str, Path(min_length=1, max_length=64, description="A check or check requirement id.")
]


class CheckRequest(BaseModel):
    """What to run a check on: a dataset name (default: the one the policy names)."""

    dataset: str | None = Field(default=None, pattern=DATASET_NAME)
    streaming: bool = Field(default=False, description="read the data in batches")


class CheckFinding(BaseModel):
    """One thing a check noticed."""

    severity: str
    message: str
    subject: str | None = None
    value: float | int | str | None = None


class CheckRun(BaseModel):
    """A check's stored evidence, with the numbers and findings of its result."""

    check: str = Field(description="the check that ran")
    evidence: EvidenceOut
    status: str
    summary: str
    required: bool = Field(description="whether a requirement of the policy asks for it")
    metrics: dict[str, float | int | str | None]
    findings: list[CheckFinding]


class FindingOut(BaseModel):
    """A review finding and where it stands."""

    id: int
    severity: str
    title: str
    description: str
    owner: str
    due_date: date
    overdue: bool
    remediation: str
    status: str
    model_version: int | None = Field(description="the model version it concerns, if any")
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    resolution: str | None


class NewFinding(BaseModel):
    """A finding to record against a model version (default: the newest)."""

    severity: Literal["low", "medium", "high", "critical"]
    title: str = Field(min_length=1, max_length=300, description="one line naming the problem")
    description: str = Field(min_length=1, max_length=MAX_TEXT)
    owner: str = Field(min_length=1, max_length=200, description="who is to fix it")
    due: date = Field(description="today or later somewhere on Earth (today at UTC-12)")
    remediation: str = Field(default="", max_length=MAX_TEXT)
    model_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class FindingUpdate(BaseModel):
    """What to change in an open finding; at least one of the three."""

    remediation: str | None = Field(default=None, max_length=MAX_TEXT)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    due: date | None = None


class Resolution(BaseModel):
    """How a finding was settled."""

    resolution: str = Field(min_length=1, max_length=MAX_TEXT)


class Reopening(BaseModel):
    """Why a closed finding is open again."""

    reason: str = Field(min_length=1, max_length=MAX_TEXT)


# -- checks ----------------------------------------------------------------------------------


@router.post("/projects/{project}/checks/{name}", response_model=CheckRun)
def run(gov: Project, name: CheckName, body: CheckRequest | None = None) -> CheckRun:
    """Run one check on the current dataset and model versions and store it as evidence.

    ``name`` is a check requirement id or a check's name; a check no requirement asks for is
    stored as voluntary evidence. A failing check answers 200 with status ``fail``: the run
    itself succeeded.
    """
    request = body or CheckRequest()
    require_acting(gov, "check.run", f"check:{name}", "run checks")
    evidence, result = run_check(gov, name, request.dataset, request.streaming)
    outcome = result.to_dict()
    return CheckRun(
        check=result.check,
        evidence=EvidenceOut.model_validate(evidence, from_attributes=True),
        status=result.status,
        summary=result.summary,
        required=evidence.requirement_id is not None,
        metrics=outcome["metrics"],
        findings=[CheckFinding(**f) for f in outcome["findings"]],
    )


@router.post("/projects/{project}/recheck", response_model=list[EvidenceOut])
def rerun_stale(gov: Project) -> list[EvidenceOut]:
    """Re-run every check, up to the current stage, whose evidence is missing or stale."""
    require_acting(gov, "check.run", "checks:stale", "run checks")
    ran = recheck(gov)
    logger.info("%s re-ran %d check(s) in project %s", gov.actor, len(ran), gov.config.project)
    return [EvidenceOut.model_validate(e, from_attributes=True) for e in ran]


def require_acting(gov: Governance, action: str, subject: str, doing: str) -> None:
    """Refuse (403, audited) a caller holding only read-only roles such as ``auditor``."""
    acting = set(gov.policy.roles) - READ_ONLY_ROLES
    with gov.transaction() as session:
        gov.require_role(session, acting, action, subject, doing)


# -- evidence --------------------------------------------------------------------------------


@router.get("/projects/{project}/evidence", response_model=list[EvidenceOut])
def list_evidence(
    gov: Project,
    requirement: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=64, description="check or document")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EvidenceOut]:
    """List the project's evidence, newest first, optionally of one requirement or name."""
    with gov.transaction() as session:
        stmt = select(Evidence).where(Evidence.project_id == gov.project(session).id)
        if requirement is not None:
            stmt = stmt.where(Evidence.requirement_id == requirement)
        if name is not None:
            stmt = stmt.where(Evidence.name == name)
        rows = session.execute(stmt.order_by(Evidence.id.desc()).limit(limit)).scalars()
        return [EvidenceOut.model_validate(e, from_attributes=True) for e in rows]


@router.get("/projects/{project}/evidence/{evidence_id}", response_model=EvidenceDetail)
def evidence_detail(gov: Project, evidence_id: EvidenceId) -> EvidenceDetail:
    """Return one piece of evidence with its payload: metrics, findings, a document's fields."""
    return EvidenceDetail.model_validate(_evidence(gov, evidence_id), from_attributes=True)


@router.get(
    "/projects/{project}/evidence/{evidence_id}/artifacts/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
def artifact(
    gov: Project,
    evidence_id: EvidenceId,
    sha256: Annotated[str, Path(pattern=SHA256, description="The artifact's sha256.")],
) -> Response:
    """Return a file stored with a piece of evidence, after checking its hash.

    Only the artifacts the evidence lists are served. Everything but a PNG image is sent as an
    attachment, so that stored HTML or SVG never runs in the server's pages.
    """
    evidence = _evidence(gov, evidence_id)
    if sha256 not in evidence.artifacts:
        listed = ", ".join(str(a)[:12] for a in evidence.artifacts) or "none"
        raise NotFoundError(
            f"evidence {evidence_id} has no artifact {sha256[:12]}...; its artifacts: {listed}"
        )
    content = gov.artifacts.get_bytes(sha256)
    media, suffix = sniff(content, _stored_name(evidence))
    disposition = "inline" if media == "image/png" else "attachment"
    filename = _download_name(evidence, sha256, suffix)
    headers = {
        **CONTENT_HEADERS,
        "Content-Disposition": f'{disposition}; filename="{filename}"',
    }
    return Response(content, media_type=media, headers=headers)


def sniff(content: bytes, name: str | None = None) -> tuple[str, str]:
    """Return the media type and file suffix of stored ``content``.

    HTML, PNG, SVG and JSON are recognised by their content; YAML by the stored file's name,
    or by parsing as a mapping or list. Anything else is ``application/octet-stream``.
    """
    head = content[:512].lstrip().lower()
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", ".png"
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html; charset=utf-8", ".html"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml", ".svg"
    if name is not None and name.lower().endswith((".yaml", ".yml")):
        return "application/yaml; charset=utf-8", ".yaml"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream", ".bin"
    try:
        json.loads(text)
        return "application/json", ".json"
    except ValueError:
        pass
    if len(content) <= SNIFF_YAML_BYTES and _yaml_structure(text):
        return "application/yaml; charset=utf-8", ".yaml"
    return "application/octet-stream", ".bin"


def _yaml_structure(text: str) -> bool:
    try:
        return isinstance(yaml.safe_load(text), dict | list)
    except yaml.YAMLError:
        return False


def _evidence(gov: Governance, evidence_id: int) -> Evidence:
    """Return the project's evidence ``evidence_id``; 404 naming the project otherwise."""
    with gov.transaction() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None or evidence.project_id != gov.project(session).id:
            raise NotFoundError(
                f"project {gov.config.project} has no evidence {evidence_id}",
                hint="GET /api/v1/projects/NAME/evidence lists its evidence",
            )
        return evidence


def _stored_name(evidence: Evidence) -> str | None:
    """Return the file name a document was submitted under, if the evidence is one."""
    name = evidence.payload.get("file") if isinstance(evidence.payload, dict) else None
    return name if isinstance(name, str) else None


def _download_name(evidence: Evidence, sha256: str, suffix: str) -> str:
    """Return a safe file name for a download: the submitted name, or the evidence and hash."""
    stored = _stored_name(evidence)
    if stored:
        safe = UNSAFE_NAME.sub("-", stored).strip(".-")[:100]
        if safe:
            return safe
    return f"evidence-{evidence.id}-{sha256[:12]}{suffix}"


# -- findings --------------------------------------------------------------------------------


@router.get("/projects/{project}/findings", response_model=list[FindingOut])
def findings(
    gov: Project,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    model_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[FindingOut]:
    """List the project's findings, oldest first, optionally of one status or model version."""
    rows = list_findings(gov, status, model_version)
    return _findings_out(gov, rows)


@router.post("/projects/{project}/findings", response_model=FindingOut, status_code=201)
def add(gov: Project, body: NewFinding) -> FindingOut:
    """Record a finding (validators, risk officers, admins); the owner must be a member."""
    finding = add_finding(
        gov,
        body.severity,
        body.title,
        body.description,
        body.owner,
        body.due,
        body.remediation,
        body.model_version,
    )
    return _findings_out(gov, [finding])[0]


@router.patch("/projects/{project}/findings/{finding_id}", response_model=FindingOut)
def update(gov: Project, finding_id: FindingId, body: FindingUpdate) -> FindingOut:
    """Change an open finding's remediation plan (its owner may), owner or due date."""
    finding = update_finding(gov, finding_id, body.remediation, body.owner, body.due)
    return _findings_out(gov, [finding])[0]


@router.post("/projects/{project}/findings/{finding_id}/close", response_model=FindingOut)
def close(gov: Project, finding_id: FindingId, body: Resolution) -> FindingOut:
    """Close a finding; not by the model's author nor by the finding's owner."""
    finding = close_finding(gov, finding_id, body.resolution)
    return _findings_out(gov, [finding])[0]


@router.post("/projects/{project}/findings/{finding_id}/reopen", response_model=FindingOut)
def reopen(gov: Project, finding_id: FindingId, body: Reopening) -> FindingOut:
    """Reopen a closed finding, saying why (validators, risk officers, admins)."""
    finding = reopen_finding(gov, finding_id, body.reason)
    return _findings_out(gov, [finding])[0]


def _findings_out(gov: Governance, rows: list[ReviewFinding]) -> list[FindingOut]:
    """Return the API view of findings, with model version numbers and overdue flags."""
    versions = version_numbers(gov)
    today = datetime.now(UTC).date()
    return [
        FindingOut(
            id=f.id,
            severity=f.severity,
            title=f.title,
            description=f.description,
            owner=f.owner,
            due_date=f.due_date,
            overdue=f.status == "open" and f.due_date < today,
            remediation=f.remediation,
            status=f.status,
            model_version=versions.get(f.model_version_id) if f.model_version_id else None,
            created_by=f.created_by,
            created_at=f.created_at,
            closed_by=f.closed_by,
            closed_at=f.closed_at,
            resolution=f.resolution,
        )
        for f in rows
    ]
