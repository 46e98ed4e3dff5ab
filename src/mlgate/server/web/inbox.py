"""The approval inbox: the approvals that wait for the signed-in user, and deciding them.

An approval waits for a person when they hold the role it names in its project, it belongs to
the current stage or an earlier one, it is not met yet, there is something to decide (its
subject exists), they did not author that subject, and they have not decided on it already.
Separation of duties is still enforced by the service layer when they decide; a refusal is
shown on the page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from mlgate.errors import GovernanceError
from mlgate.lifecycle.gates import Snapshot, approval_subject, evaluate_stage
from mlgate.server.accounts import Principal
from mlgate.server.auth import projects
from mlgate.server.errors import status_of
from mlgate.server.web.common import done, flash
from mlgate.server.web.deps import FormUser, PageProjectName, WebUser, open_for_page
from mlgate.server.web.rendering import render

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Waiting:
    """One approval a person could give now."""

    project: str
    stage: str
    requirement: str
    title: str
    role: str
    subject: str
    state: str
    detail: str


def pending_approvals(snapshot: Snapshot, roles: set[str], user: str) -> list[Waiting]:
    """Return the approvals of ``snapshot``'s project that wait for ``user`` holding ``roles``."""
    policy = snapshot.policy
    reached = policy.stage_ids[: policy.stage_ids.index(snapshot.project.stage) + 1]
    found = []
    for stage_id in reached:
        states = {state.id: state for state in evaluate_stage(snapshot, stage_id)}
        for req in policy.requirements_for(stage_id, snapshot.tier):
            if req.kind != "approval" or req.role not in roles or states[req.id].met:
                continue
            subject = approval_subject(snapshot, stage_id, req)
            if subject is None or user in subject.authors:
                continue
            if _decided(snapshot, req.id, subject.key, user):
                continue
            state = states[req.id]
            found.append(
                Waiting(
                    snapshot.project.name,
                    stage_id,
                    req.id,
                    req.title,
                    req.role,
                    subject.description,
                    state.state,
                    state.detail,
                )
            )
    return found


def _decided(snapshot: Snapshot, requirement: str, subject: str, user: str) -> bool:
    """Return whether ``user`` already approved or rejected ``subject`` for ``requirement``."""
    return any(
        a.requirement_id == requirement and a.subject == subject and a.actor == user
        for a in snapshot.approvals
    )


def waiting_for(request: Request, user: Principal) -> list[Waiting]:
    """Return every approval waiting for ``user`` across the projects they hold roles in."""
    found: list[Waiting] = []
    server = projects(request)
    for name, roles in sorted(server.roles(user.name).items()):
        try:
            snapshot = server.open(name, user.name).snapshot_now()
        except GovernanceError as error:
            logger.warning("the inbox skipped project %s: %s", name, error.message)
            continue
        found.extend(pending_approvals(snapshot, roles, user.name))
    return found


def inbox_page(
    request: Request, user: Principal, status: int = 200, error: str | None = None
) -> Response:
    """Render the inbox, with the message of a refused decision when there was one."""
    return render(
        request,
        "inbox.html",
        user,
        status=status,
        items=waiting_for(request, user),
        flash=flash(request),
        error=error,
    )


@router.get("/inbox")
def inbox(request: Request, user: WebUser) -> Response:
    """Show the approvals waiting for the signed-in user."""
    return inbox_page(request, user)


@router.post("/projects/{name}/approvals/{requirement}")
def decide(
    request: Request,
    user: FormUser,
    name: PageProjectName,
    requirement: str,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    comment: Annotated[str, Form(min_length=1, max_length=5000)],
) -> Response:
    """Approve or reject; a refusal (separation of duties, a missing role) shows on the inbox."""
    gov, _ = open_for_page(request, user, name)
    try:
        approval = gov.decide(requirement[:64], decision, comment)
    except GovernanceError as refusal:
        return inbox_page(request, user, status_of(refusal), refusal.message)
    code = "approved" if decision == "approve" else "rejected"
    return done("/inbox", code, requirement=approval.requirement_id, project=name)
