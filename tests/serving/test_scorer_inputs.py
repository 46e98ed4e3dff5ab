"""The scorer's quick way in gives the frame path's answers and errors, on a fitted pipeline."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.errors import ValidationError
from mlgate.serving.scorer import FloatRows, Scorer

SIGNATURE = (
    {"name": "x1", "dtype": "float64", "kind": "numeric"},
    {"name": "x2", "dtype": "float64", "kind": "numeric"},
    {"name": "region", "dtype": "str", "kind": "categorical"},
)


def _training(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "region": rng.choice(["n", "s"], n)}
    )
    y = (frame["x1"] - frame["x2"] + (frame["region"] == "s") > 0).astype(int).to_numpy()
    return frame, y


def _scorer(estimator: object) -> Scorer:
    frame, y = _training()
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["x1", "x2"]),
            ("cat", OneHotEncoder(), ["region"]),
        ]
    )
    model = Pipeline([("encode", encode), ("model", estimator)]).fit(frame, y)
    return Scorer(model, 1, "0" * 64, SIGNATURE, (0, 1), 1)


@pytest.fixture(params=["logistic", "hist_gradient_boosting"])
def scorer(request: pytest.FixtureRequest) -> Scorer:
    if request.param == "logistic":
        return _scorer(LogisticRegression())
    return _scorer(HistGradientBoostingClassifier(max_iter=20, random_state=0))


def test_quick_inputs_score_like_the_pipeline_itself(scorer: Scorer) -> None:
    frame, _ = _training(50, seed=5)
    columns = {
        "x1": frame["x1"].tolist(),
        "x2": [int(v * 3) for v in frame["x2"]],  # integers where floats were trained
        "region": frame["region"].tolist(),
    }

    scored = scorer.predict(scorer.inputs(columns, "request"))
    reference = pd.DataFrame(columns)

    np.testing.assert_array_equal(scored.prediction, scorer.model.predict(reference))
    np.testing.assert_allclose(scored.score, scorer.model.predict_proba(reference)[:, 1])
    frame_path = scorer.score(reference, "request")
    np.testing.assert_array_equal(scored.prediction, frame_path.prediction)
    np.testing.assert_array_equal(scored.score, frame_path.score)


def test_values_the_quick_path_leaves_alone_go_through_conform(scorer: Scorer) -> None:
    columns = {"x1": ["1.5", None, 2], "x2": [0.5, 1.0, None], "region": ["n", "s", "n"]}

    scored = scorer.predict(scorer.inputs(columns, "request"))
    reference = scorer.score(pd.DataFrame(columns), "request")

    np.testing.assert_array_equal(scored.prediction, reference.prediction)
    np.testing.assert_array_equal(scored.score, reference.score)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x1": [1.0], "region": ["n"]}, "missing column(s) x2"),
        ({"x1": ["a"], "x2": [1.0], "region": ["n"]}, "column x1 must be numeric"),
        ({"x1": [float("inf")], "x2": [1.0], "region": ["n"]}, "column x1 has 1 infinite"),
    ],
)
def test_quick_path_errors_are_the_frame_path_errors(
    scorer: Scorer, columns: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as quick:
        scorer.inputs(columns, "request")
    with pytest.raises(ValidationError) as framed:
        scorer.score(pd.DataFrame(columns), "request")

    assert str(quick.value) == str(framed.value)


NUMERIC = SIGNATURE[:2]


@pytest.mark.parametrize(
    "estimator",
    [
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        make_pipeline(StandardScaler(), LogisticRegression()),
    ],
    ids=["reads an array", "pipeline reads a frame"],
)
def test_all_numeric_rows_stay_one_block_and_score_like_the_model(estimator: object) -> None:
    frame, y = _training()
    model = estimator.fit(frame[["x1", "x2"]], y)  # type: ignore[attr-defined]
    scorer = Scorer(model, 1, "0" * 64, NUMERIC, (0, 1), 1)
    rows, _ = _training(40, seed=9)
    columns = {"x1": rows["x1"].tolist(), "x2": [int(v * 3) for v in rows["x2"]]}
    reference = pd.DataFrame(columns).astype(float)

    inputs = scorer.inputs(columns, "request")
    scored = scorer.predict(inputs)

    assert isinstance(inputs, FloatRows)
    assert len(inputs) == 40
    np.testing.assert_array_equal(inputs.frame(), reference)
    np.testing.assert_array_equal(scored.prediction, model.predict(reference))
    np.testing.assert_allclose(scored.score, model.predict_proba(reference)[:, 1])


@pytest.mark.parametrize(
    ("value", "described"),
    [(True, "a boolean (true)"), ("12", 'a string ("12")'), ([1.0], "a list ([1.0])")],
)
def test_strict_inputs_refuse_what_is_not_a_json_number(
    scorer: Scorer, value: object, described: str
) -> None:
    columns = {"x1": [0.5, value], "x2": [1.0, 2.0], "region": ["n", "s"]}

    with pytest.raises(ValidationError) as refused:
        scorer.inputs(columns, "request", strict=True)

    assert f"row 1 of the request holds {described}" in str(refused.value)
    assert "column x1" in str(refused.value)


def test_without_strict_a_numeric_string_is_read_as_a_number(scorer: Scorer) -> None:
    text = {"x1": ["12"], "x2": [1.0], "region": ["n"]}
    number = {"x1": [12.0], "x2": [1.0], "region": ["n"]}

    scored = scorer.predict(scorer.inputs(text, "request"))
    expected = scorer.predict(scorer.inputs(number, "request"))

    np.testing.assert_array_equal(scored.score, expected.score)
