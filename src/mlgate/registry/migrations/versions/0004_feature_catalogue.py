"""Keep a catalogue of features per project and which feature versions each model uses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("dataset_name", sa.String(length=200), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("sensitivity", sa.JSON(), nullable=False),
        sa.Column("declared_sensitivity", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["dataset_version_id"], ["dataset_versions.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "version"),
    )
    with op.batch_alter_table("feature_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feature_versions_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "model_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("feature_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["feature_version_id"], ["feature_versions.id"]),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_version_id", "feature_version_id"),
    )
    with op.batch_alter_table("model_features", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_features_model_version_id"), ["model_version_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_model_features_feature_version_id"),
            ["feature_version_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("model_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_features_feature_version_id"))
        batch_op.drop_index(batch_op.f("ix_model_features_model_version_id"))

    op.drop_table("model_features")
    with op.batch_alter_table("feature_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feature_versions_project_id"))

    op.drop_table("feature_versions")
