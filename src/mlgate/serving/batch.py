"""Scoring a file's chunks in order, in one process or several, and keeping finished chunks.

The reading process hands each chunk to a pool of worker processes and takes the results back
in input order, so the output is the same whatever the number of workers. Each worker receives
the (already hash-checked) scorer once, when it starts. Only a few chunks are in flight at a
time, so memory stays bounded by the chunk size, not the file size.

A resumable run writes each scored chunk to its own part file in a hidden work folder beside the
output, with a manifest naming the input's hash, the model version and the chunk size. A rerun
with the same three skips the chunks whose part exists and joins the parts into the output at
the end; a part appears under its final name only once it is complete.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.errors import ConflictError, ValidationError
from mlgate.serving.scorer import Scored, Scorer, output_columns

logger = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: keeps every worker busy, memory bounded
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk of the input: its position, its rows and, unless it was done before, the
    frame with the prediction columns (named ``names``) added."""

    index: int
    rows: int
    frame: pd.DataFrame | None
    names: tuple[str, ...]


def scored_chunks(
    scorer: Scorer,
    chunks: Iterable[pd.DataFrame],
    source: str,
    workers: int = 1,
    done: frozenset[int] = frozenset(),
) -> Iterator[ScoredChunk]:
    """Yield every non-empty chunk scored, in input order; chunks in ``done`` are not scored.

    With ``workers`` above one the scoring runs in that many processes. The chunks get their
    prediction columns in place (see :func:`with_scores`): pass frames read for this run.
    """
    if workers < 1:
        raise ValidationError(f"--workers must be at least 1; got {workers}")

    numbered = enumerate(chunk for chunk in chunks if not chunk.empty)
    if workers == 1:
        names: tuple[str, ...] | None = None
        for index, chunk in numbered:
            names = names or output_columns(chunk.columns, source)
            frame = (
                None if index in done else with_scores(chunk, scorer.score(chunk, source), names)
            )
            yield ScoredChunk(index, len(chunk), frame, names)
        return

    yield from _scored_in_pool(scorer, numbered, source, workers, done)


def _scored_in_pool(
    scorer: Scorer,
    numbered: Iterator[tuple[int, pd.DataFrame]],
    source: str,
    workers: int,
    done: frozenset[int],
) -> Iterator[ScoredChunk]:
    # spawn, not fork: the parent holds database connections and may run writer threads
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, context, initializer=_start_worker, initargs=(scorer, os.getpid())
    )
    logger.info("started %d scoring processes for %s", workers, source)
    pending: deque[tuple[int, pd.DataFrame, Future[Scored] | None]] = deque()
    names: tuple[str, ...] | None = None
    try:
        for index, chunk in numbered:
            names = names or output_columns(chunk.columns, source)
            job = None if index in done else pool.submit(_score_in_worker, chunk, source)
            pending.append((index, chunk, job))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield _collect(pending.popleft(), names)
        while pending:
            yield _collect(pending.popleft(), names or ())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(
    item: tuple[int, pd.DataFrame, Future[Scored] | None], names: tuple[str, ...]
) -> ScoredChunk:
    index, chunk, job = item
    if job is None:
        return ScoredChunk(index, len(chunk), None, names)
    return ScoredChunk(index, len(chunk), with_scores(chunk, job.result(), names), names)


def with_scores(frame: pd.DataFrame, scored: Scored, names: Sequence[str]) -> pd.DataFrame:
    """Add ``scored``'s prediction and score to ``frame`` as columns ``names``; return it.

    The chunk is changed in place: it was read for this run alone, and copying every chunk
    would cost as much as scoring a fast model.
    """
    prediction, score = names
    frame[prediction] = scored.prediction
    if scored.score is not None:
        frame[score] = scored.score
    return frame


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Return a Parquet writer for ``schema`` that dictionary-encodes only non-float columns.

    A file written chunk by chunk starts a dictionary in every column of every row group;
    for floating-point columns, whose values rarely repeat, that attempt is most of the
    writing time and is then thrown away.
    """
    encoded = [f.name for f in schema if not pa.types.is_floating(f.type)]
    return pq.ParquetWriter(path, schema, use_dictionary=encoded)


_WORKER: dict[str, Scorer] = {}
ORPHAN_POLL_SECONDS = 0.5


def _start_worker(scorer: Scorer, parent: int) -> None:
    # The parent's pid comes from the parent: read here, after the seconds a spawned worker
    # spends importing, it could already be the pid of init that adopted an orphan.
    _WORKER["scorer"] = scorer
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """End this worker once its parent is gone.

    A parent killed with SIGKILL cannot shut its pool down; without this its workers would
    keep the model in memory and the CPUs busy until the host restarts. The parent's pid is
    polled because a new parent (init or a subreaper) is the only sign Linux gives every child.
    """
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    os._exit(1)


def _score_in_worker(frame: pd.DataFrame, source: str) -> Scored:
    return _WORKER["scorer"].score(frame, source)


class WorkFolder:
    """The hidden folder beside ``output`` that keeps a resumable run's finished chunks."""

    def __init__(self, output: Path, manifest: dict[str, Any]) -> None:
        self.path = output.with_name(f".{output.name}.work")
        self.format = "csv" if output.suffix.lower() == ".csv" else "parquet"
        self.manifest = {**manifest, "format": self.format}

    def open(self) -> frozenset[int]:
        """Create the folder, or check an earlier run's manifest; return the finished chunks."""
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            self.path.mkdir(exist_ok=True)
            manifest_path.write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
            return frozenset()

        earlier = json.loads(manifest_path.read_text())
        changed = sorted(k for k in self.manifest if earlier.get(k) != self.manifest[k])
        if changed:
            described = "; ".join(
                f"{k} was {earlier.get(k)!r}, now {self.manifest[k]!r}" for k in changed
            )
            raise ConflictError(
                f"cannot resume into {self.path.name}: the earlier run differs ({described})",
                hint=f"delete {self.path} to start over, or run again without --resume",
            )

        finished = frozenset(int(p.stem.split("-")[1]) for p in self.path.glob("part-*.*"))
        logger.info("resuming %s: %d chunk(s) already scored", self.path.name, len(finished))
        return finished

    def part(self, index: int) -> Path:
        """Return the path of chunk ``index``'s part file."""
        return self.path / f"part-{index:06d}.{self.format}"

    def write(self, chunk: ScoredChunk) -> None:
        """Write a scored chunk's part file, appearing under its name only when complete."""
        assert chunk.frame is not None
        target = self.part(chunk.index)
        partial = target.with_name(f".{target.name}.partial")
        if self.format == "csv":
            chunk.frame.to_csv(partial, header=chunk.index == 0, index=False)
        else:
            table = pa.Table.from_pandas(chunk.frame, preserve_index=False)
            with parquet_writer(partial, table.schema) as writer:
                writer.write_table(table)
        os.replace(partial, target)

    def join(self, count: int, target: Path) -> None:
        """Concatenate parts ``0..count-1`` into ``target`` in order."""
        if self.format == "csv":
            with open(target, "wb") as out:
                for index in range(count):
                    with open(self.part(index), "rb") as part:
                        shutil.copyfileobj(part, out)
            return

        writer: pq.ParquetWriter | None = None
        try:
            for index in range(count):
                table = pq.read_table(self.part(index))
                writer = writer or parquet_writer(target, table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()

    def remove(self) -> None:
        """Delete the folder once the output is in place."""
        shutil.rmtree(self.path, ignore_errors=True)
