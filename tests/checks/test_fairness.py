"""Tests for the fairness check: shared cases, Fairlearn agreement and German credit data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    false_positive_rate_difference,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn.calibration import calibration_curve
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
    assert (
        "group: disparate impact ratio 0.250 is below the minimum 0.8 (four-fifths rule): group "
        "'b' is selected at 0.200 against 0.800 for 'a'"
    ) in messages(result)
    figure = result.figures[0]
    assert figure.series[0].y == pytest.approx([0.8, 0.2])
    assert figure.threshold == pytest.approx(0.8 * 0.8)
    loose = run_fixed(
        y_true,
        y_pred,
        groups,
        max_demographic_parity_difference=0.7,
        max_equalized_odds_difference=0.7,
        max_equal_opportunity_difference=0.7,
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


@pytest.fixture(scope="module")
def german_model(german):
    features = [c for c in GERMAN_COLUMNS if c != "credit"]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(german[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(german[features], german["credit"])
    return model, features


def test_german_credit_fairness_equals_fairlearn(german, german_model):
    model, features = german_model
    inp = CheckInput(
        german, "credit", features, ["foreign_worker", "age"], positive_label=1, model=model
    )

    result = fa.check_fairness(inp, {"min_group_positives": 1, "min_group_negatives": 1})
    default = fa.check_fairness(inp, {})

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
    # Only 4 of the 37 foreign workers with code A202 are bad risks: too few for a false
    # positive rate under the default min_group_negatives of 10.
    assert default.metrics["foreign_worker.equalized_odds_difference"] is None
    assert default.metrics["foreign_worker.false_positive_rate_difference"] is None
    assert "group 'A202' has 4 negative rows among 37 (needs at least 10)" in messages(default)
    assert default.status != "pass"


def test_german_credit_opportunity_calibration_and_intersection_equal_fairlearn(
    german, german_model
):
    model, features = german_model
    inp = CheckInput(
        german, "credit", features, ["foreign_worker", "age"], positive_label=1, model=model
    )

    result = fa.check_fairness(inp, {})

    # The classes are [1, 2] with 1 (good) favourable: its probability is column 0.
    assert list(model.classes_) == [1, 2]
    scores = model.predict_proba(german[features])[:, 0]
    y_true = (german["credit"] == 1).astype(int).to_numpy()
    y_pred = (model.predict(german[features]) == 1).astype(int)
    age_band = fa.band_labels(german["age"], fa.AGE_CUTS).to_numpy()
    assert result.metrics["age.equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, sensitive_features=age_band), rel=1e-12
    )
    means = MetricFrame(
        metrics=mean_prediction, y_true=y_true, y_pred=scores, sensitive_features=age_band
    )
    rows = {r["group"]: r for r in result.tables["groups"] if r["attribute"] == "age"}
    for group, mean in means.by_group.items():
        observed = y_true[age_band == group].mean()
        assert rows[group]["mean_predicted"] == pytest.approx(mean, rel=1e-12)
        assert rows[group]["calibration_error"] == pytest.approx(observed - mean, rel=1e-12)

    crossed = german["foreign_worker"].to_numpy() + " & " + age_band
    counts = pd.Series(crossed).value_counts()
    big = np.isin(crossed, counts[counts >= 30].index)
    name = "foreign_worker & age"
    assert result.metrics[f"{name}.n_groups_excluded"] == int((counts < 30).sum())
    assert result.metrics[f"{name}.demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true[big], y_pred[big], sensitive_features=crossed[big]),
        rel=1e-12,
    )


def test_no_group_selected_gives_undefined_ratio_not_nan():
    result = run_fixed([1, 0] * 40, [0] * 80, ["a"] * 40 + ["b"] * 40)

    assert result.metrics["group.disparate_impact_ratio"] is None
    assert result.metrics["group.demographic_parity_difference"] == 0.0
    assert "no group is ever selected; the disparate impact ratio is undefined" in (
        messages(result)
    )
    assert result.figures[0].threshold is None
    json.dumps(result.to_dict(), allow_nan=False)


# --- every rate per group, by hand and against Fairlearn ---------------------------------------

# Group a: TP 4, FN 2, FP 1, TN 3. Group b: TP 2, FN 2, FP 3, TN 3.
HAND_TRUE = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0] + [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
HAND_PRED = [1, 1, 1, 1, 0, 0, 1, 0, 0, 0] + [1, 1, 0, 0, 1, 1, 1, 0, 0, 0]
HAND_GROUP = ["a"] * 10 + ["b"] * 10
SMALL = {"min_group_size": 1, "min_group_positives": 1, "min_group_negatives": 1}


def test_per_group_rates_and_gaps_by_hand():
    result = run_fixed(HAND_TRUE, HAND_PRED, HAND_GROUP, **SMALL)
    rows = {r["group"]: r for r in result.tables["groups"]}

    assert rows["a"]["true_positive_rate"] == pytest.approx(4 / 6)
    assert rows["a"]["false_negative_rate"] == pytest.approx(2 / 6)
    assert rows["a"]["false_positive_rate"] == pytest.approx(1 / 4)
    assert rows["a"]["precision"] == pytest.approx(4 / 5)
    assert rows["b"]["true_positive_rate"] == pytest.approx(0.5)
    assert rows["b"]["false_positive_rate"] == pytest.approx(0.5)
    assert rows["b"]["precision"] == pytest.approx(0.4)
    assert (rows["a"]["n_predicted_positive"], rows["b"]["n_negative"]) == (5, 6)
    assert rows["a"]["impact_ratio"] == rows["b"]["impact_ratio"] == 1.0
    metrics = result.metrics
    assert metrics["group.equal_opportunity_difference"] == pytest.approx(1 / 6)
    assert metrics["group.false_positive_rate_difference"] == pytest.approx(0.25)
    assert metrics["group.equalized_odds_difference"] == pytest.approx(0.25)
    assert metrics["group.precision_difference"] == pytest.approx(0.4)
    assert metrics["group.demographic_parity_difference"] == 0.0
    assert metrics["group.demographic_parity_ratio"] == metrics["group.disparate_impact_ratio"]
    assert result.status == "fail"
    assert "group: equalized odds difference 0.250 is above the maximum 0.2" in messages(result)
    assert "group: precision difference 0.400 is above the maximum 0.2" in messages(result)


def test_too_few_positives_is_insufficient_evidence_with_counts():
    thresholds = {**SMALL, "min_group_positives": 5}

    result = run_fixed(HAND_TRUE, HAND_PRED, HAND_GROUP, **thresholds)

    assert result.metrics["group.equal_opportunity_difference"] is None
    assert result.metrics["group.equalized_odds_difference"] is None
    assert result.metrics["group.false_positive_rate_difference"] == pytest.approx(0.25)
    assert result.metrics["group.precision_difference"] == pytest.approx(0.4)
    assert (
        "group: insufficient evidence: group 'b' has 4 positive rows among 10 (needs at least "
        "5), so its true positive rate is not judged; left out of the equal opportunity and "
        "equalized odds differences"
    ) in messages(result)
    rows = {r["group"]: r for r in result.tables["groups"]}
    assert rows["b"]["insufficient"] == ["true_positive_rate"]
    assert rows["b"]["true_positive_rate"] == 0.5  # reported, but not judged
    assert rows["a"]["insufficient"] == []


def test_insufficient_evidence_alone_never_passes():
    y_true = [1, 0] * 40
    groups = ["a"] * 40 + ["b"] * 40

    result = run_fixed(y_true, y_true, groups, min_group_negatives=50)

    assert result.metrics["group.demographic_parity_difference"] == 0.0
    assert result.metrics["group.equalized_odds_difference"] is None
    assert result.status == "warn"
    assert "group 'a' has 20 negative rows among 40 (needs at least 50)" in messages(result)


def fairlearn_frame(y_true, y_pred, groups):
    return MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
            "precision": fa.precision,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_rate_and_gap_equals_fairlearn(seed):
    y_true, y_pred, groups = random_case(seed)

    result = run_fixed(y_true, y_pred, groups)

    reference = fairlearn_frame(y_true, y_pred, groups)
    rows = {r["group"]: r for r in result.tables["groups"]}
    for group, expected in reference.by_group.iterrows():
        for column, value in expected.items():
            assert rows[group][column] == pytest.approx(value, rel=1e-12), (group, column)
    kwargs = {"sensitive_features": groups}
    assert result.metrics["group.equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kwargs), rel=1e-12
    )
    assert result.metrics["group.false_positive_rate_difference"] == pytest.approx(
        false_positive_rate_difference(y_true, y_pred, **kwargs), rel=1e-12
    )
    assert result.metrics["group.precision_difference"] == pytest.approx(
        reference.difference()["precision"], rel=1e-12
    )
    assert result.metrics["group.demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, **kwargs), rel=1e-12
    )


# --- calibration -------------------------------------------------------------------------------


class FixedProbaModel:
    """Returns a fixed probability of class 1 per row, looked up by the ``row`` feature."""

    classes_ = np.array([0, 1])

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, dtype=float)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        p = self.probabilities[features["row"].to_numpy(dtype=int)]
        return np.column_stack([1 - p, p])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)


# Group a: 5 rows at 0.7 all positive (error +0.3), 5 at 0.1 none positive (error -0.1).
# Group b: 5 rows at 0.7 with 2 positive (error -0.3), 5 at 0.1 with 1 positive (error +0.1).
CAL_PROBA = [0.7] * 5 + [0.1] * 5 + [0.7] * 5 + [0.1] * 5
CAL_TRUE = [1] * 5 + [0] * 5 + [1, 1, 0, 0, 0] + [1, 0, 0, 0, 0]
CAL_GROUP = ["a"] * 10 + ["b"] * 10


def run_proba(y_true, probabilities, groups, name="group", **thresholds):
    frame = pd.DataFrame({"row": range(len(y_true)), "y": y_true, name: groups})
    model = FixedProbaModel(probabilities)
    inp = CheckInput(frame, "y", ["row"], [name], model=model)
    return fa.check_fairness(inp, thresholds)


def test_calibration_gap_by_hand():
    binned = run_proba(CAL_TRUE, CAL_PROBA, CAL_GROUP, **SMALL, min_calibration_bin_size=5)
    overall = run_proba(CAL_TRUE, CAL_PROBA, CAL_GROUP, **SMALL, min_calibration_bin_size=6)

    rows = {r["group"]: r for r in binned.tables["groups"]}
    assert rows["a"]["calibration_error"] == pytest.approx(0.1)
    assert rows["b"]["calibration_error"] == pytest.approx(-0.1)
    assert binned.metrics["group.calibration_gap"] == pytest.approx(0.6)
    assert binned.metrics["group.calibration_gap_bin"] == "0.6-0.8"
    assert overall.metrics["group.calibration_gap"] == pytest.approx(0.2)
    assert overall.metrics["group.calibration_gap_bin"] == "all"
    assert "group: calibration gap 0.600 is above the maximum 0.1 (probability bin 0.6-0.8)" in (
        messages(binned)
    )
    compared = [r for r in binned.tables["calibration"] if r["compared"]]
    assert {(r["group"], r["bin"]) for r in compared} == {
        ("a", "0-0.2"), ("a", "0.6-0.8"), ("b", "0-0.2"), ("b", "0.6-0.8"),
    }  # fmt: skip


def test_calibration_bins_equal_scikit_learn_and_fairlearn():
    rng = np.random.default_rng(3)
    n = 600
    groups = rng.choice(["x", "y"], size=n)
    scores = rng.random(n)
    scores[:5] = [0.2, 0.4, 0.6, 0.8, 1.0]  # on the edges: they belong to the lower bin
    y_true = (rng.random(n) < scores * np.where(groups == "x", 1.0, 0.8)).astype(int)

    calibration = fa.calibration_by_group(y_true, scores, groups, n_bins=5)

    means = MetricFrame(
        metrics=mean_prediction, y_true=y_true, y_pred=scores, sensitive_features=groups
    )
    for group in ("x", "y"):
        mine = calibration.bins[calibration.bins["group"] == group]
        prob_true, prob_pred = calibration_curve(
            y_true[groups == group], scores[groups == group], n_bins=5
        )
        np.testing.assert_allclose(mine["observed_rate"], prob_true, rtol=1e-12)
        np.testing.assert_allclose(mine["mean_predicted"], prob_pred, rtol=1e-12)
        row = calibration.by_group.loc[group]
        assert row["mean_predicted"] == pytest.approx(means.by_group[group], rel=1e-12)
        assert row["observed_rate"] == pytest.approx(y_true[groups == group].mean(), rel=1e-12)


def test_model_without_probabilities_skips_calibration_with_a_finding():
    result = run_fixed(HAND_TRUE, HAND_PRED, HAND_GROUP, **SMALL)

    assert result.metrics["group.calibration_gap"] is None
    assert result.tables["calibration"] == []
    assert "the model has no predict_proba; calibration is not assessed" in messages(result)
    assert [f.name for f in result.figures] == [
        "selection_rate_group", "true_positive_rate_group", "false_positive_rate_group",
    ]  # fmt: skip


def test_rate_figures_draw_the_allowed_limits():
    result = run_proba(CAL_TRUE, CAL_PROBA, CAL_GROUP, **SMALL)
    figures = {f.name: f for f in result.figures}

    rows = {r["group"]: r for r in result.tables["groups"]}
    tpr, fpr = figures["true_positive_rate_group"], figures["false_positive_rate_group"]
    best_tpr = max(rows["a"]["true_positive_rate"], rows["b"]["true_positive_rate"])
    low_fpr = min(rows["a"]["false_positive_rate"], rows["b"]["false_positive_rate"])
    assert tpr.threshold == pytest.approx(best_tpr - 0.1)
    assert fpr.threshold == pytest.approx(low_fpr + 0.2)
    calibration = figures["calibration_group"]
    assert calibration.kind == "line"
    assert [s.name for s in calibration.series] == ["perfectly calibrated", "a", "b"]
    assert calibration.series[1].x == pytest.approx([0.1, 0.7])
    assert calibration.series[1].y == pytest.approx([0.0, 1.0])


# --- intersections and bands -------------------------------------------------------------------


def two_attribute_case(seed: int, n: int = 1200):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["f", "m"], size=n, p=[0.4, 0.6])
    region = rng.choice(["north", "south", "west"], size=n)
    bias = np.where(sex == "f", -0.1, 0.05) + np.where(region == "south", 0.1, 0.0)
    y_true = (rng.random(n) < 0.5).astype(int)
    y_pred = (rng.random(n) < 0.5 + bias).astype(int)
    return y_true, y_pred, sex, region


def run_two(y_true, y_pred, sex, region, **thresholds):
    frame = pd.DataFrame({"row": range(len(y_true)), "y": y_true, "sex": sex, "region": region})
    inp = CheckInput(frame, "y", ["row"], ["sex", "region"], model=FixedModel(y_pred))
    return fa.check_fairness(inp, thresholds)


@pytest.mark.parametrize("seed", [0, 5])
def test_intersection_gaps_equal_fairlearn_on_two_columns(seed):
    y_true, y_pred, sex, region = two_attribute_case(seed)

    result = run_two(y_true, y_pred, sex, region)

    both = pd.DataFrame({"sex": sex, "region": region})
    kwargs = {"sensitive_features": both}
    name = "sex & region"
    assert result.metrics[f"{name}.n_groups"] == 6
    assert result.metrics[f"{name}.demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kwargs), rel=1e-12
    )
    assert result.metrics[f"{name}.equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kwargs), rel=1e-12
    )
    assert result.metrics[f"{name}.equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kwargs), rel=1e-12
    )
    reference = fairlearn_frame(y_true, y_pred, both)
    rows = {r["group"]: r for r in result.tables["groups"] if r["attribute"] == name}
    for (s, r), expected in reference.by_group.iterrows():
        assert rows[f"{s} & {r}"]["selection_rate"] == pytest.approx(expected["selection_rate"])
        assert rows[f"{s} & {r}"]["intersectional"] is True
    assert result.metrics["n_intersections"] == 1


def test_every_combination_of_three_attributes_is_checked():
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "row": range(n),
            "y": rng.integers(0, 2, n),
            "sex": rng.choice(["f", "m"], n),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["n", "s"], n),
        }
    )
    inp = CheckInput(
        frame, "y", ["row"], ["sex", "age", "region"], model=FixedModel(rng.integers(0, 2, n))
    )

    result = fa.check_fairness(inp, {})

    attributes = list(dict.fromkeys(r["attribute"] for r in result.tables["groups"]))
    assert attributes == [
        "sex", "age", "region", "sex & age", "sex & region", "age & region",
        "sex & age & region",
    ]  # fmt: skip
    groups = [r["group"] for r in result.tables["groups"] if r["attribute"] == "sex & age"]
    assert groups[:4] == ["f & <25", "f & 25-39", "f & 40-59", "f & 60+"]
    small = [f for f in result.findings if f.subject == "sex & age & region"]
    assert any("insufficient evidence" in f.message for f in small)
    assert result.status != "pass"
    assert [f.name for f in result.figures if f.name.startswith("selection_rate_")][-1] == (
        "selection_rate_sex & age & region"
    )


def test_band_keys_cut_a_numeric_attribute():
    age = np.tile(np.arange(18, 78), 4)
    y = np.tile([1, 0], 120)

    result = run_fixed(y, y, age, name="age", **{"band.age.1": 30, "band.age.2": 50})

    sizes = {r["group"]: r["count"] for r in result.tables["groups"]}
    assert sizes == {"<30": 48, "30-49": 80, "50+": 112}
    assert fa.band_names([2.5, 4.0]) == ["<2.5", "2.5 to <4", ">=4"]
    assert fa.band_labels([2.5, 1.0, None, 9.0], [2.5, 4.0]).tolist() == [
        "2.5 to <4", "<2.5", "(missing)", ">=4",
    ]  # fmt: skip


def test_band_keys_are_validated():
    with pytest.raises(ValidationError, match=r"threshold key 'band.height.1': expected band"):
        run_fixed([1, 0], [1, 0], [20, 30], name="age", **{"band.height.1": 30})
    with pytest.raises(ValidationError, match=r"band.group.<n> bin a numeric attribute"):
        run_fixed([1, 0], [1, 0], ["a", "b"], **{"band.group.1": 30})


def test_bad_settings_are_refused():
    with pytest.raises(ValidationError, match=r"calibration_bins must be a whole number >= 1"):
        run_fixed([1, 0], [1, 0], ["a", "b"], calibration_bins=2.5)
    with pytest.raises(ValidationError, match=r"min_group_positives must be >= 0; got -1"):
        run_fixed([1, 0], [1, 0], ["a", "b"], min_group_positives=-1)


# --- the mitigation suggestion -----------------------------------------------------------------


def test_failure_suggests_mitigate_with_the_matching_constraint():
    failing = run_fixed(HAND_TRUE, HAND_PRED, HAND_GROUP, **SMALL)
    y_true = [1, 0] * 50
    y_pred = [1] * 40 + [0] * 10 + [1] * 10 + [0] * 40
    parity = run_fixed(
        y_true, y_pred, ["a"] * 50 + ["b"] * 50, max_equalized_odds_difference=0.9,
        max_equal_opportunity_difference=0.9,
    )  # fmt: skip
    passing = run_fixed(
        HAND_TRUE, HAND_PRED, HAND_GROUP, **SMALL, max_equalized_odds_difference=0.3,
        max_equal_opportunity_difference=0.3, max_precision_difference=0.5,
    )  # fmt: skip

    assert failing.findings[-1].severity == "info"
    assert "`mlgate mitigate --constraint equalized_odds`" in failing.findings[-1].message
    assert "`mlgate mitigate --constraint demographic_parity`" in messages(parity)
    assert passing.status == "pass"
    assert "mlgate mitigate" not in messages(passing)
