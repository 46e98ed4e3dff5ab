"""Alert rules: which observations a rule judges, one alert per breach, hysteresis, thresholds."""

from __future__ import annotations

import contextlib
import shutil
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event, select

from mlgate.checks.drift import histogram, psi
from mlgate.errors import ConflictError, NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.alerts import (
    CLEAR_WINDOWS,
    AlertChanges,
    evaluate,
    list_alerts,
    open_alerts,
    resolutions,
    resolve_alert,
    resolve_threshold,
)
from mlgate.monitoring.settings import KpiSpec, Rule
from mlgate.monitoring.store import Observation
from mlgate.registry.models import AuditEvent
from tests.monitoring.alerting import DAY, PSI_RULE, START, make_project, obs, run


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("alerts") / "ws")


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    return root


def _events(gov: Governance, action: str) -> list[AuditEvent]:
    with gov.transaction() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


# -- which observations a rule judges ---------------------------------------------------------


def test_a_rule_judges_only_its_metric_and_its_subjects(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    rule = PSI_RULE.model_copy(update={"subjects": ["x1"]})

    changes = run(
        gov,
        [obs(0.5, subject="x1"), obs(0.5, subject="x2"), obs(0.9, metric="drift.js_distance")],
        [rule],
    )

    assert [(a.rule_id, a.subject, a.last_value) for a in changes.opened] == [("psi", "x1", 0.5)]
    assert changes.judged == 1


def test_a_rule_judges_only_windows_of_its_length(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    weekly = PSI_RULE.model_copy(update={"window": "7d"})

    daily = run(gov, [obs(0.5, day=d) for d in range(7)], [weekly])
    week = run(gov, [obs(0.5, length=7 * DAY)], [weekly])

    assert (daily.judged, daily.opened) == (0, [])
    assert [a.subject for a in week.opened] == ["x1"]


def test_thin_and_undefined_windows_are_counted_but_not_judged(project: Path) -> None:
    gov = Governance.open(project, actor="alice")

    changes = run(gov, [obs(0.9, n=499), obs(None, day=1), obs(0.9, day=2, n=500)])

    assert changes.thin == 2
    assert changes.judged == 1
    assert changes.opened[0].first_window_start == START + 2 * DAY


def test_a_value_on_the_right_side_of_a_below_rule_raises_nothing(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    rule = Rule(id="auc", metric="performance.roc_auc", when="below", threshold=0.7)

    changes = run(
        gov,
        [
            obs(0.72, metric="performance.roc_auc", subject="model"),
            obs(0.69, day=1, metric="performance.roc_auc", subject="model"),
        ],
        [rule],
    )

    assert [(a.first_value, a.first_window_start) for a in changes.opened] == [(0.69, START + DAY)]


# -- de-duplication and hysteresis ----------------------------------------------------------


def test_one_ongoing_breach_is_one_alert_over_many_windows(project: Path) -> None:
    gov = Governance.open(project, actor="alice")

    first = run(gov, [obs(0.3 + d / 100, day=d) for d in range(10)])
    later = [run(gov, [obs(0.5, day=d)]) for d in range(10, 40)]

    assert len(first.opened) == 1
    assert first.continued == []
    assert all(c.opened == [] and len(c.continued) == 1 for c in later)
    (alert,) = list_alerts(gov, include_resolved=True)
    assert alert.breaches == 40
    assert (alert.first_value, alert.last_value) == (0.3, 0.5)
    assert alert.last_window_end.replace(tzinfo=None) == datetime(2026, 12, 11)
    assert len(_events(gov, "alert.opened")) == 1


def test_an_alert_resolves_only_after_consecutive_clear_windows(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    hovering = [0.25, 0.1, 0.1, 0.21, 0.19, 0.1, 0.3, 0.1]  # never three clear in a row

    changes = run(gov, [obs(v, day=d) for d, v in enumerate(hovering)])
    assert (len(changes.opened), changes.resolved) == (1, [])
    assert open_alerts(gov)[0].clear_windows == 1

    clear = run(gov, [obs(0.05, day=len(hovering) + d) for d in range(CLEAR_WINDOWS - 2)])
    assert clear.resolved == []
    last = run(gov, [obs(0.05, day=len(hovering) + CLEAR_WINDOWS - 2)])

    assert [a.id for a in last.resolved] == [changes.opened[0].id]
    assert open_alerts(gov) == []
    (resolved,) = _events(gov, "alert.resolved")
    assert resolved.payload["manual"] is False
    assert resolved.payload["clear_windows"] == CLEAR_WINDOWS
    assert resolved.payload["value"] == 0.05


def test_thin_windows_neither_clear_nor_reset_an_alert(project: Path) -> None:
    gov = Governance.open(project, actor="alice")

    changes = run(
        gov,
        [obs(0.4), obs(0.1, day=1), obs(0.9, day=2, n=10), obs(0.1, day=3), obs(0.1, day=4)],
    )

    assert len(changes.opened) == len(changes.resolved) == 1
    assert changes.thin == 1


def test_a_breach_after_resolution_opens_a_new_alert(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    run(gov, [obs(0.4), *(obs(0.1, day=d) for d in range(1, 1 + CLEAR_WINDOWS))])

    again = run(gov, [obs(0.6, day=10)])

    assert len(again.opened) == 1
    alerts = list_alerts(gov, include_resolved=True)
    assert [bool(a.open) for a in alerts] == [True, False]
    assert alerts[0].first_value == 0.6


def test_a_window_evaluated_twice_is_counted_once(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    run(gov, [obs(0.4), obs(0.1, day=1)])

    again = run(gov, [obs(0.45), obs(0.1, day=1)])  # the same windows, a revised value

    (alert,) = open_alerts(gov)
    assert (alert.breaches, alert.clear_windows, alert.last_value) == (1, 1, 0.45)
    assert again.opened == again.continued == again.resolved == []


def test_windows_are_judged_in_time_order_whatever_order_they_come_in(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    days = [obs(0.5, day=d) for d in range(5)]

    run(gov, list(reversed(days)))

    (alert,) = open_alerts(gov)
    assert (alert.first_window_start.day, alert.breaches, alert.last_value) == (1, 5, 0.5)


def test_the_opening_is_audited_with_rule_subject_value_threshold_and_window(
    project: Path,
) -> None:
    gov = Governance.open(project, actor="alice")

    run(gov, [obs(0.37, day=3)])

    (opened,) = _events(gov, "alert.opened")
    assert opened.payload["rule"] == "psi"
    assert opened.payload["subject"] == "x1"
    assert opened.payload["value"] == 0.37
    assert opened.payload["threshold"] == 0.2
    assert opened.payload["window_start"] == "2026-11-04T00:00:00+00:00"
    assert opened.payload["window_end"] == "2026-11-05T00:00:00+00:00"
    assert gov.verify_audit().ok


@pytest.fixture
def shared_store(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLGATE_DATABASE_URL", store_url)
    return make_project(tmp_path / "shared")


def test_two_monitors_opening_the_same_alert_at_once_make_one(shared_store: Path) -> None:
    govs = [Governance.open(shared_store, actor=user) for user in ("alice", "bob")]
    postgres = govs[0].store.engine.dialect.name == "postgresql"
    # On PostgreSQL both look for an open alert before either inserts one, so the second
    # insert meets the unique constraint. SQLite takes the write lock when a transaction
    # begins, so there the second monitor waits and then finds the first one's alert.
    both_looked = threading.Barrier(2, timeout=20)
    results: list[AlertChanges | BaseException] = []

    def monitor(gov: Governance) -> None:
        try:
            with gov.transaction() as session:
                if postgres:
                    event.listen(session, "before_flush", lambda *_: _wait(both_looked), once=True)
                results.append(evaluate(gov, session, [obs(0.5)], [PSI_RULE], 1, START))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=monitor, args=(gov,)) for gov in govs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(r, AlertChanges) for r in results), results
    assert sorted(len(r.opened) for r in results) == [0, 1]  # type: ignore[union-attr]
    (alert,) = list_alerts(govs[0], include_resolved=True)
    assert (alert.open, alert.breaches) == (True, 1)
    assert len(_events(govs[0], "alert.opened")) == 1


def _wait(barrier: threading.Barrier) -> None:
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()


# -- thresholds ------------------------------------------------------------------------------


def test_business_case_thresholds_come_from_the_matching_success_metric(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    rule = Rule(id="auc", metric="performance.roc_auc", when="below", threshold="business_case")
    estimate = rule.model_copy(update={"id": "est", "metric": "estimate.roc_auc"})
    kpi = Rule(
        id="share",
        metric="kpi.share_of_applications_decided_without_manual_review",
        when="below",
        threshold="business_case",
    )

    assert resolve_threshold(gov, rule) == 0.75  # "ROC AUC on held-out applications"
    assert resolve_threshold(gov, estimate) == 0.75
    assert resolve_threshold(gov, kpi) == 60.0
    assert resolve_threshold(gov, rule.model_copy(update={"threshold": 0.6})) == 0.6


def test_a_kpi_rule_takes_the_target_declared_with_the_kpi(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    gov.config.monitoring.kpis.append(KpiSpec(name="loss_rate", direction="lower", target=0.04))
    rule = Rule(id="loss", metric="kpi.loss_rate", threshold="business_case")

    changes = run(
        gov, [obs(0.05, metric="kpi.loss_rate", subject="loss_rate", length=30 * DAY)], [rule]
    )

    assert resolve_threshold(gov, rule) == 0.04
    assert [a.threshold for a in changes.opened] == [0.04]  # a KPI period of any length


def test_a_rule_without_a_matching_success_metric_is_reported_not_applicable(
    project: Path,
) -> None:
    gov = Governance.open(project, actor="alice")
    rule = Rule(id="rec", metric="performance.recall", when="below", threshold="business_case")

    changes = run(gov, [obs(0.1, metric="performance.recall", subject="model")], [rule])

    assert resolve_threshold(gov, rule) is None
    (skipped,) = changes.not_applicable
    assert skipped.rule_id == "rec"
    assert "recall" in skipped.reason
    assert "ROC AUC on held-out applications" in skipped.reason
    assert changes.opened == []
    assert changes.judged == 0


# -- resolving by hand -------------------------------------------------------------------------


def test_an_ml_engineer_resolves_an_alert_with_a_reason(project: Path) -> None:
    run(Governance.open(project, actor="alice"), [obs(0.4)])
    (alert,) = open_alerts(Governance.open(project, actor="alice"))

    with pytest.raises(PolicyViolation, match="ml_engineer or validator"):
        resolve_alert(Governance.open(project, actor="dave"), alert.id, "looked at it, fine")
    with pytest.raises(ValidationError, match="at least 10 characters"):
        resolve_alert(Governance.open(project, actor="bob"), alert.id, "ok")
    with pytest.raises(NotFoundError, match=f"the alerts of project credit are: {alert.id}"):
        resolve_alert(Governance.open(project, actor="bob"), alert.id + 1, "upstream fixed")

    bob = Governance.open(project, actor="bob")
    resolved = resolve_alert(bob, alert.id, "upstream feed fixed on 3 Nov")

    assert resolved.open is None
    assert resolved.resolved_at is not None
    assert resolutions(bob)[alert.id]["reason"] == "upstream feed fixed on 3 Nov"
    assert resolutions(bob)[alert.id]["actor"] == "bob"
    with pytest.raises(ConflictError, match="already resolved"):
        resolve_alert(Governance.open(project, actor="carol"), alert.id, "a second look too")
    assert _events(bob, "alert.resolve.refused")[0].actor == "dave"


# -- the product owner's acceptance: a stable stream and a gradual shift -----------------------


def _psi_stream(shift_sd: float, rng: np.random.Generator) -> list[Observation]:
    """PSI of two features over 20 daily windows of 50,000 rows (a million rows in all).

    ``x1``'s mean moves by ``shift_sd`` reference standard deviations over the first ten
    windows and stays there; ``x2`` never moves.
    """
    reference = {name: rng.normal(size=50_000) for name in ("x1", "x2")}
    found = []
    for day in range(20):
        for name, ref in reference.items():
            mean = shift_sd * min(day, 10) / 10 if name == "x1" else 0.0
            current = rng.normal(loc=mean, size=50_000)
            ref_counts, cur_counts, _ = histogram(ref, current)
            found.append(obs(psi(ref_counts, cur_counts), day=day, subject=name, n=50_000))
    return found


def test_a_stable_stream_of_a_million_rows_raises_no_alert(project: Path) -> None:
    gov = Governance.open(project, actor="alice")
    stream = _psi_stream(0.0, np.random.default_rng(1))

    changes = run(gov, stream, [PSI_RULE.model_copy(update={"threshold": 0.1})])

    assert changes.judged == 40
    assert list_alerts(gov, include_resolved=True) == []


def test_a_gradual_half_sd_shift_raises_exactly_one_alert_for_that_feature(
    project: Path,
) -> None:
    gov = Governance.open(project, actor="alice")
    stream = _psi_stream(0.5, np.random.default_rng(2))

    for day in range(20):  # one monitor run per day
        run(gov, [o for o in stream if o.window_start == START + day * DAY], [PSI_RULE])

    (alert,) = list_alerts(gov, include_resolved=True)
    assert (alert.subject, bool(alert.open)) == ("x1", True)
    assert alert.last_value > 0.2
    assert alert.breaches >= 10  # the shift held for the last ten windows


# -- the governance report ---------------------------------------------------------------------


def test_the_report_lists_alerts_with_how_they_closed_as_monitoring_evidence(
    project: Path,
) -> None:
    from mlgate.reports.collect import collect
    from mlgate.reports.governance import completeness, render_governance

    gov = Governance.open(project, actor="alice")
    before = completeness(collect(gov))
    run(gov, [obs(0.4, subject="x1"), obs(0.3, subject="x2")])
    (x1, x2) = open_alerts(gov)
    resolve_alert(Governance.open(project, actor="carol"), x2.id, "a known holiday effect")
    run(gov, [obs(0.01, day=d) for d in range(1, 1 + CLEAR_WINDOWS)])
    run(gov, [obs(0.5, day=10)])

    data = collect(gov)
    html = render_governance(data)

    shown = [(a["subject"], a["status"], a["how"]) for a in data["monitoring_alerts"]]
    assert shown == [
        ("x1", "open", None),
        (
            "x1",
            "resolved",
            f"cleared after {CLEAR_WINDOWS} consecutive windows within the threshold",
        ),
        ("x2", "resolved", "resolved by carol: a known holiday effect"),
    ]
    assert 'id="monitoring-alerts"' in html
    assert "resolved by carol: a known holiday effect" in html
    assert 'id="alert-3"' in html

    def alerts_item(score: dict) -> bool:  # type: ignore[type-arg]
        section = next(s for s in score["sections"] if s["id"] == "monitoring")
        return next(i for i in section["items"] if i["name"] == "alerts")["present"]

    assert alerts_item(before) is False
    assert alerts_item(completeness(data)) is True
