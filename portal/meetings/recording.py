"""Recording a meeting: consent, the recordings, playback for supervisors, retention.

PIPL asks for consent before personal information is recorded, for a retention
period, and for a log of who accessed it. So:

* every participant says yes or no on screen; each answer is a row (an append-only
  consent log), and the realtime server starts the recording peer only while every
  participant in the room has said yes (``realtime/meetings.py``);
* a recording is one row per recording run with one file per participant (each
  browser sends its camera and microphone to the server-side aiortc peer, which
  writes them with PyAV, see ``realtime/recorder.py``);
* supervisors (监察) play the recordings of their scope: a supervisor with a
  department sees that department's meetings, one without sees all; every play is
  logged (:class:`RecordingAccess`), and nobody else, administrators included, may
  play them;
* a job deletes the files once the retention period (setting
  ``qzt.meetings.recording_retention_days``) has passed and keeps the row, marked
  purged, as the record that the meeting was recorded and when it was erased.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pyramid.authorization import DENY_ALL, Allow
from pyramid.registry import Registry
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal import roles as P
from portal.db import Base
from portal.departments.oversight import supervised
from portal.permissions import Permission as Perm
from portal.roles import Role

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.meetings.models import Booking

log = logging.getLogger(__name__)

#: recording files are written as WebM (VP8 + Opus): every browser plays it
SUFFIX = ".webm"


class RecordingConsent(Base):
    """One answer of one participant to "may this meeting be recorded?"."""

    __tablename__ = "meeting_recording_consents"
    __table_args__ = (Index("ix_meeting_recording_consents_booking_user", "booking_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("meeting_bookings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]


class Recording(Base):
    """One recording run: from the moment all consented until someone withdrew,
    left, or the meeting ended."""

    __tablename__ = "meeting_recordings"
    # One running recording per meeting, decided by the database: two realtime
    # processes that see the last consent at once cannot both start a recorder.
    __table_args__ = (
        Index(
            "ux_meeting_recordings_running",
            "booking_id",
            unique=True,
            sqlite_where=text("state = 'recording'"),
            postgresql_where=text("state = 'recording'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_bookings.id", ondelete="CASCADE"), index=True
    )
    #: the scope supervisors are checked against (the booking's department)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="recording")  # finished, purged
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]

    booking: Mapped[Booking] = relationship(lazy="joined")
    files: Mapped[list[RecordingFile]] = relationship(
        order_by="RecordingFile.created_at", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def __acl__(self) -> list[Any]:
        # Built per request by recording_factory (it knows the supervisor); a bare
        # recording grants nothing to anybody.
        return [DENY_ALL]


class RecordingFile(Base):
    """One participant's camera and microphone in one recording. ``id`` is the
    storage key: the file is ``<recording_dir>/<id>.webm``."""

    __tablename__ = "meeting_recording_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_recordings.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    participant: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer, default=0)
    video_frames: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class RecordingAccess(Base):
    """The audit log: who played (or purged) which recording, when."""

    __tablename__ = "meeting_recording_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_recordings.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))  # view, play, purge
    at: Mapped[datetime]


# -- settings ------------------------------------------------------------------------
def recording_dir(settings: Any) -> str:
    """Where recording files live: the realtime process writes, the portal reads."""
    path = str(settings["qzt.meetings.recording_dir"])
    if not os.path.isabs(path):
        path = os.path.join(str(settings.get("here") or os.getcwd()), path)
    return path


def file_path(directory: str, file_id: str) -> str:
    if not (len(file_id) == 32 and file_id.isalnum()):
        raise ValueError("bad recording file id")
    return os.path.join(directory, file_id + SUFFIX)


# -- consent -------------------------------------------------------------------------
def record_consent(
    session: Session, booking_id: int, user_id: int, given: bool, now: datetime
) -> RecordingConsent:
    row = RecordingConsent(booking_id=booking_id, user_id=user_id, given=given, at=now)
    session.add(row)
    session.flush()
    return row


def consents(session: Session, booking_id: int) -> dict[int, bool]:
    """Each participant's latest answer for the booking."""
    rows = session.execute(
        select(RecordingConsent.user_id, RecordingConsent.given)
        .where(RecordingConsent.booking_id == booking_id)
        .order_by(RecordingConsent.id)
    )
    return {int(user_id): bool(given) for user_id, given in rows}


# -- recordings ----------------------------------------------------------------------
def running(session: Session, booking_id: int) -> Recording | None:
    return session.scalar(
        select(Recording).where(Recording.booking_id == booking_id, Recording.state == "recording")
    )


def begin(session: Session, booking: Booking, now: datetime) -> Recording | None:
    """Start a recording run, or None when one is running already."""
    if running(session, booking.id) is not None:
        return None
    row = Recording(
        booking_id=booking.id,
        department_id=booking.department_id,
        state="recording",
        started_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def add_file(
    session: Session, recording_id: int, user_id: int | None, participant: str, now: datetime
) -> RecordingFile:
    row = RecordingFile(
        id=secrets.token_hex(16),
        recording_id=recording_id,
        user_id=user_id,
        participant=participant[:50],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def finish(
    session: Session, recording_id: int, now: datetime, written: dict[str, tuple[int, int]]
) -> Recording | None:
    """Close a run; ``written`` maps file id -> (bytes, video frames) as written."""
    row = session.get(Recording, recording_id)
    if row is None or row.state != "recording":
        return row
    row.state = "finished"
    row.ended_at = now
    for f in row.files:
        f.size, f.video_frames = written.get(f.id, (0, 0))
    session.flush()
    return row


# -- who may play ----------------------------------------------------------------------
def supervises(user: User | None, department_id: int) -> bool:
    """A 监察 with a department oversees that department; one without, all."""
    if user is None or not user.is_active:
        return False
    return supervised(user).covers(department_id)


def acl_for(recording: Recording, user: User | None) -> list[Any]:
    """The recording's ACL for the request's user: play if in scope, else nothing."""
    acl: list[Any] = []
    if user is not None and supervises(user, recording.department_id):
        acl.append((Allow, P.user(user.id), Perm.MEETING_RECORDING_PLAY))
    acl.append(DENY_ALL)
    return acl


def in_scope(session: Session, user: User, limit: int = 200) -> list[Recording]:
    """Recordings a supervisor may see, newest first."""
    if not user.has_role(Role.SUPERVISOR):
        return []
    stmt = select(Recording).order_by(Recording.started_at.desc()).limit(limit)
    if user.department_id is not None:
        stmt = stmt.where(Recording.department_id == user.department_id)
    return list(session.scalars(stmt))


def log_access(
    session: Session,
    recording: Recording,
    user_id: int | None,
    action: str,
    now: datetime,
    file_id: str | None = None,
) -> None:
    session.add(
        RecordingAccess(
            recording_id=recording.id, file_id=file_id, user_id=user_id, action=action, at=now
        )
    )
    session.flush()


# -- retention -------------------------------------------------------------------------
def purge_expired(session: Session, directory: str, now: datetime, days: int) -> int:
    """Delete the files of recordings started more than ``days`` ago; returns how
    many recordings were purged. Safe to run twice and in two processes.

    Why delete before marking: if the transaction then fails, the next run finds
    the row unpurged, deletes nothing more (missing files are fine) and marks it.
    Marking first and deleting after the commit could leave the files of a crashed
    run on disk for good, which is what a retention period exists to prevent.
    """
    cutoff = now - timedelta(days=days)
    due = session.scalars(
        select(Recording).where(Recording.started_at < cutoff).where(Recording.purged_at.is_(None))
    ).all()
    for recording in due:
        for f in recording.files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(file_path(directory, f.id))
        recording.state = "purged"
        recording.purged_at = now
        log_access(session, recording, None, "purge", now)
        log.info("recording %s of booking %s purged", recording.id, recording.booking_id)
    session.flush()
    return len(due)


def close_abandoned(session: Session, directory: str, now: datetime) -> int:
    """Close runs still marked recording after their meeting's window ended.

    A realtime process that dies mid-recording cannot close its run; left open,
    the run would also keep the meeting from being recorded again (one running
    recording per meeting). Whatever its files hold by now is what was recorded.
    """
    stale = [
        r
        for r in session.scalars(select(Recording).where(Recording.state == "recording"))
        if r.booking.meeting_window()[1] < now
    ]
    for found in stale:
        written = {}
        for f in found.files:
            try:
                written[f.id] = (os.path.getsize(file_path(directory, f.id)), f.video_frames)
            except OSError:
                written[f.id] = (0, 0)
        finish(session, found.id, now, written)
        log.warning(
            "recording %s of booking %s closed after its meeting", found.id, found.booking_id
        )
    return len(stale)


def purge_job(registry: Registry, now: datetime) -> int:
    """The periodic job (``config.add_job``): its own transaction, committed.
    Returns how many recordings it purged."""
    settings = registry.settings
    directory = recording_dir(settings)
    session: Session = registry["dbsession_factory"]()
    try:
        with session.begin():
            close_abandoned(session, directory, now)
            days = int(settings["qzt.meetings.recording_retention_days"])
            return purge_expired(session, directory, now, days)
    finally:
        session.close()
