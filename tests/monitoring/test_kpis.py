"""Business KPI values: declared names, periods, numbers, rights, audit and evaluation."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mlgate.errors import ConflictError, PolicyViolation, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.kpis import import_kpis, list_kpis, pending_kpi_observations, record_kpi
from mlgate.registry.models import AuditEvent
from tests.monitoring.production import monitored_project

KPIS = {
    "kpis": [
        {"name": "loss_eur", "unit": "EUR", "direction": "lower", "target": 50000},
        {"name": "auto_share", "unit": "%", "direction": "higher"},
    ]
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = monitored_project(tmp_path_factory.mktemp("kpis") / "ws", KPIS)
    gov = Governance.open(root, actor="alice")
    gov.add_member("olga", "business_owner")
    gov.add_member("dave", "data_scientist")
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base, root)
    return root


def _gov(root: Path, user: str = "olga") -> Governance:
    return Governance.open(root, actor=user)


def test_a_value_is_recorded_for_a_period_and_audited(project: Path) -> None:
    gov = _gov(project)

    row = record_kpi(gov, "loss_eur", "41250.5", "2026-11-01", "2026-11-30")

    assert (row.name, row.value, row.period_start, row.period_end, row.actor) == (
        "loss_eur",
        41250.5,
        date(2026, 11, 1),
        date(2026, 11, 30),
        "olga",
    )
    with gov.transaction() as session:
        (event,) = session.execute(
            select(AuditEvent).where(AuditEvent.action == "kpi.recorded")
        ).scalars()
    assert event.payload["value"] == 41250.5
    assert event.subject == "kpi:loss_eur"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("churn", 1, "2026-11-01", "2026-11-30"),
            "unknown KPI 'churn'; the project declares loss_eur, auto_share",
        ),
        (
            ("loss_eur", 1, "2026-11-30", "2026-11-01"),
            "period_end 2026-11-01 is before period_start 2026-11-30",
        ),
        (
            ("loss_eur", "a lot", "2026-11-01", "2026-11-30"),
            "the KPI value 'a lot' is not a finite number",
        ),
        (("loss_eur", "nan", "2026-11-01", "2026-11-30"), "'nan' is not a finite number"),
        (("loss_eur", 1, "November", "2026-11-30"), "period_start must be a date YYYY-MM-DD"),
    ],
)
def test_bad_values_are_refused_with_the_reason(
    project: Path, args: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        record_kpi(_gov(project), *args)  # type: ignore[arg-type]
    assert list_kpis(_gov(project)) == []


def test_periods_of_one_kpi_never_overlap_and_equal_values_are_a_no_op(project: Path) -> None:
    gov = _gov(project)
    record_kpi(gov, "loss_eur", 100, "2026-11-01", "2026-11-30")
    record_kpi(gov, "auto_share", 60, "2026-11-15", "2026-11-20")  # another KPI may

    again = record_kpi(gov, "loss_eur", 100, "2026-11-01", "2026-11-30")
    with pytest.raises(ConflictError, match=r"already has the value 100 for 2026-11-01\.\."):
        record_kpi(gov, "loss_eur", 90, "2026-11-30", "2026-12-31")
    with pytest.raises(ConflictError, match="a reported value is not overwritten"):
        record_kpi(gov, "loss_eur", 90, "2026-11-01", "2026-11-30")

    assert again.value == 100
    assert [(v.name, v.value) for v in list_kpis(gov)] == [("auto_share", 60), ("loss_eur", 100)]


def test_only_the_business_owner_or_an_admin_reports_kpis(project: Path) -> None:
    record_kpi(_gov(project, "alice"), "loss_eur", 1, "2026-10-01", "2026-10-31")

    with pytest.raises(PolicyViolation, match="dave may not report business KPI values"):
        record_kpi(_gov(project, "dave"), "loss_eur", 1, "2026-11-01", "2026-11-30")


def test_a_csv_import_is_checked_whole_and_stored_in_one_event(project: Path) -> None:
    path = project / "kpis.csv"
    path.write_text(
        "name,period_start,period_end,value,source\n"
        "loss_eur,2026-10-01,2026-10-31,52000,finance ledger\n"
        "loss_eur,2026-11-01,2026-11-30,48000,\n"
        "auto_share,2026-11-01,2026-11-30,71.5,ops report\n"
    )
    gov = _gov(project)

    first = import_kpis(gov, path)
    again = import_kpis(gov, path)

    assert (first.stored, first.unchanged, again.stored, again.unchanged) == (3, 0, 0, 3)
    sources = {(v.name, v.period_start.month): v.source for v in list_kpis(gov)}
    assert sources[("loss_eur", 10)] == "finance ledger"
    assert sources[("loss_eur", 11)] == "kpis.csv"
    with gov.transaction() as session:
        events = list(
            session.execute(select(AuditEvent).where(AuditEvent.subject == "kpi:import"))
            .scalars()
            .all()
        )
    assert [e.payload["stored"] for e in events] == [3, 0]


def test_a_csv_with_a_bad_row_or_overlapping_rows_stores_nothing(project: Path) -> None:
    bad = project / "bad.csv"
    bad.write_text(
        "name,period_start,period_end,value\n"
        "loss_eur,2026-10-01,2026-10-31,52000\n"
        "loss_eur,2026-11-01,2026-11-30,lots\n"
    )
    overlapping = project / "overlap.csv"
    overlapping.write_text(
        "name,period_start,period_end,value\n"
        "loss_eur,2026-10-01,2026-10-31,52000\n"
        "loss_eur,2026-10-15,2026-11-15,1\n"
    )
    missing = project / "missing.csv"
    missing.write_text("name,value\nloss_eur,1\n")

    with pytest.raises(ValidationError, match="bad.csv row 2: the KPI value 'lots'"):
        import_kpis(_gov(project), bad)
    with pytest.raises(ValidationError, match="overlapping periods 2026-10-01..2026-10-31"):
        import_kpis(_gov(project), overlapping)
    with pytest.raises(ValidationError, match="lacks the column.s. period_start, period_end"):
        import_kpis(_gov(project), missing)
    assert list_kpis(_gov(project)) == []


def test_pending_values_become_observations_over_their_period(project: Path) -> None:
    gov = _gov(project)
    record_kpi(gov, "loss_eur", 48000, "2026-11-01", "2026-11-30")
    record_kpi(gov, "auto_share", 71.5, "2026-11-01", "2026-11-30")

    with gov.transaction() as session:
        pending = pending_kpi_observations(
            session,
            gov.project(session).id,
            gov.config.monitoring.kpis,
            {"loss_eur": 50000.0, "auto_share": 0.7},
        )

    found = {obs.metric: obs for _, obs in pending}
    loss = found["kpi.loss_eur"]
    assert (loss.subject, loss.value, loss.estimated) == ("loss_eur", 48000.0, False)
    assert loss.window_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert loss.window_end == datetime(2026, 12, 1, tzinfo=UTC)
    assert loss.details["target"] == 50000.0
    assert loss.details["direction"] == "lower"
    assert found["kpi.auto_share"].details["target"] == 0.7
