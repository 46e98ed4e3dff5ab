"""The monitoring dashboard: charts, tables and escaping, from observations stored directly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mlgate.config import DataConfig, WorkspaceConfig
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.monitoring import dashboard
from mlgate.monitoring.dashboard import write_dashboard
from mlgate.monitoring.settings import MonitoringConfig
from mlgate.monitoring.store import Observation, record_observations
from mlgate.registry.models import Alert, KpiValue, MonitorRun

HOSTILE = "<script>alert(1)</script>"
DAY = timedelta(days=1)
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 5
THRESHOLDS = {
    "psi_threshold": 0.2,
    "wasserstein_threshold": 0.1,
    "js_threshold": 0.1,
    "missing_share_threshold": 0.1,
}
# A link or a load of anything outside the page (the SVG's xmlns names are not loads).
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?https?:|@import"""
)


def _obs(
    metric: str, subject: str, day: int, value: float | None, **details: object
) -> Observation:
    start = START + day * DAY
    estimated = metric.startswith("estimate.")
    return Observation(metric, subject, value, 800, start, start + DAY, estimated, details)


def _history() -> list[Observation]:
    """Five daily windows: x1 drifts in the last two, the hostile feature is categorical."""
    found = []
    for day in range(DAYS):
        drifting = day >= 3
        found += [
            _obs("drift.psi", "x1", day, 0.35 if drifting else 0.02),
            _obs("drift.wasserstein_scaled", "x1", day, 0.3 if drifting else 0.01),
            _obs("drift.drifted", "x1", day, 1.0 if drifting else 0.0, thresholds=THRESHOLDS),
            _obs("drift.psi", "x2", day, 0.01),
            _obs("drift.wasserstein_scaled", "x2", day, 0.02),
            _obs("drift.drifted", "x2", day, 0.0, thresholds=THRESHOLDS),
            _obs("drift.psi", HOSTILE, day, 0.03),
            _obs("drift.js_distance", HOSTILE, day, 0.04),
            _obs("drift.drifted", HOSTILE, day, 0.0, thresholds=THRESHOLDS),
            _obs(
                "score.psi",
                "score",
                day,
                0.05 * day,
                edges=[0.0, 0.25, 0.5, 0.75, 1.0],
                reference=[0.4, 0.3, 0.2, 0.1],
                current=[0.1, 0.2, 0.3, 0.4],
            ),
            _obs("estimate.roc_auc", "model", day, 0.80 - 0.01 * day),
        ]
        if day < 3:  # labels only for the first three windows
            found.append(
                _obs("performance.roc_auc", "model", day, 0.82, ci_low=0.78, ci_high=0.86)
            )
            found.append(_obs("performance.f1", "model", day, 0.7, ci_low=0.6, ci_high=0.8))
        else:  # monitored before their labels arrived
            found.append(_obs("performance.roc_auc", "model", day, None, reason="no label yet"))
    return found


def _store(root: Path, observations: list[Observation]) -> None:
    gov = Governance.open(root, "monitor")
    with gov.transaction() as session:
        project = gov.project(session)
        run = MonitorRun(
            project_id=project.id,
            window="1d",
            window_start=START + (DAYS - 1) * DAY,
            window_end=START + DAYS * DAY,
            model_version=1,
            rows=800,
            status="succeeded",
            summary="",
            trigger="manual",
            actor="monitor",
            started_at=START + DAYS * DAY,
            ended_at=START + DAYS * DAY,
        )
        session.add(run)
        session.flush()
        record_observations(session, project.id, run.id, observations)
        session.add_all(
            [
                _alert(project.id, "feature_drift", "x1", True, "x1 drifted: 0.35 above 0.5"),
                _alert(project.id, "unseen_categories", HOSTILE, None, f"{HOSTILE} unseen"),
            ]
        )
        for month, value in ((9, 0.64), (10, 0.61), (11, 0.55)):
            session.add(
                KpiValue(
                    project_id=project.id,
                    name="approval_rate",
                    period_start=date(2026, month, 1),
                    period_end=date(2026, month, 28),
                    value=value,
                    source="cli",
                    actor="owner",
                    recorded_at=START,
                )
            )


def _alert(project_id: int, rule: str, subject: str, open_: bool | None, message: str) -> Alert:
    return Alert(
        project_id=project_id,
        rule_id=rule,
        metric="drift.drifted",
        subject=subject,
        severity="high" if open_ else "medium",
        action="alert",
        open=open_,
        threshold=0.5,
        first_value=1.0,
        last_value=1.0,
        first_window_start=START + 3 * DAY,
        last_window_end=START + DAYS * DAY,
        breaches=2,
        model_version=1,
        message=message,
        notified=[],
        opened_at=START + 4 * DAY,
        resolved_at=None if open_ else START + 5 * DAY,
    )


MONITORING = {
    "rules": {
        "performance": {"threshold": 0.75},
        "estimated_performance": {"threshold": 0.75},
    },
    "kpis": [{"name": "approval_rate", "unit": "share", "target": 0.6}],
}


def _project(root: Path) -> Path:
    """A low-risk project (no model needed) with the monitoring history of :func:`_history`.

    The resolved alert was resolved by hand by bob.
    """
    config = WorkspaceConfig(
        project="watched",
        tier="low",
        owner="alice",
        data=DataConfig(target="y"),
        monitoring=MonitoringConfig(**MONITORING),
    )
    init_project(root, config)
    _store(root, _history())
    gov = Governance.open(root, "bob")
    with gov.transaction() as session:
        resolved = session.query(Alert).filter(Alert.open.is_(None)).one()
        payload = {"manual": True, "reason": "new category added upstream"}
        gov.audit(session, "alert.resolved", f"alert:{resolved.id}", payload)
    return root


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(tmp_path_factory.mktemp("dashboard") / "ws")


@pytest.fixture(scope="module")
def page(monitored: Path) -> str:
    return _page(monitored)


def _page(root: Path, name: str = "monitoring.html") -> str:
    path = write_dashboard(Governance.open(root, "alice"), root / name)
    assert path == root / name
    return path.read_text(encoding="utf-8")


def test_empty_history_says_how_to_start(workspace: Path) -> None:
    page = _page(workspace)

    assert "Nothing has been monitored yet" in page
    assert "<code>mlgate monitor</code>" in page
    assert "<svg" not in page
    assert "none deployed" in page


def test_page_draws_every_section(page: str) -> None:
    # drift: PSI (3 features), scaled Wasserstein (2), JS (1); scores: distribution and trend;
    # performance: roc_auc; KPI: approval_rate
    assert page.count("<svg") == 7
    assert page.count("</svg>") == 7
    for feature in ("x1", "x2"):
        assert f"<td>{feature}</td>" in page
    assert "roc_auc estimate (no labels)" in page
    assert '<span class="badge b-info">estimate</span>' in page
    assert "95% interval, lower" in page
    # the latest window with a measured value, not the newest one still waiting for labels
    assert "0.7800 to 0.8600" in page
    # thresholds drawn: drift (psi 0.2), score drift, the business target, the KPI target
    for chart in ("drift-1", "drift-2", "drift-3", "scores-trend", "performance-1", "kpi-1"):
        assert f'id="mon-{chart}-threshold"' in page, chart
    assert "business target 0.7500" in page
    # a metric no rule watches is not drawn, and is listed in the table
    assert "<code>f1</code> (1d)" in page
    assert "Metrics no rule watches are in the table below." in page
    assert "target 0.6000" in page


def test_drifted_windows_table_marks_the_drifted_feature(page: str) -> None:
    table = page[page.index("<caption>Drifted windows") :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(\d+)</td>", table)
    assert rows == [("x1", "2"), ("&lt;script&gt;alert(1)&lt;/script&gt;", "0"), ("x2", "0")]
    assert table.count("✗ drifted") == 2
    assert "Drifted windows (latest 5 of 5)" in table


def test_alerts_open_and_history(page: str) -> None:
    open_part = page[page.index('id="open-alerts"') : page.index('id="drift"')]
    assert "x1 drifted: 0.35 above 0.5" in open_part
    assert "&lt;script&gt;alert(1)&lt;/script&gt; unseen" not in open_part
    history = page[page.index('id="alert-history"') :]
    assert "resolved by bob: new category added upstream" in history
    assert history.count("<tr><td>") == 2


def test_hostile_names_escaped_and_nothing_external(page: str) -> None:
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert EXTERNAL.search(page) is None
    assert "<link" not in page


def test_same_history_same_page(monitored: Path, page: str) -> None:
    again = _page(monitored, "again.html")

    def without_written_at(page: str) -> str:
        return re.sub(r"<dt>Written at</dt><dd>[^<]*", "", page)

    assert "<dt>Written at</dt>" in page
    assert without_written_at(again) == without_written_at(page)


def test_newest_value_of_a_window_is_shown(tmp_path: Path) -> None:
    # Labels that arrived late recompute a window: the page shows the newer value only.
    root = _project(tmp_path / "ws")
    late = _obs("performance.roc_auc", "model", 2, 0.61, ci_low=0.55, ci_high=0.67)
    # a later window without predictions has no score distribution to draw
    silent = _obs("score.psi", "score", DAYS, None, reason="the window has no score")
    _store_more(root, [late, silent])

    page = _page(root)

    assert "0.5500 to 0.6700" in page
    assert "0.7800 to 0.8600" not in page
    assert "reference and in the window of 2026-11-05" in page


def _store_more(root: Path, observations: list[Observation]) -> None:
    gov = Governance.open(root, "monitor")
    with gov.transaction() as session:
        project = gov.project(session)
        run = session.query(MonitorRun).first()
        record_observations(session, project.id, run.id, observations)


def test_page_from_a_real_monitor_run(tmp_path: Path) -> None:
    from mlgate.monitoring.labels import ingest_labels
    from mlgate.monitoring.run import monitor
    from tests.monitoring.production import (
        labels_for,
        log_traffic,
        monitored_project,
        traffic,
        until_day,
    )

    root = monitored_project(tmp_path / "ws")
    gov = Governance.open(root, "alice")
    frame = traffic(days=8, per_day=600, seed=3, shift=1.0)
    log_traffic(gov, frame)
    ingest_labels(gov, labels_for(frame, frame.index[:3000]))
    monitor(gov, until=until_day(8))

    page = _page(root)

    # drift: PSI, scaled Wasserstein, JS distance, missing share; scores: distribution and
    # trend; performance: ROC AUC per day and per week (the default rules' windows)
    assert page.count("<svg") == 8
    # the open-ended outer bins of the score histogram
    assert re.search(r">below 0\.\d+<", page) is not None
    assert re.search(r">0\.\d+ or more<", page) is not None
    assert "roc_auc estimate (no labels)" in page
    drifted = re.search(r"<tr><td>x2</td><td class=\"num\">(\d+)</td>", page)
    assert drifted is not None
    assert int(drifted.group(1)) >= 1
    assert "feature_drift" in page[page.index('id="open-alerts"') : page.index('id="drift"')]


def test_many_features_most_drifted_drawn_all_listed(
    monitored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "MAX_CHART_FEATURES", 1)

    page = _page(monitored, "few.html")

    drift = page[page.index('id="drift"') : page.index('id="scores"')]
    # only x1, the most drifted, is drawn: PSI and scaled Wasserstein, no JS chart
    assert drift.count("<svg") == 2
    assert "<figcaption>PSI: x1; threshold 0.2000</figcaption>" in drift
    assert (
        "They draw the 1\n features with the most drifted windows; the table lists all 3." in drift
    )
    assert drift.count("<tr><td>") == 3
