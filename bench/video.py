"""Video meetings: what a meeting costs the server, how fast video starts, the booking race.

    .venv/bin/python bench/video.py                      # SQLite file for the meetings
    .venv/bin/python bench/video.py --meetings 2 --seconds 15
    .venv/bin/python bench/video.py --race-url postgresql+psycopg://postgres@127.0.0.1/test_room

What it does, in one run:

1. Starts the realtime server as its own process (``python -m realtime``), on a
   database migrated here with committed meetings that start now.
2. For each meeting, two aiortc participants (the head and the enterprise) speak
   the meeting protocol exactly as ``static/meetings/room.js`` does: join, lobby,
   admission, the member in the room offers to the newcomer, trickle-free answer.
   Each sends a synthetic 640×360 test pattern at 30 fps and Opus silence: encoded
   live while joining (keyframes on request, like a browser), replayed pre-encoded
   during the CPU windows, so that senders sharing this machine are not the limit.
3. **join → first frame**: from the enterprise's admitted ``meeting.join`` to the
   first video frame it decodes from the head, repeated (leave and join again).
4. **server CPU per meeting**, from ``/proc/<pid>/stat`` of the realtime process over
   a steady window, three ways side by side: idle (no meeting), meetings without
   recording (media browser to browser: the server should see none of it), and
   recorded meetings (both consent; the server's aiortc peer, in a child process of
   the server counted with it, decodes both streams and encodes them to WebM at
   15 fps). The frames the recorder received and wrote are printed too: the figure
   is only as high as the frames it got.
5. The booking race from ``bench/booking_race.py`` (100 parallel requests for one
   slot, on PostgreSQL by default).

Baseline printed beside the figures: the issue's measurement of an aiortc hub that
decodes and re-encodes, about 14 % of a core per stream (≈3 meetings per core).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import logging
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Run as a script, bench/ comes first on sys.path and bench/portal.py would shadow
# the portal package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import av  # noqa: E402
import numpy as np  # noqa: E402
from aiortc import (  # noqa: E402
    AudioStreamTrack,
    MediaStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from sqlalchemy import delete, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from portal.accounts.models import Enterprise, User  # noqa: E402
from portal.departments.models import Department  # noqa: E402
from portal.meetings.models import Booking  # noqa: E402
from portal.meetings.recording import Recording  # noqa: E402
from portal.roles import Role  # noqa: E402
from realtime import tokens  # noqa: E402
from realtime.client import Client  # noqa: E402
from realtime.recorder import RECORD_FPS  # noqa: E402

#: the issue's reference: one stream through an aiortc decode/re-encode hub
HUB_PCT_PER_STREAM = 14.0
WIDTH, HEIGHT, FPS = 640, 360, 30
TICKS = os.sysconf("SC_CLK_TCK")


# -- the synthetic camera ----------------------------------------------------------------
class TestPattern(VideoStreamTrack):
    """640×360 at 30 fps, shaped like a camera in a meeting: a still, textured room
    (gradients and sensor-like noise) and a "head" that moves (a block swaying left
    and right with a changing face). Pre-rendered, so the participants spend their
    CPU on WebRTC, not on drawing."""

    FRAMES: list[np.ndarray] = []

    def __init__(self) -> None:
        super().__init__()
        if not TestPattern.FRAMES:
            rng = np.random.default_rng(5)
            x = np.linspace(0, 255, WIDTH, dtype=np.float32)
            y = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
            room = np.stack([(x + y) / 2, np.tile(x, (HEIGHT, 1)), 255 - (x + y) / 2], axis=2)
            room += rng.normal(0, 6, room.shape)  # texture, like a real wall
            room = np.clip(room, 0, 255).astype(np.uint8)
            for n in range(FPS):
                image = room.copy()
                left = 250 + int(60 * np.sin(2 * np.pi * n / FPS))
                image[80:330, left : left + 140] = (60, 90, 140)  # the head
                mouth = 200 + (n % 6) * 3
                image[mouth : mouth + 12, left + 45 : left + 95] = (30, 30, 90)
                TestPattern.FRAMES.append(np.ascontiguousarray(image))
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.FRAMES[self.count % FPS], format="bgr24")
        self.count += 1
        frame.pts, frame.time_base = pts, time_base or fractions.Fraction(1, 90000)
        return frame


class PreEncoded(MediaStreamTrack):
    """The same pattern, encoded to VP8 once and replayed as packets at 30 fps.

    aiortc sends pre-encoded packets without encoding them again, so the
    participants of the steady CPU windows cost this machine little: the server
    under test gets its frames at the full rate instead of whatever rate a starved
    sender manages. (It cannot answer keyframe requests, so the join measurement
    uses live-encoding ``TestPattern`` senders, like a browser.)
    """

    kind = "video"
    PACKETS: list[bytes] = []

    def __init__(self) -> None:
        super().__init__()
        if not PreEncoded.PACKETS:
            PreEncoded.PACKETS = _encode_clip()
        self.count = 0
        self.started: float | None = None

    async def recv(self) -> av.Packet:
        if self.started is None:
            self.started = time.perf_counter()
        due = self.started + self.count / FPS
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        packet = av.Packet(self.PACKETS[self.count % len(self.PACKETS)])
        packet.pts = self.count * (90000 // FPS)
        packet.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return packet


def _encode_clip(seconds: int = 4) -> list[bytes]:
    """VP8 packets of the test pattern, a keyframe every second (the loop restarts
    on one)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = 800_000
    codec.gop_size = FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    track = TestPattern()
    packets: list[bytes] = []
    for n in range(seconds * FPS):
        frame = av.VideoFrame.from_ndarray(track.FRAMES[n % FPS], format="bgr24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = n
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


# -- a participant speaking the meeting protocol like room.js ------------------------------
@dataclass
class Participant:
    url: str
    token: Callable[[], str]
    meeting: int
    client: Client | None = None
    me: dict[str, Any] = field(default_factory=dict)
    pcs: dict[str, RTCPeerConnection] = field(default_factory=dict)
    recorder: RTCPeerConnection | None = None
    first_frame: asyncio.Future[float] | None = None
    frames: int = 0  # video frames decoded from the other participant
    tasks: set[asyncio.Future[Any]] = field(default_factory=set)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    #: live: encode each frame (joins); False: replay pre-encoded packets (CPU windows)
    live: bool = True

    def camera(self) -> MediaStreamTrack:
        return TestPattern() if self.live else PreEncoded()

    async def connect(self) -> None:
        self.client = Client(self.url, token=self.token, keep_events=True)
        self.client.on_message = self._on_message
        await self.client.connect()

    async def send(self, **message: Any) -> None:
        assert self.client is not None
        await self.client.send_raw(json.dumps({"meeting": self.meeting, **message}))

    def _on_message(self, message: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._handle(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(self.camera())

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                self.readers.append(asyncio.ensure_future(self._read(track)))

        return pc

    async def _read(self, track: Any) -> None:
        while True:
            try:
                await track.recv()
            except Exception:
                return
            self.frames += 1
            if self.first_frame is not None and not self.first_frame.done():
                self.first_frame.set_result(time.perf_counter())

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "meeting.peer-left" and message["peer"] in self.pcs:
            await self.pcs.pop(message["peer"]).close()
        elif kind == "meeting.peer-joined" and message["peer"] != self.me.get("peer"):
            pc = self.pcs[message["peer"]] = self._pc()
            await pc.setLocalDescription(await pc.createOffer())
            await self.send(
                type="meeting.signal",
                to=message["peer"],
                description={"type": "offer", "sdp": pc.localDescription.sdp},
            )
        elif kind == "meeting.signal":
            sender, description = message["from"]["peer"], message.get("description")
            if description is None:
                return
            if sender == "recorder" and self.recorder is not None:
                await self.recorder.setRemoteDescription(RTCSessionDescription(**description))
            elif description["type"] == "offer":
                pc = self.pcs[sender] = self._pc()
                await pc.setRemoteDescription(RTCSessionDescription(**description))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.send(
                    type="meeting.signal",
                    to=sender,
                    description={"type": "answer", "sdp": pc.localDescription.sdp},
                )
            elif sender in self.pcs:
                await self.pcs[sender].setRemoteDescription(RTCSessionDescription(**description))
        elif kind == "meeting.recording" and message["state"] == "started":
            self.recorder = pc = RTCPeerConnection()
            pc.addTrack(AudioStreamTrack())
            pc.addTrack(self.camera())
            await pc.setLocalDescription(await pc.createOffer())
            await self.send(
                type="meeting.signal",
                to="recorder",
                description={"type": "offer", "sdp": pc.localDescription.sdp},
            )

    async def join(self) -> dict[str, Any]:
        assert self.client is not None
        reply = await self.client.request("meeting.join", meeting=self.meeting)
        if reply["type"] == "meeting.joined":
            self.me = reply["you"]
        return reply

    async def leave(self) -> None:
        assert self.client is not None
        await self.client.request("meeting.leave", meeting=self.meeting)
        await self.drop_media()

    async def drop_media(self) -> None:
        for reader in self.readers:
            reader.cancel()
        self.readers = []
        for pc in [*self.pcs.values(), *([self.recorder] if self.recorder else [])]:
            await pc.close()
        self.pcs, self.recorder = {}, None

    async def close(self) -> None:
        await self.drop_media()
        if self.client is not None:
            await self.client.close()


class Meeting:
    def __init__(self, url: str, secret: str, booking: Booking, head: User, guest: User) -> None:
        def token_for(user: User) -> Callable[[], str]:
            return lambda: tokens.sign(
                secret,
                user_id=user.id,
                name=user.display_name,
                roles=[r.role for r in user.role_rows],
                departments=[user.department_id] if user.department_id else [],
                enterprise_id=user.enterprise_id,
                now=time.time(),
            )

        self.id = booking.id
        self.head = Participant(url, token_for(head), booking.id)
        self.guest = Participant(url, token_for(guest), booking.id)

    async def open(self) -> None:
        await self.head.connect()
        await self.guest.connect()
        await self.head.join()
        assert (await self.guest.join())["type"] == "meeting.lobby"
        assert self.head.client is not None
        knock = await self.head.client.expect("meeting.knock")
        await self.head.client.request("meeting.admit", meeting=self.id, user=knock["user"])
        assert self.guest.client is not None
        await self.guest.client.expect("meeting.admitted")

    async def join_to_first_frame(self) -> float:
        """The guest (admitted) joins; ms until it decodes the head's first frame."""
        loop = asyncio.get_running_loop()
        self.guest.first_frame = loop.create_future()
        began = time.perf_counter()
        reply = await self.guest.join()
        assert reply["type"] == "meeting.joined", reply
        got = await asyncio.wait_for(self.guest.first_frame, 30)
        return (got - began) * 1000

    async def record(self) -> None:
        await self.head.send(type="meeting.record")
        for p in (self.head, self.guest):
            await p.send(type="meeting.consent", given=True)

    async def close(self) -> None:
        for p in (self.guest, self.head):
            await p.close()


# -- the fixtures (committed; removed at the end) ------------------------------------------
@dataclass
class Cast:
    tag: str
    department_ids: list[int] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)
    enterprise_ids: list[int] = field(default_factory=list)
    meetings: list[tuple[Booking, User, User]] = field(default_factory=list)


def cast(engine: Any, n: int) -> Cast:
    tag = secrets.token_hex(4)
    found = Cast(tag)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as db:
        for i in range(n):
            department = Department(
                code=f"bv-{tag}-{i}",
                name=f"视频压测局{tag}{i}",
                short_name=f"压测{i}",
                category="经济发展",
                responsibilities="压测",
            )
            enterprise = Enterprise(
                name=f"压测企业{tag}{i}",
                uscc=f"91{tag}{i:04d}".ljust(18, "0")[:18].upper(),
                industry="C",
                contact_person="压测",
                contact_phone="13800000000",
                created_at=now,
            )
            db.add_all([department, enterprise])
            db.flush()
            head = _user(f"bv-{tag}-h{i}", "压测局长", now, department_id=department.id)
            head.set_roles({Role.HEAD})
            guest = _user(f"bv-{tag}-e{i}", "压测企业", now, enterprise_id=enterprise.id)
            guest.set_roles({Role.ENTERPRISE})
            db.add_all([head, guest])
            db.flush()
            start = now - timedelta(minutes=1)
            booking = Booking(
                uid=f"bv-{tag}-{i}@bench",
                department_id=department.id,
                head_id=head.id,
                enterprise_id=enterprise.id,
                requester_id=guest.id,
                topic="视频会议压测",
                state="confirmed",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                blocked_from=start,
                blocked_until=start + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
            db.add(booking)
            db.flush()
            found.department_ids.append(department.id)
            found.enterprise_ids.append(enterprise.id)
            found.user_ids += [head.id, guest.id]
            found.meetings.append((booking, head, guest))
        db.commit()
    return found


def _user(login: str, name: str, now: datetime, **kw: Any) -> User:
    return User(
        login=login,
        email=f"{login}@bench.invalid",
        display_name=name,
        password_hash="!",  # noqa: S106  (not an argon2 hash: nobody can log in)
        is_active=True,
        failed_logins=0,
        created_at=now,
        **kw,
    )


def uncast(engine: Any, found: Cast) -> None:
    with Session(engine) as db, db.begin():
        db.execute(delete(User).where(User.id.in_(found.user_ids)))
        db.execute(delete(Enterprise).where(Enterprise.id.in_(found.enterprise_ids)))
        db.execute(delete(Department).where(Department.id.in_(found.department_ids)))


# -- the server process -------------------------------------------------------------------
class ServerProcess:
    def __init__(self, url: str, secret: str, recordings: str) -> None:
        env = {
            **os.environ,
            "QZT_DATABASE_URL": url,
            "QZT_REALTIME_SECRET": secret,
            "QZT_MEETINGS_RECORDING_DIR": recordings,
            "QZT_REALTIME_RATE": "200",
            "QZT_REALTIME_BURST": "400",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime", "--ini", "/nonexistent.ini", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(recordings + ".log"), "w"),  # noqa: SIM115
            text=True,
        )
        self.log_path = recordings + ".log"
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"realtime server did not start: {line!r}")
        port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
        self.url = f"ws://127.0.0.1:{port}/ws"

    def cpu_seconds(self) -> float:
        """CPU time of the server and its recorder processes (live ones, and those
        it has reaped), in seconds."""
        total = 0
        for stat in _stats():
            pid, ppid, utime, stime, cutime, cstime = stat
            if pid == self.proc.pid:
                total += utime + stime + cutime + cstime
            elif ppid == self.proc.pid:
                total += utime + stime
        return total / TICKS

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _stats() -> list[tuple[int, ...]]:
    """(pid, ppid, utime, stime, cutime, cstime) of every process, from /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        found.append((int(name), int(fields[1]), *(int(f) for f in fields[11:15])))
    return found


async def cpu_over(server: ServerProcess, seconds: float) -> float:
    """Percent of one core the server used during the next ``seconds``."""
    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    await asyncio.sleep(seconds)
    return 100 * (server.cpu_seconds() - cpu0) / (time.perf_counter() - wall0)


# -- the run ----------------------------------------------------------------------------
@dataclass
class Figures:
    joins_ms: list[float] = field(default_factory=list)
    idle_pct: float = 0.0
    plain_pct: float = 0.0
    recorded_pct: float = 0.0
    recorder_fps: float = 0.0  # video frames written per stream per second
    received_fps: float = 0.0  # written + dropped by the encoder's backlog
    recorded_files: int = 0
    peer_fps: float = 0.0  # what participants decoded from each other (plain window)


async def measure(
    figures: Figures, server: ServerProcess, secret: str, found: Cast, seconds: float, joins: int
) -> Figures:
    meetings = [Meeting(server.url, secret, b, h, g) for b, h, g in found.meetings]
    figures.idle_pct = await cpu_over(server, min(seconds, 5))
    try:
        for m in meetings:
            await m.open()
        for _attempt in range(joins):
            for m in meetings:
                figures.joins_ms.append(await m.join_to_first_frame())
                await m.guest.leave()
        # The steady windows: pre-encoded senders (see PreEncoded), joined afresh.
        for m in meetings:
            m.head.live = m.guest.live = False
            await m.guest.join()
        await asyncio.sleep(3)  # settle: connections, first keyframes
        frames0 = sum(m.guest.frames for m in meetings)
        began = time.perf_counter()
        figures.plain_pct = await cpu_over(server, seconds) / len(meetings)
        frames = sum(m.guest.frames for m in meetings) - frames0
        figures.peer_fps = frames / (time.perf_counter() - began) / len(meetings)

        for m in meetings:
            await m.record()
        await asyncio.sleep(4)  # consent, recorder offers and answers, first frames
        figures.recorded_pct = await cpu_over(server, seconds) / len(meetings)
        for m in meetings:
            await m.head.send(type="meeting.consent", given=False)
        for m in meetings:
            assert m.head.client is not None
            await m.head.client.expect(
                "meeting.recording", timeout=60, where=lambda e: e["state"] == "stopped"
            )
    finally:
        for m in meetings:
            await m.close()
    return figures


def recorder_figures(engine: Any, found: Cast, log_path: str) -> tuple[float, float, int]:
    """(written fps, received fps) per stream and the number of files, from the
    recording rows and the server's "recording … stopped" log lines."""
    ids = [b.id for b, _h, _g in found.meetings]
    with Session(engine) as db:
        runs = db.scalars(select(Recording).where(Recording.booking_id.in_(ids))).all()
        files = [f for r in runs for f in r.files]
        seconds = sum(
            (r.ended_at - r.started_at).total_seconds() * len(r.files)
            for r in runs
            if r.ended_at is not None
        )
        written = sum(f.video_frames for f in files)
    with open(log_path, encoding="utf-8") as handle:
        found = re.findall(r"(\d+) video frames dropped, (\d+) thinned", handle.read())
    skipped = sum(int(dropped) + int(thinned) for dropped, thinned in found)
    print(f"recorder log: {written} video frames written; dropped, thinned per run: {found}")
    if not seconds:
        return 0.0, 0.0, len(files)
    return written / seconds, (written + skipped) / seconds, len(files)


def report(f: Figures, meetings: int, seconds: float) -> None:
    joins = sorted(f.joins_ms)
    per_stream = f.recorded_pct / 2
    print(
        f"join_to_first_frame_ms={statistics.median(joins):.0f} "
        f"(median of {len(joins)}, min {joins[0]:.0f}, max {joins[-1]:.0f}; aim < 1000)"
    )
    print(f"server_cpu_per_meeting_pct={f.plain_pct:.1f} mode=plain (aim: no media via the server)")
    print(f"server_cpu_per_meeting_pct={f.recorded_pct:.1f} mode=recorded")
    print()
    print(
        f"{meetings} meeting(s) of 2 aiortc participants, 640x360@30 test pattern, "
        f"{seconds:.0f} s windows"
    )
    print(f"{'':34}{'server % of a core':>20}{'per stream':>12}")
    print(f"{'idle server (no meeting)':34}{f.idle_pct:>20.1f}{'':>12}")
    print(f"{'meeting, media browser to browser':34}{f.plain_pct:>20.1f}{f.plain_pct / 2:>12.1f}")
    print(f"{'meeting, recorded (aiortc peer)':34}{f.recorded_pct:>20.1f}{per_stream:>12.1f}")
    print(
        f"{'baseline: aiortc decode+re-encode hub':34}{2 * HUB_PCT_PER_STREAM:>20.1f}"
        f"{HUB_PCT_PER_STREAM:>12.1f}   (issue 5's measurement)"
    )
    print(f"participants decoded {f.peer_fps:.1f} of {FPS} fps from each other (plain window)")
    print(
        f"recorder: {f.recorded_files} files; received {f.received_fps:.1f} of {FPS} fps per "
        f"stream (all decoded), wrote {f.recorder_fps:.1f} of the {RECORD_FPS} fps a recording "
        "keeps (the rest dropped when its encoder falls behind)"
    )
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )


def booking_race() -> Any:
    """bench/booking_race.py (the booking side's race), loaded by path."""
    import importlib.util

    if "booking_race" in sys.modules:
        return sys.modules["booking_race"]
    path = os.path.join(ROOT, "bench", "booking_race.py")
    spec = importlib.util.spec_from_file_location("booking_race", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["booking_race"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def race(url: str, n: int) -> None:
    race_module = booking_race()
    logging.getLogger("portal.meetings").setLevel(logging.ERROR)
    app, engine = race_module.build_app(url)
    try:
        result = race_module.run_race(app.registry, engine, n)
    finally:
        engine.dispose()
    print(result.line())
    print(result.details())
    for error in result.errors[:5]:
        print("  error:", error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database for the meetings (default: a temporary SQLite)")
    parser.add_argument("--meetings", type=int, default=2, help="meetings at once")
    parser.add_argument("--seconds", type=float, default=10, help="each CPU window")
    parser.add_argument("--joins", type=int, default=5, help="join→first-frame samples per meeting")
    parser.add_argument(
        "--race-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test_booking",
        help="database of the booking race (PostgreSQL, migrated first)",
    )
    parser.add_argument("--race-n", type=int, default=100)
    parser.add_argument("--no-race", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the server log and recordings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    workdir = tempfile.mkdtemp(prefix="qzt-video-")
    url = args.url or f"sqlite:///{workdir}/video.sqlite"
    _app, engine = booking_race().build_app(url)
    secret = secrets.token_hex(16)
    found = cast(engine, args.meetings)
    server = ServerProcess(url, secret, os.path.join(workdir, "recordings"))
    figures = Figures()
    try:
        asyncio.run(measure(figures, server, secret, found, args.seconds, args.joins))
    finally:
        server.stop()
        figures.recorder_fps, figures.received_fps, figures.recorded_files = recorder_figures(
            engine, found, server.log_path
        )
        uncast(engine, found)
        engine.dispose()
        if args.keep:
            print(f"kept {workdir} (server log: recordings.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(figures, args.meetings, args.seconds)
    if not args.no_race:
        print()
        race(args.race_url, args.race_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
