"""No double booking, enforced by the database itself: rows written directly (no
service, no pre-check) that overlap an active booking of the same head are refused
by the PostgreSQL exclusion constraint or the SQLite trigger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from portal.meetings.models import OVERLAP_CONSTRAINT, BookingState
from tests import factories_meetings as mf
from tests.timeline import now

START = now() + timedelta(days=1)


@pytest.fixture
def head(dbsession):
    return mf.head()


@pytest.fixture
def asker(dbsession):
    return mf.enterprise_user()


def write(dbsession, head, asker, start=START, minutes=30, **kw):
    with dbsession.begin_nested():
        return mf.BookingFactory(
            head_user=head,
            requester_user=asker,
            start=start,
            ends_at=start + timedelta(minutes=minutes),
            blocked_until=start + timedelta(minutes=minutes),
            **kw,
        )


def change(dbsession, booking, **values) -> None:
    with dbsession.begin_nested():
        for name, value in values.items():
            setattr(booking, name, value)
        dbsession.flush()


def refused(dbsession, head, asker, **kw) -> str:
    with pytest.raises(IntegrityError) as info:
        write(dbsession, head, asker, **kw)
    assert OVERLAP_CONSTRAINT in str(info.value.orig)
    return str(info.value.orig)


@pytest.mark.parametrize("state", ["requested", "confirmed", "rescheduled"])
def test_an_active_booking_holds_its_time(dbsession, head, asker, state):
    write(dbsession, head, asker, state=state)
    refused(dbsession, head, asker)
    refused(dbsession, head, asker, start=START + timedelta(minutes=29))
    refused(dbsession, head, asker, start=START - timedelta(minutes=29))
    refused(dbsession, head, asker, start=START - timedelta(minutes=5), minutes=60)


def test_touching_ranges_do_not_overlap(dbsession, head, asker):
    write(dbsession, head, asker)
    write(dbsession, head, asker, start=START + timedelta(minutes=30))
    write(dbsession, head, asker, start=START - timedelta(minutes=30))


@pytest.mark.parametrize("state", ["declined", "cancelled", "completed", "no_show"])
def test_closed_bookings_hold_nothing(dbsession, head, asker, state):
    write(dbsession, head, asker, state=state)
    write(dbsession, head, asker)


def test_other_heads_are_independent(dbsession, head, asker):
    write(dbsession, head, asker)
    write(dbsession, mf.head(), asker)


def test_buffers_are_part_of_the_held_time(dbsession, head, asker):
    with dbsession.begin_nested():
        mf.BookingFactory(
            head_user=head,
            requester_user=asker,
            start=START,
            blocked_until=START + timedelta(minutes=45),  # 15 minutes' buffer after
        )
    refused(dbsession, head, asker, start=START + timedelta(minutes=40))
    write(dbsession, head, asker, start=START + timedelta(minutes=45))


def test_reviving_or_moving_onto_held_time_is_refused_too(dbsession, head, asker):
    write(dbsession, head, asker)
    closed = write(dbsession, head, asker, state=BookingState.CANCELLED.value)
    with pytest.raises(IntegrityError) as info:
        change(dbsession, closed, state=BookingState.CONFIRMED.value)
    assert OVERLAP_CONSTRAINT in str(info.value.orig)
    later = write(dbsession, head, asker, start=START + timedelta(hours=2))
    with pytest.raises(IntegrityError):
        change(dbsession, later, blocked_from=START + timedelta(minutes=10))
