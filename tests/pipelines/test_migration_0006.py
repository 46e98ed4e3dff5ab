"""Migration 0006 creates pipeline_runs as the model declares it, lock included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from mlgate.registry.db import Store
from mlgate.registry.models import Base, PipelineRun, Project

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _mentions_pipeline_runs(difference: object) -> bool:
    return "pipeline_runs" in repr(difference)


def test_migrated_table_matches_model_and_locks(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in differences if _mentions_pipeline_runs(d)] == []

    project = {
        "name": "p",
        "owner": "o",
        "tier": "low",
        "stage": "initiation",
        "policy_name": "default",
        "policy_version": "1",
        "policy_sha256": "0" * 64,
        "config": {},
        "created_at": NOW,
    }
    row = {
        "project_id": 1,
        "pipeline": "nightly",
        "kind": "data",
        "status": "running",
        "trigger": "manual",
        "actor": "alice",
        "started_at": NOW,
        "log_excerpt": "",
    }
    with store.transaction() as session:
        session.execute(insert(Project).values(**project))
        session.execute(insert(PipelineRun).values(**row, active=None))
        session.execute(insert(PipelineRun).values(**row, active=None))  # closed runs: any number
        session.execute(insert(PipelineRun).values(**row, active=True))
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.execute(insert(PipelineRun).values(**row, active=True))
