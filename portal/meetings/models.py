"""视频交流预约: heads' availability, per-department slot rules, bookings and their history.

Times are stored in UTC (``UTCDateTime``); availability is kept as local wall-clock
times in Asia/Shanghai because that is how a head thinks of "Tuesday 9:00-11:30".

Why the double-booking rule lives in the database: any check-then-insert in Python
races when two requests arrive together (Cal.com still has such races). Each active
booking blocks ``[blocked_from, blocked_until)`` of its head's time (the meeting plus
the department's buffers), and the database refuses two overlapping blocks:

* PostgreSQL: an exclusion constraint ``EXCLUDE USING gist (head_id WITH =,
  tstzrange(blocked_from, blocked_until) WITH &&) WHERE (state IN active states)``
  (needs ``btree_gist``);
* SQLite: ``BEFORE INSERT`` / ``BEFORE UPDATE`` triggers that ``RAISE(ABORT)`` on an
  overlap. SQLite has one writer at a time, so the trigger's check and the write are
  atomic.

Both are created by the migration (``0006_meetings``) and by ``metadata.create_all``
(the DDL below), and both surface as ``IntegrityError`` carrying
:data:`OVERLAP_CONSTRAINT`, which the service turns into "slot taken".
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DDL,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    event,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import roles as P
from portal.db import Base
from portal.roles import Role

if TYPE_CHECKING:
    from portal.accounts.models import Enterprise, User
    from portal.departments.models import Department


class BookingState(StrEnum):
    REQUESTED = "requested"  # 待确认: waits for the department; holds its slot
    CONFIRMED = "confirmed"  # 已确认
    DECLINED = "declined"  # 已婉拒 (with a reason)
    RESCHEDULED = "rescheduled"  # 已改期: a new time, see Booking.proposed_by
    CANCELLED = "cancelled"  # 已取消
    COMPLETED = "completed"  # 已完成
    NO_SHOW = "no_show"  # 未出席


#: states that hold the head's time (and so take part in the overlap constraint)
ACTIVE_STATES = frozenset(
    {BookingState.REQUESTED, BookingState.CONFIRMED, BookingState.RESCHEDULED}
)

#: states nothing leaves
FINAL_STATES = frozenset(BookingState) - ACTIVE_STATES


class Side(StrEnum):
    """Which party acts: the enterprise, or the department (its head or staff for the head)."""

    ENTERPRISE = "enterprise"
    DEPARTMENT = "department"


#: name of the PostgreSQL exclusion constraint and the message of the SQLite trigger
OVERLAP_CONSTRAINT = "ex_meeting_bookings_no_overlap"

#: the meeting page opens this long before the start and closes this long after the end
JOIN_EARLY = timedelta(minutes=10)
JOIN_LATE = timedelta(minutes=30)


class SlotRules(Base):
    """A department's booking rules. Departments without a row use the defaults below."""

    __tablename__ = "meeting_slot_rules"
    __table_args__ = (
        CheckConstraint("length_minutes > 0", "length_positive"),
        CheckConstraint("interval_minutes > 0", "interval_positive"),
        CheckConstraint("buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", "buffers"),
        CheckConstraint("min_notice_minutes >= 0", "notice"),
        CheckConstraint("horizon_days > 0", "horizon"),
        CheckConstraint("daily_cap > 0", "daily_cap"),
    )

    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    )
    length_minutes: Mapped[int] = mapped_column(Integer, default=30)  # 会谈时长
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)  # 时段间隔
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)  # 会前缓冲
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=10)  # 会后缓冲
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)  # 最短提前
    horizon_days: Mapped[int] = mapped_column(Integer, default=30)  # 最远可约
    daily_cap: Mapped[int] = mapped_column(Integer, default=4)  # 每位负责人每日上限
    updated_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship()


#: what a department without its own SlotRules row gets
DEFAULT_RULES = {
    "length_minutes": 30,
    "interval_minutes": 30,
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 10,
    "min_notice_minutes": 24 * 60,
    "horizon_days": 30,
    "daily_cap": 4,
}


class WeeklyAvailability(Base):
    """One weekly interval of a head, in Asia/Shanghai wall-clock time (0 = Monday)."""

    __tablename__ = "meeting_weekly_availability"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", "weekday"),
        CheckConstraint("start_time < end_time", "order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class AvailabilityOverride(Base):
    """A date that does not follow the weekly pattern.

    Rows for a date replace that date's weekly intervals; a row without times marks
    the head unavailable all day (出差, 会议). A 调休 working Saturday has no weekly
    intervals, so a head who receives on it gets them from the weekly pattern of the
    weekday it stands in for (see slots.intervals_for_day) or from an override here.
    """

    __tablename__ = "meeting_availability_overrides"
    __table_args__ = (
        CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR (start_time < end_time)", "times"
        ),
        Index("ix_meeting_availability_overrides_head_day", "head_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    note: Mapped[str] = mapped_column(String(200), default="")

    @property
    def is_closed(self) -> bool:
        return self.start_time is None


class Booking(Base):
    """An enterprise's appointment with a department head (视频交流预约)."""

    __tablename__ = "meeting_bookings"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", "order"),
        CheckConstraint("blocked_from <= starts_at AND ends_at <= blocked_until", "blocked"),
        Index("ix_meeting_bookings_head_start", "head_id", "starts_at"),
        Index("ix_meeting_bookings_state_start", "state", "starts_at"),
        ExcludeConstraint(
            (literal_column("head_id"), "="),
            (func.tstzrange(literal_column("blocked_from"), literal_column("blocked_until")), "&&"),
            name=OVERLAP_CONSTRAINT,
            using="gist",
            where="state IN ('requested', 'confirmed', 'rescheduled')",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the iCalendar UID: stable for the booking's whole life, across reschedules
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    head_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    #: the enterprise user who asked; receives the enterprise side's mail
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=BookingState.REQUESTED.value)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The head's time this booking holds: the meeting plus the department's buffers,
    # as they were when the time was chosen.
    blocked_from: Mapped[datetime]
    blocked_until: Mapped[datetime]
    #: who chose the current time: a department-made reschedule needs no confirmation
    proposed_by: Mapped[str] = mapped_column(String(20), default=Side.ENTERPRISE.value)
    #: the iCalendar SEQUENCE: grows with every change the parties are told about
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")  # last decline/cancel reason
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    department: Mapped[Department] = relationship(lazy="joined")
    head: Mapped[User] = relationship(foreign_keys=[head_id], lazy="joined")
    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    events: Mapped[list[BookingEvent]] = relationship(
        order_by="BookingEvent.id", cascade="all, delete-orphan", back_populates="booking"
    )
    materials: Mapped[list[BookingMaterial]] = relationship(
        order_by="BookingMaterial.created_at",
        cascade="all, delete-orphan",
        back_populates="booking",
    )

    # -- what the meeting room asks ---------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_agreed(self) -> bool:
        """Both sides agree on the current time: confirmed, or moved by the department."""
        return self.state == BookingState.CONFIRMED or (
            self.state == BookingState.RESCHEDULED and self.proposed_by == Side.DEPARTMENT
        )

    def side_of(self, user: User | None) -> Side | None:
        """The party ``user`` speaks for in this booking, or None for an outsider.

        The enterprise side is any user of the booking's enterprise; the department
        side is the head, or a staff member of the department acting for the head.
        """
        if user is None or not user.is_active:
            return None
        if user.id == self.requester_id or (
            user.enterprise_id is not None and user.enterprise_id == self.enterprise_id
        ):
            return Side.ENTERPRISE
        if user.id == self.head_id:
            return Side.DEPARTMENT
        if user.department_id == self.department_id and user.has_role(Role.STAFF):
            return Side.DEPARTMENT
        return None

    def is_party(self, user: User | None) -> bool:
        """True for the head and the requesting enterprise user (the two who meet)."""
        return user is not None and user.is_active and user.id in (self.head_id, self.requester_id)

    def meeting_window(self) -> tuple[datetime, datetime]:
        return self.starts_at - JOIN_EARLY, self.ends_at + JOIN_LATE

    def is_meeting_time(self, now: datetime) -> bool:
        """The booking is agreed and ``now`` is inside its meeting window."""
        opens, closes = self.meeting_window()
        return self.is_agreed and opens <= now <= closes

    @property
    def __acl__(self) -> list[tuple[str, str, str]]:
        from pyramid.authorization import Allow

        from portal.permissions import Permission as Pm

        return [
            (Allow, P.user(self.head_id), Pm.MEETING_VIEW),
            (Allow, P.user(self.head_id), Pm.MEETING_MANAGE),
            (Allow, P.user(self.head_id), Pm.MEETING_CHANGE),
            (Allow, P.user(self.head_id), Pm.MEETING_JOIN),
            (Allow, P.user(self.requester_id), Pm.MEETING_JOIN),
            (Allow, P.enterprise(self.enterprise_id), Pm.MEETING_VIEW),
            (Allow, P.enterprise(self.enterprise_id), Pm.MEETING_CHANGE),
            (Allow, P.scoped(Role.STAFF, self.department_id), Pm.MEETING_VIEW),
            (Allow, P.scoped(Role.STAFF, self.department_id), Pm.MEETING_MANAGE),
            (Allow, P.scoped(Role.STAFF, self.department_id), Pm.MEETING_CHANGE),
            (Allow, P.scoped(Role.HEAD, self.department_id), Pm.MEETING_VIEW),
            (Allow, P.role(Role.SUPERVISOR), Pm.MEETING_VIEW),
            (Allow, P.role(Role.ADMIN), Pm.MEETING_VIEW),
        ]


class BookingEvent(Base):
    """One change of a booking: who (which side), what, from which state and time."""

    __tablename__ = "meeting_booking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))  # request, confirm, decline, …
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: for a reschedule, the time it moved from
    previous_start: Mapped[datetime | None]
    at: Mapped[datetime]

    booking: Mapped[Booking] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class BookingMaterial(Base):
    """A file the enterprise attached to its request. ``id`` is the storage key."""

    __tablename__ = "meeting_booking_materials"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    booking: Mapped[Booking] = relationship(back_populates="materials")

    @property
    def __acl__(self) -> Any:
        return self.booking.__acl__


# -- SQLite's equivalent of the exclusion constraint ------------------------------------
# ``b.id IS NOT NEW.id``: in a BEFORE INSERT trigger NEW.id may still be NULL, and
# ``!=`` with NULL is never true, which would silently disable the check.
_ACTIVE_SQL = "('requested', 'confirmed', 'rescheduled')"
_OVERLAP_WHEN = f"""NEW.state IN {_ACTIVE_SQL} AND EXISTS (
        SELECT 1 FROM meeting_bookings AS b
        WHERE b.head_id = NEW.head_id AND b.id IS NOT NEW.id
          AND b.state IN {_ACTIVE_SQL}
          AND b.blocked_from < NEW.blocked_until AND NEW.blocked_from < b.blocked_until)"""  # noqa: S608 - constants only

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER tr_meeting_bookings_no_overlap_insert
    BEFORE INSERT ON meeting_bookings
    WHEN {_OVERLAP_WHEN}
    BEGIN SELECT RAISE(ABORT, '{OVERLAP_CONSTRAINT}'); END""",
    f"""CREATE TRIGGER tr_meeting_bookings_no_overlap_update
    BEFORE UPDATE OF head_id, state, blocked_from, blocked_until ON meeting_bookings
    WHEN {_OVERLAP_WHEN}
    BEGIN SELECT RAISE(ABORT, '{OVERLAP_CONSTRAINT}'); END""",
)

for _statement in SQLITE_TRIGGERS:
    event.listen(Booking.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(
    Booking.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)
