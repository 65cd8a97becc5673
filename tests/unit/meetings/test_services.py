"""BookingService against the real database: requests, every refusal, the state
machine, invites (parsed with icalendar), links, materials, reminders, availability."""

from __future__ import annotations

import io
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from zope.interface.verify import verifyClass, verifyObject

from portal.clock import LOCAL_TZ
from portal.errors import InputError
from portal.meetings.interfaces import BookingError, IBookingService, LinkError, SlotTaken
from portal.meetings.models import Booking, BookingEvent, BookingMaterial, BookingState, Side
from portal.meetings.services import BookingService
from tests import factories
from tests import factories_meetings as mf
from tests.unit.meetings.mailparse import invite, outbox, text_of

TUESDAY = date(2026, 3, 3)  # the clock starts on Monday 2026-03-02 09:30 (Beijing)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.fixture
def head(dbsession):
    user = mf.head(display_name="陈局长", email="head@example.gov.cn")
    mf.SlotRulesFactory(department_id=user.department_id, buffer_after_minutes=10)
    return user


@pytest.fixture
def asker(dbsession):
    return mf.enterprise_user(display_name="李经理", email="li@example.com")


def count(db: Any, model: Any, head: Any) -> int:
    """Rows of ``model`` about ``head`` (other tests may have committed bookings)."""
    query = select(func.count()).select_from(model)
    if model is BookingMaterial:
        query = query.join(Booking)
    return int(db.scalar(query.where(Booking.head_id == head.id)))


def book(svc, asker, head, start=None, **kw) -> Booking:
    return svc.request(asker, head, start or at(TUESDAY, 10), kw.pop("topic", "项目用地咨询"), **kw)


def test_conforms_to_its_interface(svc):
    assert verifyClass(IBookingService, BookingService)
    assert verifyObject(IBookingService, svc)


# -- a request -------------------------------------------------------------------------------
def test_a_request_holds_the_slot_and_mails_both_sides_an_invite(svc, dbsession, head, asker):
    booking = book(svc, asker, head, details="关于新厂房用地")
    assert booking.state == BookingState.REQUESTED
    assert (booking.starts_at, booking.ends_at) == (at(TUESDAY, 10), at(TUESDAY, 10, 30))
    assert (booking.blocked_from, booking.blocked_until) == (at(TUESDAY, 10), at(TUESDAY, 10, 40))
    assert booking.enterprise_id == asker.enterprise_id
    assert booking.department_id == head.department_id
    assert [e.action for e in booking.events] == ["request"]
    mails = outbox(dbsession)
    assert sorted(m.recipients for m in mails) == ["head@example.gov.cn", "li@example.com"]
    for row in mails:
        cal, event, method = invite(row)
        assert method == "REQUEST"
        assert str(cal["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == booking.uid
        assert int(event["SEQUENCE"]) == 0
        assert str(event["STATUS"]) == "TENTATIVE"
        assert event.decoded("DTSTART") == at(TUESDAY, 10)
        assert event.decoded("DTEND") == at(TUESDAY, 10, 30)
        assert "项目用地咨询" in str(event["SUMMARY"])
        assert "mailto:head@example.gov.cn" in str(event["ORGANIZER"])
    text = text_of(next(m for m in mails if m.recipients == "li@example.com"))
    assert "项目用地咨询" in text
    assert "2026-03-03 10:00–10:30" in text
    assert "/meetings/link/" in text  # the signed reschedule/cancel link
    assert "待确认" in mails[0].subject or "预约" in mails[0].subject


def test_the_free_slots_no_longer_offer_a_held_slot(svc, head, asker):
    before = {s.starts_at for s in svc.free_slots(head, TUESDAY, TUESDAY)}
    book(svc, asker, head)
    after = {s.starts_at for s in svc.free_slots(head, TUESDAY, TUESDAY)}
    # 10:00 is held, and with the 10-minute buffer after it 10:30 would overlap too? No:
    # 10:30 blocks 10:30–11:10, the booking blocks 10:00–10:40 → overlap, so it goes.
    assert before - after == {at(TUESDAY, 10), at(TUESDAY, 9, 30), at(TUESDAY, 10, 30)}


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(date(2026, 3, 2), 9), "past"),
        (at(date(2026, 3, 2), 10), "notice"),  # 30 minutes from now, notice is 60
        (at(date(2026, 3, 7), 10), "weekend"),
        (at(date(2026, 3, 31), 14, 30), "outside_availability"),  # no afternoon? it is open…
        (at(TUESDAY, 13), "outside_availability"),
        (at(TUESDAY, 9, 10), "outside_availability"),
        (at(date(2026, 4, 20), 10), "beyond_window"),
        (at(date(2026, 4, 6), 10), "holiday"),  # 清明节 (horizon would also refuse it)
    ],
)
def test_bad_starts_are_refused_with_their_reason_and_nothing_is_kept(
    svc, dbsession, head, asker, start, code
):
    if code == "outside_availability" and start.astimezone(LOCAL_TZ).hour == 14:
        start = at(TUESDAY, 12, 30)  # lunch: between the morning and afternoon hours
    if code == "holiday":
        svc.set_rules(head.department_id, {"horizon_days": 60}, head)
    with pytest.raises(BookingError) as info:
        book(svc, asker, head, start)
    assert info.value.code == code
    assert info.value.field == "slot"
    assert count(dbsession, Booking, head) == 0
    assert outbox(dbsession) == []


def test_a_taken_slot_gets_slot_taken(svc, dbsession, head, asker):
    book(svc, asker, head)
    other = mf.enterprise_user()
    with pytest.raises(SlotTaken) as info:
        book(svc, other, head)
    assert info.value.code == "slot_taken"
    assert info.value.field == "slot"
    assert count(dbsession, Booking, head) == 1


def test_the_daily_cap(svc, head, asker):
    svc.set_rules(head.department_id, {"daily_cap": 2}, head)
    book(svc, asker, head, at(TUESDAY, 9))
    book(svc, asker, head, at(TUESDAY, 11))
    with pytest.raises(BookingError) as info:
        book(svc, asker, head, at(TUESDAY, 14, 30))
    assert info.value.code == "day_full"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"topic": "  "}, "topic"),
        ({"topic": "议" * 201}, "topic"),
        ({"details": "x" * 2001}, "details"),
    ],
)
def test_topic_and_details(svc, head, asker, kw, code):
    with pytest.raises(BookingError) as info:
        book(svc, asker, head, **kw)
    assert info.value.code == code


def test_only_enterprise_users_book_and_only_heads_are_booked(svc, head, asker, dbsession):
    staff = mf.staff(head.department)
    with pytest.raises(BookingError) as info:
        book(svc, staff, head)
    assert info.value.code == "not_enterprise"
    with pytest.raises(BookingError) as info:
        book(svc, asker, staff)
    assert info.value.code == "not_head"
    head.is_active = False
    with pytest.raises(BookingError) as info:
        book(svc, asker, head)
    assert info.value.code == "not_head"


# -- materials -------------------------------------------------------------------------------
def test_materials_pass_the_portal_upload_checks(svc, dbsession, head, asker):
    booking = book(svc, asker, head, materials=[("方案.pdf", io.BytesIO(PDF))])
    assert [(m.filename, m.media_type, m.size) for m in booking.materials] == [
        ("方案.pdf", "application/pdf", len(PDF))
    ]
    with open(svc.storage.path(booking.materials[0].id), "rb") as stored:
        assert stored.read() == PDF


@pytest.mark.parametrize(
    ("name", "data"),
    [("假的.pdf", b"<html>not a pdf</html>"), ("程序.exe", b"MZ\x90\x00"), ("空.pdf", b"")],
)
def test_a_bad_material_refuses_the_whole_request(svc, dbsession, head, asker, name, data):
    with pytest.raises(InputError) as info:
        book(svc, asker, head, materials=[("好的.pdf", io.BytesIO(PDF)), (name, io.BytesIO(data))])
    assert info.value.field == "upload"
    assert count(dbsession, Booking, head) == 0
    assert count(dbsession, BookingMaterial, head) == 0
    assert outbox(dbsession) == []


# -- the state machine, with the invites it sends ---------------------------------------------
def test_confirm_reschedule_cancel_keep_the_uid_and_raise_the_sequence(svc, dbsession, head, asker):
    booking = book(svc, asker, head)
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    svc.reschedule(booking, at(TUESDAY, 11), asker, Side.ENTERPRISE, "临时有会")
    assert booking.state == BookingState.RESCHEDULED
    assert booking.proposed_by == Side.ENTERPRISE
    assert not booking.is_agreed  # the department confirms the new time
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    svc.transition(booking, "cancel", asker, Side.ENTERPRISE, "项目暂缓")
    rows = [r for r in outbox(dbsession) if r.recipients == "li@example.com"]
    seen = [invite(r) for r in rows]
    assert [int(e["SEQUENCE"]) for _c, e, _m in seen] == [0, 1, 2, 3, 4]
    assert {str(e["UID"]) for _c, e, _m in seen} == {booking.uid}
    assert [m for _c, _e, m in seen] == ["REQUEST", "REQUEST", "REQUEST", "REQUEST", "CANCEL"]
    assert [str(e["STATUS"]) for _c, e, _m in seen] == [
        "TENTATIVE", "CONFIRMED", "CONFIRMED", "CONFIRMED", "CANCELLED"
    ]  # fmt: skip
    assert seen[2][1].decoded("DTSTART") == at(TUESDAY, 11)
    assert "项目暂缓" in text_of(rows[-1])
    history = [(e.action, e.from_state, e.to_state, e.side) for e in booking.events]
    assert history == [
        ("request", "", "requested", "enterprise"),
        ("confirm", "requested", "confirmed", "department"),
        ("reschedule", "confirmed", "rescheduled", "enterprise"),
        ("confirm", "rescheduled", "confirmed", "department"),
        ("cancel", "confirmed", "cancelled", "enterprise"),
    ]
    assert booking.events[2].previous_start == at(TUESDAY, 10)


def test_a_department_reschedule_needs_no_confirmation(svc, head, asker):
    booking = book(svc, asker, head)
    svc.reschedule(booking, at(TUESDAY, 11), head, Side.DEPARTMENT)
    assert booking.is_agreed
    assert booking.is_meeting_time(at(TUESDAY, 10, 55))
    assert not booking.is_meeting_time(at(TUESDAY, 10, 45))


def test_rescheduling_frees_the_old_slot(svc, head, asker):
    booking = book(svc, asker, head)
    svc.reschedule(booking, at(TUESDAY, 11), asker, Side.ENTERPRISE)
    other = book(svc, mf.enterprise_user(), head, at(TUESDAY, 10))
    assert other.state == BookingState.REQUESTED


def test_rescheduling_onto_a_taken_slot_changes_nothing(svc, dbsession, head, asker):
    first = book(svc, asker, head, at(TUESDAY, 9))
    second = book(svc, mf.enterprise_user(), head, at(TUESDAY, 11))
    with pytest.raises(SlotTaken):
        svc.reschedule(second, at(TUESDAY, 9), head, Side.DEPARTMENT)
    dbsession.refresh(second)
    assert second.starts_at == at(TUESDAY, 11)
    assert second.sequence == 0
    assert first.state == BookingState.REQUESTED


def test_decline_needs_a_reason(svc, dbsession, head, asker):
    booking = book(svc, asker, head)
    with pytest.raises(BookingError) as info:
        svc.transition(booking, "decline", head, Side.DEPARTMENT, "  ")
    assert info.value.code == "reason"
    svc.transition(booking, "decline", head, Side.DEPARTMENT, "请先通过线上平台提交材料")
    assert booking.state == BookingState.DECLINED
    assert booking.reason.startswith("请先")
    row = [r for r in outbox(dbsession) if r.recipients == "li@example.com"][-1]
    assert invite(row)[2] == "CANCEL"
    # a declined booking frees its slot
    assert book(svc, mf.enterprise_user(), head).state == BookingState.REQUESTED


def test_the_enterprise_cannot_confirm_its_own_request(svc, head, asker):
    booking = book(svc, asker, head)
    with pytest.raises(BookingError) as info:
        svc.transition(booking, "confirm", asker, Side.ENTERPRISE)
    assert info.value.code == "wrong_side"


def test_impossible_transitions_are_refused(svc, head, asker):
    booking = book(svc, asker, head)
    svc.transition(booking, "cancel", asker, Side.ENTERPRISE)
    for action in ("confirm", "cancel", "complete"):
        with pytest.raises(BookingError) as info:
            svc.transition(booking, action, head, Side.DEPARTMENT)
        assert info.value.code == "bad_transition"


def test_outcome_only_after_the_start_and_changes_only_before(svc, clock, head, asker):
    booking = book(svc, asker, head)
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    with pytest.raises(BookingError) as info:
        svc.transition(booking, "complete", head, Side.DEPARTMENT)
    assert info.value.code == "too_early"
    clock._at = at(TUESDAY, 10, 5)
    with pytest.raises(BookingError) as info:
        svc.transition(booking, "cancel", asker, Side.ENTERPRISE)
    assert info.value.code == "started"
    svc.transition(booking, "complete", head, Side.DEPARTMENT)
    assert booking.state == BookingState.COMPLETED


def test_no_show(svc, clock, head, asker):
    booking = book(svc, asker, head)
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    clock._at = at(TUESDAY, 10, 40)
    svc.transition(booking, "no_show", head, Side.DEPARTMENT)
    assert booking.state == BookingState.NO_SHOW
    assert not booking.is_active


# -- signed links ----------------------------------------------------------------------------
def test_links_work_until_the_booking_changes(svc, head, asker, clock):
    booking = book(svc, asker, head)
    token = svc.link_token(booking, Side.ENTERPRISE)
    assert svc.check_link(None, token, clock.now()) == (booking, Side.ENTERPRISE)
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    with pytest.raises(LinkError) as info:
        svc.check_link(None, token, clock.now())
    assert info.value.code == "link_outdated"
    fresh = svc.link_token(booking, Side.DEPARTMENT)
    assert svc.check_link(booking.id, fresh, clock.now())[1] == Side.DEPARTMENT
    with pytest.raises(LinkError) as info:
        svc.check_link(booking.id, fresh, booking.starts_at)
    assert info.value.code == "link_expired"
    with pytest.raises(LinkError) as info:
        svc.check_link(booking.id, fresh[:-3] + "abc", clock.now())
    assert info.value.code == "link_forged"
    with pytest.raises(LinkError) as info:
        svc.check_link(booking.id + 1, fresh, clock.now())
    assert info.value.code == "link_forged"


# -- reminders -------------------------------------------------------------------------------
def test_reminders_a_day_and_15_minutes_before_once_each(svc, dbsession, head, asker):
    booking = book(svc, asker, head)
    pending = book(svc, mf.enterprise_user(email="p@example.com"), head, at(TUESDAY, 11))
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    start = booking.starts_at
    assert svc.send_reminders(start - timedelta(hours=25)) == 0
    assert svc.send_reminders(start - timedelta(hours=23)) == 2
    assert svc.send_reminders(start - timedelta(hours=22)) == 0  # idempotent
    assert svc.send_reminders(start - timedelta(minutes=14)) == 2
    assert svc.send_reminders(start - timedelta(minutes=5)) == 0
    rows = outbox(dbsession, "meetings.reminder")
    assert len(rows) == 4
    assert pending.state == BookingState.REQUESTED
    assert {r.recipients for r in rows} == {"li@example.com", "head@example.gov.cn"}
    assert "明天" in rows[0].subject or "提醒" in rows[0].subject


def test_a_moved_booking_is_reminded_again_for_its_new_time(svc, dbsession, head, asker, clock):
    booking = book(svc, asker, head, at(TUESDAY, 9))
    svc.transition(booking, "confirm", head, Side.DEPARTMENT)
    assert svc.send_reminders(clock.now()) == 2  # Tuesday 09:00 is within a day
    svc.reschedule(booking, at(TUESDAY, 9, 30), head, Side.DEPARTMENT)
    assert svc.send_reminders(clock.now()) == 2
    assert svc.send_reminders(clock.now()) == 0


def test_the_reminder_job_commits_its_own_work_and_is_safe_twice(app, engine, clock):
    from sqlalchemy.orm import Session

    from bench.booking_race import cleanup_fixture, setup_fixture
    from portal.mail.models import OutboxMail
    from portal.meetings import reminder_job

    fx = setup_fixture(engine, 1, clock.now())
    try:
        with Session(engine) as db, db.begin():
            start = at(TUESDAY, 9)  # 23.5 hours ahead: the day-before reminder is due
            booking = Booking(
                uid="reminder-job@test", department_id=fx.department_id, head_id=fx.head_id,
                enterprise_id=fx.enterprise_id, requester_id=fx.user_ids[0], topic="提醒测试",
                details="", state="confirmed", starts_at=start,
                ends_at=start + timedelta(minutes=30), blocked_from=start,
                blocked_until=start + timedelta(minutes=30), proposed_by="enterprise",
                sequence=1, reason="", created_at=clock.now(), updated_at=clock.now(),
            )  # fmt: skip
            db.add(booking)
            db.flush()
            key = f"meetings:reminder:{booking.id}:%"
        assert reminder_job(app.registry, clock.now()) >= 2
        assert reminder_job(app.registry, clock.now()) == 0
        with Session(engine) as db:
            sent = db.scalars(select(OutboxMail).where(OutboxMail.dedupe_key.like(key))).all()
            assert sorted(m.dedupe_key.rsplit(":", 2)[1] for m in sent) == ["day", "day"]
    finally:
        _cleanup_reminders(engine, fx)
        cleanup_fixture(engine, fx)


def _cleanup_reminders(engine: Any, fx: Any) -> None:
    from sqlalchemy.orm import Session

    from portal.mail.models import OutboxMail

    with Session(engine) as db, db.begin():
        ids = db.scalars(select(Booking.id).where(Booking.head_id == fx.head_id)).all()
        for booking_id in ids:
            db.execute(
                delete(OutboxMail).where(
                    OutboxMail.dedupe_key.like(f"meetings:reminder:{booking_id}:%")
                )
            )


# -- availability ------------------------------------------------------------------------------
def test_staff_keep_availability_for_their_head_but_not_for_others(svc, dbsession, head):
    staff = mf.staff(head.department)
    svc.set_weekly(head, [(0, time(14), time(16))], staff)
    slots = svc.free_slots(head, date(2026, 3, 9), date(2026, 3, 13))
    assert {s.local_start.date() for s in slots} == {date(2026, 3, 9)}
    outsider = mf.staff(factories.DepartmentFactory())
    with pytest.raises(BookingError) as info:
        svc.set_weekly(head, [], outsider)
    assert info.value.code == "not_keeper"
    with pytest.raises(BookingError) as info:
        svc.set_rules(head.department_id, {"daily_cap": 1}, outsider)
    assert info.value.code == "not_keeper"


def test_overlapping_weekly_periods_are_refused(svc, head):
    with pytest.raises(BookingError) as info:
        svc.set_weekly(head, [(1, time(9), time(11)), (1, time(10), time(12))], head)
    assert info.value.code == "overlap"


def test_date_overrides(svc, head):
    svc.add_override(head, TUESDAY, None, None, "出差", head)
    assert svc.free_slots(head, TUESDAY, TUESDAY) == []
    with pytest.raises(BookingError) as info:
        book(svc, mf.enterprise_user(), head)
    assert info.value.code == "outside_availability"
    with pytest.raises(BookingError):
        svc.add_override(head, date(2026, 3, 4), time(11), time(10), "", head)
    with pytest.raises(BookingError) as info:
        svc.add_override(head, date(2026, 3, 1), None, None, "", head)
    assert info.value.code == "override_past"


def test_events_record_the_actor(svc, dbsession, head, asker):
    booking = book(svc, asker, head)
    svc.transition(booking, "cancel", None, Side.DEPARTMENT)  # through a signed link
    actors = dbsession.scalars(select(BookingEvent.actor_id).order_by(BookingEvent.id)).all()
    assert actors == [asker.id, None]


def test_refusals_are_logged(svc, head, asker, caplog, clock):
    caplog.set_level(logging.WARNING, logger="portal.meetings")
    with pytest.raises(BookingError):
        book(svc, asker, head, at(date(2026, 3, 7), 10))
    with pytest.raises(LinkError):
        svc.check_link(None, "forged.token", clock.now())
    assert "booking refused: weekend" in caplog.text
    assert "booking link refused: forged" in caplog.text
