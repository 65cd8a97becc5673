"""An enterprise's and a civil servant's steps: log in, register, colleagues, profile, password."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import func, select

from portal.accounts.models import Enterprise, User
from portal.accounts.passwords import Argon2PasswordHasher
from portal.roles import Role
from portal.sessions import WebSession
from tests import factories

NEW_PASSWORD = "Another-Horse-77"


def browser(app: Any, testapp: webtest.TestApp) -> webtest.TestApp:
    """A second browser (another device of the same person, or someone else)."""
    return webtest.TestApp(app, extra_environ=testapp.extra_environ)


def sign_in(
    client: webtest.TestApp,
    login: str,
    password: str = factories.PASSWORD,
    next_: str | None = None,
) -> webtest.TestResponse:
    page = client.get("/login", params={} if next_ is None else {"next": next_})
    form = page.forms["login"]
    form.set("login", login, index=0)
    form["password"] = password
    return form.submit()


def signed_in(client: webtest.TestApp) -> bool:
    return client.get("/account", expect_errors=True).status_int == 200


def field_error(page: webtest.TestResponse, field: str) -> str:
    """The error shown next to ``field`` (deform puts it in the field's own block)."""
    found = page.html.select_one(f".item-{field} .invalid-feedback")
    return found.get_text(strip=True) if found else ""


def count(dbsession: Any, model: Any) -> int:
    return int(dbsession.scalar(select(func.count()).select_from(model)))


# -- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "landing"),
    [
        ([Role.ENTERPRISE], "http://localhost/"),
        ([Role.EDITOR], "http://localhost/manage"),
        ([Role.ADMIN], "http://localhost/admin"),
    ],
)
def test_login_lands_on_the_users_own_start_page(testapp, dbsession, roles, landing):
    user = factories.UserFactory(roles=roles)
    response = sign_in(testapp, user.login)
    assert response.status_int == 303
    assert response.location == landing
    assert signed_in(testapp)


def test_login_with_the_email_address(testapp, dbsession):
    user = factories.UserFactory(email="boss@example.com")
    assert sign_in(testapp, "Boss@Example.com").status_int == 303
    assert user.last_login_at is not None


def test_unknown_user_and_wrong_password_look_the_same(testapp, dbsession):
    user = factories.UserFactory()
    unknown = sign_in(testapp, "nobody-by-that-name")
    wrong = sign_in(testapp, user.login, "Wrong-Password-1")
    assert field_error(unknown, "login") == field_error(wrong, "login") == "用户名或密码错误。"
    assert not signed_in(testapp)


def test_five_failures_lock_the_account_for_thirty_minutes(testapp, dbsession, clock):
    user = factories.UserFactory()
    for _ in range(5):
        assert "用户名或密码错误" in field_error(
            sign_in(testapp, user.login, "Wrong-1-pass"), "login"
        )

    locked = sign_in(testapp, user.login)  # the right password, during the lock

    assert "锁定" in field_error(locked, "login")
    assert "30" in field_error(locked, "login")
    assert not signed_in(testapp)
    clock.advance(minutes=29)
    assert "锁定" in field_error(sign_in(testapp, user.login), "login")
    clock.advance(minutes=2)
    assert sign_in(testapp, user.login).status_int == 303
    assert signed_in(testapp)


def test_a_disabled_user_cannot_log_in(testapp, dbsession):
    user = factories.UserFactory(is_active=False)
    assert field_error(sign_in(testapp, user.login), "login") == "用户名或密码错误。"
    assert not signed_in(testapp)


def test_login_rehashes_a_password_hashed_with_old_parameters(testapp, dbsession):
    old = Argon2PasswordHasher(time_cost=2, memory_cost=64, parallelism=1).hash(factories.PASSWORD)
    user = factories.UserFactory(password_hash=old)
    sign_in(testapp, user.login)
    assert user.password_hash != old
    assert "t=1" in user.password_hash  # the parameters the app uses now


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "/\t/evil.com",
        "\\/evil.com",
        "http:evil.com",
        "/政策",  # not off-site, but raw Unicode in a Location header was a 500
    ],
)
def test_next_cannot_send_anyone_off_site(testapp, dbsession, target):
    user = factories.UserFactory(roles=[Role.ENTERPRISE])
    response = sign_in(testapp, user.login, next_=target)
    assert response.location == "http://localhost/"
    # already signed in, the login page redirects at once: same rule
    assert testapp.get("/login", params={"next": target}).location == "http://localhost/"
    # the language switch takes a "next" too
    assert testapp.get("/locale/en", params={"next": target}).location == "http://localhost/"


def test_next_brings_the_user_back_where_they_were(testapp, dbsession):
    user = factories.UserFactory()
    to_login = testapp.get("/account/password", status=303)
    assert to_login.location == "http://localhost/login?next=%2Faccount%2Fpassword"
    response = sign_in(testapp, user.login, next_="/account/password")
    assert response.location == "http://localhost/account/password"


# -- registration --------------------------------------------------------------------------------


def registration_form(testapp: webtest.TestApp, **values: Any) -> webtest.Form:
    form = testapp.get("/register").forms["register"]
    data = {
        "enterprise_name": "江门市示例精密制造有限公司",
        "uscc": factories.valid_uscc(7001),
        "industry": "C",
        "contact_phone": "0750-3500000",
        "address": "江门市蓬江区",
        "display_name": "陈经理",
        "login": "chenjl",
        "email": "chen@example.com",
        "password": factories.PASSWORD,
        "password_confirm": factories.PASSWORD,
        "consent": True,
        **values,
    }
    for name, value in data.items():
        form.set(name, value, index=0)
    return form


def test_an_enterprise_registers_and_is_signed_in(testapp, dbsession):
    response = registration_form(testapp).submit("register")

    assert response.status_int == 303
    assert response.location == "http://localhost/account"
    profile = response.follow()
    assert "江门市示例精密制造有限公司" in profile.text
    assert factories.valid_uscc(7001) in profile.text
    user = dbsession.scalar(select(User).where(User.login == "chenjl"))
    assert user.is_enterprise_admin
    assert user.enterprise.contact_phone == "0750-3500000"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"uscc": factories.valid_uscc(7001)[:17] + "X"}, "uscc", "校验"),
        ({"uscc": "9144070012345"}, "uscc", "18"),
        ({"contact_phone": "3500000"}, "contact_phone", "区号"),
        ({"password": "short", "password_confirm": "short"}, "password", "8"),
        ({"password": "onlylowercase", "password_confirm": "onlylowercase"}, "password", "两"),
        ({"password_confirm": "Something-Else-1"}, "password_confirm", "不一致"),
        ({"consent": False}, "consent", "同意"),
        ({"login": "陈经理"}, "login", "字母"),
        ({"email": "not-an-address"}, "email", "电子邮箱"),
    ],
)
def test_registration_errors_appear_next_to_their_field_in_chinese(
    testapp, dbsession, values, field, message
):
    users = count(dbsession, User)
    page = registration_form(testapp, **values).submit("register")
    assert page.status_int == 200
    error = field_error(page, field)
    assert message in error, (field, error)
    assert count(dbsession, User) == users


@pytest.mark.parametrize(
    ("existing", "field", "message"),
    [
        ("uscc", "uscc", "该企业已注册"),
        ("login", "login", "该用户名已被使用"),
        ("email", "email", "该电子邮箱已注册"),
    ],
)
def test_duplicates_are_refused_by_the_service_and_nothing_is_half_saved(
    testapp, dbsession, existing, field, message
):
    if existing == "uscc":
        factories.EnterpriseFactory(uscc=factories.valid_uscc(7001))
    elif existing == "login":
        factories.UserFactory(login="ChenJL")  # names compare without case
    else:
        factories.UserFactory(email="CHEN@example.com")
    before = (count(dbsession, User), count(dbsession, Enterprise))

    page = registration_form(testapp).submit("register")

    assert page.status_int == 200
    assert message in field_error(page, field)
    assert page.forms["register"]["enterprise_name"].value == "江门市示例精密制造有限公司"
    assert (count(dbsession, User), count(dbsession, Enterprise)) == before
    # no user without an enterprise, no enterprise without its holder
    assert (
        dbsession.scalar(
            select(func.count())
            .select_from(User)
            .where(User.is_enterprise_admin.is_(True), User.enterprise_id.is_(None))
        )
        == 0
    )
    assert not signed_in(testapp)


# -- colleagues and isolation between enterprises --------------------------------------------------


def test_the_account_holder_adds_a_colleague_who_can_log_in(app, testapp, dbsession):
    enterprise = factories.EnterpriseFactory()
    holder = factories.enterprise_user(enterprise=enterprise, is_enterprise_admin=True)
    sign_in(testapp, holder.login)
    form = testapp.get("/account/enterprise").forms["colleague"]
    for name, value in {
        "display_name": "周会计",
        "login": "zhoukj",
        "email": "zhou@example.com",
        "password": factories.PASSWORD,
        "password_confirm": factories.PASSWORD,
    }.items():
        form.set(name, value, index=0)
    page = form.submit("add").follow()

    assert "周会计" in page.text
    colleague = dbsession.scalar(select(User).where(User.login == "zhoukj"))
    assert colleague.enterprise_id == enterprise.id
    assert not colleague.is_enterprise_admin
    other_device = browser(app, testapp)
    assert sign_in(other_device, "zhoukj").status_int == 303
    # a colleague cannot add further colleagues
    assert other_device.get("/account/enterprise", status=403)


def test_a_colleague_name_already_taken_is_refused_next_to_the_field(testapp, dbsession):
    holder = factories.enterprise_user(is_enterprise_admin=True)
    factories.UserFactory(login="taken")
    sign_in(testapp, holder.login)
    form = testapp.get("/account/enterprise").forms["colleague"]
    for name, value in {
        "display_name": "某人",
        "login": "taken",
        "password": factories.PASSWORD,
        "password_confirm": factories.PASSWORD,
    }.items():
        form.set(name, value, index=0)
    users = count(dbsession, User)
    page = form.submit("add")
    assert "该用户名已被使用" in field_error(page, "login")
    assert count(dbsession, User) == users


@pytest.mark.parametrize(
    "make",
    [
        lambda: factories.enterprise_user(is_enterprise_admin=False),
        lambda: factories.UserFactory(roles=[Role.STAFF]),
        lambda: factories.UserFactory(roles=[Role.ADMIN]),  # no enterprise to manage
    ],
    ids=["colleague", "staff", "admin"],
)
def test_only_an_enterprise_account_holder_manages_colleagues(testapp, dbsession, make):
    sign_in(testapp, make().login)
    page = testapp.get("/account/enterprise", status=403)
    assert "没有权限" in page.text


def test_anonymous_visitors_are_sent_to_log_in(testapp):
    for url in ("/account", "/account/password", "/account/enterprise"):
        assert "/login?next=" in testapp.get(url, status=303).location


def test_an_enterprise_sees_only_its_own_people(testapp, dbsession):
    mine, theirs = factories.EnterpriseFactory(), factories.EnterpriseFactory()
    holder = factories.enterprise_user(
        enterprise=mine, is_enterprise_admin=True, display_name="本企业管理人"
    )
    factories.enterprise_user(enterprise=mine, display_name="本企业同事")
    factories.enterprise_user(enterprise=theirs, display_name="别家企业员工", login="other-co")
    sign_in(testapp, holder.login)

    page = testapp.get("/account/enterprise")
    assert "本企业同事" in page.text
    assert "别家企业员工" not in page.text
    assert "other-co" not in page.text
    assert theirs.name not in page.text
    # parameters naming the other enterprise or user change nothing
    sneaky = testapp.get("/account/enterprise", params={"id": theirs.id, "enterprise": theirs.id})
    assert "别家企业员工" not in sneaky.text


def test_account_urls_name_no_object(app):
    """Profile, password and colleagues act on the signed-in user only: no id to change."""
    mapper = app.registry.getUtility(IRoutesMapper)
    for route in mapper.get_routes():
        if route.name.startswith("accounts."):
            assert "{" not in route.pattern, route.pattern
            assert route.factory is None, route.name


def test_a_profile_cannot_be_changed_for_someone_else(testapp, dbsession):
    me, victim = factories.UserFactory(), factories.UserFactory(display_name="受害人")
    sign_in(testapp, me.login)
    token = testapp.get("/account").forms["profile"]["csrf_token"].value
    # fields an attacker might add to name another user are ignored
    testapp.post(
        "/account",
        {
            "csrf_token": token,
            "display_name": "改过的名字",
            "email": "",
            "phone": "",
            "id": victim.id,
            "user_id": victim.id,
            "login": victim.login,
            "__formid__": "profile",
            "save": "save",
        },
    )
    assert me.display_name == "改过的名字"
    assert victim.display_name == "受害人"


def test_attachment_ids_are_unguessable(app, testapp, dbsession, clock, settings):
    from io import BytesIO

    from portal.content.files import LocalFileStorage
    from portal.content.services import ContentService

    content = ContentService(
        dbsession,
        clock,
        LocalFileStorage(settings["qzt.storage_dir"]),
        app.registry.notify,
        settings["qzt.upload.max_bytes"],
    )
    item = factories.ContentItemFactory()
    ids = {
        content.add_attachment(item, f"{n}.pdf", BytesIO(b"%PDF-1.4\n"), None).id for n in range(20)
    }
    assert len(ids) == 20
    assert all(len(i) == 32 and all(c in "0123456789abcdef" for c in i) for i in ids)
    assert len({i[:8] for i in ids}) == 20  # random, not a counter or a timestamp
    # a made-up or truncated id is simply not found
    testapp.get(f"/attachments/{'0' * 32}/1.pdf", status=404)
    testapp.get(f"/attachments/{next(iter(ids))[:31]}/1.pdf", status=404)


# -- profile and password ------------------------------------------------------------------------


def test_profile_edit_saves_name_email_and_phone(testapp, dbsession):
    user = factories.UserFactory()
    sign_in(testapp, user.login)
    form = testapp.get("/account").forms["profile"]
    form["display_name"] = "新名字"
    form["email"] = "new@example.com"
    form["phone"] = "+86 139 0000 0000"
    page = form.submit("save").follow()
    assert "新名字" in page.text
    assert (user.display_name, user.email, user.phone) == (
        "新名字",
        "new@example.com",
        "13900000000",
    )


def test_profile_refuses_an_address_someone_else_has(testapp, dbsession):
    factories.UserFactory(email="taken@example.com")
    user = factories.UserFactory(email="mine@example.com")
    sign_in(testapp, user.login)
    form = testapp.get("/account").forms["profile"]
    form["email"] = "Taken@Example.com"
    page = form.submit("save")
    assert "该电子邮箱已注册" in field_error(page, "email")
    assert user.email == "mine@example.com"


def password_form(client: webtest.TestApp, old: str, new: str) -> webtest.TestResponse:
    form = client.get("/account/password").forms["password"]
    form["old_password"] = old
    form["password"] = new
    form["password_confirm"] = new
    return form.submit("save")


def test_password_change_errors(testapp, dbsession):
    user = factories.enterprise_user()
    sign_in(testapp, user.login)
    before = user.password_hash
    wrong = password_form(testapp, "Not-The-Password-1", NEW_PASSWORD)
    assert "当前密码不正确" in field_error(wrong, "old_password")
    same = password_form(testapp, factories.PASSWORD, factories.PASSWORD)
    assert "新密码不能与当前密码相同" in field_error(same, "password")
    assert user.password_hash == before
    assert signed_in(testapp)


def test_password_change_keeps_this_session_and_ends_the_others(app, testapp, dbsession):
    user = factories.enterprise_user()
    sign_in(testapp, user.login)
    phone = browser(app, testapp)
    sign_in(phone, user.login)
    someone_else = browser(app, testapp)
    sign_in(someone_else, factories.UserFactory().login)

    response = password_form(testapp, factories.PASSWORD, NEW_PASSWORD)

    assert response.status_int == 303
    assert "密码已修改" in response.follow().text
    assert signed_in(testapp)
    assert not signed_in(phone)
    assert signed_in(someone_else)
    live = dbsession.scalars(select(WebSession).where(WebSession.user_id == user.id)).all()
    assert len(live) == 1
    # the new password works, the old one no longer does
    assert sign_in(browser(app, testapp), user.login, NEW_PASSWORD).status_int == 303
    assert sign_in(browser(app, testapp), user.login).status_int == 200
