"""The audit trail page: recent events, and whether the whole chain still verifies.

A server admin sees every event, including those of accounts and sign-ins; anyone else sees
the events of the projects they hold a role in. ``?project=`` narrows the list to one project
(a project the user may not see is refused and the refusal audited). The verification covers
the whole chain, since one altered event breaks every hash after it.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from mlgate.errors import NotFoundError
from mlgate.registry.audit import verify_chain
from mlgate.registry.models import AuditEvent
from mlgate.server.accounts import Principal
from mlgate.server.auth import member_roles, projects
from mlgate.server.web.deps import WebUser, visible_projects
from mlgate.server.web.rendering import render

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

MAX_PAYLOAD_CHARS = 400


def shown_projects(request: Request, user: Principal, project: str | None) -> list[str] | None:
    """Return the projects whose events the page lists; ``None`` means every event (admins)."""
    if project:
        if project not in projects(request).names():
            raise NotFoundError(f"no project '{project[:200]}' on this server")
        member_roles(request, user, project)
        return [project]
    return None if user.is_admin else visible_projects(request, user)


def recent_events(request: Request, names: list[str] | None, limit: int) -> list[AuditEvent]:
    """Return the newest ``limit`` events of ``names`` (of everything for ``None``)."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if names is not None:
        stmt = stmt.where(AuditEvent.project.in_(names))
    with projects(request).store.transaction() as session:
        return list(session.execute(stmt).scalars())


def payload_text(event: AuditEvent) -> str:
    """Return an event's payload as one line of JSON, cut short for the table."""
    text = json.dumps(event.payload, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_PAYLOAD_CHARS else text[: MAX_PAYLOAD_CHARS - 1] + "\u2026"


@router.get("/audit")
def audit(
    request: Request,
    user: WebUser,
    project: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Show recent audit events with the chain's verification at the top."""
    names = shown_projects(request, user, project)
    with projects(request).store.transaction() as session:
        report = verify_chain(session)
    if not report.ok:
        logger.warning("the audit chain does not verify: %s", report.message)
    events = recent_events(request, names, limit)
    return render(
        request,
        "audit.html",
        user,
        report=report,
        events=[(e, payload_text(e)) for e in events],
        project=project or "",
        choices=visible_projects(request, user),
        limit=limit,
    )
