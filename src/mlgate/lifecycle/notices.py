"""Things that need attention soon even when no gate is blocked.

A compute allocation past its reclaim date, a data access grant or a waiver about to run out,
a requirement of a stage the project has already passed that no longer holds (a rejected
acceptance of the live model, a waiver that ran out): ``mlgate status`` and the report list
them so they are acted on before they become a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mlgate.checks import REGISTRY
from mlgate.lifecycle.gates import EXPIRING_RECORDS, Snapshot, aware, evaluate_stage
from mlgate.lifecycle.thresholds import unknown_overrides

HORIZON_DAYS = 14


@dataclass(frozen=True)
class Notice:
    """One thing to act on: how urgent, what, and what to do."""

    severity: str
    message: str
    hint: str


def configuration_notices(
    snapshot: Snapshot,
    config_tier: str,
    overrides: dict[str, object],
    declared: list[str] | tuple[str, ...] = (),
) -> list[Notice]:
    """Return mismatches between mlgate.yaml and what the store governs the project by."""
    found = []
    if config_tier != snapshot.tier:
        found.append(
            Notice(
                "warn",
                f"mlgate.yaml says tier {config_tier}, but the project is governed as "
                f"{snapshot.tier}; the stored tier applies",
                "changing a tier is a governance decision; start a new project at the new tier",
            )
        )
    stored = snapshot.project.config.get("data", {}).get("sensitive", [])
    dropped = [name for name in stored if name not in declared]
    if dropped:
        found.append(
            Notice(
                "warn",
                f"mlgate.yaml no longer declares {', '.join(dropped)} sensitive; the project "
                "still treats them as sensitive, as declared when it started",
                "declare them again in mlgate.yaml",
            )
        )
    known = unknown_overrides(snapshot.policy, snapshot.tier, overrides, REGISTRY)
    for requirement_id in known:
        found.append(
            Notice(
                "warn",
                f"mlgate.yaml sets thresholds for '{requirement_id}', which is no check of this "
                f"{snapshot.tier}-risk project; they are ignored",
                "fix the requirement id, or remove the entry",
            )
        )
    return found


def notices(snapshot: Snapshot, horizon_days: int = HORIZON_DAYS) -> list[Notice]:
    """Return every overdue reclaim and every grant or waiver ending within the horizon."""
    now = snapshot.now
    soon = now + timedelta(days=horizon_days)
    found: list[Notice] = []

    for evidence in snapshot.evidence:
        if evidence.valid_until is None or _superseded(snapshot, evidence):
            continue
        until = aware(evidence.valid_until)
        document = evidence.payload.get("document", {})
        day = until.date().isoformat()
        if evidence.name == "compute_allocation":
            resource = document.get("resource", "the allocation")
            if until <= now:
                found.append(
                    Notice(
                        "fail",
                        f"compute allocation {resource} passed its reclaim date {day}",
                        "release it, or record a renewed allocation",
                    )
                )
            elif until <= soon:
                found.append(
                    Notice(
                        "warn",
                        f"compute allocation {resource} is reclaimed on {day}",
                        "plan the release, or renew the allocation",
                    )
                )
        if evidence.name == "data_access_grant":
            grantee = document.get("grantee", "?")
            if until <= now:
                found.append(
                    Notice(
                        "warn",
                        f"data access grant for {grantee} expired on {day}",
                        "ask the data owner to renew it",
                    )
                )
            elif until <= soon:
                found.append(
                    Notice(
                        "warn",
                        f"data access grant for {grantee} expires on {day}",
                        "ask the data owner to renew it",
                    )
                )

    found.extend(_lapsed(snapshot))
    for waiver in snapshot.waivers:
        until = aware(waiver.expires_at)
        later = [
            w
            for w in snapshot.waivers
            if w.requirement_id == waiver.requirement_id and aware(w.expires_at) > until
        ]
        if now < until <= soon and not later:
            found.append(
                Notice(
                    "warn",
                    f"waiver of {waiver.requirement_id} by {waiver.actor} "
                    f"ends on {until.date().isoformat()}",
                    f"meet {waiver.requirement_id}, or ask for a new waiver",
                )
            )
    return found


def _lapsed(snapshot: Snapshot) -> list[Notice]:
    """Requirements of stages already passed that no longer hold.

    Passing a gate is history; the process check at review, packaging and deployment judge
    the present, so a requirement that lapsed afterwards is named here before it blocks them.
    Ran-out compute allocations and data grants have notices of their own above.
    """
    stage_ids = snapshot.policy.stage_ids
    found = []
    for stage_id in stage_ids[: stage_ids.index(snapshot.project.stage)]:
        for state in evaluate_stage(snapshot, stage_id):
            _, req = snapshot.policy.requirement(state.id)
            if state.met or (state.state == "expired" and req.record in EXPIRING_RECORDS):
                continue
            found.append(
                Notice(
                    "fail",
                    f"stage {stage_id} was passed, but {state.id} no longer holds "
                    f"({state.state}): {state.detail}",
                    state.hint or "mlgate status --all shows what it needs",
                )
            )
    return found


def _superseded(snapshot: Snapshot, evidence: object) -> bool:
    """Return whether a newer record of the same kind (and grantee) replaced ``evidence``."""
    name = evidence.name  # type: ignore[attr-defined]
    grantee = evidence.payload.get("document", {}).get("grantee")  # type: ignore[attr-defined]
    return any(
        other.name == name
        and other.id > evidence.id  # type: ignore[attr-defined]
        and other.payload.get("document", {}).get("grantee") == grantee
        for other in snapshot.evidence
    )
