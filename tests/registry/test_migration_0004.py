"""Migration 0004 adds the feature catalogue to a store that already holds a project."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from mlgate.registry.audit import GENESIS, event_hash, verify_chain
from mlgate.registry.db import _alembic_config, make_engine, upgrade
from mlgate.registry.models import (
    AuditEvent,
    AuditHead,
    Base,
    DatasetVersion,
    FeatureVersion,
    ModelFeature,
    ModelVersion,
    Project,
)

NEW_TABLES = {"feature_versions", "model_features"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _store_at_0003(url: str):  # type: ignore[no-untyped-def]
    """An engine whose schema stops at 0003, holding one project, its data, model and trail."""
    engine = make_engine(url)
    command.upgrade(_alembic_config(engine), "0003")
    with engine.begin() as connection:
        connection.execute(
            insert(Project.__table__).values(
                id=1,
                name="legacy",
                owner="alice",
                tier="high",
                stage="development",
                policy_name="mlgate-default",
                policy_version="1.0",
                policy_sha256="9f" * 32,
                config={"data": {"sensitive": ["sex"]}},
                created_at=NOW,
            )
        )
        connection.execute(
            insert(DatasetVersion.__table__).values(
                id=1,
                project_id=1,
                name="train",
                uri="train.csv",
                sha256="d" * 64,
                artifact_sha256="d" * 64,
                n_rows=10,
                n_cols=2,
                schema=[{"name": "age"}, {"name": "y"}],
                contract=None,
                created_by="alice",
                created_at=NOW,
            )
        )
        connection.execute(
            insert(ModelVersion.__table__).values(
                id=1,
                project_id=1,
                version=1,
                artifact_sha256="a" * 64,
                flavour="sklearn-skops",
                estimator="sklearn.linear_model.LogisticRegression",
                trusted_types=[],
                signature=[{"name": "age", "dtype": "int64", "kind": "numeric"}],
                target="y",
                classes=[0, 1],
                params={},
                metrics={},
                dataset_version_id=1,
                code_version="unversioned",
                packages={},
                created_by="alice",
                created_at=NOW,
            )
        )
        append_legacy_event(connection, "alice", "project.created", "project:legacy")
    return engine


def append_legacy_event(connection, actor: str, action: str, subject: str) -> None:  # type: ignore[no-untyped-def]
    """Append the first event of a store older than row seals, as mlgate wrote it then."""
    content = {
        "seq": 1,
        "project": None,
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": {},
        "created_at": NOW.isoformat(timespec="microseconds"),
    }
    digest = event_hash(GENESIS, content)
    connection.execute(
        insert(AuditEvent.__table__).values(**content, prev_hash=GENESIS, hash=digest)
    )
    connection.execute(insert(AuditHead.__table__).values(id=1, seq=1, hash=digest))


def _revision(engine) -> str | None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_keeps_existing_rows_and_adds_working_tables(store_url: str) -> None:
    engine = _store_at_0003(store_url)
    assert _revision(engine) == "0003"
    assert not NEW_TABLES & set(inspect(engine).get_table_names())

    upgrade(engine)

    assert set(inspect(engine).get_table_names()) >= NEW_TABLES
    with Session(engine) as session, session.begin():
        project = session.execute(select(Project)).scalar_one()
        model = session.execute(select(ModelVersion)).scalar_one()
        assert (project.name, project.tier, project.config) == (
            "legacy",
            "high",
            {"data": {"sensitive": ["sex"]}},
        )
        assert (model.version, model.signature[0]["name"]) == (1, "age")
        assert verify_chain(session).ok

        feature = FeatureVersion(
            project_id=project.id,
            name="age_band",
            version=1,
            definition="features:age_band",
            description="",
            sources=["age"],
            dataset_name="train",
            dataset_version_id=1,
            owner="alice",
            unit=None,
            sensitivity=["age"],
            declared_sensitivity=None,
            created_by="alice",
            created_at=NOW,
            sha256="f" * 64,
        )
        session.add(feature)
        session.flush()
        session.add(ModelFeature(model_version_id=model.id, feature_version_id=feature.id))

    with Session(engine) as session:
        stored = session.execute(select(FeatureVersion)).scalar_one()
        link = session.execute(select(ModelFeature)).scalar_one()
        assert (stored.sources, stored.sensitivity, stored.declared_sensitivity) == (
            ["age"],
            ["age"],
            None,
        )
        assert (link.model_version_id, link.feature_version_id) == (1, stored.id)
    engine.dispose()


def _differences(engine) -> list[object]:  # type: ignore[no-untyped-def]
    """What autogenerate finds between the database and the models, about the new tables."""
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in differences if NEW_TABLES & set(_tables_named(d))]


def test_migrated_tables_match_the_models(store_url: str) -> None:
    engine = _store_at_0003(store_url)
    before = _differences(engine)

    upgrade(engine)

    assert sorted(d[1].name for d in before if d[0] == "add_table") == sorted(NEW_TABLES)
    assert _differences(engine) == []
    engine.dispose()


def test_downgrade_to_0003_removes_only_the_catalogue(store_url: str) -> None:
    engine = _store_at_0003(store_url)
    upgrade(engine)

    command.downgrade(_alembic_config(engine), "0003")

    assert _revision(engine) == "0003"
    assert not NEW_TABLES & set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.execute(select(Project.name)).scalar_one() == "legacy"
    engine.dispose()


def _tables_named(difference: object) -> list[str]:
    """The table names an autogenerate difference mentions (it nests tuples and lists)."""
    if isinstance(difference, str):
        return [difference]
    if isinstance(difference, list | tuple):
        return [name for item in difference for name in _tables_named(item)]
    table = getattr(difference, "table", None)
    name = getattr(difference, "name", None)
    if table is not None:
        return [str(table.name)]
    return [str(name)] if isinstance(name, str) else []
