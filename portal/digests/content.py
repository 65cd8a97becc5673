"""What a digest says, as data: built once, rendered as mail (text + HTML) or as the
leader's dashboard page, so the mail and the live page always show the same figures.

``build_daily`` makes the digests of every 分管领导 for one day from one query per
section (see :mod:`portal.digests.queries`); ``build_weekly`` ranks every department
on :func:`portal.complaints.stats.department_stats` for the week and the week before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.complaints.models import Case, CaseState
from portal.complaints.stats import DepartmentStats, department_stats, totals
from portal.departments.models import Department, Leader
from portal.digests import queries, topics
from portal.digests.models import DAILY, WEEKLY, LeaderDeputy
from portal.digests.periods import Schedule, Window, daily_window, weekly_window

#: a case's title and the start of its description say what it is about
TOPIC_TEXT_CHARS = 60
TREND_WEEKS = 8


@dataclass(frozen=True)
class DeptRef:
    id: int
    name: str
    short_name: str


@dataclass(frozen=True)
class Recipient:
    leader_id: int
    name: str
    title: str
    email: str
    deputy_name: str = ""
    deputy_email: str = ""


@dataclass
class Part:
    """One section of a digest: the lines shown and how many there are in all."""

    lines: list[queries.Line]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


@dataclass
class DailyDigest:
    recipient: Recipient
    period: date
    window: Window
    as_of: datetime
    late: bool
    departments: list[DeptRef]
    new: Part
    due_today: Part
    due_tomorrow: Part
    overdue: Part
    bad_ratings: Part
    returns: Part
    extensions: Part
    #: department id -> its counts per section, for the summary table
    counts: dict[int, dict[str, int]] = field(default_factory=dict)

    SECTIONS = (
        "new",
        "due_today",
        "due_tomorrow",
        "overdue",
        "bad_ratings",
        "returns",
        "extensions",
    )

    @property
    def empty(self) -> bool:
        return all(getattr(self, name).total == 0 for name in self.SECTIONS)

    @cached_property
    def _by_id(self) -> dict[int, DeptRef]:
        return {d.id: d for d in self.departments}

    def department(self, dept_id: int | None) -> DeptRef | None:
        return self._by_id.get(dept_id or 0)


@dataclass
class DeptWeek:
    dept: DeptRef
    this: DepartmentStats
    prev: DepartmentStats
    score: float | None
    rank: int = 0


@dataclass
class WeeklyDigest:
    recipient: Recipient | None
    period: date
    window: Window
    prev_window: Window
    as_of: datetime
    late: bool
    rows: list[DeptWeek]
    total: DepartmentStats
    prev_total: DepartmentStats
    desk: DepartmentStats
    longest_overdue: list[tuple[queries.Line, DeptRef | None]]
    topics: list[topics.Topic]
    #: (first day of the week, received, closed), oldest first
    history: list[tuple[date, int, int]]


# -- who gets what ---------------------------------------------------------------------
def departments_by_id(session: Session) -> dict[int, DeptRef]:
    rows = session.execute(
        select(Department.id, Department.name, Department.short_name).order_by(
            Department.sort_order, Department.id
        )
    )
    return {r.id: DeptRef(r.id, r.name, r.short_name) for r in rows}


def recipient_of(leader: Leader, deputy: LeaderDeputy | None) -> Recipient:
    return Recipient(
        leader.id,
        leader.name,
        leader.title,
        leader.email or "",
        deputy.name if deputy else "",
        deputy.email if deputy else "",
    )


def supervisors(session: Session, leader_ids: Sequence[int] | None = None) -> list[Leader]:
    """Leaders who supervise at least one department (the daily digest's readers)."""
    query = (
        select(Leader)
        .options(selectinload(Leader.departments))
        .order_by(Leader.sort_order, Leader.id)
    )
    if leader_ids is not None:
        query = query.where(Leader.id.in_(leader_ids))
    return [leader for leader in session.scalars(query) if leader.departments]


def mayors(session: Session) -> list[Leader]:
    query = select(Leader).where(Leader.is_mayor.is_(True)).order_by(Leader.sort_order, Leader.id)
    return list(session.scalars(query))


def deputies(session: Session, leader_ids: Sequence[int]) -> dict[int, LeaderDeputy]:
    rows = session.scalars(select(LeaderDeputy).where(LeaderDeputy.leader_id.in_(leader_ids)))
    return {d.leader_id: d for d in rows}


# -- daily -------------------------------------------------------------------------------
def build_daily(
    session: Session,
    schedule: Schedule,
    period: date,
    *,
    limit: int = 10,
    leaders: Sequence[Leader] | None = None,
    now: datetime | None = None,
    live: bool = False,
) -> list[DailyDigest]:
    """The daily digests of ``period`` for ``leaders`` (default: every supervisor).

    ``live`` (the dashboard) counts new cases from yesterday 00:00 up to ``now`` and
    overdue ones at ``now``; a mail counts yesterday and overdue at its send time."""
    leaders = list(leaders) if leaders is not None else supervisors(session)
    if not leaders:
        return []
    send_at = schedule.send_time(DAILY, period)
    now = now or send_at
    window = daily_window(schedule, period)
    as_of = send_at
    if live:
        window = Window(window.start, now, window.first_day, schedule.local_date(now))
        as_of = now
    dept_ids = sorted({d.id for leader in leaders for d in leader.departments})
    tomorrow = schedule.midnight(period + timedelta(days=1))
    day_after = schedule.midnight(period + timedelta(days=2))
    due = queries.deadlines(session, as_of, tomorrow, day_after, dept_ids, limit)
    sections = {
        "new": queries.received(session, window.start, window.end, dept_ids, limit),
        "due_today": due[queries.DUE_TODAY],
        "due_tomorrow": due[queries.DUE_TOMORROW],
        "overdue": due[queries.OVERDUE],
        "bad_ratings": queries.bad_ratings(session, window.start, window.end, dept_ids, limit),
        "returns": queries.pending_returns(session, dept_ids, limit),
        "extensions": queries.pending_extensions(session, dept_ids, limit),
    }
    named = deputies(session, [leader.id for leader in leaders])
    found = []
    for leader in leaders:
        own = [d.id for d in leader.departments]
        parts = {}
        for name, section in sections.items():
            lines, total = section.for_departments(own)
            parts[name] = Part(lines, total)
        counts = {
            d: {name: section.totals.get(d, 0) for name, section in sections.items()} for d in own
        }
        found.append(
            DailyDigest(
                recipient=recipient_of(leader, named.get(leader.id)),
                period=period,
                window=window,
                as_of=as_of,
                late=not live and schedule.is_late(DAILY, period, now),
                departments=[DeptRef(d.id, d.name, d.short_name) for d in leader.departments],
                counts=counts,
                **parts,
            )
        )
    return found


# -- weekly ------------------------------------------------------------------------------
def _score(s: DepartmentStats) -> float | None:
    """One figure to rank by: 30 % 按时签收率, 40 % 按时办结率, 30 % 满意率, over the
    rates a department has this week (no cases rated: the other two decide)."""
    weighted = [
        (0.3, s.sign_on_time_rate),
        (0.4, s.close_on_time_rate),
        (0.3, s.satisfaction_rate),
    ]
    present = [(w, r) for w, r in weighted if r is not None]
    if not present:
        return None
    return sum(w * r for w, r in present) / sum(w for w, _ in present) * 100


def rank(rows: list[DeptWeek]) -> list[DeptWeek]:
    """Best first: by score, then fewer overdue, more cases, name. Departments with
    nothing to score this week come last, unranked."""
    scored = sorted(
        (r for r in rows if r.score is not None),
        key=lambda r: (-(r.score or 0), r.this.overdue, -r.this.received, r.dept.name),
    )
    for position, row in enumerate(scored, 1):
        row.rank = position
    rest = sorted(
        (r for r in rows if r.score is None), key=lambda r: (r.this.overdue * -1, r.dept.name)
    )
    return scored + rest


def _week_texts(session: Session, window: Window) -> list[str]:
    rows = session.execute(
        select(Case.title, func.substr(Case.description, 1, TOPIC_TEXT_CHARS)).where(
            Case.received_at >= window.start,
            Case.received_at < window.end,
            Case.state != CaseState.MERGED.value,
        )
    )
    return [f"{title}\n{text or ''}" for title, text in rows]


def _history(session: Session, schedule: Schedule, period: date) -> list[tuple[date, int, int]]:
    """Cases received and closed in each of the last ``TREND_WEEKS`` weeks: one
    statement of range counts, each an index-only scan of one week."""
    starts = [period - timedelta(days=7 * (TREND_WEEKS - i)) for i in range(TREND_WEEKS + 1)]
    bounds = [schedule.midnight(d) for d in starts]
    counts = [
        select(func.count()).where(column >= bounds[i], column < bounds[i + 1]).scalar_subquery()
        for column in (Case.received_at, Case.closed_at)
        for i in range(TREND_WEEKS)
    ]
    row = session.execute(select(*counts)).one()
    received, closed = row[:TREND_WEEKS], row[TREND_WEEKS:]
    return [(starts[i], received[i], closed[i]) for i in range(TREND_WEEKS)]


def build_weekly(
    session: Session,
    schedule: Schedule,
    period: date,
    *,
    recipient: Recipient | None = None,
    now: datetime | None = None,
    live: bool = False,
    top: int = 10,
) -> WeeklyDigest:
    """The weekly summary for the week before ``period`` (a send day); ``live`` (the
    mayor's page) takes the seven days up to ``now`` instead."""
    send_at = schedule.send_time(WEEKLY, period)
    now = now or send_at
    window, prev_window = weekly_window(schedule, period), weekly_window(schedule, period, 1)
    as_of = send_at
    if live:
        start = now - timedelta(days=7)
        window = Window(start, now, schedule.local_date(start), schedule.local_date(now))
        before = start - timedelta(days=7)
        prev_window = Window(before, start, schedule.local_date(before), window.first_day)
        as_of = now
    this = department_stats(session, window.start, window.end)
    prev = department_stats(session, prev_window.start, prev_window.end)
    depts = departments_by_id(session)
    rows = [
        DeptWeek(
            ref,
            this.get(ref.id) or DepartmentStats(ref.id),
            prev.get(ref.id) or DepartmentStats(ref.id),
            _score(this.get(ref.id) or DepartmentStats(ref.id)),
        )
        for ref in depts.values()
    ]
    longest = [
        (line, depts.get(line.department_id or 0))
        for line in queries.longest_overdue(session, as_of, top)
    ]
    return WeeklyDigest(
        recipient=recipient,
        period=period,
        window=window,
        prev_window=prev_window,
        as_of=as_of,
        late=not live and schedule.is_late(WEEKLY, period, now),
        rows=rank(rows),
        total=totals(this.values()),
        prev_total=totals(prev.values()),
        desk=this.get(None) or DepartmentStats(None),
        longest_overdue=longest,
        topics=topics.recurring(_week_texts(session, window), _week_texts(session, prev_window)),
        history=_history(session, schedule, period if not live else schedule.local_date(now)),
    )
