"""Slot computation: working days (holidays, 调休), availability, buffers, notice,
horizon and the daily cap. Pure: a schedule in, slots out, on the real holiday
calendar (chinese_calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from portal.clock import LOCAL_TZ
from portal.meetings import slots
from portal.meetings.slots import DayKind, Held, Override, Rules, Schedule, Weekly

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # Monday 09:30 in Asia/Shanghai


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LOCAL_TZ).astimezone(UTC)


def rules(**kw: int) -> Rules:
    values = {
        "length_minutes": 30,
        "interval_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 60,
        "horizon_days": 30,
        "daily_cap": 10,
    }
    values.update(kw)
    return Rules.from_minutes(**values)


def weekdays(*pairs: tuple[time, time]) -> list[Weekly]:
    return [Weekly(d, a, b) for d in range(5) for a, b in pairs]


MORNING = weekdays((time(9), time(12)))


def schedule(r: Rules | None = None, weekly=MORNING, overrides=(), held=()) -> Schedule:
    return Schedule(rules=r or rules(), weekly=weekly, overrides=list(overrides), held=list(held))


def starts(found: list[slots.Slot]) -> list[str]:
    return [s.local_start.strftime("%m-%d %H:%M") for s in found]


# -- the calendar -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 3, 2), DayKind.WORKDAY),  # a Monday
        (date(2026, 3, 7), DayKind.WEEKEND),  # an ordinary Saturday
        (date(2026, 5, 1), DayKind.HOLIDAY),  # Labour Day, a Friday
        (date(2026, 10, 1), DayKind.HOLIDAY),  # National Day
        (date(2026, 5, 9), DayKind.MAKEUP_WORKDAY),  # Saturday worked for Labour Day
        (date(2026, 9, 20), DayKind.MAKEUP_WORKDAY),  # Sunday worked for National Day
        (date(2027, 3, 1), DayKind.UNKNOWN),  # no official calendar yet
    ],
)
def test_chinese_day_kinds(day, kind):
    assert slots.chinese_day(day).kind == kind


def test_holiday_detail_names_the_holiday():
    assert slots.chinese_day(date(2026, 5, 1)).holiday == "Labour Day"


# -- availability and the grid ------------------------------------------------------------------
def test_slots_step_by_interval_inside_weekly_hours_after_notice():
    found = slots.free_slots(schedule(), NOW, date(2026, 3, 2), date(2026, 3, 3))
    # Monday: 09:30 + 60 min notice → from 10:30; Tuesday: the whole morning.
    assert starts(found) == [
        "03-02 10:30", "03-02 11:00", "03-02 11:30",
        "03-03 09:00", "03-03 09:30", "03-03 10:00", "03-03 10:30", "03-03 11:00", "03-03 11:30",
    ]  # fmt: skip
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in found)


def test_a_meeting_must_end_inside_the_interval():
    weekly = weekdays((time(9), time(10, 15)))
    found = slots.free_slots(schedule(weekly=weekly), NOW, date(2026, 3, 3), date(2026, 3, 3))
    assert starts(found) == ["03-03 09:00", "03-03 09:30"]


def test_interval_shorter_than_length_overlaps_starts():
    found = slots.free_slots(
        schedule(rules(interval_minutes=15), weekly=weekdays((time(9), time(10)))),
        NOW,
        date(2026, 3, 3),
        date(2026, 3, 3),
    )
    assert starts(found) == ["03-03 09:00", "03-03 09:15", "03-03 09:30"]


def test_weekends_and_holidays_offer_nothing_but_tiaoxiu_weekends_do():
    # Labour Day 2026: 1–5 May off; Saturday 9 May is worked (调休).
    found = slots.free_slots(
        schedule(rules(horizon_days=90)), NOW, date(2026, 5, 1), date(2026, 5, 10)
    )
    days = sorted({s.local_start.date() for s in found})
    assert date(2026, 5, 1) not in days  # holiday (a Friday)
    assert date(2026, 5, 4) not in days  # holiday (a Monday)
    assert date(2026, 5, 9) in days  # 调休 Saturday uses the Monday hours
    assert date(2026, 5, 10) not in days  # ordinary Sunday
    assert days == [date(2026, 5, 6), date(2026, 5, 7), date(2026, 5, 8), date(2026, 5, 9)]


def test_an_override_without_hours_closes_the_day():
    closed = Override(date(2026, 3, 3), None, None)
    found = slots.free_slots(schedule(overrides=[closed]), NOW, date(2026, 3, 3), date(2026, 3, 3))
    assert found == []


def test_overrides_replace_the_weekly_hours_of_their_date():
    override = Override(date(2026, 3, 3), time(15), time(16))
    found = slots.free_slots(
        schedule(overrides=[override]), NOW, date(2026, 3, 3), date(2026, 3, 4)
    )
    assert starts(found)[:3] == ["03-03 15:00", "03-03 15:30", "03-04 09:00"]


def test_an_override_cannot_open_a_holiday():
    override = Override(date(2026, 5, 1), time(9), time(12))
    found = slots.free_slots(
        schedule(rules(horizon_days=90), overrides=[override]),
        NOW,
        date(2026, 5, 1),
        date(2026, 5, 1),
    )
    assert found == []


# -- buffers, notice, horizon, cap --------------------------------------------------------------
def test_buffers_keep_other_meetings_away():
    day = date(2026, 3, 3)
    r = rules(buffer_before_minutes=10, buffer_after_minutes=15)
    start = at(day, 10)
    frm, until = r.block(start)
    assert (frm, until) == (at(day, 9, 50), at(day, 10, 45))
    held = [Held(frm, until, start)]
    found = slots.free_slots(schedule(r, held=held), NOW, day, day)
    # 09:30 would block 09:20–10:15 and 10:30 would block 10:20–11:15: both overlap.
    assert starts(found) == ["03-03 09:00", "03-03 11:00", "03-03 11:30"]


def test_back_to_back_meetings_are_fine_without_buffers():
    day = date(2026, 3, 3)
    held = [Held(at(day, 10), at(day, 10, 30), at(day, 10))]
    found = slots.free_slots(schedule(held=held), NOW, day, day)
    assert "03-03 09:30" in starts(found)
    assert "03-03 10:30" in starts(found)
    assert "03-03 10:00" not in starts(found)


def test_minimum_notice_of_a_day():
    found = slots.free_slots(
        schedule(rules(min_notice_minutes=24 * 60)), NOW, date(2026, 3, 2), date(2026, 3, 3)
    )
    assert starts(found)[0] == "03-03 09:30"  # exactly 24 h after Monday 09:30


def test_horizon_limits_the_last_day():
    found = slots.free_slots(
        schedule(rules(horizon_days=7)), NOW, date(2026, 3, 2), date(2026, 3, 31)
    )
    assert max(s.local_start.date() for s in found) == date(2026, 3, 9)


def test_daily_cap_closes_a_full_day():
    day = date(2026, 3, 3)
    held = [
        Held(at(day, 9), at(day, 9, 30), at(day, 9)),
        Held(at(day, 11), at(day, 11, 30), at(day, 11)),
    ]
    found = slots.free_slots(
        schedule(rules(daily_cap=2), held=held), NOW, day, day + timedelta(days=1)
    )
    assert {s.local_start.date() for s in found} == {date(2026, 3, 4)}


def test_unknown_calendar_years_offer_nothing():
    found = slots.free_slots(
        schedule(rules(horizon_days=400)), NOW, date(2027, 1, 4), date(2027, 1, 8)
    )
    assert found == []


# -- why a start is refused ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(date(2026, 3, 2), 9), "past"),
        (at(date(2026, 3, 2), 10), "notice"),
        (at(date(2026, 3, 7), 10), "weekend"),
        (at(date(2026, 5, 1), 10), "holiday"),
        (at(date(2026, 4, 8), 10), "beyond_window"),  # 37 days ahead, horizon 30
        (at(date(2026, 3, 3), 13), "outside_availability"),
        (at(date(2026, 3, 3), 9, 10), "outside_availability"),  # off the grid
        (at(date(2026, 3, 3), 11, 45), "outside_availability"),  # would end after 12:00
        (at(date(2027, 3, 1), 10), "calendar_unknown"),
    ],
)
def test_why_not_names_the_first_broken_rule(start, code):
    refusal = slots.why_not(schedule(), NOW, start)
    assert refusal is not None
    assert refusal.code == code


def test_why_not_taken_and_day_full():
    day = date(2026, 3, 3)
    held = [Held(at(day, 10), at(day, 10, 30), at(day, 10))]
    assert slots.why_not(schedule(held=held), NOW, at(day, 10)).code == "taken"
    assert (
        slots.why_not(schedule(rules(daily_cap=1), held=held), NOW, at(day, 9)).code == "day_full"
    )


def test_why_not_accepts_a_free_slot_and_a_tiaoxiu_saturday():
    assert slots.why_not(schedule(), NOW, at(date(2026, 3, 3), 9)) is None
    r = rules(horizon_days=90)
    assert slots.why_not(schedule(r), NOW, at(date(2026, 5, 9), 9)) is None


def test_refusal_mappings_carry_what_the_message_needs():
    refusal = slots.why_not(schedule(rules(min_notice_minutes=1440)), NOW, at(date(2026, 3, 2), 11))
    assert refusal.code == "notice"
    assert refusal.mapping == {"hours": "24"}
    refusal = slots.why_not(schedule(), NOW, at(date(2026, 5, 1), 10))
    assert refusal.mapping == {"date": "2026-05-01"}
