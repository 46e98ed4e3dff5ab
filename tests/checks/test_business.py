"""Tests for business_accuracy: success metrics of the business case judged on the hold-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks import business as bz
from mlgate.checks.base import CheckInput
from mlgate.demo.data import load_german_credit
from mlgate.errors import ValidationError
from tests.fixtures import Cli, fill, synthetic_frame

NUMERIC = ["duration", "credit_amount", "installment_rate", "age"]
CATEGORICAL = ["status", "credit_history", "savings"]


@pytest.fixture(scope="module")
def german() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """German credit split 700/300 and a fitted logistic regression on seven columns."""
    frame = load_german_credit()
    train, holdout = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), NUMERIC), (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(train[NUMERIC + CATEGORICAL], train["good_credit"])
    return train, holdout, model


def case(*metrics: dict) -> dict[str, dict]:
    return {"business_case": {"success_metrics": list(metrics)}}


def criterion(name: str, baseline: float, target: float, **extra: object) -> dict:
    direction = "higher" if target > baseline else "lower"
    return {
        "name": name,
        "unit": "score",
        "direction": direction,
        "baseline": baseline,
        "target": target,
        **extra,
    }


def run(german, documents, **thresholds) -> bz.CheckResult:
    train, holdout, model = german
    inp = CheckInput(
        train,
        "good_credit",
        NUMERIC + CATEGORICAL,
        model=model,
        holdout=holdout,
        documents=documents,
    )
    return bz.check_business_accuracy(inp, thresholds)


def sklearn_auc(german) -> float:
    _, holdout, model = german
    return roc_auc_score(
        holdout["good_credit"], model.predict_proba(holdout[NUMERIC + CATEGORICAL])[:, 1]
    )


# --- mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("AUC", "roc_auc"),
        ("ROC AUC", "roc_auc"),
        ("roc_auc", "roc_auc"),
        ("ROC-AUC on held-out applications", "roc_auc"),
        ("Area under the ROC curve", "roc_auc"),
        ("F1 score", "f1"),
        ("F-measure", "f1"),
        ("recall of defaults", "recall"),
        ("Sensitivity for fraud cases", "recall"),
        ("Precision", "precision"),
        ("Test accuracy", "accuracy"),
        ("Balanced accuracy", "balanced_accuracy"),
        ("PR AUC", "average_precision"),
        ("Log-loss", "log_loss"),
        ("Brier score", "brier"),
        ("Loss in EUR", None),
        ("Share of applications decided without manual review", None),
        ("Precision at the top decile", None),
        ("Gini", None),
    ],
)
def test_metric_for_maps_common_spellings(name, metric):
    assert bz.metric_for(name) == metric


# --- values and intervals against scikit-learn and SciPy --------------------------------------


def test_point_values_equal_sklearn_on_german_credit(german):
    _, holdout, model = german
    x, y = holdout[NUMERIC + CATEGORICAL], holdout["good_credit"]
    rows = bz.score_rows(model, x, y, 1)
    predicted, score = model.predict(x), model.predict_proba(x)[:, 1]
    expected = {
        "accuracy": accuracy_score(y, predicted),
        "balanced_accuracy": balanced_accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
        "roc_auc": roc_auc_score(y, score),
        "average_precision": average_precision_score(y, score),
        "log_loss": log_loss(y, model.predict_proba(x)),
        "brier": brier_score_loss(y, score),
    }
    for metric, value in expected.items():
        assert bz.point_value(rows, metric) == (pytest.approx(value, abs=1e-12), None), metric


def test_positive_label_zero_scores_the_bad_risks(german):
    _, holdout, model = german
    x, y = holdout[NUMERIC + CATEGORICAL], holdout["good_credit"]
    rows = bz.score_rows(model, x, y, 0)

    assert bz.point_value(rows, "recall")[0] == pytest.approx(
        recall_score(y, model.predict(x), pos_label=0)
    )
    assert bz.point_value(rows, "roc_auc")[0] == pytest.approx(
        roc_auc_score(y == 0, model.predict_proba(x)[:, 0])
    )


def test_replicates_equal_sklearn_on_the_resampled_rows(german):
    _, holdout, model = german
    x, y = holdout[NUMERIC + CATEGORICAL], holdout["good_credit"]
    rows = bz.score_rows(model, x, y, 1)
    weights = next(bz.bootstrap_weights(rows.n_rows, 3, seed=5))

    for counts, values in zip(weights, _all_replicates(rows, weights), strict=True):
        picked = np.repeat(np.arange(len(y)), counts.astype(int))
        expected = _sklearn_all(model, x.iloc[picked], y.iloc[picked])
        assert values == pytest.approx(expected, abs=1e-12)


def test_multiclass_replicates_equal_sklearn_macro_averages():
    features, labels = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=2
    )
    x = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    y = pd.Series(np.array(["low", "mid", "high"])[labels])
    model = LogisticRegression(max_iter=500).fit(x.iloc[:120], y.iloc[:120])
    rows = bz.score_rows(model, x.iloc[120:], y.iloc[120:], "high")
    weights = next(bz.bootstrap_weights(rows.n_rows, 2, seed=1))

    for counts in weights:
        picked = 120 + np.repeat(np.arange(120), counts.astype(int))
        xs, ys = x.iloc[picked], y.iloc[picked]
        predicted, proba = model.predict(xs), model.predict_proba(xs)
        expected = {
            "accuracy": accuracy_score(ys, predicted),
            "balanced_accuracy": balanced_accuracy_score(ys, predicted),
            "precision": precision_score(ys, predicted, average="macro", zero_division=np.nan),
            "recall": recall_score(ys, predicted, average="macro", zero_division=np.nan),
            "f1": f1_score(ys, predicted, average="macro", zero_division=np.nan),
            "roc_auc": roc_auc_score(ys, proba, multi_class="ovr", labels=model.classes_),
            "log_loss": log_loss(ys, proba, labels=model.classes_),
        }
        for metric, value in expected.items():
            got = bz.replicate_values(rows, metric, counts[None, :])[0]
            assert got == pytest.approx(value, abs=1e-12), metric
    assert bz.point_value(rows, "brier") == (
        None,
        "Brier score is computed here for a binary target only",
    )


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (7, 10), (213, 300), (300, 300)])
def test_wilson_interval_equals_scipy(successes, trials):
    expected = binomtest(successes, trials).proportion_ci(0.95, method="wilson")
    low, high = bz.wilson_interval(successes, trials, 0.95)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_bootstrap_interval_equals_percentiles_of_sklearn_replicates(german):
    _, holdout, model = german
    x, y = holdout[NUMERIC + CATEGORICAL], holdout["good_credit"]
    rows = bz.score_rows(model, x, y, 1)
    score = model.predict_proba(x)[:, 1]

    interval = bz.metric_interval(rows, "roc_auc", 0.9, samples=200, seed=3)
    aucs = []
    for block in bz.bootstrap_weights(rows.n_rows, 200, seed=3):
        for counts in block:
            picked = np.repeat(np.arange(len(y)), counts.astype(int))
            aucs.append(roc_auc_score(y.iloc[picked], score[picked]))
    expected = np.quantile(aucs, [0.05, 0.95])

    assert (interval.low, interval.high) == pytest.approx(tuple(expected), abs=1e-12)
    assert interval.method == "bootstrap"
    assert interval.replicates == 200


def _all_replicates(rows, weights) -> np.ndarray:
    return np.column_stack([bz.replicate_values(rows, m, weights) for m in bz.METRICS])


def _sklearn_all(model, x, y) -> list[float]:
    predicted, proba = model.predict(x), model.predict_proba(x)
    score = proba[:, 1]
    values = {
        "accuracy": accuracy_score(y, predicted),
        "balanced_accuracy": balanced_accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
        "roc_auc": roc_auc_score(y, score),
        "average_precision": average_precision_score(y, score),
        "log_loss": log_loss(y, proba),
        "brier": brier_score_loss(y, score),
    }
    return [values[m] for m in bz.METRICS]


# --- judging ---------------------------------------------------------------------------------


def test_auc_meeting_target_passes_with_sklearn_value_and_wilson_for_accuracy(german):
    auc = sklearn_auc(german)
    result = run(german, case(criterion("ROC AUC", 0.55, round(auc - 0.02, 3))))

    assert result.status == "pass"
    assert result.metrics["roc_auc"] == pytest.approx(auc, abs=1e-12)
    assert result.metrics["roc_auc_ci_low"] < auc < result.metrics["roc_auc_ci_high"]
    assert result.tables["success_metrics"][0]["verdict"] == "meets target"
    assert result.metrics["n_met"] == 1
    assert result.metrics["n_rows"] == 300
    assert [s.name for s in result.figures[0].series][:3] == ["baseline", "target", "achieved"]


def test_between_baseline_and_target_fails_by_default_and_warns_when_policy_says(german):
    auc = sklearn_auc(german)
    documents = case(criterion("AUC", 0.5, round(auc + 0.05, 3)))

    failed = run(german, documents)
    warned = run(german, documents, fail_below_target=0)

    assert failed.status == "fail"
    assert warned.status == "warn"
    row = failed.tables["success_metrics"][0]
    assert row["verdict"] == "beats baseline, misses target"
    assert "beats the baseline but misses the target" in failed.findings[0].message


def test_not_better_than_baseline_fails_even_when_below_target_is_only_a_warning(german):
    auc = sklearn_auc(german)
    result = run(german, case(criterion("AUC", round(auc + 0.01, 3), 0.95)), fail_below_target=0)

    assert result.status == "fail"
    assert result.tables["success_metrics"][0]["verdict"] == "not better than baseline"


def test_interval_reaching_the_baseline_warns(german):
    auc = sklearn_auc(german)
    result = run(german, case(criterion("AUC", round(auc - 0.01, 3), round(auc - 0.005, 4))))

    assert result.tables["success_metrics"][0]["verdict"] == "meets target"
    assert result.status == "warn"
    assert "the improvement is not certain" in result.findings[-1].message


def test_direction_lower_is_honoured_for_log_loss(german):
    _, holdout, model = german
    loss = log_loss(holdout["good_credit"], model.predict_proba(holdout[NUMERIC + CATEGORICAL]))

    met = run(german, case(criterion("log loss", 0.9, round(loss + 0.05, 3))))
    missed = run(german, case(criterion("log loss", 0.9, round(loss - 0.1, 3))))

    assert met.metrics["log_loss"] == pytest.approx(loss, abs=1e-12)
    assert met.tables["success_metrics"][0]["direction"] == "lower"
    assert met.status == "pass"
    assert missed.tables["success_metrics"][0]["verdict"] == "beats baseline, misses target"
    assert missed.status == "fail"


def test_percent_unit_is_read_as_a_share(german):
    _, holdout, model = german
    accuracy = accuracy_score(
        holdout["good_credit"], model.predict(holdout[NUMERIC + CATEGORICAL])
    )
    result = run(german, case(criterion("Accuracy", 50, 60, unit="%")))

    row = result.tables["success_metrics"][0]
    assert (row["baseline"], row["target"]) == (0.5, 0.6)
    assert row["achieved"] == pytest.approx(accuracy)
    assert row["interval"] == "wilson"
    assert result.status == "pass"


def test_fraction_metric_written_in_percent_without_unit_fails_naming_the_fix(german):
    result = run(german, case(criterion("Accuracy", 50, 60)))

    assert result.status == "fail"
    assert "must lie between 0 and 1 for accuracy" in result.findings[0].message
    assert result.tables["success_metrics"][0]["verdict"] == bz.NOT_JUDGED


def test_business_kpi_is_reported_as_measured_in_monitoring(german):
    documents = case(
        criterion("ROC AUC", 0.5, 0.6), criterion("Default losses in EUR", 900_000, 650_000)
    )
    result = run(german, documents)

    kpi = result.tables["success_metrics"][1]
    assert kpi["verdict"] == "not a model metric: measured in monitoring"
    info = [f for f in result.findings if f.subject == "Default losses in EUR"]
    assert [(f.severity, f.message) for f in info] == [("info", bz.NOT_A_MODEL_METRIC)]
    assert result.metrics["n_business_kpis"] == 1
    assert "1 business KPI(s) measured in monitoring" in result.summary


def test_no_model_metric_fails_naming_the_metrics_understood(german):
    result = run(german, case(criterion("Loss in EUR", 100, 50)))

    assert result.status == "fail"
    assert "no success metric of the business case is a model metric ('Loss in EUR')" in (
        result.findings[0].message
    )
    assert "accuracy, balanced_accuracy, precision, recall, f1, roc_auc" in (
        result.findings[0].message
    )


def test_missing_business_case_raises(german):
    with pytest.raises(ValidationError, match=r"needs the project's business case, whose"):
        run(german, None)


def test_invalid_success_metric_raises_naming_it(german):
    bad = {"name": "AUC", "unit": "AUC", "direction": "higher", "baseline": 0.7, "target": 0.6}
    with pytest.raises(ValidationError, match=r"success_metrics\[0\] is invalid: target"):
        run(german, case(bad))


def test_result_is_json_ready(german):
    import json

    result = run(german, case(criterion("F1 score", 0.5, 0.6), criterion("Loss", 5, 3)))
    assert json.loads(json.dumps(result.to_dict()))["check"] == "business_accuracy"


# --- through the service ---------------------------------------------------------------------


def test_business_accuracy_through_the_service_follows_the_target(workspace: Path, cli: Cli):
    from mlgate.lifecycle.evidence import run_check
    from mlgate.lifecycle.models import get_model_version, load_model_version
    from mlgate.lifecycle.service import Governance

    synthetic_frame(300, seed=1).to_csv(workspace / "holdout.csv", index=False)
    auc_case = [
        {"name": "roc_auc", "unit": "AUC", "direction": "higher", "baseline": 0.6, "target": 0.7},
        {"name": "Loss in EUR", "unit": "EUR", "direction": "lower", "baseline": 9, "target": 5},
    ]
    submitted = fill("business_case", workspace, success_metrics=auc_case)
    assert cli("doc", "submit", str(submitted), cwd=workspace).code == 0
    assert cli("train", cwd=workspace).code == 0
    assert cli("data", "add", "holdout.csv", "--name", "holdout", cwd=workspace).code == 0

    gov = Governance.open(workspace, actor="alice")
    evidence, result = run_check(gov, "business_accuracy", dataset="holdout")

    version = get_model_version(gov)
    model = load_model_version(gov, version)
    holdout = pd.read_csv(workspace / "holdout.csv")
    features = [c["name"] for c in version.signature]
    expected = roc_auc_score(holdout["y"], model.predict_proba(holdout[features])[:, 1])
    assert result.metrics["roc_auc"] == pytest.approx(expected, abs=1e-12)
    assert expected >= 0.7
    assert result.status == "pass"
    assert evidence.status == "pass"
    assert evidence.payload["result"]["tables"]["success_metrics"][1]["verdict"] == (
        bz.NOT_A_MODEL_METRIC
    )

    auc_case[0]["target"] = 0.99
    harder = fill("business_case", workspace, success_metrics=auc_case)
    assert cli("doc", "submit", str(harder), cwd=workspace).code == 0
    _, again = run_check(Governance.open(workspace), "business_accuracy", dataset="holdout")
    assert again.metrics["roc_auc_target"] == 0.99
    assert again.metrics["roc_auc"] == pytest.approx(expected, abs=1e-12)
    assert again.status == "fail"
