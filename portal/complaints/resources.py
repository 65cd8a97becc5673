"""Route factories for the case pages: the cases area (site-level rights on cases)
and one case (its own ACL, from :func:`portal.complaints.workflow.acl_for`, reading
granted by the user's :class:`~portal.complaints.scope.CaseScope`)."""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, Allow
from pyramid.request import Request

from portal import roles as P
from portal.complaints.models import Case, CaseAttachment
from portal.complaints.scope import CaseScope, scope_for
from portal.permissions import Permission as Perm
from portal.roles import Role


def desk_department_id(request: Request) -> int | None:
    from portal.complaints.interfaces import ICaseService

    found: int | None = request.find_service(ICaseService).desk_department_id(request.dbsession)
    return found


def case_scope(request: Request) -> CaseScope:
    """``request.case_scope``: the cases the request's user may see (reified)."""
    return scope_for(request.dbsession, request.user, desk_department_id(request))


class CasesArea:
    """The case pages as a whole: who may file a case, list cases, see statistics."""

    def __init__(self, request: Request) -> None:
        from portal.routes import Root

        self.__parent__ = Root(request)
        self.request = request
        self.desk_department_id = desk_department_id(request)

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        acl: list[tuple[str, str, Any]] = [
            (Allow, P.role(Role.ADMIN), ALL_PERMISSIONS),
            (Allow, P.role(Role.ENTERPRISE), (Perm.CASE_CREATE, Perm.CASE_LIST)),
            (Allow, P.role(Role.STAFF), Perm.CASE_LIST),
            (Allow, P.role(Role.HEAD), (Perm.CASE_LIST, Perm.CASE_STATS)),
            (Allow, P.role(Role.LEADER), (Perm.CASE_LIST, Perm.CASE_STATS)),
            (Allow, P.role(Role.SUPERVISOR), (Perm.CASE_LIST, Perm.CASE_STATS)),
        ]
        if self.desk_department_id is not None:
            acl.append((Allow, P.scoped(Role.STAFF, self.desk_department_id), Perm.CASE_STATS))
        return acl


def area_factory(request: Request) -> CasesArea:
    return CasesArea(request)


def _int(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    return int(raw)


def locate(request: Request, case: Case) -> Case:
    case.__parent__ = CasesArea(request)  # type: ignore[attr-defined]
    case.desk_department_id = case.__parent__.desk_department_id  # type: ignore[attr-defined]
    user = request.user
    visible = user is not None and request.case_scope.covers(request.dbsession, case)
    case.viewer = P.user(user.id) if visible else None  # type: ignore[attr-defined]
    return case


def case_factory(request: Request) -> Case:
    case = request.dbsession.get(Case, _int(request.matchdict["id"]))
    if case is None:
        raise KeyError(request.matchdict["id"])
    return locate(request, case)


def case_attachment_factory(request: Request) -> Case:
    """The case whose file is asked for (its ACL decides); the file goes in ``request``."""
    case = case_factory(request)
    key = request.matchdict["key"]
    found = request.dbsession.get(CaseAttachment, key) if len(key) == 32 else None
    if found is None or found.case_id != case.id:
        raise KeyError(key)
    request.case_attachment = found
    return case
