"""Administration writes: departments, leaders and their 分管 departments, friendly links.

Account writes are not here: they go through ``IAccountService``. Every method
raises :class:`~portal.errors.InputError` for input an administrator can fix,
before it changes anything it cannot take back; the form view runs it inside a
savepoint, so a refused form leaves no trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from zope.interface import Interface, implementer

from portal.accounts.models import User, UserRole
from portal.accounts.validation import normalise_phone
from portal.departments.models import Department, Leader
from portal.errors import InputError
from portal.i18n import N_
from portal.links.models import FriendLink
from portal.roles import Role


@dataclass(frozen=True)
class Move:
    """A department that changed supervising leader because of an assignment."""

    department: str
    previous: str
    leader: str


class IDirectoryAdmin(Interface):
    """Changes to the department directory and the city leaders."""

    def add_department(data: dict[str, Any]) -> Department:
        """Create a department from form data; code and name must be unused."""

    def update_department(department: Department, data: dict[str, Any]) -> None:
        """Apply form data to ``department``."""

    def add_leader(data: dict[str, Any]) -> tuple[Leader, list[Move]]:
        """Create a leader; returns ``(leader, moves)`` (see :meth:`update_leader`)."""

    def update_leader(leader: Leader, data: dict[str, Any]) -> list[Move]:
        """Apply form data, including the supervised departments.

        A department has at most one supervising leader: taking one from another
        leader moves it, and each such move is returned so the UI can say so. The
        mayor supervises no department.
        """

    def department_choices(active_only: bool = False) -> list[tuple[int, str]]:
        """``(id, name)`` of departments, in directory order, for the forms' choices."""

    def leader_accounts() -> list[tuple[int, str]]:
        """``(id, label)`` of active accounts holding the city-leader role."""


class ILinkAdmin(Interface):
    """Changes to the friendly links of the sidebar."""

    def add_link(data: dict[str, Any]) -> FriendLink:
        """Create a link."""

    def update_link(link: FriendLink, data: dict[str, Any]) -> None:
        """Apply form data to ``link``."""

    def delete_link(link: FriendLink) -> None:
        """Remove ``link``."""


#: (table, column) of a unique constraint -> (form field, message)
UniqueFields = Mapping[tuple[str, str], tuple[str, str]]


def flush_unique(db: Session, fields: UniqueFields) -> None:
    """Flush, turning a unique-constraint violation on a known column into an InputError.

    Why both a check before writing and this: the check gives the precise message in
    the normal case, but two administrators saving the same code at the same moment
    both pass it, and the loser would otherwise see a 500. Matching on the constraint
    name (PostgreSQL) or ``table.column`` (SQLite) keeps it backend-neutral.
    """
    try:
        db.flush()
    except IntegrityError as exc:
        detail = str(exc.orig)
        for (table, column), (field, message) in fields.items():
            if f"uq_{table}_{column}" in detail or f"{table}.{column}" in detail:
                raise InputError(field, message) from exc
        raise


DEPARTMENT_UNIQUE: UniqueFields = {
    ("departments", "code"): ("code", N_("This code is already in use.")),
    ("departments", "name"): ("name", N_("A department with this name already exists.")),
}


@implementer(IDirectoryAdmin)
class DirectoryAdmin:
    def __init__(self, db: Session) -> None:
        self.db = db

    # -- departments -----------------------------------------------------------------
    def add_department(self, data: dict[str, Any]) -> Department:
        department = Department()
        self._fill_department(department, data)
        self.db.add(department)
        flush_unique(self.db, DEPARTMENT_UNIQUE)
        return department

    def update_department(self, department: Department, data: dict[str, Any]) -> None:
        self._fill_department(department, data)
        flush_unique(self.db, DEPARTMENT_UNIQUE)

    def _fill_department(self, department: Department, data: dict[str, Any]) -> None:
        self._check_department_unique(department, data["code"], data["name"])
        department.code = data["code"]
        department.name = data["name"]
        department.short_name = data["short_name"]
        department.category = data["category"]
        department.responsibilities = data["responsibilities"]
        department.address = data.get("address") or ""
        department.phone = normalise_phone(data.get("phone") or "")
        department.sort_order = data.get("sort_order") or 0
        department.is_active = bool(data.get("is_active", True))

    def _check_department_unique(self, department: Department, code: str, name: str) -> None:
        others = select(Department).where(Department.id != (department.id or 0))
        taken = self.db.scalar(others.where(Department.code == code))
        if taken is not None:
            raise InputError(
                "code", "The code ${code} is already used by ${name}.", code=code, name=taken.name
            )
        if self.db.scalar(others.where(Department.name == name)) is not None:
            raise InputError("name", "A department with this name already exists.")

    # -- leaders ---------------------------------------------------------------------
    def add_leader(self, data: dict[str, Any]) -> tuple[Leader, list[Move]]:
        leader = Leader()
        moves = self._apply_leader(leader, data)
        self.db.add(leader)
        self.db.flush()
        return leader, moves

    def update_leader(self, leader: Leader, data: dict[str, Any]) -> list[Move]:
        moves = self._apply_leader(leader, data)
        self.db.flush()
        return moves

    def _apply_leader(self, leader: Leader, data: dict[str, Any]) -> list[Move]:
        # Every check runs before the first change, so a refusal changes nothing.
        user_id = self._leader_account(leader, data.get("user_id"))
        is_mayor = bool(data.get("is_mayor"))
        department_ids = {int(i) for i in data.get("departments") or ()}
        if is_mayor and department_ids:
            raise InputError(
                "departments",
                "The mayor supervises no department: clear these boxes or untick Mayor.",
            )
        departments = self._departments(department_ids)
        leader.name = data["name"]
        leader.title = data["title"]
        leader.is_mayor = is_mayor
        leader.email = data.get("email") or ""
        leader.portfolio = data.get("portfolio") or ""
        leader.sort_order = data.get("sort_order") or 0
        leader.user_id = user_id
        return self._supervise(leader, departments)

    def _leader_account(self, leader: Leader, user_id: int | None) -> int | None:
        if user_id is None:
            return None
        user = self.db.get(User, user_id)
        if user is None or not user.has_role(Role.LEADER):
            raise InputError("user_id", "Choose an account with the city-leader role.")
        holder = self.db.scalar(
            select(Leader).where(Leader.user_id == user_id, Leader.id != (leader.id or 0))
        )
        if holder is not None:
            raise InputError(
                "user_id", "This account is already linked to ${name}.", name=holder.name
            )
        return user_id

    def _departments(self, department_ids: set[int]) -> list[Department]:
        departments = list(
            self.db.scalars(
                select(Department)
                .where(Department.id.in_(department_ids))
                .options(selectinload(Department.leaders))
                .order_by(Department.sort_order)
            )
        )
        if len(departments) != len(department_ids):
            raise InputError("departments", "A chosen department no longer exists.")
        return departments

    def _supervise(self, leader: Leader, departments: list[Department]) -> list[Move]:
        moves = []
        for department in departments:
            for other in list(department.leaders):
                if other is not leader:
                    department.leaders.remove(other)
                    moves.append(Move(department.name, other.name, leader.name))
        leader.departments = departments
        return moves

    def department_choices(self, active_only: bool = False) -> list[tuple[int, str]]:
        stmt = select(Department.id, Department.name).order_by(
            Department.category, Department.sort_order, Department.name
        )
        if active_only:
            stmt = stmt.where(Department.is_active.is_(True))
        return [(row.id, row.name) for row in self.db.execute(stmt)]

    def leader_accounts(self) -> list[tuple[int, str]]:
        """Active accounts holding the city-leader role, for the leader form's select."""
        rows = self.db.execute(
            select(User.id, User.display_name, User.login)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.LEADER.value, User.is_active.is_(True))
            .order_by(func.lower(User.login))
        )
        return [(row.id, f"{row.display_name} ({row.login})") for row in rows]


@implementer(ILinkAdmin)
class LinkAdmin:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add_link(self, data: dict[str, Any]) -> FriendLink:
        link = FriendLink()
        self.update_link(link, data)
        self.db.add(link)
        self.db.flush()
        return link

    def update_link(self, link: FriendLink, data: dict[str, Any]) -> None:
        link.title = data["title"]
        link.url = data["url"]
        link.sort_order = data.get("sort_order") or 0

    def delete_link(self, link: FriendLink) -> None:
        self.db.delete(link)
        self.db.flush()
