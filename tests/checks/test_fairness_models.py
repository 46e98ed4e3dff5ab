"""Tests for the group-threshold classifier: Fairlearn agreement, determinism and persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from mlgate.artifacts.models import dump_model, load_model
from mlgate.errors import ValidationError
from mlgate.fairness_models import GroupThresholdClassifier, row_uniforms

FEATURES = ["x1", "x2"]
WRAPPER_TYPE = "mlgate.fairness_models.GroupThresholdClassifier"


def synthetic(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Two features, a sensitive sex and age, and a label that favours one sex."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["f", "m"], size=n, p=[0.4, 0.6])
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = 1.2 * x1 - 0.8 * x2 + np.where(sex == "m", 0.8, -0.4)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"x1": x1 + np.where(sex == "m", 0.5, 0.0), "x2": x2, "sex": sex,
         "age": rng.integers(18, 80, n), "y": y}
    )  # fmt: skip


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def base(frame):
    return LogisticRegression().fit(frame[FEATURES], frame["y"])


def fitted(base, frame, **params):
    params = {"sensitive_columns": ["sex"], **params}
    return GroupThresholdClassifier(base, features=FEATURES, **params).fit(frame, frame["y"])


@pytest.mark.parametrize(
    "constraint", ["equalized_odds", "demographic_parity", "true_positive_rate_parity"]
)
def test_probabilities_equal_fairlearn_threshold_optimizer(base, frame, constraint):
    model = fitted(base, frame, constraint=constraint)
    reference = ThresholdOptimizer(
        estimator=base, constraints=constraint, prefit=True, predict_method="predict_proba"
    ).fit(frame[FEATURES], frame["y"], sensitive_features=frame["sex"])

    mine = model.predict_proba(frame)[:, 1]

    pmf = reference._pmf_predict(frame[FEATURES], sensitive_features=frame["sex"])[:, 1]
    np.testing.assert_allclose(mine, pmf, rtol=0, atol=1e-12)
    # Fairlearn's public predict decides positive when its probability >= a uniform draw.
    for seed in (0, 1):
        drawn = reference.predict(
            frame[FEATURES], sensitive_features=frame["sex"], random_state=seed
        )
        np.testing.assert_array_equal(drawn, mine >= np.random.RandomState(seed).rand(len(mine)))
    assert set(model.rules_) == {"f", "m"}


class Flipped(ClassifierMixin, BaseEstimator):
    """The base model with its probability columns swapped, so good comes second."""

    classes_ = np.array([0, 1])

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, ::-1]

    def __sklearn_is_fitted__(self):
        return True


def test_favourable_class_first_is_read_from_its_own_column(frame):
    codes = np.where(frame["y"] == 1, 1, 2)  # 1 good, 2 bad, as in the UCI German credit file
    base = LogisticRegression().fit(frame[FEATURES], codes)
    assert list(base.classes_) == [1, 2]

    model = GroupThresholdClassifier(
        base, features=FEATURES, sensitive_columns=["sex"], positive_label=1
    ).fit(frame, codes)

    reference = ThresholdOptimizer(
        estimator=Flipped(base), constraints="equalized_odds", prefit=True,
        predict_method="predict_proba",
    ).fit(frame[FEATURES], (codes == 1).astype(int), sensitive_features=frame["sex"])  # fmt: skip
    pmf = reference._pmf_predict(frame[FEATURES], sensitive_features=frame["sex"])[:, 1]
    np.testing.assert_allclose(model.predict_proba(frame)[:, 0], pmf, rtol=0, atol=1e-12)
    assert set(model.predict(frame)) <= {1, 2}


def test_decisions_depend_on_the_row_and_seed_only(base, frame):
    model = fitted(base, frame, random_state=11)
    decisions = model.predict(frame)

    shuffled = frame.sample(frac=1.0, random_state=3)
    again = pd.Series(model.predict(shuffled), index=shuffled.index).sort_index()
    np.testing.assert_array_equal(again.to_numpy(), decisions)
    singles = [model.predict(frame.iloc[[i]])[0] for i in range(0, len(frame), 50)]
    assert singles == decisions[::50].tolist()

    proba = model.predict_proba(frame)[:, 1]
    assert (decisions[proba == 0.0] == 0).all()
    assert (decisions[proba == 1.0] == 1).all()
    randomised = (proba > 0) & (proba < 1)
    assert randomised.sum() > 20
    other = fitted(base, frame, random_state=12).predict(frame)
    assert (other[randomised] != decisions[randomised]).any()
    np.testing.assert_array_equal(other[~randomised], decisions[~randomised])


def test_row_draws_ignore_how_numbers_were_typed():
    ints = pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]})
    floats = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", None, "z"]})

    draws = row_uniforms(ints, 5)

    np.testing.assert_array_equal(draws, row_uniforms(floats, 5))
    assert ((draws >= 0) & (draws < 1)).all()
    assert not np.array_equal(draws, row_uniforms(ints, 6))


def test_skops_round_trip_trusts_only_the_wrapper(base, frame):
    model = fitted(base, frame, constraint="demographic_parity")

    content, trusted = dump_model(model)
    loaded = load_model(content, trusted)

    assert trusted == [WRAPPER_TYPE]
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    assert loaded.get_params()["constraint"] == "demographic_parity"


def test_numeric_sensitive_column_is_banded_at_fitting_time(base, frame):
    model = fitted(base, frame, sensitive_columns=["sex", "age"])

    keys = model.group_keys(frame)

    assert model.bands_ == {"age": [25.0, 40.0, 60.0]}
    assert set(model.rules_) == {
        f"{s} & {a}" for s in "fm" for a in ("<25", "25-39", "40-59", "60+")
    }
    assert model.group_keys(frame.iloc[[7]]).tolist() == [keys[7]]
    custom = fitted(base, frame, sensitive_columns=["age"], bands={"age": [50]})
    assert set(custom.rules_) == {"<50", "50+"}
    assert list(custom.feature_names_in_) == ["x1", "x2", "age"]


def test_unseen_group_and_missing_column_are_refused(base, frame):
    model = fitted(base, frame)
    other = frame.head(3).assign(sex=["f", "x", "m"])

    with pytest.raises(ValidationError, match=r"group\(s\) 'x' of sex had no rows when the thre"):
        model.predict(other)
    with pytest.raises(ValidationError, match=r"the input lacks column\(s\) sex; a model with gr"):
        model.predict(frame[FEATURES])


def test_clone_refits_its_base_as_cross_validation_needs(base, frame):
    model = fitted(base, frame)

    copy = clone(model).fit(frame.iloc[:400], frame["y"].iloc[:400])

    assert copy.estimator_ is not base
    assert copy.estimator_.coef_.shape == base.coef_.shape
    assert set(copy.predict(frame)) <= {0, 1}


def test_bad_settings_are_refused(base, frame):
    with pytest.raises(ValidationError, match=r"constraint must be one of demographic_parity, eq"):
        fitted(base, frame, constraint="false_negative_rate_parity")
    with pytest.raises(ValidationError, match=r"random_state must be a whole number >= 0; got -1"):
        fitted(base, frame, random_state=-1)
    with pytest.raises(ValidationError, match=r"needs at least one sensitive column"):
        fitted(base, frame, sensitive_columns=[])
    three = LogisticRegression().fit(frame[FEATURES], frame["age"] % 3)
    with pytest.raises(ValidationError, match=r"need a binary classifier with class 1; the base"):
        GroupThresholdClassifier(three, features=FEATURES, sensitive_columns=["sex"]).fit(
            frame, frame["y"]
        )
