"""Deployments: which model version serves in which mode, deploying and rolling back.

The routes do what ``mlgate deploy``, ``mlgate deployments`` and ``mlgate rollback`` do, through
the same service functions, acting as the authenticated user.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mlgate.errors import ConflictError
from mlgate.lifecycle.deploy import deploy as deploy_model
from mlgate.lifecycle.deployments import DeploymentRecord, deployment_history, rollback
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import MAX_ID
from mlgate.registry.models import Deployment, ModelVersion
from mlgate.server.api.schemas import ERRORS, NO_NUL
from mlgate.server.auth import Project

logger = logging.getLogger(__name__)

router = APIRouter(tags=["deployments"], responses=ERRORS)

Mode = Literal["batch", "rest", "stream"]


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
