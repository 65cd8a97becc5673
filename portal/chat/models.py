"""Chat: conversations between an enterprise and a department, their messages, staff
presence, canned replies and the transfer log.

The database is the one source of truth shared by every realtime process and the
portal: a message exists once it has a row (the realtime server acknowledges only
then), presence and the round-robin pointer live in ``chat_staff_presence`` so two
processes route against the same state, and the broker only carries notifications
that something changed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base


class ConvState(StrEnum):
    WAITING = "waiting"  # in the department's queue, nobody assigned
    OPEN = "open"  # a staff member handles it
    CLOSED = "closed"


class Side(StrEnum):
    ENTERPRISE = "enterprise"
    STAFF = "staff"
    SYSTEM = "system"


class MessageKind(StrEnum):
    TEXT = "text"
    ATTACHMENT = "attachment"
    SYSTEM = "system"


class Status(StrEnum):
    """What a staff member chose (在线/忙碌/离开); being connected is tracked apart."""

    ONLINE = "online"
    BUSY = "busy"
    AWAY = "away"


class CloseReason(StrEnum):
    ENTERPRISE = "enterprise"  # the enterprise ended it
    STAFF = "staff"
    ABANDONED = "abandoned"  # closed while still waiting: a missed chat
    CASE = "case"  # turned into a complaint case


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


class Conversation(Base):
    __tablename__ = "chat_conversations"
    __table_args__ = (
        Index("ix_chat_conversations_department_state", "department_id", "state"),
        Index("ix_chat_conversations_staff_state", "staff_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    #: the enterprise user who opened it; colleagues of the same enterprise may read it
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default=ConvState.WAITING)
    topic: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    #: when it (re-)entered the queue; the queue is ordered by it
    queued_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(20))
    #: the note of the latest transfer (the whole history is in chat_transfers)
    transfer_note: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer)  # 1 非常不满意 … 5 非常满意
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None]
    #: the complaint case opened from this conversation (no FK: complaints come later)
    case_id: Mapped[int | None] = mapped_column(Integer)
    transcript_sent_at: Mapped[datetime | None]
    #: sequence number of the newest message; the next message gets last_seq + 1
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: read receipts: the highest seq each side has seen
    enterprise_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    staff_read_seq: Mapped[int] = mapped_column(Integer, default=0)

    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="conversation", order_by="ChatMessage.seq", passive_deletes=True
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "enterprise_id": self.enterprise_id,
            "user_id": self.user_id,
            "department_id": self.department_id,
            "staff_id": self.staff_id,
            "state": self.state,
            "topic": self.topic,
            "created_at": _iso(self.created_at),
            "claimed_at": _iso(self.claimed_at),
            "closed_at": _iso(self.closed_at),
            "last_message_at": _iso(self.last_message_at),
            "transfer_note": self.transfer_note,
            "rating": self.rating,
            "last_seq": self.last_seq,
            "read": {"enterprise": self.enterprise_read_seq, "staff": self.staff_read_seq},
        }


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        # A client resending after a reconnect reuses its client_msg_id: the database,
        # not a prior SELECT, refuses the duplicate (NULLs never collide).
        UniqueConstraint(
            "conversation_id",
            "sender_id",
            "client_msg_id",
            name="uq_chat_messages_conversation_sender_client",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sender_side: Mapped[str] = mapped_column(String(10))
    sender_name: Mapped[str] = mapped_column(String(50), default="")
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10), default=MessageKind.TEXT)
    body: Mapped[str] = mapped_column(Text, default="")
    attachment_id: Mapped[str | None] = mapped_column(
        ForeignKey("chat_attachments.id", ondelete="SET NULL")
    )
    #: for system messages: the event (``body`` holds its code: assigned, transferred,
    #: closed) and its details, rendered in the reader's language by the client
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    attachment: Mapped[ChatAttachment | None] = relationship(lazy="joined")

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "conversation": self.conversation_id,
            "seq": self.seq,
            "id": self.id,
            "client_msg_id": self.client_msg_id,
            "sender": self.sender_id,
            "side": self.sender_side,
            "name": self.sender_name,
            "kind": self.kind,
            "body": self.body,
            "at": _iso(self.created_at),
        }
        if self.attachment is not None:
            data["attachment"] = self.attachment.as_json()
        if self.data:
            data["data"] = self.data
        return data


class ChatAttachment(Base):
    """A file uploaded into a conversation over HTTP (with the portal's upload checks),
    then announced in the chat by a message of kind ``attachment``. ``id`` is random
    and is the storage key."""

    __tablename__ = "chat_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "media_type": self.media_type,
            "size": self.size,
        }


class StaffPresence(Base):
    """One row per staff member who ever went online.

    ``status`` is what they chose; ``seen_at`` is refreshed by the realtime process
    holding their connection (every few seconds) and cleared when the last connection
    closes, so a crashed process's staff go offline when ``seen_at`` grows older than
    the presence TTL. ``last_assigned_at`` is the round-robin pointer.
    """

    __tablename__ = "chat_staff_presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=Status.ONLINE)
    seen_at: Mapped[datetime | None]
    last_assigned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class CannedReply(Base):
    __tablename__ = "chat_canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "body": self.body}


class Transfer(Base):
    """Each hand-over of a conversation: who, from whom/where, to whom/where, why."""

    __tablename__ = "chat_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True
    )
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE")
    )
    to_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
