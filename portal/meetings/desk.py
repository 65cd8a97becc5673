"""The department side: a head's calendar, weekly availability with date overrides,
and the department's slot rules. Heads keep their own; staff of the department keep
them on a head's behalf (``?head=``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from portal.accounts.models import User
from portal.clock import LOCAL_TZ
from portal.i18n import N_
from portal.meetings import parsing, slots
from portal.meetings.interfaces import BookingError
from portal.meetings.models import (
    DEFAULT_RULES,
    AvailabilityOverride,
    BookingState,
    Side,
    SlotRules,
    WeeklyAvailability,
)
from portal.meetings.notify import STATE_LABELS
from portal.meetings.resources import MeetingDesk
from portal.meetings.services import active_heads, may_keep_availability
from portal.meetings.views import error_dict, now_of, run_saved, service
from portal.meetings.workflow import actions_for
from portal.permissions import Permission as Perm
from portal.roles import Role

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
DAY_KIND_LABELS = {
    slots.DayKind.WORKDAY: N_("Working day"),
    slots.DayKind.MAKEUP_WORKDAY: N_("Working weekend (调休)"),
    slots.DayKind.WEEKEND: N_("Weekend"),
    slots.DayKind.HOLIDAY: N_("Public holiday"),
    slots.DayKind.UNKNOWN: N_("Holiday calendar not yet published"),
}
#: rule field → (label, lowest, highest)
RULE_FIELDS = {
    "length_minutes": (N_("Meeting length (minutes)"), 10, 240),
    "interval_minutes": (N_("Slot interval (minutes)"), 5, 240),
    "buffer_before_minutes": (N_("Buffer before (minutes)"), 0, 120),
    "buffer_after_minutes": (N_("Buffer after (minutes)"), 0, 120),
    "min_notice_minutes": (N_("Minimum notice (minutes)"), 0, 30 * 24 * 60),
    "horizon_days": (N_("How far ahead (days)"), 1, 180),
    "daily_cap": (N_("Meetings per head per day at most"), 1, 20),
}


def keepable_heads(request: Request) -> list[User]:
    """The heads whose calendar and availability the viewer may keep."""
    user = request.user
    if user is None:
        return []
    if user.has_role(Role.ADMIN):
        return active_heads(request.dbsession)
    if user.department_id is None:
        return []
    return [
        h
        for h in active_heads(request.dbsession, user.department_id)
        if may_keep_availability(user, h)
    ]


def chosen_head(request: Request) -> tuple[User, list[User]]:
    heads = keepable_heads(request)
    raw = request.params.get("head", "")
    for head in heads:
        if raw == str(head.id) or (not raw and head.id == request.authenticated_userid):
            return head, heads
    if not raw and heads:
        return heads[0], heads
    raise HTTPForbidden()


def week_start(request: Request, today: date) -> date:
    try:
        day = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


@view_config(
    route_name="meetings.calendar",
    renderer="portal:templates/meetings/calendar.jinja2",
    permission=Perm.MEETING_AVAILABILITY,
)
def calendar(context: MeetingDesk, request: Request) -> dict[str, Any]:
    head, heads = chosen_head(request)
    svc = service(request)
    now = now_of(request)
    monday = week_start(request, slots.local_date(now))
    first = datetime.combine(monday, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    bookings = svc.bookings_of_head(head.id, first, first + timedelta(days=7))
    schedule = svc.schedule_for(head)
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        info = schedule.calendar(day)
        days.append(
            {
                "date": day,
                "weekday": WEEKDAYS[day.weekday()],
                "kind": DAY_KIND_LABELS[info.kind],
                "open": info.is_open,
                "hours": slots.intervals_for_day(schedule, day),
                "bookings": [b for b in bookings if slots.local_date(b.starts_at) == day],
            }
        )
    pending = [
        b
        for b in svc.bookings_of_head(head.id, now, now + timedelta(days=365))
        if b.state == BookingState.REQUESTED
        or (b.state == BookingState.RESCHEDULED and b.proposed_by == Side.ENTERPRISE)
    ]
    return {
        "head": head,
        "heads": heads,
        "days": days,
        "monday": monday,
        "prev_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "pending": pending,
        "state_labels": STATE_LABELS,
        "actions_for": lambda b: actions_for(b.state, Side.DEPARTMENT),
    }


def _availability_page(
    request: Request, head: User, heads: list[User], errors: dict[str, Any], form: Any = None
) -> dict[str, Any]:
    db = request.dbsession
    weekly = db.scalars(
        select(WeeklyAvailability)
        .where(WeeklyAvailability.head_id == head.id)
        .order_by(WeeklyAvailability.weekday, WeeklyAvailability.start_time)
    ).all()
    today = slots.local_date(now_of(request))
    overrides = db.scalars(
        select(AvailabilityOverride)
        .where(AvailabilityOverride.head_id == head.id, AvailabilityOverride.day >= today)
        .order_by(AvailabilityOverride.day, AvailabilityOverride.start_time)
    ).all()
    ranges = {
        d: parsing.format_ranges([(w.start_time, w.end_time) for w in weekly if w.weekday == d])
        for d in range(7)
    }
    return {
        "head": head,
        "heads": heads,
        "weekdays": WEEKDAYS,
        "ranges": ranges,
        "overrides": overrides,
        "errors": errors,
        "form": form or {},
    }


@view_config(
    route_name="meetings.availability",
    renderer="portal:templates/meetings/availability.jinja2",
    permission=Perm.MEETING_AVAILABILITY,
)
def availability(context: MeetingDesk, request: Request) -> Any:
    head, heads = chosen_head(request)
    if request.method != "POST":
        return _availability_page(request, head, heads, {})
    try:
        intervals = [
            (d, start, end)
            for d in range(7)
            for start, end in parsing.parse_ranges(request.POST.get(f"day{d}"), f"day{d}")
        ]
        run_saved(request, lambda: service(request).set_weekly(head, intervals, request.user))
    except BookingError as error:
        request.response.status = 400
        return _availability_page(request, head, heads, error_dict(request, error), request.POST)
    request.session.flash(N_("The weekly availability was saved."), "success")
    return HTTPSeeOther(request.route_url("meetings.availability", _query={"head": head.id}))


@view_config(
    route_name="meetings.override_add",
    request_method="POST",
    renderer="portal:templates/meetings/availability.jinja2",
    permission=Perm.MEETING_AVAILABILITY,
)
def override_add(context: MeetingDesk, request: Request) -> Any:
    head, heads = chosen_head(request)
    post = request.POST
    try:
        day = parsing.parse_day(post.get("day"))
        closed = post.get("closed") == "1"
        start = None if closed else parsing.parse_time(post.get("start"), "start")
        end = None if closed else parsing.parse_time(post.get("end"), "end")
        if not closed and (start is None or end is None):
            raise BookingError(
                "no_times", "start", N_("Give the hours, or mark the day as closed.")
            )
        run_saved(
            request,
            lambda: service(request).add_override(
                head, day, start, end, post.get("note", ""), request.user
            ),
        )
    except BookingError as error:
        request.response.status = 400
        return _availability_page(request, head, heads, error_dict(request, error), post)
    request.session.flash(N_("The date override was added."), "success")
    return HTTPSeeOther(request.route_url("meetings.availability", _query={"head": head.id}))


@view_config(
    route_name="meetings.override_delete",
    request_method="POST",
    permission=Perm.MEETING_AVAILABILITY,
)
def override_delete(context: AvailabilityOverride, request: Request) -> Any:
    head = request.dbsession.get(User, context.head_id)
    if head is None or not may_keep_availability(request.user, head):
        raise HTTPForbidden()
    service(request).remove_override(context, request.user)
    request.session.flash(N_("The date override was removed."), "success")
    return HTTPSeeOther(request.route_url("meetings.availability", _query={"head": head.id}))


@view_config(
    route_name="meetings.rules",
    renderer="portal:templates/meetings/rules.jinja2",
    permission=Perm.MEETING_AVAILABILITY,
)
def rules(context: MeetingDesk, request: Request) -> Any:
    head, heads = chosen_head(request)
    department = head.department
    assert department is not None  # chosen among active_heads(), which have one
    row = request.dbsession.get(SlotRules, department.id)
    current = {k: getattr(row, k) if row else v for k, v in DEFAULT_RULES.items()}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            values = {
                key: parsing.parse_int(request.POST.get(key), key, low, high)
                for key, (_label, low, high) in RULE_FIELDS.items()
            }
            run_saved(
                request,
                lambda: service(request).set_rules(department.id, values, request.user),
            )
        except BookingError as error:
            request.response.status = 400
            errors = error_dict(request, error)
            current.update({k: request.POST.get(k, "") for k in RULE_FIELDS})
        else:
            request.session.flash(N_("The booking rules were saved."), "success")
            return HTTPSeeOther(request.route_url("meetings.rules", _query={"head": head.id}))
    return {
        "head": head,
        "heads": heads,
        "department": department,
        "fields": RULE_FIELDS,
        "values": current,
        "errors": errors,
    }
