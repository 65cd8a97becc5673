"""The only code that changes bookings and availability.

Every refusal is a :class:`BookingError` with a code (logged) and an English msgid
(shown in Chinese); the caller's savepoint keeps a refused request from touching
anything. "Slot taken" is decided by the database (see models.py): the friendly
pre-check in :func:`slots.why_not` may pass for two requests at once, the insert
cannot.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO

from pyramid.i18n import Localizer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.accounts.models import User, UserRole
from portal.clock import IClock, local
from portal.content.files import IFileStorage, accept_upload
from portal.departments.models import Department
from portal.errors import InputError
from portal.i18n import N_, _
from portal.mail.interfaces import IMailer
from portal.meetings import links, notify, slots
from portal.meetings.interfaces import BookingError, IBookingService, LinkError, SlotTaken
from portal.meetings.models import (
    ACTIVE_STATES,
    DEFAULT_RULES,
    OVERLAP_CONSTRAINT,
    AvailabilityOverride,
    Booking,
    BookingEvent,
    BookingMaterial,
    BookingState,
    Side,
    SlotRules,
    WeeklyAvailability,
)
from portal.meetings.workflow import step_for
from portal.roles import Role

log = logging.getLogger(__name__)

#: why a start is refused (codes from slots.why_not) → the message shown
REFUSALS = {
    "past": N_("This time is in the past. Please choose a future slot."),
    "calendar_unknown": N_(
        "The official holiday calendar for ${year} is not published yet; "
        "please choose an earlier date."
    ),
    "holiday": N_("${date} is a public holiday. Please choose a working day."),
    "weekend": N_("${date} is not a working day. Please choose a working day."),
    "beyond_window": N_("Meetings can be booked at most ${days} days ahead."),
    "outside_availability": N_(
        "The head does not receive visitors at this time. Please choose one of the offered slots."
    ),
    "notice": N_("Meetings must be booked at least ${hours} hours ahead."),
    "day_full": N_("The head's meetings on ${date} are fully booked."),
}

MAX_MATERIALS = 5
TOPIC_MAX = 200
DETAILS_MAX = 2000


#: first key of the advisory locks that serialize bookings per head (the second is the
#: head's user id); any constant no other lock in the database uses
HEAD_LOCK_SPACE = 0x51_5A_54  # "QZT"


def refuse(code: str, field: str, message: str, **mapping: Any) -> BookingError:
    log.warning("booking refused: %s %s", code, mapping)
    return BookingError(code, field, message, **mapping)


def active_heads(db: Session, department_id: int | None = None) -> list[User]:
    """Active users with the head role in an active department, by department order."""
    query = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Department, Department.id == User.department_id)
        .where(
            UserRole.role == Role.HEAD.value,
            User.is_active.is_(True),
            Department.is_active.is_(True),
        )
        .order_by(Department.sort_order, User.id)
    )
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    return list(db.scalars(query))


def may_keep_availability(actor: User | None, head: User) -> bool:
    """The head, staff of the head's department acting for it, or an administrator."""
    if actor is None or not actor.is_active:
        return False
    if actor.id == head.id or actor.has_role(Role.ADMIN):
        return True
    return actor.department_id == head.department_id and actor.has_role(Role.STAFF)


@implementer(IBookingService)
class BookingService:
    #: refuse a start on held time before trying the INSERT (a friendlier, earlier
    #: answer); False leaves the decision to the database alone
    check_held = True

    def __init__(
        self,
        db: Session,
        clock: IClock,
        storage: IFileStorage,
        mailer: IMailer,
        *,
        secret: str,
        public_url: str,
        max_upload: int,
        localizer: Callable[[str | None], Localizer],
        sender: str = "",
        after_commit: Any = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.storage = storage
        self.mailer = mailer
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.max_upload = max_upload
        self.localizer = localizer
        self.sender = sender
        self.after_commit = after_commit or (lambda fn: fn())

    # -- reading ----------------------------------------------------------------------
    def get(self, booking_id: int) -> Booking | None:
        return self.db.get(Booking, booking_id)

    def rules_for(self, department_id: int | None) -> slots.Rules:
        row = self.db.get(SlotRules, department_id) if department_id else None
        if row is None:
            return slots.Rules.from_minutes(**DEFAULT_RULES)
        return slots.Rules.from_minutes(**{k: getattr(row, k) for k in DEFAULT_RULES})

    def schedule_for(self, head: User, exclude: Booking | None = None) -> slots.Schedule:
        now = self.clock.now()
        weekly = self.db.scalars(
            select(WeeklyAvailability).where(WeeklyAvailability.head_id == head.id)
        )
        overrides = self.db.scalars(
            select(AvailabilityOverride).where(
                AvailabilityOverride.head_id == head.id,
                AvailabilityOverride.day >= slots.local_date(now) - timedelta(days=1),
            )
        )
        held = self.db.execute(
            select(Booking.blocked_from, Booking.blocked_until, Booking.starts_at).where(
                Booking.head_id == head.id,
                Booking.state.in_([s.value for s in ACTIVE_STATES]),
                Booking.blocked_until > now - timedelta(days=1),
                Booking.id != (exclude.id if exclude is not None else -1),
            )
        )
        return slots.Schedule(
            rules=self.rules_for(head.department_id),
            weekly=[slots.Weekly(w.weekday, w.start_time, w.end_time) for w in weekly],
            overrides=[slots.Override(o.day, o.start_time, o.end_time) for o in overrides],
            held=[slots.Held(*row) for row in held],
        )

    def free_slots(
        self, head: User, start: date, end: date, exclude: Booking | None = None
    ) -> list[slots.Slot]:
        schedule = self.schedule_for(head, exclude)
        return slots.free_slots(schedule, self.clock.now(), start, end)

    def bookings_of_enterprise(self, enterprise_id: int) -> list[Booking]:
        return list(
            self.db.scalars(
                select(Booking)
                .where(Booking.enterprise_id == enterprise_id)
                .order_by(Booking.starts_at.desc())
            )
        )

    def bookings_of_head(self, head_id: int, first: datetime, last: datetime) -> list[Booking]:
        return list(
            self.db.scalars(
                select(Booking)
                .where(
                    Booking.head_id == head_id,
                    Booking.starts_at >= first,
                    Booking.starts_at < last,
                )
                .order_by(Booking.starts_at)
            )
        )

    # -- checks -------------------------------------------------------------------------
    def _check_head(self, head: User | None) -> User:
        if (
            head is None
            or not head.is_active
            or not head.has_role(Role.HEAD)
            or head.department is None
            or not head.department.is_active
        ):
            raise refuse("not_head", "head", N_("Please choose a department head from the list."))
        return head

    def _serialize_head(self, head: User) -> None:
        """Make requests for one head's time take turns until they commit.

        The exclusion constraint keeps two bookings off the same minutes, but the daily
        cap is a count: two requests for different slots of a full-but-one day would
        each count the other out and both get in. On PostgreSQL a transaction-scoped
        advisory lock per head makes the count and the insert one step (it ends with
        the transaction, and no other head waits). SQLite needs nothing: a transaction
        that read cannot write after another writer committed, and is run again.
        """
        if self.db.get_bind().dialect.name == "postgresql":
            self.db.execute(select(func.pg_advisory_xact_lock(HEAD_LOCK_SPACE, head.id)))

    def _check_start(self, head: User, starts_at: datetime, exclude: Booking | None) -> None:
        if starts_at.tzinfo is None:
            raise ValueError("naive datetime")
        self._serialize_head(head)
        refusal = slots.why_not(self.schedule_for(head, exclude), self.clock.now(), starts_at)
        if refusal is None:
            return
        if refusal.code == "taken":
            if not self.check_held:
                return  # leave it to the database (bench/booking_race.py --db-only)
            log.warning("booking refused: slot_taken head=%s at=%s", head.id, starts_at)
            raise SlotTaken()
        raise refuse(refusal.code, "slot", REFUSALS[refusal.code], **refusal.mapping)

    def _flush_or_taken(self) -> None:
        """Flush inside a savepoint; the database's overlap refusal becomes SlotTaken."""
        try:
            with self.db.begin_nested():
                self.db.flush()
        except IntegrityError as exc:
            if OVERLAP_CONSTRAINT not in str(exc.orig):
                raise
            log.warning("booking refused by the database: slot_taken")
            raise SlotTaken(by_database=True) from None

    # -- the enterprise asks --------------------------------------------------------------
    def request(
        self,
        requester: User,
        head: User | None,
        starts_at: datetime,
        topic: str,
        details: str = "",
        materials: Sequence[tuple[str, BinaryIO]] = (),
    ) -> Booking:
        if not requester.is_active or requester.enterprise_id is None:
            raise refuse(
                "not_enterprise", "", N_("Only enterprise accounts can book a video meeting.")
            )
        head = self._check_head(head)
        topic = " ".join((topic or "").split())
        if not topic or len(topic) > TOPIC_MAX:
            raise refuse(
                "topic", "topic", N_("Please give a topic of at most ${n} characters."), n=TOPIC_MAX
            )
        details = (details or "").strip()
        if len(details) > DETAILS_MAX:
            raise refuse(
                "details", "details", N_("The description is longer than ${n} characters."),
                n=DETAILS_MAX,
            )  # fmt: skip
        if len(materials) > MAX_MATERIALS:
            raise refuse(
                "materials", "upload", N_("At most ${n} files can be attached."), n=MAX_MATERIALS
            )
        self._check_start(head, starts_at, None)
        stored = [self._store(filename, stream) for filename, stream in materials]
        try:
            with self.db.begin_nested():
                booking = self._insert(requester, head, starts_at, topic, details)
                for material in stored:
                    material.booking_id = booking.id
                    material.uploaded_by_id = requester.id
                    self.db.add(material)
                self._record(booking, "request", "", Side.ENTERPRISE, requester, "")
                self.db.expire(booking, ["materials"])
        except Exception:
            for material in stored:
                self.storage.delete(material.id)
            raise
        log.info("booking %s requested: head=%s at=%s", booking.id, head.id, starts_at)
        self._tell(booking, "request")
        return booking

    def _insert(
        self, requester: User, head: User, starts_at: datetime, topic: str, details: str
    ) -> Booking:
        rules = self.rules_for(head.department_id)
        now = self.clock.now()
        blocked_from, blocked_until = rules.block(starts_at)
        booking = Booking(
            uid=f"{uuid.uuid4()}@qzt-meetings",
            department_id=head.department_id,
            head_id=head.id,
            enterprise_id=requester.enterprise_id,
            requester_id=requester.id,
            topic=topic,
            details=details,
            state=BookingState.REQUESTED.value,
            starts_at=starts_at,
            ends_at=starts_at + rules.length,
            blocked_from=blocked_from,
            blocked_until=blocked_until,
            proposed_by=Side.ENTERPRISE.value,
            sequence=0,
            reason="",
            created_at=now,
            updated_at=now,
        )
        self.db.add(booking)
        self._flush_or_taken()
        return booking

    def _store(self, filename: str, stream: BinaryIO) -> BookingMaterial:
        """Store and check one upload (the portal's attachment rules); not yet added."""
        try:
            upload = accept_upload(self.storage, filename, stream, self.max_upload)
        except InputError as error:
            log.warning("booking material refused: %s (%s)", error.message, filename)
            raise
        return BookingMaterial(
            id=upload.key,
            filename=upload.filename,
            media_type=upload.media_type,
            size=upload.size,
            sha256=upload.sha256,
            created_at=self.clock.now(),
        )

    def add_material(
        self, booking: Booking, filename: str, stream: BinaryIO, actor: User | None
    ) -> BookingMaterial:
        material = self._store(filename, stream)
        material.booking_id = booking.id
        material.uploaded_by_id = actor.id if actor else None
        self.db.add(material)
        self.db.flush()
        self.db.expire(booking, ["materials"])
        return material

    # -- changes ------------------------------------------------------------------------------
    def _step(self, booking: Booking, action: str, side: Side, reason: str) -> Any:
        step = step_for(booking.state, action)
        if step is None:
            raise refuse(
                "bad_transition", "", N_("This is not possible in the booking's current state.")
            )
        if side not in step.sides:
            raise refuse("wrong_side", "", N_("Only the department can do this."))
        if step.needs_reason and not reason:
            raise refuse("reason", "reason", N_("Please give a reason."))
        now = self.clock.now()
        if step.after_start and now < booking.starts_at:
            raise refuse(
                "too_early", "", N_("The outcome can be recorded only after the meeting's start.")
            )
        if not step.after_start and now >= booking.starts_at:
            raise refuse(
                "started",
                "",
                N_("The meeting time has begun; the booking can no longer be changed."),
            )
        return step

    def transition(
        self, booking: Booking, action: str, actor: User | None, side: Side, reason: str = ""
    ) -> Booking:
        if action == "reschedule":
            raise ValueError("use reschedule()")
        reason = (reason or "").strip()[:DETAILS_MAX]
        step = self._step(booking, action, side, reason)
        source = booking.state
        booking.state = step.target.value
        if action in ("decline", "cancel"):
            booking.reason = reason
        self._bump(booking)
        self._flush_or_taken()
        self._record(booking, action, source, side, actor, reason)
        log.info("booking %s: %s by %s (%s → %s)", booking.id, action, side, source, booking.state)
        self._tell(booking, action)
        return booking

    def reschedule(
        self,
        booking: Booking,
        starts_at: datetime,
        actor: User | None,
        side: Side,
        reason: str = "",
    ) -> Booking:
        reason = (reason or "").strip()[:DETAILS_MAX]
        step = self._step(booking, "reschedule", side, reason)
        if starts_at == booking.starts_at:
            raise refuse(
                "same_time", "slot", N_("Please choose a time different from the current one.")
            )
        self._check_start(booking.head, starts_at, booking)
        rules = self.rules_for(booking.department_id)
        source, previous = booking.state, booking.starts_at
        booking.starts_at, booking.ends_at = starts_at, starts_at + rules.length
        booking.blocked_from, booking.blocked_until = rules.block(starts_at)
        booking.state = step.target.value
        booking.proposed_by = side.value
        self._bump(booking)
        self._flush_or_taken()
        self._record(booking, "reschedule", source, side, actor, reason, previous)
        log.info("booking %s rescheduled by %s: %s → %s", booking.id, side, previous, starts_at)
        self._tell(booking, "reschedule")
        return booking

    def _bump(self, booking: Booking) -> None:
        booking.sequence += 1
        booking.updated_at = self.clock.now()

    def _record(
        self,
        booking: Booking,
        action: str,
        source: str,
        side: Side,
        actor: User | None,
        reason: str,
        previous: datetime | None = None,
    ) -> None:
        self.db.add(
            BookingEvent(
                booking_id=booking.id,
                action=action,
                from_state=source,
                to_state=booking.state,
                side=side.value,
                actor_id=actor.id if actor else None,
                reason=reason,
                previous_start=previous,
                at=self.clock.now(),
            )
        )
        self.db.flush()
        self.db.expire(booking, ["events"])

    # -- links ----------------------------------------------------------------------------------
    def link_token(self, booking: Booking, side: Side, now: datetime | None = None) -> str:
        claims = links.LinkClaims(booking.id, side.value, booking.sequence, booking.starts_at)
        return links.sign(self.secret, claims)

    def check_link(self, booking_id: int | None, token: str, now: datetime) -> tuple[Booking, Side]:
        try:
            claims = links.verify(self.secret, token, now)
        except links.LinkInvalid as exc:
            log.warning("booking link refused: %s", exc.reason)
            if exc.reason == "expired":
                raise LinkError(
                    "link_expired", "", N_("This link has expired: the meeting time has passed.")
                ) from None
            raise LinkError("link_forged", "", N_("This link is not valid.")) from None
        booking = self.get(claims.booking_id)
        if booking is None or (booking_id is not None and booking.id != booking_id):
            log.warning("booking link refused: unknown booking %s", claims.booking_id)
            raise LinkError("link_forged", "", N_("This link is not valid."))
        if claims.sequence != booking.sequence:
            log.warning("booking link refused: outdated (booking %s)", booking.id)
            raise LinkError(
                "link_outdated",
                "",
                N_(
                    "The booking has changed since this link was sent. "
                    "Please use the link in the latest e-mail."
                ),
            )
        return booking, Side(claims.side)

    # -- availability and rules -----------------------------------------------------------------
    def _check_keeper(self, head: User, actor: User | None) -> None:
        if not may_keep_availability(actor, head):
            raise refuse(
                "not_keeper", "", N_("Only the head or staff of the department can do this.")
            )

    def set_weekly(
        self, head: User, intervals: Sequence[tuple[int, time, time]], actor: User | None
    ) -> None:
        self._check_keeper(head, actor)
        self._check_head(head)
        cleaned = sorted(set(intervals))
        for weekday, start, end in cleaned:
            if not 0 <= weekday <= 6 or start >= end:
                raise refuse("interval", "weekly", N_("Each period must end after it starts."))
        for (d1, _s1, e1), (d2, s2, _e2) in itertools.pairwise(cleaned):
            if d1 == d2 and s2 < e1:
                raise refuse("overlap", "weekly", N_("Two periods on the same day overlap."))
        self.db.execute(delete(WeeklyAvailability).where(WeeklyAvailability.head_id == head.id))
        self.db.add_all(
            WeeklyAvailability(head_id=head.id, weekday=d, start_time=s, end_time=e)
            for d, s, e in cleaned
        )
        self.db.flush()
        log.info("weekly availability of head %s set by user %s", head.id, actor and actor.id)

    def add_override(
        self,
        head: User,
        day: date,
        start: time | None,
        end: time | None,
        note: str,
        actor: User | None,
    ) -> AvailabilityOverride:
        self._check_keeper(head, actor)
        if (start is None) != (end is None) or (
            start is not None and end is not None and start >= end
        ):
            raise refuse("interval", "end", N_("The period must end after it starts."))
        if day < slots.local_date(self.clock.now()):
            raise refuse("override_past", "day", N_("This date is in the past."))
        override = AvailabilityOverride(
            head_id=head.id,
            day=day,
            start_time=start,
            end_time=end,
            note=(note or "").strip()[:200],
        )
        self.db.add(override)
        self.db.flush()
        return override

    def remove_override(self, override: AvailabilityOverride, actor: User | None) -> None:
        head = self.db.get(User, override.head_id)
        if head is None:
            return
        self._check_keeper(head, actor)
        self.db.delete(override)
        self.db.flush()

    def set_rules(
        self, department_id: int, values: dict[str, int], actor: User | None
    ) -> SlotRules:
        keeper = actor is not None and (
            actor.has_role(Role.ADMIN)
            or (
                actor.department_id == department_id
                and (actor.has_role(Role.HEAD) or actor.has_role(Role.STAFF))
            )
        )
        if not keeper:
            raise refuse(
                "not_keeper", "", N_("Only the head or staff of the department can do this.")
            )
        row = self.db.get(SlotRules, department_id)
        if row is None:
            row = SlotRules(department_id=department_id, **DEFAULT_RULES)
            self.db.add(row)
        for key in DEFAULT_RULES:
            if key in values:
                setattr(row, key, int(values[key]))
        if row.length_minutes <= 0 or row.interval_minutes <= 0 or row.horizon_days <= 0:
            raise refuse("rules", "", N_("Length, interval and horizon must be positive."))
        row.updated_at = self.clock.now()
        self.db.flush()
        return row

    # -- mail -------------------------------------------------------------------------------------
    def page_url(self, booking: Booking) -> str:
        return self.public_url + notify.BOOKING_PATH.format(id=booking.id)

    def link_url(self, booking: Booking, side: Side) -> str:
        return self.public_url + notify.LINK_PATH.format(token=self.link_token(booking, side))

    def _tell(self, booking: Booking, action: str) -> None:
        """Mail both sides about ``action`` with the invite at the booking's SEQUENCE."""
        now = self.clock.now()
        method, _status = notify.ICAL_FOR_STATE[BookingState(booking.state)]
        ics = notify.invite_for(booking, now, self.page_url(booking), self.sender)
        for person in notify.recipients(booking):
            if not person.email:
                continue
            t = self.localizer(person.locale).translate
            link = self.link_url(booking, person.side) if booking.is_active else None
            subject = t(_(notify.SUBJECTS[action], mapping={"topic": booking.topic}))
            text = notify.body(
                t, booking, headline=subject, page_url=self.page_url(booking), link_url=link
            )
            self.mailer.queue(
                self.db,
                to=[person.email],
                subject=subject,
                text=text,
                attachments=[notify.attachment(ics, method)],
                kind="meetings.booking",
                dedupe_key=f"meetings:booking:{booking.id}:{booking.sequence}:{person.side.value}",
            )

    def send_reminders(self, now: datetime) -> int:
        """Queue due reminders: once a day ahead, once 15 minutes ahead, per side.

        The dedupe key names the start time, so a rescheduled booking is reminded
        again for its new time and a second run (or process) queues nothing.
        """
        due = self.db.scalars(
            select(Booking).where(
                Booking.state.in_([BookingState.CONFIRMED.value, BookingState.RESCHEDULED.value]),
                Booking.starts_at > now,
                Booking.starts_at <= now + timedelta(days=1),
            )
        )
        queued = 0
        for booking in due:
            if not booking.is_agreed:
                continue
            kind = "soon" if booking.starts_at - now <= timedelta(minutes=15) else "day"
            for person in notify.recipients(booking):
                if not person.email:
                    continue
                t = self.localizer(person.locale).translate
                subject = t(
                    _(
                        notify.SUBJECTS[f"remind_{kind}"],
                        mapping={
                            "topic": booking.topic,
                            "time": f"{local(booking.starts_at):%m-%d %H:%M}",
                        },
                    )
                )
                text = notify.body(
                    t,
                    booking,
                    headline=subject,
                    page_url=self.page_url(booking),
                    link_url=self.link_url(booking, person.side),
                )
                at = f"{booking.starts_at:%Y%m%dT%H%M}"
                key = f"meetings:reminder:{booking.id}:{at}:{kind}:{person.side.value}"
                if self.mailer.queue(
                    self.db,
                    to=[person.email],
                    subject=subject,
                    text=text,
                    kind="meetings.reminder",
                    dedupe_key=key,
                ):
                    queued += 1
        return queued
