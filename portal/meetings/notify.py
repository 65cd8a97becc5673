"""Booking mail: what each side is told on every change, with an iCalendar invite.

Each side gets its own message (its own language, its own signed links), queued in
the transaction of the change through ``IMailer``; the dedupe key (booking, SEQUENCE,
side) makes a replayed transaction queue nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyramid.i18n import Localizer, make_localizer
from pyramid.interfaces import ITranslationDirectories
from pyramid.registry import Registry

from portal.clock import local
from portal.i18n import N_, _
from portal.mail.interfaces import MailAttachment
from portal.meetings import invites
from portal.meetings.models import BookingState, Side

if TYPE_CHECKING:
    from portal.meetings.models import Booking

#: the booking's page and the signed-link page; routes.py uses the same patterns
BOOKING_PATH = "/meetings/bookings/{id}"
LINK_PATH = "/meetings/link/{token}"

STATE_LABELS = {
    BookingState.REQUESTED: N_("Awaiting confirmation"),
    BookingState.CONFIRMED: N_("Confirmed"),
    BookingState.DECLINED: N_("Declined"),
    BookingState.RESCHEDULED: N_("Rescheduled"),
    BookingState.CANCELLED: N_("Cancelled"),
    BookingState.COMPLETED: N_("Completed"),
    BookingState.NO_SHOW: N_("Did not take place (no-show)"),
}

SUBJECTS = {
    "request": N_("Video meeting requested: ${topic}"),
    "confirm": N_("Video meeting confirmed: ${topic}"),
    "decline": N_("Video meeting declined: ${topic}"),
    "reschedule": N_("Video meeting moved to a new time: ${topic}"),
    "cancel": N_("Video meeting cancelled: ${topic}"),
    "complete": N_("Video meeting completed: ${topic}"),
    "no_show": N_("Video meeting recorded as not attended: ${topic}"),
    "remind_day": N_("Reminder: video meeting tomorrow at ${time}: ${topic}"),
    "remind_soon": N_("Reminder: video meeting at ${time} starts soon: ${topic}"),
}

#: the iTIP method and VEVENT STATUS each booking state is announced with
ICAL_FOR_STATE = {
    BookingState.REQUESTED: ("REQUEST", "TENTATIVE"),
    BookingState.CONFIRMED: ("REQUEST", "CONFIRMED"),
    BookingState.RESCHEDULED: ("REQUEST", "CONFIRMED"),
    BookingState.COMPLETED: ("REQUEST", "CONFIRMED"),
    BookingState.NO_SHOW: ("REQUEST", "CONFIRMED"),
    BookingState.DECLINED: ("CANCEL", "CANCELLED"),
    BookingState.CANCELLED: ("CANCEL", "CANCELLED"),
}


def localizers(registry: Registry) -> Callable[[str | None], Localizer]:
    """``get(locale)``: a localizer for mail written outside any request."""
    default = registry.settings.get("pyramid.default_locale_name", "zh_CN")
    available = registry.settings.get("qzt.available_locales", [default])
    cache: dict[str, Localizer] = {}

    def get(locale: str | None) -> Localizer:
        name = str(locale if locale in available else default)
        if name not in cache:
            dirs = registry.queryUtility(ITranslationDirectories, default=[])
            cache[name] = make_localizer(name, dirs)
        return cache[name]

    return get


@dataclass(frozen=True)
class Recipient:
    side: Side
    name: str
    email: str | None
    locale: str | None


def recipients(booking: Booking) -> list[Recipient]:
    head, requester = booking.head, booking.requester
    return [
        Recipient(Side.ENTERPRISE, requester.display_name, requester.email, requester.locale),
        Recipient(Side.DEPARTMENT, head.display_name, head.email, head.locale),
    ]


def when(booking: Booking) -> str:
    start, end = local(booking.starts_at), local(booking.ends_at)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"


def invite_for(booking: Booking, now: datetime, url: str, sender: str) -> bytes:
    method, status = ICAL_FOR_STATE[BookingState(booking.state)]
    head, requester = booking.head, booking.requester
    return invites.build(
        invites.Invite(
            uid=booking.uid,
            sequence=booking.sequence,
            method=method,
            status=status,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            stamp=now,
            summary=f"{booking.department.short_name}·{booking.enterprise.name}：{booking.topic}",
            description=booking.topic,
            url=url,
            organizer=invites.Person(head.display_name, head.email or sender),
            attendees=tuple(
                invites.Person(p.display_name, p.email) for p in (head, requester) if p.email
            ),
        )
    )


def body(
    translate: Callable[[Any], str],
    booking: Booking,
    *,
    headline: str,
    page_url: str,
    link_url: str | None,
) -> str:
    t = translate
    lines = [
        headline,
        "",
        t(_("Department: ${name}", mapping={"name": booking.department.name})),
        t(_("Head: ${name}", mapping={"name": booking.head.display_name})),
        t(_("Enterprise: ${name}", mapping={"name": booking.enterprise.name})),
        t(_("Time: ${when} (Beijing time)", mapping={"when": when(booking)})),
        t(_("Topic: ${topic}", mapping={"topic": booking.topic})),
        t(
            _(
                "Status: ${state}",
                mapping={"state": t(_(STATE_LABELS[BookingState(booking.state)]))},
            )
        ),
    ]
    if booking.reason and booking.state in (BookingState.DECLINED, BookingState.CANCELLED):
        lines.append(t(_("Reason: ${reason}", mapping={"reason": booking.reason})))
    lines += ["", t(_("Booking page: ${url}", mapping={"url": page_url}))]
    if link_url:
        lines.append(
            t(_("Reschedule or cancel without logging in: ${url}", mapping={"url": link_url}))
        )
    return "\n".join(lines) + "\n"


def attachment(data: bytes, method: str) -> MailAttachment:
    return MailAttachment("invite.ics", "text/calendar", data, params={"method": method})
