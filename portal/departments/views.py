"""Department directory and department pages."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.models import User, UserRole
from portal.content.models import ContentItem, State
from portal.departments.models import Department, Leader
from portal.permissions import Permission as Perm
from portal.roles import Role


@view_config(
    route_name="departments.directory",
    renderer="portal:templates/departments/directory.jinja2",
    permission=Perm.VIEW,
)
def directory(request: Request) -> dict[str, Any]:
    departments = request.dbsession.scalars(
        select(Department)
        .where(Department.is_active.is_(True))
        .options(selectinload(Department.leaders))
        .order_by(Department.category, Department.sort_order)
    ).all()
    leaders = request.dbsession.scalars(
        select(Leader).options(selectinload(Leader.departments)).order_by(Leader.sort_order)
    ).all()
    groups = [(k, list(v)) for k, v in groupby(departments, key=lambda d: d.category)]
    return {"groups": groups, "leaders": leaders}


def heads_of(request: Request, department: Department) -> list[User]:
    return list(
        request.dbsession.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.department_id == department.id,
                User.is_active.is_(True),
                UserRole.role == Role.HEAD.value,
            )
        )
    )


@view_config(
    route_name="departments.detail",
    renderer="portal:templates/departments/detail.jinja2",
    permission=Perm.VIEW,
)
def detail(context: Department, request: Request) -> dict[str, Any]:
    recent = request.dbsession.scalars(
        select(ContentItem)
        .where(ContentItem.department_id == context.id, ContentItem.state == State.PUBLISHED.value)
        .order_by(ContentItem.published_at.desc())
        .limit(10)
    ).all()
    return {"department": context, "heads": heads_of(request, context), "recent": recent}
