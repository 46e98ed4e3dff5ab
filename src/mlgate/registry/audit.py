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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mlgate.registry.models import AuditEvent, AuditHead, Evidence, Project

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
EVIDENCE_ACTIONS = frozenset({"document.submitted", "check.run"})
# The inserts that can do nothing when the row exists, by dialect.
INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


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
    head = _locked_head(session)
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


def _locked_head(session: Session) -> AuditHead:
    """Return the chain's tip, locked until the transaction ends; create it for a new store.

    The first events of a new store may be appended at once by two transactions: the tip is
    created with an insert that does nothing when it exists, then read with the lock, so both
    find the one row instead of one failing on its primary key.
    """
    locked = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.execute(locked).scalar()
    if head is not None:
        return head
    dialect = session.get_bind().dialect.name
    if dialect not in INSERTS:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        return head
    create = INSERTS[dialect](AuditHead).values(id=1, seq=0, hash=GENESIS)
    session.execute(create.on_conflict_do_nothing(index_elements=["id"]))
    return session.execute(locked.execution_options(populate_existing=True)).scalar_one()


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``ok``, how many events, and what broke first."""

    ok: bool
    n_events: int
    head_hash: str
    message: str
    first_bad_seq: int | None = None


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain from the first event and name the first one that does not fit.

    Payloads are read as stored text, so a payload edited into invalid JSON is reported as
    tampering rather than crashing the verification. A chain that verifies is then compared
    with the stored state: a project without its creation event, or with more evidence than
    events recording it, means events were removed and the tip rewritten.

    Other transactions may append while this one reads (on PostgreSQL each statement sees
    what was committed when it started), so the stored state is read first, then the events,
    then the tip, and the events appended between the last two reads are fetched before the
    tip is compared. Each read then covers everything the one before it saw, and an append
    committed meanwhile is never mistaken for tampering.
    """
    state = _stored_state(session)
    rows = list(session.execute(_event_rows()).all())
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar()
    tip = rows[-1].seq if rows else 0
    if head is not None and head.seq > tip:
        later = _event_rows().where(AuditEvent.seq > tip, AuditEvent.seq <= head.seq)
        rows += session.execute(later).all()

    prev_hash, expected_seq = GENESIS, 1
    for row in rows:
        problem = _first_problem(row, expected_seq, prev_hash)
        if problem is not None:
            bad_seq, message = problem
            return ChainReport(False, len(rows), prev_hash, message, bad_seq)
        prev_hash, expected_seq = row.hash, row.seq + 1

    tip_seq = expected_seq - 1
    if head is not None and (head.seq != tip_seq or head.hash != prev_hash):
        message = (
            f"the chain ends at event {tip_seq} but its recorded tip is event {head.seq} "
            f"with another hash: events after {tip_seq} were removed, or the tip was altered"
        )
        return ChainReport(False, len(rows), prev_hash, message, tip_seq + 1)
    if head is None and rows:
        return ChainReport(False, len(rows), prev_hash, "the chain's tip record is missing", 1)

    gap = _state_without_events(state, rows)
    if gap is not None:
        return ChainReport(False, len(rows), prev_hash, gap, None)
    message = f"audit chain OK: {len(rows)} events, head {prev_hash[:12]}"
    return ChainReport(True, len(rows), prev_hash, message)


def _event_rows() -> Select[Any]:
    """Return the query of the events as verification reads them, payloads as stored text."""
    return select(
        AuditEvent.seq,
        AuditEvent.project,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.subject,
        cast(AuditEvent.payload, Text).label("payload"),
        AuditEvent.created_at,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    ).order_by(AuditEvent.seq)


def _stored_state(session: Session) -> dict[str, int]:
    """Return each project's name and how many evidence records it holds, in one read."""
    stmt = (
        select(Project.name, func.count(Evidence.id))
        .outerjoin(Evidence, Evidence.project_id == Project.id)
        .group_by(Project.id, Project.name)
        .order_by(Project.id)
    )
    return {name: int(count) for name, count in session.execute(stmt).all()}


def _state_without_events(state: dict[str, int], rows: Sequence[Any]) -> str | None:
    """Return how the stored state outruns the trail, or ``None`` when every row is recorded."""
    created = {row.subject for row in rows if row.action == "project.created"}
    recorded: dict[str | None, int] = {}
    for row in rows:
        if row.action in EVIDENCE_ACTIONS:
            recorded[row.project] = recorded.get(row.project, 0) + 1

    for name, stored in state.items():
        if f"project:{name}" not in created:
            return (
                f"project {name} has no creation event in the trail: events were removed "
                "and the chain rebuilt, or the trail was replaced"
            )
        if stored > recorded.get(name, 0):
            return (
                f"project {name} holds {stored} evidence records but the trail records only "
                f"{recorded.get(name, 0)}: events were removed and the chain rebuilt"
            )
    return None


def _first_problem(row: Any, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    if row.seq != expected_seq:
        return expected_seq, (
            f"event {expected_seq} is missing: the chain jumps from event {expected_seq - 1} "
            f"to event {row.seq} (removed or reordered)"
        )
    if row.prev_hash != prev_hash:
        return row.seq - 1, (
            f"event {row.seq - 1} was altered or replaced: event {row.seq} recorded a "
            "different hash for the event before it"
        )
    try:
        payload = json.loads(row.payload) if isinstance(row.payload, str) else row.payload
    except json.JSONDecodeError:
        return row.seq, f"event {row.seq} was altered: its payload is no longer valid JSON"
    content = {
        "seq": row.seq,
        "project": row.project,
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "payload": payload,
        "created_at": row.created_at,
    }
    if event_hash(prev_hash, content) != row.hash:
        return row.seq, (
            f"event {row.seq} ({row.action} {row.subject} by {row.actor}) was altered: "
            "its content no longer matches its hash"
        )
    return None
