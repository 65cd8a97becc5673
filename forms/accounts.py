"""Schemas for login, registration, profile and passwords."""

from __future__ import annotations

from typing import Any

import colander
import deform

from forms import CSRFSchema
from portal.accounts.validation import password_error, phone_error, uscc_error
from portal.i18n import _
from portal.industries import INDUSTRIES


def _check(fn: Any) -> Any:
    """Adapt a pure ``value -> error | None`` function to a colander validator."""

    def validator(node: colander.SchemaNode, value: Any) -> None:
        error = fn(value)
        if error:
            raise colander.Invalid(node, _(error))

    return validator


@colander.deferred
def deferred_password_validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    min_length = kw["min_password_length"]

    def validator(node: colander.SchemaNode, value: str) -> None:
        error = password_error(value, min_length)
        if error:
            raise colander.Invalid(node, _(error, mapping={"n": min_length}))

    return validator


def _passwords_match(form: colander.SchemaNode, value: dict[str, Any]) -> None:
    if value["password"] != value["password_confirm"]:
        exc = colander.Invalid(form, "")
        exc["password_confirm"] = _("The two passwords differ.")
        raise exc


LOGIN_NAME = colander.All(
    colander.Length(
        min=3, max=50, min_err=_("At least 3 characters."), max_err=_("At most 50 characters.")
    ),
    colander.Regex(r"^[A-Za-z0-9_.@-]+$", _("Use letters, digits and _ . @ - only.")),
)


class LoginSchema(CSRFSchema):
    login = colander.SchemaNode(colander.String(), title=_("User name or e-mail"))
    password = colander.SchemaNode(
        colander.String(), title=_("Password"), widget=deform.widget.PasswordWidget()
    )


def _new_password() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        title=_("Password"),
        widget=deform.widget.PasswordWidget(),
        validator=deferred_password_validator,
    )


def _password_confirm() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(), title=_("Repeat the password"), widget=deform.widget.PasswordWidget()
    )


class PersonSchema(CSRFSchema):
    display_name = colander.SchemaNode(
        colander.String(), title=_("Your name"), validator=colander.Length(max=50)
    )
    login = colander.SchemaNode(colander.String(), title=_("User name"), validator=LOGIN_NAME)
    email = colander.SchemaNode(
        colander.String(),
        title=_("E-mail"),
        validator=colander.Email(_("Enter a valid e-mail address.")),
        missing=None,
    )
    password = _new_password()
    password_confirm = _password_confirm()


class RegisterSchema(PersonSchema):
    enterprise_name = colander.SchemaNode(
        colander.String(), title=_("Enterprise name"), validator=colander.Length(min=2, max=200)
    )
    uscc = colander.SchemaNode(
        colander.String(),
        title=_("Unified social credit code"),
        description=_("18 characters, as printed on the business licence"),
        validator=_check(uscc_error),
    )
    industry = colander.SchemaNode(
        colander.String(),
        title=_("Industry"),
        widget=deform.widget.SelectWidget(values=[("", "—"), *INDUSTRIES.items()]),
        validator=colander.OneOf(list(INDUSTRIES)),
    )
    contact_phone = colander.SchemaNode(
        colander.String(), title=_("Contact phone"), validator=_check(phone_error)
    )
    address = colander.SchemaNode(
        colander.String(), title=_("Address"), missing="", validator=colander.Length(max=200)
    )
    consent = colander.SchemaNode(
        colander.Boolean(),
        title=_("I agree that my contact data is used to answer my enterprise's requests"),
        widget=deform.widget.CheckboxWidget(),
        validator=colander.Function(lambda v: bool(v), _("Your consent is needed to register.")),
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, validator=_passwords_match, **kw)
        # Enterprise fields first: that is how the business licence reads.
        order = ["csrf_token", "enterprise_name", "uscc", "industry", "contact_phone", "address"]
        self.children.sort(key=lambda n: order.index(n.name) if n.name in order else len(order))


class ColleagueSchema(PersonSchema):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, validator=_passwords_match, **kw)


class ProfileSchema(CSRFSchema):
    display_name = colander.SchemaNode(
        colander.String(), title=_("Your name"), validator=colander.Length(max=50)
    )
    email = colander.SchemaNode(
        colander.String(),
        title=_("E-mail"),
        validator=colander.Email(_("Enter a valid e-mail address.")),
        missing=None,
    )
    phone = colander.SchemaNode(
        colander.String(), title=_("Phone"), validator=_check(phone_error), missing=""
    )


class PasswordSchema(CSRFSchema):
    old_password = colander.SchemaNode(
        colander.String(), title=_("Current password"), widget=deform.widget.PasswordWidget()
    )
    password = _new_password()
    password_confirm = _password_confirm()

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, validator=_passwords_match, **kw)
