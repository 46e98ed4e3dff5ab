"""Bind each waiver to what it was granted on: a model version or a dataset version.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("waivers") as batch_op:
        batch_op.add_column(
            sa.Column("subject", sa.String(200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("waivers") as batch_op:
        batch_op.drop_column("subject")
