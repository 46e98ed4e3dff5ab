"""The review gate: the process check, open findings and user acceptance by several people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text, update

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.errors import PolicyViolation, ValidationError
from mlgate.lifecycle.evidence import submit_document
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.lifecycle.timezones import earliest_today, latest_today
from mlgate.registry.models import AuditEvent, ModelVersion, ReviewFinding
from tests.fixtures import fill, synthetic_frame

REVIEW_POLICY = """
name: review-test
version: "1"
roles: [data_scientist, validator, business_owner, risk_officer, admin]
waiver_roles: [risk_officer]
stages:
  - id: initiation
    title: Initiation
    requirements:
      - id: business_case
        kind: document
        document: business_case
        title: Business case
      - id: compute_allocation
        kind: record
        record: compute_allocation
        title: Compute allocation
  - id: review
    title: Review
    requirements:
      - id: process
        kind: process
        title: The process was followed
      - id: findings
        kind: findings
        severity: high
        title: No open high-severity findings
      - id: user_acceptance
        kind: document
        document: user_acceptance
        role: business_owner
        count: 2
        title: Two business owners accept
  - id: done
    title: Done
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project under the review-test policy with a trained model version 1."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(REVIEW_POLICY)
    root = tmp_path / "ws"
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    config = WorkspaceConfig(
        project="review-test",
        tier="high",
        owner="alice",
        data=DataConfig(target="y", sensitive=["group"], exclude=["group"]),
        training=TrainingConfig(estimator="sklearn.linear_model.LogisticRegression"),
    )
    gov = init_project(root, config, policy, root / "train.csv")
    for user, role in [("vera", "validator"), ("carol", "business_owner")]:
        gov.add_member(user, role)
    gov.add_member("dan", "business_owner")
    train_model(gov)
    return root


def _gov(root: Path, user: str = "alice") -> Governance:
    return Governance.open(root, actor=user)


def _state(root: Path, requirement: str, now: datetime | None = None) -> tuple[str, str]:
    _, stages = _gov(root).status(now)
    found = {r.id: r for s in stages for r in s.requirements}[requirement]
    return found.state, found.detail


def _initiation_done(root: Path) -> None:
    gov = _gov(root)
    submit_document(gov, fill("business_case", root))
    submit_document(gov, fill("compute_allocation", root))


def test_process_names_each_gap_of_an_earlier_stage(project: Path) -> None:
    state, detail = _state(project, "process")
    assert state == "failed"
    assert "initiation/business_case is missing" in detail
    assert "initiation/compute_allocation is missing" in detail

    _initiation_done(project)
    state, detail = _state(project, "process")
    assert state == "satisfied", detail
    assert "all 2 requirement(s) of earlier stages are met" in detail


def test_process_fails_when_the_audit_trail_was_tampered_with(project: Path) -> None:
    _initiation_done(project)
    gov = _gov(project)
    with gov.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="mallory"))

    state, detail = _state(project, "process")
    assert state == "failed"
    assert "the audit trail does not verify" in detail


def test_process_fails_when_a_finding_was_softened_in_the_database(project: Path) -> None:
    _initiation_done(project)
    _finding(project, "high")
    assert _state(project, "process")[0] == "satisfied"
    with _gov(project).store.engine.begin() as connection:
        connection.execute(text("UPDATE review_findings SET severity = 'low'"))

    state, detail = _state(project, "process")
    assert state == "failed"
    assert "row 1 of table review_findings was changed outside mlgate" in detail


def test_process_flags_a_reclaimed_allocation_without_blocking(project: Path) -> None:
    _initiation_done(project)
    reclaim = fill("compute_allocation", project)
    reclaim_date = yaml.safe_load(reclaim.read_text())["reclaim_date"]
    after = datetime.combine(reclaim_date + timedelta(days=1), datetime.min.time(), UTC)

    state, detail = _state(project, "process", after)
    assert state == "satisfied", detail
    assert "flagged: compute_allocation: the compute_allocation on file ran out" in detail


def test_process_fails_once_a_waiver_it_relied_on_expires(project: Path) -> None:
    submit_document(_gov(project), fill("compute_allocation", project))
    _gov(project).add_member("rita", "risk_officer")
    expires = date.today() + timedelta(days=5)
    reason = "The case is written by the sponsor and follows within the month."
    _gov(project, "rita").waive("business_case", reason, expires)
    assert _state(project, "process")[0] == "satisfied"

    later = datetime.now(UTC) + timedelta(days=6)
    state, detail = _state(project, "process", later)
    assert state == "failed"
    assert "business_case is missing" in detail
    assert "expired" in detail


def _finding(
    root: Path, severity: str, status: str = "open", due_days: int = 30, title: str = ""
) -> None:
    gov = _gov(root, "vera")
    with gov.transaction() as session:
        project = gov.project(session)
        model = session.execute(select(ModelVersion)).scalar_one()
        session.add(
            ReviewFinding(
                project_id=project.id,
                model_version_id=model.id,
                severity=severity,
                title=title or f"a {severity} finding",
                description="the threshold is hard-coded",
                owner="alice",
                due_date=date.today() + timedelta(days=due_days),
                remediation="",
                status=status,
                created_by="vera",
                created_at=datetime.now(UTC),
            )
        )


def test_an_open_high_finding_blocks_and_a_low_one_does_not(project: Path) -> None:
    assert _state(project, "findings")[0] == "satisfied"

    _finding(project, "low", due_days=-1)
    state, detail = _state(project, "findings")
    assert state == "satisfied"
    yesterday = date.today() - timedelta(days=1)
    assert detail.endswith(
        f"; 1 open finding(s) past their due date: #1 low: a low finding "
        f"(due {yesterday}, owner alice)"
    )

    _finding(project, "critical")
    state, detail = _state(project, "findings")
    assert state == "failed"
    assert "1 open finding(s) of severity high or worse" in detail
    assert "critical: a critical finding (owner alice)" in detail


def test_overdue_findings_are_named_most_overdue_first_up_to_ten(project: Path) -> None:
    for days in range(12):
        _finding(project, "medium", due_days=-1 - days)
    _finding(project, "low", due_days=5)

    state, detail = _state(project, "findings")

    assert state == "satisfied"
    assert "; 12 open finding(s) past their due date: #12 medium: a medium finding (due " in detail
    assert detail.endswith("; and 2 more (mlgate finding list --status open)")
    assert "#1 medium" not in detail  # the two least overdue are counted, not named
    assert "#2 medium" not in detail
    assert "#3 medium: a medium finding" in detail
    assert "#13" not in detail  # not overdue


def test_an_overdue_finding_is_quoted_by_the_start_of_its_title(project: Path) -> None:
    title = "The approval rate of group b is twelve points lower at equal score"
    _finding(project, "low", due_days=-3, title=title)

    detail = _state(project, "findings")[1]

    quoted = "The approval rate of group b is twelve points lower at eq..."
    assert len(quoted) == 60
    assert f"#1 low: {quoted} (due {date.today() - timedelta(days=3)}, owner alice)" in detail


def test_a_closed_high_finding_no_longer_blocks(project: Path) -> None:
    _finding(project, "high", status="closed")
    state, detail = _state(project, "findings")
    assert state == "satisfied"
    assert "(1 recorded, 0 open)" in detail


def _accept(root: Path, user: str, decision: str = "accept", version: int = 1) -> None:
    path = fill("user_acceptance", root, model_version=version, decision=decision, signed_by=user)
    submit_document(_gov(root, user), path)


def test_acceptance_needs_as_many_business_owners_as_the_policy_says(project: Path) -> None:
    _accept(project, "carol")
    state, detail = _state(project, "user_acceptance")
    assert state == "missing"
    assert "1 of 2 business_owner signature(s) for model version 1 (so far: carol)" in detail

    _accept(project, "dan")
    state, detail = _state(project, "user_acceptance")
    assert state == "satisfied"
    assert "signed by carol, dan for model version 1" in detail


def test_one_rejection_blocks_until_that_person_accepts(project: Path) -> None:
    _accept(project, "carol")
    _accept(project, "dan", decision="reject")
    assert _state(project, "user_acceptance")[0] == "rejected"

    _accept(project, "dan")
    assert _state(project, "user_acceptance")[0] == "satisfied"


def test_acceptance_of_an_older_version_does_not_count(project: Path) -> None:
    _accept(project, "carol")
    _accept(project, "dan")
    gov = _gov(project)
    gov.config.training.params = {"C": 0.5}
    train_model(gov)

    state, detail = _state(project, "user_acceptance")
    assert state == "missing"
    assert "is for model version 1; the current is 2" in detail


def test_an_acceptance_of_a_superseded_version_says_it_does_not_count(project: Path) -> None:
    gov = _gov(project)
    gov.config.training.params = {"C": 0.5}
    train_model(gov)

    late = fill("user_acceptance", project, model_version=1, signed_by="carol")
    old = submit_document(_gov(project, "carol"), late)
    current = fill("user_acceptance", project, model_version=2, signed_by="dan")
    new = submit_document(_gov(project, "dan"), current)

    assert (old.status, old.summary) == (
        "pass",
        "accepted by carol for version 1; recorded for the trail only: it does not count toward "
        "the gate, since the current model version is 2 (submit an acceptance naming "
        "model_version: 2)",
    )
    assert (new.status, new.summary) == ("pass", "accepted by dan for version 2")
    assert (
        "1 of 2 business_owner signature(s) for model version 2 (so far: dan)"
        in _state(project, "user_acceptance")[1]
    )


def test_the_trail_says_who_accepted_or_rejected_which_version(project: Path) -> None:
    _accept(project, "carol")
    _accept(project, "dan", decision="reject")
    submit_document(_gov(project), fill("business_case", project))

    gov = _gov(project)
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == "document.submitted")
        events = [
            (e.actor, e.subject, e.payload.get("model_version"), e.payload.get("decision"))
            for e in session.execute(stmt.order_by(AuditEvent.seq)).scalars()
        ]
    assert events == [
        ("carol", "document:user_acceptance", 1, "accept"),
        ("dan", "document:user_acceptance", 1, "reject"),
        ("alice", "document:business_case", None, None),
    ]


def test_acceptance_by_someone_without_the_role_is_refused(project: Path) -> None:
    with pytest.raises(PolicyViolation, match="signed by a business_owner; vera holds validator"):
        _accept(project, "vera")


def test_files_the_tests_write_are_named_and_do_not_stale_the_evidence(project: Path) -> None:
    from mlgate.lifecycle.evidence import run_check

    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_text('"""Package."""\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_pkg.py").write_text(
        '"""Writes into the project."""\n\nfrom pathlib import Path\n\nimport pkg\n\n\n'
        "def test_writes() -> None:\n"
        '    """Leaves a file behind."""\n'
        '    Path("pkg/generated.py").write_text("X = 1\\n")\n'
        "    assert pkg.__doc__\n"
    )
    gov = _gov(project)

    evidence, result = run_check(gov, "code_review")

    written = [f for f in result.findings if f.message.startswith("files-written")]
    assert [f.subject for f in written] == ["pkg/generated.py"]
    assert evidence.payload["source_sha256"] == gov.source_sha256()


def test_nobody_signs_an_acceptance_in_another_persons_name(project: Path) -> None:
    path = fill("user_acceptance", project, model_version=1, signed_by="dan")
    with pytest.raises(PolicyViolation, match="signed_by 'dan', but carol is submitting it"):
        submit_document(_gov(project, "carol"), path)


def test_an_acceptance_dated_after_today_is_refused(project: Path) -> None:
    ahead = date.today() + timedelta(days=3)
    path = fill("user_acceptance", project, model_version=1, signed_by="carol", date=ahead)
    with pytest.raises(ValidationError, match=f"dated {ahead}, after today"):
        submit_document(_gov(project, "carol"), path)


def test_an_acceptance_dated_today_in_the_zone_furthest_ahead_is_stored(project: Path) -> None:
    signed = latest_today()
    path = fill("user_acceptance", project, model_version=1, signed_by="carol", date=signed)

    evidence = submit_document(_gov(project, "carol"), path)

    assert (evidence.name, evidence.payload["document"]["date"]) == (
        "user_acceptance",
        signed.isoformat(),
    )


def test_a_requirement_that_lapses_after_its_stage_was_passed_is_a_notice(project: Path) -> None:
    from mlgate.lifecycle.notices import notices

    submit_document(_gov(project), fill("compute_allocation", project))
    _gov(project).add_member("rita", "risk_officer")
    reason = "The case is written by the sponsor and follows within the month."
    _gov(project, "rita").waive("business_case", reason, date.today() + timedelta(days=5))
    _gov(project).advance()
    gov = _gov(project)
    assert not [n for n in notices(gov.snapshot_now()) if "was passed" in n.message]

    with gov.transaction() as session:
        later = gov.snapshot(session, datetime.now(UTC) + timedelta(days=6))
        found = [n.message for n in notices(later) if "was passed" in n.message]
    assert found == [
        "stage initiation was passed, but business_case no longer holds (missing): no "
        "business_case document submitted; the waiver by rita expired on "
        f"{date.today() + timedelta(days=5)}"
    ]


def test_a_business_owner_may_not_sign_an_acceptance_as_validator(project: Path) -> None:
    path = fill("user_acceptance", project, model_version=1, signed_by="carol", role="validator")

    with pytest.raises(
        PolicyViolation,
        match="names the role 'validator', but a user acceptance is signed as business_owner; "
        "carol holds business_owner",
    ):
        submit_document(_gov(project, "carol"), path)

    gov = _gov(project)
    assert _last_event(gov) == ("document.submit.refused", "document:user_acceptance")
    assert gov.snapshot_now().latest_evidence("user_acceptance") is None


def test_an_acceptance_naming_another_role_of_the_signer_is_refused(project: Path) -> None:
    _gov(project).add_member("carol", "validator")
    path = fill("user_acceptance", project, model_version=1, signed_by="carol", role="Validator")

    with pytest.raises(PolicyViolation, match="carol holds business_owner, validator"):
        submit_document(_gov(project, "carol"), path)


def test_an_acceptance_names_the_role_as_people_write_it(project: Path) -> None:
    path = fill(
        "user_acceptance", project, model_version=1, signed_by="carol", role="Business-owner"
    )

    evidence = submit_document(_gov(project, "carol"), path)

    assert (evidence.status, evidence.payload["document"]["role"]) == ("pass", "Business-owner")


def test_an_acceptance_dated_before_the_model_version_existed_is_refused(project: Path) -> None:
    path = fill("user_acceptance", project, model_version=1, signed_by="carol", date="2019-12-05")

    with pytest.raises(
        ValidationError,
        match="dated 2019-12-05, before model version 1 was registered",
    ):
        submit_document(_gov(project, "carol"), path)

    assert _gov(project).snapshot_now().latest_evidence("user_acceptance") is None


def test_an_acceptance_dated_the_registration_day_in_the_zone_furthest_behind_is_stored(
    project: Path,
) -> None:
    gov = _gov(project)
    with gov.transaction() as session:
        registered = session.execute(select(ModelVersion)).scalar_one().created_at
    earliest = earliest_today(registered.replace(tzinfo=registered.tzinfo or UTC))
    too_early = earliest - timedelta(days=1)

    early = fill("user_acceptance", project, model_version=1, signed_by="carol", date=too_early)
    with pytest.raises(ValidationError, match=f"dated {too_early}, before model version 1"):
        submit_document(_gov(project, "carol"), early)
    on_time = fill("user_acceptance", project, model_version=1, signed_by="carol", date=earliest)
    evidence = submit_document(_gov(project, "carol"), on_time)

    assert evidence.payload["document"]["date"] == earliest.isoformat()


def test_a_rejection_is_shown_at_the_gate_with_its_reason(project: Path) -> None:
    comments = "Refusals are not explainable to applicants yet."
    path = fill(
        "user_acceptance",
        project,
        model_version=1,
        decision="reject",
        signed_by="dan",
        comments=comments,
    )
    submit_document(_gov(project, "dan"), path)

    state, detail = _state(project, "user_acceptance")

    assert (state, detail) == (
        "rejected",
        f"rejected by dan: dan rejected model version 1: {comments}",
    )


def _last_event(gov: Governance) -> tuple[str, str]:
    with gov.transaction() as session:
        stmt = select(AuditEvent).order_by(AuditEvent.seq.desc())
        event = session.execute(stmt).scalars().first()
        return event.action, event.subject
