"""The only code that changes chat data (see ``IChatService`` for the contract).

Why the sequence number comes from ``UPDATE … SET last_seq = last_seq + 1 RETURNING``:
it is one statement that both allocates the number and locks the conversation row
until the transaction ends, so two processes posting into one conversation at once
get consecutive numbers in commit order, on PostgreSQL and on SQLite alike, without a
table lock or a retry loop. Idempotent resends rest on the unique constraint
(conversation, sender, client_msg_id), and the check for a stored resend runs
after the conversation row is locked, so a resend racing its original finds it.

Each change is also noted on the session (``Notes`` in ``session.info``): messages
stored, conversations that changed and how, departments whose queue moved. A caller
that broadcasts (the realtime server) reads them with ``take_notes`` before it
commits, so system lines and routing decisions made deep inside an operation (a
close that lets a queued conversation through) are announced too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from zope.interface import implementer

from portal.accounts.models import User
from portal.chat import batch, routing
from portal.chat.batch import MAX_CLIENT_ID
from portal.chat.interfaces import (
    HANDLING_ROLES,
    OVERSIGHT_ROLES,
    ChatActor,
    ChatConflict,
    ChatForbidden,
    ChatInputError,
    ChatNotFound,
    DepartmentOffline,
    Draft,
    IChatService,
    Posted,
    QueueInfo,
)
from portal.chat.models import (
    CannedReply,
    ChatAttachment,
    ChatMessage,
    CloseReason,
    Conversation,
    ConvState,
    MessageKind,
    Side,
    StaffPresence,
    Status,
    Transfer,
)
from portal.clock import IClock, local
from portal.departments.models import Department
from portal.departments.oversight import oversight_of
from portal.i18n import N_
from portal.roles import Role

NOTES_KEY = "qzt.chat.notes"


@dataclass
class Notes:
    """What changed in this session, in order (for broadcasting after the work)."""

    messages: list[ChatMessage] = field(default_factory=list)
    conversations: list[tuple[Conversation, str]] = field(default_factory=list)
    queues: set[int] = field(default_factory=set)


def notes(session: Session) -> Notes:
    found: Notes = session.info.setdefault(NOTES_KEY, Notes())
    return found


def take_notes(session: Session) -> Notes:
    """The notes so far, forgetting them; messages rolled back (a savepoint lost to a
    concurrent resend) are left out."""
    taken: Notes = session.info.pop(NOTES_KEY, None) or Notes()
    taken.messages = [m for m in taken.messages if inspect(m).persistent]
    return taken


MAX_TOPIC = 200
MAX_NOTE = 500
MAX_COMMENT = 1000
#: closed conversations the wait estimate learns the average handling time from
HANDLING_SAMPLE = 50


def oversight_scope(session: Session, user: User) -> tuple[int, ...] | None:
    """Departments whose conversations ``user`` may read without taking part (None:
    all of them), by the city's one oversight rule (portal.departments.oversight)."""
    found = oversight_of(session, user)
    return None if found.everything else tuple(sorted(found.department_ids))


@implementer(IChatService)
class ChatService:
    def __init__(
        self,
        clock: IClock,
        *,
        max_open_per_staff: int = 3,
        max_body_chars: int = 2000,
        presence_ttl: float = 30,
    ) -> None:
        self.clock = clock
        self.limit = max_open_per_staff
        self.max_body = max_body_chars
        self.presence_ttl = timedelta(seconds=presence_ttl)

    # -- access -------------------------------------------------------------------
    def side_of(self, actor: ChatActor, conv: Conversation) -> str | None:
        if actor.is_enterprise and conv.enterprise_id == actor.enterprise_id:
            return Side.ENTERPRISE
        if conv.user_id == actor.user_id:
            return Side.ENTERPRISE
        if actor.handles(conv.department_id) or (conv.staff_id == actor.user_id and actor.is_staff):
            return Side.STAFF
        if actor.roles & OVERSIGHT_ROLES and (
            actor.oversees is None or conv.department_id in actor.oversees
        ):
            return "observer"
        return None

    def get(self, session: Session, actor: ChatActor, conversation_id: int) -> Conversation:
        conv = session.get(Conversation, conversation_id)
        if conv is None or self.side_of(actor, conv) is None:
            raise ChatNotFound(f"conversation {conversation_id}")
        return conv

    def _get_locked(self, session: Session, actor: ChatActor, conversation_id: int) -> Conversation:
        # FOR UPDATE: claim/transfer/close of one conversation run one at a time
        # across processes (SQLite serialises writers anyway).
        conv = session.scalars(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if conv is None or self.side_of(actor, conv) is None:
            raise ChatNotFound(f"conversation {conversation_id}")
        return conv

    def _writer_side(self, actor: ChatActor, conv: Conversation) -> str:
        side = self.side_of(actor, conv)
        if side not in (Side.ENTERPRISE, Side.STAFF):
            raise ChatForbidden("read-only")
        return str(side)

    # -- presence -----------------------------------------------------------------
    def _fresh_since(self) -> datetime:
        return self.clock.now() - self.presence_ttl

    def connect(self, session: Session, actor: ChatActor) -> str:
        """A staff connection authenticated: connected from now, with the status they
        chose last time (在线 the first time). Returns the status."""
        if not actor.is_staff:
            raise ChatForbidden("staff only")
        now = self.clock.now()
        row = session.get(StaffPresence, actor.user_id)
        if row is None:
            row = StaffPresence(
                user_id=actor.user_id,
                department_id=actor.departments[0],
                status=Status.ONLINE,
                updated_at=now,
            )
            session.add(row)
        row.department_id = actor.departments[0]
        row.seen_at = now
        session.flush()
        return row.status

    def set_status(self, session: Session, actor: ChatActor, status: str) -> None:
        if status not in set(Status):
            raise ChatInputError("status", N_("Unknown status."))
        self.connect(session, actor)
        row = session.get(StaffPresence, actor.user_id)
        assert row is not None
        row.status = status
        row.updated_at = self.clock.now()
        session.flush()

    def _in_order(self, user_ids: Sequence[int]) -> Any:
        # An UPDATE locks rows in whatever order it scans them; routing locks the same
        # rows ordered by user id (``_loads``). Two orders deadlock (seen under the
        # benchmark's burst of 900 openings beside the presence sweep): lock in the
        # one order first.
        return (
            select(StaffPresence.user_id)
            .where(StaffPresence.user_id.in_(sorted(user_ids)))
            .order_by(StaffPresence.user_id)
            .with_for_update()
        )

    def touch(self, session: Session, user_ids: Sequence[int]) -> None:
        if user_ids:
            session.execute(
                update(StaffPresence)
                .where(StaffPresence.user_id.in_(self._in_order(user_ids).scalar_subquery()))
                .values(seen_at=self.clock.now()),
                execution_options={"synchronize_session": False},
            )

    def disconnect(self, session: Session, user_ids: Sequence[int]) -> None:
        if user_ids:
            session.execute(
                update(StaffPresence)
                .where(StaffPresence.user_id.in_(self._in_order(user_ids).scalar_subquery()))
                .values(seen_at=None),
                execution_options={"synchronize_session": False},
            )

    def online_departments(self, session: Session) -> dict[int, int]:
        rows = session.execute(
            select(StaffPresence.department_id, func.count())
            .where(
                StaffPresence.status == Status.ONLINE,
                StaffPresence.seen_at >= self._fresh_since(),
            )
            .group_by(StaffPresence.department_id)
        )
        return {int(dept): int(count) for dept, count in rows}

    def staff_status(self, session: Session, department_id: int) -> list[dict[str, Any]]:
        """Colleagues of a department with their status and whether connected (for the
        console's transfer menu); never-connected staff are listed as away."""
        fresh = self._fresh_since()
        rows = session.execute(
            select(User, StaffPresence)
            .outerjoin(StaffPresence, StaffPresence.user_id == User.id)
            .where(User.department_id == department_id, User.is_active.is_(True))
            .order_by(User.id)
        )
        found = []
        for user, presence in rows:
            if not user.roles & {Role(r) for r in HANDLING_ROLES}:
                continue
            connected = bool(presence and presence.seen_at and presence.seen_at >= fresh)
            found.append(
                {
                    "id": user.id,
                    "name": user.display_name,
                    "status": presence.status if presence else Status.AWAY,
                    "connected": connected,
                    "open": self._open_count(session, user.id),
                }
            )
        return found

    def _open_count(self, session: Session, staff_id: int) -> int:
        return (
            session.scalar(
                select(func.count()).where(
                    Conversation.staff_id == staff_id, Conversation.state == ConvState.OPEN
                )
            )
            or 0
        )

    # -- routing ------------------------------------------------------------------
    def _loads(self, session: Session, department_id: int) -> list[routing.StaffLoad]:
        # Locking the department's presence rows makes routing one-at-a-time per
        # department across processes: two simultaneous openings cannot both take the
        # last free slot of the same person.
        rows = session.scalars(
            select(StaffPresence)
            .where(
                StaffPresence.department_id == department_id,
                StaffPresence.status == Status.ONLINE,
                StaffPresence.seen_at >= self._fresh_since(),
            )
            .order_by(StaffPresence.user_id)
            .with_for_update()
        ).all()
        if not rows:
            return []
        counts = dict(
            session.execute(
                select(Conversation.staff_id, func.count())
                .where(
                    Conversation.staff_id.in_([r.user_id for r in rows]),
                    Conversation.state == ConvState.OPEN,
                )
                .group_by(Conversation.staff_id)
            ).all()
        )
        return [
            routing.StaffLoad(r.user_id, counts.get(r.user_id, 0), r.last_assigned_at) for r in rows
        ]

    def _assign(self, session: Session, conv: Conversation, staff_id: int) -> None:
        now = self.clock.now()
        conv.state = ConvState.OPEN
        conv.staff_id = staff_id
        conv.claimed_at = conv.claimed_at or now
        conv.queued_at = None
        presence = session.get(StaffPresence, staff_id)
        if presence is not None:
            presence.last_assigned_at = now
        staff = session.get(User, staff_id)
        notes(session).conversations.append((conv, "assigned"))
        notes(session).queues.add(conv.department_id)
        self.post_system(
            session,
            conv,
            "assigned",
            {"staff": staff_id, "name": staff.display_name if staff else ""},
        )

    def dispatch_waiting(self, session: Session, department_id: int) -> list[Conversation]:
        loads = {load.user_id: load for load in self._loads(session, department_id)}
        if not loads:
            return []
        waiting = session.scalars(
            select(Conversation)
            .where(
                Conversation.department_id == department_id,
                Conversation.state == ConvState.WAITING,
            )
            .order_by(Conversation.queued_at, Conversation.id)
            .with_for_update()
        ).all()
        assigned = []
        for conv in waiting:
            pick = routing.pick_staff(list(loads.values()), self.limit)
            if pick is None:
                break
            self._assign(session, conv, pick.user_id)
            loads[pick.user_id] = routing.StaffLoad(
                pick.user_id, pick.open_chats + 1, self.clock.now()
            )
            assigned.append(conv)
        session.flush()
        return assigned

    def queue_info(self, session: Session, conversation_id: int) -> QueueInfo | None:
        conv = session.get(Conversation, conversation_id)
        if conv is None or conv.state != ConvState.WAITING:
            return None
        return self.queue_infos(session, conv.department_id).get(conv.id)

    def queue_infos(self, session: Session, department_id: int) -> dict[int, QueueInfo]:
        """Queue position and wait of every conversation waiting in a department."""
        waiting = session.execute(
            select(Conversation.id, Conversation.queued_at, Conversation.created_at).where(
                Conversation.department_id == department_id,
                Conversation.state == ConvState.WAITING,
            )
        ).all()
        if not waiting:
            return {}
        queue = [(cid, queued or created) for cid, queued, created in waiting]
        online = self.online_departments(session).get(department_id, 0)
        handling = self._average_handling(session, department_id)
        found = {}
        for cid, _at in queue:
            position = routing.queue_position(queue, cid) or len(queue)
            wait = routing.estimated_wait(position, online, self.limit, handling)
            found[cid] = QueueInfo(position=position, waiting=len(queue), wait_seconds=wait)
        return found

    def _average_handling(self, session: Session, department_id: int) -> float | None:
        rows = session.execute(
            select(Conversation.claimed_at, Conversation.closed_at)
            .where(
                Conversation.department_id == department_id,
                Conversation.state == ConvState.CLOSED,
                Conversation.claimed_at.is_not(None),
            )
            .order_by(Conversation.closed_at.desc())
            .limit(HANDLING_SAMPLE)
        ).all()
        spans = [
            (closed - claimed).total_seconds() for claimed, closed in rows if closed and claimed
        ]
        return sum(spans) / len(spans) if spans else None

    # -- conversations ------------------------------------------------------------
    def open_conversation(
        self, session: Session, actor: ChatActor, department_id: int, topic: str = ""
    ) -> Conversation:
        if not actor.is_enterprise:
            raise ChatForbidden("enterprise users only")
        dept = session.get(Department, department_id)
        if dept is None or not dept.is_active:
            raise ChatNotFound(f"department {department_id}")
        current = session.scalars(
            select(Conversation)
            .where(
                Conversation.user_id == actor.user_id,
                Conversation.department_id == department_id,
                Conversation.state != ConvState.CLOSED,
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        ).first()
        if current is not None:
            return current
        if not self.online_departments(session).get(department_id):
            raise DepartmentOffline(f"department {department_id}")
        now = self.clock.now()
        conv = Conversation(
            enterprise_id=actor.enterprise_id,
            user_id=actor.user_id,
            department_id=department_id,
            state=ConvState.WAITING,
            topic=topic.strip()[:MAX_TOPIC],
            created_at=now,
            queued_at=now,
            last_seq=0,
            enterprise_read_seq=0,
            staff_read_seq=0,
            transfer_note="",
            rating_comment="",
        )
        session.add(conv)
        session.flush()
        notes(session).conversations.append((conv, "opened"))
        notes(session).queues.add(department_id)
        self.dispatch_waiting(session, department_id)
        return conv

    def claim(self, session: Session, actor: ChatActor, conversation_id: int) -> Conversation:
        conv = self._get_locked(session, actor, conversation_id)
        if not actor.handles(conv.department_id):
            raise ChatForbidden("not your department")
        if conv.state == ConvState.OPEN and conv.staff_id == actor.user_id:
            return conv
        if conv.state != ConvState.WAITING:
            raise ChatConflict(f"conversation {conv.id} is {conv.state}")
        self._assign(session, conv, actor.user_id)
        session.flush()
        return conv

    def transfer(
        self,
        session: Session,
        actor: ChatActor,
        conversation_id: int,
        *,
        to_staff_id: int | None = None,
        to_department_id: int | None = None,
        note: str = "",
    ) -> Conversation:
        conv = self._get_locked(session, actor, conversation_id)
        if conv.state == ConvState.CLOSED:
            raise ChatConflict(f"conversation {conv.id} is closed")
        is_head = Role.HEAD.value in actor.roles and actor.handles(conv.department_id)
        waiting_here = conv.state == ConvState.WAITING and actor.handles(conv.department_id)
        if conv.staff_id != actor.user_id and not is_head and not waiting_here:
            raise ChatForbidden("only the assigned staff or the head may transfer")
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise ChatInputError("note", N_("The note is too long."))
        from_staff, from_dept = conv.staff_id, conv.department_id
        if to_staff_id is not None:
            target = session.get(User, to_staff_id)
            if (
                target is None
                or not target.is_active
                or target.department_id is None
                or not {r.value for r in target.roles} & HANDLING_ROLES
            ):
                raise ChatNotFound(f"staff {to_staff_id}")
            if target.id == conv.staff_id:
                raise ChatConflict("already assigned to this person")
            conv.department_id = target.department_id
            self._assign(session, conv, target.id)
        elif to_department_id is not None:
            dept = session.get(Department, to_department_id)
            if dept is None or not dept.is_active:
                raise ChatNotFound(f"department {to_department_id}")
            if to_department_id == conv.department_id:
                raise ChatConflict("already in this department")
            if not self.online_departments(session).get(to_department_id):
                raise DepartmentOffline(f"department {to_department_id}")
            conv.department_id = to_department_id
            conv.staff_id = None
            conv.state = ConvState.WAITING
            # It has waited already: it keeps its place by its first arrival.
            conv.queued_at = conv.created_at
        else:
            raise ChatInputError("staff", N_("Choose a colleague or a department."))
        conv.transfer_note = note
        notes(session).conversations.append((conv, "transferred"))
        notes(session).queues.add(from_dept)
        session.add(
            Transfer(
                conversation_id=conv.id,
                by_id=actor.user_id,
                from_staff_id=from_staff,
                from_department_id=from_dept,
                to_staff_id=to_staff_id,
                to_department_id=conv.department_id,
                note=note,
                created_at=self.clock.now(),
            )
        )
        self.post_system(
            session,
            conv,
            "transferred",
            {
                "by": actor.name,
                "from_department": from_dept,
                "to_department": conv.department_id,
                "to_staff": to_staff_id,
                "note": note,
            },
        )
        session.flush()
        if conv.state == ConvState.WAITING:
            self.dispatch_waiting(session, conv.department_id)
        if from_staff is not None:
            self.dispatch_waiting(session, from_dept)  # the slot it left
        return conv

    def close(
        self,
        session: Session,
        actor: ChatActor,
        conversation_id: int,
        *,
        reason: str | None = None,
    ) -> Conversation:
        conv = self._get_locked(session, actor, conversation_id)
        side = self._writer_side(actor, conv)
        if conv.state == ConvState.CLOSED:
            return conv
        if side == Side.STAFF and not actor.handles(conv.department_id):
            raise ChatForbidden("not your department")
        if conv.claimed_at is None:
            reason = CloseReason.ABANDONED
        conv.close_reason = reason or (
            CloseReason.ENTERPRISE if side == Side.ENTERPRISE else CloseReason.STAFF
        )
        if conv.state == ConvState.WAITING:
            notes(session).queues.add(conv.department_id)
        conv.state = ConvState.CLOSED
        conv.closed_at = self.clock.now()
        conv.queued_at = None
        notes(session).conversations.append((conv, "closed"))
        self.post_system(session, conv, "closed", {"by": actor.name, "side": side})
        session.flush()
        self.dispatch_waiting(session, conv.department_id)  # a slot may have come free
        return conv

    def rate(
        self,
        session: Session,
        actor: ChatActor,
        conversation_id: int,
        rating: int,
        comment: str = "",
    ) -> Conversation:
        conv = self.get(session, actor, conversation_id)
        if self.side_of(actor, conv) != Side.ENTERPRISE:
            raise ChatForbidden("only the enterprise rates")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ChatInputError("rating", N_("Choose a rating from 1 to 5."))
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT:
            raise ChatInputError("comment", N_("The comment is too long."))
        if conv.rating is not None:
            # One rating per conversation, whichever door (widget form or websocket):
            # the department's report counts each conversation once.
            raise ChatInputError("rating", N_("This conversation has already been rated."))
        if conv.state != ConvState.CLOSED:
            conv = self.close(session, actor, conversation_id)
        conv.rating = rating
        conv.rating_comment = comment
        conv.rated_at = self.clock.now()
        notes(session).conversations.append((conv, "rated"))
        session.flush()
        return conv

    def inbox(
        self,
        session: Session,
        actor: ChatActor,
        view: str,
        department_id: int | None = None,
    ) -> list[Conversation]:
        dept = department_id if department_id is not None else next(iter(actor.departments), None)
        allowed = dept is not None and (
            actor.handles(dept)
            or (
                actor.roles & OVERSIGHT_ROLES and (actor.oversees is None or dept in actor.oversees)
            )
        )
        if not allowed:
            raise ChatForbidden("not your department")
        query = select(Conversation)
        if view == "waiting":
            query = query.where(
                Conversation.department_id == dept, Conversation.state == ConvState.WAITING
            ).order_by(Conversation.queued_at, Conversation.id)
        elif view == "mine":
            query = query.where(
                Conversation.staff_id == actor.user_id, Conversation.state == ConvState.OPEN
            ).order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        elif view == "open":
            query = query.where(
                Conversation.department_id == dept, Conversation.state == ConvState.OPEN
            ).order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        else:
            raise ChatInputError("view", N_("Unknown inbox view."))
        return list(session.scalars(query.limit(500)))

    def history(self, session: Session, actor: ChatActor, limit: int = 50) -> list[Conversation]:
        if not actor.is_enterprise:
            raise ChatForbidden("enterprise users only")
        return list(
            session.scalars(
                select(Conversation)
                .where(Conversation.enterprise_id == actor.enterprise_id)
                .order_by(Conversation.id.desc())
                .limit(limit)
            )
        )

    # -- messages -----------------------------------------------------------------
    def _by_client_id(
        self, session: Session, conv_id: int, sender_id: int, client_msg_id: str
    ) -> ChatMessage | None:
        return session.scalars(
            select(ChatMessage).where(
                ChatMessage.conversation_id == conv_id,
                ChatMessage.sender_id == sender_id,
                ChatMessage.client_msg_id == client_msg_id,
            )
        ).one_or_none()

    def _append(
        self,
        session: Session,
        conv: Conversation,
        *,
        side: str,
        sender_id: int | None,
        sender_name: str,
        body: str,
        kind: str,
        client_msg_id: str | None = None,
        attachment_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> ChatMessage:
        now = self.clock.now()
        values: dict[str, Any] = {"last_seq": Conversation.last_seq + 1, "last_message_at": now}
        if side == Side.STAFF:
            values["first_response_at"] = func.coalesce(Conversation.first_response_at, now)
        # One statement allocates the seq, stamps the conversation and holds its row
        # until commit (see the module docstring).
        seq, first_response = session.execute(
            update(Conversation)
            .where(Conversation.id == conv.id)
            .values(values)
            .returning(Conversation.last_seq, Conversation.first_response_at),
            execution_options={"synchronize_session": False},
        ).one()
        set_committed_value(conv, "last_seq", seq)
        set_committed_value(conv, "last_message_at", now)
        set_committed_value(conv, "first_response_at", first_response)
        message = ChatMessage(
            conversation_id=conv.id,
            seq=seq,
            sender_id=sender_id,
            sender_side=side,
            sender_name=sender_name[:50],
            client_msg_id=client_msg_id,
            kind=kind,
            body=body,
            attachment_id=attachment_id,
            data=data,
            created_at=now,
        )
        session.add(message)
        notes(session).messages.append(message)
        session.flush()
        return message

    def post_system(
        self, session: Session, conv: Conversation, body: str, data: dict[str, Any] | None = None
    ) -> ChatMessage:
        return self._append(
            session,
            conv,
            side=Side.SYSTEM,
            sender_id=None,
            sender_name="",
            body=body,
            kind=MessageKind.SYSTEM,
            data=data,
        )

    def post_message(
        self,
        session: Session,
        actor: ChatActor,
        conversation_id: int,
        *,
        body: str,
        client_msg_id: str | None,
        kind: str = "text",
        attachment_id: str | None = None,
    ) -> Posted:
        # Locking the conversation first makes the duplicate check below exact: a
        # resend racing its original (two tabs, two processes) waits here until the
        # original committed, then finds it.
        conv = self._get_locked(session, actor, conversation_id)
        side = self._writer_side(actor, conv)
        if client_msg_id is not None:
            if not client_msg_id or len(client_msg_id) > MAX_CLIENT_ID:
                raise ChatInputError("client_msg_id", N_("Invalid client message id."))
            stored = self._by_client_id(session, conv.id, actor.user_id, client_msg_id)
            if stored is not None:
                return Posted(stored, created=False)
        if conv.state == ConvState.CLOSED:
            raise ChatConflict(f"conversation {conv.id} is closed")
        if side == Side.STAFF and conv.staff_id != actor.user_id:
            raise ChatConflict("claim the conversation first")
        body = (body or "").strip()
        if not batch.storable(body):
            raise ChatInputError("body", N_("The message contains characters that cannot be sent."))
        if kind == MessageKind.TEXT:
            if not body:
                raise ChatInputError("body", N_("Write a message first."))
        elif kind == MessageKind.ATTACHMENT:
            attachment = session.get(ChatAttachment, attachment_id) if attachment_id else None
            if attachment is None or attachment.conversation_id != conv.id:
                raise ChatInputError("attachment", N_("Unknown attachment."))
        else:
            raise ChatInputError("kind", N_("Unknown message kind."))
        if len(body) > self.max_body:
            raise ChatInputError("body", N_("The message is too long."))
        message = self._append(
            session,
            conv,
            side=side,
            sender_id=actor.user_id,
            sender_name=actor.name,
            body=body,
            kind=kind,
            client_msg_id=client_msg_id,
            attachment_id=attachment_id if kind == MessageKind.ATTACHMENT else None,
        )
        return Posted(message, created=True)

    def check_draft(self, draft: Draft) -> None:
        batch.check_draft(draft, self.max_body)

    def post_batch(self, session: Session, drafts: Sequence[Draft]) -> list[Any]:
        """See ``IChatService.post_batch`` and ``portal.chat.batch`` (why Core)."""
        return batch.post_batch(self, session, drafts)

    def messages_since(
        self,
        session: Session,
        actor: ChatActor,
        conversation_id: int,
        seq: int,
        limit: int = 200,
    ) -> list[ChatMessage]:
        conv = self.get(session, actor, conversation_id)
        return list(
            session.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == conv.id, ChatMessage.seq > seq)
                .order_by(ChatMessage.seq)
                .limit(max(1, min(limit, 500)))
            )
        )

    def mark_read(self, session: Session, actor: ChatActor, conversation_id: int, seq: int) -> int:
        conv = self.get(session, actor, conversation_id)
        side = self.side_of(actor, conv)
        if side == Side.ENTERPRISE:
            column = Conversation.enterprise_read_seq
        elif side == Side.STAFF:
            column = Conversation.staff_read_seq
        else:
            raise ChatForbidden("read-only")
        seq = max(0, min(seq, conv.last_seq))
        # Never lowered, even by a stale tab racing a fresh one.
        session.execute(
            update(Conversation)
            .where(Conversation.id == conv.id)
            .values({column: case((column < seq, seq), else_=column)}),
            execution_options={"synchronize_session": False},
        )
        session.refresh(conv)
        return int(getattr(conv, column.key))

    def unread_counts(self, session: Session, actor: ChatActor) -> dict[int, int]:
        if actor.is_enterprise:
            mark, mine = Conversation.enterprise_read_seq, Side.ENTERPRISE
            where = Conversation.user_id == actor.user_id
        elif actor.is_staff:
            mark, mine = Conversation.staff_read_seq, Side.STAFF
            where = Conversation.staff_id == actor.user_id
        else:
            return {}
        rows = session.execute(
            select(Conversation.id, func.count(ChatMessage.id))
            .join(ChatMessage, ChatMessage.conversation_id == Conversation.id)
            .where(
                where,
                Conversation.state != ConvState.CLOSED,
                ChatMessage.seq > mark,
                ChatMessage.sender_side.not_in([mine, Side.SYSTEM]),
            )
            .group_by(Conversation.id)
        )
        return {int(conv_id): int(count) for conv_id, count in rows}

    def transcript(
        self,
        session: Session,
        conversation_id: int,
        translate: Callable[[str], str] | None = None,
    ) -> str:
        """Plain text, one line per message, times in Asia/Shanghai. ``translate``
        turns the English labels into the reader's language (identity by default)."""
        tr = translate or (lambda s: s)
        conv = session.get(Conversation, conversation_id)
        if conv is None:
            raise ChatNotFound(f"conversation {conversation_id}")
        dept = session.get(Department, conv.department_id)
        lines = [
            f"{tr(N_('Department'))}: {dept.name if dept else conv.department_id}",
            f"{tr(N_('Started'))}: {local(conv.created_at):%Y-%m-%d %H:%M}",
            "",
        ]
        for m in session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conv.id)
            .order_by(ChatMessage.seq)
        ):
            at = f"{local(m.created_at):%H:%M}"
            if m.kind == MessageKind.SYSTEM:
                lines.append(f"[{at}] — {tr(SYSTEM_LABELS.get(m.body, m.body))} —")
                continue
            text = m.body
            if m.attachment is not None:
                text = f"{tr(N_('Attachment'))}: {m.attachment.filename} {text}".strip()
            lines.append(f"[{at}] {m.sender_name}: {text}")
        return "\n".join(lines) + "\n"

    # -- canned replies -----------------------------------------------------------
    def canned_replies(self, session: Session, department_id: int) -> list[CannedReply]:
        return list(
            session.scalars(
                select(CannedReply)
                .where(CannedReply.department_id == department_id)
                .order_by(CannedReply.sort_order, CannedReply.id)
            )
        )

    def add_canned_reply(
        self, session: Session, actor: ChatActor, department_id: int, title: str, body: str
    ) -> CannedReply:
        if not actor.handles(department_id):
            raise ChatForbidden("not your department")
        title, body = title.strip(), body.strip()
        if not title or len(title) > 100:
            raise ChatInputError("title", N_("Give the reply a short title."))
        if not body or len(body) > self.max_body:
            raise ChatInputError("body", N_("Write the reply's text."))
        reply = CannedReply(
            department_id=department_id,
            title=title,
            body=body,
            sort_order=0,
            created_by_id=actor.user_id,
            created_at=self.clock.now(),
        )
        session.add(reply)
        session.flush()
        return reply

    def delete_canned_reply(self, session: Session, actor: ChatActor, reply_id: int) -> None:
        reply = session.get(CannedReply, reply_id)
        if reply is None or not actor.handles(reply.department_id):
            raise ChatNotFound(f"canned reply {reply_id}")
        session.delete(reply)
        session.flush()


#: how system events read in a transcript (English msgids; see helpers' zh catalog)
SYSTEM_LABELS = {
    "assigned": N_("A staff member joined the conversation"),
    "transferred": N_("The conversation was transferred"),
    "closed": N_("The conversation was closed"),
}


def make_chat_service(settings: dict[str, Any]) -> ChatService:
    """The service as configured (used by the portal's includeme and the realtime server)."""
    from portal.clock import SystemClock

    return ChatService(
        settings.get("qzt.clock") or SystemClock(),
        max_open_per_staff=int(settings.get("qzt.chat.max_open_per_staff", 3)),
        max_body_chars=int(settings.get("qzt.chat.max_body_chars", 2000)),
        presence_ttl=float(settings.get("qzt.realtime.presence_ttl", 30)),
    )
