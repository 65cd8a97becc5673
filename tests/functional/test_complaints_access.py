"""Who sees which case: roles × cases, through the case page and through the list.

One city, five cases in the places a case can be, and everyone who might look:
each signed-in user asks for every case page and for the list, and what they got
is compared with the table below. Then, without HTTP, every permission the case
ACL grants anyone is checked to come with reading the case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from pyramid.authorization import ACLHelper, Authenticated, Everyone

from portal.complaints.models import Case
from portal.complaints.scope import scope_for
from portal.complaints.workflow import acl_for
from portal.permissions import Permission as Perm
from portal.roles import Role
from tests.factories import DepartmentFactory, LeaderFactory, UserFactory, enterprise_user
from tests.factories_complaints import World, make_service, signed_in, staff

CASES = ("led_by_a", "at_the_desk", "passed_on", "signed_by_c", "filed_alone")
ALL = frozenset(CASES)

#: who sees what; users with no list permission are marked by LIST_REFUSED
EXPECTED: dict[str, frozenset[str]] = {
    # the enterprise's users: the enterprise's cases, nothing else
    "company": frozenset({"led_by_a", "at_the_desk"}),
    "colleague": frozenset({"led_by_a", "at_the_desk"}),
    "other_company": frozenset({"passed_on", "signed_by_c"}),
    # a filer without an enterprise: what they filed
    "filer": frozenset({"filed_alone"}),
    # departments: led, co-handled, or still theirs under 首问负责
    "a_staff": frozenset({"led_by_a", "passed_on"}),
    "a_head": frozenset({"led_by_a", "passed_on"}),
    "b_staff": frozenset({"led_by_a", "filed_alone"}),
    "c_staff": frozenset({"passed_on", "signed_by_c"}),
    "c_head": frozenset({"passed_on", "signed_by_c"}),
    # the dispatch desk routes everything
    "desk_staff": ALL,
    "desk_head": ALL,
    # 分管领导: the departments they supervise; the mayor everything
    "leader_of_a": frozenset({"led_by_a", "passed_on"}),
    "leader_of_b_c": frozenset({"led_by_a", "passed_on", "signed_by_c", "filed_alone"}),
    "mayor": ALL,
    "leader_unlinked": frozenset(),
    # 监察: everything, or the own department's
    "supervisor": ALL,
    "supervisor_of_c": frozenset({"passed_on", "signed_by_c"}),
    "admin": ALL,
    # roles with nothing to do with cases
    "editor_of_a": frozenset(),
}
LIST_REFUSED = {"editor_of_a"}


@dataclass
class City:
    world: World
    users: dict[str, object]
    cases: dict[str, Case]


@pytest.fixture
def city(dbsession, clock, tmp_path) -> City:
    w = World(dbsession)
    c = DepartmentFactory()
    users: dict[str, object] = {
        "company": w.company,
        "colleague": enterprise_user(enterprise=w.company.enterprise),
        "other_company": w.other_company,
        "filer": UserFactory(roles=[Role.ENTERPRISE]),
        "a_staff": w.a_staff,
        "a_head": w.a_head,
        "b_staff": w.b_staff,
        "c_staff": staff(c),
        "c_head": staff(c, Role.HEAD),
        "desk_staff": w.desk_staff,
        "desk_head": staff(w.desk, Role.HEAD),
        "leader_of_a": UserFactory(roles=[Role.LEADER]),
        "leader_of_b_c": UserFactory(roles=[Role.LEADER]),
        "mayor": UserFactory(roles=[Role.LEADER]),
        "leader_unlinked": UserFactory(roles=[Role.LEADER]),
        "supervisor": UserFactory(roles=[Role.SUPERVISOR]),
        "supervisor_of_c": UserFactory(roles=[Role.SUPERVISOR], department=c),
        "admin": UserFactory(roles=[Role.ADMIN]),
        "editor_of_a": staff(w.a, Role.EDITOR),
    }
    w.leader.user_id = users["leader_of_a"].id  # World's leader supervises A
    LeaderFactory(departments=[w.b, c], user_id=users["leader_of_b_c"].id)
    LeaderFactory(is_mayor=True, title="市长", user_id=users["mayor"].id)
    dbsession.flush()

    service = make_service(clock, str(tmp_path))

    def open_case(user, department, title, category=None):
        return service.open_case(
            dbsession, kind="complaint", title=title, description=f"{title}的详细情况。",
            enterprise_id=user.enterprise_id, opened_by_user_id=user.id,
            department_id=department.id if department else None, category=category,
        )  # fmt: skip

    # Routed by the catalogue: A leads, B co-handles.
    led_by_a = open_case(w.company, None, "甲局主办", category=w.category.code)
    at_the_desk = open_case(w.company, None, "待分办")
    passed_on = open_case(w.other_company, w.a, "首问后改派")
    service.transition(
        dbsession, passed_on, "redispatch", w.desk_staff, comment="应由丙局办理",
        department_id=c.id,
    )  # fmt: skip
    signed_by_c = open_case(w.other_company, c, "丙局已签收")
    service.transition(dbsession, signed_by_c, "sign", users["c_staff"])
    filed_alone = open_case(users["filer"], w.b, "个人反映")
    dbsession.flush()
    cases = {
        "led_by_a": led_by_a,
        "at_the_desk": at_the_desk,
        "passed_on": passed_on,
        "signed_by_c": signed_by_c,
        "filed_alone": filed_alone,
    }
    # The data the table assumes.
    assert (led_by_a.department_id, [d.id for d in led_by_a.assists]) == (w.a.id, [w.b.id])
    assert at_the_desk.department_id is None
    assert (passed_on.department_id, passed_on.owner_department_id) == (c.id, w.a.id)
    assert signed_by_c.owner_department_id == c.id
    assert filed_alone.enterprise_id is None
    return City(w, users, cases)


def listed(page_text: str, cases: dict[str, Case]) -> frozenset[str]:
    shown = set(re.findall(r'href="/cases/(\d+)"', page_text))
    return frozenset(name for name, case in cases.items() if str(case.id) in shown)


def test_each_role_sees_exactly_its_cases_on_the_page_and_in_the_list(city, app, tm, dbsession):
    pages: dict[str, frozenset[str]] = {}
    lists: dict[str, frozenset[str]] = {}
    for name, user in city.users.items():
        client = signed_in(app, tm, dbsession, user)
        seen = set()
        for key, case in city.cases.items():
            status = client.get(f"/cases/{case.id}", expect_errors=True).status_int
            assert status in (200, 403), (name, key, status)
            if status == 200:
                seen.add(key)
        pages[name] = frozenset(seen)
        if name in LIST_REFUSED:
            client.get("/cases", status=403)
            lists[name] = frozenset()
        else:
            lists[name] = listed(client.get("/cases").text, city.cases)
    assert pages == EXPECTED
    assert lists == EXPECTED


ACTIONS = (
    Perm.CASE_HANDLE,
    Perm.CASE_APPROVE,
    Perm.CASE_ASSIST,
    Perm.CASE_DISPATCH,
    Perm.CASE_RESPOND,
)


def test_whoever_may_act_on_a_case_may_read_it(city, dbsession):
    helper = ACLHelper()
    desk = city.world.desk.id
    for name, user in city.users.items():
        scope = scope_for(dbsession, user, desk)
        principals = [Everyone, Authenticated, *user.principals]
        for key, case in city.cases.items():
            viewer = f"user:{user.id}" if scope.covers(dbsession, case) else None
            holder = type("Located", (), {"__acl__": acl_for(case, desk, viewer)})()
            may_view = bool(helper.permits(holder, principals, Perm.CASE_VIEW))
            assert may_view == (key in EXPECTED[name]), (name, key)
            for perm in ACTIONS:
                if helper.permits(holder, principals, perm):
                    assert may_view, (name, key, perm)


def test_a_leader_s_statistics_cover_the_departments_supervised(city, app, tm, dbsession):
    params = {"from": "2026-03-01", "to": "2026-03-07"}
    w = city.world
    page = signed_in(app, tm, dbsession, city.users["leader_of_a"]).get(
        "/cases/stats", params=params
    )
    assert w.a.name in page.text
    assert w.b.name not in page.text
    page = signed_in(app, tm, dbsession, city.users["mayor"]).get("/cases/stats", params=params)
    assert w.a.name in page.text
    assert w.b.name in page.text


def test_the_list_s_department_filter_offers_only_the_scope(city, app, tm, dbsession):
    w = city.world
    client = signed_in(app, tm, dbsession, city.users["leader_of_b_c"])
    page = client.get("/cases")
    options = {o[0] for o in page.forms["case-filter"]["department_id"].options if o[0]}
    assert str(w.b.id) in options
    assert str(w.a.id) not in options
    # Another department asked for by hand: only its cases inside the scope (C
    # leads both; A still answers for one of them under 首问负责).
    client = signed_in(app, tm, dbsession, city.users["leader_of_a"])
    page = client.get("/cases", params={"department_id": city.cases["signed_by_c"].department_id})
    assert listed(page.text, city.cases) == frozenset({"passed_on"})
