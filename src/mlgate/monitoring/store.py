"""Observations of a monitor run as the registry keeps them, and reading them back as series.

Every computed value (a feature's PSI in a window, the estimated ROC AUC of a day, a KPI of a
month) becomes one :class:`Observation`. Rules, alerts, the dashboard and the report all read
the same rows, so what an alert says and what the chart shows cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.registry.models import MonitorMetric


@dataclass(frozen=True)
class Observation:
    """One value of ``metric`` for ``subject`` over ``[window_start, window_end)``.

    ``value`` is ``None`` when the metric is undefined for the window (one class only among the
    labels, an all-missing feature); ``details`` says why, and holds the figures behind the
    value (bin counts, confidence bounds) that charts need.
    """

    metric: str
    subject: str
    value: float | None
    n: int
    window_start: datetime
    window_end: datetime
    estimated: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def record_observations(
    session: Session, project_id: int, run_id: int, observations: Iterable[Observation]
) -> int:
    """Add ``observations`` to the session as rows of run ``run_id``; return how many.

    A NaN or infinite value is stored as ``None``; the caller's ``details`` should say why.
    """
    count = 0
    for obs in observations:
        session.add(
            MonitorMetric(
                project_id=project_id,
                run_id=run_id,
                window_start=obs.window_start,
                window_end=obs.window_end,
                metric=obs.metric,
                subject=obs.subject,
                value=_finite_or_none(obs.value),
                n=int(obs.n),
                estimated=obs.estimated,
                details=dict(obs.details),
            )
        )
        count += 1
    return count


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every moment mlgate stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def load_observations(
    session: Session,
    project_id: int,
    metric: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
) -> list[Observation]:
    """Return the project's observations, oldest window first, optionally filtered.

    A window's metric may be computed again later (labels that arrived after the first run
    change its performance); only the newest value of each metric, subject and window is kept.
    """
    stmt = select(MonitorMetric).where(MonitorMetric.project_id == project_id)
    if metric is not None:
        stmt = stmt.where(MonitorMetric.metric == metric)
    if subject is not None:
        stmt = stmt.where(MonitorMetric.subject == subject)
    if since is not None:
        stmt = stmt.where(MonitorMetric.window_start >= since)
    stmt = stmt.order_by(MonitorMetric.id)

    newest: dict[tuple[str, str, datetime, datetime], MonitorMetric] = {}
    for row in session.execute(stmt).scalars():
        newest[(row.metric, row.subject, row.window_start, row.window_end)] = row
    rows = sorted(newest.values(), key=lambda r: (r.window_start, r.metric, r.subject))
    return [
        Observation(
            metric=row.metric,
            subject=row.subject,
            value=row.value,
            n=row.n,
            window_start=_aware(row.window_start),
            window_end=_aware(row.window_end),
            estimated=row.estimated,
            details=row.details or {},
        )
        for row in rows
    ]
