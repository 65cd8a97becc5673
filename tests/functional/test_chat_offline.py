"""留言: a message left while the department is offline becomes a tracked case,
confirmed by email."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.complaints.models import Case
from portal.mail.models import OutboxMail
from tests import factories


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory(name="江门市人力资源和社会保障局", code="rsj")


@pytest.fixture
def user(dbsession, testapp, login):
    user = factories.enterprise_user(email="chen@hesheng.example.com")
    login(user)
    return user


def message_form(page):
    return next(f for f in page.forms.values() if f.action.endswith("/message"))


def cases(dbsession):
    return dbsession.scalars(select(Case).where(Case.source == "message")).all()


def test_a_message_becomes_a_case_and_a_confirmation(testapp, dbsession, dept, user):
    form = message_form(testapp.get("/chat/with/rsj"))
    form["kind"] = "help"
    form["title"] = "社保补缴咨询"
    form["text"] = "我公司需要为两名员工补缴2025年的社保，请问流程？"

    page = form.submit().follow()

    [case] = cases(dbsession)
    assert f"您的留言已登记为案件 {case.number}" in page.text
    assert "chen@hesheng.example.com" in page.text
    assert (case.kind, case.title, case.requested_department_id) == (
        "help",
        "社保补缴咨询",
        dept.id,
    )
    assert (case.enterprise_id, case.opened_by_id) == (user.enterprise_id, user.id)
    assert case.contact_email == "chen@hesheng.example.com"
    confirmation = dbsession.scalars(
        select(OutboxMail).where(OutboxMail.recipients == "chen@hesheng.example.com")
    ).all()
    assert len(confirmation) == 1  # one acknowledgement, from the case service
    assert case.number in confirmation[0].subject


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "请填写留言主题。"),
        ("title", "长" * 101, "主题过长（最多 100 个字）。"),
        ("text", "   ", "请填写留言内容。"),
        ("text", "长" * 2001, "留言内容过长（最多 2000 个字）。"),
        ("email", "not-an-address", "请填写接收确认邮件的邮箱地址。"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_lost(
    testapp, dbsession, dept, user, field, value, message
):
    form = message_form(testapp.get("/chat/with/rsj"))
    form["title"] = "社保补缴咨询"
    form["text"] = "请问流程？"
    form[field] = value

    page = form.submit(status=400)

    error = page.html.select_one(f"#offline-{field}-error")
    assert error.get_text() == message
    assert page.html.select_one(f"[name={field}]")["aria-invalid"] == "true"
    again = message_form(page)
    assert again[field].value == value  # what was typed is still there
    assert cases(dbsession) == []


def test_an_unknown_kind_is_refused(testapp, dbsession, dept, user):
    page = testapp.get("/chat/with/rsj")
    csrf = page.html.select_one("input[name=csrf_token]")["value"]
    response = testapp.post(
        "/chat/with/rsj/message",
        {"csrf_token": csrf, "kind": "bribe", "title": "t", "text": "x", "email": "a@b.cn"},
        headers={"Accept": "application/json"},
        status=400,
    )
    assert response.json["field"] == "kind"
    assert cases(dbsession) == []


def test_scripts_get_the_case_number_as_json(testapp, dbsession, dept, user):
    csrf = testapp.get("/chat/with/rsj").html.select_one("input[name=csrf_token]")["value"]
    response = testapp.post(
        "/chat/with/rsj/message",
        {
            "csrf_token": csrf,
            "kind": "consult",
            "title": "招聘补贴",
            "text": "请问招聘补贴怎么申请？",
            "email": "chen@hesheng.example.com",
        },
        headers={"Accept": "application/json"},
    )
    [case] = cases(dbsession)
    assert response.json["ok"] is True
    assert response.json["case_number"] == case.number


def test_only_enterprise_users_leave_messages(testapp, login, dbsession, dept):
    login(factories.UserFactory())
    testapp.post("/chat/with/rsj/message", {"title": "x"}, status=403)
    assert cases(dbsession) == []
