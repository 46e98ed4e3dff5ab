"""Tests for the challenger check: the current version against the deployed champion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from mlgate.checks import challenger as ch
from mlgate.checks.base import CheckInput
from mlgate.checks.business import bootstrap_weights, score_rows
from mlgate.demo.data import load_german_credit
from mlgate.errors import ValidationError
from tests.fixtures import Cli, fill, synthetic_frame

RICH = ["duration", "credit_amount", "installment_rate", "age", "number_of_existing_credits"]
POOR = ["number_of_people_liable_for", "present_residence_since"]


@pytest.fixture(scope="module")
def german() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_german_credit()
    return frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)


def fitted(train: pd.DataFrame, features: list[str], factory=None):
    model = factory() if factory else make_pipeline(StandardScaler(), LogisticRegression())
    return model.fit(train[features], train["good_credit"])


def svc() -> LinearSVC:
    return make_pipeline(StandardScaler(), LinearSVC(random_state=0))


def compare(german, challenger_features, champion_features, factory=None, **limits):
    train, holdout = german
    champion = ch.Champion(
        fitted(train, champion_features, factory),
        version=1,
        features=champion_features,
        challenger_version=2,
    )
    inp = CheckInput(
        train,
        "good_credit",
        challenger_features,
        model=fitted(train, challenger_features, factory),
        holdout=holdout,
        champion=champion,
    )
    return ch.check_challenger(inp, limits)


def auc_of(german, features) -> float:
    train, holdout = german
    model = fitted(train, features)
    return roc_auc_score(holdout["good_credit"], model.predict_proba(holdout[features])[:, 1])


@pytest.mark.parametrize(
    ("champion_only", "challenger_only"),
    [(0, 0), (5, 5), (3, 12), (12, 3), (0, 9), (40, 70), (1000, 1100), (30000, 30500)],
)
def test_mcnemar_exact_equals_scipy_binomtest(champion_only, challenger_only):
    n = champion_only + challenger_only
    expected = binomtest(challenger_only, n, 0.5).pvalue if n else 1.0
    assert ch.mcnemar_exact(champion_only, challenger_only) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_refuses_negative_counts():
    with pytest.raises(ValidationError, match=r"discordant counts must be >= 0; got -1 and 2"):
        ch.mcnemar_exact(-1, 2)


def test_no_champion_passes_with_an_info_finding(german):
    train, holdout = german
    inp = CheckInput(train, "good_credit", RICH, model=fitted(train, RICH), holdout=holdout)

    result = ch.check_challenger(inp, {})

    assert result.status == "pass"
    assert result.summary == "no champion: nothing to compare"
    assert [(f.severity, f.message) for f in result.findings] == [("info", ch.NO_CHAMPION)]


def test_current_version_that_is_the_champion_has_nothing_to_compare(german):
    train, holdout = german
    model = fitted(train, RICH)
    champion = ch.Champion(model, version=3, features=RICH, challenger_version=3)
    inp = CheckInput(train, "good_credit", RICH, model=model, holdout=holdout, champion=champion)

    result = ch.check_challenger(inp, {})

    assert result.status == "pass"
    assert "version 3 is itself the deployed champion" in result.summary


def test_better_challenger_passes_with_sklearn_numbers(german):
    result = compare(german, RICH + POOR, POOR)

    champion_auc, challenger_auc = auc_of(german, POOR), auc_of(german, RICH + POOR)
    m = result.metrics
    assert m["metric"] == "roc_auc"
    assert m["champion_value"] == pytest.approx(champion_auc, abs=1e-12)
    assert m["challenger_value"] == pytest.approx(challenger_auc, abs=1e-12)
    assert m["absolute_improvement"] == pytest.approx(challenger_auc - champion_auc, abs=1e-12)
    assert m["relative_improvement"] == pytest.approx(
        (challenger_auc - champion_auc) / champion_auc
    )
    assert 0 < m["ci_low"] < m["absolute_improvement"] < m["ci_high"]
    assert (m["champion_version"], m["challenger_version"], m["n_rows"]) == (1, 2, 300)
    assert result.status == "pass"
    assert result.summary.startswith("challenger v2 beats champion v1: roc_auc")


def test_worse_challenger_fails_naming_the_shortfall(german):
    result = compare(german, POOR, RICH + POOR)

    assert result.metrics["absolute_improvement"] < 0
    assert result.status == "fail"
    messages = [f.message for f in result.findings]
    assert any("below the minimum 0.005" in m for m in messages)
    assert any("relative to the champion, below the minimum 1.00%" in m for m in messages)
    assert any("interval of the improvement" in m and "reaches 0" in m for m in messages)
    assert result.summary.startswith("challenger v2 does not beat champion v1")


def test_improvement_below_the_policy_minimum_fails(german):
    passed = compare(german, RICH + POOR, POOR)
    gain = passed.metrics["absolute_improvement"]

    result = compare(german, RICH + POOR, POOR, min_absolute_improvement=gain + 0.01)

    assert result.status == "fail"
    assert result.findings[0].subject == "absolute_improvement"


def test_paired_interval_equals_percentiles_of_sklearn_differences(german):
    train, holdout = german
    y = holdout["good_credit"]
    new, old = fitted(train, RICH + POOR), fitted(train, POOR)
    new_rows = score_rows(new, holdout[RICH + POOR], y, 1)
    old_rows = score_rows(old, holdout[POOR], y, 1)
    new_score = new.predict_proba(holdout[RICH + POOR])[:, 1]
    old_score = old.predict_proba(holdout[POOR])[:, 1]

    limits = {"bootstrap_samples": 150, "confidence": 0.9}
    interval = ch.paired_interval(new_rows, old_rows, "roc_auc", limits, seed=4)
    differences = []
    for block in bootstrap_weights(len(y), 150, seed=4):
        for counts in block:
            picked = np.repeat(np.arange(len(y)), counts.astype(int))
            ys = y.iloc[picked]
            differences.append(
                roc_auc_score(ys, new_score[picked]) - roc_auc_score(ys, old_score[picked])
            )
    expected = np.quantile(differences, [0.05, 0.95])
    assert (interval.low, interval.high) == pytest.approx(tuple(expected), abs=1e-12)


def test_models_without_probabilities_compare_accuracy_with_mcnemar(german):
    train, holdout = german
    result = compare(german, RICH + POOR, POOR, factory=svc)

    new, old = fitted(train, RICH + POOR, svc), fitted(train, POOR, svc)
    y = holdout["good_credit"].to_numpy()
    new_predicted = new.predict(holdout[RICH + POOR])
    new_right = new_predicted == y
    old_right = old.predict(holdout[POOR]) == y
    b, c = int((old_right & ~new_right).sum()), int((new_right & ~old_right).sum())

    m = result.metrics
    assert m["metric"] == "accuracy"
    assert m["test"] == "McNemar exact"
    assert m["challenger_value"] == pytest.approx(accuracy_score(y, new_predicted))
    assert (m["champion_only_correct"], m["challenger_only_correct"]) == (b, c)
    assert m["p_value"] == pytest.approx(binomtest(c, b + c, 0.5).pvalue, rel=1e-9)


def test_champion_columns_missing_from_the_holdout_raise(german):
    train, holdout = german
    champion = ch.Champion(fitted(train, POOR), version=1, features=["no_such_column"])
    inp = CheckInput(
        train, "good_credit", RICH, model=fitted(train, RICH), holdout=holdout, champion=champion
    )
    with pytest.raises(ValidationError, match=r"lack the champion's feature column\(s\) no_such"):
        ch.check_challenger(inp, {})


# --- through the service ---------------------------------------------------------------------


def _train_with(workspace: Path, cli: Cli, exclude: list[str]) -> None:
    from mlgate.config import Workspace

    ws = Workspace(workspace)
    config = ws.load_config()
    config.data.exclude = exclude
    ws.save_config(config)
    result = cli("train", cwd=workspace)
    assert result.code == 0, result.text


def test_challenger_against_the_deployed_version_through_the_service(workspace: Path, cli: Cli):
    from mlgate.lifecycle.evidence import run_check
    from mlgate.lifecycle.models import get_model_version, load_model_version
    from mlgate.lifecycle.service import Governance

    fill("business_case", workspace)
    fill("emergency_contacts", workspace)
    assert cli("doc", "submit", "docs", cwd=workspace).code == 0
    _train_with(workspace, cli, ["group", "x2"])
    for step in (("advance", "--to", "deployment"), ("deploy",)):
        result = cli(*step, cwd=workspace)
        assert result.code == 0, f"{step}: {result.text}"
    synthetic_frame(300, seed=1).to_csv(workspace / "holdout.csv", index=False)
    assert cli("data", "add", "holdout.csv", "--name", "holdout", cwd=workspace).code == 0

    _, alone = run_check(Governance.open(workspace), "challenger", dataset="holdout")
    assert alone.status == "pass"
    assert "version 1 is itself the deployed champion" in alone.summary

    _train_with(workspace, cli, ["group"])
    evidence, better = run_check(Governance.open(workspace), "challenger", dataset="holdout")
    _train_with(workspace, cli, ["group", "x1"])
    _, worse = run_check(Governance.open(workspace), "challenger", dataset="holdout")

    gov = Governance.open(workspace)
    holdout = pd.read_csv(workspace / "holdout.csv")
    aucs = {}
    for number in (1, 2, 3):
        version = get_model_version(gov, number)
        columns = [c["name"] for c in version.signature]
        proba = load_model_version(gov, version).predict_proba(holdout[columns])[:, 1]
        aucs[number] = roc_auc_score(holdout["y"], proba)

    assert (better.metrics["champion_version"], better.metrics["challenger_version"]) == (1, 2)
    assert better.metrics["champion_value"] == pytest.approx(aucs[1], abs=1e-12)
    assert better.metrics["challenger_value"] == pytest.approx(aucs[2], abs=1e-12)
    assert better.status == "pass"
    assert evidence.model_version_id == get_model_version(gov, 2).id
    assert worse.metrics["challenger_version"] == 3
    assert worse.metrics["absolute_improvement"] == pytest.approx(aucs[3] - aucs[1], abs=1e-12)
    assert worse.status == "fail"
