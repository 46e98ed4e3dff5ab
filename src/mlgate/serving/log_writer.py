"""The prediction log's writer process: turns flushed batches into day-partitioned Parquet files.

Building a Parquet file from thousands of rows takes tens of milliseconds of interpreter time.
Done in the serving process, it would hold the interpreter lock the event loop needs, and every
request in flight would wait for it. So :class:`~mlgate.serving.predictions.PredictionLog`
starts this module as a child process (``python -m mlgate.serving.log_writer``) and sends it,
once per flush, one message of whole arrays (see :func:`encode`); this process builds the
columns, writes each day's rows aside and renames the file into place, and answers how many
rows it wrote and how many it could not.

The child never outlives the server: it reads its messages from a pipe whose only writer is the
server, so the server's exit, however abrupt (even ``kill -9``), ends the input, and the child
writes what it has and stops. As a second guard it also stops when its parent process changes.
It runs in a process group of its own and ignores interrupts, so the terminal's Ctrl+C stops
the server, which then sends its last rows, and not the writer first.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

FEATURE_PREFIX = "f."
MICROSECONDS_PER_DAY = 86_400 * 1_000_000
HEADER = struct.Struct("<Q")
PARENT_CHECK_SECONDS = 1.0
FLOAT_FEATURES = "float"
OBJECT_FEATURES = "object"


# -- the wire: one pickled dictionary of arrays per message, its length first ----------------


def encode(message: Any) -> bytes:
    """Return ``message`` framed for the pipe: its pickle's length, then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def read_message(stream: IO[bytes]) -> Any | None:
    """Return the next message from ``stream``, or None once the sender has gone."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    payload = _read_exactly(stream, HEADER.unpack(header)[0])
    if payload is None:
        return None
    return pickle.loads(payload)  # noqa: S301 - written by the parent process only


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# -- the files --------------------------------------------------------------------------------


class Writer:
    """Writes flushed messages under ``folder``, leaving the ``sensitive`` columns out."""

    def __init__(self, folder: Path, sensitive: frozenset[str]) -> None:
        self.folder = folder
        self.sensitive = sensitive
        self._sequence = itertools.count()

    def write(self, message: dict[str, Any]) -> tuple[int, int]:
        """Write one flushed message; return the rows written and the rows lost."""
        total = int(message["sizes"].sum())
        try:
            frame = self.frame(message)
        except (ValueError, TypeError, pa.ArrowException) as error:
            logger.warning("could not log %d prediction(s) to %s: %s", total, self.folder, error)
            return 0, total

        written = 0
        days = np.repeat(message["at"] // MICROSECONDS_PER_DAY, message["sizes"])
        distinct = np.unique(days)
        for day in distinct:
            rows = frame[days == day] if len(distinct) > 1 else frame
            try:
                self._write(_day_name(int(day)), rows)
                written += len(rows)
            except (OSError, ValueError, TypeError, pa.ArrowException) as error:
                logger.warning(
                    "could not write %d prediction(s) to %s: %s", len(rows), self.folder, error
                )
        return written, total - written

    def frame(self, message: dict[str, Any]) -> pd.DataFrame:
        """Return a message's rows as the frame stored in the Parquet file."""
        sizes = message["sizes"]
        columns: dict[str, Any] = {
            "ts": pd.to_datetime(np.repeat(message["at"], sizes), unit="us", utc=True),
            "request_id": message["request_id"],
            "channel": np.repeat(np.array(message["channel"], dtype=object), sizes),
            "model_version": np.repeat(message["version"], sizes),
            "latency_ms": np.repeat(message["latency_ms"], sizes),
            "prediction": [str(p) for p in message["prediction"].tolist()],
            "score": message["score"],
        }
        for name, values in _feature_columns(message["features"], int(sizes.sum())).items():
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


def _feature_columns(features: tuple[Any, ...], total: int) -> dict[str, Any]:
    """Return the feature columns a message carries, each ``total`` rows long.

    Either one float64 block (every batch shared one all-float column index: the columns keep
    that dtype), or groups of batches with the same column names, each stacked as objects with
    the rows it fills; a column a group lacks is missing (null) in that group's rows, and each
    column gets its natural dtype back.
    """
    if features[0] == FLOAT_FEATURES:
        _, names, matrix = features
        return {name: pd.Series(matrix[:, index]) for index, name in enumerate(names)}

    columns: dict[str, np.ndarray] = {}
    for names, stacked, rows in features[1]:
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


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # missing, or NaN
        return None
    return value if isinstance(value, str) else str(value)


# -- the process ------------------------------------------------------------------------------


def serve(source: IO[bytes], answers: IO[bytes], writing: threading.Event | None = None) -> None:
    """Write every message from ``source`` until it ends; answer ``written lost`` for each.

    ``writing`` is set while a message is being written (the watchdog lets that finish).
    """
    writing = writing or threading.Event()
    config = read_message(source)
    if config is None:
        return
    writer = Writer(Path(config["folder"]), frozenset(config["sensitive"]))
    logger.debug("prediction log writer %d started for %s", os.getpid(), writer.folder)

    while (message := read_message(source)) is not None:
        started = time.perf_counter()
        with writing:
            written, lost = writer.write(message)
        answers.write(f"{written} {lost}\n".encode())
        answers.flush()
        logger.debug(
            "wrote %d prediction(s) to %s in %.1f ms",
            written,
            writer.folder,
            (time.perf_counter() - started) * 1000,
        )


def _watch_parent(parent: int, writing: threading.Lock) -> None:
    """Stop this process once its parent is gone, even if another process holds the pipe.

    A file being written is finished first, so none is left half-written.
    """
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            writing.acquire()  # kept: no other write starts
            logger.warning("the server %d is gone; the prediction log writer stops", parent)
            os._exit(1)


def main() -> None:
    """Run as the prediction log's writer: messages on stdin, counts on stdout.

    The one argument is the server's process id.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("MLGATE_LOG_WRITER_LEVEL", "WARNING"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # the server's id from its argument: it may have died while this process was importing
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    writing = threading.Lock()
    watchdog = threading.Thread(
        target=_watch_parent, args=(parent, writing), name="parent-watch", daemon=True
    )
    watchdog.start()
    serve(sys.stdin.buffer, sys.stdout.buffer, writing)


if __name__ == "__main__":
    main()
