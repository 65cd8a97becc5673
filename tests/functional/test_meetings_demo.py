"""The demo accounts of `make run` book and confirm a video meeting on the real sample
data: every head has weekly hours, the 发改局 head has its own rules."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.meetings.models import Booking, BookingState, SlotRules, WeeklyAvailability
from portal.sampledata import DEMO_PASSWORD, load_sample_data
from portal.sampledata.meetings import load_availability


@pytest.fixture
def city(dbsession, settings):
    load_sample_data(dbsession, settings)
    return dbsession


def sign_in(testapp, login: str) -> None:
    testapp.reset()
    form = testapp.get("/login").forms["login"]
    form["login"] = login
    form["password"] = DEMO_PASSWORD
    form.submit("submit")


def test_every_head_receives_and_loading_twice_adds_nothing(city):
    heads_with_hours = set(city.scalars(select(WeeklyAvailability.head_id)))
    fgj = city.scalar(select(User).where(User.login == "fgj-head"))
    assert fgj.id in heads_with_hours
    assert len(heads_with_hours) == 58
    assert city.get(SlotRules, fgj.department_id).length_minutes == 20
    before = len(city.scalars(select(WeeklyAvailability.id)).all())
    load_availability(city)
    assert len(city.scalars(select(WeeklyAvailability.id)).all()) == before


def test_the_demo_enterprise_books_and_the_demo_head_confirms(testapp, city):
    fgj = city.scalar(select(User).where(User.login == "fgj-head"))
    sign_in(testapp, "enterprise")
    entry = testapp.get("/meetings")
    assert f"/meetings/heads/{fgj.id}" in entry.text
    page = testapp.get(f"/meetings/heads/{fgj.id}")
    form = next(f for f in page.forms.values() if "topic" in f.fields)
    first = re.search(r'name="slot" value="([^"]+)"', page.text).group(1)
    form["slot"] = first
    form["topic"] = "年度技改项目申报咨询"
    form.submit(status=303)
    booking = city.scalar(select(Booking).where(Booking.head_id == fgj.id))
    assert booking.state == BookingState.REQUESTED
    assert (booking.ends_at - booking.starts_at).total_seconds() == 20 * 60
    sign_in(testapp, "fgj-head")
    calendar = testapp.get("/meetings/calendar")
    assert "年度技改项目申报咨询" in calendar.text
    confirm = next(
        f
        for f in calendar.forms.values()
        if "action" in f.fields and f["action"].value == "confirm"
    )
    confirm.submit(status=303)
    assert booking.state == BookingState.CONFIRMED
    sign_in(testapp, "fgj-staff1")
    assert "年度技改项目申报咨询" in testapp.get(f"/meetings/bookings/{booking.id}").text
    testapp.get("/meetings/availability", status=200)
