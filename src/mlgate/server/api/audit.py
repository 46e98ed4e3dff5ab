"""The audit trail over the API: a project's events, the whole trail, and its verification.

A project's members read its events. The whole trail (account changes, sign-ins, refused
requests and every project's events) is for server admins and for people who hold the
``auditor`` role in some project; anyone else asking is refused and the refusal is itself
recorded. Verifying the hash chain reveals no event, so any signed-in user may ask for it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from mlgate.registry.audit import verify_chain
from mlgate.registry.models import AuditEvent
from mlgate.server.accounts import Principal
from mlgate.server.api.schemas import ERRORS
from mlgate.server.auth import Project, User, accounts, projects, source
from mlgate.server.errors import ApiError

logger = logging.getLogger(__name__)

router = APIRouter(tags=["audit"], responses=ERRORS)

MAX_EVENTS = 10_000
MAX_SEQ = 2**63 - 1  # the largest number a store holds
Limit = Query(100, ge=1, le=MAX_EVENTS, description="How many events, newest first.")
BeforeSeq = Query(
    None, ge=1, le=MAX_SEQ, description="Only events before this sequence number (the next page)."
)


class AuditEventOut(BaseModel):
    """One link of the hash chain: who did what to which subject, when, and its hash."""

    seq: int
    project: str | None
    created_at: str = Field(description="ISO 8601, UTC, as sealed in the chain")
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    hash: str


class ChainOut(BaseModel):
    """The outcome of verifying the chain, and the first event that does not fit if any."""

    ok: bool
    n_events: int
    head_hash: str
    message: str
    first_bad_seq: int | None


@router.get("/projects/{project}/audit", response_model=list[AuditEventOut])
def project_trail(
    gov: Project, limit: int = Limit, before_seq: int | None = BeforeSeq
) -> list[AuditEventOut]:
    """List the project's audit events, newest first; page with ``before_seq``."""
    with gov.transaction() as session:
        return _events(session, limit, before_seq, gov.config.project)


@router.get("/audit", response_model=list[AuditEventOut])
def whole_trail(
    request: Request, user: User, limit: int = Limit, before_seq: int | None = BeforeSeq
) -> list[AuditEventOut]:
    """List every audit event of the server, newest first (server admins only).

    The whole trail holds every project's comments and reasons and every account event; a
    project's auditor reads that project's trail at ``/projects/{project}/audit``.
    """
    _require_trail_reader(request, user)
    with projects(request).store.transaction() as session:
        return _events(session, limit, before_seq, None)


@router.get("/audit/verify", response_model=ChainOut)
def verify(request: Request, user: User) -> ChainOut:
    """Recompute the hash chain; name the first altered, removed or reordered event."""
    with projects(request).store.transaction() as session:
        report = verify_chain(session)
    log = logger.info if report.ok else logger.error
    log("%s verified the audit trail: %s", user.name, report.message)
    return ChainOut(
        ok=report.ok,
        n_events=report.n_events,
        head_hash=report.head_hash,
        message=report.message,
        first_bad_seq=report.first_bad_seq,
    )


def _require_trail_reader(request: Request, user: Principal) -> None:
    """Refuse (403, audited) anyone but a server admin."""
    if user.is_admin:
        return
    accounts(request).record_refusal(
        user.name,
        "audit.refused",
        "audit:all",
        f"{user.name} is not a server admin",
        source(request),
    )
    raise ApiError(
        403,
        f"{user.name} may not read the whole audit trail, which spans every project: it needs "
        "a server admin",
        hint="a project's members read its own trail at /api/v1/projects/{project}/audit",
    )


def _events(
    session: Any, limit: int, before_seq: int | None, project: str | None
) -> list[AuditEventOut]:
    """Return up to ``limit`` events before ``before_seq``, of ``project`` if named."""
    stmt = select(AuditEvent)
    if project is not None:
        stmt = stmt.where(AuditEvent.project == project)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    rows = session.execute(stmt.order_by(AuditEvent.seq.desc()).limit(limit)).scalars()
    return [
        AuditEventOut(
            seq=e.seq,
            project=e.project,
            created_at=e.created_at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            payload=e.payload if isinstance(e.payload, dict) else {"value": e.payload},
            hash=e.hash,
        )
        for e in rows
    ]
