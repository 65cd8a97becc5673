"""The mail outbox: every message the portal sends, queued in the transaction that
caused it, kept after sending so the admin outbox page shows what went out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base

#: queued -> sending (claimed by one sender, until its lease ends) -> sent | failed;
#: a failed attempt puts it back to queued with a later next_attempt_at.
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATES = (QUEUED, SENDING, SENT, FAILED)


class OutboxMail(Base):
    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    # Unique: the database, not a prior SELECT, refuses a second digest for the same
    # (kind, period, recipient). NULL for ordinary notices (NULLs never collide).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(200))
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses
    subject: Mapped[str] = mapped_column(String(300))
    # The whole RFC 5322 message as it will be sent, so a retry sends identical bytes.
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The sender pass that holds a message in "sending", and until when: a sender
    # that died mid-send leaves the row to be claimed again once the lease ends
    # (migration 0008).
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
