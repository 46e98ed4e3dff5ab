"""The scheduler: runs each scheduled pipeline once for every cron slot that comes due.

At each poll the scheduler takes, for every pipeline with a ``schedule``, the latest slot that
has passed. When no scheduled run of that pipeline stands for that slot or a later one, the
pipeline is due and runs for it. Only the latest slot is ever run, so a scheduler that was down
for a week catches up one missed run, not seven; a pipeline that has never run on schedule runs
its latest slot at the first poll. Due pipelines run one after another.

Monitoring (``monitoring.schedule`` in mlgate.yaml) is due the same way: once per slot, after
the pipelines. Its windows are claimed one by one in the store, so two schedulers never
monitor a window twice even when both find the slot due.

The slot is recorded with the run and is unique per pipeline in the store, so two schedulers on
one team database run each slot once between them: the second one's claim is refused and it
moves on. A SIGTERM (or Ctrl-C) stops the loop: a running worker is stopped, its run recorded as
failed and its slot given back, so the next scheduler to start runs it again.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from mlgate.errors import ConflictError, GovernanceError
from mlgate.lifecycle.service import Governance
from mlgate.pipelines.cron import latest_slot
from mlgate.pipelines.runs import run_pipeline
from mlgate.registry.models import PipelineRun

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current moment in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Due:
    """A pipeline whose latest slot has not been run yet."""

    pipeline: str
    slot: datetime


def due_pipelines(gov: Governance, now: datetime) -> list[Due]:
    """Return the scheduled pipelines due at ``now``, each with the slot to run it for."""
    last = _last_slots(gov)
    due = []
    for name, pipeline in gov.config.pipelines.items():
        if pipeline.schedule is None:
            continue
        slot = latest_slot(pipeline.schedule, now)
        previous = last.get(name)
        if previous is None or slot > previous:
            due.append(Due(name, slot))
    return due


def _last_slots(gov: Governance) -> dict[str, datetime]:
    """Return each pipeline's latest slot that a run stands for."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = (
            select(PipelineRun.pipeline, func.max(PipelineRun.slot))
            .where(PipelineRun.project_id == project.id, PipelineRun.slot.is_not(None))
            .group_by(PipelineRun.pipeline)
        )
        rows = session.execute(stmt).all()
    return {name: _aware(slot) for name, slot in rows}


class Scheduler:
    """Runs due pipelines at every poll until it is stopped.

    ``open_governance`` is called at each poll, so an edited mlgate.yaml (a new schedule, a
    new pipeline) counts from the next poll on. ``clock`` tells the time; tests pass a fake one.
    """

    def __init__(
        self,
        open_governance: Callable[[], Governance],
        clock: Clock = utc_now,
        runner: Callable[..., Any] = run_pipeline,
    ) -> None:
        self.open_governance = open_governance
        self.clock = clock
        self.runner = runner
        self.stop = threading.Event()
        self.monitored_slot: datetime | None = None  # the last monitoring slot run here

    def run_due(self) -> list[PipelineRun]:
        """Run every pipeline due now, one after another; return the runs made."""
        gov = self.open_governance()
        due = due_pipelines(gov, self.clock())
        runs = []
        for item in due:
            if self.stop.is_set():
                break
            run = self._run_one(gov, item)
            if run is not None:
                runs.append(run)
        if not self.stop.is_set():
            self._monitor_if_due(gov)
        return runs

    def _monitor_if_due(self, gov: Governance) -> None:
        """Run monitoring once for its latest slot, unless it ran for that slot already."""
        from mlgate.monitoring.run import monitor, monitored_on_schedule_since

        schedule = gov.config.monitoring.schedule
        if schedule is None:
            return
        slot = latest_slot(schedule, self.clock())
        if self.monitored_slot is not None and slot <= self.monitored_slot:
            return
        if self.monitored_slot is None and monitored_on_schedule_since(gov, slot):
            self.monitored_slot = slot
            return
        logger.info("monitoring is due for slot %s", slot.isoformat())
        self.monitored_slot = slot
        try:
            summary = monitor(gov, trigger="schedule")
        except GovernanceError as exc:
            logger.warning("could not run monitoring: %s", exc.message)
            return
        logger.info(
            "monitoring for slot %s: %d window(s), %d alert(s) opened",
            slot.isoformat(),
            len(summary.windows),
            len(summary.opened),
        )

    def _run_one(self, gov: Governance, item: Due) -> PipelineRun | None:
        logger.info("pipeline %s is due for slot %s", item.pipeline, item.slot.isoformat())
        try:
            return self.runner(gov, item.pipeline, "schedule", item.slot, self.stop)
        except ConflictError as exc:  # running already, or another scheduler took the slot
            logger.info("skipped pipeline %s: %s", item.pipeline, exc.message)
        except GovernanceError as exc:
            logger.warning("could not start pipeline %s: %s", item.pipeline, exc.message)
        return None

    def serve(self, poll_seconds: float) -> None:
        """Poll every ``poll_seconds`` until :attr:`stop` is set (by SIGTERM, for one)."""
        logger.info("scheduler started; polling every %g s", poll_seconds)
        while not self.stop.is_set():
            try:
                self.run_due()
            except GovernanceError as exc:  # a broken mlgate.yaml must not end the loop
                logger.warning("scheduler poll failed: %s", exc.message)
            self.stop.wait(poll_seconds)
        logger.info("scheduler stopped")

    @contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """Set :attr:`stop` on SIGTERM and SIGINT while inside; restore the handlers after."""

        def request_stop(signum: int, _frame: Any) -> None:
            logger.info("received %s; stopping", signal.Signals(signum).name)
            self.stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
