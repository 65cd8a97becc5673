"""Form values of the booking pages → Python values. Pure; errors are BookingErrors
with the field they belong to, so a page shows them next to that field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from portal.i18n import N_
from portal.meetings.interfaces import BookingError

_RANGE = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*[-–~至到]\s*(\d{1,2})[:：](\d{2})\s*$")


def slot_value(moment: datetime) -> str:
    """A slot's form value: its UTC start, second precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_slot(raw: str | None) -> datetime:
    text = (raw or "").strip()
    if not text:
        raise BookingError("no_slot", "slot", N_("Please choose a time slot."))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BookingError("bad_slot", "slot", N_("This is not a valid time slot.")) from None
    if moment.tzinfo is None:
        raise BookingError("bad_slot", "slot", N_("This is not a valid time slot."))
    return moment.astimezone(UTC)


def parse_day(raw: str | None, field: str = "day") -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise BookingError(
            "bad_date", field, N_("Enter a date as YYYY-MM-DD, e.g. 2026-03-02.")
        ) from None


def parse_time(raw: str | None, field: str) -> time | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise BookingError("bad_time", field, N_("Enter a time as HH:MM, e.g. 09:30.")) from None


def parse_ranges(raw: str | None, field: str) -> list[tuple[time, time]]:
    """``"09:00-11:30, 14:30-17:00"`` → [(09:00, 11:30), (14:30, 17:00)]."""
    found: list[tuple[time, time]] = []
    for part in re.split(r"[,，;；\s]+(?=\d)", (raw or "").strip()):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match is None:
            raise BookingError(
                "bad_range", field, N_("Write periods as 09:00-11:30, separated by commas.")
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise BookingError(
                "bad_range", field, N_("Write periods as 09:00-11:30, separated by commas.")
            ) from None
        if start >= end:
            raise BookingError("interval", field, N_("Each period must end after it starts."))
        found.append((start, end))
    return found


def format_ranges(pairs: list[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in pairs)


def parse_int(raw: str | None, field: str, low: int, high: int) -> int:
    try:
        value = int((raw or "").strip())
    except ValueError:
        raise BookingError("bad_number", field, N_("Enter a whole number.")) from None
    if not low <= value <= high:
        raise BookingError(
            "out_of_range", field, N_("Enter a number from ${low} to ${high}."), low=low, high=high
        )
    return value
