"""The security policy: identity -> principals -> ACL, remember/forget, CSRF, safe redirects."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.authorization import Authenticated, Everyone
from pyramid.interfaces import IDefaultCSRFOptions, ISecurityPolicy
from pyramid.request import Request, apply_request_extensions
from pyramid.security import forget, remember

from portal.permissions import Permission as Perm
from portal.roles import Role
from portal.routes import Root
from portal.security import SecurityPolicy, is_local_path
from tests import factories


def request_as(app: Any, user: Any) -> Request:
    request = Request.blank("/")
    request.registry = app.registry
    apply_request_extensions(request)
    request.user = user  # what the session would have found
    return request


@pytest.mark.parametrize(
    "target",
    ["/", "/account", "/content/12?from=home#top", "/policies?q=%E6%94%BF%E7%AD%96", "/a//b"],
)
def test_local_paths_are_allowed(target):
    assert is_local_path(target)


@pytest.mark.parametrize(
    "target",
    [
        "",
        "//evil.com",
        "///evil.com",
        "https://evil.com",
        "http:/evil.com",
        "javascript:alert(1)",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",  # browsers drop tabs and newlines: this is //evil.com
        "/\n/evil.com",
        " //evil.com",
        "evil.com",
        "account",
        "/政策",  # raw non-ASCII cannot go into a Location header
    ],
)
def test_anything_a_browser_could_read_as_another_site_is_refused(target):
    assert not is_local_path(target)


def test_policy_is_installed_with_csrf_on_every_unsafe_method(app):
    assert isinstance(app.registry.queryUtility(ISecurityPolicy), SecurityPolicy)
    options = app.registry.queryUtility(IDefaultCSRFOptions)
    assert options.require_csrf is True
    assert "POST" not in options.safe_methods


def test_anonymous_is_everyone_only(app):
    request = request_as(app, None)
    policy = SecurityPolicy()
    assert policy.effective_principals(request) == [Everyone]
    assert request.authenticated_userid is None
    assert request.has_permission(Perm.VIEW, Root(request))
    assert not request.has_permission(Perm.ACCOUNT_SELF, Root(request))


def test_a_department_editor_carries_scoped_principals(app, dbsession):
    dept = factories.DepartmentFactory()
    user = factories.UserFactory(roles=[Role.EDITOR, Role.STAFF], department=dept)
    principals = SecurityPolicy().effective_principals(request_as(app, user))
    assert principals[:3] == [Everyone, Authenticated, f"user:{user.id}"]
    assert set(principals[3:]) == {
        "role:editor",
        f"role:editor@dept:{dept.id}",
        "role:staff",
        f"role:staff@dept:{dept.id}",
        f"dept:{dept.id}",
        f"author:{user.id}",
    }


def test_author_rights_last_only_while_the_user_writes_content(app, dbsession):
    user = factories.UserFactory(roles=[Role.REVIEWER])
    assert f"author:{user.id}" in user.principals
    user.set_roles({Role.STAFF})  # moved to other work
    assert f"author:{user.id}" not in user.principals


def test_portal_office_editor_is_scoped_to_all(app, dbsession):
    user = factories.UserFactory(roles=[Role.EDITOR])
    principals = SecurityPolicy().effective_principals(request_as(app, user))
    assert "role:editor@all" in principals
    assert not any(p.startswith("dept:") for p in principals)


def test_enterprise_holder_and_colleague_differ_by_one_principal(app, dbsession):
    enterprise = factories.EnterpriseFactory()
    holder = factories.enterprise_user(enterprise=enterprise, is_enterprise_admin=True)
    colleague = factories.enterprise_user(enterprise=enterprise)
    extra = set(holder.principals) - set(colleague.principals)
    assert extra == {f"user:{holder.id}", f"enterprise-admin:{enterprise.id}"}
    assert f"enterprise:{enterprise.id}" in colleague.principals


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ENTERPRISE, {Perm.VIEW, Perm.ACCOUNT_SELF}),
        (Role.STAFF, {Perm.VIEW, Perm.ACCOUNT_SELF}),
        (Role.LEADER, {Perm.VIEW, Perm.ACCOUNT_SELF}),
        (Role.EDITOR, {Perm.VIEW, Perm.ACCOUNT_SELF, Perm.CONTENT_CREATE, Perm.CONTENT_DASHBOARD}),
        (
            Role.REVIEWER,
            {Perm.VIEW, Perm.ACCOUNT_SELF, Perm.CONTENT_CREATE, Perm.CONTENT_DASHBOARD},
        ),
        (
            Role.SUPERVISOR,
            {Perm.VIEW, Perm.ACCOUNT_SELF, Perm.CONTENT_DASHBOARD, Perm.OVERSIGHT_READ},
        ),
        (Role.ADMIN, set(Perm)),
    ],
)
def test_site_wide_permissions_per_role(app, dbsession, role, allowed):
    request = request_as(app, factories.UserFactory(roles=[role]))
    granted = {p for p in Perm if request.has_permission(p, Root(request))}
    assert granted == allowed


def test_a_user_may_edit_only_their_own_account_object(app, dbsession):
    me, other = factories.UserFactory(), factories.UserFactory()
    request = request_as(app, me)
    assert request.has_permission(Perm.ACCOUNT_SELF, me)
    assert not request.has_permission(Perm.ACCOUNT_SELF, other)
    assert request_as(app, factories.UserFactory(roles=[Role.ADMIN])).has_permission(
        Perm.ADMIN_USERS, other
    )


def test_remember_starts_a_new_session_id_and_csrf_token(app, dbsession):
    request = request_as(app, None)
    request.dbsession = dbsession
    session = request.session
    session["keep"] = "me"
    old_token = session.get_csrf_token()

    assert remember(request, 42) == []

    assert session["uid"] == 42
    assert session["keep"] == "me"
    assert session.get_csrf_token() != old_token
    assert session.row is None  # a fresh row (and id) is written at the end of the request
    assert forget(request) == []
    assert dict(session) == {}
    assert session.invalidated
