"""Which calendar dates are "today" somewhere on Earth.

People type dates in their own time zone, while the server's clock runs on UTC. A due date
of "today" typed in San Francisco at 17:00 is already "yesterday" in UTC, and an acceptance
signed in Sydney at 08:00 is dated "tomorrow" in UTC. Date checks therefore accept any date
that is current in some time zone, from UTC-12 to UTC+14, instead of the UTC date alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EARLIEST_OFFSET = timedelta(hours=-12)
LATEST_OFFSET = timedelta(hours=14)


def earliest_today(now: datetime | None = None) -> date:
    """The calendar date in the time zone furthest behind UTC."""
    return ((now or datetime.now(UTC)) + EARLIEST_OFFSET).date()


def latest_today(now: datetime | None = None) -> date:
    """The calendar date in the time zone furthest ahead of UTC."""
    return ((now or datetime.now(UTC)) + LATEST_OFFSET).date()
