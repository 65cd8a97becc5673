"""Chat figures per department: first-response time, handling time, missed chats,
ratings; for heads (their department), leaders (those they 分管) and supervisors.

Definitions (shown on the page as well):

* **first response**: from the enterprise opening the chat to the first staff message;
* **handling time**: from a staff member taking the chat to its close;
* **missed**: closed without any staff message (the enterprise left the queue, or
  nobody answered);
* **满意率**: ratings of 基本满意 or better among rated chats.

Durations are computed in Python from the period's rows, the same way on SQLite and
PostgreSQL; a department has at most a few thousand chats a month.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.chat.closing import RATINGS
from portal.chat.models import Conversation, ConvState
from portal.chat.views import TPL, translate
from portal.clock import LOCAL_TZ, IClock, local
from portal.departments.models import Department
from portal.departments.oversight import Oversight
from portal.i18n import N_
from portal.permissions import Permission as Perm

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass
class DepartmentFigures:
    department_id: int
    name: str
    total: int = 0
    closed: int = 0
    missed: int = 0
    first_response: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    ratings: dict[int, int] = field(default_factory=lambda: {n: 0 for n, _label in RATINGS})

    def add(self, conv: Any) -> None:
        self.total += 1
        if conv.first_response_at is not None:
            self.first_response.append(_seconds(conv.created_at, conv.first_response_at))
        if conv.state != ConvState.CLOSED.value:
            return
        self.closed += 1
        if conv.first_response_at is None:
            self.missed += 1
        if conv.claimed_at is not None and conv.closed_at is not None:
            self.handling.append(_seconds(conv.claimed_at, conv.closed_at))
        if conv.rating in self.ratings:
            self.ratings[conv.rating] += 1

    def merge(self, other: DepartmentFigures) -> None:
        self.total += other.total
        self.closed += other.closed
        self.missed += other.missed
        self.first_response += other.first_response
        self.handling += other.handling
        for level, count in other.ratings.items():
            self.ratings[level] += count

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def average_rating(self) -> float | None:
        return sum(n * c for n, c in self.ratings.items()) / self.rated if self.rated else None

    @property
    def satisfaction(self) -> float | None:
        """Share of ratings 基本满意 (3) or better."""
        good = sum(c for n, c in self.ratings.items() if n >= 3)
        return good / self.rated if self.rated else None

    @property
    def missed_rate(self) -> float | None:
        return self.missed / self.closed if self.closed else None

    @property
    def first_response_avg(self) -> float | None:
        return _mean(self.first_response)

    @property
    def first_response_p90(self) -> float | None:
        return _percentile(self.first_response, 0.9)

    @property
    def handling_avg(self) -> float | None:
        return _mean(self.handling)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100) * len(ordered) // 100))
    return ordered[rank - 1]


def figures(
    db: Session, scope: Oversight, start: datetime, end: datetime
) -> tuple[list[DepartmentFigures], DepartmentFigures]:
    """Figures per department for chats opened in [start, end), and their total."""
    stmt = select(
        Conversation.department_id,
        Conversation.state,
        Conversation.created_at,
        Conversation.claimed_at,
        Conversation.first_response_at,
        Conversation.closed_at,
        Conversation.rating,
    ).where(Conversation.created_at >= start, Conversation.created_at < end)
    departments = select(Department.id, Department.name).order_by(Department.sort_order)
    if not scope.everything:
        stmt = stmt.where(Conversation.department_id.in_(scope.department_ids))
        departments = departments.where(Department.id.in_(scope.department_ids))
    rows = {d.id: DepartmentFigures(d.id, d.name) for d in db.execute(departments)}
    for conv in db.execute(stmt):
        if conv.department_id in rows:
            rows[conv.department_id].add(conv)
    total = DepartmentFigures(0, "")
    for row in rows.values():
        total.merge(row)
    # Every department in a leader's list is shown, even without chats; the city-wide
    # view lists only departments that had some.
    shown = [r for r in rows.values() if r.total or not scope.everything]
    return shown, total


def period(request: Request) -> tuple[date, date]:
    """The chosen days (inclusive), in Asia/Shanghai; the last 30 by default."""
    today = local(request.find_service(IClock).now()).date()
    start = _date(request.GET.get("from")) or today - timedelta(days=DEFAULT_DAYS - 1)
    end = _date(request.GET.get("to")) or today
    if end < start:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_DAYS - 1))
    return start, end


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return None


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(), LOCAL_TZ),
        datetime.combine(end + timedelta(days=1), time(), LOCAL_TZ),
    )


def duration(seconds: float | None) -> str:
    """``1:05:09`` / ``4:09`` for the tables; an empty cell when there is nothing to show."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


@view_config(
    route_name="chat.reports",
    request_method="GET",
    renderer=TPL.format("reports"),
    permission=Perm.CHAT_REPORTS,
)
def reports(request: Request) -> Any:
    start, end = period(request)
    scope = request.oversight
    rows, total = figures(request.dbsession, scope, *bounds(start, end))
    if request.GET.get("format") == "csv":
        return _csv(request, rows, total, start, end)
    return {
        "rows": rows,
        "total": total,
        "start": start,
        "end": end,
        "ratings": RATINGS,
        "duration": duration,
        "percent": percent,
    }


def _csv(
    request: Request,
    rows: list[DepartmentFigures],
    total: DepartmentFigures,
    start: date,
    end: date,
) -> Response:
    t = lambda msgid: translate(request, msgid)  # noqa: E731
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            t(N_("Department")),
            t(N_("Chats")),
            t(N_("Missed")),
            t(N_("Average first response")),
            t(N_("First response, 90% within")),
            t(N_("Average handling time")),
            *(t(label) for _n, label in RATINGS),
            t(N_("Satisfaction")),
        ]
    )
    for row in [*rows, total]:
        writer.writerow(
            [
                row.name or t(N_("Total")),
                row.total,
                row.missed,
                duration(row.first_response_avg),
                duration(row.first_response_p90),
                duration(row.handling_avg),
                *(row.ratings[n] for n, _label in RATINGS),
                percent(row.satisfaction),
            ]
        )
    response = Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),  # the BOM lets Excel read UTF-8
        content_type="text/csv",
        charset="utf-8",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="chat-report-{start.isoformat()}-{end.isoformat()}.csv"'
    )
    return response
