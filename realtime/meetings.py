"""Meeting-room signalling: lobby, room membership, WebRTC relay, chat, recording.

Media goes browser to browser; this module only carries what the browsers need to
find each other (offers, answers, ICE candidates) and the room's small talk (who is
here, who waits in the lobby, chat, camera/microphone switches, consent). The one
exception is recording: when everybody present has consented, a server-side aiortc
peer (``realtime/recorder.py``) joins and each browser sends it its media too.

Topics (every realtime process delivers them, see ``realtime/dispatch.py``):

* ``meeting:<id>`` — everyone in the room: peer-joined/left, chat, media, consent;
* ``meeting:<id>:hosts`` — the department side: knocks from the lobby;
* ``meeting:<id>:lobby`` — enterprise-side connections waiting to be admitted;
* ``meeting:<id>:peer:<peer>`` — signals addressed to one peer. Only a connection
  inside meeting ``<id>`` subscribes to its own peer topic there, so a signal can
  reach nobody outside the meeting, whatever ``to`` says.

What must hold across processes lives in the database: seats and invitations,
admissions (a dropped guest rejoins without the lobby), attendance (who is present
when consent is counted), consents, and the one running recording per meeting (a
partial unique index decides who starts the recorder).

Every refusal is an ``error`` with a stable ``code`` and a Chinese ``detail``, and
is logged; none touches another connection or meeting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyramid.i18n import TranslationString, make_localizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import SystemClock
from portal.meetings import attendance, recording
from portal.meetings.attendance import Refusal, Seat
from portal.meetings.ice import ice_servers
from portal.meetings.models import Booking, Side
from portal.meetings.recording import recording_dir
from portal.meetings.room_text import ERRORS
from realtime.dispatch import (
    Connection,
    Hub,
    ProtocolError,
    field,
    handler,
    on_disconnect,
    on_shutdown,
    on_startup,
    reply,
    require_user,
)
from realtime.recorder import RecorderProcess
from realtime.signalling import (
    SignalError,
    parse_candidate,
    parse_chat,
    parse_description,
    parse_media_state,
    parse_peer,
)

log = logging.getLogger(__name__)

#: ``conn.state`` key: the meetings this connection is in or waiting for
STATE = "meetings.members"
#: most ICE candidates in one signal (browsers batch them, see static/meetings/room.js)
MAX_CANDIDATES = 32

_LOCALE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "portal", "locale")
_localizer = make_localizer("zh_CN", [_LOCALE_DIR])


def chinese(msgid: str, **mapping: Any) -> str:
    """The zh_CN text of a portal msgid: error details the meeting page shows as is."""
    return str(_localizer.translate(TranslationString(msgid, domain="qzt", mapping=mapping)))


def _now(hub: Hub) -> datetime:
    return (hub.settings.get("qzt.clock") or SystemClock()).now()


def room_topic(meeting: int) -> str:
    return f"meeting:{meeting}"


def hosts_topic(meeting: int) -> str:
    return f"meeting:{meeting}:hosts"


def lobby_topic(meeting: int) -> str:
    return f"meeting:{meeting}:lobby"


def peer_topic(meeting: int, peer: str) -> str:
    return f"meeting:{meeting}:peer:{peer}"


@dataclass
class Member:
    """A connection's place in one meeting."""

    meeting: int
    peer: str
    user_id: int
    name: str
    side: str
    in_room: bool = False

    @property
    def is_host(self) -> bool:
        return self.side == Side.DEPARTMENT

    def info(self) -> dict[str, Any]:
        """How others see this peer: stamped by the server, never taken from a client."""
        return {
            "peer": self.peer,
            "user": self.user_id,
            "name": self.name,
            "side": self.side,
            "host": self.is_host,
        }


def _members(conn: Connection) -> dict[int, Member]:
    found: dict[int, Member] = conn.state.setdefault(STATE, {})
    return found


def _member(conn: Connection, message: dict[str, Any], *, in_room: bool = True) -> Member:
    meeting = field(message, "meeting", int)
    member = _members(conn).get(meeting)
    if member is None or (in_room and not member.in_room):
        raise _refuse("not_in_meeting", conn)
    return member


def _refuse(code: str, conn: Connection, msgid: str | None = None, **mapping: Any) -> ProtocolError:
    """A ProtocolError with the Chinese sentence for ``code``, logged."""
    log.info("meeting refusal %s for user %s (connection %s)", code, conn.claims.user_id, conn.id)
    return ProtocolError(code, chinese(msgid or ERRORS.get(code, ERRORS["bad_message"]), **mapping))


def _signal_error(exc: SignalError, conn: Connection, member: Member) -> ProtocolError:
    log.warning(
        "meeting %s: malformed signal from user %s (%s): %s",
        member.meeting,
        member.user_id,
        conn.id,
        exc.detail,
    )
    return ProtocolError(exc.code, chinese(ERRORS.get(exc.code, ERRORS["bad_message"])))


# -- database work (runs in a worker thread via hub.run_db) --------------------------
def _user(session: Session, user_id: int) -> Any:
    from portal.accounts.models import User

    return session.get(User, user_id)


def _enter(session: Session, meeting: int, user_id: int, now: datetime) -> dict[str, Any]:
    booking = session.get(Booking, meeting)
    if booking is None:
        return {"refusal": attendance.NOT_INVITED}
    seat = attendance.seat_for(session, booking, _user(session, user_id), now)
    if isinstance(seat, Refusal):
        return {"refusal": seat}
    admitted = not seat.waits_in_lobby or attendance.is_admitted(session, meeting, user_id)
    return {"seat": seat, "admitted": admitted}


def _lock_room(session: Session, meeting: int) -> None:
    """Take the meeting's row lock: arrivals, departures and consents of one meeting
    then take turns, whichever realtime process they reach.

    Each decides from what the others wrote ("is everyone here consenting?"). Without
    the lock, two consents given at the same moment on two processes each counted the
    other as still missing on PostgreSQL, and the recording never started (found by
    the two-process test); an arrival could likewise miss a recording being started.
    SQLite's realtime transactions hold its one write lock from BEGIN already.
    """
    session.execute(select(Booking.id).where(Booking.id == meeting).with_for_update())


def _arrive(
    session: Session, meeting: int, user_id: int, peer: str, now: datetime
) -> dict[str, Any]:
    """Record the arrival; a running recording stops if the newcomer has not consented."""
    _lock_room(session, meeting)
    attendance.arrive(session, meeting, user_id, peer, now)
    running = recording.running(session, meeting)
    consented = recording.consents(session, meeting).get(user_id, False)
    return {
        "recording": running.id if running is not None else None,
        "consented": consented,
        "present": sorted(attendance.present(session, meeting)),
    }


def _admit(session: Session, meeting: int, host: Seat, user_id: int, now: datetime) -> bool:
    booking = session.get(Booking, meeting)
    if booking is None:
        return False
    guest = attendance.seat_of(session, booking, _user(session, user_id))
    if guest is None or not guest.waits_in_lobby:
        return False
    return attendance.admit(session, booking, user_id, host, now) is not None


def _consent(
    session: Session, meeting: int, user_id: int, given: bool, now: datetime
) -> dict[str, Any]:
    """Record the answer; start a recording run when everyone present said yes."""
    _lock_room(session, meeting)
    recording.record_consent(session, meeting, user_id, given, now)
    answers = recording.consents(session, meeting)
    here = attendance.present(session, meeting)
    running = recording.running(session, meeting)
    everyone = bool(here) and all(answers.get(u, False) for u in here)
    started = None
    if everyone and running is None:
        booking = session.get(Booking, meeting)
        if booking is not None and booking.is_meeting_time(now):
            row = recording.begin(session, booking, now)
            started = row.id if row is not None else None
    return {
        "start": started,
        "stop": running.id if running is not None and not given else None,
        "waiting_for": sorted(u for u in here if not answers.get(u, False)),
    }


def _depart(session: Session, meeting: int, peer: str, now: datetime) -> dict[str, Any]:
    _lock_room(session, meeting)
    attendance.depart(session, meeting, peer, now)
    running = recording.running(session, meeting)
    return {
        "recording": running.id if running is not None else None,
        "present": sorted(attendance.present(session, meeting)),
    }


def _file(session: Session, recording_id: int, user_id: int, name: str, now: datetime) -> str:
    return recording.add_file(session, recording_id, user_id, name, now).id


def _finish(session: Session, recording_id: int, now: datetime, written: dict[str, Any]) -> None:
    recording.finish(session, recording_id, now, written)


# -- the recording peers of this process ------------------------------------------------
class Recorders:
    """This process's recording peers, by meeting: the registry of aiortc connections.

    Every realtime process listens to one topic, :data:`TOPIC`, for recorder
    commands (a browser's offer, stop, drop a participant); the process that holds
    the meeting's recorder acts, the others ignore it. That is a handful of
    messages per recording run, so broadcasting them costs nothing, and no process
    has to know where another's recorder lives.
    """

    TOPIC = "meeting-recorders"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.running: dict[int, tuple[int, RecorderProcess]] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    def on_event(self, message: dict[str, Any]) -> None:
        """The topic's listener (called by the hub, synchronously)."""
        if message.get("meeting") not in self.running:
            return
        task = asyncio.ensure_future(self._handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: dict[str, Any]) -> None:
        meeting, kind = int(message["meeting"]), message.get("type")
        try:
            if kind == "meeting.recorder.offer":
                await self._answer(meeting, message["from"], message["description"]["sdp"])
            elif kind == "meeting.recorder.drop" and meeting in self.running:
                await self.running[meeting][1].drop(str(message.get("peer")))
            elif kind == "meeting.recorder.stop":
                await self.stop(meeting, str(message.get("reason", "")))
        except Exception:
            log.exception("meeting %s: recorder command %s failed", meeting, kind)

    async def start(self, meeting: int, recording_id: int) -> None:
        settings = self.hub.settings
        servers = ice_servers(settings, "recorder", _now(self.hub).timestamp())
        recorder = RecorderProcess(recording_id, recording_dir(settings), servers)
        await recorder.start()
        self.running[meeting] = (recording_id, recorder)
        log.info("meeting %s: recording %s started", meeting, recording_id)

    async def _answer(self, meeting: int, sender: dict[str, Any], offer: str) -> None:
        recording_id, recorder = self.running[meeting]
        file_id = await self.hub.run_db(
            _file, recording_id, sender["user"], sender["name"], _now(self.hub)
        )
        sdp = await recorder.answer(sender["peer"], file_id, offer)
        await self.hub.publish(
            peer_topic(meeting, sender["peer"]),
            {
                "type": "meeting.signal",
                "meeting": meeting,
                "from": RECORDER_INFO,
                "description": {"type": "answer", "sdp": sdp},
            },
        )

    async def stop(self, meeting: int, reason: str) -> bool:
        """Stop and record the meeting's recording if it runs here; False otherwise."""
        found = self.running.pop(meeting, None)
        if found is None:
            return False
        recording_id, recorder = found
        written = await recorder.stop()
        sizes = {key: (w.size, w.video_frames) for key, w in written.items()}
        await self.hub.run_db(_finish, recording_id, _now(self.hub), sizes)
        log.info(
            "meeting %s: recording %s stopped (%s): %s, %d video frames dropped, %d thinned",
            meeting,
            recording_id,
            reason,
            sizes,
            sum(w.dropped for w in written.values()),
            sum(w.thinned for w in written.values()),
        )
        await self.hub.publish(
            room_topic(meeting),
            {"type": "meeting.recording", "meeting": meeting, "state": "stopped", "reason": reason},
        )
        return True

    async def stop_all(self) -> None:
        for meeting in list(self.running):
            await self.stop(meeting, "shutdown")


#: how browsers see the recording peer
RECORDER_INFO = {"peer": "recorder", "user": None, "name": "", "side": "recorder", "host": False}

# One registry per server (hub), made when the server starts; weak, so a stopped
# server's registry goes with it (tests start and stop several).
_REGISTRIES: weakref.WeakKeyDictionary[Any, Recorders] = weakref.WeakKeyDictionary()


def recorders(hub: Hub) -> Recorders:
    found = _REGISTRIES.get(hub)
    if found is None:
        found = _REGISTRIES[hub] = Recorders(hub)
        listen = getattr(hub, "listen", None)
        if listen is not None:  # the LocalHub: hear commands from every process
            listen(Recorders.TOPIC, found.on_event)
    return found


@on_startup
async def _started(hub: Hub) -> None:
    recorders(hub)


@on_shutdown
async def _stopping(hub: Hub) -> None:
    await recorders(hub).stop_all()


async def start_recording(hub: Hub, meeting: int, recording_id: int) -> None:
    await recorders(hub).start(meeting, recording_id)
    await hub.publish(
        room_topic(meeting),
        {"type": "meeting.recording", "meeting": meeting, "state": "started", "peer": "recorder"},
    )


async def stop_recording(hub: Hub, meeting: int, reason: str) -> None:
    """Stop the meeting's recording wherever it runs: here, or ask the other processes."""
    if not await recorders(hub).stop(meeting, reason):
        await hub.publish(
            Recorders.TOPIC, {"type": "meeting.recorder.stop", "meeting": meeting, "reason": reason}
        )


# -- handlers -------------------------------------------------------------------------
@handler("meeting.join")
async def join(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    """Enter the room, or the lobby when the enterprise side waits to be admitted."""
    user_id = require_user(conn)
    meeting = field(message, "meeting", int)
    result = await hub.run_db(_enter, meeting, user_id, _now(hub))
    refusal: Refusal | None = result.get("refusal")
    if refusal is not None:
        mapping = {}
        if refusal.opens_at is not None:
            from portal.clock import local

            mapping["time"] = local(refusal.opens_at).strftime("%H:%M")
        raise _refuse(refusal.code, conn, refusal.message, **mapping)
    seat: Seat = result["seat"]
    member = _members(conn).get(meeting) or Member(
        meeting, conn.id, user_id, conn.claims.name or seat.name, seat.side.value
    )
    _members(conn)[meeting] = member
    if member.in_room:
        await conn.send(reply(message, "meeting.joined", meeting=meeting, you=member.info()))
        return
    if not result["admitted"]:
        await hub.subscribe(conn, lobby_topic(meeting))
        await hub.publish(
            hosts_topic(meeting), {"type": "meeting.knock", "meeting": meeting, **member.info()}
        )
        await conn.send(reply(message, "meeting.lobby", meeting=meeting, you=member.info()))
        return
    await _enter_room(hub, conn, member, message)


async def _enter_room(hub: Hub, conn: Connection, member: Member, message: dict[str, Any]) -> None:
    meeting = member.meeting
    hub.unsubscribe(conn, lobby_topic(meeting))
    topics = [room_topic(meeting), peer_topic(meeting, member.peer)]
    if member.is_host:
        topics.append(hosts_topic(meeting))
    for topic in topics:
        await hub.subscribe(conn, topic)
    member.in_room = True
    state = await hub.run_db(_arrive, meeting, member.user_id, member.peer, _now(hub))
    await conn.send(
        reply(
            message,
            "meeting.joined",
            meeting=meeting,
            you=member.info(),
            recording=state["recording"] is not None,
            consented=state["consented"],
        )
    )
    await hub.publish(
        room_topic(meeting), {"type": "meeting.peer-joined", "meeting": meeting, **member.info()}
    )
    if member.is_host:
        # Guests who knocked before any host was here knock again.
        await hub.publish(lobby_topic(meeting), {"type": "meeting.host-joined", "meeting": meeting})
    if state["recording"] is not None and not state["consented"]:
        await stop_recording(hub, meeting, "newcomer")


@handler("meeting.admit")
async def admit(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    member = _member(conn, message)
    guest = field(message, "user", int)
    if not member.is_host:
        raise _refuse("not_host", conn)
    host = Seat(member.user_id, member.name, Side(member.side), invited=False)
    if not await hub.run_db(_admit, member.meeting, host, guest, _now(hub)):
        raise _refuse("not_waiting", conn)
    log.info("meeting %s: user %s admitted user %s", member.meeting, member.user_id, guest)
    await hub.publish(f"user:{guest}", {"type": "meeting.admitted", "meeting": member.meeting})
    await hub.publish(
        hosts_topic(member.meeting),
        {"type": "meeting.lobby-left", "meeting": member.meeting, "user": guest},
    )
    await conn.send(reply(message, "meeting.admit.ok", meeting=member.meeting, user=guest))


@handler("meeting.deny")
async def deny(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    member = _member(conn, message)
    guest = field(message, "user", int)
    if not member.is_host:
        raise _refuse("not_host", conn)
    log.info("meeting %s: user %s turned away user %s", member.meeting, member.user_id, guest)
    await hub.publish(f"user:{guest}", {"type": "meeting.refused", "meeting": member.meeting})
    await hub.publish(
        hosts_topic(member.meeting),
        {"type": "meeting.lobby-left", "meeting": member.meeting, "user": guest},
    )


@handler("meeting.signal")
async def signal(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    """Relay an offer/answer or ICE candidates to one peer of the same meeting."""
    member = _member(conn, message)
    out: dict[str, Any] = {"type": "meeting.signal", "meeting": member.meeting}
    try:
        to = parse_peer(message.get("to"))
        if "description" in message:
            out["description"] = parse_description(message["description"]).as_dict()
        elif isinstance(message.get("candidates"), list):
            batch = message["candidates"]
            if not 0 < len(batch) <= MAX_CANDIDATES:
                raise SignalError("bad_candidate", "1 to 32 candidates per message")
            out["candidates"] = [parse_candidate(c).as_dict() for c in batch]
        else:
            raise SignalError("bad_message", "a signal carries a description or candidates")
    except SignalError as exc:
        raise _signal_error(exc, conn, member) from exc
    if to == member.peer:
        raise _refuse("bad_peer", conn)
    out["from"] = member.info()
    if to == "recorder":
        # The browser gathers all its candidates before it offers to the recorder,
        # so only offers matter; they go to whichever process holds the recorder.
        if out.get("description", {}).get("type") == "offer":
            await hub.publish(Recorders.TOPIC, {**out, "type": "meeting.recorder.offer"})
        return
    await hub.publish(peer_topic(member.meeting, to), out)


@handler("meeting.chat")
async def chat(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    member = _member(conn, message)
    try:
        text = parse_chat(message.get("text"))
    except SignalError as exc:
        raise _signal_error(exc, conn, member) from exc
    await hub.publish(
        room_topic(member.meeting),
        {
            "type": "meeting.chat",
            "meeting": member.meeting,
            "from": member.info(),
            "text": text,
            "at": _now(hub).isoformat(),
        },
    )
    await conn.send(reply(message, "meeting.chat.sent", meeting=member.meeting))


@handler("meeting.media")
async def media(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    """The sender switched its microphone, camera or screen sharing."""
    member = _member(conn, message)
    try:
        state = parse_media_state(message)
    except SignalError as exc:
        raise _signal_error(exc, conn, member) from exc
    await hub.publish(
        room_topic(member.meeting),
        {"type": "meeting.media", "meeting": member.meeting, "from": member.info(), **state},
    )


@handler("meeting.record")
async def record(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    """The department side asks everyone for consent to record."""
    member = _member(conn, message)
    if not member.is_host:
        raise _refuse("not_host", conn)
    await hub.publish(
        room_topic(member.meeting),
        {"type": "meeting.consent-request", "meeting": member.meeting, "from": member.info()},
    )


@handler("meeting.consent")
async def consent(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    """A participant's answer, given on screen; recording runs only while all agree."""
    member = _member(conn, message)
    given = field(message, "given", bool)
    result = await hub.run_db(_consent, member.meeting, member.user_id, given, _now(hub))
    log.info("meeting %s: user %s consent=%s", member.meeting, member.user_id, given)
    await hub.publish(
        room_topic(member.meeting),
        {
            "type": "meeting.consent",
            "meeting": member.meeting,
            "from": member.info(),
            "given": given,
            "waiting_for": result["waiting_for"],
        },
    )
    if result["start"] is not None:
        await start_recording(hub, member.meeting, result["start"])
    elif result["stop"] is not None:
        await stop_recording(hub, member.meeting, "withdrawn")


@handler("meeting.leave")
async def leave(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    member = _member(conn, message, in_room=False)
    await _leave(hub, conn, member)
    await conn.send(reply(message, "meeting.left", meeting=member.meeting))


async def _leave(hub: Hub, conn: Connection, member: Member) -> None:
    meeting = member.meeting
    _members(conn).pop(meeting, None)
    for topic in (room_topic(meeting), hosts_topic(meeting), peer_topic(meeting, member.peer)):
        hub.unsubscribe(conn, topic)
    hub.unsubscribe(conn, lobby_topic(meeting))
    if not member.in_room:
        await hub.publish(
            hosts_topic(meeting),
            {"type": "meeting.lobby-left", "meeting": meeting, "user": member.user_id},
        )
        return
    state = await hub.run_db(_depart, meeting, member.peer, _now(hub))
    await hub.publish(
        room_topic(meeting), {"type": "meeting.peer-left", "meeting": meeting, **member.info()}
    )
    if state["recording"] is not None:
        if state["present"]:
            await hub.publish(
                Recorders.TOPIC,
                {"type": "meeting.recorder.drop", "meeting": meeting, "peer": member.peer},
            )
        else:
            await stop_recording(hub, meeting, "empty")


@on_disconnect
async def disconnected(hub: Hub, conn: Connection) -> None:
    """However the connection ended: leave every meeting (the others see it drop)."""
    for member in list(_members(conn).values()):
        try:
            await _leave(hub, conn, member)
        except Exception:
            log.exception("meeting %s: cleanup after %s failed", member.meeting, conn.id)
