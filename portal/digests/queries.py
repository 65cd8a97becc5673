"""The case lists of the daily digest, for many departments at once.

Each section is **one** query over all the departments asked for (every 分管领导's
departments together when the scheduler builds a day's digests), reading only the
columns a mail line shows, and cut to ``limit`` rows per department with a window
function, so a department with a thousand overdue cases costs the mail thirty lines
and a count. ``bench/digest.py`` measures this against a query loop per department.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from portal.clock import local
from portal.complaints.models import (
    Case,
    CaseExtension,
    CaseRating,
    CaseRectification,
    CaseReturn,
    Decision,
)
from portal.complaints.stats import MERGED

#: below 基本满意 (3): 不满意, 非常不满意
BAD_LEVEL = 3


def case_number(received_at: datetime, case_id: int) -> str:
    """The number people quote (as ``Case.number``): receipt date, Beijing time, and id."""
    return f"{local(received_at):%Y%m%d}{case_id:06d}"


@dataclass(frozen=True)
class Line:
    """One case in a digest section."""

    case_id: int
    number: str
    title: str
    kind: str
    department_id: int | None
    #: when it happened (received, rated, asked) or fell due
    at: datetime
    due_at: datetime | None = None
    #: section-specific: rating level, the reason given, the requested new date
    level: int | None = None
    note: str = ""
    requested_due_at: datetime | None = None
    #: "close" or "rectify" for deadlines
    clock: str = "close"


@dataclass
class Section:
    """Lines per department, and how many there were before the cut."""

    lines: dict[int | None, list[Line]]
    totals: dict[int | None, int]

    def for_departments(self, ids: Sequence[int | None]) -> tuple[list[Line], int]:
        lines = [line for d in ids for line in self.lines.get(d, [])]
        return lines, sum(self.totals.get(d, 0) for d in ids)


def _cut(
    session: Session,
    columns: Sequence[Any],
    department: Any,
    order_by: Sequence[Any],
    where: Sequence[Any],
    department_ids: Sequence[int],
    limit: int,
    bucket: Any = None,
) -> list[Any]:
    """Rows ranked within their department (and ``bucket``), the first ``limit`` of
    each, with the count before the cut in ``total``."""
    partition = [department] if bucket is None else [department, bucket]
    extra = [] if bucket is None else [bucket.label("bucket")]
    ranked: Select[Any] = select(
        *columns,
        *extra,
        department.label("dept"),
        func.row_number().over(partition_by=partition, order_by=order_by).label("rn"),
        func.count().over(partition_by=partition).label("total"),
    ).where(*where, department.in_(department_ids))
    sub = ranked.subquery()
    return list(
        session.execute(select(sub).where(sub.c.rn <= limit).order_by(sub.c.dept, sub.c.rn))
    )


def _section(rows: list[Any], make: Any) -> Section:
    lines: dict[int | None, list[Line]] = defaultdict(list)
    totals: dict[int | None, int] = {}
    for row in rows:
        lines[row.dept].append(make(row))
        totals[row.dept] = row.total
    return Section(dict(lines), totals)


def received(
    session: Session, start: datetime, end: datetime, department_ids: Sequence[int], limit: int
) -> Section:
    rows = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, Case.close_due_at],
        Case.department_id,
        [Case.received_at, Case.id],
        [Case.received_at >= start, Case.received_at < end, Case.state != MERGED],
        department_ids,
        limit,
    )
    return _section(
        rows,
        lambda r: Line(
            r.id, case_number(r.received_at, r.id), r.title, r.kind, r.dept, r.received_at,
            r.close_due_at,
        ),
    )  # fmt: skip


#: the deadline sections: passed at the digest's time, later today, tomorrow
OVERDUE, DUE_TODAY, DUE_TOMORROW = "overdue", "due_today", "due_tomorrow"


def deadlines(
    session: Session,
    at: datetime,
    tomorrow: datetime,
    day_after: datetime,
    department_ids: Sequence[int],
    limit: int,
) -> dict[str, Section]:
    """Open cases by closure deadline, and open 整改 by theirs, in three sections:
    **overdue** (the deadline passed before ``at``: the definition of
    ``complaints.stats``, listed every day until closed, longest overdue first),
    **due today** (from ``at`` to ``tomorrow``) and **due tomorrow**. Each deadline is
    in one section only. Two queries in all: one over the open cases (a partial
    index), one over the open rectifications."""

    def sections_of(due: Any) -> Any:
        return case((due < at, OVERDUE), (due < tomorrow, DUE_TODAY), else_=DUE_TOMORROW)

    cases = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, Case.close_due_at.label("due_at")],
        Case.department_id,
        [Case.close_due_at, Case.id],
        [Case.closed_at.is_(None), Case.state != MERGED, Case.close_due_at < day_after],
        department_ids,
        limit,
        bucket=sections_of(Case.close_due_at),
    )
    rect = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, CaseRectification.due_at],
        CaseRectification.department_id,
        [CaseRectification.due_at, CaseRectification.id],
        [
            CaseRectification.case_id == Case.id,
            CaseRectification.closed_at.is_(None),
            CaseRectification.due_at < day_after,
        ],
        department_ids,
        limit,
        bucket=sections_of(CaseRectification.due_at),
    )
    found = {}
    for name in (OVERDUE, DUE_TODAY, DUE_TOMORROW):
        first = _section([r for r in cases if r.bucket == name], _deadline_line("close"))
        second = _section([r for r in rect if r.bucket == name], _deadline_line("rectify"))
        found[name] = _merge(first, second, limit)
    return found


def _deadline_line(clock: str) -> Any:
    def make(r: Any) -> Line:
        number = case_number(r.received_at, r.id)
        return Line(r.id, number, r.title, r.kind, r.dept, r.due_at, r.due_at, clock=clock)

    return make


def _merge(first: Section, second: Section, limit: int) -> Section:
    lines: dict[int | None, list[Line]] = {}
    totals: dict[int | None, int] = {}
    for dept in set(first.lines) | set(second.lines):
        both = first.lines.get(dept, []) + second.lines.get(dept, [])
        lines[dept] = sorted(both, key=lambda line: (line.at, line.case_id))[:limit]
        totals[dept] = first.totals.get(dept, 0) + second.totals.get(dept, 0)
    return Section(lines, totals)


def bad_ratings(
    session: Session, start: datetime, end: datetime, department_ids: Sequence[int], limit: int
) -> Section:
    rows = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, CaseRating.rated_at,
         CaseRating.level, CaseRating.comment],
        CaseRating.department_id,
        [CaseRating.rated_at, CaseRating.id],
        [
            CaseRating.case_id == Case.id,
            CaseRating.rated_at >= start,
            CaseRating.rated_at < end,
            CaseRating.level < BAD_LEVEL,
        ],
        department_ids,
        limit,
    )  # fmt: skip
    return _section(
        rows,
        lambda r: Line(
            r.id, case_number(r.received_at, r.id), r.title, r.kind, r.dept, r.rated_at,
            level=r.level, note=r.comment,
        ),
    )  # fmt: skip


def pending_returns(session: Session, department_ids: Sequence[int], limit: int) -> Section:
    """退单 the dispatch desk has not decided yet (what the department sent back)."""
    rows = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, CaseReturn.requested_at,
         CaseReturn.reason],
        CaseReturn.department_id,
        [CaseReturn.requested_at, CaseReturn.id],
        [CaseReturn.case_id == Case.id, CaseReturn.decision == Decision.PENDING.value],
        department_ids,
        limit,
    )  # fmt: skip
    return _section(
        rows,
        lambda r: Line(
            r.id, case_number(r.received_at, r.id), r.title, r.kind, r.dept, r.requested_at,
            note=r.reason,
        ),
    )  # fmt: skip


def pending_extensions(session: Session, department_ids: Sequence[int], limit: int) -> Section:
    """延期 asked for and not yet decided."""
    rows = _cut(
        session,
        [Case.id, Case.title, Case.kind, Case.received_at, CaseExtension.requested_at,
         CaseExtension.reason, CaseExtension.previous_due_at, CaseExtension.requested_due_at],
        CaseExtension.department_id,
        [CaseExtension.requested_at, CaseExtension.id],
        [CaseExtension.case_id == Case.id, CaseExtension.decision == Decision.PENDING.value],
        department_ids,
        limit,
    )  # fmt: skip
    return _section(
        rows,
        lambda r: Line(
            r.id, case_number(r.received_at, r.id), r.title, r.kind, r.dept, r.requested_at,
            due_at=r.previous_due_at, note=r.reason, requested_due_at=r.requested_due_at,
        ),
    )  # fmt: skip


def longest_overdue(session: Session, at: datetime, limit: int) -> list[Line]:
    """The ``limit`` open cases overdue longest at ``at``, all departments together."""
    rows = session.execute(
        select(
            Case.id, Case.title, Case.kind, Case.department_id, Case.received_at,
            Case.close_due_at,
        )
        .where(Case.closed_at.is_(None), Case.state != MERGED, Case.close_due_at < at)
        .order_by(Case.close_due_at, Case.id)
        .limit(limit)
    )  # fmt: skip
    return [
        Line(
            r.id, case_number(r.received_at, r.id), r.title, r.kind, r.department_id,
            r.close_due_at, r.close_due_at,
        )
        for r in rows
    ]  # fmt: skip
