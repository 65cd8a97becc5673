"""Read what the booking service queued: outbox rows → messages → iCalendar events."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

import icalendar
from sqlalchemy import func, select

from portal.mail.models import OutboxMail

#: the highest outbox id before the current test: rows other tests committed (and
#: failed to clean up) must not count as this test's mail
_baseline = {"id": 0}


def mark(db: Any) -> None:
    """Remember where the outbox stands; :func:`outbox` shows only newer rows."""
    _baseline["id"] = db.scalar(select(func.max(OutboxMail.id))) or 0


def outbox(db: Any, kind: str = "meetings.booking") -> list[OutboxMail]:
    return list(
        db.scalars(
            select(OutboxMail)
            .where(OutboxMail.kind == kind, OutboxMail.id > _baseline["id"])
            .order_by(OutboxMail.id)
        )
    )


def message(row: OutboxMail) -> EmailMessage:
    parsed = email.message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(row: OutboxMail) -> str:
    body = message(row).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def invite(row: OutboxMail) -> tuple[icalendar.Calendar, Any, str]:
    """(calendar, its VEVENT, the Content-Type method parameter) of a queued mail."""
    parts = [p for p in message(row).walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "exactly one invite per message"
    part = parts[0]
    cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return cal, events[0], str(part.get_param("method"))
