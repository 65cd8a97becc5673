"""The leaders' dashboards: the same figures as the mail, live; who may see which;
naming a deputy (and the errors a bad entry gets)."""

from __future__ import annotations

from datetime import date, timedelta
from email.utils import getaddresses
from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.digests.models import LeaderDeputy
from portal.roles import Role
from tests import factories
from tests import factories_digests as fd
from tests.timeline import START


@pytest.fixture
def city(dbsession: Session) -> Any:
    city = fd.City(dbsession)
    city.fresh = fd.CaseFactory(
        department_id=city.a.id, title="今早的停电", received_at=START - timedelta(hours=2)
    )
    city.late = fd.CaseFactory(
        department_id=city.b.id, title="拖欠工资三个月", received_at=START - timedelta(days=30),
        close_due_at=START - timedelta(days=4),
    )  # fmt: skip
    city.other = fd.CaseFactory(
        department_id=city.c.id, title="住建的事", received_at=START - timedelta(hours=3)
    )
    dbsession.flush()
    return city


def test_a_leader_sees_the_live_figures_of_the_departments_they_supervise(testapp, login, city):
    login(city.wang_user)
    page = testapp.get("/leader")
    text = page.html.get_text(" ", strip=True)
    assert "分管部门诉求看板：王强（副市长）" in text
    assert city.a.name in text
    assert city.b.name in text
    assert "今早的停电" in text  # received this morning: the page is live
    assert "拖欠工资三个月" in text
    assert "住建的事" not in text  # 李敏's department
    assert page.html.select_one(f'a[href$="/cases/{city.late.id}"]') is not None
    overdue = page.html.select("strong.overdue")
    assert any("4 天" in s.get_text() for s in overdue)
    assert "陈秘书" in text
    # not the mayor: no weekly summary
    assert "全市各部门周报" not in text
    testapp.get("/leader/weekly", status=403)
    testapp.get(f"/leader/{city.li.id}", status=403)


def test_the_mayor_reads_every_leaders_page_and_the_weekly_summary(testapp, login, city):
    login(city.mayor_user)
    own = testapp.get("/leader")
    assert "该领导尚未设置分管部门" in own.html.get_text()
    weekly = own.click(href="/leader/weekly")
    text = weekly.html.get_text(" ", strip=True)
    assert "诉求办理周报" in text
    assert "部门排名" in text
    for dept in (city.a, city.b, city.c):
        assert dept.name in text
    assert "拖欠工资三个月" in text  # longest overdue
    li = testapp.get(f"/leader/{city.li.id}")
    assert "住建的事" in li.html.get_text()
    # the mayor may look, not name 李敏's deputy
    assert li.html.select_one("form.deputy-form") is None


@pytest.mark.parametrize(
    ("role", "own", "weekly", "another"),
    [
        (Role.ADMIN, 200, 200, 200),
        (Role.SUPERVISOR, 200, 200, 200),
        (Role.LEADER, 200, 403, 403),  # a leader without a leader record: an explanation
        (Role.STAFF, 403, 403, 403),
        (Role.HEAD, 403, 403, 403),
        (Role.EDITOR, 403, 403, 403),
        (Role.ENTERPRISE, 403, 403, 403),
    ],
)
def test_who_may_open_the_dashboards(testapp, login, city, role, own, weekly, another):
    login(factories.UserFactory(roles=[role]))
    testapp.get("/leader", status=own)
    testapp.get("/leader/weekly", status=weekly)
    testapp.get(f"/leader/{city.wang.id}", status=another)


def test_anonymous_visitors_are_sent_to_log_in(testapp, city):
    assert testapp.get("/leader").status_int == 303
    assert "/login" in testapp.get("/leader/weekly").location


def test_an_admin_chooses_a_leader(testapp, login, city):
    login(factories.UserFactory(roles=[Role.ADMIN]))
    page = testapp.get("/leader")
    assert "王强（副市长）" in page.html.get_text()
    wang = page.click(href=f"/leader/{city.wang.id}$")
    assert "今早的停电" in wang.html.get_text()
    testapp.get("/leader/999999", status=404)
    testapp.get("/leader/abc", status=404)


def test_a_leader_names_changes_and_stops_a_deputy(testapp, login, city, dbsession):
    login(city.wang_user)
    form = next(f for f in testapp.get("/leader").forms.values() if "name" in f.fields)
    form["name"] = ""
    form["email"] = "not-an-address"
    refused = form.submit("save", status=400)
    errors = [e.get_text(strip=True) for e in refused.html.select(".invalid-feedback")]
    assert errors == ["请填写接收抄送人员的姓名。", "请填写接收抄送的有效电子邮箱地址。"]
    assert refused.html.select_one("#deputy-email")["value"] == "not-an-address"
    dbsession.expire_all()
    assert dbsession.get(LeaderDeputy, city.wang.id).email == "chen.sec@example.gov.cn"

    form = next(f for f in refused.forms.values() if "name" in f.fields)
    form["name"] = " 刘秘书\r\nBcc: x@evil.example "
    form["email"] = "liu.sec@example.gov.cn"
    done = form.submit("save").follow()
    assert "已设置：刘秘书 Bcc: x@evil.example 将接收简报抄送。" in done.html.get_text()
    dbsession.expire_all()
    assert dbsession.get(LeaderDeputy, city.wang.id).name == "刘秘书 Bcc: x@evil.example"
    # ... and it stays a display name: one recipient, no Bcc header
    report = testapp.app.registry["qzt.digests.sender"].daily(
        dbsession, date(2026, 3, 2), now=START, dry_run=True, leader_ids=[city.wang.id]
    )
    copy = report.previews[1]
    assert getaddresses([copy.to]) == [("刘秘书 Bcc: x@evil.example", "liu.sec@example.gov.cn")]

    form = next(f for f in done.forms.values() if "name" in f.fields)
    stopped = form.submit("clear").follow()
    assert "已停止抄送。" in stopped.html.get_text()
    dbsession.expire_all()
    assert dbsession.get(LeaderDeputy, city.wang.id) is None


def test_nobody_else_names_a_leaders_deputy(testapp, login, city):
    login(city.li_user)
    page = testapp.get("/leader")
    token = page.html.select_one('input[name="csrf_token"]')["value"]
    testapp.post(
        f"/leader/{city.wang.id}/deputy",
        {"csrf_token": token, "name": "冒名", "email": "x@example.cn"},
        status=403,
    )
    # and a form without its CSRF token is refused
    testapp.post(f"/leader/{city.li.id}/deputy", {"name": "A", "email": "a@b.cn"}, status=400)
