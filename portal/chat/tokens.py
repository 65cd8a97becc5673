"""The portal side of the realtime handshake: ``GET /realtime/token``.

The realtime server shares no session store with the portal, so a page first asks
the portal (which knows who is signed in) for a short-lived token and sends it as
the first websocket message. Anonymous visitors get a token too: it names nobody
and lets them only watch the 在线部门 presence list.

The answer is personal and short-lived: never cached, and asking for it opens no
session for an anonymous visitor (the home page stays cacheable).
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy.orm import Session

from portal.chat.resources import CONSOLE_ROLES
from portal.clock import IClock
from portal.departments.oversight import oversight_of
from portal.permissions import Permission as Perm
from portal.sessions import current_session_id
from realtime.tokens import sign


def claims_for(db: Session, user: Any) -> dict[str, Any]:
    """What the realtime server is told about ``user`` (None: an anonymous watcher).

    ``extra["oversees"]`` lists the departments whose conversations a leader,
    supervisor or head may read (``"all"`` for every one), as ``ChatActor`` expects.
    """
    if user is None:
        return {"user_id": None, "name": "", "roles": (), "departments": ()}
    # an editor of department 12 is not its chat staff; a staff member or its head is
    works_for = bool(user.roles & set(CONSOLE_ROLES))
    scope = oversight_of(db, user)
    oversees: str | list[int] = "all" if scope.everything else sorted(scope.department_ids)
    return {
        "user_id": user.id,
        "name": user.display_name,
        "roles": tuple(sorted(r.value for r in user.roles)),
        "departments": (user.department_id,) if works_for and user.department_id else (),
        "enterprise_id": user.enterprise_id,
        "extra": {"oversees": oversees},
    }


@view_config(route_name="chat.token", request_method="GET", renderer="json", permission=Perm.VIEW)
def token(request: Request) -> dict[str, Any]:
    settings = request.registry.settings
    ttl = int(settings["qzt.realtime.token_ttl"])
    now = request.find_service(IClock).now().timestamp()
    # ``?watch=1``: a presence-only token even for a signed-in user, so a staff member
    # reading the home page is not counted online (only the console makes them so).
    watcher = request.GET.get("watch") == "1"
    user = None if watcher else request.user
    claims = claims_for(request.dbsession, user)
    if user is not None:
        # The realtime server closes the connection once this session is gone
        # (realtime.sessions): signing out ends the chat too, not just the pages.
        claims["extra"]["sid"] = current_session_id(request)
    signed = sign(settings["qzt.realtime.secret"], now=now, ttl=ttl, **claims)
    request.response.cache_control.no_store = True
    request.response.cache_control.private = True
    return {"token": signed, "url": settings["qzt.realtime.public_url"], "ttl": ttl}
