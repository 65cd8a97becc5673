"""Booking pages of the enterprise side and of a single booking.

department → head → free slot, topic, materials (``meetings.head``); my bookings;
a booking's page with the actions its viewer's side may take; the signed-link page
that lets either side reschedule or cancel from the mail without logging in.
Every refusal is shown next to its field in Chinese and changes nothing (the
service runs in a savepoint that a refusal rolls back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from itertools import groupby
from typing import Any

from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.interfaces import IRoutesMapper
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import FileResponse, Response
from pyramid.view import view_config
from sqlalchemy.exc import OperationalError

from portal.clock import IClock
from portal.content.files import FORMATS
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.meetings import parsing, slots
from portal.meetings.interfaces import BookingError, IBookingService, LinkError, SlotTaken
from portal.meetings.models import Booking, BookingMaterial, Side
from portal.meetings.notify import STATE_LABELS
from portal.meetings.resources import HeadDesk, MeetingDesk
from portal.meetings.services import MAX_MATERIALS, active_heads
from portal.meetings.workflow import actions_for
from portal.permissions import Permission as Perm
from portal.roles import Role
from portal.web import stored_file

log = logging.getLogger(__name__)

MULTIPART_ALLOWANCE = 16 * 1024
#: days the head page shows at once
WEEK = 7

ACTION_LABELS = {
    "confirm": N_("Confirm"),
    "decline": N_("Decline"),
    "reschedule": N_("Reschedule"),
    "cancel": N_("Cancel the booking"),
    "complete": N_("Mark as completed"),
    "no_show": N_("Mark as not attended"),
    "request": N_("Requested"),
}
SIDE_LABELS = {Side.ENTERPRISE: N_("Enterprise"), Side.DEPARTMENT: N_("Department")}


def service(request: Request) -> Any:
    return request.find_service(IBookingService)


def now_of(request: Request) -> Any:
    return request.find_service(IClock).now()


def run_saved(request: Request, fn: Callable[[], Any]) -> Any:
    """Run a service call in a savepoint: a BookingError rolls back all it did."""
    savepoint = request.dbsession.begin_nested()
    try:
        result = fn()
    except InputError:
        savepoint.rollback()
        raise
    except OperationalError as exc:
        # SQLite refuses a second writer with "database is locked" when another one
        # committed during this request; nothing was written, the user may resend.
        savepoint.rollback()
        if "locked" not in str(exc.orig):
            raise
        log.warning("booking write refused: database busy")
        raise BookingError(
            "busy", "", N_("Many requests arrived at once. Please submit again.")
        ) from None
    savepoint.commit()
    return result


def error_dict(request: Request, error: InputError) -> dict[str, str]:
    """``{field: message in the viewer's language}``; "form" for a page-level error."""
    message = _(error.message, mapping=error.mapping)
    return {error.field or "form": request.localizer.translate(message)}


def week_days(request: Request, first_bookable: date) -> tuple[date, date]:
    raw = request.GET.get("from")
    try:
        start = date.fromisoformat(raw) if raw else first_bookable
    except ValueError:
        start = first_bookable
    start = max(start, first_bookable)
    return start, start + timedelta(days=WEEK - 1)


def grouped(found: list[slots.Slot]) -> list[tuple[date, list[slots.Slot]]]:
    return [(day, list(items)) for day, items in groupby(found, key=lambda s: s.local_start.date())]


def room_url(request: Request, booking: Booking) -> str | None:
    """The meeting page, once the meeting-room part has registered its route."""
    mapper = request.registry.getUtility(IRoutesMapper)
    if mapper.get_route("meetings.room") is None:
        return None
    return str(request.route_path("meetings.room", id=booking.id))


# -- department → head ------------------------------------------------------------------
@view_config(
    route_name="meetings.entry",
    renderer="portal:templates/meetings/entry.jinja2",
    permission=Perm.VIEW,
)
def entry(request: Request) -> dict[str, Any]:
    """视频交流预约: departments and their heads."""
    heads = active_heads(request.dbsession)
    by_department: dict[int, tuple[Department, list[Any]]] = {}
    for head in heads:
        department = head.department
        assert department is not None  # active_heads() joins on the department
        by_department.setdefault(department.id, (department, []))[1].append(head)
    user = request.user
    return {
        "departments": list(by_department.values()),
        "is_enterprise": bool(user and user.enterprise_id),
        "is_desk": bool(user and (user.has_role(Role.HEAD) or user.has_role(Role.STAFF))),
    }


def _head_page(
    context: HeadDesk, request: Request, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    svc = service(request)
    now = now_of(request)
    head = context.head
    rules = svc.rules_for(head.department_id)
    first, last = week_days(request, slots.local_date(now))
    found = svc.free_slots(head, first, last)
    horizon = slots.last_bookable_day(rules, now)
    user = request.user
    return {
        "head": head,
        "department": head.department,
        "rules": rules,
        "days": grouped(found),
        "first": first,
        "last": last,
        "prev_from": (first - timedelta(days=WEEK)) if first > slots.local_date(now) else None,
        "next_from": (last + timedelta(days=1)) if last < horizon else None,
        "horizon": horizon,
        "can_book": bool(request.has_permission(Perm.MEETING_BOOK, context))
        and bool(user and user.enterprise_id),
        "errors": errors or {},
        "form": request.POST if request.method == "POST" else {},
        "slot_value": parsing.slot_value,
        "max_materials": MAX_MATERIALS,
        "max_upload_mb": int(request.registry.settings["qzt.upload.max_bytes"]) >> 20,
        "accepted": ", ".join(sorted(FORMATS)),
    }


@view_config(
    route_name="meetings.head",
    request_method="GET",
    renderer="portal:templates/meetings/head.jinja2",
    permission=Perm.VIEW,
)
def head_page(context: HeadDesk, request: Request) -> dict[str, Any]:
    return _head_page(context, request)


# CSRF is checked by hand after the size check (see content.manage.upload_attachment):
# Pyramid's own check would parse a possibly oversize multipart body first.
@view_config(
    route_name="meetings.head",
    request_method="POST",
    permission=Perm.MEETING_BOOK,
    require_csrf=False,
)
def book(context: HeadDesk, request: Request) -> Response:
    limit = int(request.registry.settings["qzt.upload.max_bytes"])
    length = request.content_length
    if length is None or length > limit + MULTIPART_ALLOWANCE:
        log.warning("booking refused: upload too large (%s bytes)", length)
        return _render_head(
            context, request, BookingError("too_large", "upload", _too_large(), limit=limit >> 20)
        )
    check_csrf_origin(request, raises=True)
    request.add_finished_callback(lambda r: r.body_file_raw.close())
    check_csrf_token(request, raises=True)
    files = [f for f in request.POST.getall("materials") if hasattr(f, "file") and f.filename]
    user = request.user
    try:
        starts_at = parsing.parse_slot(request.POST.get("slot"))
        booking = run_saved(
            request,
            lambda: service(request).request(
                user,
                context.head,
                starts_at,
                request.POST.get("topic", ""),
                request.POST.get("details", ""),
                [(f.filename, f.file) for f in files],
            ),
        )
    except InputError as error:
        return _render_head(context, request, error)
    finally:
        for f in files:
            f.file.close()
    request.session.flash(N_("Your request was sent. The department will confirm it."), "success")
    return HTTPSeeOther(request.route_url("meetings.booking", id=booking.id))


def _too_large() -> str:
    return N_("The files together are larger than ${limit} MB.")


def _render_head(context: HeadDesk, request: Request, error: InputError) -> Response:
    response = render_to_response(
        "portal:templates/meetings/head.jinja2",
        _head_page(context, request, error_dict(request, error)),
        request=request,
    )
    response.status = 409 if isinstance(error, SlotTaken) else 400
    return response


# -- my bookings, a booking -----------------------------------------------------------------
@view_config(
    route_name="meetings.mine",
    renderer="portal:templates/meetings/mine.jinja2",
    permission=Perm.MEETING_BOOK,
)
def mine(context: MeetingDesk, request: Request) -> dict[str, Any]:
    user = request.user
    if user is None or user.enterprise_id is None:
        raise HTTPForbidden()
    bookings = service(request).bookings_of_enterprise(user.enterprise_id)
    now = now_of(request)
    return {
        "upcoming": [b for b in reversed(bookings) if b.ends_at >= now and b.is_active],
        "past": [b for b in bookings if not (b.ends_at >= now and b.is_active)],
        "state_labels": STATE_LABELS,
    }


@view_config(
    route_name="meetings.booking",
    renderer="portal:templates/meetings/booking.jinja2",
    permission=Perm.MEETING_VIEW,
)
def booking_page(context: Booking, request: Request) -> dict[str, Any]:
    side = context.side_of(request.user)
    actions = actions_for(context.state, side) if side else []
    return {
        "booking": context,
        "side": side,
        "actions": [a for a in actions if a != "reschedule"],
        "can_reschedule": "reschedule" in actions,
        "state_labels": STATE_LABELS,
        "action_labels": ACTION_LABELS,
        "side_labels": SIDE_LABELS,
        "room_url": room_url(request, context),
        "now": now_of(request),
    }


@view_config(
    route_name="meetings.booking_action",
    request_method="POST",
    permission=Perm.MEETING_VIEW,
)
def booking_action(context: Booking, request: Request) -> HTTPSeeOther:
    side = context.side_of(request.user)
    action = request.POST.get("action", "")
    url = request.route_url("meetings.booking", id=context.id)
    if side is None or action not in actions_for(context.state, side) or action == "reschedule":
        log.warning("booking %s: action %r refused for user %s", context.id, action, request.user)
        request.session.flash(N_("This is not possible in the booking's current state."), "error")
        return HTTPSeeOther(url)
    try:
        run_saved(
            request,
            lambda: service(request).transition(
                context, action, request.user, side, request.POST.get("reason", "")
            ),
        )
    except BookingError as error:
        request.session.flash(error.message, "error")
        return HTTPSeeOther(url)
    request.session.flash(N_("The booking was updated; both sides were notified."), "success")
    return HTTPSeeOther(url)


def _reschedule_page(
    request: Request, booking: Booking, errors: dict[str, Any], post_url: str
) -> dict[str, Any]:
    svc = service(request)
    now = now_of(request)
    first, last = week_days(request, slots.local_date(now))
    rules = svc.rules_for(booking.department_id)
    horizon = slots.last_bookable_day(rules, now)
    return {
        "booking": booking,
        "days": grouped(svc.free_slots(booking.head, first, last, exclude=booking)),
        "first": first,
        "last": last,
        "prev_from": (first - timedelta(days=WEEK)) if first > slots.local_date(now) else None,
        "next_from": (last + timedelta(days=1)) if last < horizon else None,
        "errors": errors,
        "slot_value": parsing.slot_value,
        "post_url": post_url,
        "state_labels": STATE_LABELS,
    }


@view_config(
    route_name="meetings.booking_reschedule",
    renderer="portal:templates/meetings/reschedule.jinja2",
    permission=Perm.MEETING_CHANGE,
)
def reschedule(context: Booking, request: Request) -> Any:
    side = context.side_of(request.user)
    if side is None:
        raise HTTPForbidden()
    post_url = request.route_path("meetings.booking_reschedule", id=context.id)
    if request.method != "POST":
        return _reschedule_page(request, context, {}, post_url)
    try:
        starts_at = parsing.parse_slot(request.POST.get("slot"))
        run_saved(
            request,
            lambda: service(request).reschedule(
                context, starts_at, request.user, side, request.POST.get("reason", "")
            ),
        )
    except BookingError as error:
        request.response.status = 409 if isinstance(error, SlotTaken) else 400
        return _reschedule_page(request, context, error_dict(request, error), post_url)
    request.session.flash(N_("The booking was moved; both sides were notified."), "success")
    return HTTPSeeOther(request.route_url("meetings.booking", id=context.id))


@view_config(
    route_name="meetings.material", request_method=("GET", "HEAD"), permission=Perm.MEETING_VIEW
)
def material(context: BookingMaterial, request: Request) -> FileResponse:
    return stored_file(request, context.id, context.filename, context.media_type)


# -- the signed link from the mail ----------------------------------------------------------
@view_config(
    route_name="meetings.link",
    renderer="portal:templates/meetings/link.jinja2",
    permission=Perm.VIEW,
)
def link_page(request: Request) -> Any:
    token = request.matchdict["token"]
    svc = service(request)
    try:
        booking, side = svc.check_link(None, token, now_of(request))
    except LinkError as error:
        request.response.status = 410 if error.code == "link_expired" else 400
        return {"error": error, "booking": None}
    post_url = request.route_path("meetings.link", token=token)
    actions = actions_for(booking.state, side)
    values: dict[str, Any] = {
        "error": None,
        "side": side,
        "side_labels": SIDE_LABELS,
        "can_cancel": "cancel" in actions,
        "can_reschedule": "reschedule" in actions,
    }
    errors: dict[str, Any] = {}
    if request.method == "POST":
        what = request.POST.get("action")
        actor = request.user if booking.side_of(request.user) == side else None
        try:
            if what == "cancel" and values["can_cancel"]:
                run_saved(
                    request,
                    lambda: svc.transition(
                        booking, "cancel", actor, side, request.POST.get("reason", "")
                    ),
                )
            elif what == "reschedule" and values["can_reschedule"]:
                starts_at = parsing.parse_slot(request.POST.get("slot"))
                run_saved(
                    request,
                    lambda: svc.reschedule(
                        booking, starts_at, actor, side, request.POST.get("reason", "")
                    ),
                )
            else:
                raise BookingError(
                    "bad_transition", "", N_("This is not possible in the booking's current state.")
                )
        except BookingError as error:
            request.response.status = 409 if isinstance(error, SlotTaken) else 400
            errors = error_dict(request, error)
        else:
            request.session.flash(N_("Done. Both sides were notified by e-mail."), "success")
            fresh = svc.link_token(booking, side)
            return HTTPSeeOther(request.route_url("meetings.link", token=fresh))
    values.update(_reschedule_page(request, booking, errors, post_url))
    return values
