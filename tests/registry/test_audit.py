"""The audit chain: appends, verification, and detection of every kind of tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mlgate.errors import IntegrityError, ValidationError
from mlgate.registry.audit import (
    GENESIS,
    append_event,
    canonical_json,
    event_hash,
    parse_head,
    verify_chain,
)
from mlgate.registry.db import Store
from mlgate.registry.models import AuditEvent


def _fill(store: Store, n: int) -> None:
    for i in range(n):
        with store.transaction() as session:
            append_event(
                session,
                actor=f"user{i % 3}",
                action="thing.done",
                subject=f"thing:{i}",
                payload={"i": i, "value": i / 7},
                project="p",
            )


def test_event_hash_covers_previous_hash_and_canonical_json() -> None:
    event = {"seq": 1, "actor": "a", "payload": {"b": 1, "a": [1, 2]}}
    import hashlib

    expected = hashlib.sha256(
        (GENESIS + '{"actor":"a","payload":{"a":[1,2],"b":1},"seq":1}').encode()
    ).hexdigest()
    assert canonical_json(event) == '{"actor":"a","payload":{"a":[1,2],"b":1},"seq":1}'
    assert event_hash(GENESIS, event) == expected


def test_verify_chain_intact_is_ok(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 6)
    with store.transaction() as session:
        report = verify_chain(session)
    assert report.ok
    assert report.n_events == 6
    assert report.first_bad_seq is None


@pytest.mark.parametrize("seq", [1, 3, 6])
def test_verify_chain_names_altered_payload(store_url: str, seq: int) -> None:
    store = Store(store_url)
    _fill(store, 6)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET payload = :p WHERE seq = :s"),
            {"p": '{"i": 999}', "s": seq},
        )
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == seq
    assert f"event {seq} " in report.message


def test_verify_chain_names_altered_actor_even_if_hash_recomputed(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 5)
    with store.transaction() as session:
        event = session.get(AuditEvent, 2)
        event.actor = "mallory"
        content = {
            "seq": 2,
            "project": event.project,
            "actor": "mallory",
            "action": event.action,
            "subject": event.subject,
            "payload": event.payload,
            "created_at": event.created_at,
        }
        event.hash = event_hash(event.prev_hash, content)
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 2


def test_verify_chain_names_deleted_event(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 5)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "event 3 is missing" in report.message


def test_verify_chain_names_removed_tail(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 5)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq >= 4"))
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 4


def test_verify_chain_names_reordered_events(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 5)
    with store.engine.begin() as connection:
        rows = connection.execute(
            text("SELECT seq, actor, subject FROM audit_events WHERE seq IN (2, 3) ORDER BY seq")
        ).all()
        for (seq, _, _), (_, actor, subject) in zip(rows, reversed(rows), strict=True):
            connection.execute(
                text("UPDATE audit_events SET actor = :a, subject = :s WHERE seq = :q"),
                {"a": actor, "s": subject, "q": seq},
            )
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 2


def test_append_rolls_back_with_the_transaction(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 2)

    def fail_after_append() -> None:
        with store.transaction() as session:
            append_event(session, actor="a", action="x", subject="y")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_after_append()
    with store.transaction() as session:
        report = verify_chain(session)
    assert report.ok
    assert report.n_events == 2


def test_store_migrations_create_every_table(store_url: str) -> None:
    store = Store(store_url)
    from sqlalchemy import inspect

    tables = set(inspect(store.engine).get_table_names())
    expected = {
        "projects",
        "members",
        "evidence",
        "approvals",
        "waivers",
        "dataset_versions",
        "model_versions",
        "deployments",
        "audit_events",
        "audit_head",
        "alembic_version",
    }
    assert expected <= tables
    Store(store_url)  # opening again is a no-op, not an error


def test_payload_edited_into_invalid_json_is_tampering(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    _fill(store, 3)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET payload = '{not json' WHERE seq = 2"))
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert "payload or seals are no longer valid JSON" in report.message


def test_emptied_trail_is_caught_against_the_stored_projects(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from mlgate.registry.models import Project

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    with store.transaction() as session:
        session.add(
            Project(
                name="p",
                owner="a",
                tier="low",
                stage="initiation",
                policy_name="x",
                policy_version="1",
                policy_sha256="0" * 64,
                config={},
                created_at=datetime.now(UTC),
            )
        )
        append_event(
            session, actor="a", action="project.created", subject="project:p", project="p"
        )
    with store.transaction() as session:
        assert verify_chain(session).ok
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
        connection.execute(text("DELETE FROM audit_head"))
    with store.transaction() as session:
        report = verify_chain(session)
    assert not report.ok
    assert "project p has no creation event in the trail" in report.message


def test_a_file_that_is_not_a_database_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlgate.errors import IntegrityError

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IntegrityError, match="cannot be read as an mlgate store"):
        Store(f"sqlite:///{bad}")


def test_swapped_events_are_named_without_blaming_the_event_before(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 5)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET seq = 99 WHERE seq = 3"))
        connection.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = 4"))
        connection.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = 99"))

    with store.transaction() as session:
        report = verify_chain(session)

    assert report.message == (
        "event 3 does not follow event 2: it recorded a different hash for the event before "
        "it (event 2 was replaced, or events were reordered or removed)"
    )


def _cut_tail_and_rewrite_tip(store: Store, keep: int) -> None:
    """Remove the events after ``keep`` and point the tip at ``keep``: no hash recomputed."""
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
        connection.execute(
            text(
                "UPDATE audit_head SET seq = :k, hash = (SELECT hash FROM audit_events "
                "WHERE seq = :k) WHERE id = 1"
            ),
            {"k": keep},
        )


def test_a_cut_tail_with_a_rewritten_tip_is_caught_only_by_a_known_head(
    store_url: str,
) -> None:
    store = Store(store_url)
    _fill(store, 6)
    with store.transaction() as session:
        before = verify_chain(session)
    noted = parse_head(before.message.rsplit("head ", 1)[1])
    _cut_tail_and_rewrite_tip(store, 4)

    with store.transaction() as session:
        alone = verify_chain(session)
        with_head = verify_chain(session, noted)

    assert noted == (6, before.head_hash[:12])
    assert alone.ok
    assert not with_head.ok
    assert with_head.message == (
        f"event 6, noted earlier with hash {before.head_hash[:12]}, is no longer in the chain, "
        "which ends at event 4: events were removed and the tip rewritten"
    )


def test_a_known_head_whose_hash_changed_names_the_rebuild(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 3)
    with store.transaction() as session:
        report = verify_chain(session, (2, "0" * 12))
        kept = verify_chain(session, (2, session.get(AuditEvent, 2).hash))

    assert kept.ok
    assert report.message.startswith("event 2 was noted earlier with hash 000000000000 but now")


@pytest.mark.parametrize(
    "text_", ["6", "x:abcdefabcdef", "0:abcdefabcdef", "3:abc", "3:zzzzzzzzzzzz"]
)
def test_a_malformed_known_head_is_refused(text_: str) -> None:
    with pytest.raises(ValidationError, match="known head"):
        parse_head(text_)


def test_appending_to_a_store_whose_tip_was_deleted_is_refused(store_url: str) -> None:
    store = Store(store_url)
    _fill(store, 3)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_head"))

    with pytest.raises(
        IntegrityError, match="tip record is missing while the chain holds events up to 3"
    ):
        _fill(store, 1)
    with store.transaction() as session:
        assert verify_chain(session).message == "the chain's tip record is missing"
