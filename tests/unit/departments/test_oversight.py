"""One oversight rule: the same departments for chat, cases and recordings."""

from __future__ import annotations

from portal.chat.service import oversight_scope
from portal.complaints.scope import scope_for
from portal.departments.oversight import EVERYTHING, NONE, Oversight, oversight_of, supervised
from portal.meetings.recording import supervises
from portal.roles import Role
from tests import factories


def ids(*depts) -> Oversight:
    return Oversight(department_ids=frozenset(d.id for d in depts))


def test_each_role_reads_its_departments(dbsession):
    one, two, three = (factories.DepartmentFactory() for _ in range(3))
    vice = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=vice.id, departments=[one, two])
    mayor = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=mayor.id, is_mayor=True)
    unlinked_leader = factories.UserFactory(roles=[Role.LEADER])
    city_supervisor = factories.UserFactory(roles=[Role.SUPERVISOR])
    dept_supervisor = factories.UserFactory(roles=[Role.SUPERVISOR], department=three)
    head = factories.UserFactory(roles=[Role.HEAD], department=two)
    staff = factories.UserFactory(roles=[Role.STAFF], department=two)
    admin = factories.UserFactory(roles=[Role.ADMIN])
    gone = factories.UserFactory(roles=[Role.SUPERVISOR], is_active=False)
    dbsession.flush()

    assert oversight_of(dbsession, vice) == ids(one, two)
    assert oversight_of(dbsession, mayor) == EVERYTHING
    assert oversight_of(dbsession, unlinked_leader) == NONE
    assert oversight_of(dbsession, city_supervisor) == EVERYTHING
    assert oversight_of(dbsession, dept_supervisor) == ids(three)
    assert oversight_of(dbsession, head) == ids(two)
    assert oversight_of(dbsession, staff) == NONE  # works in it; reads nothing from above
    assert oversight_of(dbsession, admin) == EVERYTHING
    assert oversight_of(dbsession, gone) == NONE
    assert oversight_of(dbsession, None) == NONE

    # a head who is also a 分管领导 (a union of roles)
    both = factories.UserFactory(roles=[Role.LEADER, Role.HEAD], department=three)
    factories.LeaderFactory(user_id=both.id, departments=[one])
    dbsession.flush()
    assert oversight_of(dbsession, both) == ids(one, three)


def test_chat_cases_and_recordings_agree(dbsession):
    one, two = factories.DepartmentFactory(), factories.DepartmentFactory()
    vice = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=vice.id, departments=[one])
    mayor = factories.UserFactory(roles=[Role.LEADER])
    factories.LeaderFactory(user_id=mayor.id, is_mayor=True)
    dept_supervisor = factories.UserFactory(roles=[Role.SUPERVISOR], department=two)
    city_supervisor = factories.UserFactory(roles=[Role.SUPERVISOR])
    dbsession.flush()

    for user in (vice, mayor, dept_supervisor, city_supervisor):
        rule = oversight_of(dbsession, user)
        chat = oversight_scope(dbsession, user)
        cases = scope_for(dbsession, user, desk_department_id=None)
        assert (chat is None) is rule.everything is cases.everything
        if not rule.everything:
            assert set(chat or ()) == set(cases.department_ids) == set(rule.department_ids)
        for dept in (one, two):
            # recordings are for supervisors only, by the same reach
            assert supervises(user, dept.id) is (
                Role.SUPERVISOR in user.roles and rule.covers(dept.id)
            )
    assert supervised(vice) == NONE
