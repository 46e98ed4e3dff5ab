"""Tests for the labels check: balance, missing and conflicting labels on hand-made frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlgate.checks import labels as lb
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError


def run(frame: pd.DataFrame, target: str = "y", **thresholds: float):
    return lb.check_labels(CheckInput(frame, target), thresholds)


def messages(result) -> str:
    return "\n".join(f.message for f in result.findings)


def balanced(n_pos: int, n_neg: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_pos + n_neg), "y": [1] * n_pos + [0] * n_neg})


# --- class balance ----------------------------------------------------------------------------


def test_balanced_labels_pass_with_class_counts():
    result = run(balanced(40, 60))

    assert result.status == "pass"
    assert result.tables["classes"] == [
        {"label": "0", "count": 60, "share": 0.6},
        {"label": "1", "count": 40, "share": 0.4},
    ]
    assert result.metrics["minority_share"] == 0.4
    assert result.metrics["class.1.share"] == 0.4
    figure = result.figures[0]
    assert (figure.name, figure.series[0].x, figure.series[0].y) == (
        "class_counts",
        ["0", "1"],
        [60.0, 40.0],
    )


def test_minority_below_five_percent_warns():
    result = run(balanced(4, 96))

    assert result.metrics["minority_share"] == 0.04
    assert "y: the smallest class '1' has 4 of 100 labelled rows (4.00%); below 5.0%" in (
        messages(result)
    )
    assert result.status == "warn"


def test_minority_below_one_percent_fails():
    result = run(balanced(5, 995))

    assert result.metrics["minority_share"] == 0.005
    assert "has 5 of 1000 labelled rows (0.50%); below 1.0%" in messages(result)
    assert result.status == "fail"
    assert run(balanced(5, 995), fail_minority_share=0.001).status == "warn"


def test_single_class_fails():
    result = run(pd.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]}))

    assert result.metrics["minority_share"] is None
    assert "y: every labelled row has the class 'a'; a classifier needs at least two" in (
        messages(result)
    )
    assert result.status == "fail"
    json.dumps(result.to_dict(), allow_nan=False)


def test_multiclass_minority_is_the_smallest_class():
    frame = pd.DataFrame({"x": range(100), "y": ["a"] * 50 + ["b"] * 47 + ["c"] * 3})

    result = run(frame)

    assert result.metrics["n_classes"] == 3
    assert result.metrics["minority_share"] == 0.03
    assert "the smallest class 'c' has 3 of 100" in messages(result)


# --- missing labels ----------------------------------------------------------------------------


def test_missing_labels_fail_and_stay_out_of_the_balance():
    frame = pd.DataFrame({"x": range(10), "y": [1, 0, None, 1, 0, 1, 0, None, 1, 0]})

    result = run(frame)

    assert result.metrics["missing_labels"] == 2
    assert result.metrics["missing_label_share"] == 0.2
    assert result.metrics["minority_share"] == 0.5
    assert "y: 2 of 10 rows have no label (20.0% of all rows); expected none" in (messages(result))
    assert result.status == "fail"


# --- conflicting labels --------------------------------------------------------------------------


def test_conflicting_duplicates_are_counted_by_hand():
    # groups: (1, x) labels 0,1,1 -> conflict (3 rows); (2, y) 0,0 -> fine;
    # (NaN, z) labels 1,0 -> conflict (2 rows, missing equals missing); (3, z) alone.
    frame = pd.DataFrame(
        {
            "a": [1, 1, 1, 2, 2, None, None, 3],
            "b": ["x", "x", "x", "y", "y", "z", "z", "z"],
            "y": [0, 1, 1, 0, 0, 1, 0, 1],
        }
    )

    result = run(frame)

    assert lb.conflicting_groups(frame[["a", "b"]], frame["y"]) == (2, 5)
    assert result.metrics["conflict_groups"] == 2
    assert result.metrics["conflict_rows"] == 5
    assert result.metrics["conflict_share"] == 5 / 8
    assert (
        "2 group(s) of rows with identical features have different labels: 5 of 8 labelled "
        "rows (62.5%; limit 1.0%)" in messages(result)
    )
    assert result.status == "warn"


def test_conflicts_agree_with_pandas_groupby():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 4, 2000),
            "b": rng.choice(["u", "v"], 2000),
            "y": rng.integers(0, 2, 2000),
        }
    )
    frame.loc[::5, "y"] = 0

    groups = frame.groupby(["a", "b"])["y"].transform("nunique")
    expected_rows = int((groups > 1).sum())
    expected_groups = int((frame.groupby(["a", "b"])["y"].nunique() > 1).sum())

    assert lb.conflicting_groups(frame[["a", "b"]], frame["y"]) == (expected_groups, expected_rows)


def test_conflicts_use_declared_features_only():
    frame = pd.DataFrame({"a": [1, 1, 2, 2], "noise": [1, 2, 3, 4], "y": [0, 1, 0, 0]})

    declared = lb.check_labels(CheckInput(frame, "y", ["a"]), {})

    assert declared.metrics["conflict_rows"] == 2
    assert run(frame).metrics["conflict_rows"] == 0
    assert run(frame, max_conflict_share=0.5).status == "pass"


# --- continuous targets and errors ---------------------------------------------------------------


def test_continuous_target_skips_balance_and_conflicts():
    frame = pd.DataFrame({"x": [1, 1, 2], "y": [0.5, 1.7, 2.2]})

    result = run(frame)

    assert result.metrics["minority_share"] is None
    assert result.metrics["conflict_rows"] is None
    assert "y: numeric target with 3 distinct values (continuous)" in messages(result)
    assert result.status == "pass"
    assert lb.is_continuous(pd.Series(np.arange(51)))
    assert not lb.is_continuous(pd.Series([0, 1, 2, None]))


def test_missing_target_raises():
    with pytest.raises(ValidationError, match=r"labels check needs the target column; got 'z'"):
        run(pd.DataFrame({"x": [1]}), target="z")


def test_spec_defaults():
    assert lb.SPEC.defaults == {
        "min_minority_share": 0.05,
        "fail_minority_share": 0.01,
        "max_conflict_share": 0.01,
    }
    assert lb.SPEC.name == "labels"
