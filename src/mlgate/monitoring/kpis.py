"""Business KPIs: the business owner's metric per period, shown beside the model's metrics.

A model earns its place through a business result (losses avoided, cases handled without
manual review), which no prediction log holds. The business owner reports it per period, from
the command line, a CSV file or the API, for a KPI declared under ``monitoring.kpis`` in
``mlgate.yaml`` (name, unit, direction, optional target). The rules, and why:

**Who reports.** The business owner, or an admin standing in (:data:`KPI_ROLES`, those of them
the policy declares): the KPI is theirs, and the people who build or run the model do not
grade it.

**Periods** are whole days, ``period_start`` to ``period_end`` inclusive (a month is
2026-11-01 to 2026-11-30). Periods of one KPI never overlap, so a value cannot be counted
twice. Sending a value already stored for the same period is a no-op (a file can be imported
again); a different value for a stored period is refused: the trail keeps what was reported.

**Evaluation.** A monitor run turns each value not yet evaluated into an observation
``kpi.<name>`` over its period (subject: the KPI's name), with the target and direction in
its details, and marks the value with the run.

Every recording is audited (``kpi.recorded``), a file import as one event with its count.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.errors import ConflictError, NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.settings import KpiSpec
from mlgate.monitoring.store import Observation
from mlgate.registry.models import KpiValue
from mlgate.tabular import readable

logger = logging.getLogger(__name__)

KPI_ROLES: tuple[str, ...] = ("business_owner", "admin")
KPI_COLUMNS: tuple[str, ...] = ("name", "period_start", "period_end", "value")
MAX_SOURCE = 200


@dataclass(frozen=True)
class KpiEntry:
    """One reported value, checked: a declared KPI, a period in order, a finite number."""

    name: str
    period_start: date
    period_end: date
    value: float
    source: str


@dataclass(frozen=True)
class KpiImport:
    """What one import did: values stored, and values already stored alike."""

    stored: int
    unchanged: int
    source: str


# -- recording -------------------------------------------------------------------------------


def record_kpi(
    gov: Governance,
    name: str,
    value: Any,
    period_start: date | str,
    period_end: date | str,
    source: str = "cli",
) -> KpiValue:
    """Record one KPI value for a period; return the stored row (the existing one if equal)."""
    entry = parse_entry(gov, name, value, period_start, period_end, source)
    roles = kpi_roles(gov)
    with gov.transaction() as session:
        _require_role(gov, session, roles)
        project_id = gov.project(session).id
        row, added = _store(session, project_id, entry, gov.actor)
        if added:
            gov.audit(session, "kpi.recorded", f"kpi:{entry.name}", _payload(entry))

    logger.info(
        "%s %s KPI %s = %g for %s..%s",
        gov.actor,
        "recorded" if added else "re-sent (unchanged)",
        entry.name,
        entry.value,
        entry.period_start,
        entry.period_end,
    )
    return row


def import_kpis(gov: Governance, path: Path) -> KpiImport:
    """Record every value of a CSV file (name, period_start, period_end, value[, source])."""
    path = Path(path)
    frame = _read_csv(path)
    entries = [
        parse_entry(
            gov,
            row["name"],
            row["value"],
            row["period_start"],
            row["period_end"],
            row.get("source") or path.name,
            where=f"{path.name} row {number}",
        )
        for number, row in enumerate(frame.to_dict("records"), start=1)
    ]
    _refuse_overlaps_within(entries, path.name)

    stored = unchanged = 0
    roles = kpi_roles(gov)
    with gov.transaction() as session:
        _require_role(gov, session, roles)
        project_id = gov.project(session).id
        for entry in entries:
            _, added = _store(session, project_id, entry, gov.actor)
            stored += added
            unchanged += not added
        gov.audit(
            session,
            "kpi.recorded",
            "kpi:import",
            {
                "source": path.name,
                "stored": stored,
                "unchanged": unchanged,
                "names": sorted({e.name for e in entries}),
            },
        )

    logger.info(
        "%s imported KPI values from %s: %d stored, %d unchanged",
        gov.actor,
        path.name,
        stored,
        unchanged,
    )
    return KpiImport(stored, unchanged, path.name)


def list_kpis(gov: Governance, name: str | None = None) -> list[KpiValue]:
    """Return the project's KPI values, by name and period, optionally of one KPI."""
    with gov.transaction() as session:
        project = gov.project(session)
        stmt = select(KpiValue).where(KpiValue.project_id == project.id)
        if name is not None:
            stmt = stmt.where(KpiValue.name == _declared(gov, name).name)
        stmt = stmt.order_by(KpiValue.name, KpiValue.period_start)
        return list(session.execute(stmt).scalars())


def parse_entry(
    gov: Governance,
    name: Any,
    value: Any,
    period_start: Any,
    period_end: Any,
    source: Any = "cli",
    where: str = "",
) -> KpiEntry:
    """Return one reported value checked against the declared KPIs; refuse anything else."""
    prefix = f"{where}: " if where else ""
    try:
        spec = _declared(gov, str(name).strip())
        start = _day(period_start, "period_start")
        end = _day(period_end, "period_end")
        number = _number(value)
    except ValidationError as exc:
        raise ValidationError(prefix + exc.message, hint=exc.hint) from None
    if end < start:
        raise ValidationError(
            f"{prefix}period_end {end} is before period_start {start}; a period runs from its "
            "start to its end, both days included"
        )
    text = str(source).strip()[:MAX_SOURCE] or "cli"
    return KpiEntry(spec.name, start, end, number, text)


def _declared(gov: Governance, name: str) -> KpiSpec:
    specs = gov.config.monitoring.kpis
    for spec in specs:
        if spec.name == name:
            return spec
    declared = ", ".join(s.name for s in specs)
    raise ValidationError(
        f"unknown KPI '{name}'; "
        + (f"the project declares {declared}" if declared else "the project declares none"),
        hint="declare it under monitoring.kpis in mlgate.yaml (name, unit, direction, target)",
    )


def _day(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{what} must be a date YYYY-MM-DD; got '{value}'") from None


def _number(value: Any) -> float:
    try:
        number = float(str(value).strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValidationError(f"the KPI value '{value}' is not a finite number")
    return number


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise NotFoundError(f"the KPI file {path} does not exist")
    with readable(path, "the KPI file"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in KPI_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; expected name, "
            f"period_start, period_end, value and optionally source, got "
            f"{', '.join(frame.columns) or 'none'}"
        )
    if frame.empty:
        raise ValidationError(f"{path.name} holds no rows; expected at least one KPI value")
    return frame


def _refuse_overlaps_within(entries: Sequence[KpiEntry], source: str) -> None:
    by_name: dict[str, list[KpiEntry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    for name, listed in by_name.items():
        ordered = sorted(listed, key=lambda e: (e.period_start, e.period_end))
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.period_start <= before.period_end and after != before:
                raise ValidationError(
                    f"{source} gives KPI {name} for overlapping periods {_period(before)} and "
                    f"{_period(after)}; periods of one KPI must not overlap"
                )


def _store(
    session: Session, project_id: int, entry: KpiEntry, actor: str
) -> tuple[KpiValue, bool]:
    """Add ``entry`` unless an equal value is stored; refuse an overlapping, different one."""
    stmt = select(KpiValue).where(
        KpiValue.project_id == project_id,
        KpiValue.name == entry.name,
        KpiValue.period_start <= entry.period_end,
        KpiValue.period_end >= entry.period_start,
    )
    for row in session.execute(stmt).scalars():
        same_period = (row.period_start, row.period_end) == (entry.period_start, entry.period_end)
        if same_period and row.value == entry.value:
            return row, False
        stored = f"{row.value:g} for {row.period_start}..{row.period_end}"
        raise ConflictError(
            f"KPI {entry.name} already has the value {stored}, which overlaps "
            f"{_period(entry)} (sent {entry.value:g}); periods of one KPI must not overlap "
            "and a reported value is not overwritten"
        )

    row = KpiValue(
        project_id=project_id,
        name=entry.name,
        period_start=entry.period_start,
        period_end=entry.period_end,
        value=entry.value,
        source=entry.source,
        actor=actor,
        recorded_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row, True


def kpi_roles(gov: Governance) -> set[str]:
    """Return the roles that report KPI values: :data:`KPI_ROLES` the policy declares."""
    return {role for role in KPI_ROLES if role in gov.policy.roles} or set(KPI_ROLES)


def _require_role(gov: Governance, session: Session, roles: set[str]) -> None:
    gov.require_role(session, roles, "kpi.record", "kpi", "report business KPI values")


def _payload(entry: KpiEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "period_start": entry.period_start.isoformat(),
        "period_end": entry.period_end.isoformat(),
        "value": entry.value,
        "source": entry.source,
    }


def _period(entry: KpiEntry) -> str:
    return f"{entry.period_start}..{entry.period_end}"


# -- evaluation ------------------------------------------------------------------------------


def pending_kpi_observations(
    session: Session,
    project_id: int,
    specs: Sequence[KpiSpec],
    targets: Mapping[str, float | None],
) -> list[tuple[KpiValue, Observation]]:
    """Return the KPI values no monitor run has evaluated yet, each with its observation.

    ``targets`` gives each KPI's target by name (its ``target`` in ``monitoring.kpis``, else
    the business case's success metric of the same name); a KPI missing from it has none.
    The window of an observation is the period: from the first day's midnight (UTC) to the
    midnight after the last day.
    """
    by_name = {spec.name: spec for spec in specs}
    stmt = (
        select(KpiValue)
        .where(KpiValue.project_id == project_id, KpiValue.run_id.is_(None))
        .order_by(KpiValue.period_start, KpiValue.name, KpiValue.id)
    )
    pending = []
    for row in session.execute(stmt).scalars():
        spec = by_name.get(row.name)
        if spec is None:
            continue  # no longer declared: left for when it is declared again
        target = targets.get(row.name, spec.target)
        details = {
            "unit": spec.unit,
            "direction": spec.direction,
            "target": target,
            "period_start": row.period_start.isoformat(),
            "period_end": row.period_end.isoformat(),
            "source": row.source,
        }
        observation = Observation(
            metric=f"kpi.{row.name}",
            subject=row.name,
            value=float(row.value),
            n=1,
            window_start=_midnight(row.period_start),
            window_end=_midnight(row.period_end + timedelta(days=1)),
            details=details,
        )
        pending.append((row, observation))
    return pending


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
