"""Run logs: one JSON line per training run and per scored batch, for operators and auditors.

Training and batch prediction each append a structured record to a JSON-lines file in the
workspace's log folder (``.mlgate/logs/``, or ``MLGATE_LOG_DIR``): ``training.jsonl`` and
``prediction.jsonl``. A record says what ran, on which model and dataset (by version and
sha256), with which parameters, how many rows, how long it took, who ran it and with which
mlgate. It never holds a feature value, a label or any row content: column names, counts and
hashes only. The fields are defined once, in :mod:`mlgate.checks.logs`, whose ``run_logs``
check verifies the files; ``docs/logging.md`` describes them.

Appending is safe with concurrent writers: each record is one ``write`` of a whole line to a
file opened with ``O_APPEND``, under an exclusive ``flock`` where the platform has one, so lines
of two processes never interleave. Logging comes after the result is stored, and a failure to
log (a full disk, a read-only folder) is a warning: it never loses the model or the scores.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate.checks.logs import LOG_FILES, PREDICTION_LOG, TRAINING_LOG
from mlgate.config import Workspace

try:
    import fcntl
except ImportError:  # Windows: appends rely on O_APPEND and a single write alone
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from mlgate.lifecycle.deploy import ScoringRun
    from mlgate.lifecycle.service import Governance
    from mlgate.registry.models import DatasetVersion, ModelVersion

logger = logging.getLogger(__name__)

LOG_DIR_ENV = "MLGATE_LOG_DIR"
LOG_SUBDIR = "logs"


def log_dir(workspace: Workspace) -> Path:
    """Return the folder of the run logs: ``MLGATE_LOG_DIR`` or ``.mlgate/logs``.

    A relative ``MLGATE_LOG_DIR`` is taken from the workspace root, so every command of one
    workspace writes to the same place wherever it is started.
    """
    configured = os.environ.get(LOG_DIR_ENV)
    if not configured:
        return workspace.state_dir / LOG_SUBDIR
    path = Path(configured).expanduser()
    return path if path.is_absolute() else workspace.root / path


def training_record(
    gov: Governance, version: ModelVersion, dataset: DatasetVersion, rows: int, origin: str
) -> dict[str, Any]:
    """Return the record of a registered model version: trained here, or added from a file."""
    seconds = version.metrics.get("training_seconds")
    return {
        **_head(gov, "training.finished" if seconds is not None else "model.added", version),
        "dataset_sha256": dataset.sha256,
        "rows": int(rows),
        "seconds": seconds,
        "actor": gov.actor,
        "mlgate_version": __version__,
        "origin": origin,
        "estimator": version.estimator,
        "dataset_version": dataset.id,
        "target": version.target,
        "features": [column["name"] for column in version.signature],
        "params": dict(version.params),
        "metrics": dict(version.metrics),
        "code_version": version.code_version,
    }


def prediction_record(
    gov: Governance, run: ScoringRun, version: ModelVersion, seconds: float
) -> dict[str, Any]:
    """Return the record of one scored batch; ``latency_ms`` is the mean time per row."""
    return {
        **_head(gov, "prediction.batch", version),
        "dataset_sha256": run.input_sha256,
        "rows": run.rows,
        "seconds": round(seconds, 4),
        "actor": gov.actor,
        "mlgate_version": __version__,
        "output_sha256": run.output_sha256,
        "latency_ms": round(1000 * seconds / run.rows, 4) if run.rows else None,
        "deployed": run.deployed,
        "features": [column["name"] for column in version.signature],
        "workers": run.workers,
        "chunks_resumed": run.chunks_resumed,
    }


def _head(gov: Governance, event: str, version: ModelVersion) -> dict[str, Any]:
    return {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
        "run_id": uuid.uuid4().hex,
        "project": gov.config.project,
        "model_version": version.version,
        "model_sha256": version.artifact_sha256,
    }


def record_training(
    gov: Governance, version: ModelVersion, dataset: DatasetVersion, rows: int, origin: str
) -> Path | None:
    """Append the training record of ``version``; return the file, or ``None`` if it failed."""
    return _append_quietly(gov, TRAINING_LOG, training_record(gov, version, dataset, rows, origin))


def record_prediction(
    gov: Governance, run: ScoringRun, version: ModelVersion, seconds: float
) -> Path | None:
    """Append the record of a scored batch; return the file, or ``None`` if it failed."""
    return _append_quietly(gov, PREDICTION_LOG, prediction_record(gov, run, version, seconds))


def _append_quietly(gov: Governance, name: str, record: Mapping[str, Any]) -> Path | None:
    """Append ``record``; a failure is logged as a warning, since the result is already kept."""
    path = log_dir(gov.workspace) / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        append_record(path, record)
    except (OSError, TypeError, ValueError) as exc:
        logger.warning(
            "could not append the %s record of model version %s to %s (%s); the stored "
            "result is kept, but the run is missing from the run log",
            record["event"],
            record["model_version"],
            path,
            exc,
        )
        return None
    logger.info(
        "logged %s of model version %s to %s", record["event"], record["model_version"], path
    )
    return path


def encode_record(record: Mapping[str, Any]) -> bytes:
    """Return ``record`` as one ASCII JSON line, with non-finite numbers written as null."""
    text = json.dumps(_finite(record), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return (text + "\n").encode("ascii")


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` to ``path`` as one whole line, safely beside other writers.

    The line is written with ``O_APPEND`` while holding an exclusive ``flock``, so a line longer
    than the pipe buffer still never interleaves with another process's line. Raises
    :class:`OSError` when the file cannot be written.
    """
    line = memoryview(encode_record(record))
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        while line:
            written = os.write(descriptor, line)
            line = line[written:]
    finally:
        os.close(descriptor)  # closing also releases the lock


def read_lines(directory: Path) -> list[dict[str, Any]]:
    """Return each non-empty line of the log files in ``directory`` as text, with its place.

    Each item is ``{"file": name, "line": number, "text": text}``, numbered from 1 as an editor
    shows them. Bytes that are not UTF-8 become U+FFFD, which the check reports; a file is read
    under a shared lock, so a line being appended is never read half-written.
    """
    lines: list[dict[str, Any]] = []
    for name in LOG_FILES:
        path = directory / name
        if not path.is_file():
            continue
        content = _read_locked(path)
        for number, raw in enumerate(content.split(b"\n"), start=1):
            if raw.strip():
                text = raw.decode("utf-8", errors="replace").rstrip("\r")
                lines.append({"file": name, "line": number, "text": text})
    return lines


def _read_locked(path: Path) -> bytes:
    with path.open("rb") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        return handle.read()


def run_log_input(gov: Governance, version: ModelVersion | None) -> dict[str, Any]:
    """Return what the ``run_logs`` check reads: the project, current version and log lines."""
    directory = log_dir(gov.workspace)
    lines = read_lines(directory)
    logger.info("read %d run-log lines from %s", len(lines), directory)
    return {
        "project": gov.config.project,
        "model_version": version.version if version is not None else None,
        "model_sha256": version.artifact_sha256 if version is not None else None,
        "lines": lines,
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
