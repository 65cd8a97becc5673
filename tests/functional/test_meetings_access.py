"""Who may do what to a booking, as one table: role × action, through the real
security policy (the booking's ``__acl__`` under the site root) and, for viewing,
through HTTP. ``side`` is the party a user speaks for (``Booking.side_of``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pyramid.request import Request, apply_request_extensions

from portal.meetings.resources import MeetingDesk
from portal.permissions import Permission as Perm
from portal.roles import Role
from tests import factories
from tests import factories_meetings as mf
from tests.timeline import now

ACTIONS = {
    "V": Perm.MEETING_VIEW,
    "M": Perm.MEETING_MANAGE,  # confirm, decline, record the outcome
    "C": Perm.MEETING_CHANGE,  # reschedule, cancel
    "J": Perm.MEETING_JOIN,  # open the meeting page
}

#  role                        actions  side
EXPECTED: dict[str, tuple[str, str | None]] = {
    "anonymous":               ("",     None),
    "requester":               ("VCJ",  "enterprise"),
    "colleague":               ("VC",   "enterprise"),
    "other enterprise":        ("",     None),
    "the head":                ("VMCJ", "department"),
    "another head of A":       ("V",    None),
    "staff of A":              ("VMC",  "department"),
    "staff of B":              ("",     None),
    "head of B":               ("",     None),
    "supervisor":              ("V",    None),
    "admin":                   ("VMCJ", None),
}  # fmt: skip


@pytest.fixture
def world(dbsession) -> dict[str, Any]:
    mf.bind(dbsession)
    dept_a, dept_b = factories.DepartmentFactory(), factories.DepartmentFactory()
    head = mf.head(dept_a)
    asker = mf.enterprise_user()
    booking = mf.BookingFactory(
        head_user=head, requester_user=asker, start=now() + timedelta(days=1)
    )
    make = factories.UserFactory
    return {
        "booking": booking,
        "anonymous": None,
        "requester": asker,
        "colleague": mf.enterprise_user(enterprise=asker.enterprise),
        "other enterprise": mf.enterprise_user(),
        "the head": head,
        "another head of A": make(roles=[Role.HEAD], department=dept_a),
        "staff of A": mf.staff(dept_a),
        "staff of B": mf.staff(dept_b),
        "head of B": make(roles=[Role.HEAD], department=dept_b),
        "supervisor": make(roles=[Role.SUPERVISOR]),
        "admin": make(roles=[Role.ADMIN]),
    }


def request_as(app: Any, user: Any) -> Request:
    request = Request.blank("/")
    request.registry = app.registry
    apply_request_extensions(request)
    request.user = user
    return request


@pytest.mark.parametrize("role", list(EXPECTED))
def test_permission_layer(app, dbsession, world, role):
    user = world[role]
    request = request_as(app, user)
    booking = world["booking"]
    booking.__parent__ = MeetingDesk(request)
    got = "".join(k for k, p in ACTIONS.items() if request.has_permission(p, booking))
    actions, side = EXPECTED[role]
    assert got == actions, role
    found = booking.side_of(user)
    assert (found.value if found else None) == side, role
    assert booking.is_party(user) == (role in ("requester", "the head"))


@pytest.mark.parametrize("role", list(EXPECTED))
def test_http_layer(testapp, login, world, role):
    user = world[role]
    if user is not None:
        login(user)
    response = testapp.get(f"/meetings/bookings/{world['booking'].id}", expect_errors=True)
    if "V" in EXPECTED[role][0]:
        assert response.status_int == 200, role
    elif user is None:
        assert response.status_int == 303
        assert "/login?next=" in response.location
    else:
        assert response.status_int == 403, role


def test_a_disabled_account_speaks_for_no_side(world):
    requester = world["requester"]
    requester.is_active = False
    assert world["booking"].side_of(requester) is None
    assert not world["booking"].is_party(requester)
