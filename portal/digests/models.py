"""What the digests remember: which periods are done, and who gets copies.

Exactly-once per (kind, period, recipient) is the outbox's unique ``dedupe_key``
(``digest:daily:2026-03-02:leader:7``), written in the transaction that queues the
mail. ``DigestRun`` is the high-water mark per kind: the scheduler sends every
period after the last one recorded (catch-up after downtime), and its unique
(kind, period) makes two processes that start the same period at once serialise on
the insert, the loser rolling back before it has built anything.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base

if TYPE_CHECKING:
    from portal.departments.models import Leader

DAILY, WEEKLY = "daily", "weekly"
KINDS = (DAILY, WEEKLY)


class DigestRun(Base):
    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: daily: the local date the digest is for (it reports the day before);
    #: weekly: the Monday it is sent (it reports the seven days before)
    period: Mapped[date] = mapped_column(Date)
    #: messages queued by this run (0 when every recipient already had theirs)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime]


class LeaderDeputy(Base):
    """The person a leader names to receive copies of their digests (a secretary,
    a deputy director of the office). One per leader."""

    __tablename__ = "leader_deputies"

    leader_id: Mapped[int] = mapped_column(
        ForeignKey("leaders.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime]

    leader: Mapped[Leader] = relationship()
