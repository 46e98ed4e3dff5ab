"""Request bodies of the REST server turned into columns, with a message for every bad shape.

The server accepts what an MLflow scoring server accepts, so an unchanged MLflow client works:
a JSON object with exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` or
``inputs`` (and optionally ``params``, which a governed model does not take and which is
ignored), or a CSV body. It also accepts KServe V2 inference requests. Each parser returns
:class:`Columns`, one list of values per column name, so the scorer can check and convert them
without first building a general-purpose table; a CSV body is read by pandas into a frame, as a
batch file is.

``instances`` and ``inputs`` take the same shapes: a list of records (objects), a list of rows
(lists, their values in the model's feature order), or one object of columns (name to list of
values, or name to one value for a single row).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlgate.errors import ValidationError

try:  # orjson parses the same JSON about twice as fast; the standard library is the fallback
    import orjson

    _loads: Any = orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError)

logger = logging.getLogger(__name__)

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
IGNORED_KEYS = ("params",)
V2_COLUMNS_PARAMETER = "columns"


@dataclass(frozen=True)
class Columns:
    """Input values by column name, every list ``rows`` long."""

    values: dict[str, list[Any]]
    rows: int


def parse_json(body: bytes, features: Sequence[str]) -> Columns:
    """Return the columns of an MLflow-format JSON body; ``features`` orders list rows."""
    document = _decode(body)
    if not isinstance(document, dict):
        raise ValidationError(
            f"the JSON body must be an object with one of the keys {', '.join(FORMAT_KEYS)}; "
            f"got a {_json_type(document)}"
        )

    keys = [k for k in document if k not in IGNORED_KEYS]
    if len(keys) != 1 or keys[0] not in FORMAT_KEYS:
        raise ValidationError(
            f"the JSON body must have exactly one of the keys {', '.join(FORMAT_KEYS)}; "
            f"got {', '.join(repr(k) for k in keys) or 'none'}"
        )

    key = keys[0]
    payload = document[key]
    if key == "dataframe_split":
        return _split(payload)
    if key == "dataframe_records":
        return _records(payload, key)
    return _tensor_like(payload, key, features)


def parse_csv(body: bytes) -> pd.DataFrame:
    """Return a CSV body (a header line, then rows) as a frame, read as a batch file is."""
    if not body.strip():
        raise ValidationError("the request body is empty; send a CSV header and data rows")
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ValidationError(f"the CSV body could not be read: {error}") from None

    if frame.empty:
        raise ValidationError("the CSV body has a header but no data rows")
    return frame


def parse_v2(body: bytes, features: Sequence[str]) -> Columns:
    """Return the columns of a KServe V2 inference request.

    Either one input per column (its ``name`` is the column, ``data`` its values), or one
    two-dimensional input of shape ``[rows, columns]`` whose ``parameters.columns`` names the
    columns (the model's feature order when absent); ``data`` may be nested or flat row-major.
    """
    document = _decode(body)
    inputs = document.get("inputs") if isinstance(document, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise ValidationError(
            "a V2 inference request must be an object with a non-empty list 'inputs' of "
            "tensors ({name, shape, datatype, data})"
        )
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise ValidationError(f"V2 input {position} must be an object with a string 'name'")
        if not isinstance(tensor.get("data"), list):
            raise ValidationError(f"V2 input '{tensor['name']}' must have a list 'data'")
        _check_tensor(tensor)

    shape = inputs[0].get("shape")
    if len(inputs) == 1 and isinstance(shape, list) and len(shape) == 2:
        return _v2_matrix(inputs[0], features)
    values = {t["name"]: _flatten(t["data"]) for t in inputs}
    return _columnar(values, "V2 inputs")


# -- the MLflow formats ---------------------------------------------------------------------


def _split(payload: Any) -> Columns:
    if not isinstance(payload, dict):
        raise ValidationError(
            "'dataframe_split' must be an object with 'columns' and 'data'; "
            f"got a {_json_type(payload)}"
        )
    columns, data = payload.get("columns"), payload.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ValidationError("'dataframe_split' needs 'columns': a list of column names")
    if not isinstance(data, list):
        raise ValidationError("'dataframe_split' needs 'data': a list of rows")

    _check_unique(columns, "dataframe_split.columns")
    _check_rows(data, len(columns), "dataframe_split.data")
    return Columns(_transpose(data, columns), len(data))


def _records(payload: Any, key: str) -> Columns:
    if not isinstance(payload, list) or not payload:
        raise ValidationError(f"'{key}' must be a non-empty list of records (objects)")

    names: dict[str, None] = {}
    for position, record in enumerate(payload):
        if not isinstance(record, dict):
            raise ValidationError(
                f"{key}[{position}] must be an object; got a {_json_type(record)}"
            )
        names.update(dict.fromkeys(record))

    values = {name: [record.get(name) for record in payload] for name in names}
    return Columns(values, len(payload))


def _tensor_like(payload: Any, key: str, features: Sequence[str]) -> Columns:
    if isinstance(payload, dict):
        return _columnar(payload, key)
    if not isinstance(payload, list) or not payload:
        raise ValidationError(
            f"'{key}' must be a non-empty list of records or rows, or an object of columns; "
            f"got {_json_type(payload)}"
        )
    if isinstance(payload[0], dict):
        return _records(payload, key)
    if isinstance(payload[0], list):
        _check_rows(payload, len(features), f"{key} (rows in the order {', '.join(features)})")
        return Columns(_transpose(payload, list(features)), len(payload))
    raise ValidationError(
        f"'{key}' must hold records (objects) or rows (lists); its first item is a "
        f"{_json_type(payload[0])}"
    )


def _columnar(payload: dict[str, Any], key: str) -> Columns:
    if not payload:
        raise ValidationError(f"'{key}' has no columns")
    if not any(isinstance(v, list) for v in payload.values()):
        return Columns({name: [value] for name, value in payload.items()}, 1)

    lengths = {name: len(v) if isinstance(v, list) else None for name, v in payload.items()}
    if len(set(lengths.values())) != 1 or None in lengths.values():
        shown = ", ".join(f"{n}: {length}" for n, length in lengths.items())
        raise ValidationError(
            f"every column of '{key}' must be a list of the same length; got lengths {shown}"
        )
    rows = len(next(iter(payload.values())))
    if rows == 0:
        raise ValidationError(f"'{key}' has no rows")
    return Columns(dict(payload), rows)


# -- the KServe V2 tensors ------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float or value is None


def _is_integer(value: Any) -> bool:
    return type(value) is int


def _is_unsigned(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, list | dict)


_FLOATS = dict.fromkeys(("FP16", "FP32", "FP64"), (_is_number, "a number or null"))
_INTS = dict.fromkeys(("INT8", "INT16", "INT32", "INT64"), (_is_integer, "an integer"))
_UINTS = dict.fromkeys(
    ("UINT8", "UINT16", "UINT32", "UINT64"), (_is_unsigned, "a non-negative integer")
)
V2_DATATYPES: dict[str, tuple[Any, str]] = {
    "BOOL": (lambda value: type(value) is bool, "a boolean"),
    **_INTS,
    **_UINTS,
    **_FLOATS,
    "BYTES": (_is_scalar, "a single value"),
}


def _check_tensor(tensor: dict[str, Any]) -> None:
    """Refuse a V2 input whose ``shape`` or ``datatype`` does not describe its ``data``.

    ``BYTES`` holds text; it also carries the numbers of a two-dimensional input that mixes
    numeric and text columns, so any single value is accepted there.
    """
    name, datatype, shape = tensor["name"], tensor.get("datatype"), tensor.get("shape")
    if datatype not in V2_DATATYPES:
        raise ValidationError(
            f"V2 input '{name}' has datatype {json.dumps(datatype)}; expected one of "
            f"{', '.join(V2_DATATYPES)}"
        )
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise ValidationError(
            f"V2 input '{name}' needs 'shape': a list of non-negative integers; got "
            f"{json.dumps(shape)}"
        )

    flat = _flatten(tensor["data"])
    needed = 1
    for size in shape:
        needed *= size
    if len(flat) != needed:
        raise ValidationError(
            f"V2 input '{name}' has {len(flat)} value(s); its shape {shape} needs {needed}"
        )
    accepts, expected = V2_DATATYPES[datatype]
    for position, value in enumerate(flat):
        if not accepts(value):
            raise ValidationError(
                f"V2 input '{name}' has datatype {datatype}, so every value must be "
                f"{expected}; value {position} is a {_json_type(value)} "
                f"({json.dumps(value)[:40]})"
            )


# -- the KServe V2 matrix form --------------------------------------------------------------


def _v2_matrix(tensor: dict[str, Any], features: Sequence[str]) -> Columns:
    shape = tensor["shape"]
    parameters = tensor.get("parameters")
    names = (parameters or {}).get(V2_COLUMNS_PARAMETER) if isinstance(parameters, dict) else None
    names = names or list(features)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError(
            f"V2 input '{tensor['name']}' parameters.columns must be a list of column names"
        )
    if not all(isinstance(n, int) and n >= 0 for n in shape) or shape[1] != len(names):
        raise ValidationError(
            f"V2 input '{tensor['name']}' has shape {shape}; a two-dimensional input must be "
            f"[rows, {len(names)}] for the columns {', '.join(map(str, names))}"
        )
    flat = _flatten(tensor["data"])
    if len(flat) != shape[0] * shape[1]:
        raise ValidationError(
            f"V2 input '{tensor['name']}' has {len(flat)} value(s); shape {shape} needs "
            f"{shape[0] * shape[1]}"
        )
    if shape[0] == 0:
        raise ValidationError(f"V2 input '{tensor['name']}' has no rows")

    width = shape[1]
    rows = [flat[i : i + width] for i in range(0, len(flat), width)]
    _check_unique(names, f"V2 input '{tensor['name']}' parameters.columns")
    return Columns(_transpose(rows, names), shape[0])


# -- shared checks --------------------------------------------------------------------------


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise ValidationError("the request body is empty; send a JSON object")
    try:
        return _loads(body)
    except _JSON_ERRORS:
        pass  # orjson refuses NaN and Infinity, which the standard library (and MLflow) read
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationError(f"the request body is not valid JSON: {error}") from None
    except RecursionError:
        raise ValidationError(
            "the request body is nested too deeply; expected a table of feature values"
        ) from None


def _check_unique(names: Sequence[Any], where: str) -> None:
    if len(set(names)) == len(names):  # the usual case, without counting each name
        return
    duplicated = sorted({str(n) for n in names if list(names).count(n) > 1})
    if duplicated:
        raise ValidationError(f"{where} repeats column name(s) {', '.join(duplicated)}")


def _check_rows(rows: list[Any], width: int, where: str) -> None:
    if not rows:
        raise ValidationError(f"{where} has no rows")
    for position, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} value(s)" if isinstance(row, list) else f"a {_json_type(row)}"
            raise ValidationError(
                f"row {position} of {where} must be a list of {width} value(s); got {got}"
            )


def _transpose(rows: list[list[Any]], names: Sequence[Any]) -> dict[str, list[Any]]:
    return {
        str(name): list(column)
        for name, column in zip(names, zip(*rows, strict=True), strict=True)
    }


def _flatten(data: list[Any]) -> list[Any]:
    if data and isinstance(data[0], list):
        return [value for row in data for value in (row if isinstance(row, list) else [row])]
    return data


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
