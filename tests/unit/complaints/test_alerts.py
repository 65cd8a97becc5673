"""The supervision ladder: 催办 → overdue notice copied to the 分管领导 → 督办, each once."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy as email_policy

import pytest
from sqlalchemy import select

from portal.complaints.alerts import check_deadlines
from portal.complaints.models import CaseAlert, CaseState
from portal.jobs import jobs_of
from portal.mail.models import OutboxMail
from portal.roles import Role
from tests.factories_complaints import World, make_service, staff
from tests.unit.complaints.test_deadlines import bj, end_of
from tests.unit.complaints.test_workflow import move


@pytest.fixture
def world(dbsession):
    w = World(dbsession)
    w.desk_head = staff(w.desk, Role.HEAD)
    return w


@pytest.fixture
def service(clock, tmp_path):
    return make_service(clock, str(tmp_path))


@pytest.fixture
def case(dbsession, world, service):
    # Monday 2 March 2026, 09:30 Beijing time: a complaint (15 working days) for A.
    return service.open_case(
        dbsession, kind="complaint", title="排水管网堵塞", description="园区排水管网堵塞。",
        enterprise_id=world.company.enterprise_id, opened_by_user_id=world.company.id,
        department_id=world.a.id,
    )  # fmt: skip


def alerts(dbsession, case):
    rows = dbsession.scalars(
        select(CaseAlert).where(CaseAlert.case_id == case.id).order_by(CaseAlert.id)
    )
    return [(a.clock, a.level) for a in rows]


def alert_mails(dbsession, level):
    return dbsession.scalars(select(OutboxMail).where(OutboxMail.kind == f"case.{level}")).all()


def run(dbsession, service, clock, at):
    clock._at = at
    return check_deadlines(dbsession, service, at)


def test_the_sign_clock_warns_then_breaches_once_each(dbsession, world, service, clock, case):
    assert case.sign_due_at == bj(2026, 3, 2, 13, 30)
    assert run(dbsession, service, clock, bj(2026, 3, 2, 12)) == []
    raised = run(dbsession, service, clock, bj(2026, 3, 2, 12, 40))
    assert [(a.clock, a.level) for a in raised] == [("sign", "warning")]
    (mail,) = alert_mails(dbsession, "warning")
    assert set(mail.recipients.split(",")) == {world.a_head.email, world.a_staff.email}
    message = email.message_from_bytes(mail.raw, policy=email_policy.default)
    assert "催办" in message["Subject"]
    assert case.number in message["Subject"]
    # A second run, as from a second process or the next tick: nothing new.
    assert run(dbsession, service, clock, bj(2026, 3, 2, 12, 50)) == []
    raised = run(dbsession, service, clock, bj(2026, 3, 2, 14))
    assert [(a.clock, a.level) for a in raised] == [("sign", "breach")]
    (breach,) = alert_mails(dbsession, "breach")
    assert world.leader.email in breach.recipients.split(",")
    assert run(dbsession, service, clock, bj(2026, 3, 2, 15)) == []
    assert [s.action for s in case.steps][-2:] == ["alert_warning", "alert_breach"]


def test_signing_stops_the_sign_clock(dbsession, world, service, clock, case):
    clock._at = bj(2026, 3, 2, 10)
    move(dbsession, service, case, "sign", world.a_staff)
    assert run(dbsession, service, clock, bj(2026, 3, 2, 16)) == []


def test_closure_overdue_is_copied_to_the_leader_then_supervised(
    dbsession, world, service, clock, case
):
    clock._at = bj(2026, 3, 2, 10)
    move(dbsession, service, case, "sign", world.a_staff)
    move(dbsession, service, case, "submit_reply", world.a_staff, comment="正在协调疏通。")
    move(dbsession, service, case, "approve_reply", world.a_head)  # first reply in time
    due = case.close_due_at
    assert due == end_of(2026, 3, 23)  # 15 working days after Monday 2 March
    assert run(dbsession, service, clock, bj(2026, 3, 22, 12)) == []  # Sunday
    raised = run(dbsession, service, clock, bj(2026, 3, 23, 0, 1))  # the last day
    assert [(a.clock, a.level) for a in raised] == [("close", "warning")]
    raised = run(dbsession, service, clock, bj(2026, 3, 24, 9))
    assert [(a.clock, a.level) for a in raised] == [("close", "breach")]
    assert not case.supervised
    # 5 working days after the deadline: 督办, to the department, leader and desk head.
    assert run(dbsession, service, clock, bj(2026, 3, 30, 23)) == []
    raised = run(dbsession, service, clock, bj(2026, 3, 31, 0, 1))
    assert [(a.clock, a.level) for a in raised] == [("close", "supervise")]
    assert case.supervised
    (mail,) = alert_mails(dbsession, "supervise")
    to = set(mail.recipients.split(","))
    assert {world.a_head.email, world.leader.email, world.desk_head.email} <= to
    assert world.desk_staff.email not in to
    assert run(dbsession, service, clock, bj(2026, 4, 2, 9)) == []
    assert alerts(dbsession, case) == [
        ("close", "warning"),
        ("close", "breach"),
        ("close", "supervise"),
    ]


def test_a_paused_case_is_not_chased(dbsession, world, service, clock, case):
    clock._at = bj(2026, 3, 2, 10)
    move(dbsession, service, case, "sign", world.a_staff)
    move(dbsession, service, case, "request_info", world.a_staff, comment="请提供管网图纸。")
    assert case.state == CaseState.AWAITING_INFO
    assert run(dbsession, service, clock, bj(2026, 3, 25, 9)) == []


def test_an_approved_extension_is_a_new_deadline_that_may_warn_again(
    dbsession, world, service, clock, case
):
    clock._at = bj(2026, 3, 2, 10)
    move(dbsession, service, case, "sign", world.a_staff)
    run(dbsession, service, clock, bj(2026, 3, 23, 9))
    clock._at = bj(2026, 3, 23, 10)
    move(dbsession, service, case, "request_extension", world.a_staff, comment="需施工",
         due_date="2026-04-10")  # fmt: skip
    move(dbsession, service, case, "approve_extension", world.desk_staff)
    # The old closure deadline passes without a breach (the reply clock is another matter).
    raised = run(dbsession, service, clock, bj(2026, 3, 24, 9))
    assert [(a.clock, a.level) for a in raised] == [("reply", "breach")]
    raised = run(dbsession, service, clock, bj(2026, 4, 10, 9))
    assert [(a.level, a.due_at) for a in raised if a.clock == "close"] == [
        ("warning", end_of(2026, 4, 10))
    ]


def test_a_rectification_has_its_own_clock(dbsession, world, service, clock, case):
    clock._at = bj(2026, 3, 2, 10)
    move(dbsession, service, case, "sign", world.a_staff)
    move(dbsession, service, case, "submit_reply", world.a_staff, comment="已疏通。")
    move(dbsession, service, case, "approve_reply", world.a_head)
    move(dbsession, service, case, "close", world.a_head)
    move(dbsession, service, case, "rate", world.company, level=1)
    rect = case.rectifications[0]
    raised = run(dbsession, service, clock, rect.due_at + timedelta(minutes=1))
    assert ("rectify", "breach") in [(a.clock, a.level) for a in raised]


def test_the_check_is_a_registered_job(app):
    job = jobs_of(app.registry)["complaints.deadlines"]
    assert job.every == app.registry.settings["qzt.complaints.check_interval"]
