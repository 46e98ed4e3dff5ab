"""Tests for drafting a contract from data: types, ranges, roles and sensitivity."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest

from mlgate.contracts import (
    ColumnContract,
    Range,
    Typical,
    dump_contract,
    infer_contract,
    parse_contract,
    plausible_range,
    validate_frame,
)
from mlgate.errors import ValidationError


@pytest.fixture
def names_only(monkeypatch):
    """Hide the sensitive-data classifier, so that sensitivity is guessed from names."""
    monkeypatch.setitem(sys.modules, "mlgate.checks.sensitive", None)


def mixed_frame() -> pd.DataFrame:
    n = 60
    rng = np.random.default_rng(1)
    visits = np.arange(n, dtype=float)
    visits[[3, 7]] = np.nan
    score = rng.uniform(0.12, 0.93, n)
    score[0], score[1], score[2] = 0.12, 0.93, np.nan
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "count": np.arange(n) + 19,
            "score": score,
            "visits": visits,
            "grade": ["b", "a", "c"] * 20,
            "mixed": pd.Series([2, "x", 1, "y"] * 15, dtype=object),
            "signup_date": [f"2024-01-{d % 28 + 1:02d}" for d in range(n)],
            "flag": [True, False] * 30,
            "sex": ["f", "m", "m"] * 20,
            "comment": [f"text {i}" for i in range(n)],
            "target": [0, 1] * 30,
        }
    )


def test_infer_on_mixed_types_gives_the_expected_contract(names_only):
    frame = mixed_frame()

    contract = infer_contract(frame, "customers", target="target")

    assert (contract.dataset, contract.version, contract.label) == ("customers", "1", "target")
    assert contract.columns == [
        ColumnContract(name="customer_id", type="string", nullable=False, key=True),
        ColumnContract(
            name="count",
            type="integer",
            nullable=False,
            range=Range(min=13, max=84),
            typical=Typical(median=48.5),
        ),
        ColumnContract(
            name="score",
            type="float",
            nullable=True,
            range=Range(min=0.03, max=1.02),
            typical=Typical(median=float(f"{np.nanmedian(frame['score']):.6g}")),
        ),
        ColumnContract(
            name="visits",
            type="integer",
            nullable=True,
            range=Range(min=0, max=65),
            typical=Typical(median=30.5),
        ),
        ColumnContract(name="grade", type="category", nullable=False, allowed=["a", "b", "c"]),
        ColumnContract(name="mixed", type="category", nullable=False, allowed=[1, 2, "x", "y"]),
        ColumnContract(name="signup_date", type="datetime", nullable=False, timestamp=True),
        ColumnContract(name="flag", type="boolean", nullable=False),
        ColumnContract(
            name="sex", type="category", nullable=False, allowed=["f", "m"], sensitivity="sex"
        ),
        ColumnContract(name="comment", type="string", nullable=False),
        ColumnContract(
            name="target",
            type="integer",
            nullable=False,
            label=True,
            range=Range(min=0, max=2),
            typical=Typical(median=0.5),
        ),
    ]
    assert validate_frame(frame, contract).ok


def test_inferred_contract_survives_dump_and_load(names_only):
    contract = infer_contract(mixed_frame(), "customers", target="target")

    assert parse_contract(dump_contract(contract)) == contract


@pytest.mark.parametrize(
    ("low", "high", "integer", "expected"),
    [
        (19, 75, True, (13, 81)),
        (250, 18_424, True, (0, 21_000)),
        (0.12, 0.93, False, (0.03, 1.02)),
        (-5.0, 5.0, False, (-6, 6)),
        (7, 7, True, (6, 8)),
        (0, 0, True, (0, 1)),
        (1, 4, True, (0, 5)),
    ],
)
def test_plausible_range_widens_and_rounds_outward(low, high, integer, expected):
    assert plausible_range(low, high, integer=integer) == expected


def test_nullable_int64_and_boolean_keep_their_types_bl25():
    frame = pd.DataFrame(
        {
            "a": pd.array([1, 2, None], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "c": [0.5, 1.5, 2.5],
        }
    )

    contract = infer_contract(frame, "bl25")
    report = validate_frame(frame, contract)

    kinds = {c.name: (c.type, c.nullable) for c in contract.columns}
    assert kinds == {"a": ("integer", True), "b": ("boolean", True), "c": ("float", False)}
    assert report.ok
    assert [str(t) for t in frame.dtypes] == ["Int64", "boolean", "float64"]


def test_sensitivity_from_names_when_the_classifier_is_absent(names_only):
    frame = pd.DataFrame(
        {
            "Gender": ["f"],
            "date_of_birth": ["1990-01-01"],
            "ethnicity": ["x"],
            "native_country": ["y"],
            "marital_status": ["z"],
            "email": ["a@b.c"],
            "name": ["Ann"],
            "page_views": [3],
        }
    )

    contract = infer_contract(frame, "people")

    assert [c.sensitivity for c in contract.columns] == [
        "sex",
        "age",
        "race",
        "nationality",
        "marital_status",
        "identifier",
        "identifier",
        "none",
    ]


def test_sensitivity_comes_from_the_classifier_when_it_is_installed(monkeypatch):
    def classify_column(name: str, values: pd.Series):
        found = {
            "g": "gender",
            "m": types.SimpleNamespace(category="email"),
            "h": "health",
            "p": types.SimpleNamespace(category="political_opinion"),
        }
        return found.get(name)

    fake = types.ModuleType("mlgate.checks.sensitive")
    fake.classify_column = classify_column  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlgate.checks.sensitive", fake)
    frame = pd.DataFrame({"g": ["f"], "m": ["a@b.c"], "h": ["flu"], "p": ["x"], "sex": ["f"]})

    contract = infer_contract(frame, "people")

    # The classifier decides: "sex" is not sensitive because it said so, not by its name.
    assert [c.sensitivity for c in contract.columns] == [
        "sex",
        "identifier",
        "health",
        "other",
        "none",
    ]


def test_a_classifier_that_fails_falls_back_to_names(monkeypatch, caplog):
    def classify_column(name: str, values: pd.Series):
        raise TypeError(f"cannot read the values of {name}")

    fake = types.ModuleType("mlgate.checks.sensitive")
    fake.classify_column = classify_column  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlgate.checks.sensitive", fake)

    contract = infer_contract(pd.DataFrame({"age": [30]}), "people")

    assert contract.columns[0].sensitivity == "age"
    assert "sensitivity classifier failed on column age" in caplog.text


def test_key_needs_an_identifier_name_and_unique_non_null_values(names_only):
    frame = pd.DataFrame(
        {
            "order_no": [10, 11, 12],
            "rank": [1, 2, 3],
            "account_key": ["a", "b", None],
            "item_id": [1, 1, 2],
        }
    )

    contract = infer_contract(frame, "orders")

    assert [c.key for c in contract.columns] == [True, False, False, False]


def test_timestamp_needs_a_time_name(names_only):
    frame = pd.DataFrame(
        {
            "created_at": pd.date_range("2024-01-01", periods=3, freq="h"),
            "birthday_text": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "code": ["2024-01-01", "n/a", "x"],
        }
    )

    contract = infer_contract(frame, "events")

    found = [(c.type, c.timestamp) for c in contract.columns]
    assert found == [("datetime", True), ("datetime", False), ("category", False)]


def test_infer_refuses_a_target_that_is_not_a_column():
    with pytest.raises(ValidationError, match=r"^target column 'y' is not in the data; found"):
        infer_contract(pd.DataFrame({"x": [1]}), "d", target="y")


def test_infer_refuses_duplicate_column_names_bl24():
    frame = pd.DataFrame([[1, 2, 3]], columns=["x", "x", "y"])

    with pytest.raises(ValidationError, match=r"^duplicate column name\(s\): x;"):
        infer_contract(frame, "d")


def test_infer_refuses_a_frame_without_columns():
    with pytest.raises(ValidationError, match=r"^the data has no column"):
        infer_contract(pd.DataFrame(), "d")
