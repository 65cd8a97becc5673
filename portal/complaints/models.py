"""Cases (诉求): the case itself, its audit trail and the side records of its workflow.

The ``cases`` row carries every time the statistics need (received, dispatched,
signed, first reply, closed, and the three deadlines), so a department's figures
over a period are a few ``GROUP BY`` queries over index ranges, never a walk over
the audit trail. Side branches that can happen more than once (returns,
extensions, ratings, rectifications, alerts) have their own tables; each of those
rows names the department it counts against, so statistics need no joins.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import local
from portal.db import Base

if TYPE_CHECKING:
    from portal.accounts.models import Enterprise, User
    from portal.departments.models import Department


class CaseKind(StrEnum):
    CONSULT = "consult"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议


class CaseState(StrEnum):
    ACCEPTED = "accepted"  # 已受理, at the dispatch desk
    DISPATCHED = "dispatched"  # 已派单, waiting for the department to sign
    RETURNED = "returned"  # 退单待审: the department returned it, the desk reviews
    HANDLING = "handling"  # 办理中 (signed)
    AWAITING_INFO = "awaiting_info"  # 待补充材料: the enterprise is asked; clocks pause
    REPLY_REVIEW = "reply_review"  # 答复待审核: waiting for the department head
    REPLIED = "replied"  # 已答复
    CLOSED = "closed"  # 已办结
    VISITED = "visited"  # 已回访
    RATED = "rated"  # 已评价
    RECTIFYING = "rectifying"  # 整改中 (重办 after a bad rating)
    MERGED = "merged"  # 已并单 into another case


#: states in which the closure clock no longer runs
FINISHED_STATES = frozenset(
    {CaseState.CLOSED, CaseState.VISITED, CaseState.RATED, CaseState.MERGED}
)
#: states in which the case is still being worked on (Open311 "open")
OPEN_STATES = frozenset(CaseState) - FINISHED_STATES


class Clock(StrEnum):
    SIGN = "sign"  # 签收, from dispatch
    REPLY = "reply"  # first reply, from receipt
    CLOSE = "close"  # 办结, from receipt
    RECTIFY = "rectify"  # 整改, from the bad rating


class AlertLevel(StrEnum):
    WARNING = "warning"  # 催办: the deadline is near
    BREACH = "breach"  # 超期: 催办通知书, copied to the 分管领导
    SUPERVISE = "supervise"  # 督办: still overdue some working days later


class Decision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


category_assists = Table(
    "case_category_assists",
    Base.metadata,
    Column("category_id", ForeignKey("case_categories.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)

case_assists = Table(
    "case_assists",
    Base.metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class CaseCategory(Base):
    """One line of the routing catalogue: a matter and the departments that handle it.

    Loaded from ``portal/complaints/catalogue.json`` and maintained by the
    administrator; each active category is also an Open311 service."""

    __tablename__ = "case_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    group: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    #: the 主办 department cases of this category are dispatched to
    lead_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    lead_department: Mapped[Department | None] = relationship()
    #: 协办 departments added to every case of this category
    assist_departments: Mapped[list[Department]] = relationship(secondary=category_assists)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_department_received", "department_id", "received_at"),
        Index("ix_cases_received_at", "received_at"),
        Index("ix_cases_closed_at", "closed_at"),
        # Open cases are a few percent of all; the deadline scan and "overdue now"
        # read only them.
        Index(
            "ix_cases_open_close_due",
            "close_due_at",
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_categories.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20), default="web")
    source_ref: Mapped[int | None] = mapped_column(Integer)
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="SET NULL"), index=True
    )
    opened_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    #: the department the enterprise chose; NULL = 不确定 (the dispatch desk routes it)
    requested_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    #: the lead department (主办) now; NULL while the case is at the dispatch desk
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    #: 首问负责: the department answerable for the case until another one signs for it
    owner_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    # -- where (Open311 asks for a location) ------------------------------------------
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    # -- times ---------------------------------------------------------------------------
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    #: first closure (按时办结 is judged on it); a rectification has its own
    closed_at: Mapped[datetime | None]
    #: working seconds from receipt to first closure, pauses excluded
    handling_seconds: Mapped[int | None] = mapped_column(Integer)
    # -- deadlines (working time on the Chinese calendar) ------------------------------
    sign_due_at: Mapped[datetime | None]
    reply_due_at: Mapped[datetime | None]
    close_due_at: Mapped[datetime | None]
    #: set while 补充材料 pauses the clocks
    paused_at: Mapped[datetime | None]
    # -- counters the lists show without joins -------------------------------------------
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    #: the latest rating (1-5), NULL until rated
    rating: Mapped[int | None] = mapped_column(Integer)
    #: 督办: escalated after a breach that lasted too long
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)

    category: Mapped[CaseCategory | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    owner_department: Mapped[Department | None] = relationship(foreign_keys=[owner_department_id])
    requested_department: Mapped[Department | None] = relationship(
        foreign_keys=[requested_department_id]
    )
    merged_into: Mapped[Case | None] = relationship(remote_side=[id])
    assists: Mapped[list[Department]] = relationship(secondary=case_assists)
    steps: Mapped[list[CaseStep]] = relationship(
        back_populates="case", order_by="CaseStep.id", cascade="all, delete-orphan"
    )
    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", order_by="CaseMessage.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[CaseAttachment]] = relationship(
        back_populates="case", order_by="CaseAttachment.created_at", cascade="all, delete-orphan"
    )
    returns: Mapped[list[CaseReturn]] = relationship(
        order_by="CaseReturn.id", cascade="all, delete-orphan"
    )
    extensions: Mapped[list[CaseExtension]] = relationship(
        order_by="CaseExtension.id", cascade="all, delete-orphan"
    )
    ratings: Mapped[list[CaseRating]] = relationship(
        order_by="CaseRating.round", cascade="all, delete-orphan"
    )
    rectifications: Mapped[list[CaseRectification]] = relationship(
        order_by="CaseRectification.id", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        """The case number people quote: receipt date (Beijing time) and the id.

        Derived rather than stored, so it needs no sequence per day and no race
        between two intakes; :func:`parse_number` finds the case back."""
        return f"{local(self.received_at):%Y%m%d}{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        from portal.complaints.workflow import acl_for

        return acl_for(
            self, getattr(self, "desk_department_id", None), getattr(self, "viewer", None)
        )


def parse_number(number: str) -> int | None:
    """The id inside a case number, or None if it is not shaped like one."""
    number = number.strip()
    if len(number) < 14 or len(number) > 20 or not number.isdigit():
        return None
    return int(number[8:])


class CaseStep(Base):
    """The audit trail: every transition, alert and note, who did it and when."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20), default="")
    #: NULL for the system (deadline checks, automatic routing)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="steps")
    actor: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()


class CaseMessage(Base):
    """What people wrote on a case: replies, questions and answers, notes."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: reply | question | answer | note | assist | followup | visit
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    #: whether the enterprise sees it (a reply only once the head signed it off)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    department: Mapped[Department | None] = relationship()


class CaseAttachment(Base):
    """A file on a case, stored under its random key by ``IFileStorage``."""

    __tablename__ = "case_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="attachments")


class CaseReturn(Base):
    """退单: a department sends a misrouted case back; the dispatch desk decides."""

    __tablename__ = "case_returns"
    __table_args__ = (
        Index("ix_case_returns_department_requested", "department_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(index=True)
    decision: Mapped[str] = mapped_column(String(10), default=Decision.PENDING.value, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department | None] = relationship()


class CaseExtension(Base):
    """延期: asked before the closure deadline with a reason and a new date."""

    __tablename__ = "case_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text)
    previous_due_at: Mapped[datetime]
    requested_due_at: Mapped[datetime]
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(index=True)
    decision: Mapped[str] = mapped_column(String(10), default=Decision.PENDING.value, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department | None] = relationship()


class CaseRating(Base):
    """好差评: one rating per round (the first closure, then each rectification)."""

    __tablename__ = "case_ratings"
    __table_args__ = (UniqueConstraint("case_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    #: 5 非常满意 … 1 非常不满意
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    rated_at: Mapped[datetime] = mapped_column(index=True)


class CaseRectification(Base):
    """整改 after a bad rating: its own deadline, and a follow-up record before it closes."""

    __tablename__ = "case_rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("case_ratings.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(index=True)
    due_at: Mapped[datetime]
    followup_note: Mapped[str] = mapped_column(Text, default="")
    followup_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    followup_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class CaseAlert(Base):
    """One 催办 / breach / 督办 notice for one deadline.

    Unique on (case, clock, level, deadline): the deadline job inserts and only the
    insert that succeeds sends mail, so running it twice, or in two processes, warns
    once; a new deadline (after an extension or 改派) may warn again."""

    __tablename__ = "case_alerts"
    __table_args__ = (UniqueConstraint("case_id", "clock", "level", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime]
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
