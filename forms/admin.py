"""Schemas of the administration screens: users, departments, leaders (分管), links.

colander ships no zh_CN catalog, so every message a user can meet here is one of
ours: required fields name what is missing, lengths and numbers have our wording.
Choices that come from the database (departments, leader accounts) are handed in
through ``schema.bind(...)`` by the view; the schemas query nothing themselves.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import colander
import deform
from pyramid.i18n import get_localizer

from forms import CSRFSchema
from forms.accounts import LOGIN_NAME, _new_password, _password_confirm, _passwords_match
from forms.types import Integer
from portal.accounts.validation import phone_error
from portal.i18n import N_, _
from portal.roles import STAFF_ROLES, Role

#: how each role is called on screen, in declaration order
ROLE_LABELS: dict[Role, str] = {
    Role.ENTERPRISE: N_("Enterprise user"),
    Role.STAFF: N_("Department staff"),
    Role.HEAD: N_("Department head"),
    Role.LEADER: N_("City leader"),
    Role.EDITOR: N_("Content editor"),
    Role.REVIEWER: N_("Reviewer"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.ADMIN: N_("Administrator"),
}

#: the roles an administrator may give a government account
GOVERNMENT_ROLES = [r for r in Role if r in STAFF_ROLES]

CODE = re.compile(r"^[a-z0-9-]{2,40}$")
SORT_MAX = 9999


# -- small building blocks ----------------------------------------------------------
def _strip(value: Any) -> Any:
    """Trim text; blank text counts as not given, so ``missing`` and required apply."""
    if isinstance(value, str):
        value = value.strip()
        return value or colander.null
    return value


def _max(n: int) -> colander.Length:
    return colander.Length(max=n, max_err=_("At most ${max} characters."))


def _pure(fn: Any) -> Any:
    """Adapt a pure ``value -> msgid | None`` function to a colander validator."""

    def validator(node: colander.SchemaNode, value: Any) -> None:
        error = fn(value)
        if error:
            raise colander.Invalid(node, _(error))

    return validator


def text(
    title: str,
    max_length: int,
    required: str | None = None,
    **kw: Any,
) -> colander.SchemaNode:
    """A trimmed text field; ``required`` is the message shown when it is left empty."""
    validators = [_max(max_length)]
    if "validator" in kw:
        validators.append(kw.pop("validator"))
    if required is None:
        kw.setdefault("missing", "")
    else:
        kw["missing_msg"] = required
    return colander.SchemaNode(
        colander.String(),
        title=title,
        preparer=_strip,
        validator=colander.All(*validators),
        **kw,
    )


class WholeNumber(Integer):
    message = _("Enter a whole number, e.g. 10.")


def sort_order_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        WholeNumber(),
        title=_("Sort order"),
        description=_("Smaller numbers come first."),
        missing=0,
        validator=colander.Range(
            min=0,
            max=SORT_MAX,
            min_err=_("Enter a number of at least ${min}."),
            max_err=_("Enter a number no larger than ${max}."),
        ),
    )


def email_node(title: str = _("E-mail")) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        title=title,
        preparer=_strip,
        missing=None,
        validator=colander.All(colander.Email(_("Enter a valid e-mail address.")), _max(254)),
    )


def phone_node(title: str = _("Phone")) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(), title=title, preparer=_strip, missing="", validator=_pure(phone_error)
    )


def checkbox(title: str) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.Boolean(), title=title, widget=deform.widget.CheckboxWidget(), missing=False
    )


def _only(choices: list[str], message: str) -> Any:
    """Every chosen value is one of ``choices`` (colander's ContainsOnly has no own message)."""

    def validator(node: colander.SchemaNode, value: Any) -> None:
        if not set(value) <= set(choices):
            raise colander.Invalid(node, message)

    return validator


def _translated(request: Any, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    localizer = get_localizer(request)
    return [(value, localizer.translate(_(label))) for value, label in pairs]


def _id_choice(binding: str, title: str, missing_label: str, invalid: str) -> colander.SchemaNode:
    """A select of ``(id, label)`` pairs the view binds as ``binding``."""

    @colander.deferred
    def widget(node: colander.SchemaNode, kw: dict[str, Any]) -> deform.widget.Widget:
        label = get_localizer(kw["request"]).translate(_(missing_label))
        return deform.widget.SelectWidget(
            values=[("", label), *((str(i), name) for i, name in kw[binding])]
        )

    @colander.deferred
    def validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
        return colander.OneOf([i for i, _name in kw[binding]], msg_err=_(invalid))

    return colander.SchemaNode(
        WholeNumber(), title=title, widget=widget, validator=validator, missing=None
    )


# -- users --------------------------------------------------------------------------
@colander.deferred
def deferred_roles_widget(node: colander.SchemaNode, kw: dict[str, Any]) -> deform.widget.Widget:
    pairs = [(r.value, ROLE_LABELS[r]) for r in GOVERNMENT_ROLES]
    return deform.widget.CheckboxChoiceWidget(values=_translated(kw["request"], pairs))


def _at_least_one_role(node: colander.SchemaNode, value: Any) -> None:
    # With every box unticked the widget sends an empty sequence, not "missing".
    if not value:
        raise colander.Invalid(node, _("Choose at least one role."))


def _roles() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.Set(),
        title=_("Roles"),
        widget=deferred_roles_widget,
        missing_msg=_("Choose at least one role."),
        validator=colander.All(
            _at_least_one_role,
            _only(
                [r.value for r in GOVERNMENT_ROLES], _("Only government roles can be given here.")
            ),
        ),
    )


class PersonFields(CSRFSchema):
    """What every account has, enterprise or government."""

    display_name = text(_("Name"), 50, required=_("Enter the person's name."))
    email = email_node()
    phone = phone_node()


class StaffFields(PersonFields):
    """What only government accounts have."""

    title = text(_("Job title"), 50, description=_("职务, e.g. 局长 or 科员"))
    department_id = _id_choice(
        "departments",
        _("Department"),
        N_("— no department (portal office) —"),
        N_("Choose a department from the list."),
    )
    roles = _roles()


class UserAddSchema(StaffFields):
    """A new government account; the initial password follows the staff rule."""

    login = colander.SchemaNode(
        colander.String(),
        title=_("User name"),
        preparer=_strip,
        missing_msg=_("Enter a user name for logging in."),
        validator=LOGIN_NAME,
    )
    password = _new_password()
    password_confirm = _password_confirm()

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, validator=_passwords_match, **kw)
        first = ["csrf_token", "login", "display_name"]
        self.children.sort(key=lambda n: first.index(n.name) if n.name in first else len(first))


#: fields of the edit form that make no sense for an enterprise user
STAFF_ONLY = ("title", "department_id", "roles")


class UserEditSchema(StaffFields):
    """Edit an account. For an enterprise user the government-only fields are removed."""

    is_active = checkbox(_("Account enabled"))

    def after_bind(self, node: colander.SchemaNode, kw: dict[str, Any]) -> None:
        if kw["context"].enterprise_id is not None:
            for name in STAFF_ONLY:
                del node[name]


class PasswordResetSchema(CSRFSchema):
    """An administrator sets a new password (the old one is not asked)."""

    password = _new_password()
    password_confirm = _password_confirm()

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, validator=_passwords_match, **kw)


# -- departments --------------------------------------------------------------------
def code_error(value: str) -> str | None:
    if CODE.match(value):
        return None
    return N_("Use 2 to 40 lower-case letters, digits or hyphens, e.g. fgj or market-reg.")


class DepartmentSchema(CSRFSchema):
    code = text(
        _("Code"),
        40,
        required=_("Enter the code used in the department's web address."),
        description=_(
            "Lower-case letters, digits and hyphens; appears in the address /departments/…"
        ),
        validator=_pure(code_error),
    )
    name = text(_("Full name"), 100, required=_("Enter the department's full name."))
    short_name = text(
        _("Short name"),
        40,
        required=_("Enter a short name for the home page, e.g. 发改局."),
    )
    category = text(
        _("Category"),
        20,
        required=_("Enter the category that groups the directory, e.g. 经济发展."),
        description=_("Departments with the same category are listed together."),
    )
    responsibilities = text(
        _("What this department handles"),
        4000,
        required=_("Describe what the department handles, in words an enterprise would use."),
        widget=deform.widget.TextAreaWidget(rows=6),
    )
    address = text(_("Address"), 200)
    phone = phone_node()
    sort_order = sort_order_node()
    is_active = checkbox(_("Shown on the portal"))


# -- leaders ------------------------------------------------------------------------
@colander.deferred
def deferred_departments_widget(
    node: colander.SchemaNode, kw: dict[str, Any]
) -> deform.widget.Widget:
    return deform.widget.CheckboxChoiceWidget(
        values=[(str(i), name) for i, name in kw["departments"]]
    )


@colander.deferred
def deferred_departments_validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    return _only(
        [str(i) for i, _name in kw["departments"]], _("Choose departments from the list only.")
    )


class LeaderSchema(CSRFSchema):
    name = text(_("Name"), 50, required=_("Enter the leader's name."))
    title = text(_("Job title"), 50, required=_("Enter the title, e.g. 副市长."))
    is_mayor = checkbox(_("Mayor"))
    email = email_node()
    portfolio = text(
        _("Portfolio"),
        2000,
        description=_("分管工作, as published"),
        widget=deform.widget.TextAreaWidget(rows=4),
    )
    user_id = _id_choice(
        "leader_accounts",
        _("Linked user account"),
        N_("— none —"),
        N_("Choose an account with the city-leader role."),
    )
    sort_order = sort_order_node()
    departments = colander.SchemaNode(
        colander.Set(),
        title=_("Supervised departments (分管)"),
        description=_(
            "A department has one supervising vice mayor: ticking one supervised by "
            "another leader moves it here. The mayor supervises none."
        ),
        widget=deferred_departments_widget,
        validator=deferred_departments_validator,
        missing=frozenset(),
    )


# -- links --------------------------------------------------------------------------
def url_error(value: str) -> str | None:
    """Why ``value`` cannot be a link on the portal, or None: only http(s) to a host."""
    if any(c.isspace() for c in value):
        return N_("A web address cannot contain spaces.")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return N_("This is not a valid web address.")
    if parts.scheme.lower() not in ("http", "https"):
        return N_("The address must start with http:// or https://.")
    if not host:
        return N_("The address has no site name, e.g. https://www.gov.cn/.")
    return None


class LinkSchema(CSRFSchema):
    title = text(_("Site name"), 100, required=_("Enter the name of the site."))
    url = text(
        _("Web address"),
        500,
        required=_("Enter the web address, starting with https://."),
        validator=_pure(url_error),
    )
    sort_order = sort_order_node()
