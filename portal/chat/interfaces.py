"""Contracts of the chat domain: who acts, what can go wrong, what the service does.

``IChatService`` is shared by the realtime server (it calls it from worker threads,
one transaction per call, see ``realtime.dispatch.Hub.run_db``) and by the portal's
HTTP views (transcripts, reports, 留言, the staff console's pages). Every method is
synchronous and takes the caller's SQLAlchemy ``Session``: the service never commits,
so "persisted before acknowledged" means "the caller's transaction committed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zope.interface import Interface

from portal.errors import InputError
from portal.roles import Role

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.chat.models import CannedReply, ChatMessage, Conversation

#: roles that answer chats for their department
HANDLING_ROLES = frozenset({Role.STAFF.value, Role.HEAD.value})
#: roles that may read the conversations of departments they oversee, never write
OVERSIGHT_ROLES = frozenset({Role.LEADER.value, Role.SUPERVISOR.value, Role.HEAD.value})


@dataclass(frozen=True)
class ChatActor:
    """Who performs a chat operation: built from a ``realtime.tokens.Claims`` in the
    realtime server and from the logged-in ``User`` in the portal."""

    user_id: int
    name: str
    roles: frozenset[str]
    departments: tuple[int, ...] = ()
    enterprise_id: int | None = None
    #: departments a leader or supervisor oversees (read-only); ``None`` = all of them
    oversees: tuple[int, ...] | None = ()

    @property
    def is_enterprise(self) -> bool:
        return self.enterprise_id is not None and Role.ENTERPRISE.value in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & HANDLING_ROLES) and bool(self.departments)

    def handles(self, department_id: int) -> bool:
        return self.is_staff and department_id in self.departments

    @classmethod
    def from_claims(cls, claims: Any) -> ChatActor:
        if claims.user_id is None:
            raise ChatForbidden("anonymous")
        oversees = claims.extra.get("oversees", ())
        return cls(
            user_id=claims.user_id,
            name=claims.name,
            roles=frozenset(claims.roles),
            departments=tuple(claims.departments),
            enterprise_id=claims.enterprise_id,
            oversees=None if oversees == "all" else tuple(int(d) for d in oversees),
        )

    @classmethod
    def from_user(cls, user: User, oversees: Sequence[int] | None = ()) -> ChatActor:
        return cls(
            user_id=user.id,
            name=user.display_name,
            roles=frozenset(r.value for r in user.roles),
            departments=(user.department_id,) if user.department_id is not None else (),
            enterprise_id=user.enterprise_id,
            oversees=None if oversees is None else tuple(oversees),
        )


@dataclass(frozen=True)
class QueueInfo:
    """Where a waiting conversation stands: 1 = next. ``wait_seconds`` is an estimate."""

    position: int
    waiting: int
    wait_seconds: int

    def as_json(self) -> dict[str, int]:
        return {"position": self.position, "waiting": self.waiting, "wait": self.wait_seconds}


@dataclass(frozen=True)
class Posted:
    """The stored message, and whether this call stored it (False = a resend)."""

    message: ChatMessage
    created: bool


@dataclass(frozen=True)
class Draft:
    """One message to store with ``post_batch`` (a ``chat.send`` waiting for the
    realtime server's writer)."""

    actor: ChatActor
    conversation_id: int
    client_msg_id: str
    body: str
    kind: str = "text"
    attachment_id: str | None = None


@dataclass(frozen=True)
class Stored:
    """A message of a batch as the protocol shows it (``message``: the JSON object of
    docs/realtime-protocol.md), and whether this batch stored it (False = a resend of
    a stored message, or the second copy of one inside the same batch)."""

    message: dict[str, Any]
    created: bool


class ChatError(Exception):
    """A chat operation refused; ``code`` is the protocol's error code."""

    code = "invalid"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


class ChatNotFound(ChatError):
    """No such conversation, or not one the actor may see (the two are not told apart,
    so ids of other enterprises' conversations reveal nothing)."""

    code = "not_found"


class ChatForbidden(ChatError):
    code = "forbidden"


class ChatConflict(ChatError):
    """The conversation is not in a state that allows it (already claimed, closed)."""

    code = "conflict"


class DepartmentOffline(ChatError):
    """Nobody is online in the department: the client offers 留言 instead."""

    code = "department_offline"


class ChatInputError(InputError, ChatError):
    """Bad field values (empty body, rating out of range); the UI shows ``message``."""

    code = "invalid"

    def __init__(self, field: str, message: str, **mapping: object) -> None:
        InputError.__init__(self, field, message, **mapping)
        self.detail = f"{field}: {message}"


class IChatService(Interface):
    """Every chat change, on the caller's session. Raises ChatError subclasses."""

    # -- conversations ------------------------------------------------------------
    def get(session: Any, actor: ChatActor, conversation_id: int) -> Conversation:
        """The conversation if ``actor`` may see it, else ChatNotFound."""

    def side_of(actor: ChatActor, conv: Conversation) -> str | None:
        """ "enterprise", "staff", "observer" (read-only) or None (no access)."""

    def open_conversation(
        session: Any, actor: ChatActor, department_id: int, topic: str = ""
    ) -> Conversation:
        """Open (or return the still-open) conversation of the actor's enterprise with
        a department and route it: assigned round-robin to an online staff member under
        the open-chat limit, else queued. DepartmentOffline if no staff is online."""

    def claim(session: Any, actor: ChatActor, conversation_id: int) -> Conversation:
        """A staff member of the department takes a waiting conversation (or one of a
        colleague, as head). ChatConflict if someone else got it first."""

    def transfer(
        session: Any,
        actor: ChatActor,
        conversation_id: int,
        *,
        to_staff_id: int | None = None,
        to_department_id: int | None = None,
        note: str = "",
    ) -> Conversation:
        """Hand over to a colleague (assigned at once) or to another department (queued
        there and routed). Logs a Transfer and posts a system message."""

    def close(
        session: Any, actor: ChatActor, conversation_id: int, *, reason: str | None = None
    ) -> Conversation:
        """Close; idempotent on a closed conversation. A conversation closed while
        still waiting counts as missed (reason ``abandoned``). The freed slot goes to
        the department's queue at once (``dispatch_waiting``)."""

    def rate(
        session: Any, actor: ChatActor, conversation_id: int, rating: int, comment: str = ""
    ) -> Conversation:
        """The enterprise rates 1 (非常不满意) … 5 (非常满意); closes it if still open."""

    def dispatch_waiting(session: Any, department_id: int) -> list[Conversation]:
        """Assign queued conversations while online staff have room (after a close, a
        staff member coming online, a transfer); returns those assigned."""

    def queue_info(session: Any, conversation_id: int) -> QueueInfo | None:
        """Queue position and estimated wait; None unless the conversation waits."""

    def queue_infos(session: Any, department_id: int) -> dict[int, QueueInfo]:
        """Queue position and wait of every conversation waiting in the department."""

    def inbox(
        session: Any, actor: ChatActor, view: str, department_id: int | None = None
    ) -> list[Conversation]:
        """Staff inbox: ``waiting`` (the department's queue), ``mine`` (open, assigned
        to the actor), ``open`` (all open of the department)."""

    def history(session: Any, actor: ChatActor, limit: int = 50) -> list[Conversation]:
        """The enterprise's conversations, newest first (to reopen them)."""

    # -- messages -----------------------------------------------------------------
    def post_message(
        session: Any,
        actor: ChatActor,
        conversation_id: int,
        *,
        body: str,
        client_msg_id: str | None,
        kind: str = "text",
        attachment_id: str | None = None,
    ) -> Posted:
        """Store a message with the next per-conversation seq. A resend with the same
        ``client_msg_id`` returns the stored message (``created=False``), never a second
        row."""

    def post_batch(session: Any, drafts: Sequence[Draft]) -> list[Stored | ChatError]:
        """Store many messages with few statements (the realtime server's group
        commit): one result per draft, in order, either ``Stored`` or the ChatError
        that refuses that draft alone. Seqs follow the drafts' order within each
        conversation; a resend (also one repeated inside the batch) gets the stored
        message with ``created=False``. Any other exception (a database error) means
        the caller must roll the whole batch back."""

    def check_draft(draft: Draft) -> None:
        """The checks that need no database (body, kind, client id): ChatInputError."""

    def post_system(session: Any, conv: Conversation, body: str) -> ChatMessage:
        """A system line in the conversation (transfer, close)."""

    def messages_since(
        session: Any, actor: ChatActor, conversation_id: int, seq: int, limit: int = 200
    ) -> list[ChatMessage]:
        """Messages with seq > ``seq``, in order, at most ``limit``."""

    def mark_read(session: Any, actor: ChatActor, conversation_id: int, seq: int) -> int:
        """Raise the actor's side's read mark to ``seq`` (never lowers it); returns it."""

    def unread_counts(session: Any, actor: ChatActor) -> dict[int, int]:
        """Unread messages per open conversation of the actor (the other side's)."""

    def transcript(session: Any, conversation_id: int) -> str:
        """The conversation as plain text (for the email the chat-web side sends)."""

    # -- presence -----------------------------------------------------------------
    def set_status(session: Any, actor: ChatActor, status: str) -> None:
        """Staff chose 在线/忙碌/离开; marks them connected (``seen_at`` now)."""

    def touch(session: Any, user_ids: Sequence[int]) -> None:
        """Still connected: refresh ``seen_at`` of these staff."""

    def disconnect(session: Any, user_ids: Sequence[int]) -> None:
        """Their last connection closed: not connected any more."""

    def connect(session: Any, actor: ChatActor) -> str:
        """A staff connection opened: connected now, with the status they chose last
        (在线 the first time); returns that status."""

    def online_departments(session: Any) -> dict[int, int]:
        """department id → number of staff online and connected (only those > 0)."""

    def staff_status(session: Any, department_id: int) -> list[dict[str, Any]]:
        """The department's staff: id, name, status, connected, open chats."""

    # -- canned replies -----------------------------------------------------------
    def canned_replies(session: Any, department_id: int) -> list[CannedReply]: ...

    def add_canned_reply(
        session: Any, actor: ChatActor, department_id: int, title: str, body: str
    ) -> CannedReply: ...

    def delete_canned_reply(session: Any, actor: ChatActor, reply_id: int) -> None: ...
