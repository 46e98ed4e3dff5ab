"""The audit trail: an append-only hash chain of every change of state.

Each event's hash is ``sha256(previous hash + canonical JSON of the event)``, where the event
covers its sequence number, project, actor, action, subject, payload and timestamp. The tip of the
chain is also kept in a one-row table that appends lock, so concurrent writers are serialised and
a removed tail is noticed. :func:`verify_chain` walks the chain and names the first event that was
altered, removed or reordered.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.registry.models import AuditEvent, AuditHead

logger = logging.getLogger(__name__)

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the chain hashes it: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """Return the hash that seals ``event`` after ``prev_hash``."""
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("utf-8")).hexdigest()


def _content(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "project": event.project,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "payload": event.payload,
        "created_at": event.created_at,
    }


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any] | None = None,
    project: str | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    The chain's tip is read with a row lock, so two transactions appending at once are
    serialised by the database; the event becomes visible only if the caller commits.
    """
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)

    payload = json.loads(canonical_json(payload or {}))
    event = AuditEvent(
        seq=head.seq + 1,
        project=project,
        actor=actor,
        action=action,
        subject=subject,
        payload=payload,
        created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        prev_hash=head.hash,
        hash="",
    )
    event.hash = event_hash(head.hash, _content(event))

    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    logger.debug("audit event %d: %s %s by %s", event.seq, action, subject, actor)
    return event


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``ok``, how many events, and what broke first."""

    ok: bool
    n_events: int
    head_hash: str
    message: str
    first_bad_seq: int | None = None


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain from the first event and name the first one that does not fit."""
    events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    head = session.get(AuditHead, 1)

    prev_hash, expected_seq = GENESIS, 1
    for event in events:
        problem = _first_problem(event, expected_seq, prev_hash)
        if problem is not None:
            bad_seq, message = problem
            return ChainReport(False, len(events), prev_hash, message, bad_seq)
        prev_hash, expected_seq = event.hash, event.seq + 1

    tip_seq = expected_seq - 1
    if head is not None and (head.seq != tip_seq or head.hash != prev_hash):
        message = (
            f"the chain ends at event {tip_seq} but its recorded tip is event {head.seq}: "
            f"events {tip_seq + 1} to {head.seq} were removed, or the tip was altered"
        )
        return ChainReport(False, len(events), prev_hash, message, tip_seq + 1)
    if head is None and events:
        return ChainReport(False, len(events), prev_hash, "the chain's tip record is missing", 1)

    message = f"audit chain OK: {len(events)} events, head {prev_hash[:12]}"
    return ChainReport(True, len(events), prev_hash, message)


def _first_problem(event: AuditEvent, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    if event.seq != expected_seq:
        return expected_seq, (
            f"event {expected_seq} is missing: the chain jumps from event {expected_seq - 1} "
            f"to event {event.seq} (removed or reordered)"
        )
    if event.prev_hash != prev_hash:
        return event.seq - 1, (
            f"event {event.seq - 1} was altered or replaced: event {event.seq} recorded a "
            "different hash for the event before it"
        )
    if event_hash(prev_hash, _content(event)) != event.hash:
        return event.seq, (
            f"event {event.seq} ({event.action} {event.subject} by {event.actor}) was altered: "
            "its content no longer matches its hash"
        )
    return None
