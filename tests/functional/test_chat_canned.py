"""A department's canned replies: its staff add, edit, order and delete them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.chat.models import CannedReply
from tests import factories
from tests.factories_chat import CannedReplyFactory, staff_of


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory(name="江门市税务局", code="swj")


def titles(dbsession, dept):
    return list(
        dbsession.scalars(
            select(CannedReply.title)
            .where(CannedReply.department_id == dept.id)
            .order_by(CannedReply.sort_order)
        )
    )


def form_with(page, action):
    return next(f for f in page.forms.values() if f.action == action)


def test_staff_add_a_reply_and_find_it_in_the_console(testapp, login, dbsession, dept):
    login(staff_of(dept))
    page = testapp.get("/chat/canned")
    form = form_with(page, "/chat/canned")
    form["title"] = "发票领用"
    form["body"] = "您好，首次领用发票请携带营业执照和公章到办税服务厅办理。"

    page = form.submit().follow()

    assert "常用回复已添加" in page.text
    assert titles(dbsession, dept) == ["发票领用"]
    console = testapp.get("/chat/console")
    assert [o.get_text() for o in console.html.select("#canned-select option")][1:] == ["发票领用"]


def test_a_reply_without_text_is_refused_and_what_was_typed_stays(testapp, login, dbsession, dept):
    login(staff_of(dept))
    form = form_with(testapp.get("/chat/canned"), "/chat/canned")
    form["title"] = "发票领用"
    form["body"] = "   "

    page = form.submit(status=400)

    assert page.html.select_one("#new-body-error").get_text() == "请填写快捷回复内容。"
    assert form_with(page, "/chat/canned")["title"].value == "发票领用"
    assert titles(dbsession, dept) == []


def test_staff_edit_reorder_and_delete(testapp, login, dbsession, dept):
    first = CannedReplyFactory(department=dept, title="问候", sort_order=1)
    second = CannedReplyFactory(department=dept, title="结束语", sort_order=2)
    login(staff_of(dept))
    page = testapp.get("/chat/canned")

    form = form_with(page, f"/chat/canned/{first.id}")
    form["title"] = "开场问候"
    page = form.submit("action", index=0).follow()  # save
    assert titles(dbsession, dept) == ["开场问候", "结束语"]

    form_with(page, f"/chat/canned/{second.id}").submit("action", value="up").follow()
    assert titles(dbsession, dept) == ["结束语", "开场问候"]

    page = testapp.get("/chat/canned")
    form_with(page, f"/chat/canned/{first.id}").submit("action", value="delete").follow()
    assert titles(dbsession, dept) == ["结束语"]


def test_other_departments_cannot_touch_them(testapp, login, dbsession, dept):
    reply = CannedReplyFactory(department=dept, title="问候")
    login(staff_of(factories.DepartmentFactory()))
    assert "问候" not in testapp.get("/chat/canned").text
    testapp.post(f"/chat/canned/{reply.id}", {"action": "delete"}, status=403)
    testapp.reset()
    login(factories.enterprise_user())
    testapp.get("/chat/canned", status=403)
    assert titles(dbsession, dept) == ["问候"]
