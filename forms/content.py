"""Schemas for adding and editing content: one base, one subclass per section that needs more.

Choices that live in the database (departments, published policies, published
regulations) are looked up when the schema is bound with ``schema.bind(request=...)``,
through :class:`ContentChoices`, so a form always offers what exists right now and
its validators refuse anything else, whatever a tampered request sends.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import colander
import deform
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import CSRFSchema
from forms.types import Date, Integer
from forms.widgets import NativeDateWidget
from portal.content.models import ContentItem, Section, State, Validity
from portal.departments.models import Department
from portal.i18n import _
from portal.industries import INDUSTRIES
from portal.roles import Role

VALIDITY_CHOICES = [
    (Validity.IN_FORCE.value, _("In force")),
    (Validity.AMENDED.value, _("Amended")),
    (Validity.REPEALED.value, _("Repealed")),
    (Validity.EXPIRED.value, _("Expired")),
]
NO_CHOICE = ("", "—")


class ContentChoices:
    """The read-only lookups content forms need; bound schemas build one per request."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def departments(self) -> list[tuple[int, str]]:
        rows = self.db.execute(
            select(Department.id, Department.name)
            .where(Department.is_active.is_(True))
            .order_by(Department.sort_order, Department.id)
        )
        return [(r.id, r.name) for r in rows]

    def published_policies(self) -> list[tuple[int, str]]:
        rows = self.db.execute(
            select(ContentItem.id, ContentItem.title)
            .where(
                ContentItem.section == Section.POLICY.value,
                ContentItem.state == State.PUBLISHED.value,
            )
            .order_by(ContentItem.published_at.desc(), ContentItem.id.desc())
            .limit(500)
        )
        return [(r.id, r.title) for r in rows]

    def is_published_regulation(self, ident: int) -> bool:
        item = self.db.get(ContentItem, ident)
        return (
            item is not None
            and item.section == Section.REGULATION.value
            and item.state == State.PUBLISHED.value
        )


def _choices(kw: dict[str, Any]) -> ContentChoices:
    return kw.get("choices") or ContentChoices(kw["request"].dbsession)


def _length(max_chars: int) -> colander.Length:
    return colander.Length(max=max_chars, max_err=_("At most ${max} characters."))


def _optional_text(title: Any, max_chars: int, **kw: Any) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(), title=title, missing=None, validator=_length(max_chars), **kw
    )


def _optional_date(title: Any) -> colander.SchemaNode:
    return colander.SchemaNode(Date(), title=title, missing=None, widget=NativeDateWidget())


# -- department: a department's own staff may only file content under it ----------------
def _department_scope(kw: dict[str, Any]) -> int | None:
    """The one department the user may choose, or None when any department is allowed."""
    user = kw["request"].user
    if user is None or user.department_id is None or Role.ADMIN in user.roles:
        return None
    return int(user.department_id)


def _department_options(kw: dict[str, Any]) -> list[tuple[int, str]]:
    options = _choices(kw).departments()
    own = _department_scope(kw)
    return options if own is None else [o for o in options if o[0] == own]


@colander.deferred
def deferred_department_widget(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    values = [(str(i), name) for i, name in _department_options(kw)]
    if _department_scope(kw) is None:
        values.insert(0, NO_CHOICE)
    return deform.widget.SelectWidget(values=values)


@colander.deferred
def deferred_department_validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    allowed = [i for i, _name in _department_options(kw)]
    return colander.OneOf(allowed, msg_err=_("Choose a department from the list."))


@colander.deferred
def deferred_department_missing(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    # Portal-wide staff may publish without a department (e.g. the portal office's
    # own notices); a department's editor always files under that department.
    return None if _department_scope(kw) is None else colander.required


def _check_title(node: colander.SchemaNode, value: str) -> None:
    if not value.strip():
        raise colander.Invalid(node, _("Enter a title."))
    _length(300)(node, value)


# -- the base schema ------------------------------------------------------------------
class ContentSchema(CSRFSchema):
    """Fields every section has; the news sections use it as it is."""

    title = colander.SchemaNode(
        colander.String(),
        title=_("Title"),
        validator=_check_title,
        missing_msg=_("Enter a title."),
    )
    summary = colander.SchemaNode(
        colander.String(),
        title=_("Summary"),
        description=_("One or two sentences shown in listings."),
        missing="",
        validator=_length(1000),
        widget=deform.widget.TextAreaWidget(rows=3),
    )
    body = colander.SchemaNode(
        colander.String(),
        title=_("Body"),
        description=_(
            "HTML is allowed for paragraphs, headings, lists, tables and links; "
            "scripts and styles are removed."
        ),
        missing="",
        validator=_length(500_000),
        widget=deform.widget.TextAreaWidget(rows=16),
    )
    department_id = colander.SchemaNode(
        Integer(),
        title=_("Department"),
        widget=deferred_department_widget,
        validator=deferred_department_validator,
        missing=deferred_department_missing,
        missing_msg=_("Choose a department."),
    )
    industries = colander.SchemaNode(
        colander.Set(),
        title=_("Industries concerned"),
        widget=deform.widget.CheckboxChoiceWidget(values=list(INDUSTRIES.items())),
        validator=colander.Function(
            lambda v: set(v) <= set(INDUSTRIES), _("Choose industries from the list.")
        ),
        missing=(),
    )


NewsSchema = ContentSchema


ORDERED_DATES = (
    ("publish_date", _("A document cannot be published before it was written.")),
    ("effective_date", _("A document cannot take effect before it was written.")),
)


def _dates_in_order(form: colander.SchemaNode, value: dict[str, Any]) -> None:
    """Publication and entry into force come after the date a document was written."""
    written: date | None = value.get("written_date")
    exc = colander.Invalid(form, "")
    for field, message in ORDERED_DATES:
        later: date | None = value.get(field)
        if written is not None and later is not None and later < written:
            exc[field] = message
    if exc.children:
        raise exc


DOCUMENT_ORDER = [
    "csrf_token", "title", "summary", "body", "department_id", "industries",
    "index_no", "topic", "issuer", "doc_number", "written_date", "publish_date",
    "effective_date", "validity", "replaced_by_id",
]  # fmt: skip


class _DocumentSchema(ContentSchema):
    """The 政府信息公开 metadata shared by policies and regulations."""

    index_no = _optional_text(_("Index number"), 50)
    doc_number = _optional_text(
        _("Document number"), 100, description=_("As printed, e.g. 国办发〔2017〕47号")
    )
    issuer = _optional_text(_("Issuing authority"), 200)
    written_date = _optional_date(_("Date written"))
    publish_date = _optional_date(_("Date published"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("validator", _dates_in_order)
        super().__init__(*args, **kw)
        # The order of a 政府信息公开 document's header, whatever the class that adds a field.
        self.children.sort(key=lambda n: DOCUMENT_ORDER.index(n.name))


class PolicySchema(_DocumentSchema):
    """涉企政策."""


@colander.deferred
def deferred_replaced_by_validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    choices = _choices(kw)

    def validator(node: colander.SchemaNode, value: int) -> None:
        if not choices.is_published_regulation(value):
            raise colander.Invalid(
                node, _("No published regulation has the number ${id}.", mapping={"id": value})
            )

    return validator


class RegulationSchema(_DocumentSchema):
    """法规公文: adds topic, effective date, validity and the replacing document."""

    topic = _optional_text(_("Topic"), 50)
    effective_date = _optional_date(_("Effective from"))
    validity = colander.SchemaNode(
        colander.String(),
        title=_("Validity"),
        widget=deform.widget.SelectWidget(values=[NO_CHOICE, *VALIDITY_CHOICES]),
        validator=colander.OneOf(
            [v for v, _label in VALIDITY_CHOICES], msg_err=_("Choose a validity from the list.")
        ),
        missing=None,
    )
    replaced_by_id = colander.SchemaNode(
        Integer(),
        title=_("Replaced by"),
        description=_(
            "Number of the published regulation that replaces this one: "
            "the digits at the end of its address."
        ),
        missing=None,
        validator=deferred_replaced_by_validator,
    )


@colander.deferred
def deferred_policy_widget(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    return deform.widget.SelectWidget(
        values=[NO_CHOICE, *((str(i), t) for i, t in _policy_options(kw))]
    )


@colander.deferred
def deferred_policy_validator(node: colander.SchemaNode, kw: dict[str, Any]) -> Any:
    allowed = [i for i, _title in _policy_options(kw)]
    return colander.OneOf(allowed, msg_err=_("Choose a published policy from the list."))


def _policy_options(kw: dict[str, Any]) -> list[tuple[int, str]]:
    options = _choices(kw).published_policies()
    # An interpretation keeps the policy it already explains even if that policy was
    # retracted since: otherwise the interpretation could no longer be saved at all.
    current: ContentItem | None = getattr(kw.get("context"), "interprets", None)
    if current is not None and all(i != current.id for i, _t in options):
        options.append((current.id, current.title))
    return options


class InterpretationSchema(ContentSchema):
    """政策解读: points at the published policy it explains."""

    interprets_id = colander.SchemaNode(
        Integer(),
        title=_("Policy explained"),
        widget=deferred_policy_widget,
        validator=deferred_policy_validator,
        missing_msg=_("Choose the policy this interpretation explains."),
    )


SCHEMAS: dict[Section, type[ContentSchema]] = {
    Section.POLICY: PolicySchema,
    Section.REGULATION: RegulationSchema,
    Section.INDUSTRY: NewsSchema,
    Section.SERVICE: NewsSchema,
    Section.INTERPRETATION: InterpretationSchema,
}


def schema_for(section: str) -> type[ContentSchema]:
    """The schema class of a section; KeyError/ValueError for an unknown one."""
    return SCHEMAS[Section(section)]
