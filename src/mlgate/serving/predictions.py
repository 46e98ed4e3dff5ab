"""The log of served predictions, written in the background for monitoring to read later.

Every prediction the REST server or a stream consumer makes is recorded with its request id,
model version, inputs (sensitive columns dropped), output and latency. Scoring must not wait
for the disk, so :meth:`PredictionLog.record` only puts the rows on a queue; a writer thread
gathers them and appends Parquet files under the log folder, one per flush, partitioned by day
(``date=YYYY-MM-DD/part-....parquet``) so monitoring can read a time window without reading
everything. A file appears whole or not at all (written aside, then renamed).

When the disk cannot keep up and the queue is full, rows are dropped and counted
(:attr:`PredictionLog.dropped`, logged and exported as a metric) rather than slowing the
responses: a gap in the log is visible, a stalled server is an outage.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
_STOP = object()


@dataclass(frozen=True)
class _Batch:
    at: datetime
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
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queued)
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
            datetime.now(UTC),
            request_ids,
            version,
            features,
            prediction,
            score,
            latency_ms,
            channel,
        )
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self.dropped += len(request_ids)
            if self.dropped == len(request_ids) or self.dropped % 10_000 < len(request_ids):
                logger.warning(
                    "prediction log %s cannot keep up; %d row(s) dropped so far",
                    self.folder,
                    self.dropped,
                )

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        logger.info(
            "prediction log %s closed: %d row(s) written, %d dropped",
            self.folder,
            self.written,
            self.dropped,
        )

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[_Batch] = []
        rows = 0
        deadline = time.monotonic() + self.flush_seconds
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None

            if item is not None and item is not _STOP:
                pending.append(item)
                rows += len(item.request_ids)
            due = time.monotonic() >= deadline
            if pending and (rows >= self.flush_rows or due or item is _STOP):
                self._flush(pending)
                pending, rows = [], 0
            if due or not pending:
                deadline = time.monotonic() + self.flush_seconds
            if item is _STOP:
                return

    def _flush(self, batches: list[_Batch]) -> None:
        try:
            frame = pd.concat([self._frame(b) for b in batches], ignore_index=True)
            for day, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m-%d"), sort=True):
                self._write(day, part)
            self.written += len(frame)
        except (OSError, ValueError, TypeError, pa.ArrowException) as error:
            lost = sum(len(b.request_ids) for b in batches)
            self.dropped += lost
            logger.warning("could not write %d prediction(s) to %s: %s", lost, self.folder, error)

    def _frame(self, batch: _Batch) -> pd.DataFrame:
        n = len(batch.request_ids)
        frame = pd.DataFrame(
            {
                "ts": pd.Series([batch.at] * n, dtype="datetime64[us, UTC]"),
                "request_id": list(batch.request_ids),
                "channel": batch.channel,
                "model_version": batch.version,
                "latency_ms": batch.latency_ms,
                "prediction": [str(p) for p in batch.prediction],
                "score": batch.score if batch.score is not None else np.full(n, np.nan),
            }
        )
        kept = [c for c in batch.features.columns if c not in self.sensitive]
        features = batch.features[kept].reset_index(drop=True)
        features.columns = [f"{FEATURE_PREFIX}{c}" for c in kept]
        return pd.concat([frame, features], axis=1)

    def _write(self, day: str, frame: pd.DataFrame) -> None:
        folder = self.folder / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{os.getpid()}-{next(self._sequence)}.parquet"
        partial = folder / f".{name}.partial"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), partial)
        os.replace(partial, folder / name)


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
