"""Projects: the portfolio, creating a project, its gate status, members and advancing."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from mlgate.config import parse_config
from mlgate.errors import PolicyViolation, ValidationError
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import Project as ProjectRow
from mlgate.server.api.schemas import ERRORS, ProjectStatus, ProjectSummary, StageOut
from mlgate.server.auth import Project, User, accounts, member_roles, projects, source

logger = logging.getLogger(__name__)

router = APIRouter(tags=["projects"], responses=ERRORS)


class NewProject(BaseModel):
    """What creating a project takes; the caller becomes its owner, admin and data scientist."""

    name: str = Field(min_length=1, max_length=200)
    target: str = Field(min_length=1, max_length=200, description="the column the model predicts")
    tier: Literal["low", "medium", "high"] = "medium"
    sensitive: list[str] = Field(default_factory=list, max_length=200)
    exclude: list[str] = Field(default_factory=list, max_length=200)
    positive_label: int | str = 1
    description: str = Field(default="", max_length=2000)
    estimator: str = Field(
        default="sklearn.ensemble.HistGradientBoostingClassifier", max_length=300
    )


class Membership(BaseModel):
    """A role given to a person."""

    user: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=64)


class Advanced(BaseModel):
    """The stage a project moved from and to."""

    project: str
    previous: str
    stage: str


def status_of(gov: Governance, roles: set[str]) -> ProjectStatus:
    """Return the project's full gate status as the API shows it."""
    project, stages = gov.status()
    return ProjectStatus(
        name=project.name,
        tier=project.tier,
        stage=project.stage,
        owner=project.owner,
        roles=sorted(roles),
        policy=project.policy_name,
        policy_version=project.policy_version,
        created_at=project.created_at,
        stages=[StageOut.of(s) for s in stages],
    )


@router.get("/projects", response_model=list[ProjectSummary])
def list_projects(request: Request, user: User) -> list[ProjectSummary]:
    """List the projects the caller holds a role in (every project for a server admin)."""
    held = projects(request).roles(user.name)
    with projects(request).store.transaction() as session:
        rows = session.execute(select(ProjectRow).order_by(ProjectRow.id)).scalars()
        return [
            ProjectSummary(
                name=p.name,
                tier=p.tier,
                stage=p.stage,
                owner=p.owner,
                roles=sorted(held.get(p.name, set())),
            )
            for p in rows
            if p.name in held or user.is_admin
        ]


@router.post("/projects", response_model=ProjectStatus, status_code=201)
def create_project(request: Request, user: User, body: NewProject) -> ProjectStatus:
    """Create a project governed by the built-in policy; the caller owns it."""
    if not user.is_admin:
        accounts(request).record_refusal(
            user.name,
            "project.create.refused",
            f"project:{body.name}",
            "creating projects needs a server admin",
            source(request),
        )
        raise PolicyViolation(
            f"{user.name} may not create projects: it needs a server admin",
            hint="a server admin runs: mlgate user add NAME --admin, or creates the project",
        )
    config = parse_config(
        {
            "project": body.name,
            "tier": body.tier,
            "owner": user.name,
            "description": body.description,
            "data": {
                "target": body.target,
                "positive_label": body.positive_label,
                "sensitive": list(dict.fromkeys(body.sensitive)),
                "exclude": list(dict.fromkeys(body.exclude)),
            },
            "training": {"estimator": body.estimator},
        },
        "the new project",
    )
    server = projects(request)
    init_project(server.workspace(body.name), config, store=server.store)
    logger.info("%s created project %s over the API", user.name, body.name)
    return status_of(server.open(body.name, user.name), {"admin", "data_scientist"})


@router.get("/projects/{project}", response_model=ProjectStatus)
def project_status(request: Request, user: User, gov: Project) -> ProjectStatus:
    """Return the project's stages, each requirement's state and what it still needs."""
    return status_of(gov, member_roles(request, user, gov.config.project))


@router.post("/projects/{project}/advance", response_model=Advanced)
def advance(gov: Project) -> Advanced:
    """Move the project to its next stage when every requirement of the current one is met.

    Refused with 403, naming each gap and what to do about it, when the gate is closed.
    """
    stage = gov.advance()
    # The stage just left, named from the stage reached: another request may have moved the
    # project between a separate read and this advance.
    stages = gov.policy.stage_ids
    previous = stages[stages.index(stage) - 1]
    return Advanced(project=gov.config.project, previous=previous, stage=stage)


@router.get("/projects/{project}/members", response_model=list[Membership])
def list_members(gov: Project) -> list[Membership]:
    """List who holds which role in the project."""
    return [Membership(user=u, role=r) for u, r in gov.members()]


@router.post("/projects/{project}/members", response_model=Membership, status_code=201)
def add_member(request: Request, gov: Project, body: Membership) -> Membership:
    """Give a user of this server a role in the project (the project's admins only)."""
    if body.role not in gov.policy.roles:
        raise ValidationError(
            f"unknown role '{body.role}'; the policy knows {', '.join(gov.policy.roles)}"
        )
    if body.user not in {u.name for u in accounts(request).users()}:
        with gov.transaction() as session:  # a refusal for the role comes first, audited
            gov.require_role(
                session, {"admin"}, "member.add", f"member:{body.user}", "give people roles"
            )
        raise ValidationError(
            f"'{body.user[:100]}' is no user of this server; expected the name of an account",
            hint=f"a server admin creates it first: mlgate user add {body.user[:100]}",
        )
    gov.add_member(body.user, body.role)
    return body
