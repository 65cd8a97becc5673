"""Canned replies (常用回复) of a department: its staff keep the list here and insert
them in the console with a click or the keyboard."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from portal.chat.interfaces import ChatError
from portal.chat.models import CannedReply
from portal.chat.views import TPL, actor_of, chat_service, error_text, translate
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_
from portal.permissions import Permission as Perm

MAX_TITLE = 100
MAX_BODY = 2000


def checked(params: Any) -> tuple[str, str]:
    """(title, body) of an edited reply, by the rules the chat service adds them with."""
    title = str(params.get("title", "")).strip()
    body = str(params.get("body", "")).strip()
    if not title or len(title) > MAX_TITLE:
        raise InputError("title", "Give the reply a short title.")
    if not body or len(body) > MAX_BODY:
        raise InputError("body", "Write the reply's text.")
    return title, body


def _department(request: Request) -> Department:
    user = request.user
    department = request.dbsession.get(Department, user.department_id or 0)
    if department is None:
        raise HTTPForbidden()  # canned replies belong to a department; this user has none
    return department


def _replies(request: Request, department: Department) -> list[CannedReply]:
    return list(
        request.dbsession.scalars(
            select(CannedReply)
            .where(CannedReply.department_id == department.id)
            .order_by(CannedReply.sort_order, CannedReply.id)
        )
    )


@view_config(
    route_name="chat.canned",
    request_method="GET",
    renderer=TPL.format("canned"),
    permission=Perm.CHAT_CANNED,
)
def canned_list(request: Request) -> dict[str, Any]:
    department = _department(request)
    return {"department": department, "replies": _replies(request, department), "error": None}


@view_config(
    route_name="chat.canned",
    request_method="POST",
    renderer=TPL.format("canned"),
    permission=Perm.CHAT_CANNED,
)
def canned_add(request: Request) -> Any:
    department = _department(request)
    title = request.POST.get("title", "")
    body = request.POST.get("body", "")
    savepoint = request.dbsession.begin_nested()
    try:
        reply = chat_service(request).add_canned_reply(
            request.dbsession, actor_of(request), department.id, title, body
        )
        reply.sort_order = 1 + max((r.sort_order for r in _replies(request, department)), default=0)
    except (InputError, ChatError) as error:
        savepoint.rollback()
        request.response.status = 400
        return {
            "department": department,
            "replies": _replies(request, department),
            "error": {
                "field": getattr(error, "field", "body"),
                "message": error_text(request, error),
            },
            "values": {"title": title, "body": body},
        }
    savepoint.commit()
    request.session.flash(translate(request, N_("The reply was added.")), "success")
    return HTTPSeeOther(request.route_path("chat.canned"))


@view_config(route_name="chat.canned_edit", request_method="POST", permission=Perm.CHAT_CANNED)
def canned_edit(context: CannedReply, request: Request) -> Any:
    """Save, move up or down, or delete one reply."""
    back = request.route_path("chat.canned")
    action = request.POST.get("action", "save")
    if action == "delete":
        chat_service(request).delete_canned_reply(request.dbsession, actor_of(request), context.id)
        request.session.flash(translate(request, N_("The reply was deleted.")), "success")
    elif action in ("up", "down"):
        _move(request, context, -1 if action == "up" else 1)
    else:
        try:
            context.title, context.body = checked(request.POST)
        except InputError as error:
            request.session.flash(error_text(request, error), "error")
        else:
            request.session.flash(translate(request, N_("The reply was saved.")), "success")
    return HTTPSeeOther(back)


def _move(request: Request, reply: CannedReply, step: int) -> None:
    department = request.dbsession.get(Department, reply.department_id)
    assert department is not None  # the foreign key cascades
    ordered = _replies(request, department)
    index = ordered.index(reply)
    target = index + step
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for n, r in enumerate(ordered, start=1):
        r.sort_order = n
