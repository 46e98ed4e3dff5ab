"""Edges a first user hits: each gives a clear answer and leaves nothing half-made."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlgate.errors import PolicyViolation
from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli, fill, synthetic_frame


def test_advance_to_an_earlier_stage_is_refused(workspace: Path, cli: Cli) -> None:
    assert cli("doc", "submit", str(fill("business_case", workspace)), cwd=workspace).code == 0
    assert cli("advance", "--no-run-checks", cwd=workspace).code == 0

    result = cli("advance", "--to", "initiation", cwd=workspace)

    assert result.code == 2
    assert "--to initiation is not after the current stage 'kickoff'" in result.err
    assert Governance.open(workspace).status()[0].stage == "kickoff"


def test_init_with_missing_policy_creates_nothing(tmp_path: Path, cli: Cli) -> None:
    result = cli(
        "init", "p", "--target", "y", "--policy", "nothere.yaml", "--path", "new", cwd=tmp_path
    )
    assert result.code == 3
    assert "policy file nothere.yaml does not exist" in result.err
    assert not (tmp_path / "new").exists()


def test_init_with_data_needing_a_grant_creates_nothing(tmp_path: Path, cli: Cli) -> None:
    synthetic_frame().to_csv(tmp_path / "train.csv", index=False)
    result = cli(
        "init",
        "p",
        "--tier",
        "medium",
        "--target",
        "y",
        "--sensitive",
        "group",
        "--data",
        "train.csv",
        "--path",
        "ws",
        cwd=tmp_path,
    )
    assert result.code == 5
    assert "needs a data access grant before data with sensitive columns (group)" in result.err
    assert not (tmp_path / "ws").exists()


def test_init_writes_templates_for_the_tier(tmp_path: Path, cli: Cli) -> None:
    assert (
        cli("init", "p", "--tier", "low", "--target", "y", "--path", "ws", cwd=tmp_path).code == 0
    )
    docs = sorted(p.name for p in (tmp_path / "ws" / "docs").glob("*.yaml"))
    assert docs == ["business_case.yaml", "emergency_contacts.yaml"]


def test_thresholds_may_only_tighten_the_policy(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    original = config.read_text()
    config.write_text(original + "thresholds:\n  data_quality:\n    max_missing_share: 0.9\n")

    result = cli("check", "data_quality", cwd=workspace)
    assert result.code == 5
    assert "max_missing_share = 0.9 would loosen the policy's" in result.err

    config.write_text(original + "thresholds:\n  data_quality:\n    max_missing_share: 0.001\n")
    assert cli("check", "data_quality", cwd=workspace).code == 0
    evidence = Governance.open(workspace).snapshot_now().latest_evidence("data_quality")
    assert evidence.payload["thresholds"]["max_missing_share"] == 0.001

    config.write_text(original + "thresholds:\n  data_quality:\n    max_missing: 0.1\n")
    result = cli("check", "data_quality", cwd=workspace)
    assert result.code == 2
    assert "unknown threshold for check 'data_quality'" in result.err


def test_status_flags_edited_tier_and_unknown_threshold_ids(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(
        config.read_text().replace("tier: low", "tier: high") + "thresholds:\n  nope: {}\n"
    )
    result = cli("status", cwd=workspace)
    assert result.code == 0
    assert "mlgate.yaml says tier high, but the project is governed as low" in result.out
    assert "sets thresholds for 'nope'" in result.out


def test_deploy_needs_an_engineering_role(workspace: Path, cli: Cli) -> None:
    gov = Governance.open(workspace, actor="alice")
    gov.add_member("dave", "data_scientist")
    from mlgate.lifecycle.deploy import deploy

    with pytest.raises(PolicyViolation, match="dave may not deploy models: it needs the role"):
        deploy(Governance.open(workspace, actor="dave"))


def test_adding_the_same_file_again_keeps_the_version(workspace: Path, cli: Cli) -> None:
    before = Governance.open(workspace).snapshot_now().datasets["train"].id
    assert cli("data", "add", "train.csv", cwd=workspace).code == 0
    assert Governance.open(workspace).snapshot_now().datasets["train"].id == before


def test_duplicate_csv_header_is_named(workspace: Path, cli: Cli) -> None:
    (workspace / "dup.csv").write_text("a,a,y\n1,2,0\n3,4,1\n")
    result = cli("data", "add", "dup.csv", "--name", "other", cwd=workspace)
    assert result.code == 2
    assert "duplicate column name(s): a" in result.err


def test_predict_names_the_unsupported_input_not_the_output(workspace: Path, cli: Cli) -> None:
    (workspace / "new.json").write_text("{}")
    result = cli("predict", "new.json", cwd=workspace)
    assert result.code == 2
    assert "new.json: unsupported file type '.json'" in result.err


def test_report_refuses_a_non_html_output(workspace: Path, cli: Cli) -> None:
    result = cli("report", "--output", "x.pdf", cwd=workspace)
    assert result.code == 2
    assert "--output must be an .html file; got 'x.pdf'" in result.err
    assert not (workspace / "x.pdf").exists()


def test_recheck_reruns_stale_model_evidence(workspace: Path, cli: Cli) -> None:
    assert cli("doc", "submit", str(fill("business_case", workspace)), cwd=workspace).code == 0
    assert cli("train", cwd=workspace).code == 0
    assert cli("advance", "--to", "testing", cwd=workspace).code == 0
    assert cli("train", cwd=workspace).code == 0

    _, stages = Governance.open(workspace).status()
    stale = {r.id for s in stages for r in s.requirements if r.state == "missing"}
    assert "cv_accuracy" in stale

    result = cli("recheck", cwd=workspace)
    assert result.code == 0, result.text
    assert "cv_accuracy" in result.out
    _, stages = Governance.open(workspace).status()
    states = {r.id: r.state for s in stages for r in s.requirements}
    assert states["cv_accuracy"] != "missing"


def test_adding_the_same_file_says_it_is_unchanged(workspace: Path, cli: Cli) -> None:
    result = cli("data", "add", "train.csv", cwd=workspace)
    assert result.code == 0
    assert "is unchanged since version" in result.out


def test_a_setting_without_a_stricter_side_cannot_be_changed(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(config.read_text() + "thresholds:\n  cv_accuracy:\n    folds: 10\n")
    assert cli("train", cwd=workspace).code == 0

    result = cli("check", "cv_accuracy", cwd=workspace)

    assert result.code == 5
    assert "'folds' is a setting of the check, not a limit with a stricter side" in result.err
    from sqlalchemy import select

    from mlgate.registry.models import AuditEvent

    gov = Governance.open(workspace)
    with gov.transaction() as session:
        actions = list(session.execute(select(AuditEvent.action)).scalars())
    assert actions[-1] == "check.run.refused"


def test_voluntary_check_thresholds_are_not_called_ignored(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(config.read_text() + "thresholds:\n  labels:\n    min_minority_share: 0.6\n")
    status = cli("status", cwd=workspace)
    assert "they are ignored" not in status.out

    cli("check", "labels", cwd=workspace)
    evidence = Governance.open(workspace).snapshot_now().evidence[-1]
    assert evidence.payload["thresholds"]["min_minority_share"] == 0.6


def test_role_hint_names_the_specific_role(workspace: Path, cli: Cli) -> None:
    result = cli("--as", "bob", "deploy", cwd=workspace)
    assert result.code == 5
    assert "mlgate member add bob --role ml_engineer" in result.err


def test_document_hint_does_not_send_users_to_an_existing_template(
    workspace: Path, cli: Cli
) -> None:
    result = cli("status", cwd=workspace)
    assert "fill in docs/business_case.yaml (mlgate doc new business_case writes it" in (
        result.out.replace("\n", " ").replace("  ", " ")
    )


def test_non_finite_threshold_is_refused(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(
        config.read_text() + "thresholds:\n  data_quality:\n    max_missing_share: .nan\n"
    )
    result = cli("check", "data_quality", cwd=workspace)
    assert result.code == 2
    assert "expected a finite number; got nan" in result.err


def test_policy_with_a_nan_limit_is_refused(tmp_path: Path, cli: Cli) -> None:
    from mlgate.policy import default_policy_path

    text = (
        default_policy_path()
        .read_text()
        .replace("max_missing_share: 0.05", "max_missing_share: .nan", 1)
    )
    (tmp_path / "p.yaml").write_text(text)
    result = cli("policy", "validate", "p.yaml", cwd=tmp_path)
    assert result.code == 2
    assert "thresholds must be finite numbers" in result.err


def test_dropping_a_sensitive_name_from_the_config_changes_nothing(
    workspace: Path, cli: Cli
) -> None:
    import yaml

    config = workspace / "mlgate.yaml"
    content = yaml.safe_load(config.read_text())
    content["data"]["sensitive"] = []
    config.write_text(yaml.safe_dump(content))
    gov = Governance.open(workspace)
    assert gov.config.data.sensitive == []
    assert gov.sensitive == ["group"]
    from mlgate.lifecycle.evidence import run_check

    _, result = run_check(gov, "group_sizes")  # still checked as a sensitive attribute
    assert result.metrics["group.n_groups"] == 2
    assert "no longer declares group sensitive" in cli("status", cwd=workspace).out


def test_checks_on_an_added_model_measure_that_model(workspace: Path, cli: Cli) -> None:
    import joblib
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.read_csv(workspace / "train.csv")
    tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(frame[["x1", "x2"]], frame["y"])
    joblib.dump(tree, workspace / "tree.joblib")
    assert cli("model", "add", "tree.joblib", "--allow-pickle", cwd=workspace).code == 0

    cli("check", "cv_accuracy", cwd=workspace)

    evidence = Governance.open(workspace).snapshot_now().latest_evidence("cv_accuracy")
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    expected = cross_val_score(tree, frame[["x1", "x2"]], frame["y"], cv=folds, scoring="roc_auc")
    metrics = evidence.payload["result"]["metrics"]
    assert metrics["validation_roc_auc_mean"] == pytest.approx(expected.mean())


def test_positive_label_missing_from_the_target_is_named(tmp_path: Path, cli: Cli) -> None:
    frame = synthetic_frame()
    frame["y"] = frame["y"].map({0: "no", 1: "yes"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert (
        cli("init", "p", "--tier", "low", "--target", "y", "--data", "t.csv", cwd=tmp_path).code
        == 0
    )

    result = cli("train", cwd=tmp_path)

    assert result.code == 2
    assert "positive_label 1 is not a value of the target 'y'; found no, yes" in result.err


def _deploy_low(workspace: Path, cli: Cli) -> None:
    fill("business_case", workspace)
    fill("emergency_contacts", workspace)
    for step in [
        ("doc", "submit", "docs"),
        ("train",),
        ("advance", "--to", "deployment"),
        ("deploy",),
    ]:
        assert cli(*step, cwd=workspace).code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("predict", "nothere.csv"), 3, "data file nothere.csv does not exist"),
        (("predict", "train.csv", "--output", "nodir/x.csv"), 3, "the folder of --output"),
        (("predict", "train.csv", "--output", "train.csv"), 2, "is the input file"),
    ],
)
def test_predict_refuses_bad_paths(
    workspace: Path, cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    _deploy_low(workspace, cli)
    before = (workspace / "train.csv").read_bytes()
    result = cli(*args, cwd=workspace)
    assert result.code == code, result.text
    assert message in result.err
    assert (workspace / "train.csv").read_bytes() == before


def test_predict_refuses_infinities_and_renames_taken_output_columns(
    workspace: Path, cli: Cli
) -> None:
    _deploy_low(workspace, cli)
    frame = synthetic_frame(20, seed=2)
    frame.loc[3, "x1"] = float("inf")
    frame.to_csv(workspace / "inf.csv", index=False)
    result = cli("predict", "inf.csv", cwd=workspace)
    assert result.code == 2
    assert "column x1 has 1 infinite value(s)" in result.err

    synthetic_frame(20).assign(prediction=1).to_csv(workspace / "taken.csv", index=False)
    result = cli("predict", "taken.csv", cwd=workspace)
    assert result.code == 0, result.text
    assert "already has column(s) named prediction or score" in result.err
    scored = pd.read_csv(workspace / "taken.scored.csv")
    assert (scored["prediction"] == 1).all()  # the input column is kept, not overwritten
    assert {"mlgate_prediction", "mlgate_score"} <= set(scored.columns)


def test_a_missing_store_is_named_not_blamed_on_a_server(workspace: Path, cli: Cli) -> None:
    import shutil

    shutil.rmtree(workspace / ".mlgate")
    result = cli("status", cwd=workspace)
    assert result.code == 3
    assert "store" in result.err
    assert "mlgate.db is missing" in result.err
    assert not (workspace / ".mlgate").exists()


def test_init_refuses_empty_names_and_a_file_as_folder(tmp_path: Path, cli: Cli) -> None:
    assert "project" in cli("init", "", "--target", "y", cwd=tmp_path).err
    (tmp_path / "afile").write_text("x")
    result = cli("init", "p", "--target", "y", "--path", "afile", cwd=tmp_path)
    assert result.code == 2
    assert "afile is a file; a workspace needs a folder" in result.err


def test_a_module_is_not_an_estimator(workspace: Path, cli: Cli) -> None:
    config = workspace / "mlgate.yaml"
    config.write_text(
        config.read_text().replace("sklearn.linear_model.LogisticRegression", "os.path")
    )
    result = cli("train", cwd=workspace)
    assert result.code == 2
    assert "training.estimator 'os.path' is not a class" in result.err


def test_a_broken_skops_file_is_named(workspace: Path, cli: Cli) -> None:
    (workspace / "junk.skops").write_bytes(b"not a zip")
    result = cli("model", "add", "junk.skops", cwd=workspace)
    assert result.code == 2
    assert "junk.skops is not a readable skops file" in result.err


def test_dates_as_features_are_refused_with_the_fix(tmp_path: Path, cli: Cli) -> None:
    frame = synthetic_frame(60).assign(when=pd.Timestamp("2026-01-01"))
    frame.to_parquet(tmp_path / "t.parquet")
    assert (
        cli(
            "init", "p", "--tier", "low", "--target", "y", "--data", "t.parquet", cwd=tmp_path
        ).code
        == 0
    )
    result = cli("train", cwd=tmp_path)
    assert result.code == 2
    assert "column(s) when hold dates or nested values" in result.err
    assert "data.exclude" in result.err


def test_scoring_an_undeployed_version_is_marked(workspace: Path, cli: Cli) -> None:
    _deploy_low(workspace, cli)
    assert cli("train", cwd=workspace).code == 0
    result = cli("predict", "train.csv", "--version", "2", "--output", "v2.csv", cwd=workspace)
    assert result.code == 0
    assert "version 2 is not the deployed one" in result.err
    from sqlalchemy import select

    from mlgate.registry.models import AuditEvent

    gov = Governance.open(workspace)
    with gov.transaction() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "batch.scored")
        ).scalar_one()
    assert event.payload["deployed"] is False


def test_documents_refuse_infinite_numbers(workspace: Path, cli: Cli) -> None:
    path = fill("business_case", workspace)
    text = path.read_text()
    import re

    text = re.sub(r"quantity: [0-9.]+", "quantity: .inf", text, count=1)
    path.write_text(text)
    result = cli("doc", "submit", str(path), cwd=workspace)
    assert result.code == 2
    assert "quantity" in result.err
    assert "finite" in result.err


def test_medium_init_writes_no_template_others_must_file(tmp_path: Path, cli: Cli) -> None:
    assert (
        cli("init", "p", "--tier", "medium", "--target", "y", "--path", "ws", cwd=tmp_path).code
        == 0
    )
    docs = {p.name for p in (tmp_path / "ws" / "docs").glob("*.yaml")}
    assert "data_access_grant.yaml" not in docs
    assert "user_acceptance.yaml" not in docs
    assert {"business_case.yaml", "risk_assessment.yaml", "emergency_contacts.yaml"} <= docs
