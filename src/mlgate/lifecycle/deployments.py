"""The record of deployments: what served in each mode and when, and rolling one back.

Every deployment row stays in the store; a replaced one only gets its ``ended_at``. The history
therefore answers which version was serving at any past moment, and a rollback is one more row:
it ends the live deployment and re-deploys the version that served before it.

A rollback does not re-run the gates. Its target must have been deployed in the same mode
before, which it only could through the gates (or through an earlier rollback to such a
version), so an emergency rollback works even when the newer version broke a gate the older one
would now also fail. The audit event ``model.rolled_back`` records that the gates were not
re-checked and when the target first passed them. The target's artifact hash is checked first:
a version whose stored model is gone or altered is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from mlgate.errors import IntegrityError, NotFoundError, ValidationError
from mlgate.lifecycle.deploy import DEPLOY_ROLES, MODES, load_scorer, record_deployment
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import Deployment, ModelVersion

logger = logging.getLogger(__name__)

MIN_REASON = 10


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment as the history shows it; ``ended_at`` is ``None`` while it is live."""

    id: int
    mode: str
    version: int
    endpoint: str
    actor: str
    created_at: datetime
    ended_at: datetime | None

    @property
    def live(self) -> bool:
        """Return whether this deployment is still serving."""
        return self.ended_at is None

    def served_at(self, moment: datetime) -> bool:
        """Return whether this deployment was serving at ``moment`` (start in, end out)."""
        return self.created_at <= moment and (self.ended_at is None or moment < self.ended_at)


@dataclass(frozen=True)
class Rollback:
    """What a rollback did: the mode, the version it left and the version now serving."""

    mode: str
    from_version: int
    to_version: int
    deployment: Deployment


def deployment_history(gov: Governance, mode: str | None = None) -> list[DeploymentRecord]:
    """Return every deployment of the project (of ``mode`` if given), oldest first."""
    if mode is not None:
        _check_mode(mode)

    with gov.transaction() as session:
        project = gov.project(session)
        stmt = (
            select(Deployment, ModelVersion.version)
            .join(ModelVersion, Deployment.model_version_id == ModelVersion.id)
            .where(Deployment.project_id == project.id)
            .order_by(Deployment.id)
        )
        if mode is not None:
            stmt = stmt.where(Deployment.mode == mode)
        rows = session.execute(stmt).all()

    return [
        DeploymentRecord(
            row.id,
            row.mode,
            int(version),
            row.endpoint,
            row.actor,
            _utc(row.created_at),
            None if row.ended_at is None else _utc(row.ended_at),
        )
        for row, version in rows
    ]


def serving_at(
    gov: Governance, moment: datetime, mode: str | None = None
) -> dict[str, DeploymentRecord | None]:
    """Return, per mode, the deployment that was serving at ``moment`` (``None`` if none)."""
    moment = _utc(moment)
    history = deployment_history(gov, mode)
    modes = (mode,) if mode is not None else MODES
    serving: dict[str, DeploymentRecord | None] = {}
    for each in modes:
        live = [r for r in history if r.mode == each and r.served_at(moment)]
        serving[each] = live[-1] if live else None
    return serving


def parse_moment(text: str) -> datetime:
    """Return ``text`` (an ISO date or date-time) as an aware UTC date-time.

    A bare date means its midnight, a time without offset is read as UTC.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise ValidationError(
                f"--at must be an ISO date or date-time such as 2026-12-01 or "
                f"2026-12-01T10:00 (UTC); got '{text}'"
            ) from None
    return _utc(moment)


def rollback(gov: Governance, mode: str, reason: str) -> Rollback:
    """End the live deployment in ``mode`` and re-deploy the version that served before it."""
    _check_mode(mode)
    if len(reason.strip()) < MIN_REASON:
        raise ValidationError(
            f"--reason must say why in at least {MIN_REASON} characters; got '{reason.strip()}'"
        )

    with gov.transaction() as session:
        gov.require_role(
            session, set(DEPLOY_ROLES), "model.rollback", f"mode:{mode}", "roll back deployments"
        )
    history = deployment_history(gov, mode)
    current, previous = _rollback_pair(history, mode)
    target = get_model_version(gov, previous.version)
    subject = f"model:v{current.version}"
    try:
        load_scorer(gov, target)
    except (IntegrityError, NotFoundError) as exc:
        gov.refuse(
            "model.rollback",
            subject,
            f"cannot roll back {mode} to model version {target.version}: {exc.message}",
            hint="restore the stored model, or deploy a version that passes the gates",
        )

    first = next(r for r in history if r.version == previous.version)
    details = {
        "from_version": current.version,
        "to_version": target.version,
        "reason": reason.strip(),
        "gates_rechecked": False,
        "target_first_deployed_at": first.created_at.isoformat(),
    }
    deployment = record_deployment(
        gov, target, mode, previous.endpoint, ("model.rolled_back", subject, details)
    )
    logger.info(
        "rolled back %s from model version %d to %d", mode, current.version, target.version
    )
    return Rollback(mode, current.version, target.version, deployment)


def _rollback_pair(
    history: list[DeploymentRecord], mode: str
) -> tuple[DeploymentRecord, DeploymentRecord]:
    live = [r for r in history if r.live]
    if not live:
        raise NotFoundError(
            f"nothing is deployed in mode {mode}, so there is nothing to roll back",
            hint=f"mlgate deployments --mode {mode} lists what was deployed",
        )

    current = live[-1]
    earlier = [r for r in history if r.id < current.id and r.version != current.version]
    if not earlier:
        raise NotFoundError(
            f"model version {current.version} is the only version ever deployed in mode "
            f"{mode}; there is no earlier version to roll back to",
            hint="deploy a fixed version with `mlgate deploy` instead",
        )
    return current, earlier[-1]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValidationError(f"deployment mode must be one of {', '.join(MODES)}; got '{mode}'")


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` as aware UTC; SQLite hands stored times back without their zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
