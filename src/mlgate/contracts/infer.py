"""Draft a data contract from a frame, for a person to review.

The draft is a guess from the data at hand. For each column, in this order:

- **type**: boolean and datetime dtypes keep their type; integer dtypes (also pandas' nullable
  ``Int64``) are ``integer``; a float column whose non-null values are all whole numbers and
  which has nulls is ``integer`` too (that is how a CSV reader stores integers with gaps);
  other numbers are ``float``. A text column is ``datetime`` when every non-null value parses
  as an ISO 8601 date and either its name sounds like time or its first value looks like
  ``YYYY-MM-DD``; ``category`` when it has at most ``CATEGORY_MAX_LEVELS`` distinct values or
  at most ``CATEGORY_MAX_SHARE`` of its non-null values are distinct; ``string`` otherwise.
- **range** (numeric columns): the observed minimum and maximum widened by
  ``RANGE_MARGIN`` of their span on each side, never below 0 when no value is negative, then
  rounded outward to two significant digits of the span (see :func:`plausible_range`).
- **typical**: the median, for numeric columns.
- **allowed**: the distinct values of a category column, sorted.
- **nullable**: whether the column has a null.
- **key**: a unique, non-null integer or text column whose name says it is an identifier
  (a word such as ``id``, ``key`` or ``number``).
- **label**: the ``target`` column.
- **timestamp**: a datetime column whose name sounds like time (``date``, ``time``, ``_at``).
- **sensitivity**: from :func:`mlgate.checks.sensitive.classify_column` (name and values),
  its categories mapped onto the contract's; when that module cannot be imported, from a short
  list of column-name words (``sex``, ``age``, ``race``...).
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from mlgate.contracts.schema import ColumnContract, Contract, Range, Sensitivity, Typical
from mlgate.contracts.validate import reject_duplicate_columns
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

CATEGORY_MAX_LEVELS = 50
CATEGORY_MAX_SHARE = 0.05
RANGE_MARGIN = 0.1

KEY_WORDS = frozenset({"id", "key", "number", "nr", "no", "uuid", "guid"})
TIME_WORDS = frozenset(
    {"date", "time", "timestamp", "datetime", "ts", "dt", "at", "on", "day", "when"}
)
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")

# Words in a column name that suggest a sensitive attribute, used when the sensitive-data
# classifier of mlgate.checks.sensitive is not available. Names only: values are not read.
NAME_SENSITIVITY: dict[str, Sensitivity] = {
    "sex": "sex",
    "gender": "sex",
    "age": "age",
    "birth": "age",
    "birthdate": "age",
    "dob": "age",
    "race": "race",
    "ethnicity": "race",
    "ethnic": "race",
    "religion": "religion",
    "faith": "religion",
    "health": "health",
    "disability": "health",
    "diagnosis": "health",
    "medical": "health",
    "nationality": "nationality",
    "citizenship": "nationality",
    "foreign": "nationality",
    "native": "nationality",
    "marital": "marital_status",
    "married": "marital_status",
    "email": "identifier",
    "phone": "identifier",
    "ssn": "identifier",
    "passport": "identifier",
    "iban": "identifier",
    "surname": "identifier",
}
NAME_IDENTIFIERS = frozenset({"name", "first_name", "last_name", "full_name", "address"})

# How the classifier's categories map onto the contract's sensitivity values; its own names
# (sex, age, ..., identifier) pass through, and a category not listed here becomes "other"
# (sexual_orientation, political_opinion).
_CATEGORY_SENSITIVITY: dict[str, Sensitivity] = {
    "gender": "sex",
    "ethnicity": "race",
    "ethnic_origin": "race",
    "marital": "marital_status",
    "married": "marital_status",
    "citizenship": "nationality",
    "birth_date": "age",
    "date_of_birth": "age",
    "email": "identifier",
    "phone": "identifier",
    "id_number": "identifier",
    "national_id": "identifier",
    "person_name": "identifier",
    "name": "identifier",
    "address": "identifier",
    "iban": "identifier",
    "credit_card": "identifier",
    "ip_address": "identifier",
}
_SENSITIVITIES = frozenset(
    {
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
    }
)


def infer_contract(
    frame: pd.DataFrame, dataset_name: str, target: str | None = None, version: str = "1"
) -> Contract:
    """Draft the contract of ``frame``, with ``target`` (if given) as the label column.

    The draft must be reviewed by a person: see the module docstring for every rule it
    guesses by. Raises :class:`~mlgate.errors.ValidationError` for duplicate column names, an
    empty frame, or a ``target`` that is not a column.
    """
    reject_duplicate_columns(frame)
    if frame.shape[1] == 0:
        raise ValidationError("the data has no column; expected at least one column")
    names = [str(c) for c in frame.columns]
    if target is not None and target not in names:
        raise ValidationError(
            f"target column '{target}' is not in the data; found columns: {', '.join(names)}"
        )

    classify = _classifier()
    columns = [
        _column(frame.iloc[:, i], names[i], names[i] == target, classify)
        for i in range(frame.shape[1])
    ]
    logger.info("drafted a contract for %s: %d columns", dataset_name, len(columns))
    return Contract(dataset=dataset_name, version=version, columns=columns)


def plausible_range(low: float, high: float, *, integer: bool) -> tuple[float, float]:
    """Widen the observed ``[low, high]`` to a plausible range with round bounds.

    The span ``high - low`` (or ``|high|``, or 1, when it is 0) is added on each side times
    ``RANGE_MARGIN``; the lower bound stays at or above 0 when ``low`` is; then both bounds are
    rounded outward to a step of ``10 ** (floor(log10(span)) - 1)`` (two significant digits of
    the span, at least 1 for integers). Ages 19 to 75 give 13 to 81; amounts 250 to 18,424
    give 0 to 21,000.
    """
    span = high - low or abs(high) or 1.0
    wide_low, wide_high = low - RANGE_MARGIN * span, high + RANGE_MARGIN * span
    if low >= 0:
        wide_low = max(wide_low, 0.0)

    exponent = math.floor(math.log10(span)) - 1
    if integer:
        exponent = max(exponent, 0)
    step = 10.0**exponent
    digits = max(0, -exponent)
    rounded_low = round(math.floor(wide_low / step) * step, digits)
    rounded_high = round(math.ceil(wide_high / step) * step, digits)
    if integer or digits == 0:
        return int(rounded_low), int(rounded_high)
    return rounded_low, rounded_high


def _column(series: pd.Series, name: str, is_label: bool, classify: Any) -> ColumnContract:
    present = series.dropna()
    kind = _type_of(series, present, name)
    fields: dict[str, Any] = {
        "name": name,
        "type": kind,
        "nullable": bool(len(present) < len(series)),
        "label": is_label,
        "sensitivity": _sensitivity(series, name, classify),
    }

    if kind in ("integer", "float") and len(present):
        values = present.to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = plausible_range(
                float(finite.min()), float(finite.max()), integer=kind == "integer"
            )
            fields["range"] = Range(min=low, max=high)
            median = float(f"{float(np.median(finite)):.6g}")
            fields["typical"] = Typical(median=_number(median))

    key = not is_label and _is_key(series, present, name, kind)
    if key:
        fields.update(key=True, type="integer" if kind == "integer" else "string")
    elif kind == "category":
        fields["allowed"] = sorted((_plain(v) for v in present.unique()), key=_sort_key)
    fields["timestamp"] = kind == "datetime" and bool(_words(name) & TIME_WORDS)
    return ColumnContract(**fields)


def _type_of(series: pd.Series, present: pd.Series, name: str) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        values = present.to_numpy(dtype=np.float64)
        whole = bool(np.all(np.isfinite(values) & (values == np.round(values))))
        return "integer" if whole and len(present) < len(series) and len(present) else "float"
    if len(present) == 0:
        return "string"

    if _looks_like_dates(present, name):
        return "datetime"
    if present.map(type).eq(bool).all():
        return "boolean"
    distinct = int(present.nunique())
    if distinct <= CATEGORY_MAX_LEVELS or distinct <= CATEGORY_MAX_SHARE * len(present):
        return "category"
    return "string"


def _looks_like_dates(present: pd.Series, name: str) -> bool:
    first = present.iloc[0]
    if not isinstance(first, str):
        return False
    if not (_words(name) & TIME_WORDS or _ISO_DATE.match(first)):
        return False
    parsed = pd.to_datetime(present.astype(str), errors="coerce", format="ISO8601")
    return bool(parsed.notna().all())


def _is_key(series: pd.Series, present: pd.Series, name: str, kind: str) -> bool:
    if not _words(name) & KEY_WORDS or len(present) != len(series) or len(series) == 0:
        return False
    if kind not in ("integer", "string", "category"):
        return False
    return bool(series.is_unique)


def _sensitivity(series: pd.Series, name: str, classify: Any) -> Sensitivity:
    if classify is not None:
        try:
            return _mapped(classify(name, series))
        except (TypeError, ValueError) as exc:
            # A column the classifier cannot judge (values of a type it does not expect) falls
            # back to the name list rather than failing the whole draft.
            logger.warning("sensitivity classifier failed on column %s: %s", name, exc)
    return _sensitivity_from_name(name)


def _classifier() -> Any:
    try:
        from mlgate.checks.sensitive import classify_column
    except ImportError:
        logger.debug("mlgate.checks.sensitive not available; guessing sensitivity from names")
        return None
    return classify_column


def _mapped(found: Any) -> Sensitivity:
    # The classifier may return None, a category name, or an object with a category attribute.
    for attribute in ("category", "kind", "sensitivity"):
        if found is not None and not isinstance(found, str) and hasattr(found, attribute):
            found = getattr(found, attribute)
            break
    if found is None or found is False:
        return "none"
    text = str(getattr(found, "value", found)).strip().lower()
    if text in ("", "none"):
        return "none"
    if text in _SENSITIVITIES:
        return text  # type: ignore[return-value]
    return _CATEGORY_SENSITIVITY.get(text, "other")


def _sensitivity_from_name(name: str) -> Sensitivity:
    if name.lower() in NAME_IDENTIFIERS:
        return "identifier"
    for word in _ordered_words(name):
        if word in NAME_SENSITIVITY:
            return NAME_SENSITIVITY[word]
    return "none"


def _ordered_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _words(name: str) -> set[str]:
    return set(_ordered_words(name))


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers before text, each in natural order, so a mixed column still sorts.
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))
