"""End to end: simulated production traffic through the monitor run, its alerts and notices.

Each test writes backdated prediction logs in the serving log's format, scored by the
project's stored model, and runs the real monitor against a trained project with an accepted
business case: a stable stream stays quiet, a gradual shift of one feature raises one alert
and one notice, and labels that contradict the model raise a performance alert only once
they have arrived.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from mlgate.lifecycle.service import Governance
from mlgate.monitoring.labels import ingest_labels
from mlgate.monitoring.run import monitor
from mlgate.monitoring.store import load_observations
from mlgate.registry.models import Alert, MonitorRun
from tests.monitoring.production import (
    DAY0,
    Receiver,
    labels_for,
    log_traffic,
    monitored_project,
    traffic,
    until_day,
)

DAY = until_day(1) - DAY0
WEEK = until_day(7) - DAY0


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return monitored_project(tmp_path_factory.mktemp("simulation") / "ws")


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "ws"))


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = Receiver()
    monkeypatch.setenv("MLGATE_ALERT_WEBHOOK", server.url)
    yield server
    server.close()


def _alerts(gov: Governance) -> list[Alert]:
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(Alert).where(Alert.project_id == project.id).order_by(Alert.id)
        return list(session.execute(stmt).scalars())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_stable_stream_of_a_million_predictions_raises_no_alert(
    project: Path, receiver: Receiver
) -> None:
    gov = Governance.open(project, actor="eric")
    frame = traffic(days=20, per_day=50_000, seed=2)
    log_traffic(gov, frame)

    summary = monitor(gov, until=until_day(20))

    daily = [w for w in summary.windows if w.length == "1d"]
    weekly = [w for w in summary.windows if w.length == "7d"]
    assert [w.start for w in daily] == [until_day(d) for d in range(20)]
    assert [w.start for w in weekly] == [DAY0, until_day(7)]  # the third week is not over
    assert sum(w.rows for w in daily) == 1_000_000
    assert all(w.status == "succeeded" and w.drifted == () for w in summary.windows)
    assert summary.opened == []
    assert _alerts(gov) == []
    assert receiver.received == []

    with gov.transaction() as session:
        project_id = gov.project(session).id
        drifted = load_observations(session, project_id, metric="drift.drifted")
        score_psi = load_observations(session, project_id, metric="score.psi")
    assert len([o for o in drifted if o.window_end - o.window_start == DAY]) == 60
    assert {o.subject for o in drifted} == {"x1", "x2", "region"}
    assert all(o.value == 0 for o in drifted)
    assert all(o.value is not None and o.value < 0.05 for o in score_psi)


def test_a_gradual_shift_of_one_feature_raises_one_alert_and_one_notice(
    project: Path, receiver: Receiver
) -> None:
    gov = Governance.open(project, actor="eric")
    frame = traffic(days=20, per_day=5_000, seed=3, shift=0.5)
    log_traffic(gov, frame)

    summary = monitor(gov, until=until_day(20))

    alerts = _alerts(gov)
    assert [(a.rule_id, a.subject, a.open) for a in alerts] == [("feature_drift", "x2", True)]
    # The mean moves 0.5/19 sd a day; the Wasserstein threshold (0.1 sd) is crossed on day 4.
    first = (_aware(alerts[0].first_window_start) - DAY0).days
    assert 3 <= first <= 6
    assert alerts[0].breaches == 20 - first
    assert [w.drifted for w in summary.windows if w.length == "1d"][first:] == [("x2",)] * (
        20 - first
    )
    assert len(summary.opened) == 1
    assert summary.resolved == []

    assert len(receiver.received) == 1
    notice = str(receiver.received[0])
    assert "x2" in notice
    assert "feature_drift" in notice

    with gov.transaction() as session:
        wasserstein = load_observations(
            session, gov.project(session).id, metric="drift.wasserstein_scaled", subject="x2"
        )
    last = [o for o in wasserstein if o.window_start == until_day(19)]
    reference = pd.read_csv(project / "train.csv")["x2"].to_numpy(dtype=float)
    day = frame[frame["ts"] >= until_day(19)]["x2"].to_numpy()
    expected = stats.wasserstein_distance(reference, day) / reference.std(ddof=1)
    assert last[0].value == pytest.approx(expected, rel=0.02)
    assert last[0].value == pytest.approx(0.5, abs=0.06)


def test_flipped_labels_raise_a_performance_alert_once_they_arrive(
    project: Path, receiver: Receiver
) -> None:
    gov = Governance.open(project, actor="eric")
    frame = traffic(days=14, per_day=2_000, seed=4)
    scores = log_traffic(gov, frame)

    before = monitor(gov, until=until_day(14))

    assert [w.length for w in before.windows].count("7d") == 2
    assert _alerts(gov) == []
    assert before.opened == []
    assert all(w.performance.get("roc_auc") is None for w in before.windows)

    first_week = frame.index[frame["ts"] < until_day(7)]
    second_week = frame.index[frame["ts"] >= until_day(7)]
    ingest_labels(gov, labels_for(frame, first_week))
    ingest_labels(gov, labels_for(frame, second_week, flip=True))

    after = monitor(gov, until=until_day(14))

    assert after.windows == []  # nothing new to read: only the labels changed
    assert after.caught_up > 0
    alerts = _alerts(gov)
    assert [(a.rule_id, a.metric) for a in alerts] == [("performance", "performance.roc_auc")]
    assert _aware(alerts[0].first_window_start) == until_day(7)
    assert alerts[0].threshold == pytest.approx(0.75)  # the business case's target
    assert alerts[0].first_value < 0.3

    with gov.transaction() as session:
        auc = load_observations(session, gov.project(session).id, metric="performance.roc_auc")
        runs = session.execute(select(MonitorRun.id)).all()
    weekly = {o.window_start: o for o in auc if o.window_end - o.window_start == WEEK}
    for start, rows, flip in ((DAY0, first_week, False), (until_day(7), second_week, True)):
        truth = 1 - frame.loc[rows, "y"] if flip else frame.loc[rows, "y"]
        assert weekly[start].n == len(rows)
        assert weekly[start].value == pytest.approx(roc_auc_score(truth, scores.loc[rows]))
    assert weekly[DAY0].value > 0.8
    assert weekly[until_day(7)].value < 0.3
    assert len(runs) == 16  # late values are recorded under the windows' own runs
    assert len(receiver.received) == 1
