"""The data contract: what every column of a dataset must look like, and reading it from YAML.

A contract names each column with its type, unit, plausible range, typical value, allowed
categories, nullability and sensitivity. It is written (or drafted by
:func:`mlgate.contracts.infer_contract` and then reviewed) by a person, so loading a contract
file reports every mistake with the file, the line and the field::

    contract.yaml line 14, columns[1].type: expected one of 'integer', 'float', ...; got 'int'

The schema only says what a well-formed contract is; :mod:`mlgate.contracts.validate` checks a
frame against it.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from yaml.nodes import Node

from mlgate.documents._yaml import (
    Problem,
    line_of,
    parse_yaml,
    problems_from_pydantic,
    raise_problems,
    read_text_file,
    root_problem,
)

ColumnType = Literal["integer", "float", "string", "boolean", "datetime", "category"]
Sensitivity = Literal[
    "none",
    "sex",
    "age",
    "race",
    "religion",
    "health",
    "nationality",
    "marital_status",
    "identifier",
    "other",
]

NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float"})
ALLOWED_TYPES: frozenset[str] = frozenset({"category", "string", "integer"})

_WHAT = "data contract"
_HINT = (
    "fix each field listed above; 'mlgate data infer FILE' drafts a contract from the data, and "
    "docs/data-contract.md explains every field"
)


def _text(value: Any) -> Any:
    # YAML reads `name: 2019` or `version: 1` as numbers; a column name or version is text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number; got {str(value).lower()}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number; got {value}")
    return value


Name = Annotated[str, BeforeValidator(_text), Field(min_length=1)]
Number = Annotated[int | float, BeforeValidator(_finite)]
Category = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Strict):
    """The plausible range of a numeric column: values outside it are violations.

    Either bound may be left out. The range is what a person would believe, not the observed
    extremes: ``age`` from 18 to 100, not from 19 to 75.
    """

    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both; an empty range checks nothing")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}; expected min <= max")
        return self


class Typical(_Strict):
    """A typical value of a numeric column, used to notice data in the wrong unit.

    Give the median (preferred: robust to outliers) or the mean; when both are given the
    median is used.
    """

    median: Number | None = None
    mean: Number | None = None

    @model_validator(mode="after")
    def _given(self) -> Typical:
        if self.median is None and self.mean is None:
            raise ValueError("give the median or the mean")
        return self

    @property
    def value(self) -> float:
        """The typical value the unit-scale rule compares with: the median, else the mean."""
        chosen = self.median if self.median is not None else self.mean
        return float(chosen if chosen is not None else math.nan)


class ColumnContract(_Strict):
    """What one column must look like.

    ``range`` and ``typical`` apply to integer and float columns; ``allowed`` to category,
    string and integer columns. A ``key`` column must hold unique, non-null values. Values of
    a column whose ``sensitivity`` is not ``none`` never appear in a validation report.
    """

    name: Name
    type: ColumnType
    unit: str | None = None
    range: Range | None = None
    typical: Typical | None = None
    allowed: list[Category] | None = None
    nullable: bool = True
    key: bool = False
    label: bool = False
    timestamp: bool = False
    sensitivity: Sensitivity = "none"
    description: str | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> ColumnContract:
        if self.range is not None and self.type not in NUMERIC_TYPES:
            raise ValueError(f"range applies to integer and float columns; got type {self.type}")
        if self.typical is not None and self.type not in NUMERIC_TYPES:
            raise ValueError(f"typical applies to integer and float columns; got type {self.type}")
        if self.allowed is not None:
            if self.type not in ALLOWED_TYPES:
                raise ValueError(
                    f"allowed applies to category, string and integer columns; got type "
                    f"{self.type}"
                )
            if not self.allowed:
                raise ValueError("allowed is an empty list; list the values or leave it out")
            repeated = [v for v, n in Counter(map(str, self.allowed)).items() if n > 1]
            if repeated:
                raise ValueError(f"allowed lists {', '.join(repeated)} more than once")
        return self


class Contract(_Strict):
    """The data contract of one dataset: its name, the contract's version and its columns."""

    dataset: Name
    version: Name
    columns: list[ColumnContract] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        counts = Counter(c.name for c in self.columns)
        repeated = [name for name, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(
                f"column name(s) {', '.join(repeated)} appear more than once; expected each "
                "column once"
            )
        labels = [c.name for c in self.columns if c.label]
        if len(labels) > 1:
            raise ValueError(
                f"{len(labels)} label columns ({', '.join(labels)}); expected at most one"
            )
        return self

    def column(self, name: str) -> ColumnContract:
        """Return the contract of column ``name``; raise :class:`KeyError` if it has none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def label(self) -> str | None:
        """The name of the label column, or ``None`` when the contract declares none."""
        return next((c.name for c in self.columns if c.label), None)


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Read and validate the contract file at ``path``.

    Raises :class:`~mlgate.errors.NotFoundError` if the file does not exist and
    :class:`~mlgate.errors.ValidationError` listing every problem with its line otherwise.
    """
    file = Path(path)
    return parse_contract(read_text_file(file, _WHAT), str(file))


def parse_contract(text: str, source_name: str = "<contract>") -> Contract:
    """Validate the YAML ``text`` of a contract; ``source_name`` names it in messages."""
    source = parse_yaml(text, source_name, _WHAT, hint=_HINT)
    not_mapping = root_problem(source, _WHAT)
    if not_mapping is not None:
        raise_problems(source_name, _WHAT, [not_mapping], hint=_HINT)

    problems = list(source.problems)
    cross = _cross_column_problems(source.data, source.node)
    try:
        contract = Contract.model_validate(source.data)
    except pydantic.ValidationError as exc:
        found = problems_from_pydantic(exc, source.node, Contract)
        # The same cross-column mistakes, found again by Contract, but without their lines.
        problems += [p for p in found if not (cross and p.path == "")]
    problems += cross

    if problems:
        raise_problems(source_name, _WHAT, problems, hint=_HINT)
    return contract


def _cross_column_problems(data: Any, node: Node | None) -> list[Problem]:
    # Repeated names and extra labels, each reported on the line of the column concerned.
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, list):
        return []
    problems: list[Problem] = []
    first_name: dict[str, int] = {}
    first_label: int | None = None
    for index, column in enumerate(columns):
        if not isinstance(column, dict):
            continue
        name = _text(column.get("name"))
        if isinstance(name, str) and name in first_name:
            earlier = first_name[name]
            problems.append(
                Problem(
                    line_of(node, ("columns", index, "name")),
                    f"columns[{index}].name",
                    f"'{name}' already names columns[{earlier}] (line "
                    f"{line_of(node, ('columns', earlier, 'name'))}); expected each column once",
                )
            )
        elif isinstance(name, str):
            first_name[name] = index
        if column.get("label") is True:
            if first_label is not None:
                problems.append(
                    Problem(
                        line_of(node, ("columns", index, "label")),
                        f"columns[{index}].label",
                        f"a second label column (columns[{first_label}] is the label, line "
                        f"{line_of(node, ('columns', first_label, 'label'))}); expected at "
                        "most one",
                    )
                )
            else:
                first_label = index
    return problems


def dump_contract(contract: Contract) -> str:
    """Return ``contract`` as YAML that :func:`parse_contract` reads back unchanged.

    The text starts with a comment asking the reader to review every line: a drafted contract
    is a guess from the data, and the sensitivity of each column decides what reports show.
    """
    body = {
        "dataset": contract.dataset,
        "version": contract.version,
        "columns": [_column_fields(c) for c in contract.columns],
    }
    text = yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=99,
        allow_unicode=True,
    )
    return DUMP_HEADER.format(dataset=contract.dataset) + text.replace(
        "\n- name: ", "\n\n- name: "
    )


DUMP_HEADER = """\
# Data contract for dataset '{dataset}'.
#
# REVIEW EVERY LINE before registering data with this contract: a drafted contract is a guess
# from the data at hand, and the data validate against exactly what is written here.
#   - type, nullable, key, label, timestamp: what the column must be, not only what it was.
#   - unit: fill it in (EUR, years, months, kg); mlgate cannot guess units.
#   - range: the plausible values; the draft widens the observed ones, narrow or widen it.
#   - typical: a typical value (median), used to notice data in the wrong unit.
#   - allowed: every category that may occur, including ones absent from this sample.
#   - sensitivity ESPECIALLY: one of none, sex, age, race, religion, health, nationality,
#     marital_status, identifier, other. Columns not 'none' are never shown value by value in
#     reports, and fairness checks look for them. The draft guesses from names and values and
#     misses some: check each column.
# The format is explained in docs/data-contract.md.

"""


class _Flow(dict[str, Any]):
    """A mapping written on one line: ``range: {min: 0, max: 100}``."""


class _FlowList(list[Any]):
    """A list written on one line (wrapped at the width): ``allowed: [A, B, C]``."""


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing :class:`_Flow` and :class:`_FlowList` in flow style."""


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _column_fields(column: ColumnContract) -> dict[str, Any]:
    # A fixed, readable order; the flags that are off and the parts that are absent are left
    # out, except unit, nullable and sensitivity, which a reviewer must always see.
    fields: dict[str, Any] = {
        "name": column.name,
        "type": column.type,
        "unit": column.unit,
        "nullable": column.nullable,
    }
    for flag in ("key", "label", "timestamp"):
        if getattr(column, flag):
            fields[flag] = True
    fields["sensitivity"] = column.sensitivity
    if column.range is not None:
        fields["range"] = _Flow(column.range.model_dump(exclude_none=True))
    if column.typical is not None:
        fields["typical"] = _Flow(column.typical.model_dump(exclude_none=True))
    if column.allowed is not None:
        fields["allowed"] = _FlowList(column.allowed)
    if column.description is not None:
        fields["description"] = column.description
    return fields
