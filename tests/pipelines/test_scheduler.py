"""The scheduler with a fake clock: each cron slot runs once, across schedulers too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlgate.errors import ConflictError
from mlgate.lifecycle.service import Governance
from mlgate.pipelines.runs import pipeline_runs, run_pipeline
from mlgate.pipelines.scheduler import Scheduler, due_pipelines
from tests.fixtures import Cli

BIN = Path(sys.executable).parent


def _gov(root: Path) -> Governance:
    return Governance.open(root, "alice")


def _at(hour: int, minute: int) -> datetime:
    return datetime(2030, 1, 7, hour, minute, tzinfo=UTC)


def _slots(root: Path) -> list[datetime]:
    runs = pipeline_runs(_gov(root), "nightly")
    return [r.slot.replace(tzinfo=UTC) for r in runs if r.trigger == "schedule" and r.slot]


def test_scheduler_runs_each_due_slot_exactly_once(deployed: Path) -> None:
    now = [_at(10, 5)]
    scheduler = Scheduler(lambda: _gov(deployed), clock=lambda: now[0])
    before = _slots(deployed)

    first = scheduler.run_due()
    again = scheduler.run_due()
    now[0] = _at(10, 9)
    quiet = scheduler.run_due()

    assert [(r.pipeline, r.status) for r in first] == [("nightly", "succeeded")]
    assert again == []
    assert quiet == []
    assert _slots(deployed) == [*before, _at(10, 0)]

    now[0] = _at(10, 12)
    second = Scheduler(lambda: _gov(deployed), clock=lambda: now[0])
    results: list = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.run_due()))
        for s in (scheduler, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(len(r) for r in results) == [0, 1]

    now[0] = _at(11, 45)  # the slots 10:20 to 11:40 were missed; only 11:40 is caught up
    caught_up = scheduler.run_due()

    assert [r.slot.replace(tzinfo=UTC) for r in caught_up] == [_at(11, 40)]
    assert _slots(deployed) == [*before, _at(10, 0), _at(10, 10), _at(11, 40)]
    with pytest.raises(ConflictError, match="already ran for the scheduled slot 2030-01-07T11:40"):
        run_pipeline(_gov(deployed), "nightly", "schedule", _at(11, 40))


def test_due_pipelines_only_scheduled_ones(deployed: Path) -> None:
    gov = _gov(deployed)
    latest = max(_slots(deployed), default=None)

    due = due_pipelines(gov, _at(23, 59) if latest is None else latest.replace(minute=59))

    assert [d.pipeline for d in due] == ["nightly"]
    assert due[0].slot.minute == 50


def test_pipelines_command_lists_last_and_next_run(deployed: Path, cli: Cli) -> None:
    assert run_pipeline(_gov(deployed), "fresh").status == "succeeded"

    result = cli("pipelines", cwd=deployed)

    assert result.code == 0, result.text
    lines = {line.split("│")[1].strip(): line for line in result.out.splitlines() if "│" in line}
    assert "*/10 * * * *" in lines["nightly"]
    assert lines["retrain"].split("│")[5].strip() == "-"  # not scheduled: no next run
    assert "succeeded" in lines["fresh"]
    assert "(manual)" in lines["fresh"]


def test_scheduler_stops_cleanly_on_sigterm(deployed: Path) -> None:
    env = {**os.environ, "MLGATE_USER": "alice", "COLUMNS": "200"}
    process = subprocess.Popen(
        [str(BIN / "mlgate"), "scheduler", "--poll-seconds", "1"],
        cwd=deployed,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "Scheduler running" in first
    time.sleep(1)

    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)

    assert process.returncode == 0, first + out
    assert "Scheduler stopped." in out
    assert all(r.active is None for r in pipeline_runs(_gov(deployed)))
