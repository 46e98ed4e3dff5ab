"""Seal the governance rows in the audit chain, and seal the rows a store already holds.

Each audit event may now carry the digests of the rows its transaction wrote. Rows written
before this migration get one event, ``records.sealed``, recording their digests as they stand
when the store is upgraded: from then on a row changed outside mlgate no longer verifies.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The sealed columns as they stood when this migration was written.
COLUMNS = {
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


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seals", sa.JSON(none_as_null=True), nullable=True))

    from mlgate.registry.seals import seal_existing_rows

    session = Session(bind=op.get_bind())
    columns = {table: tuple(names.split()) for table, names in COLUMNS.items()}
    digests = seal_existing_rows(session, columns)
    if digests:
        _append_baseline(session, digests)
    session.flush()


def _append_baseline(session: Session, digests: dict[str, str]) -> None:
    """Append the event that seals the existing rows, written with this revision's columns."""
    from mlgate.registry.audit import GENESIS, event_hash

    head = session.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    payload = {"reason": "rows written before sealing", "rows": len(digests)}
    content = {
        "seq": seq + 1,
        "project": None,
        "actor": "mlgate",
        "action": "records.sealed",
        "subject": "store",
        "payload": payload,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "seals": digests,
    }
    digest = event_hash(prev_hash, content)
    insert = sa.text(
        "INSERT INTO audit_events (seq, project, actor, action, subject, payload, "
        "created_at, prev_hash, hash, seals) VALUES (:seq, :project, :actor, :action, "
        ":subject, :payload, :created_at, :prev_hash, :hash, :seals)"
    ).bindparams(sa.bindparam("payload", type_=sa.JSON()), sa.bindparam("seals", type_=sa.JSON()))
    session.execute(insert, {**content, "prev_hash": prev_hash, "hash": digest})
    if head is None:
        session.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
            {"seq": seq + 1, "hash": digest},
        )
    else:
        session.execute(
            sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
            {"seq": seq + 1, "hash": digest},
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("seals")
