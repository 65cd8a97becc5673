"""Contracts of the booking side of meetings (视频交流预约), and its errors.

The meeting room (``portal/meetings/room*.py``) builds on these: it loads a booking
with :meth:`IBookingService.get`, asks ``booking.side_of(user)`` / ``is_party`` /
``is_meeting_time(now)`` (see ``models.Booking``) and marks the outcome with
``transition(booking, "complete" | "no_show", actor)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from zope.interface import Interface

from portal.errors import InputError
from portal.i18n import N_

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.meetings.models import Booking, BookingMaterial, Side
    from portal.meetings.slots import Slot


class BookingError(InputError):
    """A booking request or change the user can fix; ``message`` is an English msgid
    shown in Chinese next to ``field``. ``code`` names the rule, for logs and tests."""

    def __init__(self, code: str, field: str, message: str, **mapping: object) -> None:
        super().__init__(field, message, **mapping)
        self.code = code


class SlotTaken(BookingError):
    """The head's time is already held. ``by_database`` tells whether the insert itself
    was refused (a race the rule checks could not see) or the checks saw it first."""

    def __init__(self, by_database: bool = False) -> None:
        super().__init__(
            "slot_taken", "slot", N_("This time has just been taken. Please choose another slot.")
        )
        self.by_database = by_database


class LinkError(BookingError):
    """A reschedule/cancel link that is forged, expired or out of date."""


class IBookingService(Interface):
    """The only writer of bookings and availability."""

    def get(booking_id: int) -> Booking | None:
        """The booking with this id, or None."""

    def free_slots(head: User, start: date, end: date) -> Sequence[Slot]:
        """Bookable slots of ``head`` from ``start`` to ``end`` (local dates, inclusive),
        after rules, holidays, availability, notice, horizon, cap and held time."""

    def request(
        requester: User,
        head: User,
        starts_at: datetime,
        topic: str,
        details: str = "",
        materials: Sequence[tuple[str, BinaryIO]] = (),
    ) -> Booking:
        """An enterprise asks for a slot. Raises BookingError for a slot that breaks a
        rule and SlotTaken when the database refuses it; then nothing is kept."""

    def transition(
        booking: Booking, action: str, actor: User | None, side: Side, reason: str = ""
    ) -> Booking:
        """confirm / decline / cancel / complete / no_show, checked against the
        transition map (``workflow.TRANSITIONS``); mails both parties."""

    def reschedule(
        booking: Booking, starts_at: datetime, actor: User | None, side: Side, reason: str = ""
    ) -> Booking:
        """Move an active booking to a new free slot of the same head."""

    def link_token(booking: Booking, side: Side, now: datetime) -> str:
        """A signed token for the reschedule/cancel page of ``side``; it expires and
        stops working once the booking changes again."""

    def check_link(booking_id: int, token: str, now: datetime) -> tuple[Booking, Side]:
        """The booking and side a token speaks for, or LinkError."""

    def set_weekly(head: User, intervals: Sequence[tuple[int, Any, Any]], actor: User) -> None:
        """Replace ``head``'s weekly availability with (weekday, start, end) rows."""

    def add_override(head: User, day: date, start: Any, end: Any, note: str, actor: User) -> Any:
        """A date override; ``start``/``end`` None closes the whole day."""

    def add_material(
        booking: Booking, filename: str, stream: BinaryIO, actor: User
    ) -> BookingMaterial:
        """Store and check an upload with the portal's attachment checks."""

    def send_reminders(now: datetime) -> int:
        """Queue the day-before and 15-minutes-before reminders that are due; safe to
        run twice (mail dedupe keys). Returns how many were newly queued."""
