"""Tests for the slices check: planted weak subgroups, Wilson intervals, the pair search."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, recall_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.checks import slices
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.demo.data import load_german_credit, split
from mlgate.errors import ValidationError


class SignModel:
    """Predicts 1 when ``x1`` is positive; it has no ``predict_proba``."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (features["x1"].to_numpy() > 0).astype(int)


def planted_frame(n: int = 1200, seed: int = 0, flip: float = 0.5) -> pd.DataFrame:
    """Regions A-D and two numeric columns; region D's labels are flipped with ``flip``.

    Eight more rows of region E have every label flipped: a tiny, fully wrong slice.
    """
    rng = np.random.default_rng(seed)
    region = rng.choice(["A", "B", "C", "D"], size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 > 0).astype(int)
    flipped = (region == "D") & (rng.random(n) < flip)
    y[flipped] = 1 - y[flipped]
    frame = pd.DataFrame({"region": region, "x1": x1, "x2": x2, "y": y})

    tiny_x1 = rng.normal(size=8)
    tiny = pd.DataFrame(
        {"region": "E", "x1": tiny_x1, "x2": rng.normal(size=8), "y": (tiny_x1 <= 0).astype(int)}
    )
    return pd.concat([frame, tiny], ignore_index=True)


def run(frame, model=None, features=("region", "x1", "x2"), **thresholds) -> CheckResult:
    inp = CheckInput(frame, "y", list(features), model=model or SignModel())
    return slices.check_slices(inp, thresholds)


def flagged(result: CheckResult) -> list:
    return [f for f in result.findings if f.severity in ("warn", "fail")]


# --- planted faults ---------------------------------------------------------------------------


def test_noisy_category_fails_and_tiny_noisy_slice_is_only_listed():
    frame = planted_frame()

    result = run(frame)

    assert result.status == "fail"
    worst = next(r for r in result.tables["worst_slices"] if r["metric"] == "accuracy")
    assert worst["slice"].startswith("region = D")
    single = next(
        r
        for r in result.tables["worst_slices"]
        if r["slice"] == "region = D" and r["metric"] == "accuracy"
    )
    rows = frame["region"] == "D"
    expected = accuracy_score(frame.loc[rows, "y"], SignModel().predict(frame[rows]))
    assert single["value"] == pytest.approx(expected)
    assert single["size"] == int(rows.sum())
    assert single["verdict"] == "fail"

    assert not [f for f in flagged(result) if "region = E" in f.message]
    small = {r["metric"]: r for r in result.tables["too_small"] if r["slice"] == "region = E"}
    assert (small["accuracy"]["size"], small["accuracy"]["value"]) == (8, 0.0)
    assert (small["accuracy"]["verdict"], small["accuracy"]["needed"]) == ("too small", 30)
    notes = [f.message for f in result.findings if f.severity == "info"]
    assert any("'region = E'" in m and "8 rows" in m and "30 needed" in m for m in notes)
    assert result.metrics["worst_slice"].startswith("region = D")


def test_mildly_noisy_category_warns():
    result = run(planted_frame(flip=0.2, seed=1), pair_budget=0)

    assert result.status == "warn"
    subjects = {f.subject for f in flagged(result)}
    assert "region = D" in subjects
    assert all(s.startswith("region = D") for s in subjects)
    assert result.metrics["n_pairs"] == 0


def test_degradation_only_in_a_pair_is_found_by_the_pair_search():
    rng = np.random.default_rng(2)
    n = 1600
    region = rng.choice(["A", "B", "C", "D"], size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 > 0).astype(int)
    corner = (region == "A") & (x2 > np.quantile(x2, 0.75))
    flip = corner & (rng.random(n) < 0.4)
    y[flip] = 1 - y[flip]
    frame = pd.DataFrame({"region": region, "x1": x1, "x2": x2, "y": y})

    result = run(frame)

    degraded = [f.subject for f in flagged(result)]
    assert degraded
    assert all(" & " in s for s in degraded)
    assert any("region = A" in s and "x2 in (" in s for s in degraded)


def test_clean_model_passes():
    frame = planted_frame(flip=0.0).iloc[:-8]

    result = run(frame)

    assert result.status == "pass"
    assert result.metrics["n_degraded"] == 0
    assert result.metrics["overall_accuracy"] == 1.0


# --- the numbers ------------------------------------------------------------------------------


def test_intervals_are_scipy_wilson_intervals():
    result = run(planted_frame(seed=3))

    rows = result.tables["worst_slices"] + result.tables["too_small"]
    family = result.metrics["tests_in_family"]
    level = 1 - 0.05 / family
    assert family > 10
    assert result.metrics["interval_confidence_level"] == pytest.approx(level)
    assert len(rows) > 10
    for row in rows:
        hits = round(row["value"] * row["size"])
        ci = binomtest(hits, row["size"]).proportion_ci(confidence_level=level, method="wilson")
        assert row["ci_low"] == pytest.approx(ci.low, abs=1e-12)
        assert row["ci_high"] == pytest.approx(ci.high, abs=1e-12)


def test_overall_metrics_equal_sklearn():
    frame = planted_frame(seed=4)
    predictions = SignModel().predict(frame)

    result = run(frame)

    assert result.metrics["overall_accuracy"] == pytest.approx(
        accuracy_score(frame["y"], predictions)
    )
    assert result.metrics["overall_recall"] == pytest.approx(recall_score(frame["y"], predictions))


def test_slice_without_positive_rows_has_accuracy_only():
    rng = np.random.default_rng(5)
    x1 = rng.normal(size=300)
    region = np.where(np.arange(300) < 60, "N", rng.choice(["P", "Q"], size=300))
    y = np.where(region == "N", 0, (x1 > 0).astype(int))
    frame = pd.DataFrame({"region": region, "x1": x1, "y": y})

    result = run(frame, features=["region", "x1"], pair_budget=0, degradation_to_flag=0.0)

    metrics = {r["metric"] for r in result.tables["worst_slices"] if r["slice"] == "region = N"}
    assert metrics == {"accuracy"}


def test_bar_figure_shows_the_lowest_slices_against_overall():
    result = run(planted_frame(seed=6))

    figure = result.figures[0]
    assert figure.kind == "bar"
    assert figure.threshold == pytest.approx(result.metrics["overall_accuracy"])
    assert figure.series[0].x[0].startswith("region = D")
    assert figure.series[0].y == sorted(figure.series[0].y)


# --- the search -------------------------------------------------------------------------------


def test_one_feature_slices_levels_quartiles_missing_and_constant():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "level": rng.choice(["x", "y"], size=100),
            "amount": np.r_[np.arange(1.0, 91.0), [np.nan] * 10],
            "flat": 1.0,
            "rate": rng.choice([1, 2, 3], size=100),
        }
    )

    found, skipped = slices.one_feature_slices(frame, ["level", "amount", "flat", "rate"])

    names = [s.description for s in found]
    assert names == [
        "level = x",
        "level = y",
        "amount in [1, 23.25]",
        "amount in (23.25, 45.5]",
        "amount in (45.5, 67.75]",
        "amount in (67.75, 90]",
        "amount is missing",
        "rate = 1",
        "rate = 2",
        "rate = 3",
    ]
    amount = [s.size for s in found if s.features == ("amount",)]
    assert amount == [23, 22, 22, 23, 10]
    assert skipped == []


def test_identifiers_and_free_text_are_not_sliced_nor_printed():
    frame = planted_frame(seed=8)
    frame["customer_id"] = [f"C{i:05d}" for i in range(len(frame))]
    frame["note"] = [f"free text {i}" for i in range(len(frame))]

    result = run(frame, features=["region", "x1", "x2", "customer_id", "note"])

    skipped = {f.subject for f in result.findings if "not sliced" in f.message}
    assert skipped == {"customer_id", "note"}
    text = json.dumps(result.to_dict())
    assert "C00012" not in text
    assert "free text 3" not in text


def test_pair_budget_is_respected_and_the_search_is_deterministic():
    frame = planted_frame(seed=9)

    first, second = run(frame, pair_budget=5), run(frame, pair_budget=5)

    assert first.metrics["n_pairs"] == 5
    assert first.to_dict() == second.to_dict()
    assert run(frame, pair_budget=500).metrics["n_pairs"] > 5


def test_pairs_are_visited_by_rank_sum_and_skip_same_feature_pairs():
    size = 60
    masks = {
        "a = 1": np.r_[np.ones(30), np.zeros(30)].astype(bool),
        "a = 2": np.r_[np.zeros(30), np.ones(30)].astype(bool),
        "b = 1": np.tile([True, False], 30),
        "c = 1": np.tile([True, True, False], 20),
    }
    singles = [slices.Slice(name, (name[0],), mask) for name, mask in masks.items()]
    accuracy = {"a = 1": 0.5, "a = 2": 0.6, "b = 1": 0.7, "c = 1": 0.8}
    rows = [{"slice": k, "metric": "accuracy", "value": v} for k, v in accuracy.items()]

    pairs = [p.description for p in slices.pair_slices(singles, rows, 10, 1)]

    assert pairs == [
        "a = 1 & b = 1",
        "a = 1 & c = 1",
        "a = 2 & b = 1",
        "a = 2 & c = 1",
        "b = 1 & c = 1",
    ]
    assert all(p.mask.size == size for p in slices.pair_slices(singles, rows, 10, 1))
    assert len(list(slices.pair_slices(singles, rows, 2, 1))) == 2
    assert list(slices.pair_slices(singles, rows, 10, 31)) == []


# --- edge cases and German credit -------------------------------------------------------------


def test_missing_feature_values_give_their_own_slice_with_a_model_that_accepts_them():
    frame = planted_frame(seed=10)
    frame.loc[frame.index[:40], "x2"] = np.nan

    result = run(frame, degradation_to_flag=0.0, pair_budget=0)

    assert any(r["slice"] == "x2 is missing" for r in result.tables["worst_slices"])


def test_holdout_is_preferred_over_data():
    holdout = planted_frame(seed=11)
    clean = planted_frame(seed=11, flip=0.0).iloc[:-8]
    inp = CheckInput(clean, "y", ["region", "x1", "x2"], model=SignModel(), holdout=holdout)

    result = slices.check_slices(inp, {})

    assert result.status == "fail"
    assert result.metrics["n_rows"] == len(holdout)


def test_german_credit_gives_finite_numbers():
    frame = load_german_credit()
    train, holdout, _ = split(frame)
    features = [c for c in frame.columns if c not in ("good_credit", "sex", "age_group")]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
        ),
        LogisticRegression(max_iter=1000),
    ).fit(train[features], train["good_credit"])
    inp = CheckInput(
        train, "good_credit", features, sensitive=["sex"], model=model, holdout=holdout
    )

    result = slices.check_slices(inp, {})

    numbers = [v for v in result.metrics.values() if isinstance(v, float)]
    assert len(numbers) == 5
    assert all(math.isfinite(v) for v in numbers)
    assert result.metrics["n_rows"] == len(holdout)
    searched, _ = slices.one_feature_slices(holdout, [*features, "sex"])
    assert result.metrics["n_slices"] == len(searched)
    assert {"sex = female", "sex = male"} <= {s.description for s in searched}
    json.dumps(result.to_dict(), allow_nan=False)


def test_bad_input_is_named():
    frame = planted_frame()
    with pytest.raises(ValidationError, match=r"^slices needs a fitted model"):
        slices.check_slices(CheckInput(frame, "y"), {})
    with pytest.raises(
        ValidationError, match=r"^pair_budget must be a whole number >= 0; got 1.5"
    ):
        run(frame, pair_budget=1.5)
    with pytest.raises(ValidationError, match=r"^confidence_level must be in \(0, 1\); got 1"):
        run(frame, confidence_level=1)
    with pytest.raises(ValidationError, match=r"the target 'y' has 1 missing value"):
        run(frame.assign(y=frame["y"].astype(float).where(frame.index > 0)))


def test_spec_is_registered_with_its_defaults():
    from mlgate.checks import get_check

    spec = get_check("slices")
    assert spec is slices.SPEC
    assert (spec.needs_model, spec.needs_reference, spec.needs_holdout) == (True, False, False)
    assert spec.defaults["slice_rows_needed"] == 30
    assert spec.defaults["degradation_to_flag"] == 0.10


def test_family_confidence_is_bonferroni():
    assert slices.family_confidence(0.95, 1) == pytest.approx(0.95)
    assert slices.family_confidence(0.95, 100) == pytest.approx(0.9995)
    assert slices.family_confidence(0.9, 0) == pytest.approx(0.9)
