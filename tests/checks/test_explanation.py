"""Tests for the explanation check: scikit-learn and SHAP agreement, BL-30, German credit."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks import explanation as ex
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.demo.data import COLUMNS, read_german_codes
from mlgate.errors import ValidationError

GERMAN_COLUMNS = COLUMNS
AUC_BY_PROBA = make_scorer(roc_auc_score, response_method="predict_proba")


def numeric_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Three informative numeric columns of decreasing weight, one noise column, a 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    margin = 2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5 * x[:, 2]
    y = (margin + rng.normal(scale=1.0, size=n) > 0).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c", "noise"]).assign(y=y)


def mixed_frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    """A numeric and a categorical column that both move the label, plus a sensitive column."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=n)
    amount = rng.normal(size=n)
    margin = amount + np.select([colour == "red", colour == "green"], [1.0, -1.0], 0.0)
    y = (margin + rng.normal(scale=0.5, size=n) > 0).astype(int)
    group = rng.choice(["p", "q"], size=n)
    return pd.DataFrame({"amount": amount, "colour": colour, "group": group, "y": y})


def one_hot_model(frame: pd.DataFrame, features: list[str], estimator, target: str = "y"):
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    preprocess = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
    )
    return make_pipeline(preprocess, estimator).fit(frame[features], frame[target])


def run(frame, features, model, sensitive=(), target="y", **thresholds) -> CheckResult:
    inp = CheckInput(frame, target, list(features), list(sensitive), positive_label=1, model=model)
    return ex.check_explanation(inp, thresholds)


def messages(result: CheckResult, severity: str | None = None) -> list[str]:
    return [f.message for f in result.findings if severity in (None, f.severity)]


# --- (a) permutation importance equals scikit-learn's ------------------------------------------


@pytest.mark.parametrize(
    ("estimator", "n_repeats", "seed"),
    [
        (LogisticRegression(), 5, 0),
        (LogisticRegression(), 3, 42),
        (RandomForestClassifier(n_estimators=20, random_state=0), 4, 7),
    ],
)
def test_permutation_importance_equals_sklearn(estimator, n_repeats, seed):
    frame = numeric_frame()
    features = ["a", "b", "c", "noise"]
    model = make_pipeline(StandardScaler(), estimator).fit(frame[features], frame["y"])
    inp = CheckInput(frame, "y", features, model=model, seed=seed)

    result = ex.check_explanation(inp, {"n_repeats": n_repeats, "shap_max_rows": 0})

    expected = sk_permutation_importance(
        model,
        frame[features],
        frame["y"],
        scoring=AUC_BY_PROBA,
        n_repeats=n_repeats,
        random_state=seed,
    )
    ours = [result.metrics[f"importance.{f}"] for f in features]
    np.testing.assert_allclose(ours, expected.importances_mean, rtol=0, atol=1e-9)
    stds = {row["feature"]: row["std"] for row in result.tables["importance"]}
    np.testing.assert_allclose(
        [stds[f] for f in features], expected.importances_std, rtol=0, atol=1e-9
    )
    assert result.metrics["scoring"] == "roc_auc"
    assert result.metrics["top_feature"] == "a"


def test_permutation_importance_multiclass_uses_accuracy_like_sklearn():
    frame = numeric_frame(seed=3)
    frame["y"] = pd.cut(frame["a"] + 0.3 * frame["b"], [-np.inf, -0.5, 0.5, np.inf], labels=False)
    features = ["a", "b", "c", "noise"]
    model = LogisticRegression().fit(frame[features], frame["y"])

    ours = ex.permutation_importance(model, frame[features], frame["y"], 1, 5, 11)

    expected = sk_permutation_importance(
        model, frame[features], frame["y"], scoring="accuracy", n_repeats=5, random_state=11
    )
    assert ours.scoring == "accuracy"
    np.testing.assert_allclose(ours.mean, expected.importances_mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.decreases, expected.importances, rtol=0, atol=1e-9)


def test_importance_is_per_raw_column_through_one_hot_encoding():
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())

    result = run(frame, ["amount", "colour"], model)

    assert {r["feature"] for r in result.tables["importance"]} == {"amount", "colour"}
    assert result.metrics["importance.colour"] > 0.05
    assert result.metrics["importance_share.amount"] + result.metrics[
        "importance_share.colour"
    ] == pytest.approx(1.0)


# --- (b) SHAP: BL-30 and additivity per raw column ----------------------------------------------


def test_bl30_linear_shap_values():
    assert importlib.util.find_spec("shap"), "shap is a dev dependency: pip install -e .[dev]"
    i = np.arange(100)
    background = np.column_stack([i / 100, (i % 10) / 10, np.full(100, 5.0)])
    model = LinearRegression().fit(background, background @ [3.0, -2.0, 0.0] + 1.0)
    model.coef_, model.intercept_ = np.array([3.0, -2.0, 0.0]), 1.0  # f(x) = 3 x1 - 2 x2 + 1

    values, base, kind = ex.shap_values(model, background, np.array([[1.0, 1.0, 5.0]]))

    assert kind == "linear"
    np.testing.assert_allclose(values[0], [1.515, -1.1, 0.0], atol=1e-9)
    assert values[0, 2] == 0.0
    assert base == pytest.approx(1.585, abs=1e-9)
    assert abs(base + values.sum() - 2.0) <= 1e-6


@pytest.mark.parametrize(
    ("estimator", "kind"),
    [
        (LogisticRegression(), "linear"),
        (GradientBoostingClassifier(n_estimators=30, random_state=0), "tree"),
    ],
)
@pytest.mark.parametrize("positive_label", [1, 0])
def test_raw_shap_values_add_up_to_the_margin(estimator, kind, positive_label):
    assert importlib.util.find_spec("shap"), "shap is a dev dependency: pip install -e .[dev]"
    frame = mixed_frame()
    x = frame[["amount", "colour"]]
    model = one_hot_model(frame, ["amount", "colour"], estimator)

    explained = ex.raw_shap_values(model, x, positive_label)

    assert explained is not None
    assert explained.explainer == kind
    assert list(explained.values.columns) == ["amount", "colour"]
    margin = model.decision_function(x) * (1 if positive_label == 1 else -1)
    total = explained.base_value + explained.values.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, margin, atol=1e-6)


def test_check_reports_shap_importance_per_raw_column():
    assert importlib.util.find_spec("shap"), "shap is a dev dependency: pip install -e .[dev]"
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())

    result = run(frame, ["amount", "colour"], model)

    assert result.metrics["shap_explainer"] == "linear"
    explained = ex.raw_shap_values(model, frame[["amount", "colour"]], 1)
    expected = explained.values.abs().mean()
    assert result.metrics["shap_importance.colour"] == pytest.approx(expected["colour"])
    assert "shap_importance" in [f.name for f in result.figures]


def test_without_shap_permutation_importance_still_runs(monkeypatch):
    monkeypatch.setattr(ex, "_shap_installed", lambda: False)
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())

    result = run(frame, ["amount", "colour"], model)

    assert result.metrics["shap_explainer"] == "none"
    assert "shap is not installed; permutation importance only" in messages(result, "info")
    assert result.metrics["importance.amount"] > 0


def test_untraceable_preprocessing_skips_shap_with_a_reason():
    assert importlib.util.find_spec("shap"), "shap is a dev dependency: pip install -e .[dev]"
    frame = numeric_frame()
    features = ["a", "b", "c", "noise"]
    model = make_pipeline(PCA(n_components=2), LogisticRegression())
    model.fit(frame[features], frame["y"])

    result = run(frame, features, model)

    assert result.metrics["shap_explainer"] == "none"
    assert any(m.startswith("SHAP values need a binary linear model") for m in messages(result))


# --- effect curves --------------------------------------------------------------------------


def test_partial_dependence_equals_sklearn_brute_average():
    frame = mixed_frame()
    x = frame[["amount", "colour"]]
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())
    kind, grid = ex.effect_grid(x["amount"])

    ours = ex.partial_dependence(model, x, "amount", grid)

    expected = sk_partial_dependence(
        model, x, ["amount"], kind="average", method="brute", custom_values={"amount": grid}
    )
    assert kind == "numeric"
    assert len(grid) == ex.GRID_POINTS
    np.testing.assert_allclose(ours, expected["average"][0], rtol=0, atol=1e-12)


def test_effect_figures_for_top_features_numeric_line_categorical_bar():
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())

    result = run(frame, ["amount", "colour"], model)

    figures = {f.name: f for f in result.figures}
    assert figures["effect:amount"].kind == "line"
    colour = figures["effect:colour"]
    assert colour.kind == "bar"
    assert sorted(colour.series[0].x) == ["blue", "green", "red"]
    by_level = dict(zip(colour.series[0].x, colour.series[0].y, strict=True))
    assert by_level["red"] > by_level["blue"] > by_level["green"]
    amount = figures["effect:amount"].series[0].y
    assert amount == sorted(amount)  # the effect of amount rises, as it does in the data


# --- (c) sensitive use on German credit -------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    frame = read_german_codes()
    female = frame["status_sex"].isin(["A92", "A95"])
    return frame.assign(sex=np.where(female, "female", "male"))


def test_german_model_using_sex_fails(german):
    features = ["duration", "credit_amount", "age", "sex"]
    model = one_hot_model(german, features, LogisticRegression(max_iter=1000), "credit")

    result = run(german, features, model, ["sex"], target="credit")

    assert result.status == "fail"
    share = result.metrics["importance_share.sex"]
    assert share >= 0.05
    assert (
        f"sensitive attribute 'sex' is a model feature carrying {share:.1%} of the importance "
        f"(limit 5.0%)"
    ) in messages(result, "fail")


def test_german_model_with_sex_of_little_weight_warns(german):
    features = ["duration", "credit_amount", "age", "savings", "purpose", "housing", "sex"]
    model = one_hot_model(german, features, LogisticRegression(max_iter=1000), "credit")

    result = run(german, features, model, ["sex"], target="credit")

    assert result.metrics["importance_share.sex"] < 0.05
    assert result.status == "warn"
    assert any(
        m.startswith("sensitive attribute 'sex' is a model feature (")
        for m in messages(result, "warn")
    )


def test_german_status_sex_is_a_proxy_of_sex(german):
    features = ["duration", "credit_amount", "age", "status_sex"]
    model = one_hot_model(german, features, LogisticRegression(max_iter=1000), "credit")

    result = run(german, features, model, ["sex"], target="credit")

    assert result.metrics["proxies"] == 1
    (row,) = [r for r in result.tables["proxies"] if r["proxy"]]
    assert (row["feature"], row["sensitive"], row["measure"]) == (
        "status_sex",
        "sex",
        "Cramér's V",
    )
    assert row["association"] > 0.99
    assert any(
        m.startswith("feature 'status_sex' is a likely proxy of 'sex' (Cramér's V 1.00")
        for m in messages(result, "warn")
    )
    assert not any("is a model feature" in m for m in messages(result))


def test_german_model_without_sex_or_status_sex_passes_sensitive_part(german):
    features = ["duration", "credit_amount", "age", "savings"]
    model = one_hot_model(german, features, LogisticRegression(max_iter=1000), "credit")

    result = run(german, features, model, ["sex"], target="credit")

    assert result.status == "pass"
    assert result.metrics["proxies"] == 0
    assert {r["sensitive"] for r in result.tables["proxies"]} == {"sex"}
    assert all(r["association"] < 0.5 for r in result.tables["proxies"])
    json.dumps(result.to_dict(), allow_nan=False)


# --- (d) planted leak and other findings ----------------------------------------------------


def test_planted_leak_carries_most_importance():
    frame = numeric_frame()
    frame["leak"] = frame["y"] + np.random.default_rng(5).normal(scale=0.1, size=len(frame))
    features = ["a", "b", "c", "noise", "leak"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[features], frame["y"])

    result = run(frame, features, model)

    share = result.metrics["importance_share.leak"]
    assert result.metrics["top_feature"] == "leak"
    assert share >= 0.5
    assert result.status == "warn"
    assert (
        f"feature 'leak' carries {share:.1%} of the importance (>= 50%); check for leakage"
    ) in messages(result, "warn")


def test_numeric_proxy_found_by_correlation_ratio():
    frame = mixed_frame()
    # income tracks the sensitive group closely and drives the label
    noise = np.random.default_rng(2).normal(scale=0.3, size=len(frame))
    frame["income"] = np.where(frame["group"] == "p", 1.0, -1.0) + noise
    frame["y"] = (frame["income"] + frame["amount"] > 0).astype(int)
    features = ["amount", "income"]
    model = one_hot_model(frame, features, LogisticRegression())

    result = run(frame, features, model, ["group", "absent"])

    (row,) = [r for r in result.tables["proxies"] if r["feature"] == "income"]
    assert row["measure"] == "correlation ratio"
    assert row["association"] > 0.9
    assert row["proxy"]
    expected_info = "sensitive attribute 'absent' is not in the data; proxies unchecked"
    assert expected_info in messages(result, "info")


def test_undeclared_features_are_the_columns_the_model_was_fitted_on():
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())

    result = run(frame, [], model, ["group"])

    assert {r["feature"] for r in result.tables["importance"]} == {"amount", "colour"}
    assert not any("is a model feature" in m for m in messages(result))


def test_sample_is_capped_and_holdout_is_preferred():
    frame = numeric_frame(n=600)
    holdout = numeric_frame(n=300, seed=9)
    features = ["a", "b", "c", "noise"]
    model = LogisticRegression().fit(frame[features], frame["y"])
    inp = CheckInput(frame, "y", features, model=model, holdout=holdout)

    result = ex.check_explanation(inp, {"max_rows": 200, "shap_max_rows": 0})

    assert result.metrics["n_rows"] == 200
    assert "explained on a sample of 200 rows" in messages(result, "info")


def test_association_values():
    levels = pd.Series(["a", "b", "c", "d"] * 50)
    coarse = levels.map({"a": "x", "b": "x", "c": "y", "d": "y"})
    numbers = pd.Series(np.arange(200, dtype=float))

    assert ex.association(levels, coarse) == ("Cramér's V", pytest.approx(1.0, abs=0.01))
    assert ex.association(numbers, numbers**3) == (
        "binned Cramér's V",
        pytest.approx(1.0, abs=0.01),
    )
    measure, value = ex.association(numbers, levels)
    assert measure == "correlation ratio"
    assert value < 0.1


def test_result_round_trips_through_json():
    frame = mixed_frame()
    model = one_hot_model(frame, ["amount", "colour"], LogisticRegression())
    result = run(frame, ["amount", "colour"], model, ["group"])

    stored = json.loads(json.dumps(result.to_dict(), allow_nan=False))

    assert CheckResult.from_dict(stored) == result


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_is_named():
    frame = numeric_frame(n=50)
    model = LogisticRegression().fit(frame[["a"]], frame["y"])

    with pytest.raises(ValidationError, match=r"needs a fitted model \(CheckInput.model\); got"):
        run(frame, ["a"], None)
    with pytest.raises(ValidationError, match=r"needs a fitted classifier .*got LinearRegression"):
        run(frame, ["a"], LinearRegression().fit(frame[["a"]], frame["y"]))
    with pytest.raises(ValidationError, match=r"n_repeats must be a whole number >= 1; got 0"):
        run(frame, ["a"], model, n_repeats=0)
    with pytest.raises(ValidationError, match=r"proxy_association must be in \[0, 1\]; got 1.5"):
        run(frame, ["a"], model, proxy_association=1.5)
    with pytest.raises(ValidationError, match=r"target column 'nope' is not in the data"):
        run(frame, ["a"], model, target="nope")
    with pytest.raises(ValidationError, match=r"feature column\(s\) not in the data: zzz"):
        run(frame, ["zzz"], model)


def test_spec_declares_needs_and_defaults():
    assert ex.SPEC.name == "explanation"
    assert ex.SPEC.needs_model
    assert not ex.SPEC.needs_reference
    assert ex.SPEC.defaults["max_sensitive_importance_share"] == 0.05
    assert ex.SPEC.defaults["proxy_association"] == 0.5
    assert ex.SPEC.defaults["max_single_feature_share"] == 0.5
    assert ex.SPEC.defaults["n_repeats"] == 5
