"""Who may do what with chat: the ACLs of a conversation and of the chat pages.

A conversation's ACL is computed from its data, like a content item's: the
enterprise it belongs to reads it (the user who opened it rates it), the staff of
the department that now holds it handle it, and the department's 分管领导 and the
supervisors read it. As everywhere in the portal the administrator passes every check
(the chat service still refuses him what only a party may do, like rating); the list
ends in DENY_ALL, so nothing is inherited from the site's ACL.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow
from pyramid.request import Request
from sqlalchemy import select

from portal import roles as P
from portal.chat.models import CannedReply, ChatAttachment, Conversation, ConvState
from portal.departments.models import Department
from portal.departments.oversight import NONE, Oversight
from portal.permissions import Permission as Perm
from portal.roles import Role

ADMIN_ALL = (Allow, P.role(Role.ADMIN), ALL_PERMISSIONS)

#: roles whose holders work the chat console of their department
CONSOLE_ROLES = (Role.STAFF, Role.HEAD)


def _dept_staff(department_id: int) -> list[str]:
    return [P.scoped(r, department_id) for r in CONSOLE_ROLES]


def readers(conversation: Conversation, user: Any, oversight: Oversight) -> list[str]:
    """Principals that may read ``conversation`` (and download its attachments):
    its opener and enterprise, the department's staff, and ``user`` (the request's) if
    they oversee the department by the city's one rule (a 分管领导, the mayor, a
    supervisor of that department or of the city)."""
    found = [P.user(conversation.user_id), *_dept_staff(conversation.department_id)]
    if conversation.enterprise_id is not None:
        found.append(P.enterprise(conversation.enterprise_id))
    if user is not None and oversight.covers(conversation.department_id):
        found.append(P.user(user.id))
    return found


def conversation_acl(
    conversation: Conversation, user: Any = None, oversight: Oversight = NONE
) -> list[Any]:
    acl: list[Any] = [ADMIN_ALL]
    acl += [(Allow, p, Perm.CHAT_VIEW) for p in readers(conversation, user, oversight)]
    opener = P.user(conversation.user_id)
    staff = _dept_staff(conversation.department_id)
    acl += [(Allow, p, Perm.CHAT_HANDLE) for p in staff]
    if conversation.state == ConvState.CLOSED:
        acl.append((Allow, opener, Perm.CHAT_RATE))
    else:
        acl += [(Allow, p, Perm.CHAT_POST) for p in (opener, *staff)]
    acl.append(DENY_ALL)
    return acl


class ChatArea:
    """The context of the chat pages that are not about one conversation."""

    __acl__ = [
        (Allow, P.role(Role.ENTERPRISE), Perm.CHAT_START),
        *((Allow, P.role(r), (Perm.CHAT_CONSOLE, Perm.CHAT_CANNED)) for r in CONSOLE_ROLES),
        (Allow, P.role(Role.HEAD), (Perm.CHAT_REPORTS, Perm.CHAT_OVERSIGHT)),
        (Allow, P.role(Role.LEADER), (Perm.CHAT_REPORTS, Perm.CHAT_OVERSIGHT)),
        (Allow, P.role(Role.SUPERVISOR), (Perm.CHAT_REPORTS, Perm.CHAT_OVERSIGHT)),
        ADMIN_ALL,
    ]

    def __init__(self, request: Request) -> None:
        self.request = request


def area_factory(request: Request) -> ChatArea:
    return ChatArea(request)


def department_factory(request: Request) -> Department:
    """The department an enterprise chats with, under the ChatArea's ACL."""
    found = request.dbsession.scalar(
        select(Department).where(
            Department.code == request.matchdict["code"], Department.is_active.is_(True)
        )
    )
    if found is None:
        raise KeyError(request.matchdict["code"])
    found.__parent__ = ChatArea(request)
    return found


def with_acl(request: Request, conversation: Conversation) -> Conversation:
    conversation.__acl__ = conversation_acl(  # type: ignore[attr-defined]
        conversation, request.user, request.oversight
    )
    return conversation


def conversation_factory(request: Request) -> Conversation:
    raw = request.matchdict["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    found = request.dbsession.get(Conversation, int(raw))
    if found is None:
        raise KeyError(raw)
    return with_acl(request, found)


def chat_attachment_factory(request: Request) -> ChatAttachment:
    """An attachment is visible exactly to those who may read its conversation."""
    ident = request.matchdict["id"]
    if not (len(ident) == 32 and ident.isalnum()):
        raise KeyError(ident)
    found = request.dbsession.get(ChatAttachment, ident)
    if found is None:
        raise KeyError(ident)
    conversation = request.dbsession.get(Conversation, found.conversation_id)
    assert conversation is not None  # the foreign key cascades
    found.__acl__ = [
        ADMIN_ALL,
        *(
            (Allow, p, Perm.CHAT_VIEW)
            for p in readers(conversation, request.user, request.oversight)
        ),
        DENY_ALL,
    ]
    return found


def canned_factory(request: Request) -> CannedReply:
    raw = request.matchdict["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise KeyError(raw)
    found = request.dbsession.get(CannedReply, int(raw))
    if found is None:
        raise KeyError(raw)
    found.__acl__ = [
        *((Allow, p, Perm.CHAT_CANNED) for p in _dept_staff(found.department_id)),
        ADMIN_ALL,
        DENY_ALL,
    ]
    return found
