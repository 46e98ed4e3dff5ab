"""Reading tabular files and checking frames against a model's input signature.

Every failure names the file and, where it applies, the column, what was expected and what was
found, so a user never has to read a pandas traceback.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


UNREADABLE = (
    pd.errors.EmptyDataError,
    pd.errors.ParserError,
    UnicodeDecodeError,
    pa.ArrowException,
    OSError,
)


@contextmanager
def readable(path: Path, what: str) -> Iterator[None]:
    """Turn the errors of reading ``path`` into one that names the file and the problem.

    An empty file, a CSV with an unterminated quote or a file that only looks like Parquet
    otherwise surface as a parser's own exception; ``what`` says which file it was ("the
    label file").
    """
    if path.is_dir():
        raise ValidationError(f"{what} {path} is a folder; expected a CSV or Parquet file")
    try:
        yield
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{what} {path.name} is empty; expected a header row") from None
    except UNREADABLE as error:
        kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
        raise ValidationError(
            f"{what} {path.name} cannot be read as {kind}: {str(error).splitlines()[0]}"
        ) from None


def table_format(path: Path) -> str:
    """Return ``csv`` or ``parquet`` for ``path``, refusing other suffixes."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"{path}: unsupported file type '{path.suffix or '(none)'}'; "
            f"expected one of {', '.join(sorted(SUFFIXES))}"
        )
    return fmt


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file whole, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"data file {path} does not exist")

    fmt = table_format(path)
    try:
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{path} is empty: expected a header row and data rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise ValidationError(f"{path} could not be read as {fmt.upper()}: {exc}") from exc

    check_columns(frame, str(path))
    if fmt == "csv":
        check_header(path)
    if frame.empty:
        raise ValidationError(f"{path} has a header but no data rows")
    return frame


def check_header(path: Path) -> None:
    """Refuse a CSV whose header repeats a name; pandas would silently rename it ``x.1``."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    names = [name.strip() for name in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(f"{path}: duplicate column name(s): {', '.join(duplicated)}")


def check_columns(frame: pd.DataFrame, source: str) -> None:
    """Refuse frames whose column names are duplicated or not strings."""
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(f"{source}: duplicate column name(s): {', '.join(duplicated)}")
    frame.columns = names


def schema_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the frame's columns as ``{name, dtype, kind, nullable}`` records."""
    return [
        {
            "name": str(name),
            "dtype": str(frame[name].dtype),
            "kind": column_kind(frame[name]),
            "nullable": bool(frame[name].isna().any()),
        }
        for name in frame.columns
    ]


def column_kind(column: pd.Series) -> str:
    """Return ``numeric``, ``boolean``, ``datetime`` or ``categorical`` for a column."""
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "categorical"


FLOAT_LIMIT = float(np.finfo(np.float64).max)


def _beyond_float(values: pd.Series) -> int:
    """Count the integers in an object column that no 64-bit float can hold.

    JSON and Python integers have no size limit; converting one of 400 digits raises deep in
    NumPy instead of naming the column, so such values are found and named first.
    """
    if values.dtype != object:
        return 0
    return sum(
        1
        for v in values
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > FLOAT_LIMIT
    )


def conform(frame: pd.DataFrame, signature: Sequence[dict[str, Any]], source: str) -> pd.DataFrame:
    """Return ``frame``'s signature columns in order, or explain every mismatch.

    Numeric columns accept any numeric dtype (an integer file column feeds a float signature);
    a column of text where numbers are expected is refused with example values counted, not shown.
    """
    missing = [c["name"] for c in signature if c["name"] not in frame.columns]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")

    for column in signature:
        name = column["name"]
        if name in missing or column["kind"] != "numeric":
            continue
        huge = _beyond_float(frame[name])
        if huge:
            problems.append(
                f"column {name} has {huge} integer(s) too large for a 64-bit float "
                f"(beyond {FLOAT_LIMIT:.3g})"
            )
            continue
        if not pd.api.types.is_numeric_dtype(frame[name]):
            converted = pd.to_numeric(frame[name], errors="coerce")
            bad = int((converted.isna() & frame[name].notna()).sum())
            if bad:
                problems.append(
                    f"column {name} must be numeric but has {bad} non-numeric value(s) "
                    f"(found dtype {frame[name].dtype})"
                )

    for column in signature:
        name = column["name"]
        if name in missing or column["kind"] != "numeric":
            continue
        if _beyond_float(frame[name]):
            continue  # named above; converting would raise
        values = pd.to_numeric(frame[name], errors="coerce")
        infinite = int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())
        if infinite:
            problems.append(f"column {name} has {infinite} infinite value(s)")

    if problems:
        expected = ", ".join(f"{c['name']} ({c['kind']})" for c in signature)
        raise ValidationError(
            f"{source} does not match the model's input signature: {'; '.join(problems)}. "
            f"Expected columns: {expected}"
        )

    result = frame[[c["name"] for c in signature]].copy()
    for column in signature:
        if column["kind"] == "numeric" and not pd.api.types.is_numeric_dtype(
            result[column["name"]]
        ):
            result[column["name"]] = pd.to_numeric(result[column["name"]])
    return result


def count_rows(path: Path) -> int | None:
    """Return the number of data rows when it is cheap to know (Parquet), else ``None``."""
    if table_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def iter_chunks(path: str | Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield ``path`` in frames of at most ``chunk_rows`` rows, without reading it whole."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"data file {path} does not exist")

    if table_format(path) == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return

    check_header(path)
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows)
        for chunk in reader:
            check_columns(chunk, str(path))
            yield chunk
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{path} is empty: expected a header row and data rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path} could not be read as CSV: {exc}") from exc


def read_sample(path: str | Path, rows: int) -> pd.DataFrame:
    """Return the first ``rows`` rows of a CSV or Parquet file, with the checks of read_table."""
    path = Path(path)
    for chunk in iter_chunks(path, rows):
        if table_format(path) == "csv":
            check_header(path)
        check_columns(chunk, str(path))
        return chunk
    raise ValidationError(f"{path} has a header but no data rows")


def count_data_rows(path: str | Path) -> int:
    """Return the number of data rows, streaming a CSV rather than loading it."""
    path = Path(path)
    known = count_rows(path)
    if known is not None:
        return known
    return sum(len(chunk) for chunk in iter_chunks(path, 500_000))
