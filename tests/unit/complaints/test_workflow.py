"""The transition map: every allowed move, refused moves, side branches, the rating loop."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from portal.complaints.interfaces import CaseError
from portal.complaints.models import (
    Case,
    CaseExtension,
    CaseRating,
    CaseRectification,
    CaseReturn,
    CaseState,
    Decision,
)
from portal.complaints.workflow import BY_NAME, TRANSITIONS, acl_for, allowed_moves
from portal.mail.models import OutboxMail
from portal.permissions import Permission as Perm
from tests.factories_complaints import World, make_service

S = CaseState


@pytest.fixture
def world(dbsession):
    return World(dbsession)


@pytest.fixture
def service(clock, tmp_path):
    return make_service(clock, str(tmp_path))


@pytest.fixture
def new_case(dbsession, world, service):
    def make(department=None, kind="complaint") -> Case:
        return service.open_case(
            dbsession, kind=kind, title="厂区门前道路破损", description="道路破损影响货车通行。",
            enterprise_id=world.company.enterprise_id, opened_by_user_id=world.company.id,
            department_id=department.id if department else None,
        )  # fmt: skip

    return make


def move(dbsession, service, case, name, actor, **kw):
    """One move inside a savepoint, as the views do: refused moves keep nothing."""
    savepoint = dbsession.begin_nested()
    try:
        step = service.transition(dbsession, case, name, actor, **kw)
    except CaseError:
        savepoint.rollback()
        raise
    savepoint.commit()
    return step


def mails_to(dbsession, address):
    rows = dbsession.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    return [r for r in rows if address in r.recipients.split(",")]


def test_the_main_line_from_intake_to_rating(dbsession, world, service, new_case, clock):
    case = new_case()
    w = world
    move(dbsession, service, case, "dispatch", w.desk_staff, department_id=w.a.id)
    assert case.state == S.DISPATCHED
    assert case.owner_department_id == w.a.id
    clock.advance(hours=1)
    move(dbsession, service, case, "sign", w.a_staff)
    assert case.state == S.HANDLING
    assert case.signed_at <= case.sign_due_at
    move(
        dbsession, service, case, "submit_reply", w.a_staff, comment="已安排修复，预计三日内完成。"
    )
    assert case.state == S.REPLY_REVIEW
    assert not any(m.public for m in case.messages if m.kind == "reply")
    move(dbsession, service, case, "approve_reply", w.a_head)
    assert case.state == S.REPLIED
    assert case.first_reply_at is not None
    assert [m.public for m in case.messages if m.kind == "reply"] == [True]
    assert any("答复" in r.subject for r in mails_to(dbsession, w.company.email))
    move(dbsession, service, case, "close", w.a_head)
    assert case.state == S.CLOSED
    assert case.handling_seconds == 3600
    move(dbsession, service, case, "visit", w.desk_staff, comment="电话回访，企业确认道路已修复。")
    move(dbsession, service, case, "rate", w.company, level=5, comment="很快")
    assert case.state == S.RATED
    assert case.rating == 5
    assert [s.action for s in case.steps] == [
        "open", "dispatch", "sign", "submit_reply", "approve_reply", "close", "visit", "rate",
    ]  # fmt: skip
    assert all(s.at is not None for s in case.steps)


def _all_states_case(dbsession, service, world, new_case, state):
    case = new_case(world.a)
    case.state = state.value
    dbsession.flush()
    return case


@pytest.mark.parametrize("state", list(CaseState))
def test_moves_not_in_the_map_are_refused_and_change_nothing(
    dbsession, world, service, new_case, state
):
    case = _all_states_case(dbsession, service, world, new_case, state)
    allowed = {t.name for t in allowed_moves(case)}
    for t in TRANSITIONS:
        if t.name in allowed:
            continue
        steps = len(case.steps)
        with pytest.raises(CaseError) as raised:
            move(dbsession, service, case, t.name, world.desk_staff, comment="理由", level=5)
        assert raised.value.field == "transition"
        assert case.state == state
        assert len(case.steps) == steps


def test_the_map_is_explicit():
    assert set(BY_NAME) >= {
        "dispatch", "sign", "submit_reply", "approve_reply", "close", "visit", "rate", "return",
        "approve_return", "reject_return", "redispatch", "request_info", "provide_info",
        "request_extension", "approve_extension", "reject_extension", "merge", "reopen",
        "record_followup", "close_rectification",
    }  # fmt: skip
    assert BY_NAME["sign"].sources == {S.DISPATCHED}
    assert BY_NAME["approve_reply"].permission == Perm.CASE_APPROVE
    assert BY_NAME["rate"].sources == {S.CLOSED, S.VISITED}


def test_a_return_needs_a_reason_and_the_desk_decides(dbsession, world, service, new_case):
    case = new_case(world.a)
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "return", world.a_staff, comment="  ")
    assert raised.value.field == "comment"
    assert case.state == S.DISPATCHED
    assert case.return_count == 0
    move(
        dbsession,
        service,
        case,
        "return",
        world.a_staff,
        comment="依据三定方案，此事项属乙局职责。",
    )
    assert case.state == S.RETURNED
    assert case.return_count == 1
    # Refused: back to A, which must sign again; the refusal counts against A.
    move(dbsession, service, case, "reject_return", world.desk_staff, comment="属本单位职责。")
    assert case.state == S.DISPATCHED
    assert case.department_id == world.a.id
    ret = dbsession.scalar(select(CaseReturn).where(CaseReturn.case_id == case.id))
    assert ret.decision == Decision.REJECTED
    assert ret.department_id == world.a.id
    # Returned again and accepted, with a new department at once.
    move(dbsession, service, case, "return", world.a_staff, comment="再次说明：属乙局职责。")
    move(dbsession, service, case, "approve_return", world.desk_staff, department_id=world.b.id)
    assert case.state == S.DISPATCHED
    assert case.department_id == world.b.id
    # 首问负责: A answers for the case until B signs for it.
    assert case.owner_department_id == world.a.id
    move(dbsession, service, case, "sign", world.b_staff)
    assert case.owner_department_id == world.b.id
    actions = [s.action for s in case.steps]
    assert actions[-3:] == ["approve_return", "dispatch", "sign"]


def test_redispatch_moves_the_case_and_restarts_the_sign_clock(
    dbsession, world, service, new_case, clock
):
    case = new_case(world.a)
    first_due = case.sign_due_at
    clock.advance(hours=2)
    with pytest.raises(CaseError) as raised:
        move(
            dbsession,
            service,
            case,
            "redispatch",
            world.desk_staff,
            department_id=world.a.id,
            comment="改派",
        )
    assert raised.value.field == "department"
    move(
        dbsession,
        service,
        case,
        "redispatch",
        world.desk_staff,
        department_id=world.b.id,
        comment="改派乙局",
    )
    assert case.department_id == world.b.id
    assert case.sign_due_at > first_due
    assert case.owner_department_id == world.a.id


def test_asking_for_information_pauses_the_clocks(dbsession, world, service, new_case, clock):
    case = new_case(world.a)
    move(dbsession, service, case, "sign", world.a_staff)
    due = case.close_due_at
    move(dbsession, service, case, "request_info", world.a_staff, comment="请提供现场照片。")
    assert case.state == S.AWAITING_INFO
    assert case.paused_at is not None
    assert any("补充" in r.subject for r in mails_to(dbsession, world.company.email))
    clock.advance(days=2)  # Monday 09:30 -> Wednesday 09:30: two working days
    move(dbsession, service, case, "provide_info", world.company, comment="照片已上传。")
    assert case.state == S.HANDLING
    assert case.paused_at is None
    assert service.calendar.workdays_between(due, case.close_due_at) == 2


def test_an_extension_is_asked_before_the_deadline_approved_and_told(
    dbsession, world, service, new_case, clock
):
    case = new_case(world.a)
    move(dbsession, service, case, "sign", world.a_staff)
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "request_extension", world.a_staff, comment="需现场勘查",
             due_date="2026-03-01")  # fmt: skip
    assert raised.value.field == "due_date"
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "request_extension", world.a_staff, comment="需现场勘查",
             due_date="下周")  # fmt: skip
    assert raised.value.field == "due_date"
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "approve_extension", world.desk_staff)
    assert raised.value.field == "transition"
    move(dbsession, service, case, "request_extension", world.a_staff, comment="需现场勘查",
         due_date="2026-04-30")  # fmt: skip
    assert case.state == S.HANDLING
    move(dbsession, service, case, "approve_extension", world.desk_staff)
    assert service.calendar.last_day(case.close_due_at) == date(2026, 4, 30)
    assert case.extension_count == 1
    assert any("延长" in r.subject for r in mails_to(dbsession, world.company.email))
    ext = dbsession.scalar(select(CaseExtension).where(CaseExtension.case_id == case.id))
    assert ext.decision == Decision.APPROVED


def test_an_extension_after_the_deadline_is_refused(dbsession, world, service, new_case, clock):
    case = new_case(world.a, kind="consult")
    move(dbsession, service, case, "sign", world.a_staff)
    clock.advance(days=5)
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "request_extension", world.a_staff, comment="来不及",
             due_date="2026-04-30")  # fmt: skip
    assert raised.value.message == "An extension must be asked for before the deadline."


def test_a_head_may_send_a_reply_back(dbsession, world, service, new_case):
    case = new_case(world.a)
    move(dbsession, service, case, "sign", world.a_staff)
    move(dbsession, service, case, "submit_reply", world.a_staff, comment="初稿")
    move(dbsession, service, case, "reject_reply", world.a_head, comment="请补充政策依据。")
    assert case.state == S.HANDLING
    assert case.first_reply_at is None
    move(dbsession, service, case, "submit_reply", world.a_staff, comment="依据……已办理。")
    move(dbsession, service, case, "approve_reply", world.a_head)
    public = [m.body for m in case.messages if m.public and m.kind == "reply"]
    assert public == ["依据……已办理。"]


def test_duplicates_merge_into_another_case(dbsession, world, service, new_case):
    first, second = new_case(world.a), new_case(world.a)
    with pytest.raises(CaseError) as raised:
        move(
            dbsession,
            service,
            second,
            "merge",
            world.desk_staff,
            comment="重复",
            target_number="123",
        )
    assert raised.value.field == "target_number"
    with pytest.raises(CaseError):
        move(
            dbsession,
            service,
            second,
            "merge",
            world.desk_staff,
            comment="重复",
            target_number=second.number,
        )
    move(
        dbsession,
        service,
        second,
        "merge",
        world.desk_staff,
        comment="重复诉求",
        target_number=first.number,
    )
    assert second.state == S.MERGED
    assert second.merged_into_id == first.id
    assert any(s.data.get("merged_case_id") == second.id for s in first.steps)


def _to_closed(dbsession, service, world, case):
    move(dbsession, service, case, "sign", world.a_staff)
    move(dbsession, service, case, "submit_reply", world.a_staff, comment="已处理。")
    move(dbsession, service, case, "approve_reply", world.a_head)
    move(dbsession, service, case, "close", world.a_head)


def test_a_bad_rating_reopens_for_rectification_with_its_own_deadline(
    dbsession, world, service, new_case, clock
):
    case = new_case(world.a)
    _to_closed(dbsession, service, world, case)
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "rate", world.company, level=7)
    assert raised.value.field == "level"
    move(dbsession, service, case, "rate", world.company, level=2, comment="问题没有解决")
    assert case.state == S.RECTIFYING
    assert case.rating == 2
    assert [s.action for s in case.steps][-2:] == ["rate", "reopen"]
    rect = dbsession.scalar(select(CaseRectification).where(CaseRectification.case_id == case.id))
    assert rect.due_at == service.calendar.due(clock.now(), service.policy.rectify_limit)
    # It cannot close without the follow-up record.
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "close_rectification", world.a_head)
    assert "follow-up" in raised.value.message
    assert case.state == S.RECTIFYING
    move(dbsession, service, case, "record_followup", world.a_staff, comment="上门核实并重新修复。")
    move(dbsession, service, case, "close_rectification", world.a_head)
    assert case.state == S.CLOSED
    assert rect.closed_at is not None
    # Second round: one rating per round.
    move(dbsession, service, case, "rate", world.company, level=4)
    ratings = dbsession.scalars(select(CaseRating).where(CaseRating.case_id == case.id)).all()
    assert [(r.round, r.level) for r in ratings] == [(1, 2), (2, 4)]
    assert case.state == S.RATED


def test_one_rating_per_round(dbsession, world, service, new_case):
    case = new_case(world.a)
    _to_closed(dbsession, service, world, case)
    move(dbsession, service, case, "rate", world.company, level=3)
    case.state = S.CLOSED.value  # even if the state were forced back
    with pytest.raises(CaseError) as raised:
        move(dbsession, service, case, "rate", world.company, level=5)
    assert raised.value.message == "This case has been rated already."


def test_the_acl_follows_the_case(dbsession, world, service, new_case):
    case = new_case(world.a)
    desk = world.desk.id
    acl = acl_for(case, desk)

    def holders(perm):
        return {p for _allow, p, perms in acl[1:-1] if perms == perm}

    assert f"enterprise:{world.company.enterprise_id}" in holders(Perm.CASE_RESPOND)
    # Reading is the scope's to grant (portal.complaints.scope), to the viewer alone.
    assert holders(Perm.CASE_VIEW) == set()
    viewer = f"user:{world.company.id}"
    assert {p for _a, p, perm in acl_for(case, desk, viewer)[1:-1] if perm == Perm.CASE_VIEW} == {
        viewer
    }
    assert f"role:head@dept:{world.a.id}" in holders(Perm.CASE_APPROVE)
    assert f"role:staff@dept:{world.a.id}" not in holders(Perm.CASE_APPROVE)
    assert f"role:staff@dept:{desk}" in holders(Perm.CASE_DISPATCH)
    assert f"role:staff@dept:{world.b.id}" not in holders(Perm.CASE_VIEW)
    case.assists.append(world.b)
    assert (f"role:staff@dept:{world.b.id}") in {
        p for _a, p, perm in acl_for(case, desk)[1:-1] if perm == Perm.CASE_ASSIST
    }
