"""Cron schedules: checking an expression and finding its slots before and after a moment.

Expressions have the five classic fields (minute, hour, day of month, month, day of week) and
are read by ``cronsim``, a maintained parser, in UTC. A *slot* is a moment the expression names;
the scheduler runs a pipeline for the latest slot that has passed and it has not run yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from mlgate.errors import ValidationError

FIELDS = 5
_MINUTE = timedelta(minutes=1)


def check_cron(expression: str) -> str:
    """Return ``expression`` when it is a valid five-field cron expression; raise otherwise."""
    fields = expression.split()
    if len(fields) != FIELDS:
        raise ValidationError(
            f"schedule {expression!r} has {len(fields)} field(s); expected 5 (minute hour "
            "day-of-month month day-of-week), e.g. '0 3 * * *' for 03:00 UTC every day"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValidationError(
            f"schedule {expression!r} is not a valid cron expression: {exc}"
        ) from exc
    return expression


def latest_slot(expression: str, now: datetime) -> datetime:
    """Return the latest moment at or before ``now`` that ``expression`` names."""
    minute = _utc(now).replace(second=0, microsecond=0)
    return next(iter(CronSim(expression, minute + _MINUTE, reverse=True)))


def next_slot(expression: str, now: datetime) -> datetime:
    """Return the first moment strictly after ``now`` that ``expression`` names."""
    return next(iter(CronSim(expression, _utc(now))))


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive moment is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
