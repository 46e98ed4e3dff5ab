"""Tests for the drift check and its pure statistics (known answers, scipy, shared cases)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.datasets import load_iris

from mlgate.checks import drift
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError

REL = 1e-6
P_REL = 1e-4


def run(reference: pd.DataFrame, current: pd.DataFrame, **thresholds: float):
    return drift.check_drift(CheckInput(data=current, reference=reference), thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


def assert_json_safe(result) -> None:
    json.dumps(result.to_dict(), allow_nan=False)
    for key, value in result.metrics.items():
        assert not (isinstance(value, float) and not math.isfinite(value)), key


# --- BL-01: PSI with empty bins ------------------------------------------------------------


BL01_REF = (np.arange(1000) + 0.5) / 1000
BL01_CUR = (np.arange(1000) + 0.5) / 2000
BL01_EDGES = np.linspace(0.0, 1.0, 11)


def test_psi_empty_bins_equal_width_is_finite_bl01():
    ref, cur, _ = drift.histogram(BL01_REF, BL01_CUR, bins=BL01_EDGES)

    assert ref[1:11].tolist() == [100.0] * 10
    assert cur[1:11].tolist() == [200.0] * 5 + [0.0] * 5
    assert drift.psi(ref, cur) == pytest.approx(3.796997, rel=REL)


def test_psi_is_symmetric_and_depends_on_epsilon_bl01():
    ref, cur, _ = drift.histogram(BL01_REF, BL01_CUR, bins=BL01_EDGES)

    assert drift.psi(cur, ref) == pytest.approx(drift.psi(ref, cur), rel=1e-12)
    assert drift.psi(ref, cur, epsilon=1e-6) == pytest.approx(6.102979, rel=REL)
    assert drift.PSI_EPSILON == 1e-4


def test_drift_check_quantile_bins_reproduce_bl01_and_flag_major_shift():
    result = run(pd.DataFrame({"x": BL01_REF}), pd.DataFrame({"x": BL01_CUR}))

    assert result.metrics["x.psi"] == pytest.approx(3.796997, rel=REL)
    assert result.metrics["x.drifted"] is True
    assert result.status == "fail"
    assert_json_safe(result)


def test_quantile_edges_sit_midway_between_distinct_reference_values():
    edges = drift.quantile_edges(BL01_REF)

    np.testing.assert_allclose(edges, np.arange(1, 10) / 10, rtol=1e-12)
    assert drift.quantile_edges([1.0, 1.0, 1.0]).size == 0
    tied = np.tile([0.1, 0.2, 0.3, 0.4, 0.5], 200)
    np.testing.assert_allclose(drift.quantile_edges(tied), [0.15, 0.25, 0.35, 0.45])


# --- BL-02: constant single-category column -------------------------------------------------


@pytest.mark.parametrize("n_current", [50, 10])
def test_constant_category_gives_p_one_not_nan_bl02(n_current):
    reference = pd.DataFrame({"flag": ["a"] * 50})
    current = pd.DataFrame({"flag": ["a"] * n_current})

    result = run(reference, current)
    expected = stats.chi2_contingency(np.array([[50], [n_current]]), correction=False)

    assert result.metrics["flag.chi2_statistic"] == 0.0 == expected.statistic
    assert result.metrics["flag.chi2_pvalue"] == 1.0 == expected.pvalue
    assert result.metrics["flag.psi"] == 0.0
    assert result.metrics["flag.js_distance"] == 0.0
    assert result.metrics["flag.drifted"] is False
    assert result.metrics["drift_share"] == 0.0
    assert result.status == "pass"


def test_chi2_single_category_has_zero_dof_bl02():
    result = drift.chi2_homogeneity([50], [10])

    assert (result.statistic, result.pvalue, result.dof) == (0.0, 1.0, 0)


# --- BL-04: a category present on one side only ---------------------------------------------


def test_chi2_category_missing_from_current_bl04():
    result = drift.chi2_homogeneity([5, 5, 5], [8, 3, 0])

    assert result.statistic == pytest.approx(5.712121, rel=REL)
    assert result.dof == 2
    assert result.pvalue == pytest.approx(0.057495, rel=P_REL)


def test_chi2_category_missing_from_reference_bl04():
    result = drift.chi2_homogeneity([5, 5, 0], [8, 3, 5])

    assert result.statistic == pytest.approx(5.078125, rel=REL)
    assert result.pvalue == pytest.approx(0.078940, rel=P_REL)


def test_drift_check_warns_on_low_expected_counts_bl04():
    reference = pd.DataFrame({"c": list("aaaaabbbbbccccc")})
    current = pd.DataFrame({"c": list("aaaaaaaabbb")})

    result = run(reference, current)

    assert result.metrics["c.chi2_statistic"] == pytest.approx(5.712121, rel=REL)
    assert result.metrics["c.chi2_pvalue"] == pytest.approx(0.057495, rel=P_REL)
    assert "smallest expected count is 2.12 (< 5)" in messages(result)


# --- BL-06: Jensen-Shannon base 2 -------------------------------------------------------------


def test_js_distance_of_disjoint_distributions_is_one_bl06():
    reference = np.linspace(90, 110, 1000)
    current = np.linspace(9990, 10010, 1000)
    ref, cur, _ = drift.histogram(reference, current, bins=[80, 120, 9000, 11000])

    assert drift.js_distance(ref, cur) == 1.0
    assert jensenshannon(ref, cur) == pytest.approx(0.8325546, rel=REL)  # natural log: the bug


def test_drift_check_flags_disjoint_numeric_column_bl06():
    reference = pd.DataFrame({"x": np.linspace(90, 110, 1000)})
    current = pd.DataFrame({"x": np.linspace(9990, 10010, 1000)})

    result = run(reference, current)

    assert result.metrics["x.drifted"] is True
    assert result.metrics["x.ks_statistic"] == 1.0
    assert 0.0 <= result.metrics["x.js_distance"] <= 1.0


# --- BL-07: empty current series --------------------------------------------------------------


def test_empty_current_frame_is_not_computed_bl07():
    values = np.arange(1.0, 1001.0)
    reference = pd.DataFrame({"x": values, "y": values})
    current = reference.iloc[:0]

    result = run(reference, current)

    assert "x: not computed: current has 0 non-null values (reference 1000, current 0)" in (
        messages(result)
    )
    for key in ("psi", "js_distance", "ks_statistic", "ks_pvalue", "wasserstein"):
        assert result.metrics[f"x.{key}"] is None
    assert result.metrics["x.drifted"] is False
    assert result.metrics["n_not_computed"] == 2
    assert result.status == "warn"
    assert_json_safe(result)


def test_all_null_current_column_leaves_other_column_computed_bl07():
    values = np.arange(1.0, 1001.0)
    reference = pd.DataFrame({"x": values, "y": values})
    current = pd.DataFrame({"x": np.full(1000, np.nan), "y": values})

    result = run(reference, current)

    assert result.metrics["x.psi"] is None
    assert "x: not computed: current has 0 non-null values" in messages(result)
    assert result.metrics["y.js_distance"] == 0.0
    assert result.metrics["y.ks_pvalue"] == 1.0
    assert result.metrics["y.drifted"] is False


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: drift.psi([1000.0], [0.0]), r"totals 1000 \(reference\) and 0 \(current\)"),
        (lambda: drift.js_distance([1000.0], [0.0]), r"totals 1000 \(reference\) and 0"),
        (lambda: drift.chi2_homogeneity([1000.0], [0.0]), r"totals 1000 \(reference\) and 0"),
        (lambda: drift.ks(np.arange(1000.0), []), r"sizes 1000 \(reference\) and 0 \(current\)"),
        (lambda: drift.wasserstein(np.arange(1000.0), []), r"sizes 1000 \(reference\) and 0"),
    ],
)
def test_pure_functions_reject_empty_current_with_sizes_bl07(call, pattern):
    with pytest.raises(ValidationError, match=pattern):
        call()


# --- BL-08: NaN and all-NaN columns -----------------------------------------------------------


def test_nan_rows_are_left_out_of_the_distribution_bl08a():
    x = np.concatenate([np.arange(1.0, 901.0), np.full(100, np.nan)])

    result = run(pd.DataFrame({"x": x}), pd.DataFrame({"x": x.copy()}))

    assert result.metrics["x.js_distance"] == 0.0
    assert result.metrics["x.ks_statistic"] == 0.0
    assert result.metrics["x.ks_pvalue"] == 1.0
    assert result.metrics["x.missing_share_reference"] == pytest.approx(0.1)
    assert result.metrics["x.missing_share_current"] == pytest.approx(0.1)
    assert result.metrics["x.drifted"] is False


def test_all_nan_current_is_not_computable_and_missing_jump_flagged_bl08b():
    reference = pd.DataFrame({"num": np.tile([1, 2, 3, 4, 5], 1000)})
    current = pd.DataFrame({"num": [np.nan, np.nan]})

    result = run(reference, current)

    assert "num: not computed: current has 0 non-null values" in messages(result)
    assert result.metrics["num.missing_share_reference"] == 0.0
    assert result.metrics["num.missing_share_current"] == 1.0
    assert "num: missing share moved from 0.0% to 100.0% of rows" in messages(result)
    assert result.metrics["num.drifted"] is True


def test_all_nan_reference_names_the_column_and_keeps_others_bl08c():
    rng = np.random.default_rng(0)
    z = rng.normal(size=1000)
    reference = pd.DataFrame({"x": np.full(1000, np.nan), "z": z})
    current = pd.DataFrame({"x": rng.normal(size=1000), "z": z})

    result = run(reference, current)

    assert result.metrics["x.psi"] is None
    assert "x: not computed: reference has 0 non-null values" in messages(result)
    assert result.metrics["z.psi"] == 0.0
    assert result.metrics["z.ks_pvalue"] == 1.0
    assert_json_safe(result)


# --- BL-10: few distinct numeric values -------------------------------------------------------


def test_tied_numeric_column_stays_numeric_without_drift_bl10():
    x = np.tile([0.1, 0.2, 0.3, 0.4, 0.5], 200)

    result = run(pd.DataFrame({"x": x}), pd.DataFrame({"x": x + 1e-9}))

    assert result.metrics["x.wasserstein"] == pytest.approx(1e-9, rel=REL)
    assert result.metrics["x.js_distance"] == 0.0
    assert result.metrics["x.psi"] == 0.0
    assert "x.chi2_statistic" not in result.metrics
    assert result.metrics["x.drifted"] is False
    assert "x: heavily tied: 10 distinct values in 2000 non-null values" in messages(result)


def test_tied_column_ks_matches_scipy_but_does_not_decide_bl10():
    x = np.tile([0.1, 0.2, 0.3, 0.4, 0.5], 200)
    expected = stats.ks_2samp(x, x + 1e-9)

    result = drift.ks(x, x + 1e-9)

    assert result.statistic == pytest.approx(0.2, rel=REL)
    assert result.pvalue == pytest.approx(6.6e-18, rel=0.01)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=P_REL)


def test_tied_column_js_on_given_bins_is_zero_bl10():
    x = np.tile([0.1, 0.2, 0.3, 0.4, 0.5], 200)
    ref, cur, _ = drift.histogram(x, x + 1e-9, bins=[0.05, 0.15, 0.25, 0.35, 0.45, 0.55])

    assert drift.js_distance(ref, cur) == 0.0


# --- BL-12: small current sample ---------------------------------------------------------------


def test_small_current_sample_exact_ks_and_warning_bl12():
    reference = pd.DataFrame({"petal_width": load_iris().data[:, 3]})
    current = pd.DataFrame({"petal_width": [1.4, 1.6] * 4})

    result = run(reference, current)

    assert result.metrics["petal_width.ks_statistic"] == pytest.approx(0.52, rel=REL)
    assert result.metrics["petal_width.ks_pvalue"] == pytest.approx(0.019983, rel=P_REL)
    assert result.metrics["petal_width.ks_method"] == "exact"
    assert result.metrics["petal_width.drifted"] is True
    assert "small sample: current has 8 non-null values (< 30)" in messages(result)


# --- agreement with scipy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "rounding"),
    [(300, 200, None), (12_000, 11_000, None), (12_000, 11_000, 1), (20_000, 500, 0)],
)
def test_ks_and_wasserstein_equal_scipy(n_ref, n_cur, rounding):
    rng = np.random.default_rng(n_ref + n_cur)
    reference = rng.normal(size=n_ref)
    current = rng.normal(0.1, 1.2, size=n_cur)
    if rounding is not None:
        reference, current = np.round(reference, rounding), np.round(current, rounding)
    expected = stats.ks_2samp(reference, current)

    result = drift.ks(reference, current)

    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert result.method == ("exact" if max(n_ref, n_cur) <= 10_000 else "asymp")
    assert drift.wasserstein(reference, current) == pytest.approx(
        stats.wasserstein_distance(reference, current), rel=1e-9
    )


def test_drift_check_numbers_equal_scipy_on_large_samples():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=15_000)})
    current = pd.DataFrame({"x": rng.normal(0.3, 1.0, size=12_000)})
    expected = stats.ks_2samp(reference["x"], current["x"])

    result = run(reference, current)

    assert result.metrics["x.ks_statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result.metrics["x.ks_pvalue"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.metrics["x.ks_method"] == "asymp"
    w1 = stats.wasserstein_distance(reference["x"], current["x"])
    assert result.metrics["x.wasserstein"] == pytest.approx(w1, rel=1e-9)
    scaled = w1 / np.std(reference["x"])
    assert result.metrics["x.wasserstein_scaled"] == pytest.approx(scaled, rel=1e-9)


def test_js_and_chi2_equal_scipy_on_categories():
    reference = pd.Series(["a"] * 40 + ["b"] * 35 + ["c"] * 25)
    current = pd.Series(["a"] * 20 + ["b"] * 50 + ["d"] * 30)
    labels, ref, cur = drift.category_counts(reference, current)
    table = np.vstack([ref, cur])

    assert sorted(labels) == ["a", "b", "c", "d"]
    assert drift.js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), rel=1e-12)
    expected = stats.chi2_contingency(table, correction=False)
    result = drift.chi2_homogeneity(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_psi_by_hand_on_two_bins():
    # (0.75 - 0.5) ln(0.75 / 0.5) + (0.25 - 0.5) ln(0.25 / 0.5)
    expected = 0.25 * math.log(1.5) - 0.25 * math.log(0.5)

    assert drift.psi([50, 50], [75, 25]) == pytest.approx(expected, rel=1e-12)


# --- the check as a whole ----------------------------------------------------------------------


def test_status_follows_the_share_of_drifted_features():
    rng = np.random.default_rng(1)
    base = {f"f{i}": rng.normal(size=2000) for i in range(4)}
    reference = pd.DataFrame(base)
    one_shift = pd.DataFrame({**base, "f0": base["f0"] + 3})
    two_shifts = pd.DataFrame({**base, "f0": base["f0"] + 3, "f1": base["f1"] + 3})

    assert run(reference, reference.copy()).status == "pass"
    assert run(reference, one_shift).status == "warn"
    assert run(reference, one_shift).metrics["drift_share"] == 0.25
    assert run(reference, two_shifts).status == "fail"
    assert run(reference, two_shifts, max_drift_share=0.5).status == "warn"


def test_wasserstein_catches_a_shift_that_psi_on_decile_bins_misses():
    # A Poisson mean 15 % higher moves little mass across the reference's decile bins of a
    # discrete column, so PSI stays low, but the mass moves by a fifth of a standard deviation.
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"count": rng.poisson(3.0, 20_000).astype(float)})
    current = pd.DataFrame({"count": rng.poisson(3.45, 20_000).astype(float)})

    result = run(reference, current)
    w1 = stats.wasserstein_distance(reference["count"], current["count"])
    scaled = w1 / np.std(reference["count"])

    assert result.metrics["count.psi"] < 0.2
    assert result.metrics["count.wasserstein_scaled"] == pytest.approx(scaled, rel=1e-9)
    assert scaled >= 0.1
    assert result.metrics["count.drifted"] is True
    assert "count: scaled Wasserstein distance" in messages(result)
    assert (
        run(reference, current, wasserstein_threshold=scaled + 0.01).metrics["count.drifted"]
        is False
    )
    figures = {f.name: f for f in result.figures}
    assert figures["drift_wasserstein_scaled"].threshold == 0.1


def test_a_negligible_shift_is_not_flagged_however_many_rows():
    # 0.05 standard deviations: the KS test calls it significant at 200k rows; the effect
    # sizes stay below their thresholds.
    rng = np.random.default_rng(6)
    reference = pd.DataFrame({"x": rng.normal(size=200_000)})
    current = pd.DataFrame({"x": rng.normal(size=200_000) + 0.05})

    result = run(reference, current)

    assert result.metrics["x.ks_pvalue"] < 1e-10
    assert result.metrics["x.wasserstein_scaled"] == pytest.approx(0.05, abs=0.01)
    assert result.metrics["x.drifted"] is False


def test_unseen_share_counts_current_values_of_categories_absent_from_the_reference():
    reference = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40})
    current = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 20 + ["z"] * 20 + ["y"] * 5 + [None] * 5})

    result = run(reference, current)

    assert result.metrics["c.unseen_share"] == pytest.approx(25 / 95, rel=1e-12)
    assert run(reference, reference).metrics["c.unseen_share"] == 0.0
    assert drift.unseen_share(["a", "z"], [3, 0], [1, 1]) == 0.5
    assert (
        "x.unseen_share"
        not in run(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 2.0]})).metrics
    )


def test_target_is_left_out_and_declared_features_are_used():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500), "y": 0})
    current = reference.assign(y=1)

    all_but_target = drift.check_drift(CheckInput(current, "y", reference=reference), {})
    only_a = drift.check_drift(CheckInput(current, "y", ["a"], reference=reference), {})

    assert all_but_target.metrics["n_features"] == 2
    assert "y.psi" not in all_but_target.metrics
    assert only_a.metrics["n_features"] == 1


def test_missing_reference_or_column_raises():
    frame = pd.DataFrame({"a": [1.0, 2.0]})

    with pytest.raises(ValidationError, match=r"needs a reference frame"):
        drift.check_drift(CheckInput(frame), {})
    with pytest.raises(ValidationError, match=r"reference frame lacks column\(s\) a"):
        drift.check_drift(CheckInput(frame, reference=pd.DataFrame({"b": [1.0]})), {})


def test_categorical_drift_uses_js_threshold_and_figure():
    reference = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500, "n": np.arange(1000.0)})
    current = pd.DataFrame({"c": ["a"] * 900 + ["b"] * 100, "n": np.arange(1000.0)})

    result = run(reference, current)
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])

    assert result.metrics["c.js_distance"] == pytest.approx(jensenshannon(p, q, base=2))
    assert result.metrics["c.drifted"] is True
    figures = {f.name: f for f in result.figures}
    assert figures["drift_js_distance"].threshold == 0.1
    assert figures["drift_psi"].threshold == 0.2
    assert figures["drift_psi"].series[0].x == ["n"]


def test_boolean_and_datetime_columns():
    reference = pd.DataFrame(
        {"flag": [True, False] * 50, "when": pd.date_range("2024-01-01", periods=100)}
    )
    current = pd.DataFrame(
        {"flag": [True] * 100, "when": pd.date_range("2024-06-01", periods=100)}
    )

    result = run(reference, current)

    assert result.metrics["flag.js_distance"] == pytest.approx(
        jensenshannon([0.5, 0.5], [1.0, 0.0], base=2)
    )
    assert result.metrics["when.psi"] is None
    assert "when: not computed: dtype datetime64" in messages(result)


def test_infinite_values_are_left_out_with_a_finding():
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": np.concatenate([np.arange(98.0), [np.inf, -np.inf]])})

    result = run(reference, current)

    assert "x: 2 infinite values in current left out" in messages(result)
    assert result.metrics["x.ks_statistic"] == pytest.approx(
        stats.ks_2samp(np.arange(100.0), np.arange(98.0)).statistic
    )


def test_count_vectors_are_validated():
    with pytest.raises(ValidationError, match=r"same length; got 2 \(reference\) and 3"):
        drift.psi([1, 2], [1, 2, 3])
    with pytest.raises(ValidationError, match=r"non-negative; got a negative count"):
        drift.js_distance([1, -2], [1, 2])
    with pytest.raises(ValidationError, match=r"epsilon must be positive; got 0"):
        drift.psi([1, 2], [1, 2], epsilon=0)
    with pytest.raises(ValidationError, match=r"strictly increasing finite edges"):
        drift.histogram([1.0], [1.0], bins=[2.0, 1.0])


def test_columns_compared_in_parallel_give_the_sequential_result(monkeypatch):
    rng = np.random.default_rng(3)
    n = 60_000
    reference = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 4, n),
            "c": rng.choice(["x", "y", "z"], n),
            "d": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(size=n)),
        }
    )
    current = reference.sample(frac=1.0, random_state=1).reset_index(drop=True)
    current["a"] += 1.0
    inp = CheckInput(data=current, reference=reference)

    monkeypatch.setattr(drift, "PARALLEL_MIN_ROWS", 10**12)
    sequential = drift.check_drift(inp, {}).to_dict()
    monkeypatch.setattr(drift, "PARALLEL_MIN_ROWS", 0)
    parallel = drift.check_drift(inp, {}).to_dict()

    assert parallel == sequential
    assert parallel["metrics"]["a.drifted"] is True
    assert [row["feature"] for row in parallel["tables"]["features"]] == ["a", "b", "c", "d"]


def test_large_samples_walked_in_blocks_give_the_one_pass_statistics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(11)
    ref = np.sort(rng.lognormal(0.0, 1.0, 30_000))
    cur = np.sort(np.round(rng.lognormal(0.1, 1.2, 40_000), 2))  # ties across both samples
    one_pass = drift.compare_sorted(ref, cur)

    monkeypatch.setattr(drift, "BLOCKWISE_MIN_VALUES", 1_000)
    blockwise = drift.compare_sorted(ref, cur)

    for key in ("ks_statistic", "ks_pvalue", "psi", "js_distance"):
        assert blockwise.statistics[key] == one_pass.statistics[key], key
    assert blockwise.statistics["wasserstein"] == pytest.approx(
        one_pass.statistics["wasserstein"], rel=1e-12
    )
    assert blockwise.n_distinct == one_pass.n_distinct
