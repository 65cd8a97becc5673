"""Booking journeys through the web pages: an enterprise books a head's slot, the
head confirms it, either side changes it through the signed link in the mail, and
every kind of bad input gets its own Chinese answer and changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select
from webtest import Upload

from portal.clock import LOCAL_TZ
from portal.meetings.models import Booking, BookingMaterial, BookingState
from portal.meetings.parsing import slot_value
from portal.roles import Role
from tests import factories
from tests import factories_meetings as mf
from tests.unit.meetings.mailparse import invite, mark, outbox, text_of

TUESDAY = date(2026, 3, 3)  # the test clock: Monday 2026-03-02 09:30 in Beijing
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.fixture(autouse=True)
def _bind(dbsession: Any) -> None:
    mf.bind(dbsession)
    mark(dbsession)


@pytest.fixture
def head(dbsession):
    department = factories.DepartmentFactory(name="市商务局", short_name="商务局")
    user = mf.head(department, display_name="陈局长", email="chen@example.gov.cn", title="局长")
    mf.SlotRulesFactory(department_id=department.id)
    return user


@pytest.fixture
def asker(dbsession):
    enterprise = factories.EnterpriseFactory(name="江门智造有限公司")
    return mf.enterprise_user(enterprise=enterprise, email="li@example.com", display_name="李经理")


def bookings(db: Any, head: Any) -> int:
    return int(db.scalar(select(func.count()).where(Booking.head_id == head.id)))


def booking_form(page: Any) -> Any:
    return next(f for f in page.forms.values() if "topic" in f.fields)


def request_slot(testapp, head, start, topic="新厂房项目用地咨询", status=303, **files):
    page = testapp.get(f"/meetings/heads/{head.id}")
    form = booking_form(page)
    form["slot"].force_value(slot_value(start))
    form["topic"] = topic
    for name, upload in files.items():
        form[name] = [upload]  # a <input type=file multiple>
    return form.submit(status=status)


# -- the enterprise books ------------------------------------------------------------------
def test_an_enterprise_books_a_slot_and_sees_it_in_my_bookings(
    testapp, login, dbsession, head, asker
):
    entry = testapp.get("/meetings")
    assert "市商务局" in entry.text
    assert "陈局长" in entry.text
    login(asker)
    page = testapp.get(f"/meetings/heads/{head.id}")
    assert "2026-03-03" in page.text
    assert "10:00–10:30" in page.text
    assert slot_value(at(TUESDAY, 10)) in page.text
    assert slot_value(at(date(2026, 3, 7), 10)) not in page.text  # Saturday
    done = request_slot(testapp, head, at(TUESDAY, 10)).follow()
    assert "待确认" in done.text
    assert "新厂房项目用地咨询" in done.text
    assert "预约申请已提交" in done.text
    booking = dbsession.scalar(select(Booking).where(Booking.head_id == head.id))
    assert booking.requester_id == asker.id
    assert booking.state == BookingState.REQUESTED
    assert len(outbox(dbsession)) == 2
    mine = testapp.get("/meetings/mine")
    assert "新厂房项目用地咨询" in mine.text
    assert "待确认" in mine.text
    # the slot is no longer offered
    again = testapp.get(f"/meetings/heads/{head.id}")
    assert slot_value(at(TUESDAY, 10)) not in again.text


def test_materials_are_uploaded_checked_and_downloadable_by_the_head(
    testapp, login, dbsession, head, asker
):
    login(asker)
    request_slot(
        testapp, head, at(TUESDAY, 10), materials=Upload("项目方案.pdf", PDF, "application/pdf")
    )
    material = dbsession.scalar(
        select(BookingMaterial).join(Booking).where(Booking.head_id == head.id)
    )
    assert material.filename == "项目方案.pdf"
    testapp.reset()
    login(head)
    got = testapp.get(f"/meetings/materials/{material.id}/x.pdf")
    assert got.body == PDF
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment")


def test_a_fake_pdf_refuses_the_whole_request(testapp, login, dbsession, head, asker):
    login(asker)
    page = request_slot(
        testapp,
        head,
        at(TUESDAY, 10),
        status=400,
        materials=Upload("方案.pdf", b"<html>", "application/pdf"),
    )
    assert "文件内容与扩展名" in page.text or "扩展名" in page.text
    assert bookings(dbsession, head) == 0
    assert outbox(dbsession) == []


@pytest.mark.parametrize(
    ("start", "status", "words"),
    [
        (at(date(2026, 3, 2), 9), 400, "该时间已过"),
        (at(date(2026, 3, 7), 10), 400, "不是工作日"),
        (at(date(2026, 4, 6), 10), 400, "法定节假日"),  # 清明节
        (at(TUESDAY, 13), 400, "不接待"),
        (at(date(2026, 4, 20), 10), 400, "最多只能预约 30 天"),
    ],
)
def test_bad_slots_get_specific_chinese_answers(
    testapp, login, dbsession, head, asker, start, status, words
):
    if words == "法定节假日":
        rules = dbsession.get(mf.SlotRules, head.department_id)
        rules.horizon_days = 60
    login(asker)
    page = request_slot(testapp, head, start, status=status)
    assert words in page.text
    assert bookings(dbsession, head) == 0


def test_a_taken_slot_is_answered_409(testapp, login, dbsession, head, asker):
    mf.BookingFactory(head_user=head, requester_user=mf.enterprise_user(), start=at(TUESDAY, 10))
    login(asker)
    page = request_slot(testapp, head, at(TUESDAY, 10), status=409)
    assert "该时段已被预约" in page.text
    assert bookings(dbsession, head) == 1


@pytest.mark.parametrize(
    ("value", "words"),
    [("", "请选择一个时段"), ("tomorrow", "该时段无效"), ("2026-03-03T10:00", "该时段无效")],
)
def test_malformed_slot_values(testapp, login, head, asker, value, words):
    login(asker)
    page = testapp.get(f"/meetings/heads/{head.id}")
    form = booking_form(page)
    form["slot"].force_value(value)
    form["topic"] = "咨询"
    assert words in form.submit(status=400).text


def test_a_topic_is_required(testapp, login, head, asker):
    login(asker)
    page = request_slot(testapp, head, at(TUESDAY, 10), topic="   ", status=400)
    assert "请填写会谈主题" in page.text


def test_only_enterprises_book(testapp, login, head):
    staff = mf.staff(head.department)
    login(staff)
    page = testapp.get(f"/meetings/heads/{head.id}")
    assert "请使用企业账号登录后预约" in page.text
    testapp.post(f"/meetings/heads/{head.id}", {"slot": "x"}, status=403)


def test_unknown_heads_are_404(testapp, head):
    staff = mf.staff(head.department)
    testapp.get(f"/meetings/heads/{staff.id}", status=404)
    testapp.get("/meetings/heads/99999", status=404)
    testapp.get("/meetings/heads/abc", status=404)


# -- the department side ---------------------------------------------------------------------
def test_the_head_confirms_from_the_calendar(testapp, login, dbsession, head, asker):
    booking = mf.BookingFactory(
        head_user=head, requester_user=asker, start=at(TUESDAY, 10), state="requested"
    )
    login(head)
    calendar = testapp.get("/meetings/calendar")
    assert "待您确认" in calendar.text
    assert booking.topic in calendar.text
    assert "法定节假日" not in calendar.text
    assert "工作日" in calendar.text
    form = next(
        f
        for f in calendar.forms.values()
        if f.get("action", default=None) is not None and f["action"].value == "confirm"
    )
    page = form.submit(status=303).follow()
    assert "已确认" in page.text
    assert booking.state == BookingState.CONFIRMED
    assert booking.sequence == 1
    _cal, event, method = invite(outbox(dbsession)[0])
    assert method == "REQUEST"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_the_calendar_marks_holidays_and_tiaoxiu_days(testapp, login, head):
    login(head)
    page = testapp.get("/meetings/calendar?week=2026-05-04")
    assert "法定节假日" in page.text
    assert "调休上班" in page.text


def test_declining_needs_a_reason(testapp, login, dbsession, head, asker):
    booking = mf.BookingFactory(
        head_user=head, requester_user=asker, start=at(TUESDAY, 10), state="requested"
    )
    login(head)
    page = testapp.get(f"/meetings/bookings/{booking.id}")
    form = next(
        f for f in page.forms.values() if "action" in f.fields and f["action"].value == "decline"
    )
    form["reason"] = ""
    after = form.submit(status=303).follow()
    assert "请填写原因" in after.text
    assert booking.state == BookingState.REQUESTED
    form = next(
        f for f in after.forms.values() if "action" in f.fields and f["action"].value == "decline"
    )
    form["reason"] = "请先在线提交用地材料"
    form.submit(status=303)
    assert booking.state == BookingState.DECLINED


def test_outsiders_cannot_see_a_booking(testapp, login, head, asker):
    booking = mf.BookingFactory(head_user=head, requester_user=asker, start=at(TUESDAY, 10))
    testapp.get(f"/meetings/bookings/{booking.id}", status=303)  # anonymous: to the login page
    login(mf.enterprise_user())
    testapp.get(f"/meetings/bookings/{booking.id}", status=403)
    testapp.post(f"/meetings/bookings/{booking.id}/action", {"action": "cancel"}, status=403)


def test_a_colleague_of_the_enterprise_can_see_and_cancel(testapp, login, head, asker):
    booking = mf.BookingFactory(head_user=head, requester_user=asker, start=at(TUESDAY, 10))
    login(mf.enterprise_user(enterprise=asker.enterprise))
    page = testapp.get(f"/meetings/bookings/{booking.id}")
    form = next(
        f for f in page.forms.values() if "action" in f.fields and f["action"].value == "cancel"
    )
    form.submit(status=303)
    assert booking.state == BookingState.CANCELLED


def test_reschedule_from_the_booking_page(testapp, login, dbsession, head, asker):
    booking = mf.BookingFactory(head_user=head, requester_user=asker, start=at(TUESDAY, 10))
    login(asker)
    page = testapp.get(f"/meetings/bookings/{booking.id}/reschedule")
    form = next(f for f in page.forms.values() if "slot" in f.fields)
    form["slot"].force_value(slot_value(at(TUESDAY, 11)))
    form.submit(status=303)
    assert booking.starts_at == at(TUESDAY, 11)
    assert booking.state == BookingState.RESCHEDULED
    _cal, event, _m = invite(outbox(dbsession)[-1])
    assert event.decoded("DTSTART") == at(TUESDAY, 11)
    assert int(event["SEQUENCE"]) == 1


# -- signed links ------------------------------------------------------------------------------
def mailed_link(dbsession, address: str) -> str:
    row = [r for r in outbox(dbsession) if r.recipients == address][-1]
    return re.search(r"https?://[^/\s]+(/meetings/link/\S+)", text_of(row)).group(1)


def test_the_enterprise_cancels_through_the_mailed_link_without_logging_in(
    testapp, login, dbsession, head, asker
):
    login(asker)
    request_slot(testapp, head, at(TUESDAY, 10))
    link = mailed_link(dbsession, "li@example.com")
    testapp.reset()  # a different browser: not logged in
    page = testapp.get(link)
    assert "您代表：企业" in page.text
    form = next(
        f for f in page.forms.values() if "action" in f.fields and f["action"].value == "cancel"
    )
    form["reason"] = "项目暂缓"
    form.submit(status=303).follow()
    booking = dbsession.scalar(select(Booking).where(Booking.head_id == head.id))
    assert booking.state == BookingState.CANCELLED
    assert booking.reason == "项目暂缓"
    _cal, event, method = invite(outbox(dbsession)[-1])
    assert method == "CANCEL"
    assert str(event["UID"]) == booking.uid
    # the old link is out of date now, and says so
    stale = testapp.get(link, status=400)
    assert "预约已有变更" in stale.text


def test_the_head_reschedules_through_the_link(testapp, login, dbsession, head, asker):
    login(asker)
    request_slot(testapp, head, at(TUESDAY, 10))
    link = mailed_link(dbsession, "chen@example.gov.cn")
    testapp.reset()
    page = testapp.get(link)
    form = next(
        f for f in page.forms.values() if "action" in f.fields and f["action"].value == "reschedule"
    )
    form["slot"].force_value(slot_value(at(TUESDAY, 11, 30)))
    form.submit(status=303)
    booking = dbsession.scalar(select(Booking).where(Booking.head_id == head.id))
    assert booking.starts_at == at(TUESDAY, 11, 30)
    assert booking.is_agreed


def test_forged_and_expired_links(testapp, login, dbsession, clock, head, asker):
    login(asker)
    request_slot(testapp, head, at(TUESDAY, 10))
    link = mailed_link(dbsession, "li@example.com")
    testapp.reset()
    forged = testapp.get(link[:-4] + "AAAA", status=400)
    assert "该链接无效" in forged.text
    assert "该链接无效" in testapp.get("/meetings/link/garbage", status=400).text
    clock._at = at(TUESDAY, 10, 1)
    expired = testapp.get(link, status=410)
    assert "已过期" in expired.text
    assert (
        dbsession.scalar(select(Booking).where(Booking.head_id == head.id)).state
        == BookingState.REQUESTED
    )


# -- availability and rules --------------------------------------------------------------------
def test_the_head_keeps_weekly_hours_and_overrides(testapp, login, dbsession, head):
    login(head)
    page = testapp.get("/meetings/availability")
    form = next(f for f in page.forms.values() if "day0" in f.fields)
    assert form["day0"].value == "09:00-12:00, 14:30-17:00"
    form["day0"] = "9点到12点"
    bad = form.submit(status=400)
    assert "时段请写成 09:00-11:30" in bad.text
    form = next(f for f in bad.forms.values() if "day0" in f.fields)
    form["day0"] = "09:00-10:00"
    for d in range(1, 5):
        form[f"day{d}"] = ""
    form.submit(status=303)
    svc_slots = testapp.get(f"/meetings/heads/{head.id}?from=2026-03-09")
    assert "2026-03-09：09:00、09:30</li>" in svc_slots.text
    page = testapp.get("/meetings/availability")
    form = next(f for f in page.forms.values() if "closed" in f.fields)
    form["day"] = "2026-03-09"
    form["closed"] = True
    form["note"] = "外出调研"
    form.submit(status=303)
    assert "外出调研" in testapp.get("/meetings/availability").text
    assert "2026-03-09：" not in testapp.get(f"/meetings/heads/{head.id}?from=2026-03-09").text


def test_staff_keep_rules_for_their_department(testapp, login, dbsession, head):
    staff = mf.staff(head.department)
    login(staff)
    page = testapp.get("/meetings/rules")
    form = next(f for f in page.forms.values() if "daily_cap" in f.fields)
    form["daily_cap"] = "0"
    assert "请输入 1 到 20 之间的数字" in form.submit(status=400).text
    form["daily_cap"] = "3"
    form["length_minutes"] = "45"
    form.submit(status=303)
    assert dbsession.get(mf.SlotRules, head.department_id).length_minutes == 45


def test_enterprises_cannot_reach_the_desk(testapp, login, asker):
    login(asker)
    testapp.get("/meetings/calendar", status=403)
    testapp.get("/meetings/availability", status=403)
    testapp.get("/meetings/rules", status=403)


def test_staff_of_another_department_cannot_keep_this_head(testapp, login, head):
    login(mf.staff(factories.DepartmentFactory()))
    testapp.get(f"/meetings/availability?head={head.id}", status=403)


def test_every_booking_post_without_the_token_is_refused(testapp, login, dbsession, head, asker):
    booking = mf.BookingFactory(head_user=head, requester_user=asker, start=at(TUESDAY, 10))
    override = mf.AvailabilityOverride(head_id=head.id, day=TUESDAY, note="")
    dbsession.add(override)
    dbsession.flush()
    token = make_service_for(testapp, dbsession).link_token(booking, mf.Side.ENTERPRISE)
    login(factories.UserFactory(roles=[Role.ADMIN]))  # passes every permission check
    urls = [
        f"/meetings/heads/{head.id}",
        f"/meetings/bookings/{booking.id}/action",
        f"/meetings/bookings/{booking.id}/reschedule",
        f"/meetings/link/{token}",
        "/meetings/availability",
        "/meetings/availability/overrides",
        f"/meetings/availability/overrides/{override.id}/delete",
        "/meetings/rules",
    ]
    for url in urls:
        for body in ({}, {"csrf_token": "forged"}):
            response = testapp.post(url, body, expect_errors=True)
            assert response.status_int == 400, url
            assert "表单已过期" in response.text, url
    assert booking.state == BookingState.CONFIRMED
    assert dbsession.get(mf.AvailabilityOverride, override.id) is not None


def make_service_for(testapp, dbsession):
    from portal.meetings import make_service

    return make_service(testapp.app.registry, dbsession, testapp.app.registry.settings["qzt.clock"])
