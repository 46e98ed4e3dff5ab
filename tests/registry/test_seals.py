"""Seals: governance rows written outside mlgate no longer verify, rows written by it do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text

from mlgate.registry.audit import append_event, verify_chain
from mlgate.registry.db import Store, _alembic_config, make_engine
from mlgate.registry.models import Approval, AuditEvent, Project, Waiver
from tests.registry.test_migration_0004 import append_legacy_event

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _project(store: Store) -> None:
    """One project with an approval and a waiver, each written with its event."""
    with store.transaction() as session:
        session.add(
            Project(
                name="credit",
                owner="alice",
                tier="high",
                stage="review",
                policy_name="mlgate-default",
                policy_version="1.0",
                policy_sha256="9f" * 32,
                config={"data": {"sensitive": ["sex"]}},
                created_at=NOW,
            )
        )
        append_event(session, actor="alice", action="project.created", subject="project:credit")
    with store.transaction() as session:
        session.add(_approval("bob"))
        append_event(session, actor="bob", action="approval.recorded", subject="model:v1")
    with store.transaction() as session:
        expires = NOW + timedelta(days=30)
        session.add(
            Waiver(
                project_id=1,
                stage="testing",
                requirement_id="fairness",
                subject="",
                justification="The gap is explained by the sample and reviewed in a month.",
                role="risk_officer",
                actor="rita",
                expires_at=expires,
                created_at=NOW,
            )
        )
        append_event(session, actor="rita", action="requirement.waived", subject="fairness")


def _approval(actor: str) -> Approval:
    return Approval(
        project_id=1,
        stage="review",
        requirement_id="model_review",
        subject="model:v1",
        decision="approve",
        role="validator",
        comment="",
        actor=actor,
        created_at=NOW,
    )


def _verify(store: Store):  # type: ignore[no-untyped-def]
    with store.transaction() as session:
        return verify_chain(session)


def test_rows_written_through_mlgate_verify_and_their_seals_are_in_the_chain(
    store_url: str,
) -> None:
    store = Store(store_url)
    _project(store)

    report = _verify(store)

    assert report.ok, report.message
    with store.transaction() as session:
        events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [sorted(event.seals or {}) for event in events] == [
        ["projects:1"],
        ["approvals:1"],
        ["waivers:1"],
    ]


def test_an_approval_inserted_outside_mlgate_is_named(store_url: str) -> None:
    store = Store(store_url)
    _project(store)
    columns = "project_id, stage, requirement_id, subject, decision, role, comment, actor"
    with store.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO approvals ({columns}, created_at) VALUES (1, 'review', "
                "'model_review', 'model:v1', 'approve', 'validator', '', 'mallory', :at)"
            ),
            {"at": NOW},
        )

    report = _verify(store)

    assert not report.ok
    assert report.message == (
        "row 2 of table approvals is not recorded in the audit trail: it was added to the "
        "database outside mlgate"
    )


@pytest.mark.parametrize(
    ("statement", "row"),
    [
        ("UPDATE waivers SET expires_at = :far WHERE id = 1", "row 1 of table waivers"),
        ("UPDATE approvals SET actor = 'carol' WHERE id = 1", "row 1 of table approvals"),
        ("UPDATE projects SET stage = 'deployment' WHERE id = 1", "row 1 of table projects"),
    ],
)
def test_a_row_changed_outside_mlgate_names_the_event_that_sealed_it(
    store_url: str, statement: str, row: str
) -> None:
    store = Store(store_url)
    _project(store)
    with store.engine.begin() as connection:
        connection.execute(text(statement), {"far": NOW + timedelta(days=3000)})

    report = _verify(store)

    assert not report.ok
    sealed_by = {"waivers": 3, "approvals": 2, "projects": 1}[row.rsplit(" ", 1)[1]]
    assert report.message == (
        f"{row} was changed outside mlgate: it no longer matches what audit event "
        f"{sealed_by} recorded"
    )


def test_a_row_deleted_outside_mlgate_is_named(store_url: str) -> None:
    store = Store(store_url)
    _project(store)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM waivers WHERE id = 1"))

    report = _verify(store)

    assert not report.ok
    assert report.message == (
        "row 1 of table waivers was deleted outside mlgate: audit event 3 recorded it and no "
        "event records its removal"
    )


def test_a_change_through_mlgate_reseals_the_row_in_its_own_event(store_url: str) -> None:
    store = Store(store_url)
    _project(store)
    with store.transaction() as session:
        waiver = session.get(Waiver, 1)
        waiver.expires_at = NOW + timedelta(days=1)
        append_event(session, actor="rita", action="waiver.shortened", subject="fairness")
    with store.transaction() as session:
        session.delete(session.get(Approval, 1))
        append_event(session, actor="bob", action="approval.withdrawn", subject="model:v1")

    report = _verify(store)

    assert report.ok, report.message
    with store.transaction() as session:
        last = session.execute(select(AuditEvent).where(AuditEvent.seq == 5)).scalar_one()
    assert last.seals == {"approvals:1": None}


def test_rows_changed_without_an_event_get_an_event_of_their_own(store_url: str) -> None:
    store = Store(store_url)
    _project(store)
    with store.transaction() as session:
        session.add(_approval("dave"))

    with store.transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == 4)).scalar_one()
    assert (event.action, event.actor, sorted(event.seals)) == (
        "records.sealed",
        "mlgate",
        ["approvals:2"],
    )
    assert _verify(store).ok


def test_a_rolled_back_transaction_leaves_no_seal_behind(store_url: str) -> None:
    store = Store(store_url)
    _project(store)

    def fail_after_writing() -> None:
        with store.transaction() as session:
            session.add(_approval("erin"))
            session.flush()
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    with store.transaction() as session:
        append_event(session, actor="alice", action="note.added", subject="project:credit")

    with store.transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == 4)).scalar_one()
    assert event.seals is None
    assert _verify(store).ok


def test_upgrading_an_older_store_seals_its_rows_once(store_url: str) -> None:
    engine = make_engine(store_url)
    command.upgrade(_alembic_config(engine), "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO projects (name, owner, tier, stage, policy_name, policy_version, "
                "policy_sha256, config, created_at) VALUES ('legacy', 'alice', 'low', "
                "'initiation', 'p', '1', :sha, '{}', :at)"
            ),
            {"sha": "a" * 64, "at": NOW},
        )
        append_legacy_event(connection, "alice", "project.created", "project:legacy")
    engine.dispose()

    store = Store(store_url)

    with store.transaction() as session:
        events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [(e.action, e.actor, sorted(e.seals or {})) for e in events] == [
        ("project.created", "alice", []),
        ("records.sealed", "mlgate", ["projects:1"]),
    ]
    assert _verify(store).ok
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE projects SET tier = 'high' WHERE id = 1"))
    assert _verify(store).message == (
        "row 1 of table projects was changed outside mlgate: it no longer matches what audit "
        "event 2 recorded"
    )


def test_setting_a_row_to_the_values_it_has_records_nothing(store_url: str) -> None:
    store = Store(store_url)
    _project(store)
    with store.transaction() as session:
        project = session.get(Project, 1)
        project.config = {"data": {"sensitive": ["sex"]}}
        project.stage = "review"

    with store.transaction() as session:
        count = len(session.execute(select(AuditEvent.seq)).all())
    assert count == 3
