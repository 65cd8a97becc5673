"""Who may enter a meeting room, when, and on which side (portal/meetings/attendance.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.errors import InputError
from portal.meetings import attendance
from portal.meetings.attendance import Refusal, Seat
from portal.meetings.models import BookingState, Side
from portal.roles import Role
from tests import factories, factories_meetings
from tests.factories_room import meeting
from tests.timeline import now


def code(result: Seat | Refusal) -> str:
    return result.code if isinstance(result, Refusal) else f"seat:{result.side}"


def test_the_two_parties_take_their_sides(dbsession):
    m = meeting()
    head = attendance.seat_for(dbsession, m.booking, m.head, now())
    guest = attendance.seat_for(dbsession, m.booking, m.requester, now())
    assert isinstance(head, Seat)
    assert head.side == Side.DEPARTMENT
    assert not head.waits_in_lobby
    assert isinstance(guest, Seat)
    assert guest.side == Side.ENTERPRISE
    assert guest.waits_in_lobby


def test_nobody_else_gets_in_without_an_invitation(dbsession):
    m = meeting()
    colleague = factories_meetings.enterprise_user(enterprise=m.requester.enterprise)
    staff = factories_meetings.staff(m.head.department)
    stranger = factories_meetings.enterprise_user()
    supervisor = factories.UserFactory(roles=[Role.SUPERVISOR])
    for user in (colleague, staff, stranger, supervisor):
        assert code(attendance.seat_for(dbsession, m.booking, user, now())) == "not_invited"
    assert code(attendance.seat_for(dbsession, m.booking, None, now())) == "not_signed_in"


@pytest.mark.parametrize(
    ("offset", "state", "expected"),
    [
        (timedelta(minutes=-11), BookingState.CONFIRMED, "too_early"),
        (timedelta(minutes=-10), BookingState.CONFIRMED, "seat:department"),
        (timedelta(minutes=29), BookingState.CONFIRMED, "seat:department"),
        (timedelta(minutes=30 + 30), BookingState.CONFIRMED, "seat:department"),
        (timedelta(minutes=30 + 31), BookingState.CONFIRMED, "over"),
        (timedelta(0), BookingState.REQUESTED, "not_confirmed"),
        (timedelta(0), BookingState.CANCELLED, "cancelled"),
        (timedelta(0), BookingState.DECLINED, "cancelled"),
        (timedelta(0), BookingState.COMPLETED, "over"),
    ],
)
def test_the_room_is_open_only_around_an_agreed_time(dbsession, offset, state, expected):
    m = meeting(start=now(), state=state)
    assert code(attendance.seat_for(dbsession, m.booking, m.head, now() + offset)) == expected


def test_too_early_says_when_the_room_opens(dbsession):
    m = meeting(start=now() + timedelta(hours=2))
    refusal = attendance.seat_for(dbsession, m.booking, m.requester, now())
    assert isinstance(refusal, Refusal)
    assert refusal.opens_at == m.booking.starts_at - timedelta(minutes=10)


def test_a_disabled_party_cannot_enter(dbsession):
    m = meeting()
    m.requester.is_active = False
    assert code(attendance.seat_for(dbsession, m.booking, m.requester, now())) == "not_invited"


def test_the_head_invites_staff_on_the_department_side(dbsession):
    m = meeting()
    staff = factories_meetings.staff(m.head.department)
    attendance.invite(dbsession, m.booking, m.head, staff.login, now())
    seat = attendance.seat_for(dbsession, m.booking, staff, now())
    assert isinstance(seat, Seat)
    assert seat.side == Side.DEPARTMENT
    assert seat.invited


def test_the_enterprise_invites_colleagues_who_then_wait_in_the_lobby(dbsession):
    m = meeting()
    colleague = factories_meetings.enterprise_user(enterprise=m.requester.enterprise)
    attendance.invite(dbsession, m.booking, m.requester, f"  {colleague.login} ", now())
    seat = attendance.seat_for(dbsession, m.booking, colleague, now())
    assert isinstance(seat, Seat)
    assert seat.side == Side.ENTERPRISE
    assert seat.waits_in_lobby


@pytest.mark.parametrize(
    ("who", "whom", "message"),
    [
        ("head", "enterprise", "The head can only invite government staff."),
        ("requester", "staff", "You can only invite colleagues of your own enterprise."),
        ("requester", "other_enterprise", "You can only invite colleagues of your own enterprise."),
        ("staff", "colleague", "Only the two parties of the meeting can invite."),
        ("head", "nobody", "No active user has the login name ${login}."),
        ("head", "requester", "${name} can already join this meeting."),
    ],
)
def test_invitations_that_are_refused(dbsession, who, whom, message):
    m = meeting()
    users = {
        "head": m.head,
        "requester": m.requester,
        "staff": factories_meetings.staff(m.head.department),
        "enterprise": factories_meetings.enterprise_user(),
        "other_enterprise": factories_meetings.enterprise_user(),
        "colleague": factories_meetings.enterprise_user(enterprise=m.requester.enterprise),
    }
    login = users[whom].login if whom in users else "no-such-login"
    with pytest.raises(InputError) as caught:
        attendance.invite(dbsession, m.booking, users[who], login, now())
    assert caught.value.field == "login"
    assert caught.value.message == message


def test_no_invitations_to_a_closed_meeting_and_a_cap_on_the_room(dbsession):
    m = meeting()
    for _ in range(attendance.MAX_PARTICIPANTS - 2):
        attendance.invite(
            dbsession, m.booking, m.head, factories_meetings.staff(m.head.department).login, now()
        )
    extra = factories_meetings.staff(m.head.department)
    with pytest.raises(InputError, match="at most"):
        attendance.invite(dbsession, m.booking, m.head, extra.login, now())
    m.booking.state = BookingState.CANCELLED.value
    with pytest.raises(InputError, match="closed"):
        attendance.invite(dbsession, m.booking, m.head, extra.login, now())


def test_admission_is_kept_and_only_the_department_side_admits(dbsession):
    m = meeting()
    host = attendance.seat_of(dbsession, m.booking, m.head)
    guest = attendance.seat_of(dbsession, m.booking, m.requester)
    assert host is not None
    assert guest is not None
    assert not attendance.is_admitted(dbsession, m.id, m.requester.id)
    assert attendance.admit(dbsession, m.booking, m.requester.id, guest, now()) is None
    first = attendance.admit(dbsession, m.booking, m.requester.id, host, now())
    again = attendance.admit(dbsession, m.booking, m.requester.id, host, now())
    assert first is not None
    assert again is not None
    assert first.id == again.id
    assert attendance.is_admitted(dbsession, m.id, m.requester.id)


def test_presence_follows_arrivals_and_departures(dbsession):
    m = meeting()
    attendance.arrive(dbsession, m.id, m.head.id, "aaaa0001", now())
    attendance.arrive(dbsession, m.id, m.requester.id, "bbbb0001", now())
    attendance.arrive(dbsession, m.id, m.requester.id, "bbbb0002", now())  # a second tab
    assert attendance.present(dbsession, m.id) == {m.head.id, m.requester.id}
    attendance.depart(dbsession, m.id, "bbbb0001", now())
    assert attendance.present(dbsession, m.id) == {m.head.id, m.requester.id}
    attendance.depart(dbsession, m.id, "bbbb0002", now())
    assert attendance.present(dbsession, m.id) == {m.head.id}
