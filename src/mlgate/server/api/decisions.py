"""Approvals, rejections and waivers: the decisions people make about requirements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mlgate.lifecycle.service import MIN_JUSTIFICATION
from mlgate.server.api.schemas import ERRORS
from mlgate.server.auth import Project

router = APIRouter(tags=["decisions"], responses=ERRORS)


class Decision(BaseModel):
    """An approval or a rejection, with the reason for it."""

    decision: Literal["approve", "reject"]
    comment: str = Field(min_length=1, max_length=5000)


class DecisionOut(BaseModel):
    """A recorded approval or rejection."""

    id: int
    requirement_id: str
    stage: str
    subject: str
    decision: str
    role: str
    comment: str
    actor: str
    created_at: datetime


class NewWaiver(BaseModel):
    """A requirement set aside until a date, and why that is acceptable."""

    justification: str = Field(min_length=MIN_JUSTIFICATION, max_length=5000)
    expires: date


class WaiverOut(BaseModel):
    """A recorded waiver."""

    id: int
    requirement_id: str
    stage: str
    justification: str
    role: str
    actor: str
    expires_at: datetime
    created_at: datetime


@router.post(
    "/projects/{project}/approvals/{requirement}", response_model=DecisionOut, status_code=201
)
def decide(gov: Project, requirement: str, body: Decision) -> DecisionOut:
    """Approve or reject what an approval requirement is about.

    The caller needs the role the requirement names, and may not decide on their own work:
    a self-approval is refused with 403 and recorded in the trail.
    """
    approval = gov.decide(requirement, body.decision, body.comment)
    return DecisionOut.model_validate(approval, from_attributes=True)


@router.get("/projects/{project}/approvals", response_model=list[DecisionOut])
def list_decisions(gov: Project) -> list[DecisionOut]:
    """List every approval and rejection of the project, oldest first."""
    from mlgate.registry.models import Approval

    with gov.transaction() as session:
        rows = gov.project_rows(session, Approval)
    return [DecisionOut.model_validate(a, from_attributes=True) for a in rows]


@router.post(
    "/projects/{project}/waivers/{requirement}", response_model=WaiverOut, status_code=201
)
def waive(gov: Project, requirement: str, body: NewWaiver) -> WaiverOut:
    """Set a requirement aside until ``expires`` (the policy's waiver roles only)."""
    waiver = gov.waive(requirement, body.justification, body.expires)
    return WaiverOut.model_validate(waiver, from_attributes=True)


@router.get("/projects/{project}/waivers", response_model=list[WaiverOut])
def list_waivers(gov: Project) -> list[WaiverOut]:
    """List every waiver of the project, oldest first."""
    from mlgate.registry.models import Waiver

    with gov.transaction() as session:
        rows = gov.project_rows(session, Waiver)
    return [WaiverOut.model_validate(w, from_attributes=True) for w in rows]
