"""Which cases a user may see: one rule for the case page and for every case list.

A case can hold business secrets, so who reads it is decided once, here, from the
user's place in the city and in the case's data:

* administrators, the dispatch desk's staff and head, the mayor: every case;
* a supervisor (监察): every case, or with a department only that department's
  (the rule of the meeting recordings, ``docs/meetings.md``);
* a 分管领导 (a leader's account linked to a ``Leader`` row): the cases of the
  departments they supervise;
* a department's staff and head: their department's cases;
* the enterprise's users: the enterprise's cases; a filer without an enterprise,
  the cases they filed.

"A department's cases" are those it leads (主办), co-handles (协办) or still
answers for under 首问负责 (``owner_department_id``, until another department signs).

The rule is a WHERE clause (:meth:`CaseScope.where`). The list filters with it;
the case page's ACL asks the same clause about the one case
(:meth:`CaseScope.covers`), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from portal.complaints.models import Case, case_assists
from portal.departments.oversight import oversight_of
from portal.roles import Role

#: roles that work on a department's cases
DEPARTMENT_ROLES = frozenset({Role.STAFF, Role.HEAD})


@dataclass(frozen=True)
class CaseScope:
    """The cases one user may see. The empty scope sees nothing."""

    everything: bool = False
    #: departments whose cases (led, co-handled, 首问) are in scope
    department_ids: frozenset[int] = field(default_factory=frozenset)
    #: the enterprise whose cases are in scope
    enterprise_id: int | None = None
    #: cases this user filed without an enterprise
    filer_id: int | None = None

    def where(self) -> ColumnElement[bool]:
        """The rule as a condition on ``Case``."""
        if self.everything:
            return true()
        found: list[ColumnElement[bool]] = []
        if self.department_ids:
            ids = sorted(self.department_ids)
            assisted = select(case_assists.c.case_id).where(case_assists.c.department_id.in_(ids))
            found += [
                Case.department_id.in_(ids),
                Case.owner_department_id.in_(ids),
                Case.id.in_(assisted),
            ]
        if self.enterprise_id is not None:
            found.append(Case.enterprise_id == self.enterprise_id)
        if self.filer_id is not None:
            found.append(and_(Case.enterprise_id.is_(None), Case.opened_by_id == self.filer_id))
        return or_(*found) if found else false()

    def covers(self, session: Session, case: Case) -> bool:
        """Whether ``case`` is in scope: :meth:`where`, asked about this one row."""
        if self.everything:
            return True
        if case.id is None:
            return False
        return session.scalar(select(Case.id).where(Case.id == case.id, self.where())) is not None

    def department_list(self) -> list[int] | None:
        """The departments whose figures the user may see (None: all of them)."""
        return None if self.everything else sorted(self.department_ids)


NOTHING = CaseScope()


def scope_for(session: Session, user: Any, desk_department_id: int | None) -> CaseScope:
    """The scope of ``user`` (None: nobody signed in); the union over their roles."""
    if user is None or not getattr(user, "is_active", True):
        return NOTHING
    roles = user.roles
    dept = user.department_id
    everything = Role.ADMIN in roles
    departments: set[int] = set()
    if roles & DEPARTMENT_ROLES and dept is not None:
        everything |= dept == desk_department_id
        departments.add(dept)
    # Supervisors and leaders read from above by the city's one rule (which also
    # gives heads their own department, as DEPARTMENT_ROLES already does).
    above = oversight_of(session, user)
    everything |= above.everything
    departments |= above.department_ids
    if everything:
        return CaseScope(everything=True)
    return CaseScope(
        department_ids=frozenset(departments),
        enterprise_id=user.enterprise_id,
        filer_id=user.id,
    )
