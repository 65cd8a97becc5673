"""Each demo role, signed in through the real form, walks the pages it lives in.

Runs on the real sample data (the 58 departments, leaders, demo users, content),
so this is also the check that `make run` gives every role a working portal.
"""

from __future__ import annotations

import pytest

from portal.sampledata import DEMO_PASSWORD, load_sample_data
from tests.conftest import transition_form

ALL_ADMIN = ["/admin", "/admin/users", "/admin/departments", "/admin/leaders", "/admin/links"]
PUBLIC = ["/", "/policies", "/regulations", "/industry-news", "/service-news", "/departments"]


@pytest.fixture
def city(dbsession, settings):
    load_sample_data(dbsession, settings)
    return dbsession


def sign_in(testapp, login: str):
    form = testapp.get("/login").forms["login"]
    form["login"] = login
    form["password"] = DEMO_PASSWORD
    return form.submit("submit")


def visit(testapp, paths: list[str], status: int = 200) -> None:
    for path in paths:
        testapp.get(path, status=status)


def test_enterprise_user_browses_reads_and_manages_colleagues(testapp, city):
    landing = sign_in(testapp, "enterprise").follow()
    assert "退出" in landing.text
    visit(testapp, PUBLIC)
    listing = testapp.get("/policies")
    item = listing.click(href="/content/", index=0)
    assert "涉企政策" in item.text
    assert "本企业账号" in testapp.get("/account").text
    assert testapp.get("/account/enterprise").status_int == 200
    visit(testapp, ["/manage", *ALL_ADMIN], status=403)


def test_colleague_cannot_manage_the_enterprise_account(testapp, city):
    sign_in(testapp, "enterprise2")
    testapp.get("/account", status=200)
    testapp.get("/account/enterprise", status=403)


@pytest.mark.parametrize("login", ["fgj-staff1", "fgj-head", "mayor", "vice-mayor1"])
def test_government_people_see_the_portal_and_their_account(testapp, city, login):
    sign_in(testapp, login).follow()
    visit(testapp, [*PUBLIC, "/account", "/account/password"])
    visit(testapp, ["/manage", *ALL_ADMIN], status=403)


def test_department_head_is_shown_on_the_department_page(testapp, city):
    sign_in(testapp, "fgj-head")
    page = testapp.get("/departments")
    department = page.click(description="市发展和改革局", index=0)
    assert "负责人" in department.text


def test_editor_writes_a_draft_and_submits_it(testapp, city):
    dashboard = sign_in(testapp, "editor").follow()
    assert dashboard.request.path == "/manage"
    form = testapp.get("/manage/add/policy").forms["content"]
    form["title"] = "关于支持外贸企业拓展新兴市场的通知"
    form["summary"] = "支持外贸企业参加境外展会。"
    form["body"] = "<p>对参加境外展会的企业给予展位费补贴。</p>"
    edit = form.submit("save").follow()
    submit = transition_form(edit, "submit")
    submit.submit().follow()
    assert "关于支持外贸企业拓展新兴市场的通知" in testapp.get("/manage").text
    visit(testapp, ALL_ADMIN, status=403)


def test_reviewer_publishes_what_waits_for_review(testapp, city):
    from sqlalchemy import select

    from portal.content.models import ContentItem

    sign_in(testapp, "reviewer").follow()
    pending = city.scalars(select(ContentItem).where(ContentItem.state == "pending")).first()
    assert pending is not None, "the sample data has items awaiting review"
    assert pending.title in testapp.get("/manage").text
    item_page = testapp.get(f"/content/{pending.id}")
    publish = transition_form(item_page, "publish")
    publish.submit().follow()
    city.refresh(pending)
    assert pending.state == "published"
    visit(testapp, ALL_ADMIN, status=403)


def test_supervisor_reads_everything_and_changes_nothing(testapp, city):
    dashboard = sign_in(testapp, "supervisor").follow()
    assert "/manage/add/" not in dashboard.text
    testapp.get("/manage/add/policy", status=403)
    visit(testapp, ALL_ADMIN, status=403)


def test_administrator_reaches_every_administration_page(testapp, city):
    sign_in(testapp, "admin").follow()
    visit(testapp, ALL_ADMIN)
    users = testapp.get("/admin/users", params={"q": "fgj"})
    assert "fgj-head" in users.text
