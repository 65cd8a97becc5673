"""The supervision ladder, run by the scheduler: 催办 before a deadline, an overdue
notice copied to the 分管领导 when it passes, 督办 when it stays passed.

Each notice is a ``CaseAlert`` row unique on (case, clock, level, deadline) and is
inserted inside a savepoint before anything is sent: the run that wins the insert
records the step and queues the mail, a second run (or a second process) loses the
insert and does nothing. A deadline moved by an extension or a re-dispatch is a
new deadline and may be warned about again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyramid.registry import Registry
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.complaints.deadlines import Limit
from portal.complaints.models import (
    AlertLevel,
    Case,
    CaseAlert,
    CaseRectification,
    CaseState,
    Clock,
)

if TYPE_CHECKING:
    from portal.complaints.services import CaseService

log = logging.getLogger(__name__)

#: states whose closure and reply clocks run (not paused, not finished)
RUNNING = (
    CaseState.ACCEPTED,
    CaseState.DISPATCHED,
    CaseState.RETURNED,
    CaseState.HANDLING,
    CaseState.REPLY_REVIEW,
    CaseState.REPLIED,
)


@dataclass(frozen=True)
class Due:
    case: Case
    clock: Clock
    due_at: datetime
    limit: Limit
    department_id: int | None


def _due_clocks(case: Case, service: CaseService, desk_id: int | None) -> list[Due]:
    policy = service.policy
    code = case.category.code if case.category else None
    # While a case is at the desk (not dispatched, or returned), the desk answers for it.
    responsible = case.department_id if case.department_id is not None else desk_id
    found: list[Due] = []
    if case.state == CaseState.DISPATCHED and case.signed_at is None and case.sign_due_at:
        found.append(Due(case, Clock.SIGN, case.sign_due_at, policy.sign_limit, responsible))
    if case.state in RUNNING:
        if case.first_reply_at is None and case.reply_due_at is not None:
            limit = policy.reply_limit(case.kind, code)
            found.append(Due(case, Clock.REPLY, case.reply_due_at, limit, responsible))
        if case.closed_at is None and case.close_due_at is not None:
            limit = policy.close_limit(case.kind, code)
            found.append(Due(case, Clock.CLOSE, case.close_due_at, limit, responsible))
    if case.state == CaseState.RECTIFYING:
        rect = next((r for r in case.rectifications if r.closed_at is None), None)
        if rect is not None:
            found.append(
                Due(case, Clock.RECTIFY, rect.due_at, policy.rectify_limit, rect.department_id)
            )
    return found


def levels_due(due: Due, service: CaseService, now: datetime) -> list[AlertLevel]:
    """Which notices a deadline calls for at ``now`` (the ladder, lowest first)."""
    calendar, policy = service.calendar, service.policy
    levels: list[AlertLevel] = []
    if now >= due.due_at:
        levels.append(AlertLevel.BREACH)
        if now >= calendar.after(due.due_at, policy.supervise_after):
            levels.append(AlertLevel.SUPERVISE)
    elif now >= calendar.warn_from(due.due_at, policy.warn_before(due.limit)):
        levels.append(AlertLevel.WARNING)
    return levels


def _candidates(session: Session, service: CaseService, now: datetime) -> list[Case]:
    calendar, policy = service.calendar, service.policy
    horizon = now + max(calendar.horizon(policy.warn_days), calendar.horizon(policy.warn_hours))
    open_rect = select(CaseRectification.case_id).where(
        CaseRectification.closed_at.is_(None), CaseRectification.due_at < horizon
    )
    query = (
        select(Case)
        .where(
            Case.state.in_([s.value for s in (*RUNNING, CaseState.RECTIFYING)]),
            or_(
                Case.close_due_at < horizon,
                Case.reply_due_at < horizon,
                Case.sign_due_at < horizon,
                Case.id.in_(open_rect),
            ),
        )
        .options(selectinload(Case.category), selectinload(Case.rectifications))
        .order_by(Case.id)
    )
    return list(session.scalars(query))


def check_deadlines(session: Session, service: CaseService, now: datetime) -> list[CaseAlert]:
    """Raise every notice due at ``now`` that was not raised yet; return the new ones."""
    desk_id = service.desk_department_id(session)
    cases = _candidates(session, service, now)
    if not cases:
        return []
    seen = {
        (a.case_id, a.clock, a.level, a.due_at)
        for a in session.scalars(
            select(CaseAlert).where(CaseAlert.case_id.in_([c.id for c in cases]))
        )
    }
    raised: list[CaseAlert] = []
    for case in cases:
        for due in _due_clocks(case, service, desk_id):
            for level in levels_due(due, service, now):
                if (case.id, due.clock.value, level.value, due.due_at) in seen:
                    continue
                alert = _raise(session, service, due, level, now, desk_id)
                if alert is not None:
                    raised.append(alert)
    return raised


def _raise(
    session: Session,
    service: CaseService,
    due: Due,
    level: AlertLevel,
    now: datetime,
    desk_id: int | None,
) -> CaseAlert | None:
    alert = CaseAlert(
        case_id=due.case.id,
        clock=due.clock.value,
        level=level.value,
        due_at=due.due_at,
        department_id=due.department_id,
        created_at=now,
    )
    try:
        # Another process may have raised the same notice a moment ago: the unique
        # constraint decides, and only the winner goes on to record and mail.
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return None
    case = due.case
    if level == AlertLevel.SUPERVISE:
        case.supervised = True
    service.record_step(
        session, case, f"alert_{level.value}", None, case.state, case.state,
        data={"clock": due.clock.value, "due_at": due.due_at.isoformat(),
              "department_id": due.department_id},
    )  # fmt: skip
    service.notifier.alert(
        session, case, due.clock.value, level.value, due.due_at, due.department_id, desk_id
    )
    return alert


def run_deadline_checks(registry: Registry, now: datetime) -> Any:
    """The scheduler's job: one transaction per run."""
    from portal.complaints import make_case_service

    service = make_case_service(registry)
    with registry["dbsession_factory"]() as session, session.begin():
        raised = check_deadlines(session, service, now)
    if raised:
        log.info("deadline check raised %d notices", len(raised))
    return len(raised)
