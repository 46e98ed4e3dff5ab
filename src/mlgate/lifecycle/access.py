"""Data access grants: who may handle a project's sensitive data, and until when.

When the policy asks the project's tier for data access grants, registering or checking a
dataset that holds sensitive columns needs a live grant whose grantee is the acting user; without
one the action is refused and the refusal is audited. A grant is recorded by someone other than
its grantee who holds a role that may grant access, so nobody grants themselves.

A grant covers the project's datasets: the project is the unit that a data owner approves a
purpose and an isolated environment for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from mlgate.lifecycle.gates import Snapshot, aware
from mlgate.lifecycle.service import Governance
from mlgate.policy import Policy, Tier
from mlgate.registry.models import Evidence

logger = logging.getLogger(__name__)

GRANT = "data_access_grant"
GRANTING_ROLES = frozenset({"admin", "risk_officer"})


def grants_required(gov: Governance) -> bool:
    """Return whether the policy asks this project's tier for data access grants."""
    return policy_requires_grants(gov.policy, gov.tier)


def policy_requires_grants(policy: Policy, tier: Tier) -> bool:
    """Return whether ``policy`` asks projects of ``tier`` for data access grants."""
    return any(
        req.record == GRANT or req.document == GRANT
        for stage in policy.stages
        for req in stage.requirements
        if req.applies_to(tier)
    )


def sensitive_columns(
    gov: Governance, columns: Iterable[str], marked: Iterable[str] = ()
) -> list[str]:
    """Return the sensitive ones among ``columns``: declared by the project or by a contract."""
    sensitive = set(gov.sensitive) | set(marked)
    return [c for c in columns if c in sensitive]


def live_grant(snapshot: Snapshot, user: str) -> Evidence | None:
    """Return the newest unexpired grant whose grantee is ``user``."""
    grants = [
        e
        for e in snapshot.evidence
        if e.name == GRANT
        and e.status == "pass"
        and str(e.payload.get("document", {}).get("grantee", "")).casefold() == user.casefold()
        and (e.valid_until is None or aware(e.valid_until) > snapshot.now)
    ]
    return max(grants, key=lambda e: e.id) if grants else None


def require_grant(
    gov: Governance, action: str, subject: str, columns: Iterable[str], marked: Iterable[str] = ()
) -> None:
    """Refuse ``action`` unless the actor may handle the sensitive ones among ``columns``."""
    sensitive = sensitive_columns(gov, columns, marked)
    if not sensitive or not grants_required(gov):
        return

    grant = live_grant(gov.snapshot_now(), gov.actor)
    if grant is not None:
        logger.info("%s handles sensitive data of %s under grant %d", gov.actor, subject, grant.id)
        return
    gov.refuse(
        action,
        subject,
        f"{gov.actor} has no live data access grant in project {gov.config.project}, and "
        f"{subject} holds sensitive column(s) {', '.join(sensitive)}",
        hint=(
            f"a data owner (risk_officer or admin) records a grant with grantee {gov.actor}: "
            "mlgate doc new data_access_grant, fill it in, mlgate doc submit"
        ),
    )


def check_grant_submission(gov: Governance, document: dict[str, object]) -> None:
    """Refuse a grant by its grantee, by someone who may not grant, or in another's name."""
    grantee = str(document.get("grantee", ""))
    if grantee.casefold() == gov.actor.casefold():
        gov.refuse(
            "document.submit",
            f"document:{GRANT}",
            f"{gov.actor} may not record a data access grant for themselves",
            hint="the data owner or a risk officer records it",
        )
    with gov.transaction() as session:
        roles = gov.roles_of(session, gov.actor)
    if not roles & GRANTING_ROLES:
        gov.refuse(
            "document.submit",
            f"document:{GRANT}",
            f"recording a data access grant needs the role {' or '.join(sorted(GRANTING_ROLES))}; "
            f"{gov.actor} holds {', '.join(sorted(roles)) or 'no role'}",
        )
    granted_by = str(document.get("granted_by", "")).strip()
    if granted_by.casefold() != gov.actor.casefold():
        gov.refuse(
            "document.submit",
            f"document:{GRANT}",
            f"the grant says granted_by '{granted_by}', but {gov.actor} is recording it; whoever "
            "grants access records the grant as themselves",
            hint=f"set granted_by: {gov.actor}, or let {granted_by} record it",
        )
