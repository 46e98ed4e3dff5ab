"""Tests for the contract schema: loading YAML with lines, and the dump-load round trip."""

from __future__ import annotations

import pytest

from mlgate.contracts import (
    ColumnContract,
    Contract,
    Range,
    Typical,
    dump_contract,
    load_contract,
    parse_contract,
)
from mlgate.errors import NotFoundError, ValidationError


def full_contract() -> Contract:
    return Contract(
        dataset="loans",
        version="3",
        columns=[
            ColumnContract(name="loan_id", type="integer", nullable=False, key=True),
            ColumnContract(
                name="amount",
                type="float",
                unit="EUR",
                range=Range(min=0, max=250_000.5),
                typical=Typical(median=2319.5, mean=3271.3),
                nullable=False,
                description="Amount lent, in euros.",
            ),
            ColumnContract(name="grade", type="category", allowed=["A", "B", "yes", "1", 2, True]),
            ColumnContract(name="sex", type="category", allowed=["f", "m"], sensitivity="sex"),
            ColumnContract(name="opened_on", type="datetime", timestamp=True),
            ColumnContract(name="default", type="boolean", nullable=False, label=True),
            ColumnContract(name="note", type="string", description="Free text: 'quoted' # not"),
        ],
    )


def test_dump_then_parse_gives_the_same_contract():
    contract = full_contract()

    assert parse_contract(dump_contract(contract)) == contract


def test_dump_asks_for_review_and_sensitivity_first():
    text = dump_contract(full_contract())

    assert text.startswith("# Data contract for dataset 'loans'.")
    assert "REVIEW EVERY LINE" in text
    assert "sensitivity ESPECIALLY" in text
    assert "  range: {min: 0, max: 250000.5}\n" in text
    assert "  allowed: [A, B, 'yes', '1', 2, true]\n" in text


def test_load_contract_reads_a_file(tmp_path):
    path = tmp_path / "contract.yaml"
    path.write_text(dump_contract(full_contract()), encoding="utf-8")

    assert load_contract(path) == full_contract()


def test_load_contract_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.yaml"

    with pytest.raises(NotFoundError, match=r"data contract file '.*nope\.yaml' does not exist"):
        load_contract(path)


BAD = """\
dataset: loans
version: 1
columns:
  - name: amount
    type: float
    unti: EUR
  - name: grade
    type: int
  - name: age
    type: integer
    range: {min: 90, max: 18}
  - name: weight
    type: float
    allowed: [a, b]
"""


def test_wrong_fields_are_named_with_their_lines():
    expected = (
        r"^contract\.yaml is not a valid data contract \(4 problems\):\n"
        r"  contract\.yaml line 6, columns\[0\]\.unti: unknown field \(did you mean 'unit'\?\).*\n"
        r"  contract\.yaml line 8, columns\[1\]\.type: expected one of 'integer', 'float', "
        r"'string', 'boolean', 'datetime' or 'category'; got 'int'\n"
        r"  contract\.yaml line 11, columns\[2\]\.range: min 90 is above max 18; "
        r"expected min <= max\n"
        r"  contract\.yaml line 12, columns\[3\]: allowed applies to category, string and "
        r"integer columns; got type float$"
    )

    with pytest.raises(ValidationError, match=expected):
        parse_contract(BAD, "contract.yaml")


def test_repeated_column_and_second_label_name_their_lines():
    text = """\
dataset: loans
version: 1
columns:
  - name: a
    type: integer
    label: true
  - name: b
    type: float
  - name: a
    type: float
    label: true
"""
    expected = (
        r"  contract\.yaml line 9, columns\[2\]\.name: 'a' already names columns\[0\] \(line 4\); "
        r"expected each column once\n"
        r"  contract\.yaml line 11, columns\[2\]\.label: a second label column \(columns\[0\] is "
        r"the label, line 6\); expected at most one$"
    )

    with pytest.raises(ValidationError, match=expected):
        parse_contract(text, "contract.yaml")


def test_repeated_column_in_python_is_refused():
    columns = [ColumnContract(name="a", type="integer"), ColumnContract(name="a", type="float")]

    with pytest.raises(ValueError, match=r"column name\(s\) a appear more than once"):
        Contract(dataset="d", version="1", columns=columns)


def test_numeric_version_and_name_are_read_as_text():
    contract = parse_contract("dataset: d\nversion: 2\ncolumns:\n  - {name: 2019, type: float}\n")

    assert contract.version == "2"
    assert contract.columns[0].name == "2019"


def test_typical_needs_a_value_and_prefers_the_median():
    assert Typical(mean=4, median=3).value == 3.0
    assert Typical(mean=4).value == 4.0

    with pytest.raises(ValueError, match=r"give the median or the mean"):
        Typical()


def test_range_bound_must_be_a_number_not_a_boolean():
    with pytest.raises(ValueError, match=r"expected a number; got true"):
        Range(min=True)


def test_empty_range_and_repeated_allowed_values_are_refused():
    with pytest.raises(ValueError, match=r"give min, max or both"):
        Range()
    with pytest.raises(ValueError, match=r"allowed lists a more than once"):
        ColumnContract(name="c", type="category", allowed=["a", "b", "a"])


def test_empty_contract_file_is_refused():
    with pytest.raises(ValidationError, match=r"columns: field required"):
        parse_contract("dataset: d\nversion: 1\n", "c.yaml")
