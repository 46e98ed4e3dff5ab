"""Gates block, approvals respect separation of duties, waivers expire, evidence is versioned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mlgate.errors import PolicyViolation, ValidationError
from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli, fill


def _gov(root: Path, user: str = "alice") -> Governance:
    return Governance.open(root, actor=user)


def _states(gov: Governance, now: datetime | None = None) -> dict[str, str]:
    _, stages = gov.status(now)
    return {r.id: r.state for s in stages for r in s.requirements}


def _audit_actions(gov: Governance) -> list[str]:
    from sqlalchemy import select

    from mlgate.registry.models import AuditEvent

    with gov.transaction() as session:
        return list(session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def test_advance_with_missing_requirement_fails_naming_it(workspace: Path, cli: Cli) -> None:
    result = cli("advance", cwd=workspace)
    assert result.code == 5
    assert "business_case (missing)" in result.err
    assert "mlgate doc new business_case" in result.err
    assert "Traceback" not in result.text
    assert _gov(workspace).status()[0].stage == "initiation"
    assert _audit_actions(_gov(workspace))[-1] == "stage.advance.refused"


def test_advance_after_document_moves_one_stage(workspace: Path, cli: Cli) -> None:
    assert cli("doc", "submit", str(fill("business_case", workspace)), cwd=workspace).code == 0
    result = cli("advance", "--no-run-checks", cwd=workspace)
    assert result.code == 0, result.text
    assert _gov(workspace).status()[0].stage == "kickoff"


def test_low_tier_shortest_path_reaches_a_served_model(workspace: Path, cli: Cli) -> None:
    fill("business_case", workspace)
    fill("emergency_contacts", workspace)
    steps = [
        ("doc", "submit", "docs"),
        ("train",),
        ("advance", "--to", "deployment"),
        ("deploy",),
        ("predict", "train.csv", "--output", "scored.csv"),
    ]
    for step in steps:
        result = cli(*step, cwd=workspace)
        assert result.code == 0, f"{step}: {result.text}"
    import pandas as pd

    scored = pd.read_csv(workspace / "scored.csv")
    assert list(scored.columns[-2:]) == ["prediction", "score"]
    assert len(scored) == 400
    assert scored["score"].between(0, 1).all()


def test_self_approval_is_refused_and_audited(workspace: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_APPROVAL_POLICY)
    from mlgate.config import DataConfig, WorkspaceConfig
    from mlgate.lifecycle.project import init_project

    root = tmp_path / "sod"
    root.mkdir()
    config = WorkspaceConfig(
        project="sod", tier="high", owner="alice", data=DataConfig(target="y")
    )
    gov = init_project(root, config, policy)
    gov.add_member("carol", "business_owner")
    gov.add_member("dana", "business_owner")
    from mlgate.lifecycle.evidence import submit_document

    submit_document(_gov(root, "carol"), fill("business_case", root))

    with pytest.raises(PolicyViolation, match="carol authored business_case .* may not approve"):
        _gov(root, "carol").decide("case_approval", "approve", "looks fine to me")
    with pytest.raises(PolicyViolation, match="needs the role business_owner"):
        _gov(root, "alice").decide("case_approval", "approve", "looks fine to me")
    assert _states(gov)["case_approval"] == "missing"

    _gov(root, "dana").decide("case_approval", "approve", "benefit is credible")
    assert _states(gov)["case_approval"] == "satisfied"
    actions = _audit_actions(gov)
    assert actions.count("approval.approve.refused") == 2
    assert actions[-1] == "approval.approve"


def test_rejection_blocks_and_resubmission_needs_new_approval(tmp_path: Path) -> None:
    from mlgate.config import DataConfig, WorkspaceConfig
    from mlgate.lifecycle.evidence import submit_document
    from mlgate.lifecycle.project import init_project

    policy = tmp_path / "policy.yaml"
    policy.write_text(_APPROVAL_POLICY)
    root = tmp_path / "rej"
    root.mkdir()
    gov = init_project(
        root,
        WorkspaceConfig(project="rej", tier="high", owner="alice", data=DataConfig(target="y")),
        policy,
    )
    gov.add_member("dana", "business_owner")
    submit_document(gov, fill("business_case", root))

    _gov(root, "dana").decide("case_approval", "reject", "benefit is not quantified well")
    assert _states(gov)["case_approval"] == "rejected"
    with pytest.raises(PolicyViolation, match="case_approval \\(rejected\\)"):
        gov.advance()

    submit_document(gov, fill("business_case", root))
    assert _states(gov)["case_approval"] == "missing"


def test_expired_waiver_no_longer_satisfies(workspace: Path) -> None:
    gov = _gov(workspace)
    gov.add_member("rita", "risk_officer")
    expires = date.today() + timedelta(days=10)
    _gov(workspace, "rita").waive(
        "business_case", "Pilot with no business impact, case follows next quarter.", expires
    )
    assert _states(gov)["business_case"] == "waived"

    later = datetime.now(UTC) + timedelta(days=11)
    assert _states(gov, later)["business_case"] == "missing"
    with pytest.raises(
        PolicyViolation, match="business_case \\(missing\\).*waiver by rita expired"
    ):
        gov.advance(now=later)

    assert gov.advance() == "kickoff"


def test_waiver_needs_role_justification_and_bounded_expiry(workspace: Path) -> None:
    gov = _gov(workspace)
    gov.add_member("rita", "risk_officer")
    rita = _gov(workspace, "rita")
    soon = date.today() + timedelta(days=5)
    with pytest.raises(ValidationError, match="at least 20 characters; got 4"):
        rita.waive("business_case", "meh.", soon)
    with pytest.raises(ValidationError, match="must expire after today"):
        rita.waive("business_case", "A long enough justification here.", date.today())
    with pytest.raises(PolicyViolation, match="needs the role admin or risk_officer"):
        _gov(workspace, "mallory").waive("business_case", "A long enough reason, honest.", soon)


def test_retraining_invalidates_model_evidence(workspace: Path) -> None:
    from mlgate.lifecycle.evidence import run_check
    from mlgate.lifecycle.models import train_model

    gov = _gov(workspace)
    train_model(gov)
    evidence, _ = run_check(gov, "cv_accuracy")
    assert _states(gov)["cv_accuracy"] in ("satisfied", "failed")

    train_model(gov)
    _, stages = gov.status()
    state = next(r for s in stages for r in s.requirements if r.id == "cv_accuracy")
    assert state.state == "missing"
    assert "older model version" in state.detail
    assert state.evidence_id == evidence.id


def test_deploy_refused_before_gates_and_audited(workspace: Path) -> None:
    from mlgate.lifecycle.deploy import deploy
    from mlgate.lifecycle.models import train_model

    gov = _gov(workspace)
    train_model(gov)
    with pytest.raises(PolicyViolation, match="cannot deploy: .*not yet 'deployment'"):
        deploy(gov)
    assert _audit_actions(gov)[-1] == "model.deploy.refused"


_APPROVAL_POLICY = """
name: approval-test
version: "1"
roles: [data_scientist, business_owner, risk_officer, admin]
waiver_roles: [risk_officer]
stages:
  - id: initiation
    title: Initiation
    requirements:
      - id: business_case
        kind: document
        document: business_case
        title: Business case
      - id: case_approval
        kind: approval
        role: business_owner
        subject: business_case
        title: Business owner approves the case
  - id: done
    title: Done
"""


def test_nobody_waives_a_check_on_their_own_model(workspace: Path) -> None:
    from mlgate.lifecycle.evidence import run_check
    from mlgate.lifecycle.models import train_model

    gov = _gov(workspace)
    train_model(gov)
    run_check(gov, "cv_accuracy")
    reason = "The model is good enough for the pilot, trust me."
    with pytest.raises(PolicyViolation, match="alice produced what 'cv_accuracy' judges"):
        gov.waive("cv_accuracy", reason, date.today() + timedelta(days=30))
    assert _audit_actions(gov)[-1] == "waiver.grant.refused"


def test_a_waiver_does_not_carry_over_to_a_retrained_model(workspace: Path) -> None:
    from mlgate.lifecycle.models import train_model

    gov = _gov(workspace)
    gov.add_member("rita", "risk_officer")
    train_model(gov)
    _gov(workspace, "rita").waive(
        "cv_accuracy",
        "Accepted for the pilot while more data is collected.",
        date.today() + timedelta(days=30),
    )
    assert _states(gov)["cv_accuracy"] == "waived"

    train_model(gov)

    _, stages = gov.status()
    state = next(r for s in stages for r in s.requirements if r.id == "cv_accuracy")
    assert state.state == "missing"
    assert "the waiver by rita was for model:v1" in state.detail
