"""The shapes the API answers with, shared by the routers and described in the OpenAPI schema."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from mlgate.lifecycle.gates import RequirementState
from mlgate.lifecycle.service import StageStatus

# The store's text columns take any character but NUL (PostgreSQL refuses it).
NO_NUL = r"^[^\x00]*$"


def finite(value: float | None) -> float | None:
    """Return ``value``, or ``None`` for NaN and infinities (which JSON cannot carry)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def finite_values(values: dict[str, float | None]) -> dict[str, float | None]:
    """Return ``values`` with NaN and infinities as ``None``."""
    return {name: finite(value) for name, value in values.items()}


def utc(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC; SQLite hands stored times back without their zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Message(BaseModel):
    """A short confirmation."""

    message: str


class ErrorBody(BaseModel):
    """Every error answer: a code, the message the command line would print, and a hint."""

    error: str
    message: str
    hint: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "no valid token",
        403: "the policy, a role or separation of duties refuses it",
        404: "no such project or record",
        409: "the current state does not allow it",
        422: "the request or its content is not valid",
    }.items()
}


class RequirementOut(BaseModel):
    """Where one requirement stands, and what it still needs."""

    id: str
    title: str
    kind: str
    stage: str
    state: str
    met: bool
    detail: str
    hint: str = ""
    evidence_id: int | None = None
    actor: str | None = None
    at: datetime | None = None

    @classmethod
    def of(cls, state: RequirementState) -> RequirementOut:
        """Return the API view of a requirement's state."""
        return cls(
            id=state.id,
            title=state.title,
            kind=state.kind,
            stage=state.stage,
            state=state.state,
            met=state.met,
            detail=state.detail,
            hint=state.hint,
            evidence_id=state.evidence_id,
            actor=state.actor,
            at=state.at,
        )


class StageOut(BaseModel):
    """One stage of the project with its requirements."""

    id: str
    title: str
    status: str
    satisfied: bool
    requirements: list[RequirementOut]

    @classmethod
    def of(cls, stage: StageStatus) -> StageOut:
        """Return the API view of a stage."""
        return cls(
            id=stage.id,
            title=stage.title,
            status=stage.status,
            satisfied=stage.satisfied,
            requirements=[RequirementOut.of(r) for r in stage.requirements],
        )


class ProjectSummary(BaseModel):
    """A project as the portfolio lists it."""

    name: str
    tier: str
    stage: str
    owner: str
    roles: list[str] = Field(description="the caller's roles in the project")


class ProjectStatus(ProjectSummary):
    """A project with every stage and requirement."""

    policy: str
    policy_version: str
    created_at: datetime
    stages: list[StageOut]


class EvidenceOut(BaseModel):
    """A piece of evidence: a check's result or a submitted document, and what it is bound to."""

    id: int
    stage: str
    requirement_id: str | None
    kind: str
    name: str
    status: str
    summary: str
    artifacts: list[str]
    dataset_version_id: int | None
    model_version_id: int | None
    valid_until: datetime | None
    actor: str
    created_at: datetime


class EvidenceDetail(EvidenceOut):
    """A piece of evidence with its full payload (metrics, findings, the document's fields)."""

    payload: dict[str, Any]
