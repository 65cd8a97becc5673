"""Resource factories of the booking pages: URL ids → models with their ACL.

``routes.py`` names these factories; each raises ``KeyError`` (a 404) for an id
that names nothing bookable.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow
from pyramid.request import Request

from portal import roles as P
from portal.permissions import Permission as Perm
from portal.roles import Role


class MeetingDesk:
    """The booking pages that belong to no single booking: who may book, who keeps
    availability and rules. Sits under the site root (Everyone may view)."""

    __acl__ = [
        (Allow, P.role(Role.ENTERPRISE), Perm.MEETING_BOOK),
        (Allow, P.role(Role.HEAD), Perm.MEETING_AVAILABILITY),
        (Allow, P.role(Role.STAFF), Perm.MEETING_AVAILABILITY),
    ]

    def __init__(self, request: Request) -> None:
        from portal.routes import Root

        self.__parent__ = Root(request)
        self.request = request


class HeadDesk(MeetingDesk):
    """A department head as someone to book: ``/meetings/heads/{id}``."""

    def __init__(self, request: Request, head: Any) -> None:
        super().__init__(request)
        self.head = head


def _int(request: Request, key: str = "id") -> int:
    raw = request.matchdict[key]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    return int(raw)


def desk_factory(request: Request) -> MeetingDesk:
    return MeetingDesk(request)


def head_factory(request: Request) -> HeadDesk:
    from portal.accounts.models import User

    head = request.dbsession.get(User, _int(request))
    if (
        head is None
        or not head.is_active
        or not head.has_role(Role.HEAD)
        or head.department is None
        or not head.department.is_active
    ):
        raise KeyError(request.matchdict["id"])
    return HeadDesk(request, head)


def booking_factory(request: Request) -> Any:
    from portal.meetings.models import Booking

    booking = request.dbsession.get(Booking, _int(request))
    if booking is None:
        raise KeyError(request.matchdict["id"])
    booking.__parent__ = MeetingDesk(request)
    return booking


def material_factory(request: Request) -> Any:
    from portal.meetings.models import BookingMaterial

    ident = request.matchdict["id"]
    if not (len(ident) == 32 and ident.isalnum()):
        raise KeyError(ident)
    material = request.dbsession.get(BookingMaterial, ident)
    if material is None:
        raise KeyError(ident)
    material.__parent__ = MeetingDesk(request)
    return material


def override_factory(request: Request) -> Any:
    from portal.meetings.models import AvailabilityOverride

    override = request.dbsession.get(AvailabilityOverride, _int(request))
    if override is None:
        raise KeyError(request.matchdict["id"])
    override.__parent__ = MeetingDesk(request)
    return override
