"""DirectoryAdmin and LinkAdmin against the real (rolled-back) database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from zope.interface.verify import verifyClass

from portal.admin.services import (
    DEPARTMENT_UNIQUE,
    DirectoryAdmin,
    IDirectoryAdmin,
    ILinkAdmin,
    LinkAdmin,
    Move,
    flush_unique,
)
from portal.departments.models import Department
from portal.errors import InputError
from portal.links.models import FriendLink
from portal.roles import Role
from tests import factories


def test_services_conform_to_their_interfaces():
    assert verifyClass(IDirectoryAdmin, DirectoryAdmin)
    assert verifyClass(ILinkAdmin, LinkAdmin)


@pytest.fixture
def directory(dbsession: Any) -> DirectoryAdmin:
    return DirectoryAdmin(dbsession)


def department_data(**kw: Any) -> dict[str, Any]:
    return {
        "code": "swj",
        "name": "市商务局",
        "short_name": "商务局",
        "category": "经济发展",
        "responsibilities": "外贸、外资。",
        "address": "",
        "phone": "+86 0750-3500000",
        "sort_order": 3,
        "is_active": True,
        **kw,
    }


def leader_data(**kw: Any) -> dict[str, Any]:
    return {"name": "王二", "title": "副市长", "is_mayor": False, "departments": set(), **kw}


# -- departments ----------------------------------------------------------------------
def test_add_department_normalises_the_phone(directory):
    dept = directory.add_department(department_data())
    assert dept.id is not None
    assert dept.phone == "0750-3500000"


def test_a_taken_code_names_the_department_that_has_it(directory):
    factories.DepartmentFactory(code="swj", name="市商务局")
    with pytest.raises(InputError) as caught:
        directory.add_department(department_data(name="别的局"))
    assert caught.value.field == "code"
    assert caught.value.mapping == {"code": "swj", "name": "市商务局"}


def test_a_taken_name_is_refused(directory):
    factories.DepartmentFactory(name="市商务局")
    with pytest.raises(InputError) as caught:
        directory.add_department(department_data(code="other"))
    assert caught.value.field == "name"


def test_a_department_keeps_its_own_code_and_name_when_edited(directory, dbsession):
    dept = factories.DepartmentFactory(code="swj", name="市商务局")
    directory.update_department(dept, department_data(short_name="商务"))
    assert dept.short_name == "商务"


def test_a_refused_edit_changes_nothing(directory):
    factories.DepartmentFactory(code="taken")
    dept = factories.DepartmentFactory(code="swj", name="市商务局", short_name="商务局")
    with pytest.raises(InputError):
        directory.update_department(dept, department_data(code="taken", short_name="改了"))
    assert (dept.code, dept.short_name) == ("swj", "商务局")


def test_flush_unique_turns_a_racing_duplicate_into_a_field_error(dbsession):
    factories.DepartmentFactory(code="race")
    savepoint = dbsession.begin_nested()
    dbsession.add(Department(**{**department_data(), "code": "race", "phone": ""}))
    with pytest.raises(InputError) as caught:
        flush_unique(dbsession, DEPARTMENT_UNIQUE)
    assert caught.value.field == "code"
    savepoint.rollback()
    assert dbsession.scalar(select(Department.code).where(Department.code == "race")) == "race"


# -- leaders --------------------------------------------------------------------------
def test_taking_a_department_from_another_vice_mayor_moves_it(directory):
    commerce = factories.DepartmentFactory(name="市商务局")
    kept = factories.DepartmentFactory(name="市工信局")
    first = factories.LeaderFactory(name="刘一", departments=[commerce, kept])
    second = factories.LeaderFactory(name="王二")

    moves = directory.update_leader(second, leader_data(departments={str(commerce.id)}))

    assert moves == [Move("市商务局", "刘一", "王二")]
    assert first.departments == [kept]
    assert second.departments == [commerce]
    assert commerce.leaders == [second]


def test_keeping_ones_own_departments_moves_nothing(directory):
    dept = factories.DepartmentFactory()
    leader = factories.LeaderFactory(departments=[dept])
    assert directory.update_leader(leader, leader_data(departments={str(dept.id)})) == []
    assert leader.departments == [dept]


def test_a_new_leader_can_take_departments(directory):
    dept = factories.DepartmentFactory(name="市住建局")
    factories.LeaderFactory(name="旧领导", departments=[dept])
    leader, moves = directory.add_leader(leader_data(name="新领导", departments={str(dept.id)}))
    assert leader.id is not None
    assert moves == [Move("市住建局", "旧领导", "新领导")]
    assert dept.leaders == [leader]


def test_the_mayor_supervises_no_department_and_nothing_changes(directory):
    dept = factories.DepartmentFactory()
    other = factories.LeaderFactory(departments=[dept])
    mayor = factories.LeaderFactory(name="市长", is_mayor=False)
    with pytest.raises(InputError) as caught:
        directory.update_leader(mayor, leader_data(is_mayor=True, departments={str(dept.id)}))
    assert caught.value.field == "departments"
    assert other.departments == [dept]
    assert mayor.is_mayor is False


def test_a_vanished_department_is_reported(directory):
    leader = factories.LeaderFactory()
    with pytest.raises(InputError) as caught:
        directory.update_leader(leader, leader_data(departments={"999999"}))
    assert caught.value.field == "departments"


def test_the_linked_account_must_hold_the_leader_role_and_be_free(directory):
    clerk = factories.UserFactory(roles=[Role.STAFF])
    account = factories.UserFactory(roles=[Role.LEADER])
    first = factories.LeaderFactory(name="赵一")

    with pytest.raises(InputError) as caught:
        directory.update_leader(first, leader_data(user_id=clerk.id))
    assert caught.value.field == "user_id"

    directory.update_leader(first, leader_data(name="赵一", user_id=account.id))
    assert first.user_id == account.id
    directory.update_leader(first, leader_data(name="赵一", user_id=account.id))  # unchanged

    second = factories.LeaderFactory()
    with pytest.raises(InputError) as caught:
        directory.update_leader(second, leader_data(user_id=account.id))
    assert caught.value.mapping == {"name": "赵一"}


def test_choices_for_the_forms(directory):
    factories.DepartmentFactory(name="乙局", category="B")
    factories.DepartmentFactory(name="甲局", category="A", is_active=False)
    account = factories.UserFactory(login="vm", display_name="副市长甲", roles=[Role.LEADER])
    factories.UserFactory(roles=[Role.LEADER], is_active=False)

    assert [name for _id, name in directory.department_choices()] == ["甲局", "乙局"]
    assert [name for _id, name in directory.department_choices(active_only=True)] == ["乙局"]
    assert directory.leader_accounts() == [(account.id, "副市长甲 (vm)")]


# -- links ----------------------------------------------------------------------------
def test_links_are_added_updated_and_deleted(dbsession):
    links = LinkAdmin(dbsession)
    link = links.add_link({"title": "中国政府网", "url": "https://www.gov.cn/", "sort_order": 1})
    links.update_link(
        link, {"title": "中国政府网站", "url": "https://www.gov.cn/", "sort_order": 2}
    )
    assert (link.title, link.sort_order) == ("中国政府网站", 2)
    links.delete_link(link)
    assert dbsession.scalar(select(FriendLink).where(FriendLink.id == link.id)) is None
