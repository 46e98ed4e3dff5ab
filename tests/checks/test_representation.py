"""Tests for the representation check: observed against reference shares, Wilson intervals."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from mlgate.checks import representation as rp
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, **thresholds: float):
    return rp.check_representation(CheckInput(frame, sensitive=list(frame.columns)), thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


def sex(n_female: int, n_male: int) -> pd.DataFrame:
    return pd.DataFrame({"sex": ["female"] * n_female + ["male"] * n_male})


# --- Wilson interval --------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "n"), [(0, 10), (1, 5), (20, 100), (37, 37), (512, 2000)])
def test_wilson_interval_equals_scipy(count, n):
    expected = binomtest(count, n).proportion_ci(confidence_level=0.95, method="wilson")

    low, high = rp.wilson_interval(count, n)

    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_interval_by_hand():
    # k = 20, n = 100, z = 1.959964: centre 0.211238, half width 0.077731
    z = 1.959963984540054
    centre = (0.2 + z**2 / 200) / (1 + z**2 / 100)
    half = z / (1 + z**2 / 100) * math.sqrt(0.2 * 0.8 / 100 + z**2 / 40_000)

    assert rp.wilson_interval(20, 100) == pytest.approx((centre - half, centre + half))
    assert rp.wilson_interval(20, 100) == pytest.approx((0.133367, 0.288829), abs=1e-6)
    assert rp.wilson_interval(0, 0) is None


def test_wilson_interval_rejects_count_above_n():
    with pytest.raises(ValidationError, match=r"count must be in \[0, n=3\]; got 4"):
        rp.wilson_interval(4, 3)


# --- verdicts ---------------------------------------------------------------------------------


def test_under_represented_group_warns_when_upper_bound_below_tolerance():
    # 20 of 100: interval 13.3% to 28.9%; 0.8 x 50% = 40% warns, 0.5 x 50% = 25% does not fail
    result = run(sex(20, 80), **{"share.sex.female": 0.5, "share.sex.male": 0.5})

    assert result.status == "warn"
    assert result.metrics["sex.female.observed_share"] == 0.2
    assert result.metrics["sex.female.reference_share"] == 0.5
    assert result.metrics["sex.female.ci_high"] == pytest.approx(0.288829, abs=1e-6)
    assert (
        "sex: group 'female' is 20.0% of 100 rows (95% interval 13.3% to 28.9%) against a "
        "reference share of 50.0%; under-represented: the upper bound is below 0.8 x "
        "reference = 40.0%" in messages(result)
    )
    assert "group 'male'" not in messages(result)  # over-represented is not flagged


def test_clearly_under_represented_group_fails():
    # 10 of 100: upper bound 17.4% < 0.5 x 50% = 25%
    result = run(sex(10, 90), **{"share.sex.female": 0.5})

    assert result.status == "fail"
    assert result.metrics["n_under_represented"] == 1
    assert "under-represented: even the upper bound is below 0.5 x reference = 25.0%" in (
        messages(result)
    )


def test_tiny_sample_raises_no_alarm():
    # 1 of 5: observed 20% < 40%, but the interval reaches 62.4%
    result = run(sex(1, 4), **{"share.sex.female": 0.5})

    assert result.status == "pass"
    assert "below 0.8 x reference, but the sample is too small to tell" in messages(result)
    assert result.findings[0].severity == "info"


def test_absent_group_counts_zero_and_fails_on_a_large_sample():
    # 0 of 200: upper bound z^2 / (200 + z^2) = 1.9%, below 0.5 x 20% = 10%
    result = run(sex(100, 100), **{"share.sex.other": 0.2})

    row = result.tables["groups"][0]
    assert (row["count"], row["observed_share"]) == (0, 0.0)
    assert row["ci_high"] == pytest.approx(1.959964**2 / (200 + 1.959964**2), rel=1e-6)
    assert result.status == "fail"


def test_group_labels_follow_group_sizes_binning_and_missing():
    ages = list(range(20, 70)) * 2  # 100 rows: 10 under 25
    frame = pd.DataFrame({"age": ages, "sex": ["f", None] * 50})

    result = run(frame, **{"share.age.<25": 0.1, "share.sex.(missing)": 0.5})

    assert result.metrics["age.<25.observed_share"] == 0.1
    assert result.metrics["sex.(missing).observed_share"] == 0.5
    assert result.status == "pass"


def test_attribute_names_with_dots_take_the_longest_match():
    frame = pd.DataFrame({"a": ["x"] * 10, "a.b": ["y"] * 5 + ["z"] * 5})

    refs = rp.reference_shares(
        {"share.a.b.y": 0.5, "share.a.x": 1.0, "tolerance": 0.8}, ["a", "a.b"]
    )

    assert refs == {"a.b": {"y": 0.5}, "a": {"x": 1.0}}
    assert run(frame, **{"share.a.b.y": 0.5}).metrics["a.b.y.observed_share"] == 0.5


# --- no shares, bad shares, figure ------------------------------------------------------------


def test_without_reference_shares_passes_with_info():
    result = run(sex(1, 99))

    assert result.status == "pass"
    assert result.findings[0].severity == "info"
    assert result.findings[0].message.startswith("no reference shares given")
    assert result.metrics == {"n_groups_checked": 0}


def test_key_naming_no_column_raises():
    with pytest.raises(ValidationError, match=r"threshold key 'share.race.x' names no column"):
        run(sex(1, 1), **{"share.race.x": 0.5})


def test_key_without_group_raises():
    with pytest.raises(ValidationError, match=r"threshold key 'share.sex.' names no column"):
        run(sex(1, 1), **{"share.sex.": 0.5})


def test_share_out_of_range_raises():
    with pytest.raises(ValidationError, match=r"'share.sex.female' must be in \[0, 1\]; got 1.5"):
        run(sex(1, 1), **{"share.sex.female": 1.5})


def test_shares_summing_above_one_raise():
    with pytest.raises(ValidationError, match=r"reference shares of 'sex' sum to 1.2; expected"):
        run(sex(1, 1), **{"share.sex.female": 0.6, "share.sex.male": 0.6})


def test_inconsistent_tolerances_raise():
    with pytest.raises(ValidationError, match=r"expected 0 < fail_tolerance <= tolerance; got"):
        run(sex(1, 1), tolerance=0.4, fail_tolerance=0.5)


def test_figure_has_observed_and_reference_series():
    result = run(sex(30, 70), **{"share.sex.female": 0.5, "share.sex.male": 0.5})

    figure = result.figures[0]
    assert figure.name == "representation_sex"
    assert [s.name for s in figure.series] == ["observed", "reference"]
    assert figure.series[0].x == ["female", "male"]
    assert figure.series[0].y == [0.3, 0.7]
    assert figure.series[1].y == [0.5, 0.5]
    assert rp.SPEC.defaults == {"tolerance": 0.8, "fail_tolerance": 0.5, "confidence": 0.95}
    json.dumps(result.to_dict(), allow_nan=False)
