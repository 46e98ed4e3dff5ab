"""The log of served predictions, written in the background for monitoring to read later.

Every prediction the REST server or a stream consumer makes is recorded with its request id,
model version, inputs (sensitive columns dropped), output and latency. Scoring must not wait
for the disk, so :meth:`PredictionLog.record` only appends the rows to a queue; a writer thread
wakes once per flush (not once per row, which would take the interpreter lock from the server
thousands of times a second), takes everything queued and appends Parquet files under the log
folder, one per flush, partitioned by day
(``date=YYYY-MM-DD/part-....parquet``) so monitoring can read a time window without reading
everything. A file appears whole or not at all (written aside, then renamed).

When the disk cannot keep up and the queue is full, rows are dropped and counted
(:attr:`PredictionLog.dropped`, logged and exported as a metric) rather than slowing the
responses: a gap in the log is visible, a stalled server is an outage.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

FEATURE_PREFIX = "f."
FLUSH_ROWS = 5_000
FLUSH_SECONDS = 1.0
MAX_QUEUED_BATCHES = 10_000
MICROSECONDS_PER_DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class _Batch:
    at: int  # microseconds since the epoch, UTC
    request_ids: Sequence[str]
    version: int
    features: pd.DataFrame
    prediction: np.ndarray
    score: np.ndarray | None
    latency_ms: float
    channel: str


class PredictionLog:
    """Appends served predictions to day-partitioned Parquet files from a background thread.

    ``sensitive`` columns are never written. ``flush_rows`` and ``flush_seconds`` bound how
    much is held in memory and how late a row reaches the disk.
    """

    def __init__(
        self,
        folder: Path,
        sensitive: Sequence[str] = (),
        flush_rows: int = FLUSH_ROWS,
        flush_seconds: float = FLUSH_SECONDS,
        max_queued: int = MAX_QUEUED_BATCHES,
    ) -> None:
        self.folder = Path(folder)
        self.sensitive = frozenset(sensitive)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_queued = max_queued
        self.dropped = 0
        self.written = 0
        self._queue: collections.deque[_Batch] = collections.deque()  # appends are thread-safe
        # rows recorded (by the scoring thread) and taken (by the writer): each counter has one
        # writer, so no update is lost; they only decide when to flush before the timer
        self._recorded_rows = 0
        self._taken_rows = 0
        self._wake = threading.Event()
        self._closing = False
        self._sequence = itertools.count()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def record(
        self,
        request_ids: Sequence[str],
        version: int,
        features: pd.DataFrame,
        prediction: np.ndarray,
        score: np.ndarray | None,
        latency_ms: float,
        channel: str,
    ) -> None:
        """Queue one scored batch (one row per request id) without waiting for the disk."""
        batch = _Batch(
            time.time_ns() // 1000,
            request_ids,
            version,
            features,
            prediction,
            score,
            latency_ms,
            channel,
        )
        if len(self._queue) >= self.max_queued:
            self.dropped += len(request_ids)
            if self.dropped == len(request_ids) or self.dropped % 10_000 < len(request_ids):
                logger.warning(
                    "prediction log %s cannot keep up; %d row(s) dropped so far",
                    self.folder,
                    self.dropped,
                )
            return

        self._queue.append(batch)
        self._recorded_rows += len(request_ids)
        if self._recorded_rows - self._taken_rows >= self.flush_rows:
            self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer thread."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        logger.info(
            "prediction log %s closed: %d row(s) written, %d dropped",
            self.folder,
            self.written,
            self.dropped,
        )

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        """Every ``flush_seconds``, or once ``flush_rows`` are queued, write what is queued."""
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            closing = self._closing  # read first: whatever was queued before close is taken

            batches = self._take()
            if batches:
                self._flush(batches)
            if closing:
                return

    def _take(self) -> list[_Batch]:
        batches = []
        while self._queue:
            batches.append(self._queue.popleft())
        self._taken_rows += sum(len(b.request_ids) for b in batches)
        return batches

    def _flush(self, batches: list[_Batch]) -> None:
        by_day: dict[int, list[_Batch]] = {}
        for batch in batches:
            by_day.setdefault(batch.at // MICROSECONDS_PER_DAY, []).append(batch)
        try:
            for day, members in sorted(by_day.items()):
                frame = self._frame(members)
                self._write(_day_name(day), frame)
                self.written += len(frame)
        except (OSError, ValueError, TypeError, pa.ArrowException) as error:
            lost = sum(len(b.request_ids) for b in batches)
            self.dropped += lost
            logger.warning("could not write %d prediction(s) to %s: %s", lost, self.folder, error)

    def _frame(self, batches: list[_Batch]) -> pd.DataFrame:
        """Return the batches as one frame, built column by column.

        A busy server queues thousands of one-row batches between flushes; joining that many
        small frames would cost the scoring thread more CPU than the scoring itself.
        """
        sizes = [len(b.request_ids) for b in batches]
        columns: dict[str, Any] = {
            "ts": pd.to_datetime(
                np.repeat(np.array([b.at for b in batches], dtype=np.int64), sizes),
                unit="us",
                utc=True,
            ),
            "request_id": [i for b in batches for i in b.request_ids],
            "channel": np.repeat([b.channel for b in batches], sizes),
            "model_version": np.repeat([b.version for b in batches], sizes),
            "latency_ms": np.repeat([b.latency_ms for b in batches], sizes),
            "prediction": [str(p) for b in batches for p in np.asarray(b.prediction).tolist()],
            "score": np.concatenate(
                [
                    b.score if b.score is not None else np.full(n, np.nan)
                    for b, n in zip(batches, sizes, strict=True)
                ]
            ),
        }
        for name, values in _feature_columns(batches, sizes).items():
            if name not in self.sensitive:
                columns[f"{FEATURE_PREFIX}{name}"] = values
        return pd.DataFrame(columns)

    def _write(self, day: str, frame: pd.DataFrame) -> None:
        folder = self.folder / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{os.getpid()}-{next(self._sequence)}.parquet"
        partial = folder / f".{name}.partial"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), partial)
        os.replace(partial, folder / name)


def _day_name(day: int) -> str:
    """Return the date (``YYYY-MM-DD``, UTC) of a day counted from the epoch."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).date().isoformat()


def _feature_columns(batches: list[_Batch], sizes: list[int]) -> dict[str, pd.Series]:
    """Return every feature column of ``batches``, each joined across them.

    Batches with the same columns (almost always all of them) are stacked as one object array,
    which costs one conversion per batch rather than one per batch and column; each column then
    gets its natural dtype back. A column a batch lacks is missing (null) in its rows.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    names_by_index: dict[int, tuple[str, ...]] = {}  # a server's frames share one column index
    for position, batch in enumerate(batches):
        index = batch.features.columns  # alive while the batch is, so its id stays unique
        names = names_by_index.get(id(index))
        if names is None:
            names = names_by_index[id(index)] = tuple(map(str, index))
        groups.setdefault(names, []).append(position)

    if len(names_by_index) == 1:
        floats = _float_columns(batches, next(iter(groups)))
        if floats is not None:
            return floats

    total = sum(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    columns: dict[str, np.ndarray] = {}
    for names, members in groups.items():
        stacked = np.concatenate([batches[m].features.to_numpy(dtype=object) for m in members])
        rows = np.concatenate([np.arange(starts[m], starts[m + 1]) for m in members])
        for index, name in enumerate(names):
            column = columns.setdefault(name, np.full(total, None, dtype=object))
            column[rows] = stacked[:, index]
    return {name: _typed(values) for name, values in columns.items()}


def _typed(values: np.ndarray) -> pd.Series:
    """Return one logged column with its natural dtype; mixed kinds are logged as text.

    A client may send a number where text is expected (or the reverse); such a column cannot
    be one Parquet type, and one odd value must not cost every other row of the flush.
    """
    column = pd.Series(values).infer_objects()
    if column.dtype == object:
        column = column.map(_as_text)
    return column


def _float_columns(batches: list[_Batch], names: tuple[str, ...]) -> dict[str, pd.Series] | None:
    """Return the feature columns stacked as floats, or None unless every value is a float64.

    For batches sharing one column index object whose first frame holds only float64 columns
    (frames sharing an index object come from one place that builds them alike, such as the
    scorer's quick path): one float stack instead of boxing every value
    as an object and inferring each column's type back, which costs the writer, and so the
    server it shares the interpreter with, several times more for wide requests.
    """
    if not all(dtype == np.float64 for dtype in batches[0].features.dtypes):
        return None
    arrays = [batch.features.to_numpy() for batch in batches]
    if any(array.dtype != np.float64 for array in arrays):
        return None

    stacked = np.concatenate(arrays)
    return {name: pd.Series(stacked[:, index]) for index, name in enumerate(names)}


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # missing, or NaN
        return None
    return value if isinstance(value, str) else str(value)


def read_predictions(
    folder: Path, start: datetime | None = None, end: datetime | None = None
) -> Iterator[pd.DataFrame]:
    """Yield the logged predictions made in ``[start, end)``, one file's rows at a time.

    Only the day folders that can hold such rows are opened, and one file is in memory at once.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    first = start.date().isoformat() if start else None
    last = end.date().isoformat() if end else None
    for day_folder in sorted(folder.glob("date=*")):
        day = day_folder.name.removeprefix("date=")
        if (first and day < first) or (last and day > last):
            continue
        for path in sorted(day_folder.glob("part-*.parquet")):
            frame = pq.read_table(path).to_pandas()
            if start is not None:
                frame = frame[frame["ts"] >= start]
            if end is not None:
                frame = frame[frame["ts"] < end]
            if len(frame):
                yield frame


def prediction_log_folder(gov: Any) -> Path:
    """Return the folder of a workspace's prediction log (under its state folder)."""
    return Path(gov.workspace.state_dir) / "predictions"
