"""When digests are due and what they cover. Pure: no database, no clock of its own.

A **daily** period is the local date ``D`` it is sent on (at ``daily_at``); it
reports the day before, ``[D-1 00:00, D 00:00)``, and what is due on ``D`` and
``D+1``. A **weekly** period is the date of the send day (Monday by default) at
``weekly_at``; it reports the seven days before it. Times are local to
``qzt.digests.timezone``; windows are returned in UTC, as the database stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portal.digests.models import DAILY, WEEKLY

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_time(value: str, setting: str) -> time:
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"{setting} must be HH:MM, not {value!r}") from exc


def parse_weekly(value: str) -> tuple[int, time]:
    parts = value.strip().lower().split()
    if len(parts) != 2 or parts[0][:3] not in WEEKDAYS:
        raise ValueError(f"qzt.digests.weekly_at must be like 'mon 08:30', not {value!r}")
    return WEEKDAYS.index(parts[0][:3]), parse_time(parts[1], "qzt.digests.weekly_at")


@dataclass(frozen=True)
class Schedule:
    tz: ZoneInfo
    daily_at: time
    weekly_day: int
    weekly_at: time
    catch_up_days: int = 7

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Schedule:
        day, at = parse_weekly(settings["qzt.digests.weekly_at"])
        catch_up = int(settings["qzt.digests.catch_up_days"])
        if catch_up < 0:
            raise ValueError("qzt.digests.catch_up_days must be 0 or more")
        return cls(
            tz=ZoneInfo(settings["qzt.digests.timezone"]),
            daily_at=parse_time(settings["qzt.digests.daily_at"], "qzt.digests.daily_at"),
            weekly_day=day,
            weekly_at=at,
            catch_up_days=catch_up,
        )

    # -- local days to UTC instants -------------------------------------------------
    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    def send_time(self, kind: str, period: date) -> datetime:
        at = self.daily_at if kind == DAILY else self.weekly_at
        return datetime.combine(period, at, self.tz).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def step(self, kind: str) -> timedelta:
        return timedelta(days=1 if kind == DAILY else 7)

    # -- which periods -----------------------------------------------------------------
    def latest_due(self, kind: str, now: datetime) -> date:
        """The newest period whose send time has come."""
        today = self.local_date(now)
        if kind == DAILY:
            period = today
        elif kind == WEEKLY:
            period = today - timedelta(days=(today.weekday() - self.weekly_day) % 7)
        else:
            raise ValueError(kind)
        if self.send_time(kind, period) > now:
            period -= self.step(kind)
        return period

    def pending(self, kind: str, now: datetime, last_done: date | None) -> list[date]:
        """Periods to send now, oldest first: those after ``last_done`` up to the latest
        due, but none older than ``catch_up_days`` (a digest that late is news to
        nobody). A fresh installation (nothing done) starts with the latest."""
        latest = self.latest_due(kind, now)
        step = self.step(kind)
        earliest = latest
        while earliest - step >= latest - timedelta(days=self.catch_up_days):
            earliest -= step
        start = latest if last_done is None else max(last_done + step, earliest)
        found = []
        while start <= latest:
            found.append(start)
            start += step
        return found

    def is_late(self, kind: str, period: date, now: datetime) -> bool:
        """Sent after its own day (catch-up): the mail says so."""
        return self.local_date(now) > period


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC, and the local dates it spans (for headings)."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date


def daily_window(schedule: Schedule, period: date) -> Window:
    day = period - timedelta(days=1)
    return Window(schedule.midnight(day), schedule.midnight(period), day, day)


def weekly_window(schedule: Schedule, period: date, weeks_back: int = 0) -> Window:
    end_day = period - timedelta(days=7 * weeks_back)
    first = end_day - timedelta(days=7)
    return Window(
        schedule.midnight(first), schedule.midnight(end_day), first, end_day - timedelta(days=1)
    )
