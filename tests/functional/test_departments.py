"""Visitors browse the department directory and a department's page."""

from __future__ import annotations

from portal.roles import Role
from tests import factories


def test_a_visitor_reads_a_department_page(testapp, dbsession):
    dept = factories.DepartmentFactory(
        code="scj", name="市市场监督管理局", responsibilities="负责企业登记注册、食品安全监管。"
    )
    head = factories.UserFactory(
        display_name="李局长", title="局长", department=dept, roles=[Role.HEAD]
    )
    leader = factories.LeaderFactory(name="王副市长", departments=[dept])
    factories.ContentItemFactory(department=dept, title="市场监管便企十条")

    page = testapp.get("/departments/scj")

    assert "市市场监督管理局" in page.text
    assert "负责企业登记注册" in page.text
    assert head.display_name in page.text
    assert leader.name in page.text
    assert "市场监管便企十条" in page.text


def test_unknown_department_is_a_404(testapp):
    testapp.get("/departments/no-such-dept", status=404)


def test_directory_groups_departments_by_category(testapp, dbsession):
    factories.DepartmentFactory(name="市财政局", category="综合管理")
    factories.DepartmentFactory(name="市商务局", category="经济发展")
    page = testapp.get("/departments")
    assert page.text.index("综合管理") != page.text.index("经济发展")
    assert "市财政局" in page.text
    assert "市商务局" in page.text


def test_meeting_entry_lists_department_heads(testapp, dbsession):
    dept = factories.DepartmentFactory(name="市商务局")
    factories.UserFactory(display_name="陈主任", department=dept, roles=[Role.HEAD])
    page = testapp.get("/meetings")
    assert "市商务局" in page.text
    assert "陈主任" in page.text
