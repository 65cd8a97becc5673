"""Read side of the administration screens: the user search, the department overview."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User, UserRole
from portal.departments.models import Department, Leader
from portal.links.models import FriendLink
from portal.paging import Page, clamp
from portal.roles import Role


@dataclass
class UserFilter:
    q: str = ""
    role: Role | None = None
    department_id: int | None = None

    def as_query(self) -> dict[str, Any]:
        found: dict[str, Any] = {"q": self.q, "role": self.role, "department": self.department_id}
        return {k: v for k, v in found.items() if v not in (None, "")}


def _user_search(flt: UserFilter) -> Select[User]:
    stmt = select(User)
    if flt.q:
        # LIKE metacharacters typed in the box are searched for literally.
        term = flt.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{term}%"
        stmt = stmt.where(
            or_(
                func.lower(User.login).like(like, escape="\\"),
                func.lower(User.display_name).like(like, escape="\\"),
                func.lower(User.email).like(like, escape="\\"),
            )
        )
    if flt.role is not None:
        holders = select(UserRole.user_id).where(UserRole.role == flt.role.value)
        stmt = stmt.where(User.id.in_(holders))
    if flt.department_id is not None:
        stmt = stmt.where(User.department_id == flt.department_id)
    return stmt


def users(db: Session, flt: UserFilter, number: int, size: int) -> Page:
    stmt = _user_search(flt)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    number = clamp(number, total, size)
    rows = db.scalars(
        stmt.options(selectinload(User.department), selectinload(User.enterprise))
        .order_by(func.lower(User.login), User.id)
        .limit(size)
        .offset((number - 1) * size)
    )
    return Page(list(rows), number, size, total)


@dataclass
class DepartmentRow:
    department: Department
    heads: list[User] = field(default_factory=list)
    staff_count: int = 0


def departments(db: Session) -> list[tuple[str, list[DepartmentRow]]]:
    """Every department (inactive ones too), grouped by category, with heads and staff count."""
    found = db.scalars(
        select(Department)
        .options(selectinload(Department.leaders))
        .order_by(Department.category, Department.sort_order, Department.name)
    ).all()
    staff = select(User.department_id, func.count(User.id)).where(
        User.department_id.is_not(None), User.is_active.is_(True)
    )
    counts: dict[int | None, int] = dict(db.execute(staff.group_by(User.department_id)).all())
    heads: dict[int, list[User]] = defaultdict(list)
    for user in db.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.HEAD.value, User.department_id.is_not(None))
        .order_by(User.display_name)
    ):
        heads[user.department_id or 0].append(user)
    rows = [DepartmentRow(d, heads[d.id], counts.get(d.id, 0)) for d in found]
    return [(k, list(v)) for k, v in groupby(rows, key=lambda r: r.department.category)]


def supervision(db: Session) -> list[Department]:
    """Every department with its supervising leaders loaded, in directory order."""
    stmt = select(Department).options(selectinload(Department.leaders))
    return list(
        db.scalars(stmt.order_by(Department.category, Department.sort_order, Department.name))
    )


def leaders(db: Session) -> list[Leader]:
    return list(
        db.scalars(
            select(Leader)
            .options(selectinload(Leader.departments))
            .order_by(Leader.is_mayor.desc(), Leader.sort_order, Leader.id)
        )
    )


def accounts_by_id(db: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.scalars(select(User).where(User.id.in_(ids)))}


def links(db: Session) -> list[FriendLink]:
    return list(db.scalars(select(FriendLink).order_by(FriendLink.sort_order, FriendLink.id)))
