"""Data contracts: what each column of a dataset must look like, drafted, loaded and checked.

A contract declares every column's type, unit, plausible range, typical value, allowed
categories, nullability, role (key, label, timestamp) and sensitivity. Draft one from data with
:func:`infer_contract`, review it, write it with :func:`dump_contract`, read it back with
:func:`load_contract`, and check a frame against it with :func:`validate_frame`.
"""

from __future__ import annotations

from mlgate.contracts.infer import infer_contract, plausible_range
from mlgate.contracts.schema import (
    ColumnContract,
    Contract,
    Range,
    Typical,
    dump_contract,
    load_contract,
    parse_contract,
)
from mlgate.contracts.validate import (
    RULES,
    ContractReport,
    Violation,
    reject_duplicate_columns,
    validate_frame,
)

__all__ = [
    "RULES",
    "ColumnContract",
    "Contract",
    "ContractReport",
    "Range",
    "Typical",
    "Violation",
    "dump_contract",
    "infer_contract",
    "load_contract",
    "parse_contract",
    "plausible_range",
    "reject_duplicate_columns",
    "validate_frame",
]
