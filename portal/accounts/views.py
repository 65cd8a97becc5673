"""Login, logout, registration, profile, password change, enterprise colleagues."""

from __future__ import annotations

from typing import Any

import deform
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.security import forget, remember
from pyramid.view import view_config

from forms import FormView
from forms.accounts import (
    ColleagueSchema,
    LoginSchema,
    PasswordSchema,
    ProfileSchema,
    RegisterSchema,
)
from portal.accounts.interfaces import AccountError, IAccountService
from portal.accounts.models import User
from portal.i18n import N_
from portal.permissions import Permission as Perm
from portal.roles import Role
from portal.security import is_local_path


def safe_next(request: Request, default: str = "/") -> str:
    """Only same-site paths: ``next`` must not turn login into an open redirect."""
    target = request.params.get("next", "")
    return target if is_local_path(target) else default


def landing_page(request: Request, user: User) -> str:
    roles = user.roles
    if Role.ADMIN in roles:
        return request.route_url("admin.home")
    if roles & {Role.EDITOR, Role.REVIEWER, Role.SUPERVISOR}:
        return request.route_url("manage.dashboard")
    return request.route_url("home")


@view_config(
    route_name="accounts.login",
    renderer="portal:templates/accounts/login.jinja2",
    permission=Perm.VIEW,
)
class LoginView(FormView):
    schema_class = LoginSchema
    # Not "login": a button named like the user-name field would send a second
    # ``login`` value, and peppercorn keeps the last one (the button's caption).
    buttons = (("submit", N_("Log in")),)
    success_message = None
    form_id = "login"

    def __call__(self) -> Any:
        if self.request.user is not None and self.request.method == "GET":
            return HTTPSeeOther(safe_next(self.request))
        form = self.make_form()
        if self.request.method != "POST":
            return self.render(form, {})
        try:
            data = form.validate(self.request.POST.items())
        except deform.ValidationFailure as failure:
            return self.render(failure.field)
        accounts = self.request.find_service(IAccountService)
        try:
            user = accounts.authenticate(data["login"], data["password"])
        except AccountError as error:
            # No savepoint rollback here: the failure count must be committed.
            return self.render(self.attach_error(form, error))
        remember(self.request, user.id)
        return HTTPSeeOther(safe_next(self.request, landing_page(self.request, user)))


@view_config(route_name="accounts.logout", request_method="POST", permission=Perm.VIEW)
def logout(request: Request) -> HTTPSeeOther:
    forget(request)
    return HTTPSeeOther(request.route_url("home"))


@view_config(
    route_name="accounts.logout",
    request_method="GET",
    renderer="portal:templates/accounts/logout.jinja2",
    permission=Perm.VIEW,
)
def logout_confirm(request: Request) -> dict[str, Any]:
    """A GET never logs out (a link or image could trigger it); it shows a button."""
    return {}


@view_config(
    route_name="accounts.register",
    renderer="portal:templates/accounts/register.jinja2",
    permission=Perm.VIEW,
)
class RegisterView(FormView):
    schema_class = RegisterSchema
    buttons = (("register", N_("Register")),)
    success_message = N_("Welcome! Your enterprise account is ready.")
    form_id = "register"

    def schema_bindings(self) -> dict[str, Any]:
        accounts = self.request.find_service(IAccountService)
        return {
            **super().schema_bindings(),
            "min_password_length": accounts.min_password_length({Role.ENTERPRISE}),
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        user = self.request.find_service(IAccountService).register_enterprise(appstruct)
        remember(self.request, user.id)
        return self.request.route_url("accounts.profile")


@view_config(
    route_name="accounts.profile",
    renderer="portal:templates/accounts/profile.jinja2",
    permission=Perm.ACCOUNT_SELF,
)
class ProfileView(FormView):
    schema_class = ProfileSchema
    form_id = "profile"

    def appstruct(self) -> dict[str, Any]:
        user = self.request.user
        return {"display_name": user.display_name, "email": user.email or "", "phone": user.phone}

    def save(self, appstruct: dict[str, Any]) -> str:
        accounts = self.request.find_service(IAccountService)
        accounts.update_profile(self.request.user, appstruct)
        return self.request.route_url("accounts.profile")

    def extra(self) -> dict[str, Any]:
        return {"user": self.request.user}


@view_config(
    route_name="accounts.password",
    renderer="portal:templates/accounts/password.jinja2",
    permission=Perm.ACCOUNT_SELF,
)
class PasswordView(FormView):
    schema_class = PasswordSchema
    success_message = N_("Your password was changed.")
    form_id = "password"

    def schema_bindings(self) -> dict[str, Any]:
        accounts = self.request.find_service(IAccountService)
        return {
            **super().schema_bindings(),
            "min_password_length": accounts.min_password_length(self.request.user),
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        user = self.request.user
        self.request.find_service(IAccountService).change_password(
            user, appstruct["old_password"], appstruct["password"]
        )
        # Changing the password ended every session, this one included: start a new one.
        remember(self.request, user.id)
        return self.request.route_url("accounts.profile")


@view_config(
    route_name="accounts.enterprise",
    renderer="portal:templates/accounts/enterprise.jinja2",
    permission=Perm.ACCOUNT_SELF,
)
class EnterpriseColleaguesView(FormView):
    """The enterprise's account holder adds colleagues who act for the same enterprise."""

    schema_class = ColleagueSchema
    buttons = (("add", N_("Add colleague")),)
    success_message = N_("The colleague can now log in.")
    form_id = "colleague"

    def __call__(self) -> Any:
        user = self.request.user
        if user.enterprise is None or not user.is_enterprise_admin:
            from pyramid.httpexceptions import HTTPForbidden

            raise HTTPForbidden()
        return super().__call__()

    def schema_bindings(self) -> dict[str, Any]:
        accounts = self.request.find_service(IAccountService)
        return {
            **super().schema_bindings(),
            "min_password_length": accounts.min_password_length({Role.ENTERPRISE}),
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        self.request.find_service(IAccountService).add_colleague(
            self.request.user.enterprise, appstruct
        )
        return self.request.route_url("accounts.enterprise")

    def extra(self) -> dict[str, Any]:
        return {"enterprise": self.request.user.enterprise}
