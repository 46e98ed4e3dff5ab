"""Tests for validating frames against a contract: every rule, counted exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mlgate.contracts as contracts
from mlgate.contracts import ColumnContract, Contract, Range, Typical, validate_frame
from mlgate.errors import ValidationError


def contract(*columns: ColumnContract) -> Contract:
    return Contract(dataset="shop", version="1", columns=list(columns))


def only(report, rule: str, column: str):
    found = [v for v in report.violations if v.rule == rule and v.column == column]
    assert len(found) == 1, report.violations
    return found[0]


SHOP = contract(
    ColumnContract(name="order_id", type="integer", key=True, nullable=False),
    ColumnContract(name="weight", type="float", unit="kg", range=Range(min=0, max=50)),
    ColumnContract(name="size", type="category", allowed=["S", "M", "L"]),
    ColumnContract(name="qty", type="integer", nullable=False, range=Range(min=1, max=10)),
    ColumnContract(name="sex", type="category", allowed=["f", "m"], sensitivity="sex"),
    ColumnContract(name="region", type="category"),
)


@pytest.fixture
def shop() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [1, 2, 3, 3, 5, 6, 2, 8],
            "weight": [1.0, 2.5, None, 60.0, 3.0, -1.0, 2.0, 1.5],
            "size": ["S", "M", "XL", None, "L", "xs", "M", "S"],
            "qty": [1, 2, None, 4, 2.5, 3, 20, 1],
            "sex": ["f", "x", "m", "m", "f", "f", "m", "f"],
            "extra": list("abcdefgh"),
        }
    )


def test_every_rule_is_counted_with_rows_and_both_denominators(shop):
    report = validate_frame(shop, SHOP)

    found = {(v.column, v.rule): (v.count, v.n_non_null, v.rows) for v in report.violations}
    assert found == {
        ("order_id", "unique_key"): (2, 8, [3, 6]),
        ("weight", "range"): (2, 7, [3, 5]),
        ("size", "allowed"): (2, 7, [2, 5]),
        ("qty", "type"): (1, 7, [4]),
        ("qty", "null"): (1, 7, [2]),
        ("qty", "range"): (1, 7, [6]),
        ("sex", "allowed"): (1, 8, [1]),
        ("region", "missing_column"): (8, None, []),
        ("extra", "unexpected_column"): (8, 8, []),
    }
    assert not report.ok
    assert report.n_rows == 8


def test_range_violation_states_both_shares_and_example_values(shop):
    violation = only(validate_frame(shop, SHOP), "range", "weight")

    assert violation.share_of_non_null == pytest.approx(2 / 7)
    assert violation.share_of_rows == pytest.approx(2 / 8)
    assert violation.examples == [60.0, -1.0]
    assert violation.message == (
        "weight: 2 of 7 non-null values (28.6% of non-null values; 25% of all 8 rows) outside "
        "the range [0, 50] kg; e.g. rows 3, 5; values 60.0, -1.0"
    )


def test_sensitive_column_shows_rows_but_never_values(shop):
    violation = only(validate_frame(shop, SHOP), "allowed", "sex")

    assert violation.examples == []
    assert violation.rows == [1]
    assert "'x'" not in violation.message
    assert violation.message.endswith("e.g. row 1 (values withheld: sensitivity sex)")


def test_type_violation_of_a_whole_column_names_the_dtype():
    frame = pd.DataFrame({"n": [True, False, None]}, dtype="boolean")
    spec = contract(ColumnContract(name="n", type="integer"))

    violation = only(validate_frame(frame, spec), "type", "n")

    assert (violation.count, violation.n_non_null, violation.rows) == (2, 2, [0, 1])
    assert "not whole numbers (dtype boolean cannot hold integer values)" in violation.message


@pytest.mark.parametrize(
    ("kind", "values", "bad_rows"),
    [
        ("integer", [1, "2", "x", 3.5, None], [2, 3]),
        ("float", ["1.5", "abc", 2, None, "inf"], [1]),
        ("boolean", [True, False, "yes", None, 1], [2]),
        ("datetime", ["2024-01-31", "2024-02-30", None, "2024-03-01T10:00:00", "soon"], [1, 4]),
    ],
)
def test_values_of_the_wrong_type_are_found_row_by_row(kind, values, bad_rows):
    frame = pd.DataFrame({"c": pd.Series(values, dtype=object)})

    report = validate_frame(frame, contract(ColumnContract(name="c", type=kind)))

    assert [(v.rule, v.rows) for v in report.violations] == [("type", bad_rows)]


def test_datetime_dtype_and_text_columns_pass_their_types():
    frame = pd.DataFrame(
        {
            "t": pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC"),
            "s": [1, 2, 3],
            "c": ["a", "b", "a"],
        }
    )
    spec = contract(
        ColumnContract(name="t", type="datetime", timestamp=True),
        ColumnContract(name="s", type="string"),
        ColumnContract(name="c", type="category", allowed=["a", "b"]),
    )

    assert validate_frame(frame, spec).ok


def test_allowed_values_match_codes_read_as_numbers():
    frame = pd.DataFrame({"code": [1, 2, 3, 4]})
    spec = contract(ColumnContract(name="code", type="integer", allowed=["1", "2", 3]))

    violation = only(validate_frame(frame, spec), "allowed", "code")

    assert (violation.count, violation.rows, violation.examples) == (1, [3], [4])


def test_at_most_five_rows_and_three_distinct_values_are_shown():
    frame = pd.DataFrame({"v": [100, 101, 100, 102, 103, 104, 105, 1]})
    spec = contract(ColumnContract(name="v", type="integer", range=Range(max=10)))

    violation = only(validate_frame(frame, spec), "range", "v")

    assert violation.count == 7
    assert violation.rows == [0, 1, 2, 3, 4]
    assert violation.examples == [100, 101, 102]


# --- BL-19: an integer column with a null ------------------------------------------------------


def test_null_in_non_nullable_integer_column_names_column_a_and_row_1_bl19():
    frame = pd.DataFrame({"A": [20, None], "B": [100, 200]})
    spec = contract(
        ColumnContract(name="A", type="integer", nullable=False),
        ColumnContract(name="B", type="integer", nullable=False),
    )

    report = validate_frame(frame, spec)

    assert len(report.violations) == 1
    violation = report.violations[0]
    assert (violation.column, violation.rule, violation.rows) == ("A", "null", [1])
    assert violation.share_of_non_null is None
    assert violation.share_of_rows == 0.5
    assert violation.message == (
        "A: null in non-nullable integer column: 1 of 2 rows (50% of all rows); e.g. row 1"
    )


def test_nullable_integer_column_with_a_null_passes_unchanged_bl19():
    frame = pd.DataFrame({"A": [20, None], "B": [100, 200]})
    spec = contract(
        ColumnContract(name="A", type="integer"),
        ColumnContract(name="B", type="integer", nullable=False),
    )

    assert validate_frame(frame, spec).ok
    assert frame["A"].tolist()[0] == 20.0


# --- BL-21: every share carries its denominator ------------------------------------------------


def test_null_heavy_column_shares_name_their_denominators_bl21():
    status = np.array([None] * 650 + ["bad"] * 230 + ["ok"] * 120, dtype=object)
    frame = pd.DataFrame({"status": status})
    spec = contract(ColumnContract(name="status", type="category", allowed=["ok"]))

    violation = only(validate_frame(frame, spec), "allowed", "status")

    assert violation.count == 230
    assert violation.n_non_null == 350
    assert violation.share_of_non_null == pytest.approx(0.65714286)
    assert violation.share_of_rows == pytest.approx(0.23)
    assert violation.verdict_share == violation.share_of_non_null
    assert "230 of 350 non-null values (65.7% of non-null values; 23% of all 1,000 rows)" in (
        violation.message
    )


# --- BL-24: duplicate column names --------------------------------------------------------------


def test_duplicate_column_names_raise_naming_them_bl24():
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6], [7, 8, 9]], columns=["x", "x", "y"])
    spec = contract(ColumnContract(name="x", type="integer"))

    with pytest.raises(ValidationError, match=r"^duplicate column name\(s\): x; expected each"):
        validate_frame(frame, spec)


# --- unit scale ----------------------------------------------------------------------------------


KG = ColumnContract(
    name="weight", type="float", unit="kg", range=Range(min=0, max=50), typical=Typical(median=2)
)


def test_values_in_grams_for_a_kilogram_column_are_a_unit_scale_violation():
    frame = pd.DataFrame({"weight": [1000.0, 2500.0, 3000.0, 1500.0, 2000.0, None]})

    violation = only(validate_frame(frame, contract(KG)), "unit_scale", "weight")

    assert (violation.count, violation.n_non_null) == (5, 5)
    assert violation.message == (
        "weight: looks like the wrong unit (median 2,000 vs typical 2 kg): about 1,000x larger "
        "than typical, e.g. grams instead of kilograms, or units instead of thousands; 5 of 5 "
        "non-null values (100% of non-null values; 83.3% of all 6 rows) outside the range "
        "[0, 50] kg"
    )


def test_values_a_hundred_times_smaller_are_a_unit_scale_violation():
    spec = KG.model_copy(update={"range": Range(min=0.5, max=50)})
    frame = pd.DataFrame({"weight": [0.01, 0.02, 0.03]})

    violation = only(validate_frame(frame, contract(spec)), "unit_scale", "weight")

    assert "about 1/100 smaller than typical, e.g. euros instead of cents" in violation.message


def test_a_large_median_within_the_range_is_not_a_unit_problem():
    spec = KG.model_copy(update={"range": Range(min=0, max=1e6)})
    frame = pd.DataFrame({"weight": [1000.0, 2500.0, 3000.0]})

    assert validate_frame(frame, contract(spec)).ok


def test_unit_scale_without_a_range_uses_the_median_alone():
    spec = KG.model_copy(update={"range": None})
    frame = pd.DataFrame({"weight": [1000.0, 2500.0, 3000.0]})

    report = validate_frame(frame, contract(spec))

    assert [v.rule for v in report.violations] == ["unit_scale"]


# --- labels, sizes, speed ------------------------------------------------------------------------


def test_scoring_data_may_lack_the_label_column():
    spec = contract(
        ColumnContract(name="x", type="float"),
        ColumnContract(name="y", type="integer", label=True),
    )
    frame = pd.DataFrame({"x": [1.0, 2.0]})

    assert validate_frame(frame, spec, require_label=False).ok
    assert [v.rule for v in validate_frame(frame, spec).violations] == ["missing_column"]


def test_empty_frame_reports_missing_columns_without_dividing_by_zero():
    frame = pd.DataFrame({"order_id": pd.Series([], dtype="int64")})

    report = validate_frame(frame, SHOP)

    assert {v.rule for v in report.violations} == {"missing_column"}
    assert all(v.share_of_rows is None for v in report.violations)


def test_a_million_rows_validate_in_well_under_two_seconds():
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "weight": rng.uniform(0, 60, n),
            "size": rng.choice(["S", "M", "L", "XL"], n),
            "qty": rng.integers(0, 12, n),
            "sex": rng.choice(["f", "m"], n),
            "region": rng.choice(["north", "south"], n),
        }
    )

    report = validate_frame(frame, SHOP)

    assert {(v.column, v.rule) for v in report.violations} == {
        ("weight", "range"),
        ("size", "allowed"),
        ("qty", "range"),
    }


def test_report_is_json_and_package_exports_its_api(shop):
    record = json.loads(json.dumps(validate_frame(shop, SHOP).to_dict()))

    assert (record["dataset"], record["ok"], len(record["violations"])) == ("shop", False, 9)
    public = {name for name in vars(contracts) if not name.startswith("_")}
    assert set(contracts.__all__) <= public
    assert {"Contract", "infer_contract", "validate_frame", "load_contract"} <= set(
        contracts.__all__
    )
