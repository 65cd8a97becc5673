"""Administration screens."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from portal.permissions import Permission as Perm


@view_config(
    route_name="admin.home",
    renderer="portal:templates/admin/home.jinja2",
    permission=Perm.ADMIN_USERS,
)
def admin_home(request: Request) -> dict[str, Any]:
    return {}
