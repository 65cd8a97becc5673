"""Department statistics over a period, and the case lists leaders' digests show.

Everything here is set-based: one ``GROUP BY department_id`` query per source
table over an index range of the period, never a query per department, so the
figures for all 58 departments over a week of a million-case year cost a handful
of index scans (see ``bench/digest.py``).

Definitions (a period is ``[start, end)``, datetimes in UTC):

* **received** — cases received in the period (merged duplicates excluded),
  counted against their lead (主办) department; ``None`` is the dispatch desk.
* **signed / signed_on_time** — of those, signed for at all / by the sign deadline.
* **closed / closed_on_time** — cases first closed in the period / by their
  (possibly extended) closure deadline. **average handling time** is over them,
  from receipt to closure, in hours.
* **overdue** — cases open at ``end`` whose closure deadline had passed by then.
* **returned / returns_refused** — 退单 asked for in the period / of them refused
  by the desk (improper returns, counted against the department).
* **extended** — 延期 approved in the period.
* **rated / satisfied** — ratings given in the period / of them 基本满意 or better.
* **bad / bad_fixed** — bad ratings (不满意 or worse) in the period / of them whose
  整改 was closed (with its follow-up record) by ``end``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.complaints.models import (
    Case,
    CaseExtension,
    CaseRating,
    CaseRectification,
    CaseReturn,
    CaseState,
    Decision,
)

MERGED = CaseState.MERGED.value
#: 基本满意 (3) and better count as satisfied
SATISFIED_LEVEL = 3


@dataclass
class DepartmentStats:
    department_id: int | None
    received: int = 0
    signed: int = 0
    signed_on_time: int = 0
    closed: int = 0
    closed_on_time: int = 0
    handling_seconds: int = 0  # total over ``closed``, for the average
    overdue: int = 0
    returned: int = 0
    returns_refused: int = 0
    extended: int = 0
    rated: int = 0
    satisfied: int = 0
    bad: int = 0
    bad_fixed: int = 0

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return None if whole == 0 else part / whole

    @property
    def sign_on_time_rate(self) -> float | None:
        """按时签收率 over the cases received."""
        return self._rate(self.signed_on_time, self.received)

    @property
    def close_on_time_rate(self) -> float | None:
        """按时办结率 over the cases closed."""
        return self._rate(self.closed_on_time, self.closed)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率 over the ratings given."""
        return self._rate(self.satisfied, self.rated)

    @property
    def fix_rate(self) -> float | None:
        """差评整改率 over the bad ratings."""
        return self._rate(self.bad_fixed, self.bad)

    @property
    def average_handling_hours(self) -> float | None:
        return None if self.closed == 0 else self.handling_seconds / self.closed / 3600

    def add(self, other: DepartmentStats) -> None:
        for f in fields(self):
            if f.name != "department_id":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_row(self) -> dict[str, Any]:
        """Counts and rates as plain values (CSV export, JSON)."""
        row: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (
            "sign_on_time_rate",
            "close_on_time_rate",
            "satisfaction_rate",
            "fix_rate",
            "average_handling_hours",
        ):
            row[name] = getattr(self, name)
        return row


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _limit(query: Select[Any], column: Any, department_ids: Sequence[int | None] | None) -> Any:
    if department_ids is None:
        return query
    ids = [d for d in department_ids if d is not None]
    condition = column.in_(ids)
    if None in department_ids:
        condition = or_(condition, column.is_(None))
    return query.where(condition)


def department_stats(
    session: Session,
    start: datetime,
    end: datetime,
    department_ids: Sequence[int | None] | None = None,
) -> dict[int | None, DepartmentStats]:
    """Figures per department for ``[start, end)``; only departments with any figure
    appear (callers list every department with ``.get(id) or DepartmentStats(id)``).
    ``department_ids`` limits the departments (``None`` in it = the dispatch desk)."""
    found: dict[int | None, DepartmentStats] = {}

    def row(dept: int | None) -> DepartmentStats:
        if dept not in found:
            found[dept] = DepartmentStats(dept)
        return found[dept]

    def run(query: Any, column: Any) -> Any:
        return session.execute(_limit(query, column, department_ids).group_by(column))

    received = select(
        Case.department_id,
        func.count(),
        _count_if(Case.signed_at.is_not(None)),
        _count_if(Case.signed_at <= Case.sign_due_at),
    ).where(Case.received_at >= start, Case.received_at < end, Case.state != MERGED)
    for dept, n, signed, on_time in run(received, Case.department_id):
        r = row(dept)
        r.received, r.signed, r.signed_on_time = n, int(signed), int(on_time)

    closed = select(
        Case.department_id,
        func.count(),
        _count_if(Case.closed_at <= Case.close_due_at),
        func.coalesce(func.sum(Case.handling_seconds), 0),
    ).where(Case.closed_at >= start, Case.closed_at < end)
    for dept, n, on_time, seconds in run(closed, Case.department_id):
        r = row(dept)
        r.closed, r.closed_on_time, r.handling_seconds = n, int(on_time), int(seconds)

    # Overdue at ``end``: still open then, deadline before it. Two index ranges: the
    # open cases (a partial index) and those closed only after ``end``.
    late = and_(Case.close_due_at < end, Case.received_at < end, Case.state != MERGED)
    for open_then in (Case.closed_at.is_(None), Case.closed_at >= end):
        query = select(Case.department_id, func.count()).where(open_then, late)
        for dept, n in run(query, Case.department_id):
            row(dept).overdue += n

    returns = select(
        CaseReturn.department_id,
        func.count(),
        _count_if(CaseReturn.decision == Decision.REJECTED.value),
    ).where(CaseReturn.requested_at >= start, CaseReturn.requested_at < end)
    for dept, n, refused in run(returns, CaseReturn.department_id):
        r = row(dept)
        r.returned, r.returns_refused = n, int(refused)

    extended = select(CaseExtension.department_id, func.count()).where(
        CaseExtension.decision == Decision.APPROVED.value,
        CaseExtension.decided_at >= start,
        CaseExtension.decided_at < end,
    )
    for dept, n in run(extended, CaseExtension.department_id):
        row(dept).extended = n

    ratings = select(
        CaseRating.department_id,
        func.count(),
        _count_if(CaseRating.level >= SATISFIED_LEVEL),
    ).where(CaseRating.rated_at >= start, CaseRating.rated_at < end)
    for dept, n, satisfied in run(ratings, CaseRating.department_id):
        r = row(dept)
        r.rated, r.satisfied = n, int(satisfied)

    fixes = select(
        CaseRectification.department_id,
        func.count(),
        _count_if(CaseRectification.closed_at < end),
    ).where(CaseRectification.opened_at >= start, CaseRectification.opened_at < end)
    for dept, n, fixed in run(fixes, CaseRectification.department_id):
        r = row(dept)
        r.bad, r.bad_fixed = n, int(fixed)
    return found


def totals(rows: Iterable[DepartmentStats]) -> DepartmentStats:
    total = DepartmentStats(None)
    for r in rows:
        total.add(r)
    return total


# -- case lists (daily digest, dashboards) -------------------------------------------------
def _cases(
    session: Session, query: Select[Any], department_ids: Sequence[int | None] | None
) -> list[Case]:
    query = _limit(query, Case.department_id, department_ids).options(selectinload(Case.department))
    return list(session.scalars(query))


def cases_received(
    session: Session, start: datetime, end: datetime,
    department_ids: Sequence[int | None] | None = None,
) -> list[Case]:  # fmt: skip
    """Cases received in ``[start, end)``, oldest first."""
    query = (
        select(Case)
        .where(Case.received_at >= start, Case.received_at < end, Case.state != MERGED)
        .order_by(Case.received_at, Case.id)
    )
    return _cases(session, query, department_ids)


def cases_due(
    session: Session, start: datetime, end: datetime,
    department_ids: Sequence[int | None] | None = None,
) -> list[Case]:  # fmt: skip
    """Open cases whose closure deadline falls in ``[start, end)``."""
    query = (
        select(Case)
        .where(
            Case.closed_at.is_(None),
            Case.state != MERGED,
            Case.close_due_at >= start,
            Case.close_due_at < end,
        )
        .order_by(Case.close_due_at, Case.id)
    )
    return _cases(session, query, department_ids)


def overdue_cases(
    session: Session, at: datetime,
    department_ids: Sequence[int | None] | None = None, limit: int | None = None,
) -> list[Case]:  # fmt: skip
    """Open cases past their closure deadline at ``at``, longest overdue first."""
    query = (
        select(Case)
        .where(Case.closed_at.is_(None), Case.state != MERGED, Case.close_due_at < at)
        .order_by(Case.close_due_at, Case.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return _cases(session, query, department_ids)


def bad_ratings(
    session: Session, start: datetime, end: datetime,
    department_ids: Sequence[int | None] | None = None,
) -> list[CaseRating]:  # fmt: skip
    """不满意 and 非常不满意 ratings given in ``[start, end)``."""
    query = (
        select(CaseRating)
        .where(
            CaseRating.rated_at >= start,
            CaseRating.rated_at < end,
            CaseRating.level < SATISFIED_LEVEL,
        )
        .order_by(CaseRating.rated_at)
    )  # fmt: skip
    return list(session.scalars(_limit(query, CaseRating.department_id, department_ids)))


def pending_returns(
    session: Session, department_ids: Sequence[int | None] | None = None
) -> list[CaseReturn]:
    """退单 waiting for the dispatch desk's decision."""
    query = (
        select(CaseReturn)
        .where(CaseReturn.decision == Decision.PENDING.value)
        .order_by(CaseReturn.requested_at)
    )
    return list(session.scalars(_limit(query, CaseReturn.department_id, department_ids)))


def pending_extensions(
    session: Session, department_ids: Sequence[int | None] | None = None
) -> list[CaseExtension]:
    """延期 requests waiting for a decision."""
    query = (
        select(CaseExtension)
        .where(CaseExtension.decision == Decision.PENDING.value)
        .order_by(CaseExtension.requested_at)
    )
    return list(session.scalars(_limit(query, CaseExtension.department_id, department_ids)))
