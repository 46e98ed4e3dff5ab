"""One streaming pass over a CSV or Parquet file that writes every column to its own scratch file.

A file is read in batches of ``chunk_rows`` rows. Each column of a batch is appended to a scratch
file of its own: numbers as raw ``int64`` or ``float64``, anything else (text, booleans, dates)
as ``int32`` codes into a dictionary of the column's distinct values kept in memory. Afterwards
one column at a time can be read back whole (:meth:`ColumnScan.materialize`), with exactly the
dtype and values ``pandas.read_csv``/``pandas.read_parquet`` would have given for the whole file,
or a few rows of every column can be gathered (:meth:`ColumnScan.take`).

The batches are parsed by the same readers as :func:`mlgate.tabular.read_table` (pandas' CSV
parser, pyarrow's Parquet reader with pandas conversion), so every value is bit-for-bit the value
the in-memory checks see. Only the dtype can differ between batches; it is unified the way a
whole-file read resolves it:

- a numeric column is ``int64`` only if every batch was ``int64`` (a missing value anywhere makes
  pandas read it as ``float64``); integer batches are kept as ``int64`` until a float batch
  arrives, then the column's scratch file is rewritten as ``float64`` once;
- a boolean column with a missing value anywhere becomes ``object``;
- a CSV batch in which a column is entirely empty parses as ``float64`` full of NaN; such a batch
  does not decide whether the column holds numbers or text.

A column that holds numbers in some batches and text in others is refused with the row ranges:
a whole-file read would give a column of mixed Python types, which a batch reader cannot
reproduce.

When asked, the pass also hashes every row (64 bits, from each column's value key: the float64
bits of a number, with -0.0 and every NaN folded to one key, or the dictionary code of any other
value), which is what exact duplicate counting starts from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.errors import NotFoundError, ValidationError
from mlgate.tabular import check_columns, table_format

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 100_000  # ~25 MB per 25-column batch; larger batches save little time
MAX_OPEN_FILES = 256  # wider files reopen each scratch file per batch (file-descriptor limits)
NULL_KEY = np.uint64(0xFFF8_5EED_0000_0001)  # the row-hash key of every missing value
_MIX_1 = np.uint64(0xBF58_476D_1CE4_E5B9)  # splitmix64 finalizer constants
_MIX_2 = np.uint64(0x94D0_49BB_1331_11EB)
_HASH_START = np.uint64(0x243F_6A88_85A3_08D3)

Progress = Callable[[str, int, int | None], None]


def column_names(path: Path) -> list[str]:
    """Return the columns a whole-file read of ``path`` would give, without reading the rows."""
    if table_format(path) == "parquet":
        schema = _parquet_file(path).schema_arrow
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        return [n for n in schema.names if n not in index]

    try:
        header = pd.read_csv(path, nrows=0)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{path} is empty: expected a header row and data rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"{path} could not be read as CSV: {exc}") from exc
    check_columns(header, str(path))
    return list(header.columns)


def iter_batches(
    path: Path, columns: Sequence[str], chunk_rows: int, progress: Progress | None = None
) -> Iterator[pd.DataFrame]:
    """Yield ``columns`` of ``path`` in frames of at most ``chunk_rows`` rows.

    ``progress`` is called after each batch with rows read and total rows (Parquet), or bytes
    read and file size (CSV), under the name ``read <file name> (rows|bytes)``.
    """
    if table_format(path) == "parquet":
        yield from _parquet_batches(path, columns, chunk_rows, progress)
        return
    with path.open("rb") as handle:
        yield from _csv_batches(path, handle, columns, chunk_rows, progress)


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        # pre_buffer (the default) keeps every row group's buffers until the reader is closed,
        # which costs as much memory as the file; without it one row group is held at a time.
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{path} could not be read as PARQUET: {exc}") from exc


def _parquet_batches(
    path: Path, columns: Sequence[str], chunk_rows: int, progress: Progress | None
) -> Iterator[pd.DataFrame]:
    parquet = _parquet_file(path)
    total, done = int(parquet.metadata.num_rows), 0
    what = f"read {path.name} (rows)"

    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(columns)):
        done += batch.num_rows
        yield batch.to_pandas()
        if progress is not None:
            progress(what, done, total)


def _csv_batches(
    path: Path,
    handle: BinaryIO,
    columns: Sequence[str],
    chunk_rows: int,
    progress: Progress | None,
) -> Iterator[pd.DataFrame]:
    total = path.stat().st_size
    what = f"read {path.name} (bytes)"
    try:
        reader = pd.read_csv(handle, chunksize=chunk_rows, usecols=list(columns))
        for chunk in reader:
            check_columns(chunk, str(path))
            yield chunk[list(columns)]
            if progress is not None:
                progress(what, min(handle.tell(), total), total)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{path} is empty: expected a header row and data rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path} could not be read as CSV: {exc}") from exc


@dataclass
class ColumnScan:
    """One column of a scanned file: its dtype, missing count and scratch file."""

    name: str
    path: Path
    n_rows: int = 0
    n_missing: int = 0
    storage: np.dtype | None = None  # int64 / float64 (numbers), int32 (codes), None (all null)
    labels: pd.Index | None = None  # distinct non-null values, in order of first appearance
    deciding_dtypes: list[Any] = field(default_factory=list)
    null_dtypes: list[Any] = field(default_factory=list)
    pending_nulls: int = 0
    _first_rows: dict[str, int] = field(default_factory=dict)
    keep_open: bool = True
    _handle: BinaryIO | None = None

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (a column that is null throughout counts as one)."""
        return self.labels is None

    def add(self, series: pd.Series) -> np.ndarray:
        """Append one batch of the column; return each row's 64-bit hash key."""
        missing = series.isna().to_numpy()
        n_missing = int(missing.sum())
        start = self.n_rows
        self.n_rows += len(series)
        self.n_missing += n_missing

        if n_missing == len(series) and series.dtype == np.float64:
            self.null_dtypes.append(series.dtype)
            self._append_nulls(len(series))
            return np.full(len(series), NULL_KEY, dtype=np.uint64)

        numeric = _is_number(series.dtype)
        self._decide("numeric" if numeric else "text", start, series.dtype)
        if numeric:
            return self._append_numbers(series.to_numpy())
        return self._append_codes(series)

    def finish(self) -> None:
        """Write the rows still pending (a column null throughout becomes float64 NaN)."""
        if self.storage is None:
            self.storage = np.dtype(np.float64)
            self._write(np.full(self.pending_nulls, np.nan))
            self.pending_nulls = 0
        self.close()
        if not self.path.exists():
            self.path.touch()

    def close(self) -> None:
        """Close the scratch file if it is open for writing."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def dtype(self) -> Any:
        """Return the dtype a whole-file read gives this column (see the module docstring)."""
        deciding = self.deciding_dtypes
        if not deciding:
            return np.dtype(np.float64)
        if self.labels is None:
            seen = {str(d) for d in deciding + self.null_dtypes}
            return deciding[0] if len(seen) == 1 else np.dtype(np.float64)
        if len({str(d) for d in deciding}) == 1:
            return deciding[0]
        return np.dtype(object)

    def materialize(self) -> pd.Series:
        """Read the whole column back as the series a whole-file read would give."""
        stored = np.fromfile(self.path, dtype=self._storage())
        dtype = self.dtype()
        if self.labels is None:
            values = stored if stored.dtype == dtype else stored.astype(dtype)
            return pd.Series(values, name=self.name)

        if len(self.labels) == 0:
            return pd.Series(np.full(stored.size, np.nan, dtype=object), name=self.name).astype(
                dtype
            )
        values = self.labels.take(stored, allow_fill=True, fill_value=np.nan)
        series = pd.Series(values, name=self.name)
        return series if series.dtype == dtype else series.astype(dtype)

    def floats(self) -> np.ndarray:
        """Read a numeric column back as float64, NaN for missing (as the checks convert it)."""
        if self.labels is not None:
            raise TypeError(f"column {self.name} holds text, not numbers")
        stored = np.fromfile(self.path, dtype=self._storage())
        return stored if stored.dtype == np.float64 else stored.astype(np.float64)

    def take(self, rows: np.ndarray | slice) -> np.ndarray:
        """Return the stored values (numbers, or codes with -1 for missing) of sorted ``rows``."""
        stored = np.memmap(self.path, dtype=self._storage(), mode="r", shape=(self.n_rows,))
        return np.asarray(stored[rows])

    def _storage(self) -> np.dtype:
        if self.storage is None or self._handle is not None:
            raise RuntimeError(f"column {self.name} is still being scanned; call finish() first")
        return self.storage

    def _decide(self, kind: str, start: int, dtype: Any) -> None:
        self._first_rows.setdefault(kind, start)
        if len(self._first_rows) > 1:
            numbers, text = self._first_rows["numeric"], self._first_rows["text"]
            raise ValidationError(
                f"column {self.name} holds numbers from row {numbers + 1} and text from row "
                f"{text + 1} (batches of the file read separately); a whole-file read would "
                f"give a column of mixed types; expected one kind per column: clean the column"
            )
        self.deciding_dtypes.append(dtype)

    def _append_nulls(self, count: int) -> None:
        if self.storage is None:
            self.pending_nulls += count
        elif self.labels is not None:
            self._write(np.full(count, -1, dtype=np.int32))
        else:
            if self.storage.kind == "i":
                self._promote_to_float()  # integers with a missing value read as float64
            self._write(np.full(count, np.nan))

    def _append_numbers(self, values: np.ndarray) -> np.ndarray:
        wanted = np.dtype(np.int64) if values.dtype.kind == "i" else np.dtype(np.float64)
        if self.storage is None:
            self.storage = wanted
            self._append_nulls(self.pending_nulls)
            self.pending_nulls = 0
        elif self.storage != wanted and self.storage.kind == "i":
            self._promote_to_float()
        self._write(values.astype(self.storage, copy=False))
        return _number_keys(values)

    def _append_codes(self, series: pd.Series) -> np.ndarray:
        if isinstance(series.dtype, pd.CategoricalDtype) and self.labels is None:
            # pandas counts every category of a categorical column, even an unused one
            self.labels = pd.Index(series.dtype.categories)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if isinstance(uniques, pd.CategoricalIndex):
            uniques = pd.Index(uniques.to_numpy())

        mapping = self._label_codes(pd.Index(uniques))
        # code -1 (missing) picks the appended -1
        global_codes = np.append(mapping, -1).astype(np.int32)[codes]
        if self.storage is None:
            self.storage = np.dtype(np.int32)
            self._append_nulls(self.pending_nulls)
            self.pending_nulls = 0
        self._write(global_codes)
        return np.where(global_codes >= 0, global_codes.astype(np.uint64), NULL_KEY)

    def _label_codes(self, uniques: pd.Index) -> np.ndarray:
        if self.labels is None:
            self.labels = uniques
            return np.arange(len(uniques), dtype=np.int64)
        mapping = self.labels.get_indexer(uniques)
        new = mapping < 0
        if new.any():
            mapping[new] = len(self.labels) + np.arange(int(new.sum()))
            self.labels = self.labels.append(uniques[new])
        return mapping

    def _promote_to_float(self) -> None:
        self.close()
        if self.path.exists():
            np.fromfile(self.path, dtype=np.int64).astype(np.float64).tofile(self.path)
        self.storage = np.dtype(np.float64)
        logger.debug("scale: column %s rewritten as float64", self.name)

    def _write(self, values: np.ndarray) -> None:
        if self._handle is None:
            self._handle = self.path.open("ab")
        values.tofile(self._handle)
        if not self.keep_open:
            self.close()


@dataclass
class FileScan:
    """The columns of one scanned file, its row count and (when asked) its row hashes."""

    path: Path
    n_rows: int
    columns: list[ColumnScan]
    row_hashes: np.ndarray | None

    def column(self, name: str) -> ColumnScan:
        """Return the scan of column ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFoundError(f"column {name} was not scanned from {self.path}")


def scan_file(
    path: Path,
    columns: Sequence[str],
    scratch: Path,
    *,
    chunk_rows: int,
    hash_rows: bool,
    progress: Progress | None = None,
) -> FileScan:
    """Read ``columns`` of ``path`` once, writing each to a scratch file under ``scratch``."""
    if chunk_rows < 1:
        raise ValidationError(f"chunk_rows must be at least 1; got {chunk_rows}")
    keep_open = len(columns) <= MAX_OPEN_FILES
    scans = [
        ColumnScan(name, scratch / f"{i:05d}.bin", keep_open=keep_open)
        for i, name in enumerate(columns)
    ]
    hashes: list[np.ndarray] = []
    n_rows = 0

    try:
        for batch in iter_batches(path, columns, chunk_rows, progress):
            row_hash = np.full(len(batch), _HASH_START, dtype=np.uint64)
            for scan in scans:
                keys = scan.add(batch[scan.name])
                if hash_rows:
                    row_hash = _mix(row_hash ^ keys)
            if hash_rows:
                hashes.append(row_hash)
            n_rows += len(batch)
    finally:
        for scan in scans:
            scan.close()

    for scan in scans:
        scan.finish()
    pa.default_memory_pool().release_unused()
    if n_rows == 0:
        raise ValidationError(f"{path} has a header but no data rows")
    logger.info("scale: scanned %d rows x %d columns of %s", n_rows, len(scans), path.name)

    row_hashes = np.concatenate(hashes) if hash_rows else None
    return FileScan(path, n_rows, scans, row_hashes)


def _is_number(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def _number_keys(values: np.ndarray) -> np.ndarray:
    floats = values.astype(np.float64)  # a copy; equal numbers get equal keys, -0.0 as 0.0
    floats[floats == 0] = 0.0
    keys = floats.view(np.uint64)
    keys[np.isnan(floats)] = NULL_KEY
    return keys


def _mix(values: np.ndarray) -> np.ndarray:
    # splitmix64's finalizer: every input bit reaches every output bit; uint64 arrays wrap.
    values = values ^ (values >> np.uint64(30))
    values *= _MIX_1
    values ^= values >> np.uint64(27)
    values *= _MIX_2
    values ^= values >> np.uint64(31)
    return values
