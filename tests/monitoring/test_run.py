"""The monitor run: which windows it takes, once each, with which model, and what it records."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from mlgate.errors import PolicyViolation
from mlgate.lifecycle.deploy import record_deployment
from mlgate.lifecycle.models import get_model_version, train_model
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.kpis import record_kpi
from mlgate.monitoring.labels import ingest_labels
from mlgate.monitoring.run import _Context, monitor, monitor_history, window_lengths
from mlgate.monitoring.settings import MonitoringConfig
from mlgate.pipelines.scheduler import Scheduler
from mlgate.registry.models import AuditEvent, Deployment, KpiValue, MonitorMetric, MonitorRun
from mlgate.serving.predictions import PredictionLog, prediction_log_folder
from tests.monitoring.production import (
    DAY0,
    FEATURES,
    labels_for,
    log_traffic,
    monitored_project,
    set_monitoring,
    traffic,
    until_day,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return monitored_project(tmp_path_factory.mktemp("run") / "ws")


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "ws"))


def _eric(root: Path) -> Governance:
    return Governance.open(root, actor="eric")


def _runs(gov: Governance) -> list[MonitorRun]:
    with gov.transaction() as session:
        return list(session.execute(select(MonitorRun).order_by(MonitorRun.id)).scalars())


def _audit(gov: Governance, action: str) -> list[AuditEvent]:
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_each_complete_window_is_monitored_once_in_time_order_and_audited(
    project: Path,
) -> None:
    gov = _eric(project)
    frame = traffic(days=9, per_day=600, seed=5)
    log_traffic(gov, frame)
    ticks: list[tuple[int, int]] = []

    summary = monitor(
        gov, until=until_day(9), progress=lambda done, total: ticks.append((done, total))
    )

    # Daily windows (the config) and weekly ones (the performance rule): 9 + 1, by end.
    assert window_lengths(gov, _Context(gov, "manual").rules) == ["1d", "7d"]
    assert [(w.length, w.start) for w in summary.windows] == [
        *[("1d", until_day(d)) for d in range(7)],
        ("7d", DAY0),
        ("1d", until_day(7)),
        ("1d", until_day(8)),
    ]
    assert ticks == [(done, 10) for done in range(1, 11)]
    assert [w.rows for w in summary.windows] == [600] * 7 + [4200, 600, 600]
    assert {w.status for w in summary.windows} == {"succeeded"}
    assert {w.model_version for w in summary.windows} == {1}

    runs = _runs(gov)
    assert [(r.window, _aware(r.window_start), r.rows, r.status) for r in runs] == [
        (w.length, w.start, w.rows, "succeeded") for w in summary.windows
    ]
    assert all(r.trigger == "manual" and r.actor == "eric" and r.ended_at for r in runs)
    events = _audit(gov, "monitor.run")
    assert [e.payload["run"] for e in events] == [r.id for r in runs]
    assert events[0].payload["rows"] == 600
    assert events[0].payload["observations"] > 0
    with gov.transaction() as session:
        metrics = session.execute(select(MonitorMetric.run_id).distinct()).scalars().all()
    assert sorted(metrics) == [r.id for r in runs]

    again = monitor(gov, until=until_day(9))
    assert again.windows == []
    assert len(_runs(gov)) == 10
    history = monitor_history(gov, limit=3)
    assert [(h.window, _aware(h.window_start)) for h in history] == [
        ("1d", until_day(8)),
        ("1d", until_day(7)),
        ("1d", until_day(6)),
    ]


def test_until_stops_at_the_windows_ended_by_then(project: Path) -> None:
    gov = _eric(project)
    log_traffic(gov, traffic(days=4, per_day=600, seed=6))

    first = monitor(gov, until=until_day(2) + timedelta(hours=5))
    second = monitor(gov, until=until_day(4))

    assert [w.start for w in first.windows] == [DAY0, until_day(1)]
    assert [w.start for w in second.windows] == [until_day(2), until_day(3)]


def test_a_day_without_predictions_is_recorded_with_no_rows(project: Path) -> None:
    gov = _eric(project)
    frame = traffic(days=3, per_day=600, seed=7)
    log_traffic(gov, frame[frame["ts"].dt.floor("D") != until_day(1)])

    summary = monitor(gov, until=until_day(3))

    assert [(w.rows, w.status) for w in summary.windows] == [
        (600, "succeeded"),
        (0, "succeeded"),
        (600, "succeeded"),
    ]
    assert summary.windows[1].summary == "no predictions logged"
    silent = _runs(gov)[1]
    assert (silent.rows, silent.summary, silent.model_version) == (0, "no predictions logged", 1)


def test_a_window_that_cannot_be_read_fails_alone_and_is_tried_again(project: Path) -> None:
    gov = _eric(project)
    log_traffic(gov, traffic(days=3, per_day=600, seed=8))
    # A client logged text where the score belongs: that day cannot be scored, the others can.
    day = prediction_log_folder(gov) / f"date={until_day(1):%Y-%m-%d}"
    path = next(day.glob("part-*.parquet"))
    good = pq.read_table(path)
    broken = good.to_pandas()
    broken["score"] = "high"
    broken.to_parquet(path, index=False)

    summary = monitor(gov, until=until_day(3))

    assert [w.status for w in summary.windows] == ["succeeded", "failed", "succeeded"]
    failed = summary.failed[0]
    assert "'high'" in failed.summary  # the reason names the value that could not be read
    runs = _runs(gov)
    assert (runs[1].status, runs[1].summary) == ("failed", failed.summary)
    with gov.transaction() as session:
        stored = session.execute(
            select(MonitorMetric).where(MonitorMetric.run_id == runs[1].id)
        ).all()
    assert stored == []  # nothing of the failed window was half-recorded
    statuses = [e.payload["status"] for e in _audit(gov, "monitor.run")]
    assert statuses == ["succeeded", "failed", "succeeded"]

    pq.write_table(good, path)  # the file is repaired: the next run takes the day again
    retried = monitor(gov, until=until_day(3))

    assert [(w.start, w.status, w.run_id) for w in retried.windows] == [
        (until_day(1), "succeeded", runs[1].id)
    ]
    assert [(r.status, r.rows) for r in _runs(gov)] == [("succeeded", 600)] * 3


def test_two_monitors_never_summarise_one_window_twice(project: Path) -> None:
    log_traffic(_eric(project), traffic(days=1, per_day=600, seed=9))
    first, second = _Context(_eric(project), "manual"), _Context(_eric(project), "schedule")
    window = first.pending_windows(until_day(1))[0]
    assert second.pending_windows(until_day(1)) == [window]

    done, _ = first.monitor_window(window)
    skipped, changes = second.monitor_window(window)

    assert done.status == "succeeded"
    assert (skipped.status, skipped.run_id, changes) == ("skipped", None, None)
    assert len(_runs(_eric(project))) == 1


def test_a_window_left_running_by_a_killed_monitor_is_taken_over_after_an_hour(
    project: Path,
) -> None:
    from mlgate.monitoring.run import ABANDONED_AFTER

    log_traffic(_eric(project), traffic(days=2, per_day=600, seed=10))
    killed = _Context(_eric(project), "manual")
    window = killed.pending_windows(until_day(1))[0]
    run_id = killed._claim(window)  # claimed, then the process dies before finishing
    fresh = _Context(_eric(project), "manual")

    assert fresh.monitor_window(window)[0].status == "skipped"  # it may still be working

    with _eric(project).transaction() as session:
        run = session.get(MonitorRun, run_id)
        run.started_at = datetime.now(UTC) - ABANDONED_AFTER - timedelta(minutes=1)
    summary = monitor(_eric(project), until=until_day(1))

    assert [(w.run_id, w.status, w.rows) for w in summary.windows] == [(run_id, "succeeded", 600)]


def test_each_window_is_judged_with_the_model_that_served_it(project: Path) -> None:
    alice = Governance.open(project, actor="alice")
    train_model(alice)
    record_deployment(alice, get_model_version(alice, 1), "rest", "http://127.0.0.1:1/v1")
    record_deployment(alice, get_model_version(alice, 2), "rest", "http://127.0.0.1:1/v2")
    with alice.transaction() as session:  # as if v1 served from day 0 and v2 from day 2
        first, second = session.execute(select(Deployment).order_by(Deployment.id)).scalars()
        first.created_at, first.ended_at = DAY0, until_day(2)
        second.created_at = until_day(2)
    frame = traffic(days=3, per_day=600, seed=10)
    log_traffic(alice, frame[frame["ts"] < until_day(2)], version=1)
    log_traffic(alice, frame[frame["ts"] >= until_day(2)], version=2)

    summary = monitor(_eric(project), until=until_day(3))

    assert [w.model_version for w in summary.windows] == [1, 1, 2]
    assert [r.model_version for r in _runs(alice)] == [1, 1, 2]


def test_only_the_roles_that_watch_a_model_may_run_monitoring(project: Path) -> None:
    auditor = Governance.open(project, actor="alice")
    auditor.add_member("audrey", "auditor")

    with pytest.raises(PolicyViolation, match="audrey may not run monitoring"):
        monitor(Governance.open(project, actor="audrey"))

    assert [e.actor for e in _audit(auditor, "monitor.run.refused")] == ["audrey"]


def test_the_scheduler_monitors_once_per_slot(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gov = _eric(project)
    set_monitoring(project, {"schedule": "0 6 * * *"})
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    log_traffic(gov, traffic(days=2, per_day=600, seed=11, start=today - timedelta(days=2)))
    scheduler = Scheduler(lambda: _eric(project), clock=lambda: now)
    caplog.set_level("INFO", logger="mlgate.pipelines.scheduler")

    scheduler.run_due()
    scheduler.run_due()  # the same slot: not again
    Scheduler(lambda: _eric(project), clock=lambda: now).run_due()  # nor after a restart

    daily = [(r.trigger, _aware(r.window_start)) for r in _runs(gov) if r.window == "1d"]
    assert daily == [("schedule", today - timedelta(days=2)), ("schedule", today - timedelta(1))]
    assert caplog.text.count("monitoring is due") == 1
    scheduler.clock = lambda: now + timedelta(days=1)
    scheduler.run_due()
    assert caplog.text.count("monitoring is due") == 2


def test_a_schedule_must_be_a_cron_expression() -> None:
    with pytest.raises(PydanticValidationError, match="expected 5"):
        MonitoringConfig(schedule="every morning")
    assert MonitoringConfig(schedule="30 5 * * 1-5").schedule == "30 5 * * 1-5"


def test_the_simulated_log_has_the_serving_log_format(project: Path, tmp_path: Path) -> None:
    """The simulation writes the files the server writes: same columns, same types."""
    gov = _eric(project)
    frame = traffic(days=1, per_day=5, seed=13)
    log_traffic(gov, frame)
    served = PredictionLog(tmp_path / "served", sensitive=["group"])
    served.record(
        [f"q{i}" for i in range(5)],
        1,
        frame[[*FEATURES, "group"]].reset_index(drop=True),
        frame["y"].to_numpy(),
        frame["x1"].to_numpy(),
        1.0,
        "rest",
    )
    served.close()

    real = pq.read_schema(next((tmp_path / "served").glob("date=*/part-*.parquet")))
    ours = pq.read_schema(next(prediction_log_folder(gov).glob("date=*/part-*.parquet")))
    assert [(f.name, str(f.type)) for f in ours] == [(f.name, str(f.type)) for f in real]
    assert pd.read_parquet(prediction_log_folder(gov)).shape[0] == 5


def test_late_labels_and_kpi_values_are_evaluated_once(project: Path) -> None:
    set_monitoring(
        project,
        {
            "kpis": [{"name": "approval_rate", "unit": "%", "target": 50}],
            "extra_rules": [
                {
                    "id": "approval_kpi",
                    "metric": "kpi.approval_rate",
                    "when": "below",
                    "threshold": "business_case",
                    "min_samples": 1,
                }
            ],
        },
    )
    gov = _eric(project)
    frame = traffic(days=2, per_day=600, seed=14)
    log_traffic(gov, frame)
    monitor(gov, until=until_day(2))
    record_kpi(
        Governance.open(project, actor="alice"), "approval_rate", 41.0, "2026-10-01", "2026-10-02"
    )
    ingest_labels(gov, labels_for(frame, frame.index[frame["ts"] < until_day(1)]))

    late = monitor(gov, until=until_day(2))
    again = monitor(gov, until=until_day(2))

    assert (late.windows, late.kpis) == ([], 1)
    assert late.caught_up > 0  # the first day's performance, now with its labels
    assert [(a.rule_id, a.subject, a.threshold) for a in late.opened] == [
        ("approval_kpi", "approval_rate", 50.0)
    ]
    with gov.transaction() as session:
        [value] = session.execute(select(KpiValue)).scalars()
    assert value.run_id == _runs(gov)[-1].id  # the newest run evaluated it
    assert (again.caught_up, again.kpis, again.opened) == (0, 0, [])
    [checked] = _audit(gov, "monitor.late")
    assert (checked.payload["kpi_values"], checked.payload["windows_checked"]) == (1, 2)


def test_claims_and_retries_hold_on_every_store(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_DATABASE_URL", store_url)
    root = monitored_project(tmp_path / "ws")
    log_traffic(_eric(root), traffic(days=1, per_day=600, seed=15))
    first, second = _Context(_eric(root), "manual"), _Context(_eric(root), "schedule")
    [window] = first.pending_windows(until_day(1))

    done, _ = first.monitor_window(window)
    skipped, _ = second.monitor_window(window)
    with first.gov.transaction() as session:  # as if the window had failed
        session.get(MonitorRun, done.run_id).status = "failed"
    retried, _ = second.monitor_window(window)
    late, _ = first.monitor_window(window)

    assert (done.status, skipped.status) == ("succeeded", "skipped")
    assert (retried.status, retried.run_id, late.status) == ("succeeded", done.run_id, "skipped")
    assert [(r.status, r.trigger) for r in _runs(_eric(root))] == [("succeeded", "schedule")]
