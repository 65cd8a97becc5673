"""Department statistics (page and CSV) and the routing catalogue's admin screen."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from portal.clock import IClock, local
from portal.complaints import stats
from portal.complaints.catalogue import load_catalogue
from portal.complaints.deadlines import WorkCalendar
from portal.complaints.models import CaseCategory
from portal.complaints.scope import CaseScope
from portal.departments.models import Department
from portal.i18n import N_, _
from portal.permissions import Permission as Perm

MAX_DAYS = 366

#: the columns of the table and the CSV, in order: (key, label, kind)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("received", N_("Received"), "count"),
    ("signed_on_time", N_("Signed on time"), "count"),
    ("sign_on_time_rate", N_("Signed on time (rate)"), "rate"),
    ("closed", N_("Closed"), "count"),
    ("closed_on_time", N_("Closed on time"), "count"),
    ("close_on_time_rate", N_("Closed on time (rate)"), "rate"),
    ("overdue", N_("Overdue"), "count"),
    ("returned", N_("Returned"), "count"),
    ("returns_refused", N_("Improper returns"), "count"),
    ("extended", N_("Extended"), "count"),
    ("average_handling_hours", N_("Average handling time (hours)"), "hours"),
    ("rated", N_("Ratings"), "count"),
    ("satisfaction_rate", N_("Satisfaction rate"), "rate"),
    ("bad", N_("Bad ratings"), "count"),
    ("fix_rate", N_("Bad-rating fix rate"), "rate"),
)


@dataclass(frozen=True)
class StatsFilter:
    start: date
    end: date  # inclusive, a local date
    group: str = ""
    department_id: int | None = None

    def as_query(self) -> dict[str, Any]:
        query: dict[str, Any] = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.group:
            query["group"] = self.group
        if self.department_id is not None:
            query["department_id"] = self.department_id
        return query


def parse_filter(request: Request, today: date) -> tuple[StatsFilter, str | None]:
    """The filter from the query string, and the error to show if it made no sense
    (the default period is then used)."""
    default = StatsFilter(today - timedelta(days=6), today)
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    raw_dept = request.GET.get("department_id", "")
    group = request.GET.get("group", "")[:20]
    dept = int(raw_dept) if raw_dept.isdigit() and len(raw_dept) < 10 else None
    try:
        start = date.fromisoformat(raw_from) if raw_from else default.start
        end = date.fromisoformat(raw_to) if raw_to else default.end
    except ValueError:
        return default, N_("Enter dates as YYYY-MM-DD, e.g. 2026-03-02.")
    if end < start:
        return default, N_("The period must end after it starts.")
    if (end - start).days >= MAX_DAYS:
        return default, N_("Choose a period of at most a year.")
    return StatsFilter(start, end, group, dept), None


def _scope(request: Request) -> list[int] | None:
    """The departments the user may see figures of (None = all): those whose cases
    they may see (:mod:`portal.complaints.scope`)."""
    scope: CaseScope = request.case_scope
    return scope.department_list()


def _rows(request: Request, context: Any, flt: StatsFilter) -> tuple[list[Any], Any]:
    db = request.dbsession
    calendar = WorkCalendar()
    start, end = calendar.start_of(flt.start), calendar.start_of(flt.end + timedelta(days=1))
    query = select(Department).where(Department.is_active.is_(True))
    allowed = _scope(request)
    if allowed is not None:
        query = query.where(Department.id.in_(allowed))
    if flt.group:
        query = query.where(Department.category == flt.group)
    if flt.department_id is not None:
        query = query.where(Department.id == flt.department_id)
    depts = list(db.scalars(query.order_by(Department.sort_order)))
    ids: list[int | None] = [d.id for d in depts]
    if allowed is None and not flt.group and flt.department_id is None:
        ids.append(None)  # the dispatch desk's own queue
    figures = stats.department_stats(db, start, end, ids)
    rows = [(d, figures.get(d.id) or stats.DepartmentStats(d.id)) for d in depts]
    if None in ids:
        rows.append((None, figures.get(None) or stats.DepartmentStats(None)))
    return rows, stats.totals(r for _d, r in rows)


def _groups(request: Request) -> list[str]:
    return list(
        request.dbsession.scalars(
            select(Department.category).distinct().order_by(Department.category)
        )
    )


def _today(request: Request) -> date:
    now: datetime = request.find_service(IClock).now()
    return local(now).date()


@view_config(
    route_name="cases.stats",
    request_method="GET",
    renderer="portal:templates/complaints/stats.jinja2",
    permission=Perm.CASE_STATS,
)
def stats_page(context: Any, request: Request) -> dict[str, Any]:
    flt, error = parse_filter(request, _today(request))
    if error:
        request.response.status = 400
    rows, total = _rows(request, context, flt)
    return {
        "filter": flt,
        "error": error,
        "rows": rows,
        "total": total,
        "columns": COLUMNS,
        "groups": _groups(request),
        "departments": [(d.id, d.name) for d, _r in rows if d is not None]
        if flt.department_id is None
        else [],
        "fmt": _format,
    }


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f}"
    return str(value)


@view_config(route_name="cases.stats_csv", request_method="GET", permission=Perm.CASE_STATS)
def stats_csv(context: Any, request: Request) -> Response:
    flt, error = parse_filter(request, _today(request))
    if error:
        response = Response(get_localizer(request).translate(_(error)), status=400)
        response.content_type = "text/plain"
        return response
    rows, total = _rows(request, context, flt)
    translate = get_localizer(request).translate
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [translate(_("Department")), *(translate(_(label)) for _k, label, _t in COLUMNS)]
    )
    desk = translate(_("Dispatch desk"))
    for dept, figures in [*rows, (False, total)]:
        name = translate(_("Total")) if dept is False else dept.name if dept else desk
        values = figures.as_row()
        writer.writerow([name, *(_csv_value(values[k], kind) for k, _l, kind in COLUMNS)])
    # A byte-order mark, so spreadsheet programs read the Chinese as UTF-8.
    response = Response(body=("\ufeff" + out.getvalue()).encode("utf-8"))
    response.content_type = "text/csv"
    response.charset = "utf-8"
    filename = f"case-stats-{flt.start.isoformat()}-{flt.end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "hours":
        return f"{value:.2f}"
    return str(value)


# -- the routing catalogue -----------------------------------------------------------------
@view_config(
    route_name="cases.catalogue",
    renderer="portal:templates/complaints/catalogue.jinja2",
    permission=Perm.CASE_CATALOGUE,
)
def catalogue_page(request: Request) -> Any:
    db = request.dbsession
    if request.method == "POST":
        return _catalogue_post(request)
    return {
        "categories": list(
            db.scalars(select(CaseCategory).order_by(CaseCategory.group, CaseCategory.sort_order))
        ),
        "departments": list(
            db.execute(
                select(Department.id, Department.name)
                .where(Department.is_active.is_(True))
                .order_by(Department.sort_order)
            )
        ),
    }


def _catalogue_post(request: Request) -> HTTPSeeOther:
    db = request.dbsession
    target = HTTPSeeOther(request.route_url("cases.catalogue"))
    if request.POST.get("action") == "load":
        added = load_catalogue(db)
        request.session.flash(
            get_localizer(request).translate(
                _("${n} categories were added from the shipped catalogue.", mapping={"n": added})
            ),
            "success",
        )
        return target
    raw = request.POST.get("category_id", "")
    category = db.get(CaseCategory, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if category is None:
        request.session.flash(N_("Choose a category from the list."), "error")
        return target
    lead_raw = request.POST.get("lead_department_id", "")
    lead = db.get(Department, int(lead_raw)) if lead_raw.isdigit() and len(lead_raw) < 10 else None
    if lead_raw and lead is None:
        request.session.flash(N_("Choose a department from the list."), "error")
        return target
    assists = []
    for raw_id in request.POST.getall("assist_ids"):
        dept = db.get(Department, int(raw_id)) if raw_id.isdigit() and len(raw_id) < 10 else None
        if dept is None:
            request.session.flash(N_("Choose a department from the list."), "error")
            return target
        if dept is not lead:
            assists.append(dept)
    category.lead_department = lead
    category.assist_departments = assists
    category.is_active = request.POST.get("is_active") == "1"
    request.session.flash(N_("The catalogue was saved."), "success")
    return target
