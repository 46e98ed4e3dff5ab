"""Cron slots from cronsim against a brute-force reading of the five fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlgate.errors import ValidationError
from mlgate.pipelines.cron import check_cron, latest_slot, next_slot


def _field(text: str, low: int, high: int) -> set[int]:
    """Return the values one cron field allows: '*', 'a-b', '*/n', 'a,b' and plain numbers."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            start, stop = (int(v) for v in base.split("-"))
        else:
            start = stop = int(base)
        values.update(range(start, stop + 1, int(step or 1)))
    return values


def _matches(expression: str, moment: datetime) -> bool:
    """Reference: whether ``moment`` is named; day fields OR-ed when both are restricted."""
    minute, hour, dom, month, dow = expression.split()
    weekday = (moment.weekday() + 1) % 7  # cron: Sunday is 0
    day_ok = moment.day in _field(dom, 1, 31)
    week_ok = weekday in _field(dow, 0, 6)
    days = day_ok or week_ok if dom != "*" and dow != "*" else day_ok and week_ok
    return (
        moment.minute in _field(minute, 0, 59)
        and moment.hour in _field(hour, 0, 23)
        and moment.month in _field(month, 1, 12)
        and days
    )


def _reference_next(expression: str, now: datetime) -> datetime:
    moment = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not _matches(expression, moment):
        moment += timedelta(minutes=1)
    return moment


def _reference_latest(expression: str, now: datetime) -> datetime:
    moment = now.replace(second=0, microsecond=0)
    while not _matches(expression, moment):
        moment -= timedelta(minutes=1)
    return moment


EXPRESSIONS = ["*/15 * * * *", "0 3 * * *", "30 8 * * 1-5", "0 0 1,15 * *", "5 */6 * * 0"]
MOMENTS = [
    datetime(2026, 12, 4, 21, 58, 26, tzinfo=UTC),
    datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("now", MOMENTS)
def test_slots_equal_reference(expression: str, now: datetime) -> None:
    assert next_slot(expression, now) == _reference_next(expression, now)
    assert latest_slot(expression, now) == _reference_latest(expression, now)


def test_latest_slot_includes_the_current_minute() -> None:
    now = datetime(2026, 12, 4, 3, 0, 0, tzinfo=UTC)

    assert latest_slot("0 3 * * *", now) == now
    assert next_slot("0 3 * * *", now) == now + timedelta(days=1)


def test_naive_moment_read_as_utc() -> None:
    naive = datetime(2026, 12, 4, 3, 7)

    assert latest_slot("*/5 * * * *", naive) == datetime(2026, 12, 4, 3, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 3 * *", "has 4 field\\(s\\); expected 5"),
        ("61 * * * *", "'61 \\* \\* \\* \\*' is not a valid cron expression: Bad minute"),
        ("* * * * * *", "has 6 field\\(s\\); expected 5"),
    ],
)
def test_bad_expression_named(expression: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_cron(expression)
