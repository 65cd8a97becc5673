"""Chat pages over HTTP: the enterprise's chat with a department, its history, the
staff console, a conversation's transcript, and oversight.

The conversation itself runs over the realtime server (static/chat/*.js speaks the
protocol of docs/realtime-protocol.md); these views render the pages the scripts
live in and everything that is not a live message: reading a transcript, the lists.
"""

from __future__ import annotations

import sys
from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from pyramid_retry import is_error_retryable
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import Enterprise, User
from portal.chat.interfaces import ChatActor, IChatService
from portal.chat.models import (
    CannedReply,
    ChatMessage,
    Conversation,
    ConvState,
    Side,
    StaffPresence,
    Status,
)
from portal.chat.resources import with_acl
from portal.chat.uitext import ui_text
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.paging import Page
from portal.permissions import Permission as Perm

TPL = "portal:templates/chat/{}.jinja2"

STATE_LABELS = {
    ConvState.WAITING.value: N_("Waiting"),
    ConvState.OPEN.value: N_("In progress"),
    ConvState.CLOSED.value: N_("Closed"),
}

#: what a refused chat operation tells the user, by ChatError code
ERROR_MESSAGES = {
    "not_found": N_("This conversation does not exist or is not yours to see."),
    "forbidden": N_("You may not do this in this conversation."),
    "conflict": N_("Someone changed this conversation just now. Please reload the page."),
    "department_offline": N_("Nobody in this department is online at the moment."),
    "invalid": N_("The request was not valid."),
}

HTTP_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409}


# -- helpers shared by the chat views -----------------------------------------------------
def chat_service(request: Request) -> Any:
    return request.find_service(IChatService)


def actor_of(request: Request) -> ChatActor:
    """The signed-in user as the chat service sees them, with their oversight scope."""
    scope = request.oversight
    return ChatActor.from_user(
        request.user, oversees=None if scope.everything else sorted(scope.department_ids)
    )


def wants_json(request: Request) -> bool:
    """The chat scripts ask for JSON; a plain form post (no JavaScript) gets a page."""
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"


def translate(request: Request, msgid: str, **mapping: Any) -> str:
    return str(get_localizer(request).translate(_(msgid, mapping=mapping)))


def error_text(request: Request, error: Exception) -> str:
    if isinstance(error, InputError):
        return translate(request, error.message, **error.mapping)
    code = getattr(error, "code", "invalid")
    return translate(request, ERROR_MESSAGES.get(code, ERROR_MESSAGES["invalid"]))


def refused(request: Request, error: Exception, back: str, status: int | None = None) -> Any:
    """Answer a refused change: JSON with the message for scripts, else flash and go back."""
    message = error_text(request, error)
    if wants_json(request):
        code = getattr(error, "code", "invalid")
        field = getattr(error, "field", None)
        response = request.response
        response.status = status or HTTP_STATUS.get(code, 400)
        response.cache_control.no_store = True
        return _json(request, {"ok": False, "code": code, "field": field, "message": message})
    request.session.flash(message, "error")
    return HTTPSeeOther(back)


def done(request: Request, message: str, back: str, **data: Any) -> Any:
    """Answer a change that went through (Post/Redirect/Get for forms)."""
    if wants_json(request):
        return _json(request, {"ok": True, "message": message, **data})
    request.session.flash(message, "success")
    return HTTPSeeOther(back)


def _json(request: Request, data: dict[str, Any]) -> Response:
    from pyramid.renderers import render_to_response

    response = render_to_response("json", data, request=request)
    response.status = request.response.status
    response.cache_control.no_store = True
    return response


def _names(db: Session, key: Any, name: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.execute(select(key, name).where(key.in_(wanted))).all())


def close_body(request: Request) -> None:
    """Close the spool file WebOb keeps the body in (it never does), unless the request
    is about to be replayed (pyramid_retry, after SQLite said "locked"): then the next
    attempt reads it again. Finished callbacks run in the router's ``finally``, so the
    exception on its way out, if any, is the current one."""
    failed = sys.exc_info()[1]
    if isinstance(failed, Exception) and is_error_retryable(request, failed):
        return
    request.body_file_raw.close()


def department_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    return _names(db, Department.id, Department.name, ids)


def user_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    return _names(db, User.id, User.display_name, ids)


def enterprise_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    return _names(db, Enterprise.id, Enterprise.name, ids)


# -- the enterprise side ------------------------------------------------------------------
@view_config(
    route_name="chat.department",
    request_method="GET",
    renderer=TPL.format("department"),
    permission=Perm.CHAT_START,
)
def department_chat(context: Department, request: Request) -> dict[str, Any]:
    """The chat widget with one department: live when its staff are online, 留言 when not."""
    db = request.dbsession
    user = request.user
    past = db.scalars(
        select(Conversation)
        .where(
            Conversation.department_id == context.id,
            Conversation.enterprise_id == user.enterprise_id,
        )
        .order_by(Conversation.created_at.desc())
        .limit(10)
    ).all()
    from portal.chat.closing import RATINGS
    from portal.chat.offline import MESSAGE_KINDS

    return {
        "department": context,
        "past": past,
        "state_labels": STATE_LABELS,
        "max_upload_mb": request.registry.settings["qzt.upload.max_bytes"] >> 20,
        "default_email": user.email or "",
        "ratings": RATINGS,
        "message_kinds": MESSAGE_KINDS,
        "offline_error": None,
        "offline_values": None,
        "text": ui_text(request),
    }


@view_config(
    route_name="chat.mine",
    request_method="GET",
    renderer=TPL.format("mine"),
    permission=Perm.CHAT_START,
)
def my_conversations(request: Request) -> dict[str, Any]:
    """The enterprise's conversations, newest first, with unread counts."""
    db = request.dbsession
    page_no = _page_number(request)
    stmt = select(Conversation).where(Conversation.enterprise_id == request.user.enterprise_id)
    page = _page(db, stmt.order_by(Conversation.created_at.desc()), page_no)
    unread = unread_for_enterprise(db, [c.id for c in page.items])
    return {
        "page": page,
        "departments": department_names(db, {c.department_id for c in page.items}),
        "staff": user_names(db, {c.staff_id for c in page.items}),
        "state_labels": STATE_LABELS,
        "unread": unread,
    }


def unread_for_enterprise(db: Session, ids: list[int]) -> dict[int, int]:
    """Staff messages after the enterprise's read mark, per conversation (the protocol's
    rule: only the other side's messages count)."""
    if not ids:
        return {}
    rows = db.execute(
        select(ChatMessage.conversation_id, func.count())
        .join(Conversation, Conversation.id == ChatMessage.conversation_id)
        .where(
            ChatMessage.conversation_id.in_(ids),
            ChatMessage.seq > Conversation.enterprise_read_seq,
            ChatMessage.sender_side == Side.STAFF.value,
        )
        .group_by(ChatMessage.conversation_id)
    )
    return dict(rows.all())


# -- the staff console --------------------------------------------------------------------
@view_config(
    route_name="chat.console",
    request_method="GET",
    renderer=TPL.format("console"),
    permission=Perm.CHAT_CONSOLE,
)
def console(request: Request) -> dict[str, Any]:
    db = request.dbsession
    user = request.user
    department = db.get(Department, user.department_id) if user.department_id else None
    colleagues: list[Any] = []
    if department is not None:
        colleagues = list(
            db.execute(
                select(User.id, User.display_name)
                .where(
                    User.department_id == department.id,
                    User.is_active.is_(True),
                    User.id != user.id,
                )
                .order_by(User.display_name)
            )
        )
    departments = db.execute(
        select(Department.id, Department.name)
        .where(Department.is_active.is_(True))
        .order_by(Department.sort_order)
    ).all()
    presence = db.get(StaffPresence, user.id)
    canned = []
    if department is not None:
        canned = db.scalars(
            select(CannedReply)
            .where(CannedReply.department_id == department.id)
            .order_by(CannedReply.sort_order, CannedReply.id)
        ).all()
    return {
        "department": department,
        "colleagues": colleagues,
        "departments": [d for d in departments if department is None or d.id != department.id],
        "canned": canned,
        "max_upload_mb": request.registry.settings["qzt.upload.max_bytes"] >> 20,
        "text": ui_text(request),
        # the status remembered from last time: the server restores it on connect
        "status": presence.status if presence is not None else Status.ONLINE.value,
    }


MAX_DETAILS = 100


@view_config(
    route_name="chat.details", request_method="GET", renderer="json", permission=Perm.CHAT_CONSOLE
)
def details(request: Request) -> dict[str, Any]:
    """Names the console shows for conversations (the protocol carries only ids): only
    for conversations the asker may read."""
    db = request.dbsession
    ids = {int(i) for i in request.GET.getall("id") if i.isdigit() and len(i) < 12}
    convs = db.scalars(
        select(Conversation).where(Conversation.id.in_(sorted(ids)[:MAX_DETAILS]))
    ).all()
    readable = [c for c in convs if request.has_permission(Perm.CHAT_VIEW, with_acl(request, c))]
    enterprises = enterprise_names(db, {c.enterprise_id for c in readable})
    people = user_names(db, {c.user_id for c in readable} | {c.staff_id for c in readable})
    depts = department_names(db, {c.department_id for c in readable})
    request.response.cache_control.no_store = True
    return {
        "conversations": {
            str(c.id): {
                "enterprise": enterprises.get(c.enterprise_id or 0, ""),
                "user": people.get(c.user_id, ""),
                "staff": people.get(c.staff_id or 0, ""),
                "department": depts.get(c.department_id, ""),
                "topic": c.topic,
            }
            for c in readable
        }
    }


# -- one conversation ---------------------------------------------------------------------
@view_config(
    route_name="chat.conversation",
    request_method="GET",
    renderer=TPL.format("conversation"),
    permission=Perm.CHAT_VIEW,
)
def conversation_page(context: Conversation, request: Request) -> dict[str, Any]:
    """The transcript, read-only; the rating form for the enterprise once it is closed,
    and "turn into a case" for the department's staff."""
    from portal.chat.closing import RATINGS

    db = request.dbsession
    messages = db.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == context.id)
        .order_by(ChatMessage.seq)
    ).all()
    enterprise = db.get(Enterprise, context.enterprise_id) if context.enterprise_id else None
    department = db.get(Department, context.department_id)
    can = request.has_permission
    handles = bool(can(Perm.CHAT_HANDLE, context))
    is_party = request.user.id == context.user_id or handles
    my_side = "enterprise" if request.user.id == context.user_id else "staff" if handles else ""
    return {
        "conv": context,
        "messages": messages,
        "enterprise": enterprise,
        "department": department,
        "staff_name": user_names(db, {context.staff_id}).get(context.staff_id or 0, ""),
        "opener_name": user_names(db, {context.user_id}).get(context.user_id, ""),
        "state_labels": STATE_LABELS,
        "ratings": RATINGS,
        "can_rate": bool(can(Perm.CHAT_RATE, context)) and context.rating is None,
        "can_handle": handles,
        "is_party": is_party,
        # whose messages are "mine" on the page (an observer has none)
        "my_side": my_side,
        "text": ui_text(request),
    }


# -- oversight ----------------------------------------------------------------------------
OVERSIGHT_PAGE_SIZE = 30


@view_config(
    route_name="chat.oversight",
    request_method="GET",
    renderer=TPL.format("oversight"),
    permission=Perm.CHAT_OVERSIGHT,
)
def oversight(request: Request) -> dict[str, Any]:
    """Conversations of the departments the reader oversees, newest first, read-only."""
    db = request.dbsession
    scope = request.oversight
    departments = _scoped_departments(db, scope)
    chosen = _int_param(request, "department")
    state = request.GET.get("state", "")
    stmt = select(Conversation)
    if not scope.everything:
        stmt = stmt.where(Conversation.department_id.in_(scope.department_ids))
    if chosen is not None and scope.covers(chosen):
        stmt = stmt.where(Conversation.department_id == chosen)
    if state in STATE_LABELS:
        stmt = stmt.where(Conversation.state == state)
    page = _page(db, stmt.order_by(Conversation.created_at.desc()), _page_number(request))
    return {
        "page": page,
        "departments": departments,
        "names": {d.id: d.name for d in departments},
        "enterprises": enterprise_names(db, {c.enterprise_id for c in page.items}),
        "staff": user_names(db, {c.staff_id for c in page.items}),
        "chosen": chosen,
        "state": state,
        "state_labels": STATE_LABELS,
    }


def _scoped_departments(db: Session, scope: Any) -> list[Any]:
    stmt = select(Department.id, Department.name).order_by(Department.sort_order)
    if not scope.everything:
        stmt = stmt.where(Department.id.in_(scope.department_ids))
    return list(db.execute(stmt).all())


# -- small utilities ----------------------------------------------------------------------
def _int_param(request: Request, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _page_number(request: Request) -> int:
    return max(1, _int_param(request, "page") or 1)


def _page(db: Session, stmt: Any, number: int) -> Page:
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = db.scalars(
        stmt.limit(OVERSIGHT_PAGE_SIZE).offset((number - 1) * OVERSIGHT_PAGE_SIZE)
    ).all()
    return Page(list(items), number, OVERSIGHT_PAGE_SIZE, total)
