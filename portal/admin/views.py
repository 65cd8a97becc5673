"""Administration screens: users, departments, leaders (分管), friendly links.

Lists read through :mod:`portal.admin.queries`; forms write through a service
(``IAccountService``, ``IDirectoryAdmin``, ``ILinkAdmin``) inside the savepoint of
:class:`forms.FormView`, so a refused form changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import colander
from markupsafe import Markup
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.security import remember
from pyramid.view import view_config

from forms import FormView
from forms.admin import (
    ROLE_LABELS,
    DepartmentSchema,
    LeaderSchema,
    LinkSchema,
    PasswordResetSchema,
    UserAddSchema,
    UserEditSchema,
)
from portal.accounts.interfaces import IAccountService
from portal.accounts.models import User
from portal.admin import queries
from portal.admin.services import IDirectoryAdmin, ILinkAdmin, Move
from portal.clock import IClock
from portal.departments.models import Department, Leader
from portal.i18n import N_, _
from portal.links.models import FriendLink
from portal.permissions import Permission as Perm
from portal.roles import Role

FORM_PAGE = "portal:templates/admin/form.jinja2"


def _tpl(name: str) -> str:
    return f"portal:templates/admin/{name}.jinja2"


def _int_param(request: Request, name: str) -> int | None:
    raw = request.params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def flash(request: Request, msgid: str, queue: str = "success", **mapping: Any) -> None:
    """Flash a message with values in it, translated now: the session keeps plain text."""
    request.session.flash(get_localizer(request).translate(_(msgid, mapping=mapping)), queue)


def _directory(request: Request) -> Any:
    return request.find_service(IDirectoryAdmin)


def _accounts(request: Request) -> Any:
    return request.find_service(IAccountService)


def _or_null(value: Any) -> Any:
    """deform renders ``None`` as the text "None"; an empty field is ``colander.null``."""
    return colander.null if value is None else value


class AdminForm(FormView):
    """An add/edit form on the shared admin form page."""

    heading: ClassVar[str]
    #: the list this form belongs to: its route and its name in the breadcrumb
    back_route: ClassVar[str]
    section: ClassVar[str]

    def extra(self) -> dict[str, Any]:
        return {
            "heading": self.heading,
            "section": self.section,
            "subject": self.subject(),
            "back": self.request.route_url(self.back_route),
        }

    def subject(self) -> str:
        """What is being edited, shown after the heading."""
        return ""


@view_config(route_name="admin.home", renderer=_tpl("home"), permission=Perm.ADMIN_USERS)
def admin_home(request: Request) -> dict[str, Any]:
    return {}


# -- users --------------------------------------------------------------------------
def parse_user_filter(request: Request) -> queries.UserFilter:
    role = request.params.get("role", "")
    return queries.UserFilter(
        q=request.params.get("q", "").strip()[:50],
        role=Role(role) if role in {r.value for r in Role} else None,
        department_id=_int_param(request, "department"),
    )


@view_config(route_name="admin.users", renderer=_tpl("users"), permission=Perm.ADMIN_USERS)
def users(request: Request) -> dict[str, Any]:
    flt = parse_user_filter(request)
    size = request.registry.settings["qzt.page_size"]
    page = queries.users(request.dbsession, flt, _int_param(request, "page") or 1, size)
    return {
        "page": page,
        "filter": flt,
        "departments": _directory(request).department_choices(),
        "role_labels": ROLE_LABELS,
        "now": request.find_service(IClock).now(),
    }


@view_config(route_name="admin.user_add", renderer=FORM_PAGE, permission=Perm.ADMIN_USERS)
class UserAddView(AdminForm):
    schema_class = UserAddSchema
    buttons = (("create", N_("Create account")),)
    success_message = N_("The account was created; the person can log in now.")
    form_id = "user"
    heading = N_("Add a government user")
    back_route = "admin.users"
    section = N_("Users")

    def schema_bindings(self) -> dict[str, Any]:
        return {
            **super().schema_bindings(),
            "departments": _directory(self.request).department_choices(active_only=True),
            "min_password_length": _accounts(self.request).min_password_length({Role.STAFF}),
        }

    def appstruct(self) -> dict[str, Any]:
        return {"roles": {Role.STAFF.value}}

    def save(self, appstruct: dict[str, Any]) -> str:
        user = _accounts(self.request).create_user(appstruct)
        return self.request.route_url("admin.user_edit", id=user.id)


class UserPage(AdminForm):
    """The user page holds two forms (details, new password) and an unlock button.

    A POST is handled by the view registered for its ``__formid__``; the page then
    shows that form (with its errors) next to fresh copies of the others.
    """

    context: User
    heading = N_("Edit user")
    back_route = "admin.users"
    section = N_("Users")

    def subject(self) -> str:
        return f"{self.context.display_name} ({self.context.login})"

    def extra(self) -> dict[str, Any]:
        user = self.context
        now = self.request.find_service(IClock).now()
        return {
            **super().extra(),
            "account": user,
            "locked": user.locked_until is not None and user.locked_until > now,
            "role_labels": ROLE_LABELS,
            "is_self": user.id == self.request.user.id,
        }

    def render(self, form: Any, appstruct: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().render(form, appstruct)
        forms = {self.form_id: result.pop("form")}
        for cls in (UserEditView, UserPasswordView):
            if cls.form_id not in forms:
                other = cls(self.context, self.request)
                html = other.make_form().render(other.appstruct())
                # deform's templates escape every value they interpolate.
                forms[cls.form_id] = Markup(html)  # noqa: S704
        result["forms"] = forms
        return result

    def edit_url(self) -> str:
        return self.request.route_url("admin.user_edit", id=self.context.id)


@view_config(route_name="admin.user_edit", renderer=_tpl("user_edit"), permission=Perm.ADMIN_USERS)
class UserEditView(UserPage):
    schema_class = UserEditSchema
    form_id = "user"

    def schema_bindings(self) -> dict[str, Any]:
        return {
            **super().schema_bindings(),
            "departments": _directory(self.request).department_choices(),
        }

    def appstruct(self) -> dict[str, Any]:
        user = self.context
        data: dict[str, Any] = {
            "display_name": user.display_name,
            "email": _or_null(user.email),
            "phone": user.phone,
            "is_active": user.is_active,
        }
        if user.enterprise_id is None:
            data.update(
                title=user.title,
                department_id=_or_null(user.department_id),
                roles={r.value for r in user.roles},
            )
        return data

    def save(self, appstruct: dict[str, Any]) -> str:
        was_active = self.context.is_active
        _accounts(self.request).update_user(self.context, appstruct, self.request.user)
        if was_active and not self.context.is_active:
            flash(self.request, N_("The account is disabled; its sessions have ended."))
        return self.edit_url()


@view_config(
    route_name="admin.user_edit",
    request_method="POST",
    request_param="__formid__=password",
    renderer=_tpl("user_edit"),
    permission=Perm.ADMIN_USERS,
)
class UserPasswordView(UserPage):
    schema_class = PasswordResetSchema
    form_id = "password"
    buttons = (("set_password", N_("Set password")),)
    success_message = N_("The new password is set; the user's sessions have ended.")

    def schema_bindings(self) -> dict[str, Any]:
        return {
            **super().schema_bindings(),
            "min_password_length": _accounts(self.request).min_password_length(self.context),
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        _accounts(self.request).reset_password(self.context, appstruct["password"])
        if self.context.id == self.request.user.id:
            # A new password ended every session, this one too: start a new one.
            remember(self.request, self.context.id)
        return self.edit_url()


@view_config(
    route_name="admin.user_edit",
    request_method="POST",
    request_param="__formid__=unlock",
    permission=Perm.ADMIN_USERS,
)
def unlock_user(context: User, request: Request) -> HTTPSeeOther:
    _accounts(request).unlock(context)
    flash(request, N_("The account is unlocked."))
    return HTTPSeeOther(request.route_url("admin.user_edit", id=context.id))


# -- departments --------------------------------------------------------------------
@view_config(
    route_name="admin.departments", renderer=_tpl("departments"), permission=Perm.ADMIN_DEPARTMENTS
)
def departments(request: Request) -> dict[str, Any]:
    return {"groups": queries.departments(request.dbsession)}


class DepartmentForm(AdminForm):
    schema_class = DepartmentSchema
    form_id = "department"
    back_route = "admin.departments"
    section = N_("Departments")


@view_config(
    route_name="admin.department_add", renderer=FORM_PAGE, permission=Perm.ADMIN_DEPARTMENTS
)
class DepartmentAddView(DepartmentForm):
    heading = N_("Add a department")

    def appstruct(self) -> dict[str, Any]:
        return {"is_active": True, "sort_order": 0}

    def save(self, appstruct: dict[str, Any]) -> str:
        _directory(self.request).add_department(appstruct)
        return self.request.route_url("admin.departments")


@view_config(
    route_name="admin.department_edit", renderer=FORM_PAGE, permission=Perm.ADMIN_DEPARTMENTS
)
class DepartmentEditView(DepartmentForm):
    context: Department
    heading = N_("Edit department")

    def subject(self) -> str:
        return self.context.name

    def appstruct(self) -> dict[str, Any]:
        d = self.context
        fields = ("code", "name", "short_name", "category", "responsibilities", "address")
        return {
            **{name: getattr(d, name) for name in fields},
            "phone": d.phone,
            "sort_order": d.sort_order,
            "is_active": d.is_active,
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        _directory(self.request).update_department(self.context, appstruct)
        return self.request.route_url("admin.departments")


# -- leaders ------------------------------------------------------------------------
@view_config(route_name="admin.leaders", renderer=_tpl("leaders"), permission=Perm.ADMIN_LEADERS)
def leaders(request: Request) -> dict[str, Any]:
    found = queries.leaders(request.dbsession)
    accounts = queries.accounts_by_id(request.dbsession, {x.user_id for x in found if x.user_id})
    return {"leaders": found, "accounts": accounts}


class LeaderForm(AdminForm):
    schema_class = LeaderSchema
    form_id = "leader"
    back_route = "admin.leaders"
    section = N_("Leaders")
    # The message depends on what moved, so save() flashes it.
    success_message = None

    def schema_bindings(self) -> dict[str, Any]:
        return {
            **super().schema_bindings(),
            "departments": self.department_choices(),
            "leader_accounts": _directory(self.request).leader_accounts(),
        }

    def department_choices(self) -> list[tuple[int, str]]:
        """Each department labelled with its current supervisor, so a move is no surprise."""
        own = getattr(self.context, "id", None)
        localizer = get_localizer(self.request)
        choices = []
        for department in queries.supervision(self.request.dbsession):
            others = "、".join(x.name for x in department.leaders if x.id != own)
            label = department.name
            if others:
                label = localizer.translate(
                    _(
                        "${department} (now supervised by ${leaders})",
                        mapping={"department": department.name, "leaders": others},
                    )
                )
            choices.append((department.id, label))
        return choices

    def announce(self, moves: list[Move]) -> str:
        flash(self.request, N_("Saved."))
        for move in moves:
            flash(
                self.request,
                N_("${department} moved from ${previous} to ${leader}."),
                "",
                department=move.department,
                previous=move.previous,
                leader=move.leader,
            )
        return self.request.route_url("admin.leaders")


@view_config(route_name="admin.leader_add", renderer=FORM_PAGE, permission=Perm.ADMIN_LEADERS)
class LeaderAddView(LeaderForm):
    heading = N_("Add a leader")

    def appstruct(self) -> dict[str, Any]:
        return {"title": "副市长", "sort_order": 0}

    def save(self, appstruct: dict[str, Any]) -> str:
        _leader, moves = _directory(self.request).add_leader(appstruct)
        return self.announce(moves)


@view_config(route_name="admin.leader_edit", renderer=FORM_PAGE, permission=Perm.ADMIN_LEADERS)
class LeaderEditView(LeaderForm):
    context: Leader
    heading = N_("Edit leader")

    def subject(self) -> str:
        return self.context.name

    def appstruct(self) -> dict[str, Any]:
        x = self.context
        return {
            "name": x.name,
            "title": x.title,
            "is_mayor": x.is_mayor,
            "email": x.email,
            "portfolio": x.portfolio,
            "user_id": _or_null(x.user_id),
            "sort_order": x.sort_order,
            "departments": {str(d.id) for d in x.departments},
        }

    def save(self, appstruct: dict[str, Any]) -> str:
        return self.announce(_directory(self.request).update_leader(self.context, appstruct))


# -- links --------------------------------------------------------------------------
@view_config(route_name="admin.links", renderer=_tpl("links"), permission=Perm.ADMIN_LINKS)
def links(request: Request) -> dict[str, Any]:
    return {"links": queries.links(request.dbsession)}


class LinkForm(AdminForm):
    schema_class = LinkSchema
    form_id = "link"
    back_route = "admin.links"
    section = N_("Links")

    def links(self) -> Any:
        return self.request.find_service(ILinkAdmin)


@view_config(route_name="admin.link_add", renderer=FORM_PAGE, permission=Perm.ADMIN_LINKS)
class LinkAddView(LinkForm):
    heading = N_("Add a link")

    def appstruct(self) -> dict[str, Any]:
        return {"url": "https://", "sort_order": 0}

    def save(self, appstruct: dict[str, Any]) -> str:
        self.links().add_link(appstruct)
        return self.request.route_url("admin.links")


@view_config(route_name="admin.link_edit", renderer=FORM_PAGE, permission=Perm.ADMIN_LINKS)
class LinkEditView(LinkForm):
    context: FriendLink
    heading = N_("Edit link")

    def subject(self) -> str:
        return self.context.title

    def appstruct(self) -> dict[str, Any]:
        link = self.context
        return {"title": link.title, "url": link.url, "sort_order": link.sort_order}

    def save(self, appstruct: dict[str, Any]) -> str:
        self.links().update_link(self.context, appstruct)
        return self.request.route_url("admin.links")


@view_config(
    route_name="admin.link_delete",
    request_method="GET",
    renderer=_tpl("link_delete"),
    permission=Perm.ADMIN_LINKS,
)
def link_delete_confirm(context: FriendLink, request: Request) -> dict[str, Any]:
    """A GET never deletes: it asks, with a POST button."""
    return {"link": context}


@view_config(route_name="admin.link_delete", request_method="POST", permission=Perm.ADMIN_LINKS)
def link_delete(context: FriendLink, request: Request) -> HTTPSeeOther:
    title = context.title
    request.find_service(ILinkAdmin).delete_link(context)
    flash(request, N_("The link ${title} was deleted."), title=title)
    return HTTPSeeOther(request.route_url("admin.links"))
