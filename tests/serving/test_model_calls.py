"""The scorer's shortcuts give the model's own answers: labels read from probabilities, arrays.

Every estimator whose label is read from ``predict_proba`` is compared with its own ``predict``
on binary and three-class data, and on rows built to tie; the scorer's answers on a frame are
compared with the estimator's methods called on that frame.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

from mlgate.serving.model_calls import (
    as_array,
    call,
    labels_from_proba,
    names_warning_silenced,
    reads_label_from_proba,
    takes_array,
)
from mlgate.serving.scorer import Scorer

COLUMNS = ["a", "b", "c", "d"]
SIGNATURE = tuple({"name": c, "dtype": "float64", "kind": "numeric"} for c in COLUMNS)
ESTIMATORS = {
    "tree": lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
    "extra_tree": lambda: ExtraTreeClassifier(max_depth=4, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=15, random_state=0),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=15, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=20, random_state=0),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
    "logistic": lambda: LogisticRegression(),
}


def _data(classes: int, n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(COLUMNS))), columns=COLUMNS)
    signal = frame["a"] - frame["b"] + 0.5 * rng.normal(size=n)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    return frame, np.array(["low", "mid", "high"])[y] if classes == 3 else y


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_labels_from_proba_equal_predict(name: str, classes: int) -> None:
    frame, y = _data(classes)
    model = ESTIMATORS[name]().fit(frame, y)
    test, _ = _data(classes, n=300, seed=1)

    rows = model.predict_proba(test)
    labels = labels_from_proba(model, test, rows)

    assert reads_label_from_proba(model)
    assert labels.dtype == model.predict(test).dtype
    assert labels.tolist() == model.predict(test).tolist()


def test_tied_rows_are_predicted_by_the_model_itself() -> None:
    frame, y = _data(2)
    model = LogisticRegression().fit(frame, y)
    tied = np.full((3, 2), 0.5)

    class Spy:
        classes_ = model.classes_
        calls: list[int] = []

        def predict(self, inputs: pd.DataFrame) -> np.ndarray:
            self.calls.append(len(inputs))
            return np.array([1] * len(inputs))

    spy = Spy()
    rows = np.vstack([tied[:2], [[0.9, 0.1]], tied[2:]])
    labels = labels_from_proba(spy, frame.head(4), rows)

    assert labels.tolist() == [1, 1, 0, 1]  # argmax alone would say class 0 for the ties
    assert spy.calls == [3]


def test_a_subclass_or_a_thresholded_model_is_not_read_from_proba() -> None:
    frame, y = _data(2)

    class Custom(LogisticRegression):
        pass

    thresholded = FixedThresholdClassifier(LogisticRegression(), threshold=0.9).fit(frame, y)

    assert not reads_label_from_proba(Custom().fit(frame, y))
    assert not reads_label_from_proba(thresholded)


def test_takes_array_only_for_a_plain_numeric_model_fitted_on_the_signature() -> None:
    frame, y = _data(2)
    model = LogisticRegression().fit(frame, y)
    reordered = LogisticRegression().fit(frame[COLUMNS[::-1]], y)
    on_array = LogisticRegression().fit(frame.to_numpy(), y)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, y)
    text = (*SIGNATURE[:3], {"name": "d", "dtype": "str", "kind": "categorical"})

    assert takes_array(model, SIGNATURE)
    assert not takes_array(reordered, SIGNATURE)
    assert not takes_array(on_array, SIGNATURE)
    assert not takes_array(pipeline, SIGNATURE)
    assert not takes_array(model, text)


def test_as_array_is_none_unless_every_value_is_float64() -> None:
    floats = pd.DataFrame({"a": [1.5, 2.0], "b": [3, 4]})  # int and float join as float64
    flags = pd.DataFrame({"a": [1.5, 2.0], "b": [True, False]})

    assert as_array(floats).tolist() == [[1.5, 3.0], [2.0, 4.0]]
    assert as_array(flags) is None


@pytest.mark.parametrize("name", ["gradient_boosting", "hist_gradient_boosting", "logistic"])
def test_scorer_on_the_quick_path_answers_like_the_model_on_the_frame(name: str) -> None:
    frame, y = _data(2)
    model = ESTIMATORS[name]().fit(frame, y)
    scorer = Scorer(model, 1, "0" * 64, SIGNATURE, (0, 1), 1)
    test, _ = _data(2, n=50, seed=2)
    columns = {c: test[c].tolist() for c in COLUMNS}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the array's missing names must not leak a warning
        scored = scorer.predict(scorer.inputs(columns, "request"), proba=True)

    assert scored.prediction.tolist() == model.predict(test).tolist()
    assert scored.proba is not None
    assert scored.proba.tolist() == model.predict_proba(test).tolist()
    assert scored.score is not None
    assert scored.score.tolist() == model.predict_proba(test)[:, 1].tolist()


def test_scorer_proba_for_three_classes_and_none_without_predict_proba() -> None:
    frame, y = _data(3)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(frame, y)
    scorer = Scorer(forest, 1, "0" * 64, SIGNATURE, tuple(forest.classes_), None)

    class LabelsOnly:
        feature_names_in_ = np.array(COLUMNS, dtype=object)

        def predict(self, inputs: np.ndarray) -> np.ndarray:
            return np.zeros(len(inputs), dtype=int)

    plain = Scorer(LabelsOnly(), 1, "0" * 64, SIGNATURE, (0, 1), None)
    scored = scorer.predict(frame, proba=True)

    assert scorer.predict(frame).proba is None
    assert scored.score is None
    assert scored.proba is not None
    assert scored.proba.tolist() == forest.predict_proba(frame).tolist()
    assert scored.prediction.tolist() == forest.predict(frame).tolist()
    assert plain.predict(frame, proba=True).proba is None


def test_tied_rows_of_a_sparse_input_are_predicted_by_the_model() -> None:
    frame, y = _data(2)
    model = LogisticRegression().fit(sparse.csr_matrix(frame.to_numpy()), y)
    inputs = sparse.csr_matrix(frame.head(3).to_numpy())
    rows = np.array([[0.5, 0.5], [0.8, 0.2], [0.5, 0.5]])

    labels = labels_from_proba(model, inputs, rows)

    expected = model.predict(inputs)
    assert labels.tolist() == [expected[0], 0, expected[2]]


def test_a_server_silences_the_missing_names_warning_only_while_it_serves() -> None:
    frame, y = _data(2)
    model = LogisticRegression().fit(frame, y)
    array = frame.to_numpy()
    before = list(warnings.filters)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with names_warning_silenced():
            labels = call(model.predict, array)
        model.predict(array)  # the warning is back once the server stops

    assert labels.tolist() == model.predict(frame).tolist()
    assert [str(w.message) for w in seen] == [
        "X does not have valid feature names, but LogisticRegression was fitted with feature names"
    ]
    assert warnings.filters == before


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("init", [None, "zero"])
def test_the_fast_boosting_path_gives_the_models_own_probabilities(
    classes: int, init: str | None
) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    from mlgate.serving.model_calls import fast_proba

    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 5))
    y = np.digitize(x[:, 0] + rng.normal(scale=0.5, size=600), [-0.5, 0.5][: classes - 1])
    model = GradientBoostingClassifier(n_estimators=30, init=init, random_state=0).fit(x, y)
    rows = rng.normal(scale=3.0, size=(257, 5))

    fast = fast_proba(model)

    assert fast is not None
    assert np.array_equal(fast(rows), model.predict_proba(rows))
    assert np.array_equal(fast(rows[:1]), model.predict_proba(rows[:1]))


def test_odd_input_and_custom_initial_estimators_take_the_models_own_path() -> None:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from mlgate.serving.model_calls import fast_proba

    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] > 0).astype(int)
    custom = GradientBoostingClassifier(n_estimators=5, init=LogisticRegression()).fit(x, y)
    plain = GradientBoostingClassifier(n_estimators=5).fit(x, y)
    huge = np.array([[1e39, 0.0, 0.0]])  # not a float32: the model's own checks decide

    assert fast_proba(custom) is None
    assert fast_proba(LogisticRegression().fit(x, y)) is None
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="too large for dtype"):
        fast_proba(plain)(huge)  # the same refusal as plain.predict_proba(huge)
