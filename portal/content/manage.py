"""Editing and review screens (dashboard, add, edit, workflow, attachments, revisions).

Thin views: each gets its context from a route factory, checks what the workflow
allows, hands the change to :class:`~portal.content.interfaces.IContentService` inside
a savepoint, and redirects (Post/Redirect/Get). A service's objection is flashed in
Chinese and nothing it started is kept.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import colander
import deform
from pyramid.csrf import check_csrf_origin, check_csrf_token
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy import select

from forms import FormView
from forms.content import ContentChoices, schema_for
from portal.content import queries
from portal.content.files import FORMATS
from portal.content.interfaces import IContentService
from portal.content.models import Attachment, ContentItem, Revision, Section, State, Validity
from portal.content.views import SECTION_TITLES, VALIDITY_LABELS
from portal.content.workflow import BY_NAME, EVENT_LABELS, STATE_LABELS, Transition, available
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.industries import INDUSTRIES
from portal.permissions import Permission as Perm

#: what a finished transition tells the user
DONE_MESSAGES = {
    "submit": N_("Submitted for review."),
    "withdraw": N_("Withdrawn: the item is a draft again."),
    "publish": N_("Published."),
    "reject": N_("Sent back to the author."),
    "retract": N_("Retracted: the item is a draft again."),
    "archive": N_("Archived."),
    "republish": N_("Published again."),
}

#: field names of a revision's data, as the revisions page labels them
FIELD_LABELS = {
    "title": N_("Title"),
    "summary": N_("Summary"),
    "body": N_("Body"),
    "department_id": N_("Department"),
    "industries": N_("Industries concerned"),
    "index_no": N_("Index number"),
    "topic": N_("Topic"),
    "issuer": N_("Issuing authority"),
    "doc_number": N_("Document number"),
    "written_date": N_("Date written"),
    "publish_date": N_("Date published"),
    "effective_date": N_("Effective from"),
    "validity": N_("Validity"),
    "replaced_by_id": N_("Replaced by"),
    "interprets_id": N_("Policy explained"),
    "source_url": N_("Source address"),
}

# Room for the multipart envelope around the file itself (boundaries, part headers,
# the CSRF token): a file of exactly the limit must still get through.
MULTIPART_ALLOWANCE = 16 * 1024

DASHBOARD_LIMIT = 20


def _service(request: Request) -> Any:
    return request.find_service(IContentService)


def _flash_error(request: Request, error: InputError) -> None:
    # Translated now: the session stores plain JSON, which would drop the mapping.
    message = get_localizer(request).translate(_(error.message, mapping=error.mapping))
    request.session.flash(message, "error")


def _can(request: Request, permission: Perm, context: Any) -> bool:
    return bool(request.has_permission(permission, context))


def _item_home(request: Request, item: ContentItem) -> str:
    """Where a user goes to work on an item: its edit page if allowed, else the item page."""
    if _can(request, Perm.CONTENT_EDIT, item):
        return str(request.route_url("manage.edit", id=item.id))
    return str(request.route_url("content.item", id=item.id))


# -- dashboard ---------------------------------------------------------------------------
@view_config(
    route_name="manage.dashboard",
    renderer="portal:templates/manage/dashboard.jinja2",
    permission=Perm.CONTENT_DASHBOARD,
)
def dashboard(request: Request) -> dict[str, Any]:
    db = request.dbsession
    user = request.user

    def visible(
        items: list[ContentItem], permission: Perm = Perm.CONTENT_VIEW
    ) -> list[ContentItem]:
        return [i for i in items if _can(request, permission, i)]

    mine = queries.by_state(db, [State.DRAFT.value, State.PENDING.value], created_by=user.id)
    can_create = _can(request, Perm.CONTENT_CREATE, request.root)
    oversight: list[ContentItem] = []
    if _can(request, Perm.OVERSIGHT_READ, request.root):
        # The supervisor follows every unpublished item without acting on any.
        oversight = visible(queries.by_state(db, [State.DRAFT.value, State.PENDING.value]))
    recent = queries.by_state(db, [s.value for s in State])
    return {
        "my_drafts": [i for i in mine if i.state == State.DRAFT],
        "my_pending": [i for i in mine if i.state == State.PENDING],
        "to_review": visible(queries.by_state(db, [State.PENDING.value]), Perm.CONTENT_REVIEW),
        "oversight": oversight,
        "recent": visible(recent)[:DASHBOARD_LIMIT],
        "sections": [(s.value, SECTION_TITLES[s]) for s in Section] if can_create else [],
        "section_titles": SECTION_TITLES,
        "state_labels": STATE_LABELS,
        "item_home": lambda item: _item_home(request, item),
        "transitions_of": lambda item: _transitions(request, item),
    }


# -- add and edit --------------------------------------------------------------------------
class _ContentFormView(FormView):
    """Shared by add and edit: the schema depends on the section, known only per request."""

    form_id = "content"

    @property
    def section(self) -> Section:
        raise NotImplementedError

    def schema_bindings(self) -> dict[str, Any]:
        return {**super().schema_bindings(), "choices": ContentChoices(self.request.dbsession)}

    def make_form(self) -> deform.Form:
        schema = schema_for(self.section)().bind(**self.schema_bindings())
        localizer = get_localizer(self.request)
        buttons = [
            deform.Button(name=name, title=localizer.translate(_(title)), css_class="btn")
            for name, title in self.buttons
        ]
        return deform.Form(schema, buttons=buttons, formid=self.form_id)

    @staticmethod
    def data(appstruct: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in appstruct.items() if k != "csrf_token"}


@view_config(
    route_name="manage.add",
    renderer="portal:templates/manage/add.jinja2",
    permission=Perm.CONTENT_CREATE,
)
class AddContentView(_ContentFormView):
    buttons = (("save", N_("Save draft")),)
    success_message = N_("The draft was saved.")

    def __init__(self, context: Any, request: Request) -> None:
        super().__init__(context, request)
        try:
            self._section = Section(request.matchdict["section"])
        except ValueError:
            raise HTTPNotFound() from None

    @property
    def section(self) -> Section:
        return self._section

    def save(self, appstruct: dict[str, Any]) -> str:
        item = _service(self.request).create(self.section, self.data(appstruct), self.request.user)
        return str(self.request.route_url("manage.edit", id=item.id))

    def extra(self) -> dict[str, Any]:
        return {"section_title": SECTION_TITLES[self.section]}


@view_config(
    route_name="manage.edit",
    renderer="portal:templates/manage/edit.jinja2",
    permission=Perm.CONTENT_EDIT,
)
class EditContentView(_ContentFormView):
    context: ContentItem

    @property
    def section(self) -> Section:
        return Section(self.context.section)

    def appstruct(self) -> dict[str, Any]:
        item = self.context
        values: dict[str, Any] = {name: getattr(item, name) for name in FIELD_LABELS}
        values["industries"] = set(item.industries)
        # colander serialises None as the string "None"; null renders an empty field.
        return {k: colander.null if v is None else v for k, v in values.items()}

    def save(self, appstruct: dict[str, Any]) -> str:
        _service(self.request).update(self.context, self.data(appstruct), self.request.user)
        return str(self.request.route_url("manage.edit", id=self.context.id))

    def extra(self) -> dict[str, Any]:
        item = self.context
        return {
            "item": item,
            "section_title": SECTION_TITLES[Section(item.section)],
            "state_labels": STATE_LABELS,
            "event_labels": EVENT_LABELS,
            "transitions": _transitions(self.request, item),
            "history": item.history,
            "attachments": item.attachments,
            "max_upload_mb": self.request.registry.settings["qzt.upload.max_bytes"] >> 20,
            "accept": ",".join(f".{ext}" for ext in FORMATS),
            "accepted_names": " ".join(ext.upper() for ext in FORMATS),
        }


# -- workflow ------------------------------------------------------------------------------
def _transitions(request: Request, item: ContentItem) -> list[Transition]:
    return available(item, lambda perm: _can(request, perm, item))


def _after_transition(request: Request, item: ContentItem) -> str:
    if request.POST.get("came_from") == "dashboard":
        return str(request.route_url("manage.dashboard"))
    return _item_home(request, item)


@view_config(route_name="manage.transition", request_method="POST", permission=Perm.CONTENT_VIEW)
def transition(context: ContentItem, request: Request) -> HTTPSeeOther:
    """Move an item along one transition; its own permission decides, not the view's."""
    step = BY_NAME.get(request.POST.get("transition", ""))
    if step is None:
        request.session.flash(N_("This action is not possible in the item's state."), "error")
        return HTTPSeeOther(_after_transition(request, context))
    if not _can(request, step.permission, context):
        raise HTTPForbidden()
    savepoint = request.dbsession.begin_nested()
    try:
        _service(request).transition(
            context, step.name, request.user, request.POST.get("comment", "")
        )
    except InputError as error:
        savepoint.rollback()
        _flash_error(request, error)
        return HTTPSeeOther(_after_transition(request, context))
    savepoint.commit()
    request.session.flash(DONE_MESSAGES[step.name], "success")
    return HTTPSeeOther(_after_transition(request, context))


# -- revisions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldChange:
    """One changed field: its label and its lines, each marked equal, removed or added."""

    field: str
    label: str
    lines: list[tuple[str, str]]


_BLOCK_END = re.compile(r"(</(?:p|h\d|li|tr|table|ul|ol|blockquote|div|pre)>|<br\s*/?>)")


def _lines(value: Any) -> list[str]:
    if value is None or value == "" or value == []:
        return []
    text = "、".join(map(str, value)) if isinstance(value, list) else str(value)
    # Body HTML usually arrives on one line; break it after block elements so the diff
    # points at the paragraph that changed rather than at the whole body.
    return [line for line in _BLOCK_END.sub(r"\1\n", text).splitlines() if line.strip()]


def diff_revisions(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Field-by-field differences from ``old`` to ``new`` (revision data dicts)."""
    changes = []
    for field in FIELD_LABELS:
        before, after = _lines(old.get(field)), _lines(new.get(field))
        if before == after:
            continue
        lines: list[tuple[str, str]] = []
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for op, a1, a2, b1, b2 in matcher.get_opcodes():
            if op == "equal":
                lines += [("equal", line) for line in before[a1:a2]]
            else:
                lines += [("delete", line) for line in before[a1:a2]]
                lines += [("insert", line) for line in after[b1:b2]]
        changes.append(FieldChange(field, FIELD_LABELS[field], lines))
    return changes


def _readable(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Revision data with ids and codes replaced by the names people know."""
    shown = dict(data)
    translate = get_localizer(request).translate
    if data.get("department_id"):
        dept = request.dbsession.get(Department, data["department_id"])
        shown["department_id"] = dept.name if dept else data["department_id"]
    shown["industries"] = [INDUSTRIES.get(c, c) for c in data.get("industries") or []]
    if data.get("validity") in set(Validity):
        shown["validity"] = translate(_(VALIDITY_LABELS[Validity(data["validity"])]))
    for field in ("replaced_by_id", "interprets_id"):
        if data.get(field):
            title = request.dbsession.scalar(
                select(ContentItem.title).where(ContentItem.id == data[field])
            )
            shown[field] = f"{title} (#{data[field]})" if title else data[field]
    return shown


def _chosen_revision(request: Request, revisions: list[Revision]) -> Revision | None:
    raw = request.params.get("version", "")
    wanted = int(raw) if raw.isdigit() and len(raw) < 10 else None
    for revision in revisions:
        if wanted is None or revision.version == wanted:
            return revision
    return None


@view_config(
    route_name="manage.revisions",
    renderer="portal:templates/manage/revisions.jinja2",
    permission=Perm.CONTENT_HISTORY,
)
def revisions(context: ContentItem, request: Request) -> dict[str, Any]:
    history = list(context.revisions)  # newest first
    chosen = _chosen_revision(request, history)
    if chosen is None and history:
        raise HTTPNotFound()
    previous = next((r for r in history if chosen and r.version < chosen.version), None)
    changes: list[FieldChange] = []
    if chosen is not None:
        before = _readable(request, previous.data) if previous else {}
        changes = diff_revisions(before, _readable(request, chosen.data))
    return {
        "item": context,
        "revisions": history,
        "chosen": chosen,
        "previous": previous,
        "changes": changes,
        "can_edit": _can(request, Perm.CONTENT_EDIT, context),
    }


# -- attachments ---------------------------------------------------------------------------
def _attachments_url(request: Request, item: ContentItem) -> str:
    return str(request.route_url("manage.edit", id=item.id, _anchor="attachments"))


def _too_large(request: Request, item: ContentItem, limit: int) -> Response:
    response = render_to_response(
        "portal:templates/manage/upload_too_large.jinja2",
        {"item": item, "limit_mb": limit >> 20},
        request=request,
    )
    response.status = 413
    return response


# The CSRF check is done by hand, after the size check: Pyramid's own check reads the
# token from request.POST, and touching request.POST makes WebOb parse (and spool to
# disk) the whole multipart body, which is exactly what an oversize upload must not get.
@view_config(
    route_name="manage.attachments",
    request_method="POST",
    permission=Perm.CONTENT_EDIT,
    require_csrf=False,
)
def upload_attachment(context: ContentItem, request: Request) -> Response:
    limit = int(request.registry.settings["qzt.upload.max_bytes"])
    length = request.content_length
    if length is None or length > limit + MULTIPART_ALLOWANCE:
        return _too_large(request, context, limit)
    check_csrf_origin(request, raises=True)
    # Parsing spools a large body to a temporary file that WebOb never closes itself.
    request.add_finished_callback(lambda r: r.body_file_raw.close())
    check_csrf_token(request, raises=True)
    upload = request.POST.get("upload")
    if not hasattr(upload, "file"):
        request.session.flash(N_("Choose a file to upload."), "error")
        return HTTPSeeOther(_attachments_url(request, context))
    savepoint = request.dbsession.begin_nested()
    try:
        _service(request).add_attachment(context, upload.filename or "", upload.file, request.user)
    except InputError as error:
        savepoint.rollback()
        _flash_error(request, error)
        return HTTPSeeOther(_attachments_url(request, context))
    finally:
        upload.file.close()  # WebOb's spool file: gone now rather than whenever GC runs
    savepoint.commit()
    request.session.flash(N_("The file was attached."), "success")
    return HTTPSeeOther(_attachments_url(request, context))


# The route's context is the attachment, whose ACL grants nothing but downloading (and
# ends in DENY_ALL), so no view permission can be checked against it; the right to
# delete is the right to edit the item, checked here against the item's own ACL.
@view_config(
    route_name="manage.attachment_delete",
    request_method="POST",
    permission=NO_PERMISSION_REQUIRED,
)
def delete_attachment(context: Attachment, request: Request) -> HTTPSeeOther:
    item = context.item
    if not _can(request, Perm.CONTENT_EDIT, item):
        raise HTTPForbidden()
    _service(request).remove_attachment(context)
    request.session.flash(N_("The attachment was deleted."), "success")
    return HTTPSeeOther(_attachments_url(request, item))
