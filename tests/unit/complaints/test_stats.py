"""Department statistics: each figure from a case story whose answer is known."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.complaints import stats
from tests.factories_complaints import World, make_service
from tests.unit.complaints.test_deadlines import bj
from tests.unit.complaints.test_workflow import move

WEEK_START, WEEK_END = bj(2026, 3, 2), bj(2026, 3, 9)


@pytest.fixture
def world(dbsession):
    return World(dbsession)


@pytest.fixture
def service(clock, tmp_path):
    return make_service(clock, str(tmp_path))


def open_at(dbsession, service, clock, world, at, dept, kind="consult"):
    clock._at = at
    return service.open_case(
        dbsession, kind=kind, title="统计用诉求", description="用于统计。",
        enterprise_id=world.company.enterprise_id, opened_by_user_id=world.company.id,
        department_id=dept.id if dept else None,
    )  # fmt: skip


def finish(dbsession, service, clock, world, case, at, level=None):
    clock._at = at
    staff = world.a_staff if case.department_id == world.a.id else world.b_staff
    head = world.a_head if case.department_id == world.a.id else world.b_head
    move(dbsession, service, case, "sign", staff)
    move(dbsession, service, case, "submit_reply", staff, comment="答复")
    move(dbsession, service, case, "approve_reply", head)
    move(dbsession, service, case, "close", head)
    if level is not None:
        move(dbsession, service, case, "rate", world.company, level=level)


def test_figures_for_a_week(dbsession, world, service, clock):
    a, b = world.a, world.b
    # A: received Monday, signed and closed the same day (on time), rated 5.
    c1 = open_at(dbsession, service, clock, world, bj(2026, 3, 2, 9, 30), a)
    finish(dbsession, service, clock, world, c1, bj(2026, 3, 2, 11, 30), level=5)
    # A: received Monday, signed late (Tuesday), closed Friday: consult (2d) → late; rated 1.
    c2 = open_at(dbsession, service, clock, world, bj(2026, 3, 2, 10), a)
    finish(dbsession, service, clock, world, c2, bj(2026, 3, 6, 10), level=1)
    # A: received Tuesday, never handled: overdue at the end of the week.
    open_at(dbsession, service, clock, world, bj(2026, 3, 3, 10), a)
    # B: received Wednesday, returned (refused by the desk), then extended.
    c4 = open_at(dbsession, service, clock, world, bj(2026, 3, 4, 10), b, kind="complaint")
    move(dbsession, service, c4, "return", world.b_staff, comment="非本单位职责")
    move(dbsession, service, c4, "reject_return", world.desk_staff, comment="属本单位职责")
    move(dbsession, service, c4, "sign", world.b_staff)
    move(
        dbsession,
        service,
        c4,
        "request_extension",
        world.b_staff,
        comment="需勘查",
        due_date="2026-04-30",
    )
    move(dbsession, service, c4, "approve_extension", world.desk_staff)
    # At the desk, not dispatched; and one received the week before (not counted).
    open_at(dbsession, service, clock, world, bj(2026, 3, 5, 10), None)
    open_at(dbsession, service, clock, world, bj(2026, 2, 27, 10), a)

    figures = stats.department_stats(dbsession, WEEK_START, WEEK_END)
    fa, fb, desk = figures[a.id], figures[b.id], figures[None]
    assert (fa.received, fa.signed, fa.signed_on_time) == (3, 2, 1)
    assert (fa.closed, fa.closed_on_time) == (2, 1)
    assert fa.average_handling_hours == pytest.approx(((2 * 3600) + (4 * 86400)) / 2 / 3600)
    # Overdue at the end of the week: c3 (due end of Thursday), and the one received
    # the Friday before (consult, due end of Tuesday).
    assert fa.overdue == 2
    assert (fa.rated, fa.satisfied, fa.satisfaction_rate) == (2, 1, 0.5)
    assert (fa.bad, fa.bad_fixed, fa.fix_rate) == (1, 0, 0.0)
    assert (fb.received, fb.returned, fb.returns_refused, fb.extended) == (1, 1, 1, 1)
    assert fb.overdue == 0
    assert desk.received == 1
    assert fa.sign_on_time_rate == pytest.approx(1 / 3)
    total = stats.totals(figures.values())
    assert total.received == 5
    assert stats.DepartmentStats(9).satisfaction_rate is None

    # Limited to B, and the lists the digests show.
    assert set(stats.department_stats(dbsession, WEEK_START, WEEK_END, [b.id])) == {b.id}
    received = stats.cases_received(dbsession, WEEK_START, WEEK_END, [a.id])
    assert [c.id for c in received][:2] == [c1.id, c2.id]
    overdue = stats.overdue_cases(dbsession, WEEK_END, [a.id])
    assert len(overdue) == 2
    assert overdue[0].close_due_at <= overdue[1].close_due_at
    due = stats.cases_due(dbsession, bj(2026, 3, 5), bj(2026, 3, 7), [a.id, None])
    assert all(bj(2026, 3, 5) <= c.close_due_at < bj(2026, 3, 7) for c in due)
    assert [r.level for r in stats.bad_ratings(dbsession, WEEK_START, WEEK_END)] == [1]
    assert stats.pending_returns(dbsession) == []
    assert stats.pending_extensions(dbsession, [b.id]) == []


def test_a_fixed_bad_rating_counts_once_its_rectification_closes(dbsession, world, service, clock):
    c = open_at(dbsession, service, clock, world, bj(2026, 3, 2, 9, 30), world.a)
    finish(dbsession, service, clock, world, c, bj(2026, 3, 2, 11), level=2)
    move(dbsession, service, c, "record_followup", world.a_staff, comment="已回访")
    clock.advance(days=1)
    move(dbsession, service, c, "close_rectification", world.a_head)
    fa = stats.department_stats(dbsession, WEEK_START, WEEK_END)[world.a.id]
    assert (fa.bad, fa.bad_fixed, fa.fix_rate) == (1, 1, 1.0)
    # Measured at a moment before the fix, it was not fixed yet.
    early = stats.department_stats(dbsession, WEEK_START, bj(2026, 3, 2, 12))[world.a.id]
    assert early.bad_fixed == 0
    assert early.as_row()["fix_rate"] == 0.0
    assert timedelta(0) < c.rectifications[0].closed_at - c.rectifications[0].opened_at


def test_the_sample_cases_load_in_every_stage(dbsession, settings):
    from sqlalchemy import func, select

    from portal.complaints.models import Case, CaseCategory
    from portal.sampledata import load_sample_data

    load_sample_data(dbsession, settings)
    states = dict(dbsession.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    assert {"accepted", "dispatched", "handling", "awaiting_info", "returned", "replied",
            "rated", "rectifying", "merged"} <= set(states)  # fmt: skip
    assert dbsession.scalar(select(func.count()).select_from(CaseCategory)) >= 30
