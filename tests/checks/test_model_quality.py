"""Tests for cv_accuracy, holdout_accuracy, determinism and performance."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    make_scorer,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.tree import DecisionTreeClassifier

from mlgate.checks import model_quality as mq
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def classification_frame(n: int = 400, seed: int = 0, labels=(0, 1)) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=n, n_features=5, n_informative=3, n_redundant=0, class_sep=1.5, random_state=seed
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)])
    frame["y"] = np.asarray(labels, dtype=object)[y] if labels != (0, 1) else y
    return frame


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


class ScoreModel:
    """Predicts from the ``score`` column: P(1) = score, label 1 when score > 0.5."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (features["score"].to_numpy() > 0.5).astype(int)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        score = features["score"].to_numpy()
        return np.column_stack([1 - score, score])


class NoisyModel(ScoreModel):
    """Returns a different probability on every call: a planted non-deterministic model."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return np.clip(super().predict_proba(features) + 1e-6 * self.calls, 0, 1)


class BatchModel(ScoreModel):
    """Scales scores by the batch's first row: right on repeat, wrong once rows move."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        score = features["score"].to_numpy() * (0.5 + features["score"].iloc[0])
        return np.column_stack([1 - score, score]) / 2


class SlowModel(ScoreModel):
    def predict(self, features: pd.DataFrame) -> np.ndarray:
        time.sleep(0.003)
        return super().predict(features)


# --- cv_accuracy ------------------------------------------------------------------------------


def test_cv_scores_equal_sklearn_cross_validate():
    frame = classification_frame()
    features = [f"f{i}" for i in range(5)]
    inp = CheckInput(frame, "y", features, estimator_factory=LogisticRegression, seed=3)

    result = mq.check_cv_accuracy(inp, {"folds": 4})
    expected = cross_validate(
        LogisticRegression(),
        frame[features],
        frame["y"],
        cv=StratifiedKFold(4, shuffle=True, random_state=3),
        scoring=["accuracy", "roc_auc", "f1"],
        return_train_score=True,
    )

    for name in ("accuracy", "roc_auc", "f1"):
        valid, train = expected[f"test_{name}"], expected[f"train_{name}"]
        assert result.metrics[f"validation_{name}_mean"] == pytest.approx(valid.mean())
        assert result.metrics[f"validation_{name}_std"] == pytest.approx(valid.std())
        assert result.metrics[f"train_{name}_mean"] == pytest.approx(train.mean())
        assert result.metrics[f"{name}_gap"] == pytest.approx(train.mean() - valid.mean())
    assert result.tables["folds"][0]["validation_roc_auc"] == pytest.approx(
        expected["test_roc_auc"][0]
    )
    assert result.status == "pass"
    assert result.figures[0].series[1].y == pytest.approx(list(expected["test_accuracy"]))


def test_cv_f1_uses_the_positive_label_with_string_classes():
    frame = classification_frame(labels=("bad", "good"))
    inp = CheckInput(
        frame, "y", estimator_factory=LogisticRegression, positive_label="bad", seed=1
    )

    result = mq.check_cv_accuracy(inp, {})
    expected = cross_validate(
        LogisticRegression(),
        frame.drop(columns="y"),
        frame["y"],
        cv=StratifiedKFold(5, shuffle=True, random_state=1),
        scoring={"f1": make_scorer(f1_score, pos_label="bad"), "roc_auc": "roc_auc"},
    )

    assert result.metrics["validation_f1_mean"] == pytest.approx(expected["test_f1"].mean())
    assert result.metrics["validation_roc_auc_mean"] == pytest.approx(
        expected["test_roc_auc"].mean()
    )


def test_cv_overfitting_model_fails_on_the_gap():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    frame["y"] = rng.integers(0, 2, 300)  # labels unrelated to the features

    result = mq.check_cv_accuracy(
        CheckInput(frame, "y", estimator_factory=DecisionTreeClassifier), {}
    )

    assert result.metrics["train_roc_auc_mean"] == 1.0
    assert result.metrics["roc_auc_gap"] > 0.3
    assert "the model over-fits" in messages(result)
    assert result.status == "fail"


def test_cv_uninformative_model_fails_on_roc_auc():
    frame = classification_frame()

    result = mq.check_cv_accuracy(CheckInput(frame, "y", estimator_factory=DummyClassifier), {})

    assert result.metrics["validation_roc_auc_mean"] == 0.5
    assert "validation ROC AUC 0.500 is below the minimum 0.7" in messages(result)
    assert result.status == "fail"


def test_cv_leaky_feature_warns():
    frame = classification_frame()
    frame["leak"] = frame["y"]

    result = mq.check_cv_accuracy(CheckInput(frame, "y", estimator_factory=LogisticRegression), {})

    assert result.metrics["validation_roc_auc_mean"] == 1.0
    assert "check the features for target leakage" in messages(result)
    assert result.status == "warn"


def test_cv_rejects_too_few_rows_per_class_and_missing_factory():
    frame = pd.DataFrame({"a": range(10), "y": [0] * 7 + [1] * 3})

    with pytest.raises(ValidationError, match=r"folds=5 but the smallest class has only 3 row"):
        mq.check_cv_accuracy(CheckInput(frame, "y", estimator_factory=LogisticRegression), {})
    with pytest.raises(ValidationError, match=r"needs an estimator factory"):
        mq.check_cv_accuracy(CheckInput(frame, "y"), {})


# --- holdout_accuracy -------------------------------------------------------------------------


def test_holdout_scores_by_hand():
    # truth 1 1 1 0 0 0, predicted (score > 0.5) 1 1 0 1 0 0: TP 2, FN 1, FP 1, TN 2
    holdout = pd.DataFrame({"score": [0.9, 0.8, 0.4, 0.7, 0.2, 0.1], "y": [1, 1, 1, 0, 0, 0]})
    inp = CheckInput(holdout.iloc[:0], "y", ["score"], model=ScoreModel(), holdout=holdout)

    result = mq.check_holdout_accuracy(inp, {})

    assert result.metrics["accuracy"] == pytest.approx(4 / 6)
    assert result.metrics["precision"] == pytest.approx(2 / 3)
    assert result.metrics["recall"] == pytest.approx(2 / 3)
    assert result.metrics["f1"] == pytest.approx(2 / 3)
    assert result.metrics["roc_auc"] == pytest.approx(8 / 9)  # 8 of 9 pairs ranked right
    assert "accuracy 0.667 is below the minimum 0.7" in messages(result)
    assert result.status == "fail"


def test_holdout_scores_equal_sklearn_with_positive_label_zero():
    frame = classification_frame(seed=5)
    model = LogisticRegression().fit(frame.drop(columns="y"), frame["y"])
    inp = CheckInput(frame, "y", model=model, positive_label=0)

    result = mq.check_holdout_accuracy(inp, {})
    x, y = frame.drop(columns="y"), frame["y"]
    predicted = model.predict(x)

    assert result.metrics["f1"] == pytest.approx(f1_score(y, predicted, pos_label=0))
    assert result.metrics["precision"] == pytest.approx(precision_score(y, predicted, pos_label=0))
    assert result.metrics["recall"] == pytest.approx(recall_score(y, predicted, pos_label=0))
    auc = roc_auc_score(y == 0, model.predict_proba(x)[:, 0])
    assert result.metrics["roc_auc"] == pytest.approx(auc)
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(y, predicted))


def test_single_column_predict_proba_raises_naming_classes_bl31a():
    train = pd.DataFrame({"a": np.arange(10.0), "y": 1})
    model = DummyClassifier(strategy="prior").fit(train[["a"]], train["y"])
    holdout = train.assign(y=[0, 1] * 5)

    with pytest.raises(
        ValidationError,
        match=r"predict_proba returned 1 column\(s\), expected 2 for classes \[0, 1\]; "
        r"model saw only class\(es\) \[1\]",
    ):
        mq.check_holdout_accuracy(CheckInput(train, "y", model=model, holdout=holdout), {})


def test_one_row_evaluation_set_has_undefined_auc_bl31b():
    one = pd.DataFrame({"score": [0.9], "y": [1]})

    result = mq.check_holdout_accuracy(CheckInput(one, "y", model=ScoreModel()), {})

    assert result.metrics["accuracy"] == 1.0
    assert result.metrics["recall"] == 1.0
    assert result.metrics["roc_auc"] is None
    assert "roc_auc is not defined: the scored rows hold one class only (1 rows)" in (
        messages(result)
    )
    assert result.status == "warn"
    json.dumps(result.to_dict(), allow_nan=False)


def test_positive_class_scores_follow_classes_not_column_order():
    frame = classification_frame(labels=("bad", "good"))
    x = frame.drop(columns="y")
    model = LogisticRegression().fit(x, frame["y"])
    proba = model.predict_proba(x)

    np.testing.assert_array_equal(mq.positive_class_scores(model, x, "good"), proba[:, 1])
    np.testing.assert_array_equal(mq.positive_class_scores(model, x, "bad"), proba[:, 0])
    with pytest.raises(ValidationError, match=r"positive_label 'ok' is not among .*\[bad, good\]"):
        mq.positive_class_scores(model, x, "ok")


# --- determinism ------------------------------------------------------------------------------


def test_deterministic_model_passes():
    frame = classification_frame()
    model = LogisticRegression().fit(frame.drop(columns="y"), frame["y"])

    result = mq.check_determinism(CheckInput(frame, "y", model=model), {})

    assert result.status == "pass"
    assert result.metrics["n_rows"] == 400
    assert result.metrics["n_mismatched"] == 0
    assert result.metrics["max_abs_diff"] <= 1e-12


def test_planted_non_deterministic_model_fails():
    frame = pd.DataFrame({"score": np.linspace(0.05, 0.95, 50), "y": 0})

    result = mq.check_determinism(CheckInput(frame, "y", model=NoisyModel()), {})

    assert result.status == "fail"
    assert result.metrics["n_mismatched_repeat"] == 50
    assert result.metrics["max_abs_diff"] == pytest.approx(2e-6)
    assert "50 of 50 rows changed between two identical calls" in messages(result)


def test_row_order_dependent_model_fails_only_when_shuffled():
    frame = pd.DataFrame({"score": np.linspace(0.05, 0.95, 50), "y": 0})

    result = mq.check_determinism(CheckInput(frame, "y", model=BatchModel()), {})

    assert result.metrics["n_mismatched_repeat"] == 0
    assert result.metrics["n_mismatched_shuffled"] == 50
    assert "outputs depend on row order or batch content" in messages(result)


def test_determinism_samples_large_frames():
    frame = pd.DataFrame({"score": np.linspace(0, 1, 500), "y": 0})

    result = mq.check_determinism(CheckInput(frame, "y", model=ScoreModel()), {"max_rows": 100})

    assert result.metrics["n_rows"] == 100
    assert result.status == "pass"


# --- performance ------------------------------------------------------------------------------


def test_performance_measures_training_latency_and_throughput():
    frame = classification_frame()
    inp = CheckInput(frame, "y", estimator_factory=LogisticRegression)

    result = mq.check_performance(inp, {"latency_calls": 50})

    assert result.metrics["training_seconds"] > 0
    assert result.metrics["latency_calls"] == 50
    assert 0 < result.metrics["latency_p50_ms"] <= result.metrics["latency_p99_ms"]
    assert result.metrics["throughput_rows_per_second"] > 0
    assert result.metrics["batch_rows"] == 400
    assert len(result.figures[0].series[0].y) == 50
    assert result.status == "pass"


def test_slow_model_fails_latency_and_training_is_skipped_without_factory():
    frame = pd.DataFrame({"score": [0.2, 0.8], "y": [0, 1]})
    inp = CheckInput(frame, "y", model=SlowModel())

    result = mq.check_performance(inp, {"latency_calls": 5, "max_latency_p99_ms": 1})

    assert result.metrics["latency_p99_ms"] >= 3.0
    assert result.metrics["training_seconds"] is None
    assert "no estimator factory given; training time not measured" in messages(result)
    assert "latency p99 is" in messages(result)
    assert result.status == "fail"


def test_performance_without_model_or_factory_raises():
    frame = pd.DataFrame({"a": [1.0], "y": [1]})

    with pytest.raises(ValidationError, match=r"needs CheckInput.model or an estimator_factory"):
        mq.check_performance(CheckInput(frame, "y"), {})


# --- features ---------------------------------------------------------------------------------


def test_feature_columns_rules():
    frame = pd.DataFrame({"a": [1], "b": [2], "y": [0]})

    assert mq.feature_columns(CheckInput(frame, "y"), frame) == ["a", "b"]
    assert mq.feature_columns(CheckInput(frame, "y", ["b"]), frame) == ["b"]
    with pytest.raises(ValidationError, match=r"target 'y' is listed among the features"):
        mq.feature_columns(CheckInput(frame, "y", ["a", "y"]), frame)
    with pytest.raises(ValidationError, match=r"feature column\(s\) not in the data: c"):
        mq.feature_columns(CheckInput(frame, "y", ["a", "c"]), frame)
    with pytest.raises(ValidationError, match=r"listed more than once: a"):
        mq.feature_columns(CheckInput(frame, "y", ["a", "a"]), frame)


def test_missing_target_values_raise():
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [1, None]})

    with pytest.raises(ValidationError, match=r"target 'y' has 1 missing value"):
        mq.check_holdout_accuracy(CheckInput(frame, "y", model=ScoreModel()), {})


def test_empty_frame_raises_before_scoring():
    empty = pd.DataFrame({"score": pd.Series([], dtype=float), "y": pd.Series([], dtype=int)})

    with pytest.raises(ValidationError, match=r"frame to score has 0 rows \(2 columns\)"):
        mq.check_determinism(CheckInput(empty, "y", model=ScoreModel()), {})
    with pytest.raises(ValidationError, match=r"frame to score has 0 rows"):
        mq.check_holdout_accuracy(CheckInput(empty, "y", model=ScoreModel()), {})
