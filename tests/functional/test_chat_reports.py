"""Chat reports per department: first response, handling time, missed, ratings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.chat.models import CloseReason, ConvState
from portal.chat.reports import bounds, duration, figures, percent
from portal.departments.oversight import EVERYTHING, Oversight
from portal.roles import Role
from tests import factories
from tests.factories_chat import ConversationFactory, staff_of
from tests.timeline import START


@pytest.fixture
def depts(dbsession):
    return (
        factories.DepartmentFactory(name="江门市商务局", sort_order=1),
        factories.DepartmentFactory(name="江门市交通运输局", sort_order=2),
    )


def chat(dept, *, opened=0, response=None, claimed=None, closed=None, rating=None):
    """A conversation opened ``opened`` minutes after START; the other times are
    seconds after its opening (None: never happened)."""
    at = START + timedelta(minutes=opened)
    after = lambda s: at + timedelta(seconds=s) if s is not None else None  # noqa: E731
    return ConversationFactory(
        department=dept,
        state=ConvState.CLOSED.value if closed is not None else ConvState.OPEN.value,
        created_at=at,
        claimed_at=after(claimed),
        first_response_at=after(response),
        closed_at=after(closed),
        close_reason=(CloseReason.ABANDONED if claimed is None else CloseReason.STAFF)
        if closed is not None
        else None,
        rating=rating,
    )


@pytest.fixture
def chats(dbsession, depts):
    trade, transport = depts
    chat(trade, response=30, claimed=10, closed=610, rating=5)
    chat(trade, response=90, claimed=60, closed=960, rating=2)
    chat(trade, response=600, claimed=500, closed=1400, rating=3)
    chat(trade, closed=120)  # left the queue: missed
    chat(trade, response=20, claimed=5)  # still open
    chat(transport, response=45, claimed=15, closed=315, rating=4)
    chat(trade, opened=60 * 24 * 40, response=1, claimed=1, closed=2)  # outside the period


def test_figures_per_department(dbsession, depts, chats):
    rows, total = figures(dbsession, EVERYTHING, START, START + timedelta(days=1))

    assert [r.name for r in rows] == ["江门市商务局", "江门市交通运输局"]
    row = rows[0]
    assert (row.total, row.closed, row.missed) == (5, 4, 1)
    assert row.first_response_avg == (30 + 90 + 600 + 20) / 4
    assert row.first_response_p90 == 600
    assert row.handling_avg == (600 + 900 + 900) / 3
    assert row.ratings == {5: 1, 4: 0, 3: 1, 2: 1, 1: 0}
    assert row.satisfaction == 2 / 3
    assert row.missed_rate == 1 / 4
    assert (total.total, total.missed, total.rated) == (6, 1, 4)
    assert total.average_rating == (5 + 2 + 3 + 4) / 4


def test_a_leader_sees_his_departments_even_without_chats(dbsession, depts, chats):
    quiet = factories.DepartmentFactory(name="江门市林业局")
    rows, total = figures(
        dbsession,
        Oversight(department_ids=frozenset({depts[1].id, quiet.id})),
        START,
        START + timedelta(days=1),
    )
    assert [(r.name, r.total) for r in rows] == [("江门市交通运输局", 1), ("江门市林业局", 0)]
    assert total.total == 1


def test_formatting():
    assert duration(None) == ""
    assert duration(65.4) == "1:05"
    assert duration(3725) == "1:02:05"
    assert percent(2 / 3) == "66.7%"
    start, end = bounds(START.date(), START.date())
    assert (end - start) == timedelta(days=1)
    assert start.utcoffset() == timedelta(hours=8)


def test_the_report_page_and_its_csv(testapp, login, dbsession, depts, chats):
    login(factories.UserFactory(roles=[Role.SUPERVISOR]))
    page = testapp.get("/chat/reports?from=2026-03-01&to=2026-03-02")
    rows = page.html.select(".report-table tbody tr")
    assert [r.select_one("th").get_text() for r in rows] == [
        "江门市商务局",
        "江门市交通运输局",
        "合计",
    ]
    cells = [td.get_text().strip() for td in rows[0].select("td")]
    assert cells[:5] == ["5", "1 （25.0%）", "3:05", "10:00", "13:20"]

    csv = testapp.get("/chat/reports?from=2026-03-01&to=2026-03-02&format=csv")
    assert csv.content_type == "text/csv"
    lines = csv.body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("部门,咨询量,未接待")
    assert lines[1].startswith("江门市商务局,5,1,3:05,10:00,13:20,1,0,1,1,0,66.7%")


def test_heads_see_their_department_only_and_staff_no_reports(
    testapp, login, dbsession, depts, chats
):
    login(staff_of(depts[1], role=Role.HEAD))
    page = testapp.get("/chat/reports?from=2026-03-01&to=2026-03-02")
    assert [r.select_one("th").get_text() for r in page.html.select(".report-table tbody tr")] == [
        "江门市交通运输局",
        "合计",
    ]
    testapp.reset()
    login(staff_of(depts[1]))
    testapp.get("/chat/reports", status=403)


def test_bad_dates_fall_back_to_the_last_30_days(testapp, login, dbsession):
    login(factories.UserFactory(roles=[Role.SUPERVISOR]))
    page = testapp.get("/chat/reports?from=yesterday&to=2026-13-45")
    assert page.html.select_one("input[name=from]")["value"] == "2026-02-01"
    assert page.html.select_one("input[name=to]")["value"] == "2026-03-02"
