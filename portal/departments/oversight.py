"""Who oversees which departments: one rule for chat oversight, case lists and
recordings, so a leader or a supervisor sees the same departments everywhere.

* an administrator: every department;
* a supervisor (监察): with a department of their own, that department; without
  one, the whole city;
* a leader's account (linked to a ``Leader`` row): the mayor the whole city, a vice
  mayor (分管领导) the departments they supervise (``leader_departments``), the same
  rows the daily digest is addressed by;
* a department head: their own department.

Working *in* a department (staff handling its chats and cases) is each domain's own
rule; this is only the reading from above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.departments.models import Leader
from portal.roles import Role


@dataclass(frozen=True)
class Oversight:
    everything: bool = False
    department_ids: frozenset[int] = field(default_factory=frozenset)

    def covers(self, department_id: int | None) -> bool:
        return self.everything or department_id in self.department_ids

    def __or__(self, other: Oversight) -> Oversight:
        if self.everything or other.everything:
            return EVERYTHING
        return Oversight(department_ids=self.department_ids | other.department_ids)


NONE = Oversight()
EVERYTHING = Oversight(everything=True)


def led_departments(session: Session, user_id: int) -> Oversight:
    """What a leader's account oversees through its ``Leader`` record (none without)."""
    leader = session.scalar(select(Leader).where(Leader.user_id == user_id))
    if leader is None:
        return NONE
    if leader.is_mayor:
        return EVERYTHING
    return Oversight(department_ids=frozenset(d.id for d in leader.departments))


def supervised(user: Any) -> Oversight:
    """A supervisor's (监察) reach: their department, or the city if they have none."""
    if Role.SUPERVISOR not in user.roles:
        return NONE
    if user.department_id is None:
        return EVERYTHING
    return Oversight(department_ids=frozenset({user.department_id}))


def request_oversight(request: Any) -> Oversight:
    """``request.oversight``: the request's user's reach, computed once per request
    (reified), however many conversations or cases a page checks against it."""
    return oversight_of(request.dbsession, request.user)


def oversight_of(session: Session, user: Any) -> Oversight:
    """The departments ``user`` (None: nobody) may read from above; the union of roles."""
    if user is None or not getattr(user, "is_active", True):
        return NONE
    roles = user.roles
    if Role.ADMIN in roles:
        return EVERYTHING
    found = supervised(user)
    if Role.LEADER in roles:
        found |= led_departments(session, user.id)
    if Role.HEAD in roles and user.department_id is not None:
        found |= Oversight(department_ids=frozenset({user.department_id}))
    return found
