"""Deadlines in working time on the Chinese calendar (holidays and 调休).

A limit is written ``"15d"`` (working days) or ``"4h"`` (working hours).

* **Days** follow the rule for periods counted in days (民法典 第二百零一条, 行政许可法
  第八十二条): the day the case arrives is not counted; the deadline is the end
  (24:00, Beijing time) of the N-th working day after it. A case received on a
  Friday with 2 working days is due at the end of Tuesday; over the Spring Festival
  the holiday week is skipped and a 调休 Saturday counts as a working day.
* **Hours** count office hours on working days only (``office_hours``, default
  09:00-17:00): 4 hours from 16:00 on a Friday end at 12:00 on the next working day.

Pauses (补充材料) push a deadline back by the working time that passed while paused.
The calendar comes from ``chinese_calendar``; for years it has no data for yet it
falls back to Monday-Friday and logs that once, rather than stopping intake.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from portal.clock import LOCAL_TZ

log = logging.getLogger(__name__)

_LIMIT = re.compile(r"^\s*(\d{1,3})\s*([dh])\s*$")
_warned_years: set[int] = set()


@dataclass(frozen=True)
class Limit:
    amount: int
    unit: str  # "d" working days | "h" working hours

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_limit(spec: str) -> Limit:
    """``"15d"`` → 15 working days, ``"4h"`` → 4 working hours; ValueError otherwise."""
    match = _LIMIT.match(str(spec))
    if match is None:
        raise ValueError(f"a time limit is written like 15d or 4h, not {spec!r}")
    return Limit(int(match.group(1)), match.group(2))


def parse_limits(value: object) -> dict[str, Limit]:
    """A setting like ``"consult=2d help=10d"`` (or a dict) → {key: Limit}."""
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, Limit) else parse_limit(v) for k, v in value.items()}
    found: dict[str, Limit] = {}
    for part in str(value).replace(",", " ").split():
        key, sep, spec = part.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=limit, got {part!r}")
        found[key] = parse_limit(spec)
    return found


@lru_cache(maxsize=4096)
def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no Chinese holiday data for %s: counting Monday-Friday", day.year)
        return day.weekday() < 5


class WorkCalendar:
    """Working-time arithmetic. Inputs and outputs are aware datetimes (UTC in, UTC out)."""

    def __init__(
        self,
        tz: ZoneInfo = LOCAL_TZ,
        office_start: time = time(9, 0),
        office_end: time = time(17, 0),
    ) -> None:
        if office_end <= office_start:
            raise ValueError("office hours must end after they start")
        self.tz = tz
        self.office_start = office_start
        self.office_end = office_end

    @classmethod
    def from_settings(cls, settings: dict[str, object]) -> WorkCalendar:
        spec = str(settings.get("qzt.complaints.office_hours", "09:00-17:00"))
        start, _, end = spec.partition("-")
        return cls(office_start=time.fromisoformat(start), office_end=time.fromisoformat(end))

    # -- days ----------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        return is_workday(day)

    def next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += timedelta(days=1)
        while not is_workday(day):
            day += timedelta(days=1)
        return day

    def previous_workday(self, day: date) -> date:
        day -= timedelta(days=1)
        while not is_workday(day):
            day -= timedelta(days=1)
        return day

    def end_of(self, day: date) -> datetime:
        """24:00 Beijing time at the end of ``day``, in UTC."""
        return datetime.combine(day + timedelta(days=1), time(0), self.tz).astimezone(
            ZoneInfo("UTC")
        )

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz).astimezone(ZoneInfo("UTC"))

    def last_day(self, due: datetime) -> date:
        """The calendar day a deadline belongs to (24:00 belongs to the day before)."""
        return (due.astimezone(self.tz) - timedelta(microseconds=1)).date()

    def add_days(self, start: datetime, days: int) -> datetime:
        day = start.astimezone(self.tz).date()
        for _ in range(days):
            day = self.next_workday(day)
        return self.end_of(day)

    def workdays_between(self, start: datetime, end: datetime) -> int:
        """Working days after ``start``'s day up to and including ``end``'s day."""
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            count += is_workday(day)
        return count

    def shift_days(self, due: datetime, days: int) -> datetime:
        """Move a deadline ``days`` working days later, keeping its time of day."""
        if days <= 0:
            return due
        local_due = due.astimezone(self.tz)
        if local_due.time() == time(0):  # an end-of-day deadline
            return self.add_days(self.start_of(self.last_day(due)), days)
        day = local_due.date()
        for _ in range(days):
            day = self.next_workday(day)
        return datetime.combine(day, local_due.time(), self.tz).astimezone(ZoneInfo("UTC"))

    # -- hours ---------------------------------------------------------------------------
    def _office(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.office_start, self.tz),
            datetime.combine(day, self.office_end, self.tz),
        )

    def add_hours(self, start: datetime, hours: float) -> datetime:
        remaining = timedelta(hours=hours)
        cursor = start.astimezone(self.tz)
        day = cursor.date()
        while True:
            if is_workday(day):
                opens, closes = self._office(day)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(ZoneInfo("UTC"))
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.tz)

    def office_seconds_between(self, start: datetime, end: datetime) -> int:
        """Office time on working days between two moments, in seconds."""
        if end <= start:
            return 0
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            if is_workday(day):
                opens, closes = self._office(day)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return int(total.total_seconds())

    # -- limits --------------------------------------------------------------------------
    def due(self, start: datetime, limit: Limit) -> datetime:
        if limit.unit == "d":
            return self.add_days(start, limit.amount)
        return self.add_hours(start, limit.amount)

    def warn_from(self, due: datetime, before: Limit) -> datetime:
        """When a 催办 becomes due: ``before`` working time ahead of the deadline.

        ``1d`` means "from the start of the last working day"."""
        if before.unit == "d":
            day = self.last_day(due)
            if not is_workday(day):
                day = self.previous_workday(day)
            for _ in range(before.amount - 1):
                day = self.previous_workday(day)
            return self.start_of(day)
        # Walk back through office hours.
        remaining = timedelta(hours=before.amount)
        cursor = due.astimezone(self.tz)
        day = cursor.date()
        while True:
            if is_workday(day):
                opens, closes = self._office(day)
                end = min(cursor, closes)
                if end > opens:
                    available = end - opens
                    if remaining <= available:
                        return (end - remaining).astimezone(ZoneInfo("UTC"))
                    remaining -= available
            day -= timedelta(days=1)
            cursor = datetime.combine(day + timedelta(days=1), time(0), self.tz)

    def after(self, due: datetime, limit: Limit) -> datetime:
        """A moment ``limit`` working time after a deadline (督办 after a breach)."""
        if limit.unit == "d":
            return self.shift_days(due, limit.amount)
        return self.add_hours(due, limit.amount)

    def paused(self, due: datetime, limit_unit: str, start: datetime, end: datetime) -> datetime:
        """``due`` pushed back by the working time between ``start`` and ``end``."""
        if limit_unit == "d":
            return self.shift_days(due, self.workdays_between(start, end))
        return self.add_hours(due, self.office_seconds_between(start, end) / 3600)

    def horizon(self, limit: Limit) -> timedelta:
        """A calendar span surely longer than ``limit`` of working time (for SQL pre-filters)."""
        days = limit.amount if limit.unit == "d" else limit.amount // 4 + 1
        # The longest run of non-working days in the national calendar is 9 (Spring
        # Festival with its weekends); allow two such runs on top of the weekends.
        return timedelta(days=days * 2 + 20)
