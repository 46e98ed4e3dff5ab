"""The retraining trigger: a candidate registered through the gates, cooldown, and failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from mlgate.errors import PolicyViolation
from mlgate.lifecycle.deploy import deploy, deployed_version
from mlgate.lifecycle.models import get_model_version
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.retrain import cooldown_left, maybe_retrain, training_pipeline
from mlgate.pipelines.runs import pipeline_runs
from mlgate.policy import default_policy_path
from mlgate.registry.models import Alert, AuditEvent
from tests.fixtures import Cli, fill, synthetic_frame

BROKEN = '''
"""A training entry that fails."""


def retrain():
    raise ValueError("the fresh training table is empty")
'''


@dataclass
class Changes:
    """The alert changes of one monitor run, as the alert evaluation returns them."""

    opened: list[Alert] = field(default_factory=list)
    continued: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


def _open_alerts(root: Path, *specs: tuple[str, str, str]) -> Changes:
    """Store one open alert per (rule id, subject, action) and return them as just opened."""
    gov = Governance.open(root, "monitor")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with gov.transaction() as session:
        project = gov.project(session)
        alerts = [
            Alert(
                project_id=project.id,
                rule_id=rule_id,
                metric="drift.drifted",
                subject=subject,
                severity="high",
                action=action,
                open=True,
                threshold=0.5,
                first_value=1.0,
                last_value=1.0,
                first_window_start=now,
                last_window_end=now,
                model_version=1,
                message=f"{subject} drifted",
                notified=[],
                opened_at=now,
            )
            for rule_id, subject, action in specs
        ]
        session.add_all(alerts)
    return Changes(opened=alerts)


def _events(root: Path, prefix: str = "retrain.") -> list[AuditEvent]:
    gov = Governance.open(root)
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action.startswith(prefix))
        return list(session.execute(stmt.order_by(AuditEvent.seq)).scalars())


def _declare(root: Path, pipelines: dict[str, Any], retrain: dict[str, Any] | None = None) -> None:
    path = root / "mlgate.yaml"
    config = yaml.safe_load(path.read_text())
    config["pipelines"] = pipelines
    if retrain is not None:
        config.setdefault("monitoring", {})["retrain"] = retrain
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def serving(tmp_path: Path, cli: Cli) -> Path:
    """A low-risk project whose policy wants a validator's approval of each model version.

    Model version 1 was approved by the validator bob and is deployed for batch scoring; the
    project declares one training pipeline (the configured training, testing checks on).
    """
    policy = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    testing = next(s for s in policy["stages"] if s["id"] == "testing")
    for requirement in testing["requirements"]:
        if requirement["id"] == "model_validation":
            requirement["tiers"] = ["low", "medium", "high"]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))

    root = tmp_path / "ws"
    root.mkdir()
    synthetic_frame().to_csv(root / "train.csv", index=False)
    init = ("init", "Churn", "--tier", "low", "--target", "y", "--sensitive", "group")
    init += ("--exclude", "group", "--policy", str(tmp_path / "policy.yaml"))
    init += ("--data", "train.csv", "--estimator", "sklearn.linear_model.LogisticRegression")
    steps = [
        init,
        ("doc", "submit", "docs"),
        ("train",),
        ("member", "add", "bob", "--role", "validator"),
        ("advance", "--to", "testing"),
    ]
    for number, step in enumerate(steps):
        if number == 1:
            fill("business_case", root)
            fill("emergency_contacts", root)
        result = cli(*step, cwd=root)
        assert result.code == 0, result.text
    result = cli("approve", "model_validation", "--comment", "v1 tested", cwd=root, user="bob")
    assert result.code == 0, result.text
    for step in [("advance", "--to", "deployment"), ("deploy", "--mode", "batch")]:
        result = cli(*step, cwd=root)
        assert result.code == 0, result.text

    _declare(root, {"retrain": {"kind": "training", "run_checks": True}})
    return root


def test_retrain_alert_registers_candidate_not_served_until_approved(
    serving: Path, cli: Cli
) -> None:
    changes = _open_alerts(
        serving, ("feature_drift", "x1", "retrain"), ("score_drift", "score", "retrain")
    )
    ids = sorted(a.id for a in changes.opened)
    gov = Governance.open(serving, "monitor")

    outcome = maybe_retrain(gov, changes)

    assert outcome is not None
    assert (outcome.status, outcome.pipeline, outcome.alert_ids) == (
        "succeeded",
        "retrain",
        tuple(ids),
    )
    assert (outcome.model_version, outcome.deployed_version) == (2, 1)
    assert get_model_version(gov).version == 2
    assert get_model_version(gov).created_by == "monitor"
    assert deployed_version(gov, "batch").version == 1

    [run] = pipeline_runs(gov, "retrain")
    assert (run.id, run.trigger, run.status) == (outcome.run_id, "monitor", "succeeded")
    assert run.output == "model version 2; 1 testing check(s) run"
    started, finished = _events(serving)
    assert (started.action, finished.action) == ("retrain.started", "retrain.finished")
    assert started.payload["alerts"] == ids
    assert started.payload["rules"] == ["feature_drift", "score_drift"]
    assert finished.payload["model_version"] == 2
    assert finished.payload["deployed_version"] == 1
    assert finished.payload["run"] == run.id

    # The candidate waits at the gates: its own development evidence and a validator's approval
    # of version 2 (bob's approval of version 1 does not count for it).
    with pytest.raises(PolicyViolation) as refused:
        deploy(Governance.open(serving, "alice"), "batch")
    assert "cv_accuracy" in refused.value.message
    assert "0 of 1 validator approval(s) of model version 2" in refused.value.message
    assert deployed_version(gov, "batch").version == 1

    assert cli("recheck", cwd=serving).code == 0
    result = cli("deploy", "--mode", "batch", cwd=serving)
    assert result.code == 5, result.text
    assert "model_validation" in result.text
    assert deployed_version(gov, "batch").version == 1

    result = cli("approve", "model_validation", "--comment", "v2 tested", cwd=serving, user="bob")
    assert result.code == 0, result.text
    result = cli("deploy", "--mode", "batch", cwd=serving)
    assert result.code == 0, result.text
    assert deployed_version(gov, "batch").version == 2


def test_only_alerts_that_ask_for_retraining_start_it(workspace: Path) -> None:
    _declare(workspace, {"retrain": {"kind": "training"}})
    changes = _open_alerts(workspace, ("missing_values", "x1", "alert"))

    assert maybe_retrain(Governance.open(workspace, "monitor"), changes) is None
    assert maybe_retrain(Governance.open(workspace, "monitor"), Changes()) is None
    assert _events(workspace) == []
    assert pipeline_runs(Governance.open(workspace), "retrain") == []


def test_no_second_retraining_within_the_cooldown(workspace: Path) -> None:
    _declare(workspace, {"retrain": {"kind": "training"}}, {"cooldown": "2d"})
    gov = Governance.open(workspace, "monitor")
    with gov.transaction() as session:
        gov.audit(session, "retrain.started", "pipeline:retrain", {"alerts": [99]})
    changes = _open_alerts(workspace, ("feature_drift", "x2", "retrain"))

    outcome = maybe_retrain(gov, changes)

    assert outcome is not None
    assert outcome.status == "skipped"
    assert "less than 2d ago" in outcome.detail
    assert pipeline_runs(gov, "retrain") == []
    skipped = _events(workspace)[-1]
    assert (skipped.action, skipped.payload["alerts"]) == (
        "retrain.skipped",
        [changes.opened[0].id],
    )
    left = cooldown_left(gov)
    assert left is not None
    assert 47 * 3600 < left.total_seconds() <= 48 * 3600


@pytest.mark.parametrize(
    ("pipelines", "retrain", "expected"),
    [
        ({}, None, "no pipeline of kind 'training' is declared"),
        (
            {"b": {"kind": "training"}, "a": {"kind": "training", "run_checks": True}},
            None,
            "2 training pipelines are declared (a, b); name one in monitoring.retrain.pipeline",
        ),
        (
            {"feed": {"kind": "data", "entry": "pipes:feed", "dataset": "current"}},
            {"pipeline": "feed"},
            "names 'feed', a pipeline of kind 'data'; expected a pipeline of kind 'training'",
        ),
        ({"retrain": {"kind": "training"}}, {"pipeline": "nope"}, "no pipeline named 'nope'"),
    ],
)
def test_no_usable_pipeline_is_recorded_not_raised(
    workspace: Path, pipelines: dict[str, Any], retrain: dict[str, Any] | None, expected: str
) -> None:
    _declare(workspace, pipelines, retrain)
    changes = _open_alerts(workspace, ("feature_drift", "x1", "retrain"))

    outcome = maybe_retrain(Governance.open(workspace, "monitor"), changes)

    assert outcome is not None
    assert outcome.status == "failed"
    assert expected in outcome.detail
    [failed] = _events(workspace)
    assert failed.action == "retrain.failed"
    assert expected in failed.payload["error"]
    assert failed.payload["trigger"] == "monitor"


def test_configured_pipeline_chosen_among_several(workspace: Path) -> None:
    _declare(
        workspace,
        {"a": {"kind": "training"}, "b": {"kind": "training"}},
        {"pipeline": "b"},
    )
    assert training_pipeline(Governance.open(workspace)) == "b"


def test_failing_pipeline_recorded_and_monitor_goes_on(workspace: Path) -> None:
    (workspace / "pipes.py").write_text(BROKEN)
    _declare(workspace, {"retrain": {"kind": "training", "entry": "pipes:retrain"}})
    changes = _open_alerts(workspace, ("performance", "model", "retrain"))
    gov = Governance.open(workspace, "monitor")

    outcome = maybe_retrain(gov, changes)

    assert outcome is not None
    assert outcome.status == "failed"
    assert outcome.detail == "ValueError: the fresh training table is empty"
    assert outcome.model_version is None
    [run] = pipeline_runs(gov, "retrain")
    assert (run.status, run.trigger) == ("failed", "monitor")
    started, failed = _events(workspace)
    assert (started.action, failed.action) == ("retrain.started", "retrain.failed")
    assert failed.payload["run"] == run.id
    assert failed.payload["error"] == "ValueError: the fresh training table is empty"


def test_monitor_run_retrains_once_for_all_its_alerts(tmp_path: Path) -> None:
    from mlgate.monitoring.run import monitor
    from tests.monitoring.production import log_traffic, monitored_project, traffic, until_day

    root = monitored_project(
        tmp_path / "ws", {"rules": {"feature_drift": {"action": "retrain", "min_samples": 100}}}
    )
    _declare(root, {"retrain": {"kind": "training"}})
    gov = Governance.open(root, "alice")
    # x1 and x2 both move by a full standard deviation: two drift alerts in one run
    frame = traffic(days=3, per_day=400, seed=4)
    frame[["x1", "x2"]] += 1.0
    log_traffic(gov, frame)

    summary = monitor(gov, until=until_day(3))

    opened = sorted(a.id for a in summary.opened if a.action == "retrain")
    assert len(opened) == 2
    assert summary.retrain is not None
    assert (summary.retrain.status, summary.retrain.model_version) == ("succeeded", 2)
    assert summary.retrain.alert_ids == tuple(opened)
    [run] = pipeline_runs(gov, "retrain")
    assert run.trigger == "monitor"
    assert [e.action for e in _events(root)] == ["retrain.started", "retrain.finished"]
    assert get_model_version(gov).version == 2
    assert deployed_version(gov, "batch") is None
