"""Tests for the ``contract`` check: grading violations, figures, tables and its spec."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlgate.checks import contract as cc
from mlgate.checks.base import CheckInput
from mlgate.contracts import ColumnContract, Contract, Range
from mlgate.errors import ValidationError

CONTRACT = Contract(
    dataset="shop",
    version="2",
    columns=[
        ColumnContract(name="weight", type="float", unit="kg", range=Range(min=0, max=50)),
        ColumnContract(name="qty", type="integer", nullable=False),
        ColumnContract(name="sold", type="boolean", label=True),
    ],
)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "qty": [1, 2, 3, 4, 5, 6, 7],
            "sold": [True, False, True, True, False, True, False],
        }
    )


def test_clean_data_pass():
    result = cc.check_contract(CheckInput(frame(), target="sold"), {}, CONTRACT)

    assert result.status == "pass"
    assert result.findings == []
    assert result.summary == "shop (contract version 2), 7 rows: meets the contract"
    assert result.metrics["n_violations"] == 0


@pytest.mark.parametrize(("limit", "status"), [(0.0, "fail"), (0.1, "fail"), (0.2, "warn")])
def test_range_violation_fails_above_the_limit_and_warns_below(limit, status):
    data = frame().assign(weight=[1.0, 2.0, 60.0, 4.0, 5.0, 6.0, 7.0])

    result = cc.check_contract(
        CheckInput(data, target="sold"), {"max_violation_share": limit}, CONTRACT
    )

    assert result.status == status
    (finding,) = result.findings
    assert finding.subject == "weight"
    assert finding.value == pytest.approx(1 / 7)
    assert finding.message.endswith(f"[limit {100 * limit:.3g}% of non-null values]")


def test_type_and_missing_column_fail_whatever_the_limit():
    data = frame().assign(weight=[1.0, 2.0, 60.0, 4.0, 5.0, 6.0, 7.0], qty=[1, 2, 3.5, 4, 5, 6, 7])
    data = data.drop(columns="sold")

    result = cc.check_contract(
        CheckInput(data, target="sold"), {"max_violation_share": 1.0}, CONTRACT
    )

    assert result.status == "fail"
    assert [(f.subject, f.severity) for f in result.findings] == [
        ("weight", "warn"),
        ("qty", "fail"),
        ("sold", "fail"),
    ]
    assert result.metrics["violations.type"] == 1
    assert result.metrics["violations.missing_column"] == 1
    assert result.metrics["n_failing"] == 2


def test_null_share_is_graded_against_all_rows():
    data = frame().assign(qty=[1, None, 3, 4, 5, 6, 7])

    result = cc.check_contract(
        CheckInput(data, target="sold"), {"max_violation_share": 0.5}, CONTRACT
    )

    (null,) = result.findings
    assert null.severity == "warn"
    assert null.message == (
        "qty: null in non-nullable integer column: 1 of 7 rows (14.3% of all rows); e.g. row 1 "
        "[limit 50% of all rows]"
    )


def test_label_may_be_absent_without_a_target():
    result = cc.check_contract(CheckInput(frame().drop(columns="sold")), {}, CONTRACT)

    assert result.status == "pass"


def test_figure_counts_rows_per_column_and_rule_and_result_is_json():
    data = frame().assign(
        weight=[1.0, 2.0, 60.0, 4.0, 5.0, 6.0, 7.0], qty=[1, None, 3.5, 4, 5, 6, 7]
    )
    data["extra"] = np.arange(7)

    result = cc.check_contract(CheckInput(data, target="sold"), {}, CONTRACT)

    (figure,) = result.figures
    assert figure.kind == "bar"
    assert {s.name: (s.x, s.y) for s in figure.series} == {
        "unexpected_column": (["weight", "qty", "extra"], [0.0, 0.0, 7.0]),
        "type": (["weight", "qty", "extra"], [0.0, 1.0, 0.0]),
        "null": (["weight", "qty", "extra"], [0.0, 1.0, 0.0]),
        "range": (["weight", "qty", "extra"], [1.0, 0.0, 0.0]),
    }
    rows = result.tables["violations"]
    assert [(r["column"], r["rule"], r["severity"]) for r in rows] == [
        ("weight", "range", "fail"),
        ("qty", "type", "fail"),
        ("qty", "null", "fail"),
        ("extra", "unexpected_column", "fail"),
    ]
    assert json.loads(json.dumps(result.to_dict()))["check"] == "contract"


def test_make_check_binds_the_contract():
    function = cc.make_check(CONTRACT)

    assert function(CheckInput(frame(), target="sold"), {}).status == "pass"
    assert function(CheckInput(frame().drop(columns="qty"), target="sold"), {}).status == "fail"


def test_spec_without_a_contract_refuses_to_run():
    with pytest.raises(ValidationError, match=r"^the contract check needs a contract; register"):
        cc.SPEC.function(CheckInput(frame()), {})


def test_limit_outside_zero_to_one_is_refused():
    with pytest.raises(ValidationError, match=r"max_violation_share must be in \[0, 1\]; got 2"):
        cc.check_contract(CheckInput(frame()), {"max_violation_share": 2}, CONTRACT)


def test_spec_describes_the_check():
    assert (cc.SPEC.name, cc.SPEC.needs_model, cc.SPEC.needs_reference) == (
        "contract",
        False,
        False,
    )
    assert cc.SPEC.defaults == {"max_violation_share": 0.0}
