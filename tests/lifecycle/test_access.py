"""Sensitive data needs a live grant for the acting user; reclaims and expiries are flagged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mlgate.config import DataConfig, WorkspaceConfig
from mlgate.errors import PolicyViolation, ValidationError
from mlgate.lifecycle.access import live_grant
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.notices import notices
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.timezones import earliest_today
from mlgate.registry.models import AuditEvent, DatasetVersion, Evidence
from tests.fixtures import fill, synthetic_frame


@pytest.fixture
def medium(tmp_path: Path) -> Path:
    """A medium-risk project (its policy asks for grants) with a risk officer, no data yet."""
    root = tmp_path / "medium"
    root.mkdir()
    config = WorkspaceConfig(
        project="medium",
        tier="medium",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
    )
    gov = init_project(root, config)
    gov.add_member("rita", "risk_officer")
    synthetic_frame().to_csv(root / "train.csv", index=False)
    return root


def _gov(root: Path, user: str) -> Governance:
    return Governance.open(root, actor=user)


def _grant(
    root: Path,
    grantee: str,
    expires: date | None = None,
    granted_by: str = "rita",
    granted_on: date | None = None,
) -> Path:
    today = date.today()
    return fill(
        "data_access_grant",
        root,
        grantee=grantee,
        granted_by=granted_by,
        granted_on=granted_on or today - timedelta(days=1),
        expires=expires or today + timedelta(days=90),
    )


def _last_action(gov: Governance) -> str:
    with gov.transaction() as session:
        stmt = select(AuditEvent.action).order_by(AuditEvent.seq.desc())
        return session.execute(stmt).scalars().first()


def _datasets(gov: Governance) -> int:
    with gov.transaction() as session:
        return len(session.execute(select(DatasetVersion)).scalars().all())


def test_registering_sensitive_data_without_grant_is_refused_and_audited(medium: Path) -> None:
    alice = _gov(medium, "alice")
    with pytest.raises(PolicyViolation, match="alice has no live data access grant .* group"):
        register_dataset(alice, medium / "train.csv", "train")
    assert _last_action(alice) == "dataset.register.refused"
    assert _datasets(alice) == 0


def test_grant_by_someone_else_lets_the_grantee_register(medium: Path) -> None:
    submit_document(_gov(medium, "rita"), _grant(medium, "alice"))

    dataset = register_dataset(_gov(medium, "alice"), medium / "train.csv", "train")

    assert dataset.n_rows == 400
    with pytest.raises(PolicyViolation, match="bob has no live data access grant"):
        register_dataset(_gov(medium, "bob"), medium / "train.csv", "train")


def test_nobody_grants_themselves(medium: Path) -> None:
    with pytest.raises(PolicyViolation, match="rita may not record a data access grant for"):
        submit_document(_gov(medium, "rita"), _grant(medium, "rita", granted_by="Petra Becker"))


def test_a_grant_recorded_in_someone_elses_name_is_refused(medium: Path) -> None:
    _gov(medium, "alice").add_member("olga", "risk_officer")

    with pytest.raises(PolicyViolation, match="granted_by 'olga', but rita is recording it"):
        submit_document(_gov(medium, "rita"), _grant(medium, "alice", granted_by="olga"))

    assert live_grant(_gov(medium, "alice").snapshot_now(), "alice") is None


def test_only_granting_roles_record_grants(medium: Path) -> None:
    _gov(medium, "alice").add_member("dave", "data_scientist")
    with pytest.raises(PolicyViolation, match="needs the role admin or risk_officer; dave"):
        submit_document(_gov(medium, "dave"), _grant(medium, "alice"))


def test_expired_grant_no_longer_counts(medium: Path) -> None:
    submit_document(_gov(medium, "rita"), _grant(medium, "alice", date.today() + timedelta(3)))
    snap = _gov(medium, "alice").snapshot_now()
    assert live_grant(snap, "alice") is not None

    snap.now = datetime.now(UTC) + timedelta(days=4)
    assert live_grant(snap, "alice") is None


def _evidence(root: Path) -> int:
    with _gov(root, "alice").transaction() as session:
        return len(session.execute(select(Evidence)).scalars().all())


def test_a_grant_that_has_expired_everywhere_is_refused_at_submission(medium: Path) -> None:
    earliest = earliest_today()
    expired = earliest - timedelta(days=1)
    path = _grant(medium, "alice", expired, granted_on=expired - timedelta(days=30))

    with pytest.raises(
        ValidationError,
        match=rf"data access grant has already run out: expires is {expired}, and today is "
        rf"{datetime.now(UTC).date()} in UTC \({earliest} in the time zone furthest behind\); "
        rf"expected expires {earliest} or later",
    ):
        submit_document(_gov(medium, "rita"), path)

    assert _evidence(medium) == 0


def test_a_grant_whose_last_day_is_still_today_somewhere_is_stored(medium: Path) -> None:
    earliest = earliest_today()
    path = _grant(medium, "alice", earliest, granted_on=earliest - timedelta(days=30))
    evidence = submit_document(_gov(medium, "rita"), path)

    assert (evidence.status, evidence.payload["document"]["expires"]) == (
        "pass",
        earliest.isoformat(),
    )


def test_an_allocation_reclaimed_everywhere_is_refused_at_submission(medium: Path) -> None:
    earliest = earliest_today()
    path = fill(
        "compute_allocation",
        medium,
        allocated_on=earliest - timedelta(days=60),
        reclaim_date=earliest,
    )

    with pytest.raises(
        ValidationError,
        match=rf"compute allocation has already run out: reclaim_date is {earliest}, .* "
        rf"expected reclaim_date {earliest + timedelta(days=1)} or later",
    ):
        submit_document(_gov(medium, "alice"), path)
    assert _evidence(medium) == 0

    fill("compute_allocation", medium, reclaim_date=earliest + timedelta(days=1))
    evidence = submit_document(_gov(medium, "alice"), path)
    assert evidence.name == "compute_allocation"


def test_low_tier_policy_does_not_ask_for_grants(workspace: Path) -> None:
    gov = _gov(workspace, "alice")
    dataset = register_dataset(gov, workspace / "train.csv", "holdout")
    assert dataset.name == "holdout"


def test_notices_flag_overdue_reclaim_and_expiring_grant_and_waiver(medium: Path) -> None:
    rita = _gov(medium, "rita")
    today = date.today()
    submit_document(rita, _grant(medium, "alice", today + timedelta(days=5)))
    fill(
        "compute_allocation",
        medium,
        allocated_on=today - timedelta(days=60),
        reclaim_date=today + timedelta(days=1),
    )
    submit_document(_gov(medium, "alice"), medium / "docs" / "compute_allocation.yaml")
    rita.waive(
        "business_case", "Business case follows after the pilot review.", today + timedelta(days=7)
    )
    snapshot = rita.snapshot_now()
    snapshot.now = datetime.now(UTC) + timedelta(days=3)  # the allocation's reclaim has passed

    found = notices(snapshot)

    messages = sorted(n.message for n in found)
    assert [n.severity for n in found if "reclaim" in n.message] == ["fail"]
    assert any(m.startswith("compute allocation") and "passed its reclaim" in m for m in messages)
    assert any(m.startswith("data access grant for alice expires on") for m in messages)
    assert any(m.startswith("waiver of business_case by rita ends on") for m in messages)
    assert len(found) == 3


def test_checking_sensitive_data_without_grant_is_refused_and_audited(medium: Path) -> None:
    from mlgate.lifecycle.evidence import run_check

    submit_document(_gov(medium, "rita"), _grant(medium, "alice"))
    register_dataset(_gov(medium, "alice"), medium / "train.csv", "train")
    bob = _gov(medium, "bob")

    with pytest.raises(PolicyViolation, match="bob has no live data access grant .* group"):
        run_check(bob, "data_quality")

    assert _last_action(bob) == "check.run.refused"
    assert bob.snapshot_now().latest_evidence("data_quality") is None
    evidence, _ = run_check(_gov(medium, "alice"), "data_quality")
    assert evidence.requirement_id == "data_quality"


def test_contract_marked_and_detected_identifiers_need_a_grant(tmp_path: Path) -> None:
    from mlgate.contracts import dump_contract, infer_contract

    root = tmp_path / "c"
    root.mkdir()
    config = WorkspaceConfig(
        project="c", tier="medium", owner="alice", data=DataConfig(target="y")
    )
    init_project(root, config)
    frame = synthetic_frame()
    frame["email"] = [f"user{i}@example.org" for i in range(len(frame))]
    frame.to_csv(root / "train.csv", index=False)
    (root / "contract.yaml").write_text(dump_contract(infer_contract(frame, "t", target="y")))

    with pytest.raises(PolicyViolation, match="sensitive column\\(s\\) email"):
        register_dataset(_gov(root, "alice"), root / "train.csv", "train", root / "contract.yaml")
    frame.rename(columns={"email": "contact"}).to_csv(root / "plain.csv", index=False)
    with pytest.raises(PolicyViolation, match="sensitive column\\(s\\) contact"):
        register_dataset(_gov(root, "alice"), root / "plain.csv", "train")
    frame.drop(columns=["email"]).to_csv(root / "clean.csv", index=False)
    assert register_dataset(_gov(root, "alice"), root / "clean.csv", "train").n_rows == 400


def test_leakage_waits_for_the_holdout_and_goes_stale_with_it(medium: Path) -> None:
    from mlgate.lifecycle.evidence import run_check

    submit_document(_gov(medium, "rita"), _grant(medium, "alice"))
    alice = _gov(medium, "alice")
    register_dataset(alice, medium / "train.csv", "train")
    _, stages = alice.status()
    state = next(r for s in stages for r in s.requirements if r.id == "leakage")
    assert state.state == "missing"
    assert "hold-out set, which is not registered" in state.detail

    synthetic_frame(100, seed=9).to_csv(medium / "holdout.csv", index=False)
    register_dataset(alice, medium / "holdout.csv", "holdout")
    evidence, result = run_check(alice, "leakage")
    assert result.metrics["shared_rows"] == 0  # computed against the hold-out set, not n/a
    synthetic_frame(100, seed=10).to_csv(medium / "holdout2.csv", index=False)
    register_dataset(alice, medium / "holdout2.csv", "holdout")
    _, stages = alice.status()
    state = next(r for s in stages for r in s.requirements if r.id == "leakage")
    assert (state.state, state.evidence_id) == ("missing", evidence.id)
    assert "older version of the hold-out set" in state.detail
