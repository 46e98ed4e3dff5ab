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

from mlgate.errors import IntegrityError, ValidationError
from mlgate.registry.models import AuditEvent, AuditHead, Evidence, Project
from mlgate.registry.seals import (
    forget_pending,
    newest_seals,
    pending_seals,
    stored_state_problem,
)

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
EVIDENCE_ACTIONS = frozenset({"document.submitted", "check.run"})
# The inserts that can do nothing when the row exists, by dialect.
INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
APPENDED = "mlgate_events_appended"
FROM_EVENT: Any = object()
# Rounds of reading newer events when a row looks unsealed because it was committed meanwhile.
STATE_READS = 10


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way the chain hashes it: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """Return the hash that seals ``event`` after ``prev_hash``."""
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("utf-8")).hexdigest()


def _content(event: Any, payload: Any = FROM_EVENT, seals: Any = FROM_EVENT) -> dict[str, Any]:
    """Return what an event's hash covers; ``seals`` only when the event carries some.

    Events written before rows were sealed have no seals and keep the hash they were given.
    """
    content = {
        "seq": event.seq,
        "project": event.project,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "payload": event.payload if payload is FROM_EVENT else payload,
        "created_at": event.created_at,
    }
    seals = event.seals if seals is FROM_EVENT else seals
    if seals is not None:
        content["seals"] = seals
    return content


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any] | None = None,
    project: str | None = None,
    seals: dict[str, str | None] | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    The chain's tip is read with a row lock, so two transactions appending at once are
    serialised by the database; the event becomes visible only if the caller commits. The
    transaction's last event later receives the seals of the rows it wrote (:func:`seal`).
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
        seals=seals,
    )
    event.hash = event_hash(head.hash, _content(event))

    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    session.info.setdefault(APPENDED, []).append(event)
    logger.debug("audit event %d: %s %s by %s", event.seq, action, subject, actor)
    return event


def _locked_head(session: Session) -> AuditHead:
    """Return the chain's tip, locked until the transaction ends; create it for a new store.

    The first events of a new store may be appended at once by two transactions: the tip is
    created with an insert that does nothing when it exists, then read with the lock, so both
    find the one row instead of one failing on its primary key. A store that holds events but
    no tip was tampered with, and nothing more is appended to it.
    """
    locked = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.execute(locked).scalar()
    if head is not None:
        return head
    last = session.execute(select(func.max(AuditEvent.seq))).scalar()
    if last is not None:
        raise IntegrityError(
            f"the audit chain's tip record is missing while the chain holds events up to "
            f"{last}: the store was tampered with, so nothing more is recorded",
            hint="run mlgate audit verify, then restore the database from a backup",
        )
    dialect = session.get_bind().dialect.name
    if dialect not in INSERTS:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        return head
    create = INSERTS[dialect](AuditHead).values(id=1, seq=0, hash=GENESIS)
    session.execute(create.on_conflict_do_nothing(index_elements=["id"]))
    return session.execute(locked.execution_options(populate_existing=True)).scalar_one()


def seal(session: Session) -> None:
    """Record the digests of the rows this transaction wrote in its last audit event.

    Called just before the transaction commits. The last event was appended in this same
    transaction and the chain's tip is still locked, so its hash can be recomputed to cover the
    seals without disturbing any other event. A transaction that changed sealed rows without
    recording an event gets one, ``records.sealed``, so no row is ever left unsealed.
    """
    seals = pending_seals(session)
    appended: list[AuditEvent] = session.info.pop(APPENDED, [])
    if not seals:
        return
    if not appended:
        logger.warning("%d governance row(s) changed without an audit event", len(seals))
        append_event(
            session,
            actor="mlgate",
            action="records.sealed",
            subject="store",
            payload={"rows": len(seals)},
            seals=seals,
        )
        session.info.pop(APPENDED, None)
        return

    event = appended[-1]
    event.seals = seals
    event.hash = event_hash(event.prev_hash, _content(event))
    head = _locked_head(session)
    head.hash = event.hash
    session.flush()


def discard(session: Session) -> None:
    """Forget what a rolled-back transaction appended and wrote."""
    session.info.pop(APPENDED, None)
    forget_pending(session)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``ok``, how many events, and what broke first."""

    ok: bool
    n_events: int
    head_hash: str
    message: str
    first_bad_seq: int | None = None


def verify_chain(session: Session, known_head: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the chain from the first event and name the first one that does not fit.

    Payloads are read as stored text, so a payload edited into invalid JSON is reported as
    tampering rather than crashing the verification. A chain that verifies is then compared
    with the stored state: a project without its creation event, or with more evidence than
    events recording it, means events were removed and the tip rewritten; a governance row
    that differs from the newest seal the chain holds for it was written outside mlgate.

    The chain cannot prove on its own that its newest events were not cut off together with a
    rewritten tip. ``known_head`` (a sequence number and a hash, or a prefix of it of at least
    12 digits, noted from an earlier verification and kept elsewhere) closes that gap: the event
    must still be there with that hash.

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

    gap = _state_without_events(state, rows) or _sealed_rows_problem(session, rows)
    if gap is None and known_head is not None:
        gap = _known_head_problem(rows, known_head)
    if gap is not None:
        return ChainReport(False, len(rows), prev_hash, gap, None)
    message = f"audit chain OK: {len(rows)} events, head {tip_seq}:{prev_hash[:12]}"
    return ChainReport(True, len(rows), prev_hash, message)


def _sealed_rows_problem(session: Session, rows: list[Any]) -> str | None:
    """Name the first governance row that differs from the chain's seal of it, else ``None``.

    The rows are read after the events, so a transaction committed in between can show rows
    whose seals the events read so far lack; the newer events are then read (and checked to
    continue the chain) before a row is called tampered with.
    """
    recorded = _parsed_seals(rows)
    problem = stored_state_problem(session, recorded)
    last_seq, last_hash = (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)
    for _ in range(STATE_READS):
        if problem is None:
            return None
        newer = list(session.execute(_event_rows().where(AuditEvent.seq > last_seq)).all())
        if not newer:
            return problem
        for row in newer:
            broken = _first_problem(row, last_seq + 1, last_hash)
            if broken is not None:
                return broken[1]
            last_seq, last_hash = row.seq, row.hash
        recorded.update(_parsed_seals(newer))
        problem = stored_state_problem(session, recorded)
    return problem


def parse_head(text: str) -> tuple[int, str]:
    """Read a head noted from an earlier verification: ``SEQ:HASH`` (12 to 64 hex digits)."""
    seq, _, digest = text.strip().partition(":")
    digest = digest.lower()
    if not (seq.isdigit() and int(seq) > 0 and 12 <= len(digest) <= 64):
        raise ValidationError(
            f"a known head must be SEQ:HASH, an event number and 12 to 64 hex digits of its "
            f"hash; got {text!r}"
        )
    if any(c not in "0123456789abcdef" for c in digest):
        raise ValidationError(f"the hash of known head {text!r} is not hexadecimal")
    return int(seq), digest


def _known_head_problem(rows: Sequence[Any], known_head: tuple[int, str]) -> str | None:
    """Say how the chain lost the event noted as its head earlier, or ``None`` if it holds it."""
    seq, digest = known_head
    last = rows[-1].seq if rows else 0
    if seq > last:
        return (
            f"event {seq}, noted earlier with hash {digest[:12]}, is no longer in the chain, "
            f"which ends at event {last}: events were removed and the tip rewritten"
        )
    found = rows[seq - 1].hash
    if not found.startswith(digest):
        return (
            f"event {seq} was noted earlier with hash {digest[:12]} but now has hash "
            f"{found[:12]}: the chain was rebuilt from event {seq} or before"
        )
    return None


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
        cast(AuditEvent.seals, Text).label("seals"),
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
            f"event {row.seq} does not follow event {row.seq - 1}: it recorded a different "
            f"hash for the event before it (event {row.seq - 1} was replaced, or events were "
            "reordered or removed)"
        )
    try:
        payload = json.loads(row.payload) if isinstance(row.payload, str) else row.payload
        seals = json.loads(row.seals) if isinstance(row.seals, str) else row.seals
    except json.JSONDecodeError:
        return row.seq, (
            f"event {row.seq} was altered: its payload or seals are no longer valid JSON"
        )
    if event_hash(prev_hash, _content(row, payload, seals)) != row.hash:
        return row.seq, (
            f"event {row.seq} ({row.action} {row.subject} by {row.actor}) was altered: "
            "its content no longer matches its hash"
        )
    return None


def _parsed_seals(rows: Sequence[Any]) -> dict[str, tuple[int, str | None]]:
    """Return the newest recorded digest of each sealed row, from events already verified."""
    return newest_seals((row.seq, json.loads(row.seals) if row.seals else None) for row in rows)
