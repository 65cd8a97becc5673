"""When digests are due, what they cover, how far back a catch-up goes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from portal.digests.models import DAILY, WEEKLY
from portal.digests.periods import Schedule, daily_window, parse_weekly, weekly_window

SETTINGS = {
    "qzt.digests.timezone": "Asia/Shanghai",
    "qzt.digests.daily_at": "08:00",
    "qzt.digests.weekly_at": "mon 08:30",
    "qzt.digests.catch_up_days": 7,
}
SCHEDULE = Schedule.from_settings(SETTINGS)


def beijing(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SCHEDULE.tz).astimezone(UTC)


def test_the_daily_digest_of_a_day_is_due_from_its_send_time():
    assert SCHEDULE.latest_due(DAILY, beijing(2026, 3, 2, 7, 59)) == date(2026, 3, 1)
    assert SCHEDULE.latest_due(DAILY, beijing(2026, 3, 2, 8, 0)) == date(2026, 3, 2)
    assert SCHEDULE.latest_due(DAILY, beijing(2026, 3, 2, 23, 59)) == date(2026, 3, 2)
    # 08:00 in Beijing is midnight UTC: the UTC date is not the period
    assert SCHEDULE.send_time(DAILY, date(2026, 3, 2)) == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def test_the_weekly_digest_is_due_on_mondays_at_half_past_eight():
    assert SCHEDULE.latest_due(WEEKLY, beijing(2026, 3, 2, 8, 29)) == date(2026, 2, 23)
    assert SCHEDULE.latest_due(WEEKLY, beijing(2026, 3, 2, 8, 30)) == date(2026, 3, 2)
    assert SCHEDULE.latest_due(WEEKLY, beijing(2026, 3, 8, 23, 0)) == date(2026, 3, 2)  # Sunday
    assert SCHEDULE.latest_due(WEEKLY, beijing(2026, 3, 9, 9, 0)) == date(2026, 3, 9)


def test_pending_periods_catch_up_after_downtime_but_not_forever():
    now = beijing(2026, 3, 10, 9, 0)
    assert SCHEDULE.pending(DAILY, now, None) == [date(2026, 3, 10)]  # a fresh install
    assert SCHEDULE.pending(DAILY, now, date(2026, 3, 10)) == []  # done today
    assert SCHEDULE.pending(DAILY, now, date(2026, 3, 7)) == [
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    # down for three weeks: only the last seven days are still worth sending
    assert SCHEDULE.pending(DAILY, now, date(2026, 2, 15)) == [
        date(2026, 3, d) for d in range(3, 11)
    ]
    assert SCHEDULE.pending(WEEKLY, now, date(2026, 2, 23)) == [date(2026, 3, 2), date(2026, 3, 9)]
    assert SCHEDULE.pending(WEEKLY, now, date(2026, 1, 5)) == [date(2026, 3, 2), date(2026, 3, 9)]


def test_a_period_sent_after_its_day_is_late():
    assert not SCHEDULE.is_late(DAILY, date(2026, 3, 2), beijing(2026, 3, 2, 23, 0))
    assert SCHEDULE.is_late(DAILY, date(2026, 3, 2), beijing(2026, 3, 3, 0, 5))


def test_windows_are_local_days_in_utc():
    day = daily_window(SCHEDULE, date(2026, 3, 2))
    assert (day.start, day.end) == (beijing(2026, 3, 1), beijing(2026, 3, 2))
    assert day.start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    week = weekly_window(SCHEDULE, date(2026, 3, 2))
    assert (week.start, week.end) == (beijing(2026, 2, 23), beijing(2026, 3, 2))
    assert (week.first_day, week.last_day) == (date(2026, 2, 23), date(2026, 3, 1))
    before = weekly_window(SCHEDULE, date(2026, 3, 2), weeks_back=1)
    assert (before.start, before.end) == (beijing(2026, 2, 16), beijing(2026, 2, 23))


def test_times_and_zone_are_settings():
    schedule = Schedule.from_settings(
        {
            **SETTINGS,
            "qzt.digests.timezone": "Europe/Berlin",
            "qzt.digests.daily_at": "06:15",
            "qzt.digests.weekly_at": "Friday 17:00",
        }
    )
    assert (schedule.daily_at, schedule.weekly_day, schedule.weekly_at) == (
        time(6, 15),
        4,
        time(17, 0),
    )
    assert schedule.latest_due(WEEKLY, datetime(2026, 3, 6, 16, 0, tzinfo=UTC)) == date(2026, 3, 6)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("qzt.digests.daily_at", "8 am", "HH:MM"),
        ("qzt.digests.daily_at", "25:00", "HH:MM"),
        ("qzt.digests.weekly_at", "someday 08:30", "mon 08:30"),
        ("qzt.digests.weekly_at", "mon", "mon 08:30"),
        ("qzt.digests.catch_up_days", -1, "0 or more"),
    ],
)
def test_bad_settings_stop_the_portal_with_a_clear_message(key, value, message):
    with pytest.raises(ValueError, match=message):
        Schedule.from_settings({**SETTINGS, key: value})


def test_parse_weekly_accepts_full_day_names():
    assert parse_weekly("Monday 08:30") == (0, time(8, 30))
