"""The meeting room over the real realtime server, with aiortc peers as the browsers.

Each test commits a booked meeting (the server works in its own transactions, see
tests/realtime_harness.py), connects websocket clients as the head and the
enterprise, and checks what the server relays and refuses: the lobby, offers and
answers between two aiortc peers until each decodes the other's video, chat and
camera switches, recording when both consent (the files decode with PyAV), a drop
and a rejoin, and malformed signalling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription
from sqlalchemy import select

from portal.meetings import attendance
from portal.meetings.recording import Recording, file_path
from realtime.client import ClientError
from tests import factories_meetings
from tests.factories_room import meeting
from tests.realtime_harness import World, client, redis_processes, threaded_server
from tests.unit.meetings.test_recording_recorder import Pattern

pytestmark = pytest.mark.slow


class MeetingWorld(World):
    """World plus booked meetings (they go with their users at cleanup)."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        factories_meetings.bind(self.session)

    def meeting(self, start: datetime | None = None) -> Any:
        found = meeting(start=start or datetime.now(UTC))
        self.users += [found.head, found.requester]
        self.departments.append(found.head.department)
        self.session.commit()
        return found

    def invite(self, booking: Any, inviter: Any, user: Any) -> None:
        attendance.invite(self.session, booking, inviter, user.login, datetime.now(UTC))
        self.session.commit()

    def recordings(self, booking_id: int) -> list[Recording]:
        self.session.rollback()  # a new snapshot: the server committed since
        return list(
            self.session.scalars(select(Recording).where(Recording.booking_id == booking_id))
        )


@pytest.fixture
def world(engine: Any) -> Iterator[MeetingWorld]:
    found = MeetingWorld(engine)
    try:
        yield found
    finally:
        found.cleanup()


@pytest.fixture
def server(settings: dict[str, Any], tmp_path: Any, world: MeetingWorld) -> Iterator[Any]:
    # Depends on ``world`` so that the server stops (its last writes done) before the
    # world deletes what it made: SQLite refuses a write that races another.
    with threaded_server(settings, **{"qzt.meetings.recording_dir": str(tmp_path)}) as found:
        yield found


def run(server: Any, coro: Any, timeout: float = 60) -> Any:
    """Run the test's client side in its own loop (the server has the other thread)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def connected(server: Any, *users: Any) -> AsyncIterator[list[Any]]:
    """Clients connected as ``users``, closed however the test ends."""
    clients = [client(server.url, user) for user in users]
    try:
        for c in clients:
            await c.connect()
        yield clients
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()


async def send(c: Any, **message: Any) -> None:
    await c.send_raw(json.dumps(message))


async def error(c: Any, code: str) -> dict[str, Any]:
    return await c.expect("error", where=lambda e: e.get("code") == code)


async def enter(head: Any, guest: Any, booking_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The head enters, the guest knocks, the head admits, the guest enters."""
    host_reply = await head.request("meeting.join", meeting=booking_id)
    assert host_reply["type"] == "meeting.joined"
    lobby = await guest.request("meeting.join", meeting=booking_id)
    assert lobby["type"] == "meeting.lobby"
    knock = await head.expect("meeting.knock")
    await head.request("meeting.admit", meeting=booking_id, user=knock["user"])
    await guest.expect("meeting.admitted")
    guest_reply = await guest.request("meeting.join", meeting=booking_id)
    assert guest_reply["type"] == "meeting.joined"
    return host_reply["you"], guest_reply["you"]


class Peer:
    """An aiortc participant: sends a test pattern and audio, keeps what it decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTrack(AudioStreamTrack())
        self.pc.addTrack(Pattern())
        self.first_frame: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.frames = 0
        self._readers: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self._readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            self.frames += 1
            if not self.first_frame.done():
                self.first_frame.set_result(frame)

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await self.pc.close()


async def connect_peers(
    a: Any, b: Any, booking_id: int, b_peer: str, a_peer: str
) -> tuple[Peer, Peer]:
    """a offers to b through the server; b answers; returns both peers."""
    pa, pb = Peer(), Peer()
    await pa.pc.setLocalDescription(await pa.pc.createOffer())
    await send(
        a,
        type="meeting.signal",
        meeting=booking_id,
        to=b_peer,
        description={"type": "offer", "sdp": pa.pc.localDescription.sdp},
    )
    offer = await b.expect("meeting.signal", where=lambda e: e["from"]["peer"] == a_peer)
    assert offer["description"]["type"] == "offer"
    await pb.pc.setRemoteDescription(RTCSessionDescription(**offer["description"]))
    await pb.pc.setLocalDescription(await pb.pc.createAnswer())
    await send(
        b,
        type="meeting.signal",
        meeting=booking_id,
        to=a_peer,
        description={"type": "answer", "sdp": pb.pc.localDescription.sdp},
    )
    answer = await a.expect("meeting.signal", where=lambda e: e["from"]["peer"] == b_peer)
    await pa.pc.setRemoteDescription(RTCSessionDescription(**answer["description"]))
    return pa, pb


async def offer_to_recorder(c: Any, booking_id: int) -> Peer:
    """A participant's aiortc peer offers its media to the recording peer."""
    peer = Peer()
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    await send(
        c,
        type="meeting.signal",
        meeting=booking_id,
        to="recorder",
        description={"type": "offer", "sdp": peer.pc.localDescription.sdp},
    )
    answer = await c.expect("meeting.signal", where=lambda e: e["from"]["peer"] == "recorder")
    await peer.pc.setRemoteDescription(RTCSessionDescription(**answer["description"]))
    return peer


async def record_then_withdraw(head: Any, guest: Any, booking_id: int) -> None:
    """Both send their media to the recorder for 3 s; the guest then withdraws its
    consent and the recording stops."""
    peers = [await offer_to_recorder(c, booking_id) for c in (head, guest)]
    await asyncio.sleep(3)
    await send(guest, type="meeting.consent", meeting=booking_id, given=False)
    stopped = await head.expect(
        "meeting.recording", timeout=60, where=lambda e: e["state"] == "stopped"
    )
    assert stopped["reason"] == "withdrawn"
    for peer in peers:
        await peer.close()


def assert_recorded_both(world: MeetingWorld, m: Any, directory: Any) -> None:
    """One finished recording, one decodable file with frames per participant."""
    (recording,) = world.recordings(m.id)
    assert recording.state == "finished"
    assert recording.ended_at is not None
    assert {f.user_id for f in recording.files} == {m.head.id, m.requester.id}
    for f in recording.files:
        with av.open(file_path(str(directory), f.id)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == f.video_frames > 0
        assert f.size > 1000


def test_lobby_then_media_between_two_aiortc_peers(server, world):
    m = world.meeting()

    async def scenario() -> None:
        async with connected(server, m.head, m.requester) as (head, guest):
            me_head, me_guest = await enter(head, guest, m.id)
            joined = await head.expect(
                "meeting.peer-joined", where=lambda e: e["user"] == m.requester.id
            )
            assert joined["peer"] == me_guest["peer"]
            assert joined["side"] == "enterprise"
            assert me_head["host"]
            assert not me_guest["host"]

            pa, pb = await connect_peers(head, guest, m.id, me_guest["peer"], me_head["peer"])
            frame_at_guest = await asyncio.wait_for(pb.first_frame, 20)
            frame_at_head = await asyncio.wait_for(pa.first_frame, 20)
            assert (frame_at_guest.width, frame_at_guest.height) == (640, 360)
            assert (frame_at_head.width, frame_at_head.height) == (640, 360)

            # chat and camera switches reach everyone in the room, stamped with the sender
            await guest.request("meeting.chat", meeting=m.id, text="您好，材料已上传。")
            said = await head.expect("meeting.chat")
            assert said["text"] == "您好，材料已上传。"
            assert said["from"]["user"] == m.requester.id
            await send(
                head, type="meeting.media", meeting=m.id, audio=False, video=True, screen=True
            )
            switched = await guest.expect("meeting.media")
            assert (switched["audio"], switched["screen"], switched["from"]["peer"]) == (
                False,
                True,
                me_head["peer"],
            )
            for peer in (pa, pb):
                await peer.close()

    run(server, scenario())


def test_recording_runs_only_while_everyone_consents(server, world, tmp_path):
    m = world.meeting()

    async def scenario() -> int:
        async with connected(server, m.head, m.requester) as (head, guest):
            await enter(head, guest, m.id)
            await send(guest, type="meeting.record", meeting=m.id)
            assert (await error(guest, "not_host"))["detail"] == "只有部门一方可以进行此操作。"
            await send(head, type="meeting.record", meeting=m.id)
            await guest.expect("meeting.consent-request")

            await send(head, type="meeting.consent", meeting=m.id, given=True)
            waiting = await guest.expect("meeting.consent")
            assert waiting["waiting_for"] == [m.requester.id]
            assert world.recordings(m.id) == []
            await send(guest, type="meeting.consent", meeting=m.id, given=True)
            for c in (head, guest):
                started = await c.expect("meeting.recording")
                assert started["state"] == "started"

            await record_then_withdraw(head, guest, m.id)
            return m.id

    run(server, scenario())
    assert_recorded_both(world, m, tmp_path)


@pytest.mark.redis
def test_a_recording_across_two_processes_over_redis(settings, world, tmp_path):
    # The head on one process, the enterprise on the other: the lobby, the consents,
    # the offers to the recorder and its answers, and the stop all cross Redis; the
    # recorder runs in whichever process saw the last consent.
    m = world.meeting()
    env = {"QZT_MEETINGS_RECORDING_DIR": str(tmp_path)}

    async def scenario(one: Any, two: Any) -> None:
        head, guest = client(one.url, m.head), client(two.url, m.requester)
        try:
            for c in (head, guest):
                await c.connect()
            await enter(head, guest, m.id)
            await send(head, type="meeting.record", meeting=m.id)
            await guest.expect("meeting.consent-request")
            for c in (head, guest):
                await send(c, type="meeting.consent", meeting=m.id, given=True)
            for c in (head, guest):
                assert (await c.expect("meeting.recording"))["state"] == "started"
            await record_then_withdraw(head, guest, m.id)
        finally:
            for c in (head, guest):
                with contextlib.suppress(Exception):
                    await c.close()

    with redis_processes(settings["sqlalchemy.url"], **env) as (one, two):
        asyncio.run(asyncio.wait_for(scenario(one, two), 90))
    assert_recorded_both(world, m, tmp_path)


def test_a_dropped_guest_is_seen_to_leave_and_rejoins_without_the_lobby(server, world):
    m = world.meeting()

    async def scenario() -> None:
        async with connected(server, m.head, m.requester) as (head, guest):
            me_head, me_guest = await enter(head, guest, m.id)
            others = lambda e: e["peer"] != me_head["peer"]  # noqa: E731 (its own arrival too)
            await head.expect("meeting.peer-joined", where=others)
            guest.ws.transport.abort()  # the network goes, no close frame
            left = await head.expect("meeting.peer-left", timeout=30)
            assert left["peer"] == me_guest["peer"]
            assert left["user"] == m.requester.id

            async with connected(server, m.requester) as (again,):
                back = await again.request("meeting.join", meeting=m.id)
                assert back["type"] == "meeting.joined"  # admitted once, for the meeting
                rejoined = await head.expect("meeting.peer-joined", where=others)
                assert rejoined["user"] == m.requester.id
                assert rejoined["peer"] == back["you"]["peer"] != me_guest["peer"]
                await again.request("meeting.leave", meeting=m.id)
                gone = await head.expect("meeting.peer-left")
                assert gone["peer"] == back["you"]["peer"]

    run(server, scenario())


def test_the_department_may_turn_a_guest_away(server, world):
    m = world.meeting()

    async def scenario() -> None:
        async with connected(server, m.head, m.requester) as (head, guest):
            # the guest comes first and knocks again when the head arrives
            assert (await guest.request("meeting.join", meeting=m.id))["type"] == "meeting.lobby"
            await head.request("meeting.join", meeting=m.id)
            await guest.expect("meeting.host-joined")
            await guest.request("meeting.join", meeting=m.id)
            knock = await head.expect("meeting.knock")
            await send(head, type="meeting.deny", meeting=m.id, user=knock["user"])
            await guest.expect("meeting.refused")
            # a guest in the lobby cannot talk to the room
            await send(guest, type="meeting.chat", meeting=m.id, text="让我进去")
            assert (await error(guest, "not_in_meeting"))["detail"] == "请先进入会议。"

    run(server, scenario())


def test_outsiders_and_early_comers_are_refused_in_chinese(server, world):
    m = world.meeting()
    later = world.meeting(start=datetime.now(UTC) + timedelta(hours=3))
    outsider = world.enterprise_user()

    async def scenario() -> None:
        async with connected(server, outsider, later.head) as (stranger, early):
            with pytest.raises(ClientError) as refused:
                await stranger.request("meeting.join", meeting=m.id)
            assert refused.value.code == "not_invited"
            assert refused.value.detail == "您未受邀参加此次会议，无法进入。"
            with pytest.raises(ClientError) as missing:
                await stranger.request("meeting.join", meeting=999_999_999)
            assert missing.value.code == "not_invited"  # a missing meeting looks like any other
            with pytest.raises(ClientError) as too_early:
                await early.request("meeting.join", meeting=later.id)
            assert too_early.value.code == "too_early"
            assert too_early.value.detail.startswith("会议室将于 ")
            with pytest.raises(ClientError) as typed:
                await early.request("meeting.join", meeting="1")
            assert typed.value.code == "bad_message"

    run(server, scenario())


def test_malformed_signalling_is_refused_logged_and_harms_nobody(server, world, caplog):
    m = world.meeting()
    caplog.set_level(logging.INFO, logger="realtime")

    async def scenario() -> None:
        async with connected(server, m.head, m.requester) as (head, guest):
            me_head, me_guest = await enter(head, guest, m.id)
            to = me_head["peer"]

            async def refused(code: str, **message: Any) -> str:
                await send(guest, type="meeting.signal", meeting=m.id, **message)
                return (await error(guest, code))["detail"]

            detail = await refused("bad_sdp", to=to, description={"type": "offer", "sdp": "hello"})
            assert detail == "会话描述（SDP）格式错误，未予转发。"
            await refused("bad_sdp", to=to, description={"type": "pranswer", "sdp": "v=0"})
            await refused("bad_candidate", to=to, candidates=[{"candidate": "x", "sdpMid": "0"}])
            await refused("bad_candidate", to=to, candidates=[])
            await refused("bad_peer", to="user:1", candidates=[{"candidate": "", "sdpMid": "0"}])
            await refused(
                "bad_peer", to=me_guest["peer"], candidates=[{"candidate": "", "sdpMid": "0"}]
            )
            await refused("bad_message", to=to)
            await send(guest, type="meeting.teleport", meeting=m.id)
            await error(guest, "unknown_type")
            await send(guest, type="meeting.chat", meeting=m.id, text="x" * 1001)
            assert (await error(guest, "chat_too_long"))["detail"].startswith("文字消息过长")

            # well-formed candidates still pass, and nothing was relayed before
            good = {
                "candidate": "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host",
                "sdpMid": "0",
            }
            await send(guest, type="meeting.signal", meeting=m.id, to=to, candidates=[good])
            relayed = await head.expect("meeting.signal")
            assert relayed["candidates"] == [{**good, "sdpMLineIndex": None}]
            assert relayed["from"]["peer"] == me_guest["peer"]
            assert not [e for e in head.events if e.get("type") == "meeting.signal"]

    run(server, scenario())
    logged = [r.getMessage() for r in caplog.records if "malformed signal" in r.getMessage()]
    assert len(logged) >= 5
    assert all(f"user {m.requester.id}" in line for line in logged)


def test_a_flooding_participant_is_closed_and_the_meeting_goes_on(server, world):
    m = world.meeting()

    async def scenario() -> None:
        async with connected(server, m.head, m.requester) as (head, guest):
            await enter(head, guest, m.id)
            await head.expect("meeting.peer-joined")
            # as fast as it can, until the server has had enough (however slow the machine)
            for _ in range(100_000):
                try:
                    await send(guest, type="meeting.chat", meeting=m.id, text="刷屏")
                except Exception:
                    break
                await asyncio.sleep(0)  # let the client read the answers and the close
                if guest.closed_with is not None:
                    break
            await error(guest, "rate_limited")
            left = await head.expect("meeting.peer-left", timeout=30)
            assert left["user"] == m.requester.id
            assert guest.closed_with == 4429
            await head.request("meeting.chat", meeting=m.id, text="会议继续")
            assert (await head.expect("meeting.chat", where=lambda e: e["text"] == "会议继续"))[
                "from"
            ]["user"] == m.head.id

    run(server, scenario())


def test_invited_staff_enter_directly_and_invited_colleagues_wait(server, world):
    m = world.meeting()
    staff = world.staff(m.head.department)
    colleague = world.enterprise_user(enterprise=world.session.merge(m.requester.enterprise))
    world.invite(m.booking, m.head, staff)
    world.invite(m.booking, m.requester, colleague)

    async def scenario() -> None:
        async with connected(server, staff, colleague) as (s, c):
            assert (await s.request("meeting.join", meeting=m.id))["you"]["host"] is True
            assert (await c.request("meeting.join", meeting=m.id))["type"] == "meeting.lobby"
            knock = await s.expect("meeting.knock")
            assert knock["user"] == colleague.id

    run(server, scenario())
