"""The leaders' dashboards: the daily digest's figures and lists, live; the mayor's
weekly summary, live; naming a deputy who receives copies."""

from __future__ import annotations

import re
from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from portal.clock import IClock
from portal.departments.models import Leader
from portal.digests import content, render
from portal.digests.models import LeaderDeputy
from portal.digests.resources import Desk
from portal.i18n import N_, _
from portal.permissions import Permission as Perm

EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
NAME_MAX = 50


def _tpl(name: str) -> str:
    return f"portal:templates/digests/{name}.jinja2"


def _sender(request: Request) -> Any:
    return request.registry["qzt.digests.sender"]


def helpers() -> dict[str, Any]:
    """The formatting helpers the mail uses, for the same look on the page."""
    return {
        "when": render.when,
        "day": render.day,
        "pct": render.pct,
        "delta": render.delta,
        "days_late": render.days_late,
    }


def _daily_page(request: Request, leader: Leader | None, **extra: Any) -> dict[str, Any]:
    sender = _sender(request)
    now = request.find_service(IClock).now()
    schedule = sender.schedule
    digest = None
    leaders: list[Leader] = []
    deputy = None
    if leader is not None and leader.departments:
        [digest] = content.build_daily(
            request.dbsession,
            schedule,
            schedule.local_date(now),
            limit=sender.list_limit,
            leaders=[leader],
            now=now,
            live=True,
        )
    if leader is not None:
        deputy = request.dbsession.get(LeaderDeputy, leader.id)
    else:
        leaders = content.supervisors(request.dbsession)
    return {
        "leader": leader,
        "digest": digest,
        "leaders": leaders,
        "deputy": deputy,
        "links": sender.links,
        "can_name_deputy": leader is not None
        and request.has_permission(Perm.DIGEST_DEPUTY, request.context),
        "can_see_weekly": request.has_permission(Perm.DIGEST_WEEKLY, request.context),
        "form": {"name": deputy.name if deputy else "", "email": deputy.email if deputy else ""},
        "errors": {},
        **helpers(),
        **extra,
    }


@view_config(route_name="digests.daily", renderer=_tpl("daily"), permission=Perm.DIGEST_DAILY)
@view_config(route_name="digests.daily_for", renderer=_tpl("daily"), permission=Perm.DIGEST_DAILY)
def daily(request: Request) -> dict[str, Any]:
    desk: Desk = request.context
    return _daily_page(request, desk.leader)


@view_config(
    route_name="digests.deputy",
    request_method="POST",
    renderer=_tpl("daily"),
    permission=Perm.DIGEST_DEPUTY,
)
def name_deputy(request: Request) -> Any:
    desk: Desk = request.context
    leader = desk.leader
    assert leader is not None
    now = request.find_service(IClock).now()
    localizer = get_localizer(request)
    found = request.dbsession.get(LeaderDeputy, leader.id)
    if "clear" in request.POST:
        if found is not None:
            request.dbsession.delete(found)
        request.session.flash(localizer.translate(_("Copies are no longer sent.")), "success")
        return HTTPSeeOther(request.route_url("digests.daily_for", id=leader.id))

    # Whitespace collapsed: the name goes into a To: header, where a line break would
    # be refused (or worse).
    name = " ".join(request.POST.get("name", "").split())
    email = request.POST.get("email", "").strip()
    errors = {}
    if not name:
        errors["name"] = N_("Enter the name of the person who receives copies.")
    elif len(name) > NAME_MAX:
        errors["name"] = N_("At most 50 characters.")
    if not EMAIL.match(email):
        errors["email"] = N_("Enter a valid e-mail address for the copies.")
    if errors:
        request.response.status = 400
        return _daily_page(request, leader, form={"name": name, "email": email}, errors=errors)
    if found is None:
        request.dbsession.add(
            LeaderDeputy(leader_id=leader.id, name=name, email=email, updated_at=now)
        )
    else:
        found.name, found.email, found.updated_at = name, email, now
    request.session.flash(
        localizer.translate(
            _("${name} now receives copies of the digests.", mapping={"name": name})
        ),
        "success",
    )
    return HTTPSeeOther(request.route_url("digests.daily_for", id=leader.id))


@view_config(route_name="digests.weekly", renderer=_tpl("weekly"), permission=Perm.DIGEST_WEEKLY)
def weekly(request: Request) -> dict[str, Any]:
    sender = _sender(request)
    now = request.find_service(IClock).now()
    schedule = sender.schedule
    summary = content.build_weekly(
        request.dbsession, schedule, schedule.local_date(now), now=now, live=True
    )
    mayors = request.dbsession.scalars(select(Leader).where(Leader.is_mayor.is_(True))).all()
    return {"w": summary, "links": sender.links, "mayors": mayors, **helpers()}
