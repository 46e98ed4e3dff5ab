"""The log of served predictions, written in the background for monitoring to read later.

Every prediction the REST server or a stream consumer makes is recorded with its request id,
model version, inputs (sensitive columns dropped), output and latency. Scoring must not wait
for the disk, so :meth:`PredictionLog.record` only appends the rows to a queue. Once per flush
(not once per row, which would take the interpreter lock from the server thousands of times a
second) a sender thread takes everything queued, joins it into a few whole arrays and hands
them to a writer process (:mod:`mlgate.serving.log_writer`), which builds and appends the
Parquet files under the log folder, one per flush, partitioned by day
(``date=YYYY-MM-DD/part-....parquet``) so monitoring can read a time window without reading
everything. A file appears whole or not at all (written aside, then renamed). Building a file
takes tens of milliseconds of interpreter time; in its own process it does not hold up the
server's requests.

When the writer cannot keep up and the queue is full, rows are dropped and counted
(:attr:`PredictionLog.dropped`, logged and exported as a metric) rather than slowing the
responses: a gap in the log is visible, a stalled server is an outage.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from mlgate.serving.log_writer import FEATURE_PREFIX, FLOAT_FEATURES, OBJECT_FEATURES, encode

if TYPE_CHECKING:
    from mlgate.serving.scorer import FloatRows

logger = logging.getLogger(__name__)

__all__ = ["FEATURE_PREFIX", "PredictionLog", "prediction_log_folder", "read_predictions"]

FLUSH_ROWS = 5_000
FLUSH_SECONDS = 1.0
MAX_QUEUED_BATCHES = 10_000
WRITER_MODULE = "mlgate.serving.log_writer"


class _Batch(NamedTuple):  # a tuple: made for every request, so as cheap as can be
    at: int  # microseconds since the epoch, UTC
    request_ids: Sequence[str]
    version: int
    features: pd.DataFrame | FloatRows
    prediction: np.ndarray
    score: np.ndarray | None
    latency_ms: float
    channel: str


class PredictionLog:
    """Appends served predictions to day-partitioned Parquet files through a writer process.

    ``sensitive`` columns are never written. ``flush_rows`` and ``flush_seconds`` bound how
    much is held in memory and how late a row reaches the disk. :meth:`close` writes what is
    queued and stops the writer; the writer also stops by itself when this process ends.
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
        self.written = 0
        # rows dropped, one counter per thread that drops them, so no update is lost
        self._dropped_queue = 0  # by the scoring thread: the queue was full
        self._dropped_sending = 0  # by the sender: the writer had stopped
        self._dropped_writing = 0  # reported by the writer: it could not write them
        self._queue: collections.deque[_Batch] = collections.deque()  # appends are thread-safe
        # rows recorded (by the scoring thread) and taken (by the sender): each counter has one
        # writer, so no update is lost; they only decide when to flush before the timer
        self._recorded_rows = 0
        self._taken_rows = 0
        self._wake = threading.Event()
        self._closing = False
        self._closed = False
        self._writer_stopped = False
        self._writer = _start_writer()
        self._send_bytes(encode({"folder": str(self.folder), "sensitive": sorted(self.sensitive)}))
        self._answers = threading.Thread(
            target=self._read_answers, name="prediction-log-answers", daemon=True
        )
        self._answers.start()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        logger.info("prediction log %s: writer process %d started", self.folder, self._writer.pid)

    @property
    def dropped(self) -> int:
        """Rows not logged: refused by the full queue, or lost on the way to the disk."""
        return self._dropped_queue + self._dropped_sending + self._dropped_writing

    @property
    def writer_pid(self) -> int:
        """The process id of the writer process."""
        return self._writer.pid

    def record(
        self,
        request_ids: Sequence[str],
        version: int,
        features: pd.DataFrame | FloatRows,
        prediction: np.ndarray,
        score: np.ndarray | None,
        latency_ms: float,
        channel: str,
    ) -> None:
        """Queue one scored batch (one row per request id) without waiting for the disk.

        ``features`` is a frame, or the scorer's :class:`~mlgate.serving.scorer.FloatRows`.
        """
        if len(self._queue) >= self.max_queued:
            self._dropped_queue += len(request_ids)
            dropped = self._dropped_queue
            if dropped == len(request_ids) or dropped % 10_000 < len(request_ids):
                logger.warning(
                    "prediction log %s cannot keep up; %d row(s) dropped so far",
                    self.folder,
                    dropped,
                )
            return

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
        self._queue.append(batch)
        self._recorded_rows += len(request_ids)
        if self._recorded_rows - self._taken_rows >= self.flush_rows:
            self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the sender thread and the writer process."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        try:
            self._writer.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("the prediction log writer did not stop in %.0f s; ended", timeout)
            self._writer.kill()
            self._writer.wait()
        self._answers.join(timeout)
        logger.info(
            "prediction log %s closed: %d row(s) written, %d dropped",
            self.folder,
            self.written,
            self.dropped,
        )

    # -- the sender thread -------------------------------------------------------------------

    def _run(self) -> None:
        """Every ``flush_seconds``, or once ``flush_rows`` are queued, send what is queued."""
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            closing = self._closing  # read first: whatever was queued before close is taken

            batches = self._take()
            if batches:
                self._send(batches)
            if closing:
                break
        self._close_pipe()

    def _take(self) -> list[_Batch]:
        batches = []
        while self._queue:
            batches.append(self._queue.popleft())
        self._taken_rows += sum(len(b.request_ids) for b in batches)
        return batches

    def _send(self, batches: list[_Batch]) -> None:
        rows = sum(len(b.request_ids) for b in batches)
        try:
            data = encode(_message(batches))
        except (ValueError, TypeError) as error:
            self._dropped_sending += rows
            logger.warning("could not log %d prediction(s) to %s: %s", rows, self.folder, error)
            return
        if not self._send_bytes(data):
            self._dropped_sending += rows

    def _send_bytes(self, data: bytes) -> bool:
        """Write to the writer's pipe (the lock is released while it blocks); False if gone."""
        pipe = self._writer.stdin
        if pipe is None or self._writer_stopped:
            return False
        try:
            pipe.write(data)
            pipe.flush()
            return True
        except (OSError, ValueError):
            self._writer_stopped = True
            logger.error(
                "the prediction log writer for %s has stopped (exit code %s); predictions "
                "are dropped and counted from now on",
                self.folder,
                self._writer.poll(),
            )
            return False

    def _close_pipe(self) -> None:
        try:
            if self._writer.stdin is not None:
                self._writer.stdin.close()
        except OSError:
            pass

    def _read_answers(self) -> None:
        """Count what the writer reports: rows written and rows lost, one line per message."""
        if self._writer.stdout is None:
            return
        for line in self._writer.stdout:
            written, lost = (int(n) for n in line.split())
            self.written += written
            self._dropped_writing += lost


def _start_writer() -> subprocess.Popen[bytes]:
    """Start the writer process; its stdin is a pipe only this process writes to.

    It gets a process group of its own, so the terminal's Ctrl+C (sent to the server's group)
    does not stop it before the server has sent its last rows.
    """
    return subprocess.Popen(
        [sys.executable, "-m", WRITER_MODULE, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
        process_group=0,
        env={**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")},
    )


def _message(batches: list[_Batch]) -> dict[str, Any]:
    """Return queued batches as one message of whole arrays, cheap to pickle and send.

    A busy server queues thousands of one-row batches between flushes; everything per row
    stays inside numpy arrays (or one list of request ids), so the server's side costs a few
    array joins, and the writer process does the rest.
    """
    sizes = np.fromiter((len(b.request_ids) for b in batches), np.int64, len(batches))
    return {
        "at": np.fromiter((b.at for b in batches), np.int64, len(batches)),
        "sizes": sizes,
        "version": np.fromiter((b.version for b in batches), np.int64, len(batches)),
        "latency_ms": np.fromiter((b.latency_ms for b in batches), np.float64, len(batches)),
        "channel": [b.channel for b in batches],
        "request_id": [i for b in batches for i in b.request_ids],
        "prediction": _joined_predictions(batches),
        "score": np.concatenate(
            [
                np.asarray(b.score, dtype=np.float64)
                if b.score is not None
                else np.full(n, np.nan)
                for b, n in zip(batches, sizes.tolist(), strict=True)
            ]
        ),
        "features": _features(batches, sizes),
    }


def _joined_predictions(batches: list[_Batch]) -> np.ndarray:
    """Return every batch's predictions in one array; mixed dtypes are joined as objects."""
    arrays = [np.asarray(b.prediction) for b in batches]
    if len({a.dtype for a in arrays}) == 1 and arrays[0].dtype != object:
        return np.concatenate(arrays)
    return np.concatenate([a.astype(object) for a in arrays])


def _features(batches: list[_Batch], sizes: np.ndarray) -> tuple[Any, ...]:
    """Return the batches' feature values for the writer (see ``log_writer``'s reader).

    Batches sharing one column index object whose frames hold only float64 (frames sharing an
    index object come from one place that builds them alike, such as the scorer's quick path)
    are sent as one float block; anything else as object blocks, one per set of column names.
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
        floats = _float_block(batches)
        if floats is not None:
            return (FLOAT_FEATURES, next(iter(groups)), floats)

    starts = np.concatenate([[0], np.cumsum(sizes)])
    blocks = []
    for names, members in groups.items():
        stacked = np.concatenate([batches[m].features.to_numpy(dtype=object) for m in members])
        rows = np.concatenate([np.arange(starts[m], starts[m + 1]) for m in members])
        blocks.append((names, stacked, rows))
    return (OBJECT_FEATURES, blocks)


def _float_block(batches: list[_Batch]) -> np.ndarray | None:
    """Return the batches' features stacked as one float64 array, or None if any is not."""
    if not all(dtype == np.float64 for dtype in batches[0].features.dtypes):
        return None
    arrays = [batch.features.to_numpy() for batch in batches]
    if any(array.dtype != np.float64 for array in arrays):
        return None
    return np.concatenate(arrays)


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
