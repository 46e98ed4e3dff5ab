"""Running a declared pipeline once and recording the run.

A run is claimed in the store first: a ``pipeline_runs`` row marked active, which the table's
unique constraint allows once per pipeline, so the same pipeline never runs twice at the same
time, whoever starts it. The pipeline then runs in a worker process
(:mod:`mlgate.pipelines.worker`) with its output in a log file; at the timeout the worker and
everything it started are killed. The row is then closed with the outcome, the error in one
line and the end of the log. ``pipeline.started`` and ``pipeline.finished`` go to the audit
trail.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mlgate.config import PipelineConfig
from mlgate.errors import ConflictError, NotFoundError
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import PipelineRun

logger = logging.getLogger(__name__)

TRIGGERS = ("manual", "schedule", "monitor")
EXCERPT_LINES = 20
EXCERPT_CHARS = 4000
KILL_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2
# A run still marked active this long after its timeout lost the process that ran it (killed,
# machine lost); the next claim closes it as abandoned instead of waiting forever.
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    """How a worker ended: its status, what it produced or why it failed."""

    status: str
    output: str | None = None
    error: str | None = None


def pipeline_config(gov: Governance, name: str) -> PipelineConfig:
    """Return the pipeline ``name`` declared in mlgate.yaml."""
    pipelines = gov.config.pipelines
    if name not in pipelines:
        declared = ", ".join(sorted(pipelines)) or "none"
        raise NotFoundError(
            f"no pipeline named {name!r} in {gov.workspace.config_path.name}; declared: "
            f"{declared}",
            hint="declare it under pipelines: in mlgate.yaml (docs/pipelines.md)",
        )
    return pipelines[name]


def run_folder(gov: Governance, name: str) -> Path:
    """Return the folder of a pipeline's run logs and intermediate files."""
    return gov.workspace.state_dir / "pipelines" / name


def run_pipeline(
    gov: Governance,
    name: str,
    trigger: str = "manual",
    slot: datetime | None = None,
    stop: threading.Event | None = None,
) -> PipelineRun:
    """Run pipeline ``name`` once in a worker process and return its closed run record.

    A failing or hanging entry point does not raise: the run is recorded as failed with the
    reason. ``ConflictError`` means the run did not start, because the pipeline is already
    running or ``slot`` has had its run. Setting ``stop`` stops the worker; such a run is
    recorded as failed and gives its slot back, so a later scheduler runs it again.
    """
    pipeline = pipeline_config(gov, name)
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}; got {trigger!r}")

    run = _claim(gov, name, pipeline, trigger, slot)
    folder = run_folder(gov, name) / f"run-{run.id}"
    folder.mkdir(parents=True, exist_ok=True)
    log_file = run_folder(gov, name) / f"run-{run.id}.log"

    started = time.monotonic()
    outcome = _execute(gov, name, run.id, pipeline, folder, log_file, stop)
    seconds = time.monotonic() - started
    return _close(gov, run.id, outcome, log_file, seconds, interrupted=_is_set(stop))


def _claim(
    gov: Governance, name: str, pipeline: PipelineConfig, trigger: str, slot: datetime | None
) -> PipelineRun:
    """Insert the active run row, or raise ``ConflictError`` when the store refuses it."""
    _close_abandoned(gov, name, pipeline)
    try:
        with gov.transaction() as session:
            project = gov.project(session)
            run = PipelineRun(
                project_id=project.id,
                pipeline=name,
                kind=pipeline.kind,
                status="running",
                trigger=trigger,
                slot=slot,
                active=True,
                actor=gov.actor,
                started_at=datetime.now(UTC),
                log_excerpt="",
            )
            session.add(run)
            session.flush()
            gov.audit(
                session,
                "pipeline.started",
                f"pipeline:{name}",
                {"run": run.id, "kind": pipeline.kind, "trigger": trigger, "slot": _iso(slot)},
            )
    except IntegrityError as exc:
        raise _claim_conflict(gov, name, slot) from exc

    logger.info("pipeline %s run %d started (%s)", name, run.id, trigger)
    return run


def _claim_conflict(gov: Governance, name: str, slot: datetime | None) -> ConflictError:
    """Return the error that says why the store refused a run of ``name``."""
    active = active_run(gov, name)
    if active is not None:
        return ConflictError(
            f"pipeline {name!r} is already running: run {active.id}, started "
            f"{active.started_at:%Y-%m-%d %H:%M:%S} by {active.actor}",
            hint="wait for it to finish; `mlgate pipelines` shows its state",
        )
    return ConflictError(f"pipeline {name!r} already ran for the scheduled slot {_iso(slot)}")


def active_run(gov: Governance, name: str) -> PipelineRun | None:
    """Return the run of ``name`` marked active, if one is."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(PipelineRun).where(
            PipelineRun.project_id == project.id,
            PipelineRun.pipeline == name,
            PipelineRun.active.is_(True),
        )
        return session.execute(stmt).scalars().first()


def _close_abandoned(gov: Governance, name: str, pipeline: PipelineConfig) -> None:
    """Close an active run whose process must be gone: it outlived its timeout by far."""
    run = active_run(gov, name)
    if run is None:
        return
    limit = _aware(run.started_at) + timedelta(seconds=pipeline.timeout_seconds) + STALE_AFTER
    if datetime.now(UTC) < limit:
        return
    reason = (
        "abandoned: the process running it stopped without recording an outcome "
        f"(still marked running {STALE_AFTER} after its {pipeline.timeout_seconds:g} s timeout)"
    )
    _finish_row(gov, run.id, Outcome("failed", error=reason), "", None, give_back_slot=True)
    logger.warning("pipeline %s run %d was abandoned; closed it as failed", name, run.id)


def _execute(
    gov: Governance,
    name: str,
    run_id: int,
    pipeline: PipelineConfig,
    folder: Path,
    log_file: Path,
    stop: threading.Event | None,
) -> Outcome:
    """Run the worker process until it ends, times out or is stopped; return its outcome."""
    result_file = folder / "result.json"
    command = [sys.executable, "-m", "mlgate.pipelines.worker"]
    command += [str(gov.workspace.root), name, str(run_id), str(folder), str(result_file)]
    env = {**os.environ, "MLGATE_USER": gov.actor}

    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=gov.workspace.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches its children
        )
        ended = _wait(process, pipeline.timeout_seconds, stop)

    if ended == "timeout":
        return Outcome("failed", error=f"timed out after {pipeline.timeout_seconds:g} s; killed")
    if ended == "stopped":
        return Outcome("failed", error="stopped before it finished: mlgate was asked to stop")
    return _read_result(result_file, process.returncode)


def _wait(process: subprocess.Popen[bytes], timeout: float, stop: threading.Event | None) -> str:
    """Wait for ``process``; kill its group at the timeout or when ``stop`` is set."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            process.wait(timeout=POLL_SECONDS)
            return "ended"
        except subprocess.TimeoutExpired:
            pass
        if _is_set(stop) or time.monotonic() >= deadline:
            _kill_group(process)
            return "stopped" if _is_set(stop) else "timeout"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Ask the worker's process group to stop, then kill it if it is still there."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            if sig == signal.SIGTERM:
                os.killpg(process.pid, signal.SIGKILL)  # children it left behind
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _read_result(result_file: Path, returncode: int | None) -> Outcome:
    """Return the outcome the worker wrote, or say how it died without writing one."""
    try:
        data = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        how = (
            f"killed by signal {-returncode}"
            if returncode is not None and returncode < 0
            else f"exited with code {returncode}"
        )
        return Outcome("failed", error=f"the pipeline process {how} without an outcome")
    return Outcome(data["status"], data.get("output"), data.get("error"))


def _close(
    gov: Governance,
    run_id: int,
    outcome: Outcome,
    log_file: Path,
    seconds: float,
    interrupted: bool,
) -> PipelineRun:
    """Close run ``run_id`` with ``outcome`` and the end of its log; audit it."""
    excerpt = log_excerpt(log_file)
    run = _finish_row(gov, run_id, outcome, excerpt, log_file, interrupted, seconds)
    logger.info(
        "pipeline %s run %d %s in %.1f s: %s",
        run.pipeline,
        run.id,
        run.status,
        seconds,
        outcome.output or outcome.error,
    )
    return run


def _finish_row(
    gov: Governance,
    run_id: int,
    outcome: Outcome,
    excerpt: str,
    log_file: Path | None,
    give_back_slot: bool = False,
    seconds: float | None = None,
) -> PipelineRun:
    with gov.transaction() as session:
        run = session.get(PipelineRun, run_id)
        assert run is not None
        run.status = outcome.status
        run.output = outcome.output
        run.error = outcome.error
        run.log_excerpt = excerpt
        run.log_file = str(log_file) if log_file else run.log_file
        run.ended_at = datetime.now(UTC)
        run.active = None
        if give_back_slot:
            run.slot = None
        gov.audit(
            session,
            "pipeline.finished",
            f"pipeline:{run.pipeline}",
            {
                "run": run.id,
                "status": run.status,
                "output": run.output,
                "error": run.error,
                "seconds": None if seconds is None else round(seconds, 3),
            },
        )
    return run


def log_excerpt(log_file: Path) -> str:
    """Return the last lines of a run's log, short enough to keep in the run record."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.splitlines()[-EXCERPT_LINES:])
    return tail[-EXCERPT_CHARS:]


def pipeline_runs(gov: Governance, name: str | None = None) -> list[PipelineRun]:
    """Return the project's pipeline runs (of ``name`` only, if given), oldest first."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(PipelineRun).where(PipelineRun.project_id == project.id)
        if name is not None:
            stmt = stmt.where(PipelineRun.pipeline == name)
        return list(session.execute(stmt.order_by(PipelineRun.id)).scalars())


def run_seconds(run: PipelineRun) -> float | None:
    """Return how long a closed run took, or ``None`` while it is still going."""
    if run.ended_at is None:
        return None
    return (_aware(run.ended_at) - _aware(run.started_at)).total_seconds()


def _is_set(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _aware(moment: datetime) -> datetime:
    """Return ``moment`` with its zone; SQLite gives stored UTC moments back without one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _aware(moment).isoformat()
