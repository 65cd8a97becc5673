"""Working-time deadlines on the Chinese calendar: holidays, 调休 Saturdays, hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from portal.clock import LOCAL_TZ, FrozenClock
from portal.complaints.deadlines import Limit, WorkCalendar, parse_limit, parse_limits
from portal.complaints.notify import when
from tests.factories_complaints import World, make_service

CAL = WorkCalendar()


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Beijing-time moment, as the UTC datetime the code stores."""
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def end_of(y: int, m: int, d: int) -> datetime:
    return CAL.end_of(date(y, m, d))


@pytest.mark.parametrize(
    ("received", "limit", "due"),
    [
        # Monday: the day of receipt is not counted; Tuesday and Wednesday are.
        (bj(2026, 3, 2, 9, 30), "2d", end_of(2026, 3, 4)),
        # Friday before the Spring Festival: Saturday 14 Feb is a 调休 working day,
        # 15-23 Feb are holidays, so day two is Tuesday 24 Feb.
        (bj(2026, 2, 13, 10), "2d", end_of(2026, 2, 24)),
        # Saturday 28 Feb is a 调休 working day and counts.
        (bj(2026, 2, 26, 15), "2d", end_of(2026, 2, 28)),
        # Received during the holiday: counting starts after it.
        (bj(2026, 2, 16, 11), "1d", end_of(2026, 2, 24)),
        # An ordinary weekend is skipped.
        (bj(2026, 3, 6, 16), "2d", end_of(2026, 3, 10)),
        # 15 working days across 清明 (4-6 April 2026).
        (bj(2026, 3, 30, 9), "15d", end_of(2026, 4, 21)),
        # National Day week and its 调休 Saturday (10 Oct 2026).
        (bj(2026, 9, 30, 9), "2d", end_of(2026, 10, 9)),
        (bj(2026, 10, 9, 9), "1d", end_of(2026, 10, 10)),
    ],
)
def test_day_limits(received, limit, due):
    assert CAL.due(received, parse_limit(limit)) == due


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (bj(2026, 3, 2, 9, 30), 4, bj(2026, 3, 2, 13, 30)),
        # One office hour left on Friday, the rest on the 调休 Saturday.
        (bj(2026, 2, 13, 16), 4, bj(2026, 2, 14, 12)),
        # An ordinary Saturday morning: the clock starts on Monday at 09:00.
        (bj(2026, 2, 7, 10), 4, bj(2026, 2, 9, 13)),
        # After hours on Monday: Tuesday morning.
        (bj(2026, 3, 2, 20), 1, bj(2026, 3, 3, 10)),
        # Exactly a whole office day ends at closing time.
        (bj(2026, 3, 2, 9), 8, bj(2026, 3, 2, 17)),
    ],
)
def test_hour_limits_run_in_office_hours_on_working_days(start, hours, due):
    assert CAL.due(start, Limit(hours, "h")) == due


def test_reminders_start_on_the_last_working_day_or_hours_before():
    due = end_of(2026, 3, 4)
    assert CAL.warn_from(due, Limit(1, "d")) == bj(2026, 3, 4)
    assert CAL.warn_from(due, Limit(2, "d")) == bj(2026, 3, 3)
    # Back across the Spring Festival to the 调休 Saturday.
    assert CAL.warn_from(end_of(2026, 2, 24), Limit(2, "d")) == bj(2026, 2, 14)
    # Hours walk back through office hours: Monday 10:00 minus 2h = Friday 16:00.
    assert CAL.warn_from(bj(2026, 3, 9, 10), Limit(2, "h")) == bj(2026, 3, 6, 16)


def test_a_pause_moves_the_deadline_by_the_working_days_it_lasted():
    due = end_of(2026, 3, 4)
    # Paused Monday, resumed Wednesday: Tuesday and Wednesday are given back.
    assert CAL.paused(due, "d", bj(2026, 3, 2, 10), bj(2026, 3, 4, 9)) == end_of(2026, 3, 6)
    # A pause within one day gives nothing back.
    assert CAL.paused(due, "d", bj(2026, 3, 2, 10), bj(2026, 3, 2, 16)) == due
    # A pause over the weekend only (Friday evening to Sunday): nothing either.
    assert CAL.paused(due, "d", bj(2026, 3, 6, 18), bj(2026, 3, 8, 12)) == due
    # Hour clocks get back the office time: 2 hours.
    hour_due = bj(2026, 3, 3, 11)
    assert CAL.paused(hour_due, "h", bj(2026, 3, 2, 15), bj(2026, 3, 2, 17)) == bj(2026, 3, 3, 13)


def test_years_without_holiday_data_count_monday_to_friday():
    # 2030 is beyond the calendar's data: Friday + 1 working day = Monday.
    assert CAL.due(bj(2030, 1, 4, 10), Limit(1, "d")) == end_of(2030, 1, 7)


def test_deadlines_read_as_24_00_of_their_day():
    assert when(end_of(2026, 3, 4)) == "2026-03-04 24:00"
    assert when(bj(2026, 3, 4, 13, 5)) == "2026-03-04 13:05"


@pytest.mark.parametrize("bad", ["", "15", "d", "1.5d", "3w", "-2d"])
def test_limits_are_written_as_days_or_hours(bad):
    with pytest.raises(ValueError, match="15d or 4h"):
        parse_limit(bad)


def test_limit_settings_parse_to_a_map():
    assert parse_limits("consult=2d help=10d") == {"consult": Limit(2, "d"), "help": Limit(10, "d")}
    with pytest.raises(ValueError, match="key=limit"):
        parse_limits("consult")


def test_office_hours_come_from_settings():
    cal = WorkCalendar.from_settings({"qzt.complaints.office_hours": "08:30-12:00"})
    assert (cal.office_start, cal.office_end) == (time(8, 30), time(12, 0))
    with pytest.raises(ValueError, match="end after"):
        WorkCalendar.from_settings({"qzt.complaints.office_hours": "17:00-09:00"})


# Received Friday 13 Feb: working days after it are 14 Feb (调休 Saturday), then 24,
# 25, 26, 27, 28 (调休 Saturday) Feb, 2, 3, 4, 5 Mar (day 10) … 12 Mar (day 15).
@pytest.mark.parametrize(
    ("kind", "received", "close_due"),
    [
        ("consult", bj(2026, 2, 13, 10), end_of(2026, 2, 24)),
        ("help", bj(2026, 2, 13, 10), end_of(2026, 3, 5)),
        ("complaint", bj(2026, 2, 13, 10), end_of(2026, 3, 12)),
    ],
)
def test_a_case_opened_on_a_frozen_clock_gets_its_types_limits(
    dbsession, tmp_path, kind, received, close_due
):
    world = World(dbsession)
    clock = FrozenClock(received)
    service = make_service(clock, str(tmp_path))
    case = service.open_case(
        dbsession, kind=kind, title="节前诉求", description="春节前提交的诉求。",
        enterprise_id=world.company.enterprise_id, opened_by_user_id=world.company.id,
        department_id=world.a.id,
    )  # fmt: skip
    assert case.close_due_at == close_due
    # Signing: 4 office hours; Friday 10:00 + 4h = 14:00 the same day.
    assert case.sign_due_at == bj(2026, 2, 13, 14)


def test_category_limits_override_the_type(dbsession, tmp_path):
    world = World(dbsession)
    service = make_service(FrozenClock(bj(2026, 3, 2, 9, 30)), str(tmp_path))
    service.policy.category_limits[world.category.code] = Limit(5, "d")
    case = service.open_case(
        dbsession, kind="complaint", title="类别时限", description="按类别计时。",
        enterprise_id=None, opened_by_user_id=world.company.id, department_id=None,
        category=world.category.code,
    )  # fmt: skip
    assert case.close_due_at == end_of(2026, 3, 9)
    # The first reply is never due after closure.
    assert case.reply_due_at <= case.close_due_at
