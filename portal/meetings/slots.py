"""Free-slot computation: pure functions, no database, no clock.

The rules, after Cal.com's scheduler, in the order they are applied to a local date:

1. Only working days count, from the maintained Chinese holiday calendar
   (``chinese_calendar``): public holidays are closed, ordinary weekends are closed,
   and 调休 weekends (a Saturday or Sunday worked to make up for a holiday) are open.
2. The date's intervals are its overrides if it has any (an override without times
   closes the day), else the head's weekly intervals for its weekday. No national rule
   says which weekday a 调休 weekend stands in for, so it takes the Monday pattern
   (:data:`MAKEUP_WEEKDAY`); a head who wants otherwise adds an override.
3. Inside each interval, starts step by the slot interval from the interval's start;
   a meeting must end inside the interval.
4. A start must be at least the minimum notice after ``now`` and on a date no later
   than today + horizon days.
5. The slot plus the buffers before and after (the time it would block) must not
   overlap time already held by the head's active bookings; that is exactly the rule
   the database enforces, so a slot offered here is one the insert can win.
6. A date that already has ``daily_cap`` active bookings of the head offers nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import chinese_calendar

from portal.clock import LOCAL_TZ

#: weekday whose weekly intervals a 调休 working weekend day uses (0 = Monday)
MAKEUP_WEEKDAY = 0


class DayKind(StrEnum):
    WORKDAY = "workday"
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    UNKNOWN = "unknown"  # the holiday calendar has no data for this year yet


@dataclass(frozen=True)
class DayInfo:
    kind: DayKind
    holiday: str | None = None  # e.g. "National Day" for a holiday or its 调休 day

    @property
    def is_open(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)


def chinese_day(day: date) -> DayInfo:
    """What the State Council's calendar says about ``day``."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return DayInfo(DayKind.UNKNOWN)
    weekend = day.weekday() >= 5
    if on_holiday:
        return DayInfo(DayKind.HOLIDAY if name else DayKind.WEEKEND, name)
    return DayInfo(DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY, name)


Calendar = Callable[[date], DayInfo]


@dataclass(frozen=True)
class Rules:
    length: timedelta
    interval: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    min_notice: timedelta
    horizon_days: int
    daily_cap: int

    @classmethod
    def from_minutes(
        cls,
        *,
        length_minutes: int,
        interval_minutes: int,
        buffer_before_minutes: int,
        buffer_after_minutes: int,
        min_notice_minutes: int,
        horizon_days: int,
        daily_cap: int,
        **_ignored: Any,
    ) -> Rules:
        return cls(
            length=timedelta(minutes=length_minutes),
            interval=timedelta(minutes=interval_minutes),
            buffer_before=timedelta(minutes=buffer_before_minutes),
            buffer_after=timedelta(minutes=buffer_after_minutes),
            min_notice=timedelta(minutes=min_notice_minutes),
            horizon_days=horizon_days,
            daily_cap=daily_cap,
        )

    def block(self, starts_at: datetime) -> tuple[datetime, datetime]:
        """The head's time a meeting starting at ``starts_at`` holds, buffers included."""
        return starts_at - self.buffer_before, starts_at + self.length + self.buffer_after


@dataclass(frozen=True)
class Weekly:
    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Override:
    day: date
    start: time | None
    end: time | None


@dataclass(frozen=True)
class Held:
    """Time an active booking of the head holds."""

    blocked_from: datetime
    blocked_until: datetime
    starts_at: datetime


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # UTC
    ends_at: datetime

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(LOCAL_TZ)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(LOCAL_TZ)


@dataclass(frozen=True)
class Schedule:
    """Everything slot computation needs about one head, loaded once."""

    rules: Rules
    weekly: Sequence[Weekly]
    overrides: Sequence[Override]
    held: Sequence[Held]
    calendar: Calendar = chinese_day


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def _at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=LOCAL_TZ).astimezone(UTC)


def intervals_for_day(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The head's receiving hours on local ``day`` as UTC intervals (rules 1 and 2)."""
    info = schedule.calendar(day)
    if not info.is_open:
        return []
    overrides = [o for o in schedule.overrides if o.day == day]
    if overrides:
        if any(o.start is None or o.end is None for o in overrides):
            return []
        pairs = [(o.start, o.end) for o in overrides]
    else:
        weekday = MAKEUP_WEEKDAY if info.kind == DayKind.MAKEUP_WORKDAY else day.weekday()
        pairs = [(w.start, w.end) for w in schedule.weekly if w.weekday == weekday]
    return sorted((_at(day, a), _at(day, b)) for a, b in pairs if a is not None and b is not None)


def _candidates(schedule: Schedule, day: date) -> Iterator[Slot]:
    """Rule 3: every start on the interval grid whose meeting fits the interval."""
    rules = schedule.rules
    for begin, finish in intervals_for_day(schedule, day):
        start = begin
        while start + rules.length <= finish:
            yield Slot(start, start + rules.length)
            start += rules.interval


def _overlaps(schedule: Schedule, slot: Slot) -> bool:
    blocked_from, blocked_until = schedule.rules.block(slot.starts_at)
    return any(
        h.blocked_from < blocked_until and blocked_from < h.blocked_until for h in schedule.held
    )


def _per_day(held: Iterable[Held]) -> Counter[date]:
    return Counter(local_date(h.starts_at) for h in held)


def last_bookable_day(rules: Rules, now: datetime) -> date:
    return local_date(now) + timedelta(days=rules.horizon_days)


def free_slots(schedule: Schedule, now: datetime, first: date, last: date) -> list[Slot]:
    """Bookable slots on local dates ``first``..``last`` (inclusive), in time order."""
    rules = schedule.rules
    earliest = now + rules.min_notice
    last = min(last, last_bookable_day(rules, now))
    booked = _per_day(schedule.held)
    found: list[Slot] = []
    day = max(first, local_date(now))
    while day <= last:
        if booked[day] < rules.daily_cap:
            found.extend(
                s
                for s in _candidates(schedule, day)
                if s.starts_at >= earliest and not _overlaps(schedule, s)
            )
        day += timedelta(days=1)
    return found


@dataclass(frozen=True)
class Refusal:
    """Why a requested start is not bookable: ``code`` plus values for the message."""

    code: str
    mapping: dict[str, Any]


def why_not(schedule: Schedule, now: datetime, starts_at: datetime) -> Refusal | None:
    """None when ``starts_at`` is a free slot, else the first rule it breaks.

    Checked in the order a person would explain it: the past, the calendar, the
    window, the head's hours, the notice, the day's cap, and held time. (Held time
    is checked here for a friendly answer only; the database has the last word.)
    """
    rules = schedule.rules
    day = local_date(starts_at)
    if starts_at <= now:
        return Refusal("past", {})
    info = schedule.calendar(day)
    if info.kind == DayKind.UNKNOWN:
        return Refusal("calendar_unknown", {"year": day.year})
    if info.kind == DayKind.HOLIDAY:
        return Refusal("holiday", {"date": day.isoformat()})
    if info.kind == DayKind.WEEKEND:
        return Refusal("weekend", {"date": day.isoformat()})
    if day > last_bookable_day(rules, now):
        return Refusal("beyond_window", {"days": rules.horizon_days})
    if not any(s.starts_at == starts_at for s in _candidates(schedule, day)):
        return Refusal("outside_availability", {})
    if starts_at < now + rules.min_notice:
        return Refusal("notice", {"hours": _hours(rules.min_notice)})
    if _per_day(schedule.held)[day] >= rules.daily_cap:
        return Refusal("day_full", {"date": day.isoformat(), "cap": rules.daily_cap})
    if _overlaps(schedule, Slot(starts_at, starts_at + rules.length)):
        return Refusal("taken", {})
    return None


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}"
