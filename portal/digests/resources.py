"""Who may see which dashboard: resources with an ACL computed from the leader.

``/leader`` is the signed-in leader's own page; ``/leader/{id}`` one leader's page
(the leader, the mayor, supervisors, administrators); ``/leader/weekly`` the
mayor's summary. Administrators hold every permission through the site ACL, which
each resource reaches through ``__parent__``.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow
from pyramid.request import Request
from sqlalchemy import select

from portal import roles as P
from portal.departments.models import Leader
from portal.permissions import Permission as Perm
from portal.roles import Role


def _mayor_users(request: Request) -> list[int]:
    return [
        uid
        for uid in request.dbsession.scalars(
            select(Leader.user_id).where(Leader.is_mayor.is_(True), Leader.user_id.is_not(None))
        )
        if uid is not None
    ]


class Desk:
    """A dashboard: ``leader`` is whose figures it shows (None: the user is a leader
    with no leader record linked, or someone choosing a leader)."""

    def __init__(self, request: Request, leader: Leader | None) -> None:
        from portal.routes import Root

        self.request = request
        self.leader = leader
        self.__parent__ = Root(request)

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        acl: list[tuple[str, str, Any]] = [
            (Allow, P.role(Role.SUPERVISOR), (Perm.DIGEST_DAILY, Perm.DIGEST_WEEKLY)),
        ]
        for uid in _mayor_users(self.request):
            acl.append((Allow, P.user(uid), (Perm.DIGEST_DAILY, Perm.DIGEST_WEEKLY)))
        if self.leader is None:
            acl.append((Allow, P.role(Role.LEADER), Perm.DIGEST_DAILY))
        elif self.leader.user_id is not None:
            acl.append(
                (Allow, P.user(self.leader.user_id), (Perm.DIGEST_DAILY, Perm.DIGEST_DEPUTY))
            )
        return acl


def own_desk(request: Request) -> Desk:
    user = request.user
    leader = None
    if user is not None:
        leader = request.dbsession.scalar(select(Leader).where(Leader.user_id == user.id))
    return Desk(request, leader)


def leader_desk(request: Request) -> Desk:
    raw = request.matchdict["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    leader = request.dbsession.get(Leader, int(raw))
    if leader is None:
        raise KeyError(raw)
    return Desk(request, leader)


class WeeklyDesk:
    def __init__(self, request: Request) -> None:
        from portal.routes import Root

        self.request = request
        self.__parent__ = Root(request)

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        acl: list[tuple[str, str, Any]] = [(Allow, P.role(Role.SUPERVISOR), Perm.DIGEST_WEEKLY)]
        acl += [(Allow, P.user(uid), Perm.DIGEST_WEEKLY) for uid in _mayor_users(self.request)]
        return acl


def weekly_desk(request: Request) -> WeeklyDesk:
    return WeeklyDesk(request)
