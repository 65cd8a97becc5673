"""AccountService: login throttling, registration, password and account changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from zope.interface.verify import verifyClass, verifyObject

from portal.accounts.interfaces import AccountError, IAccountService
from portal.accounts.models import Enterprise, User
from portal.accounts.passwords import Argon2PasswordHasher
from portal.accounts.services import AccountService
from portal.roles import Role
from portal.sessions import WebSession
from tests import factories
from tests.timeline import now

NEW_PASSWORD = "Another-Horse-77"


@pytest.fixture
def accounts(dbsession, clock, settings) -> AccountService:
    return AccountService(dbsession, settings["qzt.password_hasher"], clock, settings)


def registration(**overrides: Any) -> dict[str, Any]:
    data = {
        "enterprise_name": "江门市蓬江区示例科技有限公司",
        "uscc": factories.valid_uscc(9001),
        "industry": "C",
        "contact_phone": "0750-3500000",
        "address": "江门市蓬江区建设路1号",
        "display_name": "李四",
        "login": "lisi",
        "email": "lisi@example.com",
        "password": factories.PASSWORD,
    }
    return {**data, **overrides}


def session_row(dbsession, user: User, token: str) -> WebSession:
    row = WebSession(
        id=token, user_id=user.id, data={"uid": user.id}, created_at=now(), last_seen_at=now()
    )
    dbsession.add(row)
    dbsession.flush()
    return row


def count(dbsession, model: Any) -> int:
    return int(dbsession.scalar(select(func.count()).select_from(model)))


def test_conforms_to_its_interface(accounts):
    assert verifyClass(IAccountService, AccountService)
    assert verifyObject(IAccountService, accounts)


# -- login --------------------------------------------------------------------------------


def test_login_by_name_or_email_in_any_case(accounts, dbsession):
    user = factories.UserFactory(login="Wang.Wu", email="wangwu@example.com")
    assert accounts.authenticate(" wang.wu ", factories.PASSWORD) is user
    assert accounts.authenticate("WANGWU@example.com", factories.PASSWORD) is user


def test_unknown_user_and_wrong_password_give_the_same_answer(accounts, dbsession):
    user = factories.UserFactory()
    with pytest.raises(AccountError) as unknown:
        accounts.authenticate("nobody-here", factories.PASSWORD)
    with pytest.raises(AccountError) as wrong:
        accounts.authenticate(user.login, "Wrong-Password-1")
    assert (unknown.value.field, unknown.value.message) == (wrong.value.field, wrong.value.message)


def test_five_failures_lock_the_account_for_thirty_minutes(accounts, dbsession, clock):
    user = factories.UserFactory()
    for _ in range(4):
        with pytest.raises(AccountError, match="wrong"):
            accounts.authenticate(user.login, "Wrong-Password-1")
    assert user.locked_until is None
    with pytest.raises(AccountError, match="wrong"):
        accounts.authenticate(user.login, "Wrong-Password-1")
    assert user.locked_until == clock.now() + timedelta(minutes=30)

    # the right password during the lock is refused too, with the lock's message
    clock.advance(minutes=29)
    with pytest.raises(AccountError, match="locked") as locked:
        accounts.authenticate(user.login, factories.PASSWORD)
    assert locked.value.mapping == {"minutes": 30}

    clock.advance(minutes=2)
    assert accounts.authenticate(user.login, factories.PASSWORD) is user
    assert user.failed_logins == 0
    assert user.locked_until is None


def test_a_success_resets_the_failure_count(accounts, dbsession):
    user = factories.UserFactory()
    for _ in range(4):
        with pytest.raises(AccountError):
            accounts.authenticate(user.login, "Wrong-Password-1")
    accounts.authenticate(user.login, factories.PASSWORD)
    with pytest.raises(AccountError):
        accounts.authenticate(user.login, "Wrong-Password-1")
    assert user.failed_logins == 1
    assert user.locked_until is None


def test_a_disabled_account_cannot_log_in(accounts, dbsession):
    user = factories.UserFactory(is_active=False)
    with pytest.raises(AccountError, match="wrong"):
        accounts.authenticate(user.login, factories.PASSWORD)


def test_login_rehashes_when_the_hash_parameters_changed(accounts, dbsession):
    old = Argon2PasswordHasher(time_cost=2, memory_cost=64, parallelism=1)
    user = factories.UserFactory(password_hash=old.hash(factories.PASSWORD))
    before = user.password_hash

    accounts.authenticate(user.login, factories.PASSWORD)

    assert user.password_hash != before
    assert not accounts.hasher.needs_rehash(user.password_hash)
    assert accounts.hasher.verify(user.password_hash, factories.PASSWORD)


def test_login_keeps_a_current_hash(accounts, dbsession):
    user = factories.UserFactory()
    before = user.password_hash
    accounts.authenticate(user.login, factories.PASSWORD)
    assert user.password_hash == before


# -- registration -----------------------------------------------------------------------------


def test_register_enterprise_creates_holder_and_enterprise(accounts, dbsession):
    user = accounts.register_enterprise(
        registration(uscc=" " + factories.valid_uscc(9001).lower(), contact_phone="+86 13800138000")
    )
    assert user.id is not None
    assert user.is_enterprise_admin
    assert user.roles == {Role.ENTERPRISE}
    assert user.enterprise.uscc == factories.valid_uscc(9001)  # stored normalised
    assert user.enterprise.contact_phone == "13800138000"
    assert user.enterprise.contact_person == "李四"
    assert accounts.hasher.verify(user.password_hash, factories.PASSWORD)


@pytest.mark.parametrize(
    ("existing", "overrides", "field"),
    [
        ({"uscc": factories.valid_uscc(9001)}, {}, "uscc"),
        ({"login": "LiSi"}, {}, "login"),
        ({"email": "LISI@example.com"}, {}, "email"),
        # an address that is somebody's user name would make one of them unreachable
        ({"login": "li.si@example.com"}, {"email": "li.si@example.com"}, "email"),
        ({}, {"password": "short"}, "password"),
    ],
)
def test_register_refuses_duplicates_and_saves_nothing(
    accounts, dbsession, existing, overrides, field
):
    if "uscc" in existing:
        factories.EnterpriseFactory(**existing)
    elif existing:
        factories.UserFactory(**existing)
    users, enterprises = count(dbsession, User), count(dbsession, Enterprise)

    with pytest.raises(AccountError) as error:
        accounts.register_enterprise(registration(**overrides))

    assert error.value.field == field
    assert (count(dbsession, User), count(dbsession, Enterprise)) == (users, enterprises)


def test_colleague_joins_the_same_enterprise_without_holding_it(accounts, dbsession):
    holder = accounts.register_enterprise(registration())
    colleague = accounts.add_colleague(
        holder.enterprise,
        {"display_name": "王五", "login": "wangwu", "email": None, "password": factories.PASSWORD},
    )
    assert colleague.enterprise is holder.enterprise
    assert not colleague.is_enterprise_admin
    assert colleague.roles == {Role.ENTERPRISE}


def test_staff_passwords_are_longer(accounts):
    assert accounts.min_password_length({Role.ENTERPRISE}) == 8
    assert accounts.min_password_length({Role.EDITOR}) == 12
    assert accounts.min_password_length({Role.ENTERPRISE, Role.STAFF}) == 12


def test_government_user_is_held_to_the_staff_rule(accounts, dbsession):
    with pytest.raises(AccountError) as error:
        accounts.create_user(
            {
                "display_name": "赵六",
                "login": "zhaoliu",
                "password": "Short-Pass1",
                "roles": [Role.EDITOR.value],
            }
        )
    assert error.value.field == "password"
    assert error.value.mapping == {"n": 12}


# -- profile and password ------------------------------------------------------------------------


def test_profile_update_normalises_and_checks_the_address(accounts, dbsession):
    user = factories.UserFactory(email="me@example.com")
    factories.UserFactory(email="taken@example.com")
    with pytest.raises(AccountError) as error:
        accounts.update_profile(user, {"display_name": "新名字", "email": "TAKEN@example.com"})
    assert error.value.field == "email"

    accounts.update_profile(
        user, {"display_name": " 新名字 ", "email": "ME@example.com", "phone": "+86 13800138000"}
    )
    assert (user.display_name, user.email, user.phone) == (
        "新名字",
        "ME@example.com",
        "13800138000",
    )


def test_change_password_checks_the_old_one_and_needs_a_new_one(accounts, dbsession):
    user = factories.UserFactory(roles=[Role.ENTERPRISE])
    with pytest.raises(AccountError) as wrong:
        accounts.change_password(user, "Not-My-Password-1", NEW_PASSWORD)
    assert wrong.value.field == "old_password"
    with pytest.raises(AccountError) as same:
        accounts.change_password(user, factories.PASSWORD, factories.PASSWORD)
    assert same.value.field == "password"
    assert "differ" in same.value.message
    with pytest.raises(AccountError) as weak:
        accounts.change_password(user, factories.PASSWORD, "weak")
    assert weak.value.field == "password"


def test_change_password_ends_every_session_of_that_user_only(accounts, dbsession, clock):
    user, other = factories.UserFactory(), factories.UserFactory()
    session_row(dbsession, user, "a" * 64)
    session_row(dbsession, user, "b" * 64)
    kept = session_row(dbsession, other, "c" * 64)
    clock.advance(minutes=5)

    accounts.change_password(user, factories.PASSWORD, NEW_PASSWORD)

    assert accounts.hasher.verify(user.password_hash, NEW_PASSWORD)
    assert user.password_changed_at == clock.now()
    assert dbsession.scalars(select(WebSession.id)).all() == [kept.id]


def test_disabling_ends_sessions_enabling_does_not_resurrect(accounts, dbsession):
    user = factories.UserFactory()
    session_row(dbsession, user, "d" * 64)
    accounts.set_active(user, False)
    assert not user.is_active
    assert dbsession.scalars(select(WebSession).where(WebSession.user_id == user.id)).all() == []
    accounts.set_active(user, True)
    assert user.is_active


def test_unlock_clears_a_lock(accounts, dbsession):
    user = factories.UserFactory()
    for _ in range(5):
        with pytest.raises(AccountError):
            accounts.authenticate(user.login, "Wrong-Password-1")
    accounts.unlock(user)
    assert accounts.authenticate(user.login, factories.PASSWORD) is user
