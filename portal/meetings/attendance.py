"""Who may be in a meeting room, and who has been let in.

The two parties of a booking (the head and the enterprise user who asked) may
invite others: the head invites government staff, the enterprise user invites
colleagues of the same enterprise. Nobody else gets in. The department side enters
the room directly; the enterprise side waits in the lobby until someone of the
department side admits it (as Jitsi's lobby does), and an admission is kept, so a
dropped connection rejoins without waiting again.

:func:`seat_for` is the one rule, used by the meeting page (portal) and by the
signalling handlers (realtime), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.db import Base
from portal.errors import InputError
from portal.i18n import N_
from portal.meetings.models import Booking, BookingState, Side

if TYPE_CHECKING:
    from portal.accounts.models import User

#: most people in one room: media goes browser to browser (a full mesh), so every
#: extra participant costs every browser one more upload of its camera
MAX_PARTICIPANTS = 6


class MeetingInvite(Base):
    """Someone a party asked into the meeting, on that party's side."""

    __tablename__ = "meeting_invites"
    __table_args__ = (UniqueConstraint("booking_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(20))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class MeetingAdmission(Base):
    """An enterprise-side participant let in from the lobby (kept for rejoining)."""

    __tablename__ = "meeting_admissions"
    __table_args__ = (UniqueConstraint("booking_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    admitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    admitted_at: Mapped[datetime]


class MeetingAttendance(Base):
    """One connection's stay in the room: the attendance record, and who is present
    now (``left_at`` NULL) when the realtime server asks whether all consented."""

    __tablename__ = "meeting_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    peer: Mapped[str] = mapped_column(String(64))  # the realtime connection id
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Seat:
    """A user's place in a meeting: which side, and whether the lobby applies."""

    user_id: int
    name: str
    side: Side
    invited: bool

    @property
    def is_host(self) -> bool:
        """The department side runs the room: it admits and asks for recording."""
        return self.side == Side.DEPARTMENT

    @property
    def waits_in_lobby(self) -> bool:
        return not self.is_host


@dataclass(frozen=True)
class Refusal:
    """Why a user may not enter now. ``code`` is stable (logs, tests, close reasons),
    ``message`` an English msgid shown in Chinese."""

    code: str
    message: str
    opens_at: datetime | None = None


NOT_SIGNED_IN = Refusal("not_signed_in", N_("Please log in to join the meeting."))
NOT_INVITED = Refusal("not_invited", N_("You are not invited to this meeting."))
NOT_CONFIRMED = Refusal(
    "not_confirmed", N_("This meeting has not been confirmed by the department yet.")
)
CANCELLED = Refusal("cancelled", N_("This meeting was cancelled or declined."))
OVER = Refusal("over", N_("This meeting is over."))


def invited_side(session: Session, booking: Booking, user_id: int) -> Side | None:
    found = session.scalar(
        select(MeetingInvite.side).where(
            MeetingInvite.booking_id == booking.id, MeetingInvite.user_id == user_id
        )
    )
    return Side(found) if found else None


def seat_of(session: Session, booking: Booking, user: User | None) -> Seat | None:
    """The user's seat in the booking's meeting regardless of time, or None."""
    if user is None or not user.is_active:
        return None
    if user.id == booking.head_id:
        return Seat(user.id, user.display_name, Side.DEPARTMENT, invited=False)
    if user.id == booking.requester_id:
        return Seat(user.id, user.display_name, Side.ENTERPRISE, invited=False)
    side = invited_side(session, booking, user.id)
    if side is None:
        return None
    return Seat(user.id, user.display_name, side, invited=True)


def seat_for(
    session: Session, booking: Booking, user: User | None, now: datetime
) -> Seat | Refusal:
    """The seat ``user`` takes in the meeting at ``now``, or why not."""
    if user is None:
        return NOT_SIGNED_IN
    seat = seat_of(session, booking, user)
    if seat is None:
        return NOT_INVITED
    if booking.state in (BookingState.CANCELLED, BookingState.DECLINED):
        return CANCELLED
    opens, closes = booking.meeting_window()
    if booking.state in (BookingState.COMPLETED, BookingState.NO_SHOW) or now > closes:
        return OVER
    if not booking.is_agreed:
        return NOT_CONFIRMED
    if now < opens:
        return Refusal("too_early", N_("The meeting room opens at ${time}."), opens_at=opens)
    return seat


def is_admitted(session: Session, booking_id: int, user_id: int) -> bool:
    found = session.scalar(
        select(MeetingAdmission.id).where(
            MeetingAdmission.booking_id == booking_id, MeetingAdmission.user_id == user_id
        )
    )
    return found is not None


def admit(
    session: Session, booking: Booking, user_id: int, by: Seat, now: datetime
) -> MeetingAdmission | None:
    """Record that ``by`` (department side) let ``user_id`` in; idempotent.

    Returns None when ``by`` may not admit or ``user_id`` has no enterprise seat.
    """
    if not by.is_host:
        return None
    found = session.scalar(
        select(MeetingAdmission).where(
            MeetingAdmission.booking_id == booking.id, MeetingAdmission.user_id == user_id
        )
    )
    if found is not None:
        return found
    row = MeetingAdmission(
        booking_id=booking.id, user_id=user_id, admitted_by_id=by.user_id, admitted_at=now
    )
    # Two hosts admitting the same guest at once: the unique constraint keeps one row.
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return session.scalar(
            select(MeetingAdmission).where(
                MeetingAdmission.booking_id == booking.id, MeetingAdmission.user_id == user_id
            )
        )
    return row


def arrive(session: Session, booking_id: int, user_id: int, peer: str, now: datetime) -> None:
    session.add(MeetingAttendance(booking_id=booking_id, user_id=user_id, peer=peer, joined_at=now))
    session.flush()


def depart(session: Session, booking_id: int, peer: str, now: datetime) -> None:
    for row in session.scalars(
        select(MeetingAttendance).where(
            MeetingAttendance.booking_id == booking_id,
            MeetingAttendance.peer == peer,
            MeetingAttendance.left_at.is_(None),
        )
    ):
        row.left_at = now
    session.flush()


def present(session: Session, booking_id: int) -> set[int]:
    """Users with at least one connection in the room now."""
    return set(
        session.scalars(
            select(MeetingAttendance.user_id).where(
                MeetingAttendance.booking_id == booking_id, MeetingAttendance.left_at.is_(None)
            )
        )
    )


def invites(session: Session, booking: Booking) -> list[MeetingInvite]:
    return list(
        session.scalars(
            select(MeetingInvite)
            .where(MeetingInvite.booking_id == booking.id)
            .order_by(MeetingInvite.id)
        )
    )


def invite(
    session: Session, booking: Booking, inviter: User, login: str, now: datetime
) -> MeetingInvite:
    """A party invites a user by login name; raises InputError("login", …) otherwise.

    The head invites government staff; the enterprise user invites colleagues of
    the same enterprise. Invitees cannot invite further.
    """
    from portal.accounts.models import User

    if not booking.is_party(inviter):
        raise InputError("login", N_("Only the two parties of the meeting can invite."))
    if not booking.is_active:
        raise InputError("login", N_("This meeting is closed; nobody can be invited any more."))
    login = (login or "").strip()
    user = session.scalar(select(User).where(User.login == login)) if login else None
    if user is None or not user.is_active:
        raise InputError("login", N_("No active user has the login name ${login}."), login=login)
    if seat_of(session, booking, user) is not None:
        raise InputError(
            "login", N_("${name} can already join this meeting."), name=user.display_name
        )
    side = Side.DEPARTMENT if inviter.id == booking.head_id else Side.ENTERPRISE
    if side == Side.DEPARTMENT and not user.is_staff:
        raise InputError("login", N_("The head can only invite government staff."))
    if side == Side.ENTERPRISE and user.enterprise_id != booking.enterprise_id:
        raise InputError("login", N_("You can only invite colleagues of your own enterprise."))
    if len(invites(session, booking)) + 2 >= MAX_PARTICIPANTS:
        raise InputError(
            "login", N_("A meeting holds at most ${count} people."), count=MAX_PARTICIPANTS
        )
    row = MeetingInvite(
        booking_id=booking.id,
        user_id=user.id,
        side=side.value,
        invited_by_id=inviter.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
