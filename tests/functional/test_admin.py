"""An administrator's journeys: accounts, departments, 分管 leaders, links; and who may not."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.departments.models import Department
from portal.links.models import FriendLink
from portal.roles import Role
from portal.sessions import WebSession
from tests import factories

STAFF_PASSWORD = "Staff-Password-2026"


def sign_in(app: webtest.TestApp, login: str, password: str = factories.PASSWORD) -> Any:
    form = app.get("/login").forms["login"]
    form["login"] = login
    form["password"] = password
    return form.submit()


def second_browser(testapp: webtest.TestApp) -> webtest.TestApp:
    """Another browser (own cookies) on the same test transaction."""
    return webtest.TestApp(testapp.app, extra_environ=dict(testapp.extra_environ))


def field_error(page: Any, field: str) -> str:
    """The error deform shows next to ``field`` ("" when there is none)."""
    found = page.html.select_one(f".item-{field} .invalid-feedback")
    return found.get_text(" ", strip=True) if found else ""


@pytest.fixture
def admin(dbsession: Any) -> User:
    return factories.UserFactory(login="root-admin", roles=[Role.ADMIN], display_name="管理员")


@pytest.fixture
def as_admin(testapp: webtest.TestApp, admin: User) -> webtest.TestApp:
    assert sign_in(testapp, admin.login).status_int == 303
    return testapp


# -- users ----------------------------------------------------------------------------
def test_admin_creates_a_staff_user_who_can_then_log_in(as_admin, testapp, dbsession):
    dept = factories.DepartmentFactory(name="市市场监督管理局")

    form = (
        as_admin.get("/admin")
        .click(href="/admin/users$")
        .click(href="/admin/users/add")
        .forms["user"]
    )
    form["login"] = "zhang.wei"
    form["display_name"] = "张伟"
    form["email"] = "zhang.wei@example.gov.cn"
    form["title"] = "科长"
    form["department_id"] = str(dept.id)
    form["checkbox"] = [Role.STAFF.value, Role.HEAD.value]
    form["password"] = form["password_confirm"] = "Short-pw-1"  # 10 < 12: staff rule
    page = form.submit("create")

    assert "密码至少需要 12 个字符。" in field_error(page, "password")
    assert dbsession.scalar(select(User).where(User.login == "zhang.wei")) is None

    form = page.forms["user"]
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    edit = form.submit("create").follow()
    assert "账号已创建" in edit.text

    created = dbsession.scalar(select(User).where(User.login == "zhang.wei"))
    assert created.roles == {Role.STAFF, Role.HEAD}
    assert created.department_id == dept.id
    assert created.title == "科长"
    listing = as_admin.get("/admin/users", params={"department": dept.id})
    assert "zhang.wei" in listing.text
    assert "部门负责人" in listing.text

    browser = second_browser(testapp)
    assert sign_in(browser, "zhang.wei", STAFF_PASSWORD).status_int == 303
    assert "张伟" in browser.get("/account").text


def test_taken_user_name_and_email_are_reported_next_to_the_fields(as_admin, dbsession):
    factories.UserFactory(login="taken", email="taken@example.com")
    form = as_admin.get("/admin/users/add").forms["user"]
    form["login"] = "taken"
    form["display_name"] = "重名"
    form["checkbox"] = [Role.EDITOR.value]
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    page = form.submit("create")
    assert field_error(page, "login") == "该用户名已被使用。"

    form = page.forms["user"]
    form["login"] = "fresh"
    form["email"] = "TAKEN@example.com"
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    page = form.submit("create")
    assert field_error(page, "email") == "该电子邮箱已注册。"
    assert dbsession.scalar(select(User).where(User.login == "fresh")) is None


def test_a_user_needs_a_role_a_name_and_a_valid_phone(as_admin):
    form = as_admin.get("/admin/users/add").forms["user"]
    form["login"] = "nobody"
    form["phone"] = "12345"
    form["checkbox"] = []
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    page = form.submit("create")
    assert field_error(page, "roles") == "请至少选择一个角色。"
    assert field_error(page, "display_name") == "请输入姓名。"
    assert "11 位手机号码" in field_error(page, "phone")


def test_disabling_a_user_ends_their_session_at_once(as_admin, testapp, dbsession):
    staff = factories.UserFactory(login="li.na", roles=[Role.STAFF])
    browser = second_browser(testapp)
    sign_in(browser, staff.login)
    assert browser.get("/account").status_int == 200  # logged in

    form = as_admin.get(f"/admin/users/{staff.id}").forms["user"]
    form["is_active"] = False
    page = form.submit("save").follow()
    assert "账号已停用" in page.text

    assert dbsession.scalar(select(func.count()).where(WebSession.user_id == staff.id)) == 0
    assert browser.get("/account").status_int == 303  # to the login page: anonymous now

    # Enabling the account again does not bring the ended session back.
    form = as_admin.get(f"/admin/users/{staff.id}").forms["user"]
    form["is_active"] = True
    form.submit("save")
    assert browser.get("/account").status_int == 303
    assert sign_in(browser, staff.login).status_int == 303


def test_an_admin_cannot_disable_themselves_or_drop_their_admin_role(as_admin, admin, dbsession):
    form = as_admin.get(f"/admin/users/{admin.id}").forms["user"]
    form["is_active"] = False
    page = form.submit("save")
    assert field_error(page, "is_active") == "不能停用自己的账号。"

    form = page.forms["user"]
    form["is_active"] = True
    form["checkbox"] = [Role.EDITOR.value]
    page = form.submit("save")
    assert "不能取消自己的系统管理员角色" in field_error(page, "roles")

    dbsession.refresh(admin)
    assert admin.is_active
    assert admin.roles == {Role.ADMIN}


def test_admin_unlocks_an_account_and_sets_a_new_password(as_admin, testapp, clock, dbsession):
    from datetime import timedelta

    staff = factories.UserFactory(
        login="wang.fang", roles=[Role.STAFF], locked_until=clock.now() + timedelta(minutes=30)
    )
    page = as_admin.get("/admin/users", params={"q": "wang"})
    assert "已锁定" in page.text

    page = as_admin.get(f"/admin/users/{staff.id}")
    page = page.forms["unlock"].submit().follow()
    assert "账号已解锁" in page.text
    assert staff.locked_until is None

    form = page.forms["password"]
    form["password"] = form["password_confirm"] = "too-short"
    page = form.submit("set_password")
    assert "12 个字符" in field_error(page, "password")
    form = page.forms["password"]
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    form.submit("set_password").follow()

    browser = second_browser(testapp)
    assert "用户名或密码错误" in sign_in(browser, staff.login).text
    assert sign_in(browser, staff.login, STAFF_PASSWORD).status_int == 303


def test_enterprise_users_are_listed_with_their_enterprise_and_can_be_disabled(as_admin, dbsession):
    enterprise = factories.EnterpriseFactory(name="江门示范电子有限公司")
    member = factories.enterprise_user(enterprise=enterprise, login="ent.user")

    page = as_admin.get("/admin/users", params={"role": "enterprise"})
    assert "ent.user" in page.text
    assert "江门示范电子有限公司" in page.text

    page = page.click(href=f"/admin/users/{member.id}$")
    form = page.forms["user"]
    assert "checkbox" not in form.fields
    assert "department_id" not in form.fields
    form["is_active"] = False
    form.submit("save").follow()
    assert member.is_active is False
    assert member.roles == {Role.ENTERPRISE}


def test_user_search_filters_and_pages(as_admin, dbsession):
    dept = factories.DepartmentFactory()
    for n in range(22):
        factories.UserFactory(login=f"bulk{n:02d}", roles=[Role.STAFF], department=dept)
    factories.UserFactory(login="auditor", display_name="赵监察", roles=[Role.SUPERVISOR])

    first = as_admin.get("/admin/users", params={"department": dept.id})
    assert "共 22 个用户" in first.text
    assert "bulk00" in first.text
    assert "bulk21" not in first.text
    second = first.click(href="page=2")
    assert "bulk21" in second.text
    assert "bulk00" not in second.text

    assert "auditor" in as_admin.get("/admin/users", params={"q": "赵监"}).text
    by_role = as_admin.get("/admin/users", params={"role": "supervisor"})
    assert "auditor" in by_role.text
    assert "bulk00" not in by_role.text
    odd = as_admin.get("/admin/users", params={"q": "%_", "role": "nope", "page": "x"})
    assert "没有符合条件的用户" in odd.text


# -- departments ----------------------------------------------------------------------
def _department_form(page: Any, **values: str) -> Any:
    form = page.forms["department"]
    defaults = {
        "code": "fgj",
        "name": "市发展和改革局",
        "short_name": "发改局",
        "category": "经济发展",
        "responsibilities": "负责项目审批、价格管理。",
        "phone": "0750-3500000",
    }
    for name, value in {**defaults, **values}.items():
        form[name] = value
    return form


def test_admin_adds_a_department_and_a_taken_code_is_shown_next_to_the_field(as_admin, dbsession):
    page = _department_form(as_admin.get("/admin/departments/add")).submit("save").follow()
    assert "市发展和改革局" in page.text
    assert "经济发展" in page.text

    page = _department_form(as_admin.get("/admin/departments/add"), name="市另一个局").submit(
        "save"
    )
    assert page.status_int == 200
    assert field_error(page, "code") == "代码 fgj 已被 市发展和改革局 使用。"
    assert dbsession.scalar(select(func.count()).select_from(Department)) == 1

    page = _department_form(page, code="another", name="市发展和改革局").submit("save")
    assert field_error(page, "name") == "已有同名部门。"
    assert field_error(page, "code") == ""


def test_department_fields_are_validated_in_chinese(as_admin, dbsession):
    form = _department_form(
        as_admin.get("/admin/departments/add"),
        code="FG J",
        phone="abc",
        responsibilities="   ",
        sort_order="first",
    )
    page = form.submit("save")
    assert "小写字母" in field_error(page, "code")
    assert "区号" in field_error(page, "phone")
    assert field_error(page, "responsibilities").startswith("请说明该部门")
    assert field_error(page, "sort_order") == "请输入整数，如 10。"
    assert dbsession.scalar(select(func.count()).select_from(Department)) == 0


def test_department_list_shows_heads_staff_and_supervising_leader(as_admin, dbsession):
    dept = factories.DepartmentFactory(name="市商务局", category="经济发展")
    hidden = factories.DepartmentFactory(name="市旧机构", category="综合管理", is_active=False)
    factories.UserFactory(display_name="陈局长", title="局长", roles=[Role.HEAD], department=dept)
    factories.UserFactory(roles=[Role.STAFF], department=dept)
    factories.UserFactory(roles=[Role.STAFF], department=dept, is_active=False)
    factories.LeaderFactory(name="刘副市长", title="副市长", departments=[dept])

    page = as_admin.get("/admin/departments")
    row = next(tr for tr in page.html.select("tr") if "市商务局" in tr.get_text())
    cells = [td.get_text(" ", strip=True) for td in row.select("td")]
    assert "陈局长（局长）" in cells[2]
    assert cells[3] == "2"
    assert "刘副市长" in cells[4]
    assert hidden.name in page.text
    assert "已隐藏" in page.text


def test_admin_edits_a_department(as_admin, dbsession):
    dept = factories.DepartmentFactory(code="sw", name="市商务局")
    form = as_admin.get(f"/admin/departments/{dept.id}").forms["department"]
    assert form["code"].value == "sw"
    form["short_name"] = "商务"
    form["is_active"] = False
    form.submit("save").follow()
    assert dept.short_name == "商务"
    assert dept.is_active is False
    assert "商务" not in as_admin.get("/").html.select_one(".dept-list").get_text()


# -- leaders --------------------------------------------------------------------------
def test_a_department_moves_between_vice_mayors(as_admin, dbsession):
    commerce = factories.DepartmentFactory(name="市商务局")
    industry = factories.DepartmentFactory(name="市工业和信息化局")
    first = factories.LeaderFactory(name="刘一", departments=[commerce, industry])
    second = factories.LeaderFactory(name="王二")

    form = as_admin.get("/admin/leaders").click(href=f"/admin/leaders/{second.id}$").forms["leader"]
    form["checkbox"] = [str(commerce.id)]
    page = form.submit("save").follow()

    assert "市商务局 已由 刘一 改为 王二 分管。" in page.text
    assert first.departments == [industry]
    assert second.departments == [commerce]
    card = next(
        li
        for li in as_admin.get("/departments").html.select(".dept-cards li")
        if "市商务局" in li.get_text()
    )
    assert "王二" in card.get_text()
    assert "刘一" not in card.get_text()


def test_the_mayor_supervises_no_department(as_admin, dbsession):
    dept = factories.DepartmentFactory()
    form = as_admin.get("/admin/leaders/add").forms["leader"]
    form["name"] = "市长甲"
    form["title"] = "市长"
    form["is_mayor"] = True
    form["checkbox"] = [str(dept.id)]
    page = form.submit("save")
    assert "市长不直接分管部门" in field_error(page, "departments")

    form = page.forms["leader"]
    form["checkbox"] = []
    form["email"] = "not-an-address"
    page = form.submit("save")
    assert field_error(page, "email") == "请输入有效的电子邮箱地址。"
    form = page.forms["leader"]
    form["email"] = "mayor@example.gov.cn"
    page = form.submit("save").follow()
    assert "市长甲" in page.text
    assert "市长" in page.text


def test_a_leader_links_only_an_account_with_the_leader_role(as_admin, dbsession):
    account = factories.UserFactory(login="vm.zhao", roles=[Role.LEADER])
    clerk = factories.UserFactory(login="clerk", roles=[Role.STAFF])
    form = as_admin.get("/admin/leaders/add").forms["leader"]
    options = [value for value, _selected, _text in form["user_id"].options]
    assert str(account.id) in options
    assert str(clerk.id) not in options

    form["name"] = "赵副市长"
    form["title"] = "副市长"
    form["user_id"] = str(account.id)
    page = form.submit("save").follow()
    assert "vm.zhao" in page.text

    form = as_admin.get("/admin/leaders/add").forms["leader"]
    form["name"] = "另一人"
    form["title"] = "副市长"
    form["user_id"] = str(account.id)
    page = form.submit("save")
    assert field_error(page, "user_id") == "该账号已关联到 赵副市长。"


# -- links ----------------------------------------------------------------------------
def test_links_are_added_edited_and_deleted_and_shown_on_the_home_page(as_admin, dbsession):
    form = as_admin.get("/admin/links").click(href="/admin/links/add").forms["link"]
    form["title"] = "广东省人民政府"
    form["url"] = "javascript:alert(1)"
    page = form.submit("save")
    assert field_error(page, "url") == "网址须以 http:// 或 https:// 开头。"

    form = page.forms["link"]
    form["url"] = "https://www.gd.gov.cn/"
    form.submit("save").follow()
    home = as_admin.get("/")
    assert "广东省人民政府" in home.html.select_one(".links a[href='https://www.gd.gov.cn/']").text

    link = dbsession.scalar(select(FriendLink).where(FriendLink.title == "广东省人民政府"))
    form = as_admin.get(f"/admin/links/{link.id}").forms["link"]
    form["title"] = "广东省政府门户"
    form.submit("save")
    assert "广东省政府门户" in as_admin.get("/").html.select_one(".links").text

    confirm = as_admin.get("/admin/links").click(href=f"/admin/links/{link.id}/delete")
    assert "广东省政府门户" in confirm.text
    assert dbsession.get(FriendLink, link.id) is not None
    page = confirm.forms["delete"].submit().follow()
    assert "已删除" in page.text
    assert "广东省政府门户" not in as_admin.get("/").text


def test_deleting_a_link_needs_the_csrf_token(as_admin, dbsession):
    link = factories.FriendLinkFactory()
    as_admin.post(f"/admin/links/{link.id}/delete", status=400)
    assert dbsession.get(FriendLink, link.id) is not None


# -- who may not ------------------------------------------------------------------------
def _admin_urls(dbsession: Any) -> list[str]:
    user = factories.UserFactory()
    dept = factories.DepartmentFactory()
    leader = factories.LeaderFactory()
    link = factories.FriendLinkFactory()
    return [
        "/admin",
        "/admin/users",
        "/admin/users/add",
        f"/admin/users/{user.id}",
        "/admin/departments",
        "/admin/departments/add",
        f"/admin/departments/{dept.id}",
        "/admin/leaders",
        "/admin/leaders/add",
        f"/admin/leaders/{leader.id}",
        "/admin/links",
        "/admin/links/add",
        f"/admin/links/{link.id}",
        f"/admin/links/{link.id}/delete",
    ]


NOT_ADMIN = [Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR, Role.STAFF, Role.HEAD, Role.LEADER]


@pytest.mark.parametrize("role", [*NOT_ADMIN, Role.ENTERPRISE])
def test_every_admin_page_is_forbidden_to_other_roles(testapp, login, dbsession, role):
    urls = _admin_urls(dbsession)
    if role is Role.ENTERPRISE:
        user = factories.enterprise_user()
    else:
        user = factories.UserFactory(roles=[role], department=factories.DepartmentFactory())
    login(user)
    for url in urls:
        assert testapp.get(url, expect_errors=True).status_int == 403, url
    token = testapp.get("/account").html.select_one("input[name=csrf_token]")["value"]
    link_id = int(urls[-1].split("/")[3])
    testapp.post(urls[-1], {"csrf_token": token}, status=403)
    assert dbsession.get(FriendLink, link_id) is not None


def test_anonymous_visitors_are_sent_to_the_login_page(testapp, dbsession):
    for url in _admin_urls(dbsession):
        page = testapp.get(url, status=303)
        assert page.location.startswith("http://localhost/login?next="), url


def test_an_admin_who_resets_their_own_password_stays_logged_in(as_admin, admin, dbsession):
    form = as_admin.get(f"/admin/users/{admin.id}").forms["password"]
    form["password"] = form["password_confirm"] = STAFF_PASSWORD
    page = form.submit("set_password").follow()
    assert "新密码已设置" in page.text
    assert as_admin.get("/admin/users").status_int == 200


def test_the_leader_form_says_who_supervises_each_department_now(as_admin, dbsession):
    commerce = factories.DepartmentFactory(name="市商务局")
    factories.DepartmentFactory(name="市统计局")
    own = factories.LeaderFactory(name="王二", departments=[commerce])
    factories.LeaderFactory(name="刘一")
    labels = as_admin.get(f"/admin/leaders/{own.id}").html.select(".item-departments label")
    texts = [label.get_text(strip=True) for label in labels]
    assert "市商务局" in texts  # its own department: no note
    assert "市统计局" in texts

    other = factories.LeaderFactory(name="赵三")
    labels = as_admin.get(f"/admin/leaders/{other.id}").html.select(".item-departments label")
    assert "市商务局（现由 王二 分管）" in [label.get_text(strip=True) for label in labels]
