"""Seals: the audit chain's record of what each governance row held when mlgate wrote it.

The chain alone proves that no event was altered, but the gates read the tables (approvals,
evidence, waivers, findings...), not the events. A row inserted or edited straight in the
database would open a gate while the chain still verified. So every transaction that changes a
row of a sealed table records the row's digest in one of its own audit events (the event's
``seals``, part of what its hash covers), and :func:`stored_state_problem` compares the tables
with the newest digest the chain holds for each row. A row added, edited or deleted outside
mlgate then fails verification, which the audit command, the process check and the release
commands all run.

The columns of each sealed table are listed here on purpose: a column added later to a table is
sealed only once it is added to its list, together with a migration that seals the existing
rows again (see :func:`seal_existing_rows`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from mlgate.registry.models import (
    Approval,
    Base,
    DatasetVersion,
    Deployment,
    Evidence,
    Member,
    ModelVersion,
    Project,
    ReviewFinding,
    Waiver,
)

logger = logging.getLogger(__name__)

SEALED_MODELS: tuple[type[Base], ...] = (
    Project,
    Member,
    DatasetVersion,
    ModelVersion,
    Evidence,
    Approval,
    Waiver,
    ReviewFinding,
    Deployment,
)
# The sealed columns of each table; see the module's note before changing a list.
_COLUMN_NAMES = {
    "projects": "id name owner tier stage policy_name policy_version policy_sha256 config "
    "created_at",
    "members": "id project_id user role added_by added_at",
    "dataset_versions": "id project_id name uri sha256 artifact_sha256 n_rows n_cols schema "
    "contract created_by created_at",
    "model_versions": "id project_id version artifact_sha256 flavour estimator trusted_types "
    "signature target classes params metrics dataset_version_id code_version packages "
    "created_by created_at",
    "evidence": "id project_id stage requirement_id kind name status summary payload artifacts "
    "dataset_version_id model_version_id valid_until actor created_at",
    "approvals": "id project_id stage requirement_id subject decision role comment actor "
    "created_at",
    "waivers": "id project_id stage requirement_id subject justification role actor expires_at "
    "created_at",
    "review_findings": "id project_id model_version_id severity title description owner "
    "due_date remediation status created_by created_at closed_by closed_at resolution",
    "deployments": "id project_id model_version_id mode endpoint actor created_at ended_at",
}
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(names.split()) for table, names in _COLUMN_NAMES.items()
}
PENDING = "mlgate_seals_pending"


def _plain(value: Any) -> Any:
    """Return ``value`` as JSON can hold it, times in UTC whatever the connection's zone."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _digest(values: Mapping[str, Any], names: Sequence[str]) -> str:
    from mlgate.registry.audit import canonical_json

    content = {name: _plain(values[name]) for name in names}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def row_key(table: str, row_id: Any) -> str:
    """Return the name a row's seal is recorded under: ``table:id``."""
    return f"{table}:{row_id}"


def _read_digests(
    session: Session, columns: Mapping[str, Sequence[str]], ids: Mapping[str, set[int]] | None
) -> dict[str, str]:
    """Return the digests of the stored rows of each table in ``columns`` (only ``ids``).

    Rows are read back from the database rather than taken from memory, so sealing and
    verifying see every value through the same conversions of the same driver.
    """
    digests: dict[str, str] = {}
    for model in SEALED_MODELS:
        table: Table = model.__table__  # type: ignore[assignment]
        if table.name not in columns:
            continue
        names = columns[table.name]
        stmt = select(*(table.c[name] for name in names)).order_by(table.c.id)
        if ids is not None:
            wanted = sorted(ids.get(table.name, ()))
            if not wanted:
                continue
            stmt = stmt.where(table.c.id.in_(wanted))
        for row in session.execute(stmt).mappings():
            digests[row_key(table.name, row["id"])] = _digest(row, names)
    return digests


def track_flushed_rows(session: Session, _context: Any) -> None:
    """Remember the sealed rows a flush wrote, to seal them before the transaction commits.

    Runs as the session's ``after_flush`` hook, when the session's new, changed and deleted
    collections still hold what the flush just wrote. A row given values equal to the ones it
    had is not changed and needs no new seal.
    """
    pending: dict[str, set[int]] = session.info.setdefault(PENDING, {})
    changed = [obj for obj in session.dirty if session.is_modified(obj)]
    for obj in (*session.new, *changed, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in SEALED_COLUMNS:
            pending.setdefault(table, set()).add(obj.id)


def pending_seals(session: Session) -> dict[str, str | None]:
    """Return the digests of the rows this transaction wrote (``None``: deleted), and forget them.

    The session is flushed first, so the digests describe what the commit will store.
    """
    session.flush()
    pending: dict[str, set[int]] = session.info.pop(PENDING, {})
    if not pending:
        return {}
    stored = _read_digests(session, SEALED_COLUMNS, pending)
    seals: dict[str, str | None] = {}
    for table, ids in sorted(pending.items()):
        for row_id in sorted(ids):
            key = row_key(table, row_id)
            seals[key] = stored.get(key)
    return seals


def forget_pending(session: Session) -> None:
    """Drop what a rolled-back transaction had written: none of it was stored."""
    session.info.pop(PENDING, None)


def stored_state_problem(
    session: Session, recorded: Mapping[str, tuple[int, str | None]]
) -> str | None:
    """Name the first sealed row that differs from the chain's record of it, else ``None``.

    ``recorded`` maps each row's key to the newest event that sealed it and the digest it
    recorded (``None`` for a deleted row).
    """
    stored = _read_digests(session, SEALED_COLUMNS, None)
    for key, digest in stored.items():
        event = recorded.get(key)
        if event is None:
            return (
                f"{_describe(key)} is not recorded in the audit trail: it was added to the "
                "database outside mlgate"
            )
        seq, sealed = event
        if sealed != digest:
            return (
                f"{_describe(key)} was changed outside mlgate: it no longer matches what "
                f"audit event {seq} recorded"
            )
    for key, (seq, sealed) in recorded.items():
        if sealed is not None and key not in stored:
            return (
                f"{_describe(key)} was deleted outside mlgate: audit event {seq} recorded it "
                "and no event records its removal"
            )
    return None


def _describe(key: str) -> str:
    table, row_id = key.split(":", 1)
    return f"row {row_id} of table {table}"


def newest_seals(
    events: Iterable[tuple[int, Mapping[str, str | None] | None]],
) -> dict[str, tuple[int, str | None]]:
    """Return, per sealed row, the newest event that sealed it and its digest.

    ``events`` are ``(seq, seals)`` pairs in chain order; ``seals`` is ``None`` for an event
    that sealed nothing.
    """
    recorded: dict[str, tuple[int, str | None]] = {}
    for seq, seals in events:
        for key, digest in (seals or {}).items():
            recorded[key] = (seq, digest)
    return recorded


def seal_existing_rows(session: Session, columns: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Return the digests of every row of the tables in ``columns``, for a migration to record.

    A migration passes the column lists as they stood when it was written, so it seals the
    same columns however the lists above change later.
    """
    return _read_digests(session, columns, None)
