"""``mlgate test``: every required check of the policy runs, is stored, and none is skipped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from mlgate.checks import REGISTRY
from mlgate.lifecycle.service import Governance
from mlgate.policy import default_policy_path
from mlgate.registry.models import Evidence
from tests.fixtures import Cli, fill, synthetic_frame


@pytest.fixture(autouse=True)
def _default_log_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGATE_LOG_DIR", raising=False)


def evidence_rows(root: Path) -> list[Evidence]:
    gov = Governance.open(root)
    with gov.transaction() as session:
        return list(session.execute(select(Evidence).order_by(Evidence.id)).scalars())


@pytest.fixture
def custom(tmp_path: Path, cli: Cli) -> Path:
    """A low-risk project whose own policy also asks for hold-out accuracy and the run logs.

    Neither is required of low-risk projects by the default policy: ``mlgate test`` must find
    them in the project's policy with no change to its code. The policy leaves out the
    determinism test, which scores in a second Python process, to keep these tests quick.
    """
    policy = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    testing = next(s for s in policy["stages"] if s["id"] == "testing")
    testing["requirements"] = [r for r in testing["requirements"] if r["id"] != "determinism"]
    for requirement in testing["requirements"]:
        if requirement["id"] in ("holdout_accuracy", "run_logs"):
            requirement["tiers"] = ["low", "medium", "high"]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))

    root = tmp_path / "custom"
    root.mkdir()
    frame = synthetic_frame(n=500, seed=1)
    frame.iloc[:350].to_csv(root / "train.csv", index=False)
    frame.iloc[350:].to_csv(root / "holdout.csv", index=False)
    frame.iloc[350:].drop(columns="y").to_csv(root / "new.csv", index=False)
    result = cli(
        "init",
        "custom",
        "--tier",
        "low",
        "--target",
        "y",
        "--exclude",
        "group",
        "--policy",
        str(tmp_path / "policy.yaml"),
        "--data",
        "train.csv",
        "--estimator",
        "sklearn.linear_model.LogisticRegression",
        cwd=root,
    )
    assert result.code == 0, result.text
    assert cli("train", cwd=root).code == 0
    return root


def test_without_a_model_every_model_check_is_not_run(workspace: Path, cli: Cli) -> None:
    result = cli("test", cwd=workspace)

    assert result.code == 1
    assert result.out.count("the check needs a model version, and none is registered") == 2
    assert result.out.count("next: mlgate train (or mlgate model add FILE)") == 2
    assert "2 check(s): 2 not run; not passed." in result.out
    assert evidence_rows(workspace) == []


def test_stores_one_evidence_row_per_required_check(workspace: Path, cli: Cli) -> None:
    assert cli("train", cwd=workspace).code == 0

    result = cli("test", cwd=workspace)

    assert result.code == 0, result.text
    snapshot = Governance.open(workspace).snapshot_now()
    rows = evidence_rows(workspace)
    assert [(e.requirement_id, e.stage) for e in rows] == [
        ("cv_accuracy", "development"),
        ("determinism", "testing"),
    ]
    assert {e.dataset_version_id for e in rows} == {snapshot.datasets["train"].id}
    assert {e.model_version_id for e in rows} == {snapshot.model.id}
    assert "2 check(s): 2 pass; all passed." in result.out
    assert "`mlgate report`" in result.out


def test_missing_holdout_is_not_run_and_fails_the_command(custom: Path, cli: Cli) -> None:
    result = cli("test", cwd=custom)

    assert result.code == 1
    assert "holdout_accuracy" in result.out
    assert "the check runs on the dataset 'holdout', which is not registered" in result.out
    assert "next: mlgate data add FILE --name holdout" in result.out
    assert "1 not run" in result.out
    stored = [e.requirement_id for e in evidence_rows(custom)]
    assert stored == ["cv_accuracy", "run_logs"]


def test_policy_checks_run_on_their_datasets_after_train_and_predict(
    custom: Path, cli: Cli
) -> None:
    assert cli("data", "add", "holdout.csv", "--name", "holdout", cwd=custom).code == 0
    assert cli("predict", "new.csv", "--version", "1", cwd=custom).code == 0

    result = cli("test", cwd=custom)

    assert result.code == 0, result.text
    snapshot = Governance.open(custom).snapshot_now()
    by_requirement = {e.requirement_id: e for e in evidence_rows(custom)}
    assert set(by_requirement) == {"cv_accuracy", "holdout_accuracy", "run_logs"}
    holdout = by_requirement["holdout_accuracy"]
    assert holdout.dataset_version_id == snapshot.datasets["holdout"].id
    assert by_requirement["cv_accuracy"].dataset_version_id == snapshot.datasets["train"].id
    assert {e.model_version_id for e in by_requirement.values()} == {snapshot.model.id}

    logs = by_requirement["run_logs"]
    assert logs.status == "pass", logs.summary
    metrics = logs.payload["result"]["metrics"]
    assert (metrics["n_training_records"], metrics["n_prediction_records"]) == (1, 1)
    assert (metrics["n_invalid"], metrics["n_personal_values"]) == (0, 0)


def test_personal_value_in_the_log_fails_run_logs_masked(custom: Path, cli: Cli) -> None:
    log = custom / ".mlgate" / "logs" / "training.jsonl"
    log.write_text(log.read_text().replace('"origin":"trained"', '"origin":"bob@corp.example"'))

    result = cli("test", "--only", "run_logs", cwd=custom)

    assert result.code == 1
    assert "1 personal value(s)" in result.out
    (stored,) = evidence_rows(custom)
    findings = stored.payload["result"]["findings"]
    assert any(
        f["subject"] == "training.jsonl:1:origin" and f["value"] == "b***@c***.example"
        for f in findings
    )
    assert "bob@corp.example" not in str(stored.payload)


def test_only_and_stage_choose_a_subset(custom: Path, cli: Cli) -> None:
    assert cli("test", "--only", "run_logs", cwd=custom).code == 0
    assert cli("test", "--stage", "development", cwd=custom).code == 0
    assert cli("test", "--stage", "testing", "--only", "run_logs", cwd=custom).code == 0

    stored = [e.requirement_id for e in evidence_rows(custom)]
    assert stored == ["run_logs", "cv_accuracy", "run_logs"]


def test_bad_options_name_what_is_allowed(workspace: Path, cli: Cli) -> None:
    result = cli("test", "--stage", "nope", cwd=workspace)
    assert result.code == 2
    assert "--stage nope: not a stage of the policy 'mlgate-default'" in result.err

    result = cli("test", "--only", "fairness", cwd=workspace)
    assert result.code == 2
    assert "--only fairness: no check of stage(s) development, testing at tier low" in result.err
    assert "expected one of cv_accuracy, determinism" in result.err

    result = cli("test", "--only", "data_quality", cwd=workspace)
    assert result.code == 2
    assert "next: add --stage kickoff" in result.err

    result = cli("test", "--all", "--stage", "testing", cwd=workspace)
    assert result.code == 2
    assert "give either --stage or --all, not both" in result.err


def test_all_runs_the_stages_up_to_the_current_one(workspace: Path, cli: Cli) -> None:
    assert cli("test", "--all", cwd=workspace).code == 0
    assert evidence_rows(workspace) == []

    assert cli("doc", "submit", str(fill("business_case", workspace)), cwd=workspace).code == 0
    assert cli("advance", "--no-run-checks", cwd=workspace).code == 0
    result = cli("test", "--all", cwd=workspace)

    assert result.code == 0, result.text
    checks = [e for e in evidence_rows(workspace) if e.kind == "check"]
    assert [(e.requirement_id, e.stage) for e in checks] == [("data_quality", "kickoff")]


def test_a_check_that_raises_is_reported_and_the_others_still_run(
    workspace: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("train", cwd=workspace).code == 0

    def broken(inp, thresholds):  # type: ignore[no-untyped-def]
        raise RuntimeError("division by zero in a new check")

    spec = dataclasses.replace(REGISTRY["determinism"], function=broken)
    monkeypatch.setitem(REGISTRY, "determinism", spec)
    result = cli("test", cwd=workspace)

    assert result.code == 1
    assert "the check raised RuntimeError: division by zero in a new check" in result.out
    assert "1 pass, 1 error" in result.out
    assert "Traceback" not in result.text
    assert [e.requirement_id for e in evidence_rows(workspace)] == ["cv_accuracy"]
