"""Tests for the fairness check: shared cases, Fairlearn agreement and German credit data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
)
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks import fairness as fa
from mlgate.checks.base import CheckInput
from mlgate.demo.data import COLUMNS, read_german_codes
from mlgate.errors import ValidationError

GERMAN_COLUMNS = COLUMNS


class FixedModel:
    """Predicts a fixed label per row, looked up by the ``row`` feature."""

    def __init__(self, predictions):
        self.predictions = np.asarray(predictions, dtype=object)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.predictions[features["row"].to_numpy(dtype=int)]


def run_fixed(y_true, y_pred, groups, name="group", positive_label=1, **thresholds):
    frame = pd.DataFrame({"row": range(len(y_true)), "y": y_true, name: groups})
    inp = CheckInput(
        frame, "y", ["row"], [name], positive_label=positive_label, model=FixedModel(y_pred)
    )
    return fa.check_fairness(inp, thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


# --- BL-15: missing value in the sensitive feature ---------------------------------------------

BL15_TRUE = [1, 0, 1, 0, 1, 0, 1]
BL15_PRED = [1, 0, 0, 0, 1, 1, 1]
BL15_GROUP = ["a", "a", "a", "a", "b", "b", None]


@pytest.mark.parametrize(
    "groups",
    [BL15_GROUP, np.array(BL15_GROUP, dtype=object), pd.Series(BL15_GROUP)],
    ids=["list", "ndarray", "series"],
)
def test_missing_sensitive_value_is_an_explicit_group_bl15(groups):
    result = fa.group_metrics(BL15_TRUE, BL15_PRED, groups)
    table = result.by_group

    assert table["selection_rate"].to_dict() == {"(missing)": 1.0, "a": 0.25, "b": 1.0}
    assert table["accuracy"].to_dict() == {"(missing)": 1.0, "a": 0.75, "b": 0.5}
    assert table["count"].sum() == 7
    assert result.overall["selection_rate"] == pytest.approx(0.571429, rel=1e-6)
    assert result.overall["accuracy"] == pytest.approx(0.714286, rel=1e-6)


def test_missing_sensitive_value_in_the_check_bl15():
    result = run_fixed(BL15_TRUE, BL15_PRED, BL15_GROUP, min_group_size=1)
    rows = {r["group"]: r for r in result.tables["groups"]}

    assert rows["(missing)"]["count"] == 1
    assert rows["(missing)"]["selection_rate"] == 1.0
    assert sum(r["count"] for r in rows.values()) == 7
    assert result.metrics["selection_rate"] == pytest.approx(4 / 7)
    assert result.metrics["accuracy"] == pytest.approx(5 / 7)


# --- BL-16: groups with one class or one member -----------------------------------------------


def test_one_member_groups_give_undefined_equalized_odds_bl16a():
    result = run_fixed([0, 1], [1, 0], ["g0", "g1"], min_group_size=1)
    rows = {r["group"]: r for r in result.tables["groups"]}

    assert result.metrics["group.demographic_parity_difference"] == 1.0
    assert result.metrics["group.equalized_odds_difference"] is None
    assert equalized_odds_difference([0, 1], [1, 0], sensitive_features=["g0", "g1"]) == 1.0
    assert (rows["g0"]["accuracy"], rows["g1"]["accuracy"]) == (0.0, 0.0)
    assert rows["g0"]["true_positive_rate"] is None
    assert rows["g1"]["false_positive_rate"] is None
    assert "group 'g0' has 0 positive rows among 1" in messages(result)
    json.dumps(result.to_dict(), allow_nan=False)


def test_group_without_positives_flags_equalized_odds_not_zero_bl16b():
    y_true = [0] * 30 + [1] * 15 + [0] * 15
    y_pred = [1] * 3 + [0] * 27 + [1] * 12 + [0] * 3 + [1] * 3 + [0] * 12
    groups = ["A"] * 30 + ["B"] * 30

    result = run_fixed(y_true, y_pred, groups)
    rows = {r["group"]: r for r in result.tables["groups"]}

    assert (rows["A"]["false_positive_rate"], rows["B"]["false_positive_rate"]) == (0.1, 0.2)
    assert result.metrics["group.false_positive_rate_difference"] == pytest.approx(0.1)
    assert rows["B"]["true_positive_rate"] == pytest.approx(0.8)
    assert rows["A"]["true_positive_rate"] is None
    assert result.metrics["group.true_positive_rate_difference"] is None
    assert result.metrics["group.equalized_odds_difference"] is None
    assert result.metrics["group.demographic_parity_difference"] == pytest.approx(0.4)
    assert (rows["A"]["accuracy"], rows["B"]["accuracy"]) == pytest.approx((0.9, 0.8))
    assert "insufficient evidence: group 'A' has 0 positive rows among 30" in messages(result)


# --- BL-18: string labels and a favourable label -----------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "favourable"),
    [
        ([0, 0, 0, 1, 1, 0, 1, 1, 1, 1], 0),
        (["approved"] * 3 + ["denied"] * 2 + ["approved"] + ["denied"] * 4, "approved"),
    ],
)
def test_disparate_impact_with_string_groups_bl18(outcome, favourable):
    sex = ["m"] * 5 + ["f"] * 5

    rates = fa.favourable_rates(outcome, sex, favourable=favourable)

    assert rates == pytest.approx({"m": 0.6, "f": 0.2})
    di = fa.disparate_impact(outcome, sex, favourable=favourable, privileged="m")
    assert round(di, 6) == 0.333333
    spd = fa.statistical_parity_difference(outcome, sex, favourable=favourable, privileged="m")
    assert spd == pytest.approx(-0.4, rel=1e-12)


def test_disparate_impact_undefined_and_unknown_privileged_group():
    assert fa.disparate_impact(
        [1, 1, 0, 0], ["a", "a", "b", "b"], favourable=0, privileged="a"
    ) is (None)
    with pytest.raises(ValidationError, match=r"privileged group 'z' does not occur"):
        fa.disparate_impact([1, 0], ["a", "b"], favourable=1, privileged="z")


# --- agreement with Fairlearn -----------------------------------------------------------------


def random_case(seed: int, sizes=(200, 150, 120)):
    rng = np.random.default_rng(seed)
    groups = np.repeat(["x", "y", "z"][: len(sizes)], sizes)
    bias = pd.Series(groups).map({"x": 0.0, "y": 0.15, "z": -0.1}).to_numpy()
    y_true = (rng.random(len(groups)) < 0.4).astype(int)
    y_pred = (rng.random(len(groups)) < 0.45 + bias).astype(int)
    return y_true, y_pred, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaps_equal_fairlearn(seed):
    y_true, y_pred, groups = random_case(seed)

    result = run_fixed(y_true, y_pred, groups)

    expected_dp = demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
    expected_eo = equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
    expected_ratio = demographic_parity_ratio(y_true, y_pred, sensitive_features=groups)
    assert result.metrics["group.demographic_parity_difference"] == pytest.approx(expected_dp)
    assert result.metrics["group.equalized_odds_difference"] == pytest.approx(expected_eo)
    assert result.metrics["group.disparate_impact_ratio"] == pytest.approx(expected_ratio)


def test_small_group_is_excluded_from_gaps_with_a_finding():
    y_true, y_pred, groups = random_case(4, sizes=(200, 150, 12))
    big = groups != "z"

    result = run_fixed(y_true, y_pred, groups)

    expected = demographic_parity_difference(
        y_true[big], y_pred[big], sensitive_features=groups[big]
    )
    assert result.metrics["group.demographic_parity_difference"] == pytest.approx(expected)
    assert result.metrics["group.n_groups_excluded"] == 1
    assert "group 'z' has 12 rows (< 30); left out of the gaps" in messages(result)
    assert not {r["group"]: r for r in result.tables["groups"]}["z"]["included"]


def test_status_and_figure_threshold():
    y_true = [1, 0] * 50
    y_pred = [1] * 40 + [0] * 10 + [1] * 10 + [0] * 40
    groups = ["a"] * 50 + ["b"] * 50

    result = run_fixed(y_true, y_pred, groups)

    assert result.metrics["group.demographic_parity_difference"] == pytest.approx(0.6)
    assert result.metrics["group.disparate_impact_ratio"] == pytest.approx(0.25)
    assert result.status == "fail"
    figure = result.figures[0]
    assert figure.series[0].y == pytest.approx([0.8, 0.2])
    assert figure.threshold == pytest.approx(0.8 * 0.8)
    loose = run_fixed(
        y_true,
        y_pred,
        groups,
        max_demographic_parity_difference=0.7,
        max_equalized_odds_difference=0.7,
        min_disparate_impact_ratio=0.2,
    )
    assert loose.status == "pass"


def test_string_labels_use_the_positive_label():
    y_true = ["good", "bad"] * 40
    y_pred = ["good"] * 30 + ["bad"] * 10 + ["good"] * 10 + ["bad"] * 30
    groups = ["a"] * 40 + ["b"] * 40

    result = run_fixed(y_true, y_pred, groups, positive_label="good")

    assert result.metrics["group.demographic_parity_difference"] == pytest.approx(0.5)


def test_numeric_age_attribute_is_binned():
    age = np.tile(np.arange(18, 78), 4)  # 7, 15, 20 and 18 ages per band, four times
    y_true = np.tile([1, 0], 120)
    y_pred = np.tile([1, 1, 0], 80)

    result = run_fixed(y_true, y_pred, age, name="age")

    sizes = {r["group"]: r["count"] for r in result.tables["groups"]}
    assert sizes == {"<25": 28, "25-39": 60, "40-59": 80, "60+": 72}
    assert result.figures[0].series[0].x == ["<25", "25-39", "40-59", "60+"]


def test_missing_model_target_or_positive_label_raises():
    frame = pd.DataFrame({"row": [0, 1], "y": [0, 1], "g": ["a", "b"]})

    with pytest.raises(ValidationError, match=r"needs a fitted model"):
        fa.check_fairness(CheckInput(frame, "y", ["row"], ["g"]), {})
    model = FixedModel([0, 1])
    unknown = CheckInput(frame, "y", ["row"], ["g"], positive_label="yes", model=model)
    with pytest.raises(ValidationError, match=r"positive_label 'yes' occurs neither"):
        fa.check_fairness(unknown, {})
    with pytest.raises(ValidationError, match=r"target column 'nope' is not in the data"):
        fa.check_fairness(CheckInput(frame, "nope", ["row"], ["g"], model=model), {})


# --- real data: German credit -----------------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return read_german_codes()


def test_german_credit_fairness_equals_fairlearn(german):
    features = [c for c in GERMAN_COLUMNS if c != "credit"]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(german[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(german[features], german["credit"])
    inp = CheckInput(
        german, "credit", features, ["foreign_worker", "age"], positive_label=1, model=model
    )

    result = fa.check_fairness(inp, {})

    y_true = (german["credit"] == 1).astype(int)
    y_pred = (model.predict(german[features]) == 1).astype(int)
    age_band = pd.cut(
        german["age"], [-np.inf, 25, 40, 60, np.inf], right=False,
        labels=["<25", "25-39", "40-59", "60+"],
    ).astype(str)  # fmt: skip
    for attribute, groups in (("foreign_worker", german["foreign_worker"]), ("age", age_band)):
        kwargs = {"sensitive_features": groups}
        assert result.metrics[f"{attribute}.demographic_parity_difference"] == pytest.approx(
            demographic_parity_difference(y_true, y_pred, **kwargs), rel=1e-12
        )
        assert result.metrics[f"{attribute}.equalized_odds_difference"] == pytest.approx(
            equalized_odds_difference(y_true, y_pred, **kwargs), rel=1e-12
        )
        assert result.metrics[f"{attribute}.disparate_impact_ratio"] == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, **kwargs), rel=1e-12
        )
    sizes = {r["group"]: r["count"] for r in result.tables["groups"] if r["attribute"] == "age"}
    assert sizes == {"<25": 149, "25-39": 552, "40-59": 248, "60+": 51}


def test_no_group_selected_gives_undefined_ratio_not_nan():
    result = run_fixed([1, 0] * 40, [0] * 80, ["a"] * 40 + ["b"] * 40)

    assert result.metrics["group.disparate_impact_ratio"] is None
    assert result.metrics["group.demographic_parity_difference"] == 0.0
    assert "no group is ever selected; the disparate impact ratio is undefined" in (
        messages(result)
    )
    assert result.figures[0].threshold is None
    json.dumps(result.to_dict(), allow_nan=False)
