"""Home page, laid out like the original 企政通 page."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from portal.content import queries
from portal.content.models import Section
from portal.departments.models import Department
from portal.i18n import LOCALE_COOKIE, N_
from portal.links.models import FriendLink
from portal.permissions import Permission as Perm
from portal.security import is_local_path

COLUMNS = (
    (Section.POLICY, N_("Policies for enterprises")),
    (Section.INDUSTRY, N_("Industry news")),
    (Section.SERVICE, N_("Service news")),
    (Section.REGULATION, N_("Regulations and official documents")),
)


@view_config(route_name="home", renderer="portal:templates/home/home.jinja2", permission=Perm.VIEW)
def home(request: Request) -> dict[str, Any]:
    db = request.dbsession
    n = request.registry.settings["qzt.home.items_per_column"]
    departments = db.execute(
        select(Department.id, Department.code, Department.short_name, Department.name)
        .where(Department.is_active.is_(True))
        .order_by(Department.sort_order)
    ).all()
    links = db.scalars(select(FriendLink).order_by(FriendLink.sort_order)).all()
    return {
        "columns": [(s, title, queries.latest(db, s, n)) for s, title in COLUMNS],
        "departments": departments,
        "links": links,
    }


@view_config(route_name="locale", request_method="GET", permission=Perm.VIEW)
def switch_locale(request: Request) -> Any:
    from pyramid.httpexceptions import HTTPSeeOther

    code = request.matchdict["code"]
    target = request.params.get("next", "/")
    if not is_local_path(target):
        target = "/"  # no open redirect
    response = HTTPSeeOther(target)
    if code in request.registry.settings["qzt.available_locales"]:
        response.set_cookie(LOCALE_COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
