"""Tests for the group-size check and the shared grouping rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.checks import group_sizes as gs
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, sensitive: list[str], **thresholds: float):
    return gs.check_group_sizes(CheckInput(frame, sensitive=sensitive), thresholds)


def rows(result, attribute: str) -> dict[str, dict]:
    return {r["group"]: r for r in result.tables["groups"] if r["attribute"] == attribute}


def test_sizes_shares_and_missing_group():
    frame = pd.DataFrame({"sex": ["f"] * 400 + ["m"] * 560 + [None] * 40})

    result = run(frame, ["sex"])
    groups = rows(result, "sex")

    assert {g: r["size"] for g, r in groups.items()} == {"f": 400, "m": 560, "(missing)": 40}
    assert groups["(missing)"]["share"] == 0.04
    assert groups["(missing)"]["status"] == "warn"
    assert result.metrics["sex.smallest_group_size"] == 40
    assert result.metrics["sex.n_groups"] == 3
    assert "sex: 40 rows have no value; kept as '(missing)'" in [
        f.message for f in result.findings
    ]
    assert result.status == "warn"


def test_group_below_minimum_size_fails():
    frame = pd.DataFrame({"race": ["a"] * 100 + ["b"] * 29})

    result = run(frame, ["race"])

    assert rows(result, "race")["b"]["status"] == "fail"
    assert "race: group 'b' has 29 rows (< 30)" in [f.message for f in result.findings]
    assert result.status == "fail"
    assert run(frame, ["race"], min_group_size=29, min_group_share=0.1).status == "pass"


def test_intersectional_pairs_are_counted():
    frame = pd.DataFrame(
        {"sex": ["f"] * 60 + ["m"] * 90, "region": ["n"] * 40 + ["s"] * 20 + ["n"] * 90}
    )

    result = run(frame, ["sex", "region"], min_group_size=10, min_group_share=0.0)
    pairs = rows(result, "sex & region")

    assert {g: r["size"] for g, r in pairs.items()} == {"f & n": 40, "f & s": 20, "m & n": 90}
    assert result.metrics["sex & region.smallest_group_size"] == 20
    assert [f.name for f in result.figures] == ["group_sizes_sex", "group_sizes_region"]


def test_age_is_binned_into_fixed_bands():
    ages = [18, 22, 24, 25, 30, 39, 40, 45, 59, 60, 61, 75, np.nan]

    labels = gs.group_labels(ages, "age")

    assert labels.tolist() == [
        "<25", "<25", "<25", "25-39", "25-39", "25-39", "40-59", "40-59", "40-59",
        "60+", "60+", "60+", "(missing)",
    ]  # fmt: skip


def test_other_numeric_attribute_is_binned_into_quartiles():
    income = np.arange(1.0, 101.0)

    labels = gs.group_labels(income, "income")

    assert labels.value_counts().to_dict() == {
        "Q1 <=25.75": 25,
        "Q2 (25.75, 50.5]": 25,
        "Q3 (50.5, 75.25]": 25,
        "Q4 >75.25": 25,
    }


def test_few_numeric_values_stay_categories():
    labels = gs.group_labels(pd.Series([1.0, 2.0, 2.0, None]), "grade")

    assert labels.tolist() == ["1", "2", "2", "(missing)"]


def test_labels_identical_for_list_array_and_series():
    values = ["a", "a", "b", None, np.nan]

    from_list = gs.group_labels(values)
    from_array = gs.group_labels(np.array(values, dtype=object))
    from_series = gs.group_labels(pd.Series(values, index=[10, 11, 12, 13, 14]))

    assert from_list.tolist() == ["a", "a", "b", "(missing)", "(missing)"]
    pd.testing.assert_series_equal(from_list, from_array)
    pd.testing.assert_series_equal(from_list, from_series)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("age", True), ("Age", True), ("applicant_age", True), ("age_years", True),
     ("page", False), ("stage", False), ("average", False), (None, False)],
)  # fmt: skip
def test_age_like_names(name, expected):
    assert gs.looks_like_age(name) is expected


def test_age_bands_sort_by_age_in_the_table():
    frame = pd.DataFrame({"age": list(range(18, 80)) * 3})

    result = run(frame, ["age"], min_group_size=1, min_group_share=0.0)

    assert list(rows(result, "age")) == ["<25", "25-39", "40-59", "60+"]


def test_no_sensitive_attribute_or_unknown_column_raises():
    frame = pd.DataFrame({"a": [1, 2]})

    with pytest.raises(ValidationError, match=r"no sensitive attribute declared"):
        run(frame, [])
    with pytest.raises(ValidationError, match=r"sensitive column\(s\) not in the data: sex"):
        run(frame, ["sex"])
