"""Cross-validation schemes give scikit-learn's folds, and fold scores match scikit-learn's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, roc_auc_score
from sklearn.model_selection import (
    GroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_score,
)

from mlgate.config import CvConfig
from mlgate.errors import ValidationError
from mlgate.training import Scorer, fold_scores, make_splits, pipeline_spec, split_columns


def _frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    start = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {
            "x": x,
            "colour": rng.choice(["red", "blue"], size=n),
            "customer": rng.integers(0, 15, size=n),
            "when": start + pd.to_timedelta(rng.permutation(n), unit="D"),
            "y": (x + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


def _same(ours: list, theirs: list) -> None:
    assert len(ours) == len(theirs)
    for (fit, held), (fit_ref, held_ref) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(fit, fit_ref)
        np.testing.assert_array_equal(held, held_ref)


def test_stratified_folds_equal_sklearn_stratified_kfold() -> None:
    frame = _frame()
    ours = make_splits(frame, "y", CvConfig(folds=4), {}, seed=11)

    reference = StratifiedKFold(n_splits=4, shuffle=True, random_state=11)
    _same(ours, list(reference.split(frame, frame["y"])))


def test_group_folds_equal_sklearn_group_kfold_and_keep_groups_whole() -> None:
    frame = _frame()
    cv = CvConfig(scheme="group", folds=3, group_column="customer")
    ours = make_splits(frame, "y", cv, split_columns(cv, None), seed=0)

    reference = GroupKFold(n_splits=3).split(frame, frame["y"], frame["customer"])
    _same(ours, list(reference))
    for fit, held in ours:
        assert not set(frame["customer"].iloc[fit]) & set(frame["customer"].iloc[held])


def test_time_folds_equal_time_series_split_after_sorting_by_time() -> None:
    frame = _frame()
    cv = CvConfig(scheme="time", folds=4, time_column="when")
    ours = make_splits(frame, "y", cv, split_columns(cv, None), seed=0)

    ordered = frame.sort_values("when", kind="stable")
    positions = ordered.index.to_numpy()
    reference = [
        (positions[fit], positions[held]) for fit, held in TimeSeriesSplit(4).split(ordered)
    ]
    _same(ours, reference)
    for fit, held in ours:
        assert frame["when"].iloc[fit].max() < frame["when"].iloc[held].min()


def test_time_folds_of_iso_text_dates_follow_the_dates() -> None:
    frame = _frame()
    as_text = frame.assign(when=frame["when"].dt.strftime("%Y-%m-%d"))
    cv = CvConfig(scheme="time", folds=3, time_column="when")

    _same(
        make_splits(as_text, "y", cv, split_columns(cv, None), seed=0),
        make_splits(frame, "y", cv, split_columns(cv, None), seed=0),
    )


def test_time_scheme_takes_the_contract_timestamp_column() -> None:
    contract = {
        "columns": [{"name": "x", "timestamp": False}, {"name": "when", "timestamp": True}]
    }

    assert split_columns(CvConfig(scheme="time"), contract) == {"time_column": "when"}
    assert split_columns(CvConfig(scheme="time", time_column="x"), contract) == {
        "time_column": "x"
    }


@pytest.mark.parametrize(
    ("contract", "found"),
    [
        (None, "the dataset has no data contract marking a timestamp column"),
        ({"columns": [{"name": "x"}]}, "its data contract marks no column timestamp: true"),
        (
            {"columns": [{"name": "a", "timestamp": True}, {"name": "b", "timestamp": True}]},
            "its data contract marks 2 timestamp columns (a, b)",
        ),
    ],
)
def test_time_scheme_without_a_time_column_is_refused(contract: dict | None, found: str) -> None:
    with pytest.raises(ValidationError) as raised:
        split_columns(CvConfig(scheme="time"), contract)

    assert raised.value.message == (
        f"mlgate.yaml training.cv scheme 'time' needs the column that orders the rows, and {found}"
    )
    assert raised.value.hint is not None
    assert "training.cv.time_column" in raised.value.hint


@pytest.mark.parametrize(
    ("cv", "change", "message"),
    [
        (CvConfig(folds=70), {}, "training.cv folds=70 but the smallest class"),
        (
            CvConfig(scheme="group", folds=20, group_column="customer"),
            {},
            "training.cv folds=20 but the group column 'customer' has only 15 group(s)",
        ),
        (
            CvConfig(scheme="group", group_column="nope"),
            {},
            "training.cv.group_column 'nope' is not a column of dataset 'train'; found x,",
        ),
        (
            CvConfig(scheme="group", group_column="y"),
            {},
            "training.cv.group_column 'y' is the target",
        ),
        (
            CvConfig(scheme="time", time_column="when"),
            {"when": None},
            "the time column 'when' has 1 missing value(s)",
        ),
        (
            CvConfig(scheme="time", time_column="colour"),
            {},
            "the time column 'colour' holds values that are neither numbers nor dates",
        ),
    ],
)
def test_unusable_split_settings_are_refused(cv: CvConfig, change: dict, message: str) -> None:
    frame = _frame()
    for column, value in change.items():
        frame[column] = frame[column].astype(object)
        frame.loc[0, column] = value

    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_splits(frame, "y", cv, split_columns(cv, None), seed=0)


def test_fold_scores_equal_sklearn_cross_val_score_on_the_same_splits() -> None:
    frame = _frame()
    features = ["x", "colour"]
    spec = pipeline_spec("sklearn.linear_model.LogisticRegression", {"C": 0.5}, 0, frame, features)
    splits = make_splits(frame, "y", CvConfig(folds=3), {}, seed=5)

    ours = fold_scores(
        spec, {"C": 0.2}, frame[features], frame["y"], splits, Scorer("roc_auc", 1, True)
    )
    reference = cross_val_score(
        spec.build({"C": 0.2}), frame[features], frame["y"], cv=splits, scoring="roc_auc"
    )

    np.testing.assert_allclose(ours.scores, reference, rtol=1e-12)
    assert ours.mean == pytest.approx(reference.mean())
    assert ours.std == pytest.approx(reference.std(ddof=1))


def test_scorer_equals_sklearn_scorer_for_numeric_labels() -> None:
    frame = _frame()
    model = LogisticRegression().fit(frame[["x"]], frame["y"])

    for metric in ("roc_auc", "accuracy", "f1", "average_precision", "neg_log_loss"):
        ours = Scorer(metric, 1, True)(model, frame[["x"]], frame["y"])
        assert ours == pytest.approx(get_scorer(metric)(model, frame[["x"]], frame["y"]))


def test_scorer_scores_the_positive_label_of_text_labels() -> None:
    frame = _frame()
    labels = frame["y"].map({1: "good", 0: "bad"})
    model = LogisticRegression().fit(frame[["x"]], labels)
    proba_bad = model.predict_proba(frame[["x"]])[:, list(model.classes_).index("bad")]

    ours = Scorer("roc_auc", "bad", True)(model, frame[["x"]], labels)

    assert ours == pytest.approx(roc_auc_score(labels == "bad", proba_bad))


def test_scorer_refuses_a_fold_with_one_class() -> None:
    frame = _frame()
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    one_class = frame[frame["y"] == 1]

    with pytest.raises(ValidationError) as raised:
        Scorer("roc_auc", 1, True)(model, one_class[["x"]], one_class["y"])

    assert raised.value.message == (
        "the metric roc_auc is nan on a fold with classes ['1']; a fold needs every class for "
        "this metric"
    )
