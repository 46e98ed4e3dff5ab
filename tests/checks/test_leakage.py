"""Tests for the leakage check: planted leaks on small frames, with answers worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from mlgate.checks import leakage as lk
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, target: str = "y", **kwargs):
    thresholds = kwargs.pop("thresholds", {})
    return lk.check_leakage(CheckInput(frame, target, **kwargs), thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


def labels(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


# --- single-feature AUC -----------------------------------------------------------------------


def test_rank_auc_equals_sklearn_with_ties_and_missing_is_lowest():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    scores = rng.integers(0, 10, 300).astype(float)  # many ties

    assert lk.rank_auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    with_nan = np.where(np.arange(300) % 7 == 0, np.nan, scores)
    as_lowest = np.where(np.isnan(with_nan), -1e9, with_nan)
    assert lk.rank_auc(with_nan, y) == pytest.approx(roc_auc_score(y, as_lowest), abs=1e-12)
    assert lk.rank_auc([0.1, 0.2], [1, 1]) is None


def test_planted_leaky_feature_fails_and_clean_feature_passes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    frame = pd.DataFrame(
        {"leaky": y + rng.normal(0, 0.01, 400), "clean": rng.normal(size=400), "y": y}
    )

    result = run(frame)

    clean_auc = roc_auc_score(y, frame["clean"])
    assert result.metrics["leaky.single_feature_auc"] == 1.0
    assert result.metrics["clean.single_feature_auc"] == pytest.approx(
        max(clean_auc, 1 - clean_auc)
    )
    assert result.metrics["clean.single_feature_auc"] < 0.6
    assert "feature leaky alone predicts the label (AUC 1.000 >= 0.98): likely leakage" in (
        messages(result)
    )
    assert "clean alone" not in messages(result)
    assert result.status == "fail"


def test_reverse_predictor_is_symmetric_and_limit_is_inclusive():
    # "half" by hand: the positives hold ranks 4 and 1 of 4, so U = 4 + 1 - 3 = 2 of 2 x 2.
    frame = pd.DataFrame({"rev": [4.0, 3.0, 2.0, 1.0], "half": [1, 2, 3, 0], "y": [0, 0, 1, 1]})

    result = run(frame, thresholds={"max_single_feature_auc": 1.0})

    assert roc_auc_score(frame["y"], frame["rev"]) == 0.0
    assert result.metrics["rev.single_feature_auc"] == 1.0
    assert result.metrics["half.single_feature_auc"] == 0.5
    assert "feature rev alone predicts the label (AUC 1.000 >= 1)" in messages(result)


def test_missingness_that_gives_the_label_away_is_caught():
    y = labels(300)
    values = np.where(y == 1, np.nan, np.random.default_rng(2).normal(size=300))
    frame = pd.DataFrame({"score": values, "y": y})

    result = run(frame)

    assert result.metrics["score.single_feature_auc"] == 1.0
    assert result.status == "fail"


def test_categorical_feature_uses_out_of_fold_target_encoding():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    frame = pd.DataFrame(
        {
            "decision": np.where(y == 1, "approved", "declined"),
            "colour": rng.choice(["red", "green", "blue"], 300),
            "y": y,
        }
    )

    result = run(frame)

    assert result.metrics["decision.single_feature_auc"] == 1.0
    assert result.metrics["colour.single_feature_auc"] < 0.6
    assert next(r for r in result.tables["features"] if r["feature"] == "colour")["kind"] == (
        "categorical"
    )
    assert "feature decision alone predicts the label" in messages(result)


def test_out_of_fold_encoding_never_sees_its_own_row():
    values = pd.Series(["a", "a", "b", "b", None, None, "c", "a", "b", "d"])
    y = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0, 1])

    encoded = lk.out_of_fold_encoding(values, y, seed=7)

    expected = np.empty(10)
    keys = values.fillna("(missing)")
    for fit, held in KFold(n_splits=5, shuffle=True, random_state=7).split(values):
        means = pd.Series(y[fit]).groupby(keys.iloc[fit].to_numpy()).mean()
        prior = y[fit].mean()
        expected[held] = keys.iloc[held].map(means).fillna(prior).to_numpy()
    np.testing.assert_allclose(encoded, expected)
    # "d" occurs once: it is always encoded with the positive share of the other folds
    fold = next(f for _, f in KFold(5, shuffle=True, random_state=7).split(values) if 9 in f)
    assert encoded[9] == pytest.approx(np.delete(y, fold).mean())


def test_single_class_label_leaves_aucs_undefined():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1, 1, 1]})

    result = run(frame)

    assert result.metrics["x.single_feature_auc"] is None
    assert result.metrics["max_single_feature_auc"] is None
    assert "the 3 labelled rows hold a single class; single-feature AUCs are undefined" in (
        messages(result)
    )
    json.dumps(result.to_dict(), allow_nan=False)


def test_string_label_with_positive_label_and_unlabelled_rows():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": ["no", "no", "yes", "yes", None]})

    result = run(frame, positive_label="yes", thresholds={"max_single_feature_auc": 1.01})

    assert result.metrics["x.single_feature_auc"] == 1.0
    assert "1 of 5 rows have no label and are left out of the single-feature AUCs" in (
        messages(result)
    )


# --- timestamps after the label time -----------------------------------------------------------


def time_frame() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = pd.DataFrame(
        {
            "opened_at": days,
            "closed_date": (days + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
            "response_time": np.arange(40.0),
            "label_time": days + pd.Timedelta(days=2),
            "y": labels(40, seed=4),
        }
    )
    frame.loc[[3, 7], "opened_at"] = pd.Timestamp("2030-01-01")
    frame.loc[[7, 9, 11], "closed_date"] = "2031-05-05"
    return frame


def test_feature_timestamps_after_the_label_time_fail_with_counts():
    result = run(time_frame())

    assert result.metrics["opened_at.late_timestamp_rows"] == 2
    assert result.metrics["closed_date.late_timestamp_rows"] == 3
    assert result.metrics["late_timestamp_rows"] == 4  # rows 3, 7, 9, 11
    assert "response_time.late_timestamp_rows" not in result.metrics
    assert "label_time.single_feature_auc" not in result.metrics  # not a feature by default
    assert (
        "feature opened_at is later than the label time label_time on 2 of 40 rows (5.0%)"
        in messages(result)
    )
    assert "feature closed_date is later than the label time" in messages(result)
    assert result.status == "fail"


def test_naive_and_utc_timestamps_compare_as_utc_and_missing_never_violates():
    frame = pd.DataFrame(
        {
            "paid_at": pd.to_datetime(["2024-01-01 10:00", None, "2024-01-01 12:00"]),
            "outcome_date": pd.to_datetime(
                ["2024-01-01 11:00", "2024-01-01 11:00", None]
            ).tz_localize("UTC"),
            "y": [0, 1, 0],
        }
    )

    result = run(frame)

    assert result.metrics["late_timestamp_rows"] == 0
    assert result.metrics["paid_at.late_timestamp_rows"] == 0


def test_without_a_label_time_column_timestamps_are_not_compared():
    frame = time_frame().drop(columns="label_time")

    result = run(frame)

    assert result.metrics["late_timestamp_rows"] is None
    assert "no label-time column (label_time, label_date" in messages(result)


# --- rows shared between training and hold-out -------------------------------------------------


def test_planted_shared_row_is_counted_even_across_int_and_float_dtypes():
    rng = np.random.default_rng(5)
    train = pd.DataFrame(
        {"a": rng.integers(0, 1000, 100), "b": rng.normal(size=100), "y": labels(100)}
    )
    holdout = pd.DataFrame(
        {"a": rng.integers(1000, 2000, 50).astype(float), "b": rng.normal(size=50), "y": 0}
    )
    holdout.loc[10, ["a", "b"]] = [float(train.loc[42, "a"]), train.loc[42, "b"]]

    result = run(train, holdout=holdout)

    assert lk.shared_rows(train[["a", "b"]], holdout[["a", "b"]]).nonzero()[0].tolist() == [10]
    assert (result.metrics["shared_rows"], result.metrics["shared_row_share"]) == (1, 0.02)
    assert (
        "1 of 50 hold-out rows (2.0%) also occur in the training data (same feature values; "
        "limit 1.0%)" in messages(result)
    )
    assert result.status == "fail"
    assert run(train, holdout=holdout, thresholds={"max_shared_row_share": 0.02}).status == (
        "pass"
    )


def test_without_holdout_shared_rows_are_not_checked():
    result = run(pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}))

    assert result.metrics["shared_rows"] is None
    assert "no hold-out frame given; shared rows not checked" in messages(result)


def test_holdout_without_a_feature_raises_naming_it():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4], "y": [0, 1]})

    with pytest.raises(
        ValidationError, match=r"^feature column\(s\) not in the hold-out data: b$"
    ):
        run(frame, holdout=frame.drop(columns="b"))


# --- identifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("customer_id", True),
        ("customerId", True),
        ("ID", True),
        ("uuid", True),
        ("account_number", True),
        ("api_key", True),
        ("number_of_items", False),
        ("paid", False),
        ("valid_flag", False),
        ("keyword", False),
    ],
)
def test_identifier_names(name, expected):
    assert lk.identifier_name(name) is expected


def test_identifier_columns_fail_and_ordinary_columns_do_not():
    rng = np.random.default_rng(6)
    n = 200
    frame = pd.DataFrame(
        {
            "customer_id": rng.permutation(n) + 10_000,
            "row": np.arange(n),  # unnamed, but distinct integers in a dense range
            "ref": [f"R{i:05d}" for i in rng.permutation(n)],
            "income": rng.integers(20_000, 200_000, n),  # near-unique, sparse range
            "height": rng.normal(170, 10, n),
            "store_id": rng.integers(0, 10, n),
            "id_verified": rng.integers(0, 2, n).astype(bool),
            "y": labels(n),
        }
    )

    result = run(frame)

    flagged = {r["feature"] for r in result.tables["features"] if r["identifier"]}
    assert flagged == {"customer_id", "row", "ref", "store_id"}
    assert (
        "identifier customer_id is used as a feature (its name marks an identifier); remove it "
        "from the features" in messages(result)
    )
    assert (
        "identifier row is used as a feature (100.0% of its 200 non-null values are distinct "
        "integers in a dense range)" in messages(result)
    )
    assert "identifier ref is used as a feature (100.0% of its 200 non-null values" in (
        messages(result)
    )
    store = next(f for f in result.findings if f.subject == "store_id")
    assert store.severity == "warn"
    assert "store_id looks like a code" in store.message
    assert result.metrics["n_identifier_features"] == 4


# --- contract: errors, metrics, figure ---------------------------------------------------------


def test_missing_target_raises():
    with pytest.raises(ValidationError, match=r"leakage check needs the target column; got None"):
        lk.check_leakage(CheckInput(pd.DataFrame({"a": [1]})), {})


def test_absent_positive_label_raises_listing_values():
    frame = pd.DataFrame({"a": [1, 2], "y": ["no", "maybe"]})

    with pytest.raises(
        ValidationError, match=r"positive_label 1 does not occur in the target 'y'"
    ):
        run(frame)


def test_target_among_features_raises():
    frame = pd.DataFrame({"a": [1, 2], "y": [0, 1]})

    with pytest.raises(ValidationError, match=r"the target 'y' is listed among the features"):
        run(frame, features=["a", "y"])


def test_figure_metrics_and_json():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 100)
    frame = pd.DataFrame({"a": rng.normal(size=100), "b": y * 2.0, "y": y})

    result = run(frame, thresholds={"max_single_feature_auc": 0.9})

    figure = result.figures[0]
    assert (figure.name, figure.kind, figure.threshold) == ("single_feature_auc", "bar", 0.9)
    assert figure.series[0].x == ["a", "b"]
    assert figure.series[0].y[1] == 1.0
    assert result.metrics["max_single_feature_auc"] == 1.0
    assert lk.SPEC.defaults == {
        "max_single_feature_auc": 0.98,
        "max_shared_row_share": 0.01,
        "min_identifier_distinct_share": 0.95,
    }
    assert (lk.SPEC.needs_model, lk.SPEC.needs_reference) == (False, False)
    json.dumps(result.to_dict(), allow_nan=False)
