"""Tests for the data-quality check: hand-computed frames and the shared cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from mlgate.checks import data_quality as dq
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, **thresholds: float):
    return dq.check_data_quality(CheckInput(frame), thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


def profile(result, column: str) -> dict:
    return next(p for p in result.tables["profile"] if p["column"] == column)


# --- BL-24: duplicate column names; index named like a column ----------------------------------


def test_duplicate_column_names_raise_naming_the_column_bl24():
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6], [7, 8, 9]], columns=["x", "x", "y"])

    with pytest.raises(ValidationError, match=r"^duplicate column name\(s\): x;"):
        run(frame)


def test_index_named_like_a_column_and_column_named_count_work_bl24():
    times = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    frame = pd.DataFrame({"TimeUTC": times, "v": [1, 2, 3], "count": [4, 5, 6]})
    frame = frame.set_index("TimeUTC", drop=False)

    result = run(frame)

    assert [p["column"] for p in result.tables["profile"]] == ["TimeUTC", "v", "count"]
    assert profile(result, "count")["mean"] == 5.0
    assert profile(result, "TimeUTC")["distinct"] == 3
    assert result.status == "pass"


# --- BL-22: one value plus NaN; all null ------------------------------------------------------


def test_single_value_column_reports_the_value_not_nan_bl22():
    values = np.full(1000, 5.0)
    values[0] = np.nan
    values[900:] = np.nan

    result = run(pd.DataFrame({"v": values}), max_missing_share=0.5, max_duplicate_share=1)

    assert "v: single value 5.0 (nulls ignored); 101 of 1000 rows are null (10.1% of all" in (
        messages(result)
    )
    assert result.metrics["v.missing_share_of_rows"] == pytest.approx(0.101)
    assert profile(result, "v")["distinct"] == 1
    assert profile(result, "v")["distinct_with_null"] == 2
    finding = next(f for f in result.findings if "single value" in f.message)
    assert finding.value == 5.0
    assert result.status == "warn"


def test_all_null_column_is_reported_as_all_null_bl22():
    result = run(pd.DataFrame({"w": [np.nan] * 10, "k": range(10)}))

    assert "w: all null (10 of 10 rows)" in messages(result)
    assert "single value" not in messages(result)
    assert "outliers not assessed" not in messages(result)
    assert result.metrics["w.missing_share_of_rows"] == 1.0
    assert result.status == "fail"


# --- BL-21: percentages carry their denominators ---------------------------------------------


def test_unexpected_share_uses_explicit_denominators_bl21a():
    status = pd.Series([None] * 650 + ["ok"] * 120 + ["weird"] * 230)

    result = dq.unexpected_values(status, {"ok"}, mostly=0.5)

    assert result.share_of_non_null == pytest.approx(0.65714286, rel=1e-6)
    assert result.share_of_rows == pytest.approx(0.23, rel=1e-6)
    assert result.missing_share == pytest.approx(0.65)
    assert result.passed is False


def test_unexpected_share_on_the_issue_figures_bl21a():
    n_null, n_unexpected, n_rows = 600_924, 211_608, 921_750
    n_ok = n_rows - n_null - n_unexpected
    status = pd.Series(
        np.repeat(np.array([None, "ok", "bad"], dtype=object), [n_null, n_ok, n_unexpected])
    )

    result = dq.unexpected_values(status, ["ok"], mostly=0.5)

    assert result.share_of_non_null == pytest.approx(0.65957248, rel=1e-6)
    assert result.share_of_rows == pytest.approx(0.22957201, rel=1e-6)


def test_all_non_null_unexpected_fails_on_non_null_share_bl21b():
    status = [None] * 75 + ["x"] * 25

    result = dq.unexpected_values(status, ["ok"], mostly=0.5)

    assert (result.share_of_non_null, result.share_of_rows) == (1.0, 0.25)
    assert result.passed is False


def test_spelling_variants_in_the_check_show_both_denominators_bl21():
    status = [None] * 650 + ["ok"] * 120 + ["OK"] * 115 + ["ok "] * 115

    result = run(pd.DataFrame({"status": status}), max_missing_share=0.9, max_duplicate_share=1)

    assert result.metrics["status.variant_share_of_non_null"] == pytest.approx(0.657142857)
    assert profile(result, "status")["variant_share_of_rows"] == pytest.approx(0.23)
    assert result.metrics["status.missing_share_of_rows"] == pytest.approx(0.65)
    assert "65.714% of 350 non-null values, 23.000% of all 1000 rows" in messages(result)
    assert result.status == "warn"


def test_unexpected_values_rejects_mostly_out_of_range():
    with pytest.raises(ValidationError, match=r"mostly must be in \[0, 1\]; got 1.5"):
        dq.unexpected_values([1], [1], mostly=1.5)


# --- missing values, types, duplicates --------------------------------------------------------


def test_missing_share_is_of_all_rows_and_fails_above_limit():
    frame = pd.DataFrame({"a": [1, None, None, None, 5, 6, 7, 8, 9, 10], "b": range(10)})

    result = run(frame)

    assert result.metrics["a.missing_share_of_rows"] == 0.3
    assert "a: 3 of 10 rows missing (30.0% of all rows; limit 20.0%)" in messages(result)
    assert result.status == "fail"
    assert run(frame, max_missing_share=0.3).status == "pass"


def test_mixed_type_object_column_warns_with_type_counts():
    frame = pd.DataFrame({"m": pd.Series([1, "a", "b", 2.5, None] * 10, dtype=object)})

    result = run(frame, max_missing_share=0.5, max_duplicate_share=1)

    assert "m: mixes value types (str 20, int 10, float 10 non-null values)" in messages(result)
    assert result.status == "warn"


def test_duplicate_rows_share_of_all_rows():
    frame = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6, 7, 8, 1, 2], "b": list("abcdefghab")})

    result = run(frame)

    assert result.metrics["duplicate_rows"] == 2
    assert result.metrics["duplicate_row_share"] == 0.2
    assert "2 of 10 rows repeat an earlier row (20.0% of all rows; limit 1.0%)" in (
        messages(result)
    )
    assert result.status == "fail"


def test_count_duplicate_rows_equals_pandas_duplicated():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 3, 500).astype(float),
            "b": rng.choice(np.array(["x", "y", None], dtype=object), 500),
            "c": pd.Series(rng.choice(np.array([1, "1", 2.0], dtype=object), 500)),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[::11, "a"] = -0.0

    assert dq.count_duplicate_rows(frame) == int(frame.duplicated().sum())
    assert dq.count_duplicate_rows(frame) > 0


# --- outliers ---------------------------------------------------------------------------------


def test_robust_z_outlier_by_hand():
    # median 0.5, MAD 2.5, reach 3.5 * 2.5 / 0.6745 = 12.97: fences [-12.47, 13.47];
    # a value <= 0 keeps the raw scale even though the column is skewed
    values = np.array([-4, -3, -2, -1, 0, 1, 2, 3, 4, 95], dtype=float)

    low, high, method = dq.outlier_fences(values)
    mask = dq.robust_outliers(values)

    assert method == "robust_z"
    assert low == pytest.approx(0.5 - 3.5 * 2.5 / 0.6745)
    assert high == pytest.approx(0.5 + 3.5 * 2.5 / 0.6745)
    assert mask.tolist() == [False] * 9 + [True]


def test_skewed_positive_column_is_judged_on_log_scale():
    rng = np.random.default_rng(3)
    amounts = rng.lognormal(mean=8.0, sigma=0.8, size=5000)
    raw_share = float(
        np.mean(
            np.abs(amounts - np.median(amounts))
            > 3.5 * np.median(np.abs(amounts - np.median(amounts))) / 0.6745
        )
    )
    planted = np.append(amounts, 1e9)

    low, high, method = dq.outlier_fences(planted)
    mask = dq.robust_outliers(planted)

    assert raw_share > 0.05  # the raw-scale rule would flag ordinary large amounts
    assert method == "robust_z_log"
    assert low > 0
    assert mask[-1]
    assert mask[:-1].mean() < 0.01


def test_iqr_fallback_when_mad_is_zero():
    # MAD 0 (six of ten equal the median 5); Q1 5, Q3 6.5, IQR 1.5: fences [2.75, 8.75];
    # the 0 keeps the raw scale
    values = np.array([0, 5, 5, 5, 5, 5, 5, 7, 8, 100], dtype=float)

    low, high, method = dq.outlier_fences(values)

    assert method == "iqr"
    assert (low, high) == pytest.approx((2.75, 8.75))
    assert dq.robust_outliers(values).sum() == 2  # 0 and 100


def test_outliers_not_assessed_without_spread():
    values = np.array([0.0] * 9 + [1.0])

    assert dq.outlier_fences(values) is None
    assert dq.robust_outliers(values) is None
    result = run(pd.DataFrame({"z": values}))
    assert result.metrics["z.outlier_share_of_non_null"] is None
    assert "z: most values are equal (MAD and IQR are 0); outliers not assessed" in (
        messages(result)
    )


def test_outlier_share_fails_above_limit_with_both_denominators():
    values = [-4, -3, -2, -1, 0, 1, 2, 3, 4, 95, None, None]
    frame = pd.DataFrame({"x": values, "k": range(12)})

    result = run(frame, max_missing_share=0.5)

    assert result.metrics["x.outlier_share_of_non_null"] == 0.1
    assert profile(result, "x")["outlier_share_of_rows"] == pytest.approx(1 / 12)
    assert profile(result, "x")["outlier_method"] == "robust_z"
    assert "x: 1 outliers (robust z-score > 3.5): 10.0% of 10 non-null values" in (
        messages(result)
    )
    assert result.status == "fail"


def test_infinite_values_warn_and_stay_out_of_statistics():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.inf, -np.inf, 2.0]})

    result = run(frame)

    assert "x: 2 infinite values, left out of the statistics" in messages(result)
    assert profile(result, "x")["max"] == 3.0
    assert profile(result, "x")["distinct"] == 5
    json.dumps(result.to_dict(), allow_nan=False)


# --- categories, profile, figures -------------------------------------------------------------


def test_rare_levels_are_reported_as_info():
    frame = pd.DataFrame({"c": ["a"] * 150 + ["b"] * 149 + ["c"], "k": range(300)})

    result = run(frame)

    assert profile(result, "c")["n_rare_levels"] == 1
    assert "c: 1 rare level(s) below 1.0% of non-null values, 1 of 300 non-null values" in (
        messages(result)
    )
    assert result.status == "pass"


def test_identifier_like_column_skips_rare_levels():
    frame = pd.DataFrame({"id": [f"id{i}" for i in range(200)]})

    result = run(frame)

    assert profile(result, "id")["distinct"] == 200
    assert "looks like an identifier or free text" in messages(result)
    assert "rare level(s)" not in messages(result)


def test_profile_table_and_figures():
    frame = pd.DataFrame({"n": [1.0, 2.0, 3.0, None], "s": ["a", "b", "a", "b"]})

    result = run(frame, max_missing_share=0.3)

    row = profile(result, "n")
    assert (row["min"], row["max"], row["mean"], row["n_missing"]) == (1.0, 3.0, 2.0, 1)
    assert profile(result, "s")["distinct"] == 2
    figures = {f.name: f for f in result.figures}
    assert figures["missing_share"].series[0].y == [0.25, 0.0]
    assert figures["missing_share"].threshold == 0.3
    assert figures["outlier_share"].series[0].x == ["n"]
    assert figures["outlier_share"].threshold == 0.05


def test_empty_frame_fails_without_nan():
    result = run(pd.DataFrame({"a": pd.Series([], dtype=float)}))

    assert result.status == "fail"
    assert "the data has 0 rows (1 columns)" in messages(result)
    assert result.metrics["a.missing_share_of_rows"] is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_nullable_and_boolean_columns():
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, None, 4], dtype="Int64"),
            "b": pd.array([True, None, False, True], dtype="boolean"),
        }
    )

    result = run(frame, max_missing_share=0.3)

    assert profile(result, "i")["kind"] == "numeric"
    assert profile(result, "i")["mean"] == pytest.approx(7 / 3)
    assert profile(result, "b")["kind"] == "categorical"
    assert profile(result, "b")["distinct"] == 2


def test_one_million_rows_are_profiled_exactly():
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.lognormal(size=n),
            "c": rng.poisson(5, n),
            "d": rng.choice(["x", "y", "z"], n),
        }
    )

    result = run(frame)

    assert result.metrics["n_rows"] == n
    assert profile(result, "c")["distinct"] == int(frame["c"].nunique())


def test_only_declared_features_and_target_are_profiled():
    frame = pd.DataFrame({"a": [1.0, 2.0], "name": ["p", "q"], "y": [0, 1]})

    result = dq.check_data_quality(CheckInput(frame, "y", ["a"]), {})

    assert [p["column"] for p in result.tables["profile"]] == ["a", "y"]
    with pytest.raises(ValidationError, match=r"column\(s\) not in the data: b"):
        dq.check_data_quality(CheckInput(frame, "y", ["b"]), {})


# --- numbers stored as text -------------------------------------------------------------------


def test_text_column_mixing_numbers_and_words_warns_with_shares():
    # 45 numeric texts ("12", " 7.5 ", "1e3") and 5 that are not ("N/A"): 90% parse
    values = ["12", " 7.5 ", "1e3"] * 15 + ["N/A"] * 5
    frame = pd.DataFrame({"amount": pd.Series(values, dtype=object)})

    result = run(frame, max_duplicate_share=1)

    assert profile(result, "amount")["numeric_share_of_non_null"] == 0.9
    assert result.metrics["amount.numeric_share_of_non_null"] == 0.9
    assert (
        "amount: 45 of 50 non-null values (90.0%) parse as numbers and 5 (10.0%) do not; "
        "expected one kind" in messages(result)
    )
    assert result.status == "warn"


def test_string_dtype_and_pure_columns():
    frame = pd.DataFrame(
        {
            "code": pd.Series(["1", "2", "x", None] * 5, dtype="string"),
            "digits": ["1", "2", "3", "4"] * 5,
            "words": ["a", "b", "c", "d"] * 5,
        }
    )

    result = run(frame, max_duplicate_share=1, max_missing_share=1)

    assert profile(result, "code")["numeric_share_of_non_null"] == pytest.approx(2 / 3)
    assert "code: 10 of 15 non-null values (66.7%) parse as numbers" in messages(result)
    assert profile(result, "digits")["numeric_share_of_non_null"] == 1.0
    assert profile(result, "words")["numeric_share_of_non_null"] == 0.0
    assert "digits.numeric_share_of_non_null" not in result.metrics
    assert "digits:" not in messages(result)


# --- multivariate outliers --------------------------------------------------------------------


def planted(n: int = 400, n_far: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 3))
    directions = rng.normal(size=(n_far, 3))
    values[:n_far] = 8 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    return pd.DataFrame(values, columns=["a", "b", "c"])


def robust_z_outliers(scores: np.ndarray, limit: float = 5.0) -> np.ndarray:
    anomaly = -scores
    median = np.median(anomaly)
    return 0.6745 * (anomaly - median) / np.median(np.abs(anomaly - median)) > limit


def test_multivariate_share_equals_sklearns_own_scores_on_the_same_seed():
    frame = planted(n_far=12, seed=1)

    found = dq.multivariate_outliers(frame, seed=3)

    forest = IsolationForest(contamination="auto", random_state=3).fit(frame.to_numpy())
    expected = robust_z_outliers(forest.score_samples(frame.to_numpy()))
    assert found["n_rows_scored"] == 400
    assert found["n_outliers"] == int(expected.sum())
    assert found["outlier_share"] == pytest.approx(expected.mean())
    assert expected[:12].all()  # every planted row is caught


def test_skewed_positive_columns_are_scored_on_the_log_scale():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.lognormal(size=(500, 3)), columns=["x", "y", "z"])

    found = dq.multivariate_outliers(frame, seed=0)

    logged = np.log(frame.to_numpy())
    forest = IsolationForest(contamination="auto", random_state=0).fit(logged)
    assert found["n_outliers"] == int(robust_z_outliers(forest.score_samples(logged)).sum())
    assert found["outlier_share"] < 0.05


def test_planted_outliers_fail_and_clean_data_pass():
    far = run(planted(n_far=40), max_duplicate_share=1)
    clean = run(planted(), max_duplicate_share=1)

    assert far.metrics["multivariate_outlier_share"] == pytest.approx(0.1, abs=0.01)
    assert far.metrics["multivariate_rows_scored"] == 400
    assert (
        "scored rows (10.0%) are multivariate outliers (robust z-score of the isolation-forest "
        "anomaly score > 5, over 3 numeric columns); limit 5.0%" in messages(far)
    )
    assert far.status == "fail"
    assert clean.metrics["multivariate_outlier_share"] < 0.05
    assert clean.status == "pass"


def test_multivariate_sample_is_drawn_with_the_seed():
    frame = planted(n=3000, seed=2)

    found = dq.multivariate_outliers(frame, seed=5, max_rows=1000)

    rows = np.sort(np.random.default_rng(5).choice(3000, size=1000, replace=False))
    sample = frame.to_numpy()[rows]
    forest = IsolationForest(contamination="auto", random_state=5).fit(sample)
    assert found["n_complete_rows"] == 3000
    assert found["n_rows_scored"] == 1000
    assert found["n_outliers"] == int(robust_z_outliers(forest.score_samples(sample)).sum())
    assert dq.multivariate_outliers(frame, seed=5, max_rows=1000) == found


def test_multivariate_skips_target_flags_incomplete_rows_and_small_frames():
    frame = planted(n=150)
    frame.loc[:9, "a"] = np.nan
    frame["y"] = np.arange(150) % 3
    frame["flag"] = np.arange(150) % 2  # binary: left out of the forest

    result = dq.check_data_quality(CheckInput(frame, "y", ["a", "b", "c", "flag"]), {})

    assert result.metrics["multivariate_rows_scored"] == 140
    assert "multivariate outliers scored on the 140 of 150 rows whose 3 numeric columns" in (
        messages(result)
    )
    small = run(planted(n=99))
    assert small.metrics["multivariate_outlier_share"] is None
    assert "multivariate outlier scoring skipped: 99 rows have every numeric column finite" in (
        messages(small)
    )
    one = run(pd.DataFrame({"a": np.arange(200.0), "b": np.arange(200) % 2}))
    assert (
        "scoring skipped: 1 numeric feature column(s) with more than two distinct values, need 2"
        in messages(one)
    )


def test_multivariate_z_limit_is_validated():
    with pytest.raises(ValidationError, match=r"z_limit must be > 0; got -1"):
        dq.multivariate_outliers(planted(), z_limit=-1)


def test_columns_profiled_in_parallel_give_the_sequential_result(monkeypatch):
    rng = np.random.default_rng(4)
    n = 60_000
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "score": np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
            "flag": rng.integers(0, 2, n),
            "city": rng.choice(["Lyon", "lyon ", "Paris"], n),
        }
    )
    inp = CheckInput(data=frame)

    monkeypatch.setattr(dq, "PARALLEL_MIN_ROWS", 10**12)
    sequential = dq.check_data_quality(inp, {}).to_dict()
    monkeypatch.setattr(dq, "PARALLEL_MIN_ROWS", 0)
    parallel = dq.check_data_quality(inp, {}).to_dict()

    assert parallel == sequential
    assert [p["column"] for p in parallel["tables"]["profile"]] == list(frame.columns)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1.0, 1.0, 2.0, 2.0, np.nan], False),
        ([1.0, 2.0, 3.0], True),
        ([0.0, np.inf, -np.inf, 5.0, 5.0], False),
        ([7.0, 7.0, 7.0], False),
        ([1.0, 2.0], False),
    ],
)
def test_has_spread_needs_a_third_distinct_finite_value(values, expected):
    assert dq.has_spread(pd.Series(values)) is expected
    assert dq.has_spread(pd.Series(["a", "b", "c"])) is False
