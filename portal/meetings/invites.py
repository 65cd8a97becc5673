"""iCalendar invites (RFC 5545 / iTIP RFC 5546) for booking mail. Pure: no I/O.

One booking is one calendar event for its whole life: the UID never changes and
SEQUENCE grows with every change, so a calendar client updates the entry it already
has (a new time, a confirmation) instead of adding a second one, and a CANCEL with
the same UID removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import icalendar

PRODID = "-//qzt//meetings 1.0//ZH"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Invite:
    uid: str
    sequence: int
    method: str  # "REQUEST" | "CANCEL"
    status: str  # "TENTATIVE" | "CONFIRMED" | "CANCELLED"
    starts_at: datetime
    ends_at: datetime
    stamp: datetime
    summary: str
    description: str
    url: str
    organizer: Person
    attendees: tuple[Person, ...]


def build(invite: Invite) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", invite.method)
    event = icalendar.Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", invite.stamp)
    event.add("dtstart", invite.starts_at)
    event.add("dtend", invite.ends_at)
    event.add("summary", invite.summary)
    event.add("description", invite.description)
    event.add("status", invite.status)
    event.add("url", invite.url)
    event.add("location", invite.url)
    event.add(
        "organizer",
        icalendar.vCalAddress(f"mailto:{invite.organizer.email}"),
        parameters={"cn": invite.organizer.name},
    )
    for person in invite.attendees:
        event.add(
            "attendee",
            icalendar.vCalAddress(f"mailto:{person.email}"),
            parameters={
                "cn": person.name,
                "role": "REQ-PARTICIPANT",
                "partstat": "ACCEPTED" if invite.status == "CONFIRMED" else "NEEDS-ACTION",
                "rsvp": "FALSE",
            },
        )
    cal.add_component(event)
    return bytes(cal.to_ical())
