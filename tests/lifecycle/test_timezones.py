from datetime import UTC, date, datetime

import pytest

from mlgate.lifecycle.timezones import earliest_today, latest_today


@pytest.mark.parametrize(
    ("now", "earliest", "latest"),
    [
        (datetime(2026, 12, 5, 0, 10, tzinfo=UTC), date(2026, 12, 4), date(2026, 12, 5)),
        (datetime(2026, 12, 5, 11, 59, tzinfo=UTC), date(2026, 12, 4), date(2026, 12, 6)),
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), date(2026, 12, 5), date(2026, 12, 6)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2026, 12, 31), date(2027, 1, 1)),
    ],
)
def test_today_spans_the_zones_from_utc_minus_12_to_utc_plus_14(
    now: datetime, earliest: date, latest: date
) -> None:
    assert (earliest_today(now), latest_today(now)) == (earliest, latest)
