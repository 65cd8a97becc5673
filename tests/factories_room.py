"""The meeting room's test data: a booked meeting with its two parties, and the
recording and minutes rows. Builds on tests/factories_meetings.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portal.meetings.models import Booking, BookingState
from portal.meetings.recording import Recording, RecordingFile
from portal.roles import Role
from tests import factories, factories_meetings
from tests.timeline import now


@dataclass
class Meeting:
    booking: Booking
    head: Any
    requester: Any

    @property
    def id(self) -> int:
        return self.booking.id


def meeting(
    start: datetime | None = None,
    state: BookingState = BookingState.CONFIRMED,
    minutes: int = 30,
    department: Any = None,
) -> Meeting:
    """A confirmed booking starting at ``start`` (default: now, the meeting is on)."""
    head = factories_meetings.head(department=department, weekly=())
    requester = factories_meetings.enterprise_user()
    start = start or now()
    booking = factories_meetings.BookingFactory(
        head_user=head,
        requester_user=requester,
        start=start,
        ends_at=start + timedelta(minutes=minutes),
        blocked_until=start + timedelta(minutes=minutes),
        state=state.value,
    )
    return Meeting(booking, head, requester)


def supervisor(department: Any = None, **kw: Any) -> Any:
    return factories.UserFactory(roles=[Role.SUPERVISOR], department=department, **kw)


def recording(session: Any, booking: Booking, started: datetime, files: int = 1) -> Recording:
    row = Recording(
        booking_id=booking.id,
        department_id=booking.department_id,
        state="finished",
        started_at=started,
        ended_at=started + timedelta(minutes=20),
    )
    session.add(row)
    session.flush()
    for n in range(files):
        session.add(
            RecordingFile(
                id=secrets.token_hex(16),
                recording_id=row.id,
                user_id=None,
                participant=f"参会人{n}",
                size=0,
                video_frames=0,
                created_at=started,
            )
        )
    session.flush()
    session.refresh(row)
    return row
