"""Check a frame against its data contract and report every violation.

Validation never stops at the first problem. Each :class:`Violation` names the column and the
rule, counts the rows concerned, states each share together with its denominator (of the
column's non-null values and of all rows), and gives up to ``MAX_EXAMPLE_ROWS`` example row
numbers (0-based positions in the frame). Example values, at most ``MAX_EXAMPLE_VALUES``, are
shown only for columns whose sensitivity is ``none``; the values of sensitive columns never
leave this module.

The rules, in the order they are checked per column:

- ``missing_column``: a contract column is not in the frame;
- ``unexpected_column``: a frame column is not in the contract;
- ``type``: values that are not of the declared type (a whole column when its dtype cannot
  hold the type at all, such as booleans for an integer column);
- ``null``: nulls in a column that is not nullable, or in a key column;
- ``range``: numeric values outside the plausible range;
- ``allowed``: values outside the allowed categories;
- ``unique_key``: values of a key column that repeat an earlier row's value;
- ``unit_scale``: the column's median is at least ``UNIT_SCALE_FACTOR`` times larger or smaller
  than the contract's typical value and most values are out of range: the data look like
  another unit (grams for kilograms, cents for euros).

Everything is computed with whole-column pandas and NumPy operations; a million rows take well
under a second per column.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlgate.contracts.schema import ColumnContract, Contract
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

Rule = Literal[
    "missing_column",
    "unexpected_column",
    "type",
    "null",
    "range",
    "allowed",
    "unique_key",
    "unit_scale",
]
RULES: tuple[str, ...] = (
    "missing_column",
    "unexpected_column",
    "type",
    "null",
    "range",
    "allowed",
    "unique_key",
    "unit_scale",
)
COLUMN_RULES: frozenset[str] = frozenset(
    {"missing_column", "unexpected_column", "type", "unit_scale"}
)

MAX_EXAMPLE_ROWS = 5
MAX_EXAMPLE_VALUES = 3
UNIT_SCALE_FACTOR = 100.0
UNIT_SCALE_OUT_OF_RANGE = 0.5

# What a factor of ten to the power k usually means when a column is in the wrong unit.
_UNIT_EXAMPLES: dict[int, str] = {
    3: "e.g. grams instead of kilograms, or units instead of thousands",
    2: "e.g. cents instead of euros, or percent instead of a fraction",
    -2: "e.g. euros instead of cents, or a fraction instead of percent",
    -3: "e.g. kilograms instead of grams, or thousands instead of units",
}


@dataclass(frozen=True)
class Violation:
    """One rule broken by one column, with counts, both denominators and example rows.

    ``count`` is the number of rows concerned. ``share_of_non_null`` divides it by the
    column's ``n_non_null`` values and ``share_of_rows`` by all ``n_rows`` rows; a share whose
    denominator is 0 or does not apply (a missing column has no non-null values) is ``None``.
    ``rows`` are 0-based positions; ``examples`` is empty for sensitive columns.
    """

    column: str
    rule: Rule
    count: int
    n_rows: int
    n_non_null: int | None
    share_of_non_null: float | None
    share_of_rows: float | None
    rows: list[int]
    examples: list[Any]
    message: str

    @property
    def verdict_share(self) -> float | None:
        """The share a limit is compared with: of non-null values, or of rows for nulls."""
        if self.rule in ("null", "missing_column", "unexpected_column"):
            return self.share_of_rows
        return self.share_of_non_null

    def to_dict(self) -> dict[str, Any]:
        """Return the violation as a JSON-serialisable record."""
        return asdict(self)


@dataclass(frozen=True)
class ContractReport:
    """Every violation of a contract by a frame; ``ok`` when there is none."""

    dataset: str
    version: str
    n_rows: int
    n_columns: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the frame meets the contract."""
        return not self.violations

    def counts_by_rule(self) -> dict[str, int]:
        """Return the number of violations of each rule (rules without one are left out)."""
        counts: dict[str, int] = {}
        for violation in self.violations:
            counts[violation.rule] = counts.get(violation.rule, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-serialisable record, for storing with a dataset."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "ok": self.ok,
            "violations": [v.to_dict() for v in self.violations],
        }

    def summary(self) -> str:
        """Return one line: the dataset, the size, and the violations by rule."""
        head = f"{self.dataset} (contract version {self.version}), {self.n_rows:,} rows"
        if self.ok:
            return f"{head}: meets the contract"
        rules = ", ".join(f"{n} {rule}" for rule, n in self.counts_by_rule().items())
        return f"{head}: {len(self.violations)} violation(s): {rules}"


def reject_duplicate_columns(frame: pd.DataFrame) -> None:
    """Raise :class:`ValidationError` naming every column name that occurs more than once."""
    names = pd.Index([str(c) for c in frame.columns])
    if names.has_duplicates:
        repeated = ", ".join(names[names.duplicated()].unique())
        raise ValidationError(
            f"duplicate column name(s): {repeated}; expected each column name once"
        )


def validate_frame(
    frame: pd.DataFrame, contract: Contract, *, require_label: bool = True
) -> ContractReport:
    """Check ``frame`` against ``contract`` and return every violation, column by column.

    ``require_label=False`` accepts a frame without the label column, as scoring data come.
    The frame is not changed. Raises :class:`ValidationError` for duplicate column names.
    """
    reject_duplicate_columns(frame)
    names = [str(c) for c in frame.columns]
    position = {name: i for i, name in enumerate(names)}
    n_rows = len(frame)

    violations: list[Violation] = []
    for spec in contract.columns:
        if spec.name in position:
            violations += _check_column(frame.iloc[:, position[spec.name]], spec, n_rows)
        elif require_label or not spec.label:
            violations.append(_missing(spec, n_rows))
    declared = {c.name for c in contract.columns}
    violations += [_unexpected(frame, name, n_rows) for name in names if name not in declared]

    report = ContractReport(contract.dataset, contract.version, n_rows, len(names), violations)
    logger.info(
        "contract %s: %d violation(s) on %d rows", contract.dataset, len(violations), n_rows
    )
    return report


def _missing(spec: ColumnContract, n_rows: int) -> Violation:
    message = (
        f"{spec.name}: column in the contract but not in the data; expected a "
        f"{_described(spec)} column"
    )
    return _whole_column(spec.name, "missing_column", n_rows, None, message)


def _unexpected(frame: pd.DataFrame, name: str, n_rows: int) -> Violation:
    n_non_null = int(frame[name].notna().sum()) if n_rows else 0
    message = (
        f"{name}: column in the data but not in the contract; declare it (with its "
        "sensitivity) or drop it"
    )
    return _whole_column(name, "unexpected_column", n_rows, n_non_null, message)


def _whole_column(
    name: str, rule: Rule, n_rows: int, n_non_null: int | None, message: str
) -> Violation:
    # A column-level violation concerns every row; a share of non-null values does not apply.
    return Violation(
        column=name,
        rule=rule,
        count=n_rows,
        n_rows=n_rows,
        n_non_null=n_non_null,
        share_of_non_null=None,
        share_of_rows=1.0 if n_rows else None,
        rows=[],
        examples=[],
        message=message,
    )


def _check_column(series: pd.Series, spec: ColumnContract, n_rows: int) -> list[Violation]:
    present = series.notna().to_numpy()
    n_non_null = int(present.sum())
    column = _Column(series, spec, n_rows, n_non_null)
    values, bad, dtype_problem = _conform(series, spec.type, present)

    if bad.any():
        column.add("type", bad, _type_text(spec, dtype_problem))
    if not spec.nullable or spec.key:
        column.add_null(~present)

    valid = present & ~bad
    outside: np.ndarray | None = None
    if values is not None and spec.range is not None:
        low = -math.inf if spec.range.min is None else spec.range.min
        high = math.inf if spec.range.max is None else spec.range.max
        with np.errstate(invalid="ignore"):
            outside = valid & ((values < low) | (values > high))
        column.add("range", outside, f"outside the range {_interval(spec)}")
    if spec.allowed is not None:
        n_allowed = len(spec.allowed)
        what = f"not among the {n_allowed} allowed value{'s' if n_allowed != 1 else ''}"
        column.add("allowed", valid & ~_allowed_mask(series, spec.allowed), what)
    if spec.key:
        repeats = present & series.duplicated(keep="first").to_numpy()
        column.add("unique_key", repeats, "repeat an earlier row's value of the key column")
    if values is not None and spec.typical is not None:
        column.add_unit_scale(values, valid, outside)
    return column.violations


@dataclass
class _Column:
    """Builds the violations of one column, sharing its counts and its sensitivity."""

    series: pd.Series
    spec: ColumnContract
    n_rows: int
    n_non_null: int
    violations: list[Violation] = field(default_factory=list)

    def add(self, rule: Rule, mask: np.ndarray, what: str) -> None:
        count = int(mask.sum())
        if not count:
            return
        rows = np.flatnonzero(mask)
        examples = self._examples(rows)
        message = (
            f"{self.spec.name}: {_counted(count, self.n_non_null, self.n_rows)} {what}"
            f"{_where(rows, examples, self.spec)}"
        )
        self._append(rule, count, rows, examples, message)

    def add_null(self, mask: np.ndarray) -> None:
        count = int(mask.sum())
        if not count:
            return
        rows = np.flatnonzero(mask)
        kind = "key" if self.spec.key else f"non-nullable {self.spec.type}"
        message = (
            f"{self.spec.name}: null in {kind} column: {count:,} of {self.n_rows:,} rows "
            f"({_percent(count / self.n_rows)} of all rows){_where(rows, [], self.spec)}"
        )
        self._append("null", count, rows, [], message, non_null_share=False)

    def add_unit_scale(
        self, values: np.ndarray, valid: np.ndarray, outside: np.ndarray | None
    ) -> None:
        typical = self.spec.typical.value if self.spec.typical is not None else 0.0
        finite = values[valid & np.isfinite(values)]
        if typical == 0 or finite.size == 0:
            return
        median = float(np.median(finite))
        ratio = abs(median) / abs(typical)
        if UNIT_SCALE_FACTOR > ratio > 1 / UNIT_SCALE_FACTOR:
            return
        n_outside = int(outside.sum()) if outside is not None else None
        if n_outside is not None and n_outside <= UNIT_SCALE_OUT_OF_RANGE * finite.size:
            return

        unit = f" {self.spec.unit}" if self.spec.unit else ""
        message = (
            f"{self.spec.name}: looks like the wrong unit (median {_number(median)} vs typical "
            f"{_number(typical)}{unit}): {_factor_text(ratio)}"
        )
        if n_outside is not None:
            message += (
                f"; {_counted(n_outside, self.n_non_null, self.n_rows)} outside the range "
                f"{_interval(self.spec)}"
            )
        count = int(finite.size)
        self._append("unit_scale", count, np.empty(0, dtype=np.int64), [], message)

    def _append(
        self,
        rule: Rule,
        count: int,
        rows: np.ndarray,
        examples: list[Any],
        message: str,
        *,
        non_null_share: bool = True,
    ) -> None:
        share_non_null = count / self.n_non_null if non_null_share and self.n_non_null else None
        violation = Violation(
            column=self.spec.name,
            rule=rule,
            count=count,
            n_rows=self.n_rows,
            n_non_null=self.n_non_null,
            share_of_non_null=share_non_null,
            share_of_rows=count / self.n_rows if self.n_rows else None,
            rows=[int(r) for r in rows[:MAX_EXAMPLE_ROWS]],
            examples=examples,
            message=message,
        )
        self.violations.append(violation)

    def _examples(self, rows: np.ndarray) -> list[Any]:
        if self.spec.sensitivity != "none":
            return []
        distinct = pd.unique(self.series.iloc[rows].to_numpy())
        return [_plain(v) for v in distinct[:MAX_EXAMPLE_VALUES]]


def _conform(
    series: pd.Series, kind: str, present: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, str | None]:
    """Return the numeric values (numeric types only), the rows of the wrong type, and why.

    The third item names the dtype when the whole column cannot hold the type.
    """
    dtype = series.dtype
    is_bool = pd.api.types.is_bool_dtype(dtype)
    is_number = pd.api.types.is_numeric_dtype(dtype) and not is_bool
    is_time = (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )
    nothing = np.zeros(len(series), dtype=bool)
    incompatible = f"dtype {dtype} cannot hold {kind} values"

    if kind in ("string", "category"):
        return None, nothing, None
    if kind == "boolean":
        if is_bool:
            return None, nothing, None
        if is_time:
            return None, present.copy(), incompatible
        return None, present & ~series.isin([True, False]).to_numpy(), None
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return None, nothing, None
        if is_bool or is_number or is_time:
            return None, present.copy(), incompatible
        parsed = pd.to_datetime(series.astype(object), errors="coerce", format="ISO8601", utc=True)
        return None, present & parsed.isna().to_numpy(), None

    if is_bool or is_time:
        return None, present.copy(), incompatible
    if is_number:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = present & np.isnan(values)
    if kind == "integer" and not pd.api.types.is_integer_dtype(dtype):
        with np.errstate(invalid="ignore"):
            bad |= present & ~(np.isfinite(values) & (values == np.round(values)))
    return values, bad, None


def _allowed_mask(series: pd.Series, allowed: Sequence[Any]) -> np.ndarray:
    # Values compare as they are, then as text, so that codes read as numbers (1) still match
    # categories written as text ('1') and the reverse.
    inside = series.isin(list(allowed)).to_numpy(copy=True)
    rest = ~inside & series.notna().to_numpy()
    if rest.any():
        as_text = series[rest].astype(str).isin({str(a) for a in allowed}).to_numpy()
        inside[np.flatnonzero(rest)[as_text]] = True
    return inside


def _type_text(spec: ColumnContract, dtype_problem: str | None) -> str:
    expected = {
        "integer": "whole numbers",
        "float": "numbers",
        "boolean": "true or false",
        "datetime": "ISO 8601 dates or times",
    }
    what = expected.get(spec.type, f"{spec.type} values")
    if dtype_problem is not None:
        return f"not {what} ({dtype_problem})"
    return f"not {what}"


def _counted(count: int, n_non_null: int, n_rows: int) -> str:
    share_non_null = _percent(count / n_non_null) if n_non_null else "n/a"
    share_rows = _percent(count / n_rows) if n_rows else "n/a"
    return (
        f"{count:,} of {n_non_null:,} non-null values ({share_non_null} of non-null values; "
        f"{share_rows} of all {n_rows:,} rows)"
    )


def _where(rows: np.ndarray, examples: list[Any], spec: ColumnContract) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:MAX_EXAMPLE_ROWS])
    text = f"; e.g. row{'s' if len(rows) > 1 else ''} {shown}"
    if spec.sensitivity != "none":
        return f"{text} (values withheld: sensitivity {spec.sensitivity})"
    if examples:
        plural = "s" if len(examples) > 1 else ""
        text += f"; value{plural} {', '.join(_shown(v) for v in examples)}"
    return text


def _factor_text(ratio: float) -> str:
    if ratio == 0:
        return "the median is 0, e.g. values missing and filled with zeros"
    power = round(math.log10(ratio))
    direction = "larger" if ratio > 1 else "smaller"
    size = f"about {_number(ratio, 3)}x" if ratio >= 1 else f"about 1/{_number(1 / ratio, 3)}"
    example = _UNIT_EXAMPLES.get(power, f"a factor of about 10^{power}")
    return f"{size} {direction} than typical, {example}"


def _interval(spec: ColumnContract) -> str:
    bounds = spec.range
    low = "-inf" if bounds is None or bounds.min is None else f"{bounds.min:,}"
    high = "inf" if bounds is None or bounds.max is None else f"{bounds.max:,}"
    unit = f" {spec.unit}" if spec.unit else ""
    return f"[{low}, {high}]{unit}"


def _described(spec: ColumnContract) -> str:
    return f"{'nullable' if spec.nullable else 'non-nullable'} {spec.type}"


def _number(value: float, digits: int = 6) -> str:
    # Round to a few significant digits, then group thousands: 2,319,500 and 2,319.5.
    rounded = float(f"{value:.{digits}g}")
    if rounded.is_integer() and abs(rounded) < 1e15:
        return f"{int(rounded):,}"
    return f"{rounded:,}"


def _percent(share: float) -> str:
    return f"{100 * share:.3g}%"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
