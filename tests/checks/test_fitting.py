"""Tests for the fitting check: scikit-learn agreement, planted faults, German credit."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate, learning_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlgate.checks import fitting
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.demo.data import load_german_credit
from mlgate.errors import ValidationError


def signal_frame(n: int = 300, seed: int = 0, noise: float = 1.0) -> pd.DataFrame:
    """Two informative columns, one noise column and a 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (1.5 * x[:, 0] - x[:, 1] + rng.normal(scale=noise, size=n) > 0).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "noise"]).assign(y=y)


def run(frame, estimator, features=None, seed=0, **thresholds) -> CheckResult:
    features = features or [c for c in frame.columns if c != "y"]
    inp = CheckInput(frame, "y", features, estimator_factory=lambda: clone(estimator), seed=seed)
    return fitting.check_fitting(inp, thresholds)


def messages(result: CheckResult, severity: str | None = None) -> list[str]:
    return [f.message for f in result.findings if severity in (None, f.severity)]


class MedianSplit(ClassifierMixin, BaseEstimator):
    """Predicts the second class above the median of column ``a``: no scores, labels only."""

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        self.cut_ = float(np.median(x["a"]))
        return self

    def predict(self, x):
        return np.where(x["a"].to_numpy() > self.cut_, self.classes_[1], self.classes_[0])


# --- agreement with scikit-learn --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 11])
def test_scores_equal_sklearn_cross_validate_on_the_same_folds(seed):
    frame = signal_frame(seed=seed)
    x, y = frame[["a", "b", "noise"]], frame["y"]
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)

    result = run(frame, LogisticRegression(), seed=seed)
    expected = cross_validate(
        LogisticRegression(), x, y, cv=splitter, scoring="roc_auc", return_train_score=True
    )
    baseline = cross_validate(DummyClassifier(), x, y, cv=splitter, scoring="roc_auc")

    m = result.metrics
    assert m["scoring"] == "roc_auc"
    assert m["validation_score_mean"] == pytest.approx(expected["test_score"].mean(), abs=1e-12)
    assert m["train_score_mean"] == pytest.approx(expected["train_score"].mean(), abs=1e-12)
    assert m["validation_score_std"] == pytest.approx(expected["test_score"].std(), abs=1e-12)
    gap = expected["train_score"].mean() - expected["test_score"].mean()
    assert m["train_validation_gap"] == pytest.approx(gap, abs=1e-12)
    assert m["baseline_score"] == pytest.approx(baseline["test_score"].mean()) == 0.5
    folds = result.tables["folds"]
    assert [r["validation_score"] for r in folds] == pytest.approx(list(expected["test_score"]))
    assert sum(r["validation_rows"] for r in folds) == len(frame)


def test_learning_curve_equals_sklearn_on_the_same_folds():
    frame = signal_frame(seed=3)
    x, y = frame[["a", "b", "noise"]], frame["y"]
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)

    result = run(frame, LogisticRegression(), seed=3)
    sizes, train, valid = learning_curve(
        LogisticRegression(),
        x,
        y,
        cv=splitter,
        train_sizes=np.linspace(0.1, 1.0, 5),
        scoring="roc_auc",
        shuffle=True,
        random_state=3,
    )

    table = result.tables["learning_curve"]
    assert [r["train_size"] for r in table] == list(sizes) == [24, 78, 132, 186, 240]
    assert [r["train_score"] for r in table] == pytest.approx(list(train.mean(axis=1)))
    assert [r["validation_score"] for r in table] == pytest.approx(list(valid.mean(axis=1)))
    rise = valid.mean(axis=1)[-1] - valid.mean(axis=1)[-2]
    assert result.metrics["learning_curve_final_rise"] == pytest.approx(rise)
    figure = next(f for f in result.figures if f.name == "learning_curve")
    assert figure.kind == "line"
    assert [s.name for s in figure.series] == ["training", "validation"]
    assert figure.series[1].y == pytest.approx(list(valid.mean(axis=1)))


def test_learning_curve_still_rising_is_an_info_that_more_data_would_help():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 40))
    y = (x[:, :20].sum(axis=1) + rng.normal(size=200) > 0).astype(int)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(40)]).assign(y=y)

    result = run(frame, LogisticRegression(C=0.05), min_validation_score=0.5, importance_repeats=1)

    rise = result.metrics["learning_curve_final_rise"]
    assert rise > 0.01
    info = [f for f in result.findings if "more data would help" in f.message]
    assert len(info) == 1
    assert info[0].severity == "info"
    assert info[0].value == pytest.approx(rise)
    quiet = run(frame, LogisticRegression(C=0.05), min_validation_score=0.5, learning_curve_rise=1)
    assert not [m for m in messages(quiet) if "more data would help" in m]


# --- planted faults ---------------------------------------------------------------------------


def test_leaking_feature_fails_as_implausible_and_warns_of_concentration():
    frame = signal_frame(seed=1)
    leak = frame["y"] + np.random.default_rng(1).normal(scale=0.01, size=len(frame))
    frame.insert(0, "leak", leak)

    result = run(frame, LogisticRegression())

    assert result.status == "fail"
    assert result.metrics["validation_score_mean"] > 0.99
    fails = messages(result, "fail")
    assert any("implausibly high" in m and "look for a leaking feature" in m for m in fails)
    warns = [f for f in result.findings if f.severity == "warn"]
    assert [f.subject for f in warns] == ["leak"]
    assert "check it for leakage" in warns[0].message
    assert result.metrics["top_feature"] == "leak"
    assert result.metrics["top_feature_share"] > 0.5


def test_features_of_equal_weight_give_no_leakage_signal():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    y = (x.sum(axis=1) + rng.normal(size=300) > 0).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y)

    result = run(frame, LogisticRegression())

    assert result.status == "pass", messages(result)
    assert result.metrics["validation_score_mean"] < 0.99
    assert result.metrics["top_feature_share"] < 0.5


def test_deep_tree_on_noisy_labels_breaches_the_gap():
    frame = signal_frame(n=400, seed=4, noise=2.0)

    result = run(frame, DecisionTreeClassifier(random_state=0), min_validation_score=0.5)

    m = result.metrics
    assert m["train_score_mean"] == pytest.approx(1.0)
    assert m["train_validation_gap"] > 0.2
    over = [f for f in result.findings if f.subject == "train_validation_gap"]
    assert len(over) == 1
    assert over[0].severity == "fail"
    assert "over-fits" in over[0].message
    shallow = run(frame, DecisionTreeClassifier(max_depth=2, random_state=0))
    assert shallow.metrics["train_validation_gap"] < 0.1


def test_pure_noise_underfits_below_minimum_and_barely_beats_the_baseline():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["y"] = rng.integers(0, 2, size=300)

    result = run(frame, LogisticRegression())

    subjects = {f.subject: f.severity for f in result.findings}
    assert subjects["validation_score_mean"] == "fail"
    assert subjects["lift_over_baseline"] == "fail"
    assert result.metrics["lift_over_baseline"] < 0.05
    assert any("under-fits" in m for m in messages(result, "fail"))


# --- other targets and models -----------------------------------------------------------------


def test_multiclass_is_scored_by_accuracy_against_the_majority_share():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 2))
    y = np.select([x[:, 0] > 0.5, x[:, 0] < -0.5], ["high", "low"], "mid")
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(y=y)
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

    result = run(frame, LogisticRegression())
    expected = cross_validate(LogisticRegression(), frame[["a", "b"]], frame["y"], cv=splitter)
    majority = []
    for _, test in splitter.split(frame[["a", "b"]], frame["y"]):
        train = np.setdiff1d(np.arange(len(frame)), test)
        top = frame["y"].iloc[train].value_counts().idxmax()
        majority.append((frame["y"].iloc[test] == top).mean())

    assert result.metrics["scoring"] == "accuracy"
    assert result.metrics["validation_score_mean"] == pytest.approx(expected["test_score"].mean())
    assert result.metrics["baseline_score"] == pytest.approx(np.mean(majority))


def test_model_without_predict_proba_is_scored_by_accuracy():
    frame = signal_frame(seed=9)
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

    result = run(frame, MedianSplit(), min_validation_score=0.5)
    expected = cross_validate(
        MedianSplit(), frame[["a", "b", "noise"]], frame["y"], cv=splitter, scoring="accuracy"
    )

    assert result.metrics["scoring"] == "accuracy"
    assert result.metrics["validation_score_mean"] == pytest.approx(expected["test_score"].mean())
    assert any("no predict_proba" in m for m in messages(result, "info"))


def test_missing_values_name_the_column_unless_the_model_accepts_them():
    frame = signal_frame(seed=10)
    frame.loc[::7, "b"] = np.nan

    with pytest.raises(ValidationError, match=r"column\(s\) b hold missing values"):
        run(frame, LogisticRegression())
    imputing = make_pipeline(SimpleImputer(), LogisticRegression())
    result = run(frame, imputing, min_validation_score=0.5)
    assert result.metrics["validation_score_mean"] is not None
    assert math.isfinite(result.metrics["validation_score_mean"])


def test_constant_feature_gets_no_importance():
    frame = signal_frame(seed=12).assign(flat=3.0)

    result = run(frame, LogisticRegression())

    shares = {r["feature"]: r["share"] for r in result.tables["importance"]}
    assert shares["flat"] == 0.0
    assert sum(shares.values()) == pytest.approx(1.0)


def test_small_training_sizes_with_one_class_leave_gaps_not_nan():
    rng = np.random.default_rng(13)
    frame = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    frame["y"] = 0
    frame.loc[:5, "y"] = 1
    frame.loc[:5, "a"] += 4

    result = run(frame, LogisticRegression(), folds=3, min_validation_score=0.5)

    table = result.tables["learning_curve"]
    assert table[0]["failed_folds"] > 0
    assert table[0]["validation_score"] is None
    assert any("gave no score" in m for m in messages(result, "info"))
    json.dumps(result.to_dict(), allow_nan=False)


# --- German credit ----------------------------------------------------------------------------


def test_german_credit_gives_finite_numbers():
    frame = load_german_credit()
    features = [c for c in frame.columns if c not in ("good_credit", "sex", "age_group")]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    )
    inp = CheckInput(frame, "good_credit", features, estimator_factory=lambda: clone(model))

    result = fitting.check_fitting(inp, {"folds": 3, "importance_repeats": 2})

    numbers = [v for v in result.metrics.values() if isinstance(v, float)]
    assert len(numbers) >= 9
    assert all(math.isfinite(v) for v in numbers)
    assert 0.7 < result.metrics["validation_score_mean"] < 0.9
    assert result.metrics["top_feature"] in features
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["check"] == "fitting"


# --- input errors and the spec ----------------------------------------------------------------


def test_bad_input_is_named():
    frame = signal_frame()
    with pytest.raises(ValidationError, match=r"^fitting needs an estimator factory"):
        fitting.check_fitting(CheckInput(frame, "y"), {})
    with pytest.raises(ValidationError, match=r"^folds must be a whole number >= 2; got 1"):
        run(frame, LogisticRegression(), folds=1)
    with pytest.raises(ValidationError, match=r"^max_plausible_score must be in \[0, 1\]; got 2"):
        run(frame, LogisticRegression(), max_plausible_score=2)
    with pytest.raises(ValidationError, match=r"folds=5 but the smallest class has only 3 row"):
        run(frame.assign(y=np.r_[np.ones(3), np.zeros(len(frame) - 3)]), LogisticRegression())


def test_spec_is_registered_with_its_defaults():
    from mlgate.checks import get_check

    spec = get_check("fitting")
    assert spec is fitting.SPEC
    assert (spec.needs_model, spec.needs_reference, spec.needs_holdout) == (True, False, False)
    assert spec.defaults["max_plausible_score"] == 0.99
    assert spec.defaults["max_train_validation_gap"] == 0.1
