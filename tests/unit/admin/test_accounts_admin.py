"""The administration side of AccountService: edits, self-protection, password reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portal.accounts.interfaces import AccountError
from portal.accounts.services import AccountService
from portal.roles import Role
from portal.sessions import WebSession
from tests import factories


@pytest.fixture
def accounts(dbsession: Any, settings: dict[str, Any], clock: Any) -> AccountService:
    return AccountService(dbsession, settings["qzt.password_hasher"], clock, settings)


@pytest.fixture
def admin(dbsession: Any) -> Any:
    return factories.UserFactory(roles=[Role.ADMIN])


def edit(user: Any, **kw: Any) -> dict[str, Any]:
    data = {
        "display_name": user.display_name,
        "email": user.email,
        "phone": user.phone,
        "is_active": user.is_active,
    }
    if user.enterprise_id is None:
        data.update(
            title=user.title,
            department_id=user.department_id,
            roles={r.value for r in user.roles},
        )
    return {**data, **kw}


def session_of(dbsession: Any, user: Any, clock: Any) -> WebSession:
    row = WebSession(
        id=f"s{user.id}", user_id=user.id, data={}, created_at=clock.now(), last_seen_at=clock.now()
    )
    dbsession.add(row)
    dbsession.flush()
    return row


def test_update_user_changes_roles_department_and_contact(accounts, admin, dbsession):
    dept = factories.DepartmentFactory()
    user = factories.UserFactory(roles=[Role.STAFF])
    accounts.update_user(
        user,
        edit(
            user,
            display_name=" 新名字 ",
            phone="138 0013 8000",
            roles={"head", "editor"},
            department_id=dept.id,
            title="局长",
        ),
        admin,
    )
    assert user.display_name == "新名字"
    assert user.phone == "13800138000"
    assert user.roles == {Role.HEAD, Role.EDITOR}
    assert (user.department_id, user.title) == (dept.id, "局长")


def test_an_email_of_another_account_is_refused(accounts, admin):
    factories.UserFactory(email="taken@example.com")
    user = factories.UserFactory(roles=[Role.STAFF])
    with pytest.raises(AccountError) as caught:
        accounts.update_user(user, edit(user, email="Taken@Example.com"), admin)
    assert caught.value.field == "email"
    accounts.update_user(user, edit(user), admin)  # its own address is fine


def test_disabling_ends_every_session(accounts, admin, dbsession, clock):
    user = factories.UserFactory(roles=[Role.STAFF])
    session_of(dbsession, user, clock)
    accounts.update_user(user, edit(user, is_active=False), admin)
    assert user.is_active is False
    assert dbsession.query(WebSession).filter_by(user_id=user.id).count() == 0


def test_an_admin_cannot_drop_their_own_admin_role(accounts, admin):
    with pytest.raises(AccountError) as caught:
        accounts.update_user(admin, edit(admin, roles={"editor"}), admin)
    assert caught.value.field == "roles"
    assert admin.roles == {Role.ADMIN}


def test_an_admin_cannot_disable_themselves(accounts, admin):
    with pytest.raises(AccountError) as caught:
        accounts.update_user(admin, edit(admin, is_active=False, display_name="x"), admin)
    assert caught.value.field == "is_active"
    assert admin.is_active
    assert admin.display_name != "x"


def test_another_admin_can_remove_an_admin_role(accounts, admin):
    other = factories.UserFactory(roles=[Role.ADMIN])
    accounts.update_user(other, edit(other, roles={"editor"}), admin)
    assert other.roles == {Role.EDITOR}


def test_enterprise_users_get_no_government_roles(accounts, admin):
    member = factories.enterprise_user()
    with pytest.raises(AccountError):
        accounts.update_user(member, {**edit(member), "roles": {"admin"}}, admin)
    assert member.roles == {Role.ENTERPRISE}
    accounts.update_user(member, edit(member, is_active=False), admin)
    assert member.is_active is False


def test_reset_password_follows_the_rule_of_the_users_roles(accounts, dbsession, clock):
    staff = factories.UserFactory(roles=[Role.STAFF])
    member = factories.enterprise_user()
    session_of(dbsession, staff, clock)
    with pytest.raises(AccountError) as caught:
        accounts.reset_password(staff, "Eleven-ch1")
    assert caught.value.mapping == {"n": 12}
    accounts.reset_password(member, "Eight-c1")  # 8 is enough for an enterprise user
    accounts.reset_password(staff, "Twelve-chars-1")
    assert accounts.hasher.verify(staff.password_hash, "Twelve-chars-1")
    assert dbsession.query(WebSession).filter_by(user_id=staff.id).count() == 0


def test_unlock_clears_the_lock(accounts, clock):
    user = factories.UserFactory(locked_until=clock.now() + timedelta(minutes=30), failed_logins=3)
    accounts.unlock(user)
    assert user.locked_until is None
    assert user.failed_logins == 0
