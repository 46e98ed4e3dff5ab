"""Reading the prediction log one time window and a few columns at a time.

The log (see :mod:`mlgate.serving.predictions`) is a folder of Parquet files partitioned by
UTC day. A window reads only the day folders that can hold its rows and only the columns asked
for, file by file, so memory follows the size of one window's columns, never the whole log.
Files written by different server versions may type a column differently (a client that sent
text where numbers were expected is logged as text); such columns are unified to text rather
than failing the window.

Column names in the log: ``ts`` (UTC timestamp), ``request_id``, ``channel``,
``model_version``, ``latency_ms``, ``prediction`` (text), ``score`` (the positive class's
probability, NaN when the model gives none) and ``f.<feature>`` for each logged input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlgate.errors import ValidationError
from mlgate.serving.predictions import FEATURE_PREFIX

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` of the prediction log in ``folder``."""

    folder: Path
    start: datetime
    end: datetime
    length: str  # as written in the config, e.g. "1d"

    def files(self) -> list[Path]:
        """Return the log files whose day folder overlaps the window, in name order."""
        first = self.start.date().isoformat()
        last = (self.end - timedelta(microseconds=1)).date().isoformat()
        found: list[Path] = []
        if not self.folder.is_dir():
            return found
        for day_folder in sorted(self.folder.glob("date=*")):
            day = day_folder.name.removeprefix("date=")
            if first <= day <= last:
                found.extend(sorted(day_folder.glob("part-*.parquet")))
        return found

    def read(self, columns: Sequence[str]) -> pa.Table:
        """Return ``columns`` (plus ``ts``) of the rows logged in the window, as one table.

        A column absent from a file is null in that file's rows; a column typed differently
        across files becomes text.
        """
        wanted = list(dict.fromkeys(["ts", *columns]))
        pieces = [piece for piece in self._pieces(wanted) if piece.num_rows]
        if not pieces:
            return _empty(wanted)
        return _concat(pieces, wanted)

    def feature(self, name: str) -> pa.ChunkedArray:
        """Return the logged values of input feature ``name`` in the window."""
        return self.read([f"{FEATURE_PREFIX}{name}"]).column(f"{FEATURE_PREFIX}{name}")

    def rows(self) -> int:
        """Return how many predictions were logged in the window (reads only ``ts``)."""
        return self.read([]).num_rows

    def _pieces(self, wanted: list[str]) -> Iterator[pa.Table]:
        start, end = (
            pa.scalar(self.start, pa.timestamp("us", "UTC")),
            pa.scalar(self.end, pa.timestamp("us", "UTC")),
        )
        for path in self.files():
            try:
                present = set(pq.read_schema(path).names)
                table = pq.read_table(path, columns=[c for c in wanted if c in present])
            except (OSError, pa.ArrowException) as error:
                raise ValidationError(
                    f"the prediction log file {path.relative_to(self.folder)} cannot be read "
                    f"({str(error).splitlines()[0]}); repair it, or move it out of the log "
                    "folder to monitor the window without it"
                ) from None
            ts = table.column("ts").cast(pa.timestamp("us", "UTC"))
            keep = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
            table = table.filter(keep)
            for name in wanted:
                if name not in present:
                    table = table.append_column(name, pa.nulls(table.num_rows, pa.null()))
            yield table.select(wanted)


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({name: pa.array([], pa.null()) for name in columns})


def _concat(pieces: list[pa.Table], columns: list[str]) -> pa.Table:
    """Join per-file tables whose column types may differ; disagreeing columns become text."""
    arrays: dict[str, pa.ChunkedArray] = {}
    for name in columns:
        chunks = [piece.column(name) for piece in pieces]
        types = {c.type for c in chunks if c.type != pa.null()}
        if len(types) > 1:
            chunks = [c.cast(pa.string()) for c in chunks]
            logger.info("column %s has types %s across log files; read as text", name, types)
            target = pa.string()
        else:
            target = types.pop() if types else pa.null()
        arrays[name] = pa.chunked_array(
            [chunk.cast(target) for c in chunks for chunk in c.chunks], type=target
        )
    return pa.table(arrays)


def log_span(folder: Path) -> tuple[datetime, datetime] | None:
    """Return the first and last logged moment in ``folder``, or None when nothing is logged.

    Only the first and the last day folder holding readable rows are opened, so the cost does
    not grow with the log. A file that cannot be read is skipped here with a warning; the
    window that holds it fails on its own when it is monitored, naming the file.
    """
    days = sorted(Path(folder).glob("date=*"))
    first = next((low for low, _ in map(_day_span, days) if low is not None), None)
    last = next((high for _, high in map(_day_span, reversed(days)) if high is not None), None)
    if first is None or last is None:
        return None
    return first.astimezone(UTC), last.astimezone(UTC)


def _day_span(day_folder: Path) -> tuple[datetime | None, datetime | None]:
    """Return the earliest and latest ``ts`` in one day folder's files (None when empty)."""
    low = high = None
    for path in sorted(day_folder.glob("part-*.parquet")):
        try:
            ts = pq.read_table(path, columns=["ts"]).column("ts")
        except (OSError, pa.ArrowException, KeyError) as error:
            logger.warning("skipping unreadable prediction log file %s: %s", path.name, error)
            continue
        if len(ts) == 0:
            continue
        first, last = pc.min(ts).as_py(), pc.max(ts).as_py()
        low = first if low is None or first < low else low
        high = last if high is None or last > high else high
    return low, high


def align(moment: datetime, length: timedelta) -> datetime:
    """Return the start of the window of ``length`` that holds ``moment``, counted from the epoch.

    Windows are aligned to the epoch (UTC midnight for days), so every run cuts the same
    windows and a window is never summarised twice with different bounds.
    """
    steps = (moment.astimezone(UTC) - EPOCH) // length
    return EPOCH + steps * length


def complete_windows(
    folder: Path, text: str, length: timedelta, after: datetime | None, now: datetime
) -> list[Window]:
    """Return the windows that have ended by ``now`` and start at or after ``after``.

    With ``after`` None the first window is the one holding the first logged prediction.
    Windows with no predictions are included, so a silent model is visible as empty windows.
    """
    span = log_span(folder)
    if span is None:
        return []
    start = align(after or span[0], length)
    windows = []
    while start + length <= now:
        windows.append(Window(Path(folder), start, start + length, text))
        start += length
    return windows
