"""留言: a message left for a department while nobody there is online.

It becomes a tracked case (``ICaseService.open_case`` with source "message") that the
department answers through the complaints workflow; ``open_case`` queues the
acknowledgement email in the same transaction, so the enterprise gets a confirmation
with the case number exactly when the case exists.

The form works without JavaScript (a plain POST, errors shown next to the fields with
everything typed kept) and from the widget (JSON in, JSON out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.view import view_config

from portal.chat.views import (
    TPL,
    close_body,
    department_chat,
    done,
    error_text,
    refused,
    translate,
    wants_json,
)
from portal.complaints.interfaces import ICaseService
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_
from portal.permissions import Permission as Perm

#: the case types an enterprise may choose for a 留言, in the order offered
MESSAGE_KINDS = (
    ("consult", N_("Question (咨询)")),
    ("help", N_("Request for help (求助)")),
    ("suggestion", N_("Suggestion (建议)")),
    ("complaint", N_("Complaint (投诉)")),
)
MAX_TITLE = 100
MAX_TEXT = 2000
#: the case service's field names -> this form's
CASE_FIELDS = {"description": "text", "contact_email": "email"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class OfflineMessage:
    kind: str
    title: str
    text: str
    email: str


def parse(params: Any) -> OfflineMessage:
    """The form's values checked; InputError names the first field that is wrong."""
    kind = str(params.get("kind", "consult"))
    title = str(params.get("title", "")).strip()
    text = str(params.get("text", "")).strip()
    email = str(params.get("email", "")).strip()
    if kind not in dict(MESSAGE_KINDS):
        raise InputError("kind", "Choose what kind of message this is.")
    if not title:
        raise InputError("title", "Please give your message a subject.")
    if len(title) > MAX_TITLE:
        raise InputError("title", "The subject is too long (at most ${n} characters).", n=MAX_TITLE)
    if not text:
        raise InputError("text", "Please write your message.")
    if len(text) > MAX_TEXT:
        raise InputError("text", "The message is too long (at most ${n} characters).", n=MAX_TEXT)
    if len(email) > 254 or not EMAIL.match(email):
        raise InputError("email", "Please enter an email address for the confirmation.")
    return OfflineMessage(kind, title, text, email)


@view_config(route_name="chat.leave_message", request_method="POST", permission=Perm.CHAT_START)
def leave_message(context: Department, request: Request) -> Any:
    back = request.route_path("chat.department", code=context.code)
    request.add_finished_callback(close_body)  # a long message is spooled to a file
    try:
        message = parse(request.POST)
    except InputError as error:
        if wants_json(request):
            return refused(request, error, back)
        return _form_again(context, request, error)
    user = request.user
    savepoint = request.dbsession.begin_nested()
    try:
        case = request.find_service(ICaseService).open_case(
            request.dbsession,
            kind=message.kind,
            title=message.title,
            description=message.text,
            enterprise_id=user.enterprise_id,
            opened_by_user_id=user.id,
            department_id=context.id,
            source="message",
            contact_email=message.email,
        )
    except InputError as error:
        # the case service's own checks, named by its fields: shown at ours
        savepoint.rollback()
        error.field = CASE_FIELDS.get(error.field, error.field)
        if wants_json(request):
            return refused(request, error, back)
        return _form_again(context, request, error)
    savepoint.commit()
    text = translate(
        request,
        N_("Your message was registered as case ${number}. A confirmation was sent to ${email}."),
        number=case.number,
        email=message.email,
    )
    return done(request, text, back, case_id=case.id, case_number=case.number)


def _form_again(context: Department, request: Request, error: InputError) -> Any:
    """The chat page again, the 留言 form open with what was typed and the error."""
    data = department_chat(context, request)
    data.update(
        offline_error={"field": error.field, "message": error_text(request, error)},
        offline_values={k: request.POST.get(k, "") for k in ("kind", "title", "text", "email")},
    )
    response = render_to_response(TPL.format("department"), data, request=request)
    response.status = 400
    return response
