"""Which model version may leave the governance store as a package: one that passed review.

A version passes when it is the project's current model version, the project has moved past the
review stage, and every requirement of every stage up to and including ``review`` is met or
waived right now, evaluated exactly as ``mlgate status`` evaluates it. Evaluating live means an
expired waiver, a retrained model or a later finding closes the gate again. A refusal is audited
under the action that asked (``model.package`` or ``model.publish``), with the model version as
its subject, and raised as a :class:`~mlgate.errors.PolicyViolation` naming every unmet
requirement.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.gates import (
    EXPIRING_RECORDS,
    RequirementState,
    Snapshot,
    evaluate_stage,
)
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import ModelVersion

logger = logging.getLogger(__name__)

REVIEW_STAGE = "review"


def review_gaps(snap: Snapshot, chosen: ModelVersion) -> list[str]:
    """Return why ``chosen`` has not passed the review gate; empty when it has."""
    current = snap.model
    if current is None or current.id != chosen.id:
        now = f"version {current.version} is" if current else "no version is"
        return [f"model version {chosen.version} is not the project's current version ({now})"]

    stage_ids = snap.policy.stage_ids
    if REVIEW_STAGE not in stage_ids:
        raise ValidationError(
            f"the project's policy has no '{REVIEW_STAGE}' stage (its stages: "
            f"{', '.join(stage_ids)}); packaging needs one to know what a reviewed model is"
        )
    review_at = stage_ids.index(REVIEW_STAGE)

    gaps = []
    if stage_ids.index(snap.project.stage) <= review_at:
        gaps.append(f"the project is in stage '{snap.project.stage}' and has not passed review")
    for stage_id in stage_ids[: review_at + 1]:
        gaps += [
            f"{r.id} ({r.state}): {r.detail}"
            for r in evaluate_stage(snap, stage_id)
            if not r.met and not _spent_record(snap, r)
        ]
    return gaps


def _spent_record(snap: Snapshot, state: RequirementState) -> bool:
    """A compute allocation or data grant that ran out after use: expected, not a gap."""
    _, req = snap.policy.requirement(state.id)
    return state.state == "expired" and req.record in EXPIRING_RECORDS


def subject_of(chosen: ModelVersion) -> str:
    """Return the audit subject of every release event about ``chosen``: ``model:vN``."""
    return f"model:v{chosen.version}"


def refuse(
    gov: Governance,
    action: str,
    chosen: ModelVersion,
    reason: str,
    hint: str,
    details: dict[str, Any] | None = None,
) -> NoReturn:
    """Refuse ``action`` on ``chosen``, audited with the version and ``details``; raise it.

    Every release refusal has the model version as its subject, whatever was refused (a role,
    the gate), and keeps what else it concerned (the repository URL) in the payload, so the
    trail of one model version lists all attempts to release it.
    """
    gov.refuse(action, subject_of(chosen), reason, hint, release_details(chosen, details))


def release_details(chosen: ModelVersion, details: dict[str, Any] | None) -> dict[str, Any]:
    """Return the payload of a release event about ``chosen``, beside its own ``details``."""
    return {"model_version": chosen.version, **(details or {})}


def chosen_version(gov: Governance, version: int | None) -> ModelVersion:
    """Return model version ``version`` (default: the current one), reviewed or not."""
    with gov.transaction() as session:
        return _chosen(gov, session, gov.snapshot(session), version)


def reviewed_version(
    gov: Governance, version: int | None, action: str, details: dict[str, Any] | None = None
) -> ModelVersion:
    """Return model version ``version`` (default: the current one) if it passed review.

    Otherwise the refusal is audited as ``{action}.refused``, with ``details`` in its payload,
    and raised.
    """
    with gov.transaction() as session:
        snap = gov.snapshot(session)
        chosen = _chosen(gov, session, snap, version)
        gaps = review_gaps(snap, chosen)

    if gaps:
        refuse(
            gov,
            action,
            chosen,
            f"model version {chosen.version} has not passed the review gate: "
            f"{len(gaps)} gap(s): " + "; ".join(gaps),
            hint="mlgate status --all shows each requirement and the command that closes it",
            details=details,
        )
    logger.info("%s: model version %d passed the review gate", action, chosen.version)
    return chosen


def _chosen(
    gov: Governance, session: Session, snap: Snapshot, version: int | None
) -> ModelVersion:
    if version is None:
        if snap.model is None:
            raise NotFoundError(
                f"project {gov.config.project} has no model version to package",
                hint="mlgate train (or mlgate model add FILE) registers one",
            )
        return snap.model

    found = [v for v in gov.project_rows(session, ModelVersion) if v.version == version]
    if not found:
        raise NotFoundError(
            f"project {gov.config.project} has no model version {version}",
            hint="mlgate model list shows the registered versions",
        )
    return found[0]
