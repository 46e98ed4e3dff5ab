"""Mitigation on German credit: group thresholds registered as a new, audited model version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import equalized_odds_difference
from fairlearn.postprocessing import ThresholdOptimizer
from sqlalchemy import select

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.demo.data import load_german_credit, split
from mlgate.errors import ConflictError, ValidationError
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.evidence import run_check
from mlgate.lifecycle.mitigation import MITIGATED, _require_improvement, mitigate
from mlgate.lifecycle.models import get_model_version, load_model_version, train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent
from tests.fixtures import Cli

SENSITIVE = ["sex", "age_group", "foreign_worker"]


@dataclass
class Story:
    """The demo's first model, its mitigated successor, and the fairness evidence of both."""

    root: Path
    holdout: pd.DataFrame
    train: pd.DataFrame
    result: Any
    before: Any
    after: Any


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    root = tmp_path_factory.mktemp("mitigation") / "ws"
    root.mkdir()
    train, holdout, _ = split(load_german_credit())
    train.to_csv(root / "train.csv", index=False)
    holdout.to_csv(root / "holdout.csv", index=False)
    config = WorkspaceConfig(
        project="credit-mitigation",
        tier="low",
        owner="alice",
        data=DataConfig(
            target="good_credit", positive_label=1, sensitive=SENSITIVE, exclude=SENSITIVE
        ),
        training=TrainingConfig(
            estimator="sklearn.linear_model.LogisticRegression",
            params={"C": 0.1, "max_iter": 2000},
            seed=7,
        ),
    )
    init_project(root, config, data_file=root / "train.csv")
    gov = Governance.open(root, actor="alice")
    register_dataset(gov, root / "holdout.csv", "holdout")
    train_model(gov)

    _, before = run_check(gov, "fairness", dataset="holdout")
    result = mitigate(gov, sensitive=["sex"])
    _, after = run_check(gov, "fairness", dataset="holdout")
    return Story(root, holdout, train, result, before, after)


def _gov(story: Story) -> Governance:
    return Governance.open(story.root, actor="alice")


def test_mitigated_version_records_its_parent_and_sensitive_columns(story: Story) -> None:
    gov = _gov(story)
    parent, child = get_model_version(gov, 1), get_model_version(gov, 2)

    assert story.result.version.version == 2
    assert child.estimator == MITIGATED
    assert child.params["mitigated_from"] == (
        "mitigated from version 1 with ThresholdOptimizer(equalized_odds)"
    )
    assert child.params["parent_version"] == 1
    assert child.params["sensitive_columns"] == ["sex"]
    assert child.params["constraint"] == "equalized_odds"
    assert set(child.params["group_thresholds"]) == {"female", "male"}
    assert [c["name"] for c in child.signature] == [
        *[c["name"] for c in parent.signature],
        "sex",
    ]
    assert "status_sex" in [c["name"] for c in parent.signature]
    assert child.trusted_types == sorted({MITIGATED, *parent.trusted_types})
    assert child.classes == [0, 1]
    with gov.transaction() as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "model.registered")
        ).scalars()
        origins = {e.subject: e.payload["origin"] for e in events}
    assert origins["model:v2"] == (
        "mitigated from version 1 with ThresholdOptimizer(equalized_odds) on dataset 'train'"
    )
    assert gov.verify_audit().ok


def test_mitigation_narrows_the_holdout_gap_measured_by_fairlearn(story: Story) -> None:
    gov = _gov(story)
    parent = load_model_version(gov, get_model_version(gov, 1))
    child = load_model_version(gov, get_model_version(gov, 2))
    features = [c["name"] for c in get_model_version(gov, 1).signature]
    holdout = story.holdout

    original = equalized_odds_difference(
        holdout["good_credit"],
        parent.predict(holdout[features]),
        sensitive_features=holdout["sex"],
    )
    mitigated = equalized_odds_difference(
        holdout["good_credit"], child.predict(holdout), sensitive_features=holdout["sex"]
    )

    assert mitigated < original - 0.1
    assert story.before.metrics["sex.equalized_odds_difference"] == pytest.approx(original)
    assert story.after.metrics["sex.equalized_odds_difference"] == pytest.approx(mitigated)
    assert story.before.status == "fail"
    assert "`mlgate mitigate --constraint equalized_odds`" in story.before.findings[-1].message
    fitted = story.result
    assert fitted.after["equalized_odds_difference"] < fitted.before["equalized_odds_difference"]
    assert fitted.groups == {
        "female": int((story.train["sex"] == "female").sum()),
        "male": int((story.train["sex"] == "male").sum()),
    }


def test_stored_thresholds_equal_fairlearn_fitted_on_the_same_data(story: Story) -> None:
    gov = _gov(story)
    parent = load_model_version(gov, get_model_version(gov, 1))
    child = load_model_version(gov, get_model_version(gov, 2))
    features = [c["name"] for c in get_model_version(gov, 1).signature]
    train = story.train

    reference = ThresholdOptimizer(
        estimator=parent, constraints="equalized_odds", prefit=True,
        predict_method="predict_proba",
    ).fit(train[features], train["good_credit"], sensitive_features=train["sex"])  # fmt: skip

    expected = reference._pmf_predict(
        story.holdout[features], sensitive_features=story.holdout["sex"]
    )[:, 1]
    np.testing.assert_allclose(child.predict_proba(story.holdout)[:, 1], expected, atol=1e-12)


def test_refusals_leave_no_new_version(story: Story) -> None:
    gov = _gov(story)

    with pytest.raises(ValidationError, match=r"constraint 'fairness' is not supported; expected"):
        mitigate(gov, constraint="fairness")
    with pytest.raises(
        ValidationError, match=r"per group of foreign_worker: 'no' has \d+ rows \("
    ):
        mitigate(gov, sensitive=["foreign_worker"], version=1)
    with pytest.raises(ConflictError, match=r"model version 2 already has group thresholds"):
        mitigate(gov, sensitive=["sex"])
    with pytest.raises(ValidationError, match=r"dataset 'train' lacks column\(s\) income that"):
        mitigate(gov, sensitive=["income"], version=1)
    assert get_model_version(gov).version == 2


def test_cli_mitigate_registers_and_reports(workspace: Path, cli: Cli) -> None:
    assert cli("train", cwd=workspace).code == 0

    result = cli("mitigate", "--constraint", "true_positive_rate_parity", cwd=workspace)
    refused = cli("mitigate", "--constraint", "nope", cwd=workspace)

    assert result.code == 0, result.text
    assert (
        "Registered model version 2: mitigated from version 1 with "
        "ThresholdOptimizer(true_positive_rate_parity) on dataset 'train', 2 groups of group"
    ) in result.out
    assert "equalized odds difference on 'train':" in result.out
    assert refused.code == 2
    assert "constraint 'nope' is not supported" in refused.err
    assert "Traceback" not in refused.text
    listed = cli("model", "list", cwd=workspace)
    assert "mlgate.fairness_models.GroupThresholdClassifier" in listed.out


@pytest.mark.parametrize(
    ("constraint", "gap"),
    [
        ("equalized_odds", "equalized_odds_difference"),
        ("demographic_parity", "demographic_parity_difference"),
        ("true_positive_rate_parity", "equal_opportunity_difference"),
    ],
)
def test_a_mitigation_that_widens_its_own_gap_is_refused(constraint: str, gap: str) -> None:
    before = {
        "equalized_odds_difference": 0.15,
        "demographic_parity_difference": 0.10,
        "equal_opportunity_difference": 0.12,
        "accuracy": 0.79,
    }
    narrower = {**before, gap: before[gap] - 0.05, "accuracy": 0.74}
    wider = {**before, gap: before[gap] + 0.05, "accuracy": 0.74}

    _require_improvement(constraint, ["age"], "train", before, narrower)
    with pytest.raises(ValidationError, match=rf"widens the {gap.replace('_', ' ')} on dataset"):
        _require_improvement(constraint, ["age"], "train", before, wider)
