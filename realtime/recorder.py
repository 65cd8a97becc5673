"""The recording peer: a server-side aiortc participant that writes what it receives.

Media normally goes browser to browser and never through the server. Only when
every participant has consented does the meeting get this extra peer: each browser
opens one more RTCPeerConnection, to it, sending its camera (or screen) and
microphone; the peer decodes them (aiortc always does) and encodes each
participant into its own WebM file (VP8 + Opus).

Why not aiortc's ``MediaRecorder`` as is: it encodes in the event loop, and a
VP8 encode of a 640×360 frame takes milliseconds; thirty of them a second per
participant would stall every other connection of the realtime process (chat,
signalling). :class:`FileWriter` keeps MediaRecorder's container handling but
encodes and muxes in a thread of its own, fed by a queue with a bounded video
backlog: when the encoder cannot keep up, video frames are dropped rather than
memory filled; audio frames are always kept.

Nothing here knows sockets or the database: the handlers in ``realtime/meetings.py``
pass offers in and answers out, and record the files they are told about.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

#: frames per second kept in a recording. Browsers send 30; every second frame is
#: enough for a record of a conversation and halves the encoder's work, the largest
#: part of what a recorded meeting costs the server (bench/video.py)
RECORD_FPS = 15
#: libvpx "realtime" with a high cpu-used: about half the CPU of its defaults for
#: the same 640×360 frame (measured in bench/video.py's recorded meetings)
VP8_OPTIONS = {"deadline": "realtime", "cpu-used": "8"}
VIDEO_BIT_RATE = 800_000
#: video frames waiting for the encoder thread; beyond this new ones are dropped
#: (audio never is: it is cheap, and a record of a conversation needs its words)
QUEUE_FRAMES = 90
#: seconds a stopping writer keeps encoding its video backlog before it drops it
STOP_GRACE = 2.0
#: frames held before the file starts while a track has not sent its first frame
HOLD_FRAMES = 150
_STOP = object()


@dataclass
class Written:
    """What one file holds once closed."""

    path: str
    size: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    #: video frames that arrived; each was written or dropped
    received: int = 0
    #: video frames the encoder could not keep up with
    dropped: int = 0
    #: video frames left out to record at RECORD_FPS
    thinned: int = 0


def _fit(frame: av.VideoFrame, size: tuple[int, int]) -> av.VideoFrame:
    """A frame of another size (the sender switched to screen sharing) scaled to ``size``."""
    if (frame.width, frame.height) == size:
        return frame
    pts, time_base = frame.pts, frame.time_base
    scaled = frame.reformat(width=size[0], height=size[1], format="yuv420p")
    scaled.pts, scaled.time_base = pts, time_base or fractions.Fraction(1, 90000)
    return scaled


class FileWriter:
    """Encodes one participant's audio and video into one WebM file, in a thread.

    ``start(kinds)`` must know every track before the first frame: a WebM header
    lists its streams and cannot grow after the first packet.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = Written(path)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._backlog = 0  # video frames queued, not yet encoded
        self._stop_deadline = float("inf")
        self._backlog_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._kinds: tuple[str, ...] = ()
        self._size = (0, 0)
        self._first_pts: dict[str, int] = {}
        self._next_video = 0.0  # seconds into the file of the next video frame to keep

    def start(self, tracks: Sequence[MediaStreamTrack]) -> None:
        self._kinds = tuple(sorted({t.kind for t in tracks}))
        self._thread = threading.Thread(
            target=self._encode, name=f"recorder-{os.path.basename(self.path)}", daemon=True
        )
        self._thread.start()
        self._readers = [asyncio.ensure_future(self._read(t)) for t in tracks]

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                self.written.received += 1
                with self._backlog_lock:
                    if self._backlog >= QUEUE_FRAMES:
                        self.written.dropped += 1
                        continue
                    self._backlog += 1
            self._queue.put_nowait((track.kind, frame))

    def _open(self, held: list[tuple[str, Any]]) -> tuple[Any, dict[str, Any]]:
        """The container, with a stream for each kind of frame that has arrived."""
        kinds = {kind for kind, _frame in held}
        container = av.open(self.path, mode="w", format="webm")
        streams: dict[str, Any] = {}
        if "video" in kinds:
            first = next(frame for kind, frame in held if kind == "video")
            # The first frame fixes the size (even, as yuv420p needs); the codec
            # opens with the first packet and its size cannot change after.
            self._size = (first.width - first.width % 2, first.height - first.height % 2)
            video = container.add_stream("libvpx", rate=RECORD_FPS)
            video.pix_fmt = "yuv420p"
            video.width, video.height = self._size
            video.bit_rate = VIDEO_BIT_RATE
            video.options = dict(VP8_OPTIONS)
            streams["video"] = video
        if "audio" in kinds:
            streams["audio"] = container.add_stream("libopus")
        return container, streams

    def _write(self, container: Any, streams: dict[str, Any], item: tuple[str, Any]) -> None:
        kind, frame = item
        stream = streams.get(kind)
        if stream is None:
            return  # a track that sent nothing before the file began
        # Browsers start RTP timestamps at random values; the file starts at 0.
        start = self._first_pts.setdefault(kind, frame.pts or 0)
        pts = (frame.pts or 0) - start
        if kind == "video":
            at = float(pts * (frame.time_base or fractions.Fraction(1, 90000)))
            # a quarter frame of slack: 30 fps input keeps exactly every second frame
            if at < self._next_video - 0.25 / RECORD_FPS:
                self.written.thinned += 1
                return
            self._next_video = max(self._next_video, at) + 1 / RECORD_FPS
            frame = _fit(frame, self._size)
            self.written.video_frames += 1
        else:
            self.written.audio_frames += 1
        frame.pts = pts
        for packet in stream.encode(frame):
            container.mux(packet)

    def _encode(self) -> None:
        # Frames are held back until every track has delivered one (or for a few
        # seconds' worth): a WebM header lists all its streams, and the first
        # packet written (often audio, which starts sooner) fixes them.
        held: list[tuple[str, Any]] = []
        container: Any = None
        streams: dict[str, Any] = {}
        try:
            while (item := self._queue.get()) is not _STOP:
                if item[0] == "video":
                    with self._backlog_lock:
                        self._backlog -= 1
                    if container is not None and time.monotonic() > self._stop_deadline:
                        # Stopping for a while: the video still queued is a backlog
                        # the encoder was behind on; a prompt stop matters more
                        # (audio is kept).
                        self.written.dropped += 1
                        continue
                if container is not None:
                    self._write(container, streams, item)
                    continue
                held.append(item)
                if {k for k, _f in held} >= set(self._kinds) or len(held) >= HOLD_FRAMES:
                    container, streams = self._open(held)
                    for waiting in held:
                        self._write(container, streams, waiting)
                    held = []
            if container is None and held:
                container, streams = self._open(held)
                for waiting in held:
                    self._write(container, streams, waiting)
            for stream in streams.values():
                if stream.codec_context.is_open:
                    for packet in stream.encode(None):
                        container.mux(packet)
        except Exception:
            log.exception("recording %s failed", self.path)
        finally:
            if container is not None:
                container.close()
            with contextlib.suppress(OSError):
                self.written.size = os.path.getsize(self.path)

    async def stop(self) -> Written:
        for reader in self._readers:
            reader.cancel()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if self._thread is not None:
            self._stop_deadline = time.monotonic() + STOP_GRACE
            self._queue.put_nowait(_STOP)
            await asyncio.to_thread(self._thread.join)
        return self.written


@dataclass
class Participant:
    """The recorder's connection to one browser, and the file it writes."""

    peer: str
    file_id: str
    pc: RTCPeerConnection
    writer: FileWriter
    tracks: list[MediaStreamTrack] = field(default_factory=list)


def ice_configuration(servers: Sequence[dict[str, Any]]) -> RTCConfiguration:
    """``[{"urls": [...], "username"?, "credential"?}]`` (what browsers get) for aiortc."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in servers
        ]
    )


class Recorder:
    """One recording run of one meeting: a peer connection per participant."""

    def __init__(
        self, recording_id: int, directory: str, ice_servers: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.recording_id = recording_id
        self.directory = directory
        self.ice_servers = list(ice_servers)
        self.participants: dict[str, Participant] = {}
        #: files closed so far (a participant left or renegotiated), by file id
        self.finished: dict[str, Written] = {}
        self.stopped = False
        os.makedirs(directory, exist_ok=True)

    async def answer(self, peer: str, file_id: str, offer_sdp: str) -> str:
        """Accept ``peer``'s offer (its tracks) and return the answer's SDP.

        A second offer from the same peer (it renegotiated, e.g. after a reconnect)
        replaces the first connection; its file is kept and a new one started.
        """
        if self.stopped:
            raise RuntimeError("recording stopped")
        await self.drop(peer)
        pc = RTCPeerConnection(ice_configuration(self.ice_servers))
        writer = FileWriter(os.path.join(self.directory, file_id + ".webm"))
        participant = Participant(peer, file_id, pc, writer)
        self.participants[peer] = participant

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            participant.tracks.append(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("recording %s: %s is %s", self.recording_id, peer, pc.connectionState)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            for transceiver in pc.getTransceivers():
                transceiver.direction = "recvonly"
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self.drop(peer)
            raise
        writer.start(participant.tracks)
        return pc.localDescription.sdp

    async def drop(self, peer: str) -> Written | None:
        participant = self.participants.pop(peer, None)
        if participant is None:
            return None
        await participant.pc.close()
        written = await participant.writer.stop()
        self.finished[participant.file_id] = written
        return written

    async def stop(self) -> dict[str, Written]:
        """Close every connection and file; returns what each file id holds."""
        self.stopped = True
        for peer in list(self.participants):
            await self.drop(peer)
        return dict(self.finished)


# -- the recorder in a process of its own ------------------------------------------------
class RecorderProcess:
    """A :class:`Recorder` in a child process (``python -m realtime.recorder``).

    Why a process: decoding every participant's video and encoding it again is the
    heaviest work the realtime server would ever do, and in the server's own process
    it would compete for the interpreter lock with the event loop that serves every
    chat and every signal (measured in bench/video.py: on a busy machine the whole
    process then behaves like one thread). In a child it has its own lock and its own
    share of the CPU; if it crashes, the server and the meeting go on.

    The protocol is one JSON object per line on the child's stdin and stdout:
    ``{"cmd": "answer", "peer", "file_id", "sdp"}`` → ``{"sdp"}``,
    ``{"cmd": "drop", "peer"}`` → ``{}``, ``{"cmd": "stop"}`` → ``{"written": {file
    id: Written}}``; ``{"error": "…"}`` for a failure. End of stdin stops the child.
    """

    def __init__(
        self, recording_id: int, directory: str, ice_servers: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.recording_id = recording_id
        self.directory = directory
        self.ice_servers = list(ice_servers)
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        import json
        import sys

        config = {"recording": self.recording_id, "dir": self.directory, "ice": self.ice_servers}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "realtime.recorder",
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 20,  # an answer's SDP is one line of a few kilobytes
        )

    async def _call(self, **command: Any) -> dict[str, Any]:
        import json

        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError("recorder process not started")
        async with self._lock:
            proc.stdin.write(json.dumps(command).encode() + b"\n")
            await proc.stdin.drain()
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"recorder process ended (exit {proc.returncode})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    async def answer(self, peer: str, file_id: str, offer_sdp: str) -> str:
        reply = await self._call(cmd="answer", peer=peer, file_id=file_id, sdp=offer_sdp)
        return str(reply["sdp"])

    async def drop(self, peer: str) -> None:
        await self._call(cmd="drop", peer=peer)

    async def stop(self) -> dict[str, Written]:
        """Close every connection and file; what each file holds. Safe if the child died."""
        if self.proc is None:
            return {}
        try:
            reply = await self._call(cmd="stop")
            written = {key: Written(**value) for key, value in reply["written"].items()}
        except (RuntimeError, ConnectionError, ValueError) as exc:
            log.error("recording %s: the recorder process failed: %s", self.recording_id, exc)
            written = {}
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return written


async def _serve(config: dict[str, Any]) -> None:
    """The child's side: commands on stdin, one reply line each on stdout."""
    import dataclasses
    import json
    import sys

    recorder = Recorder(int(config["recording"]), str(config["dir"]), config.get("ice") or [])
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def send(reply: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        command = json.loads(line)
        try:
            if command["cmd"] == "answer":
                sdp = await recorder.answer(command["peer"], command["file_id"], command["sdp"])
                send({"sdp": sdp})
            elif command["cmd"] == "drop":
                await recorder.drop(command["peer"])
                send({})
            elif command["cmd"] == "stop":
                written = await recorder.stop()
                send({"written": {k: dataclasses.asdict(w) for k, w in written.items()}})
                return
            else:
                send({"error": f"unknown command {command['cmd']!r}"})
        except Exception as exc:
            log.exception("recording %s: %s failed", config["recording"], command.get("cmd"))
            send({"error": f"{type(exc).__name__}: {exc}"})
    await recorder.stop()  # the server went away: close the files properly


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime.recorder '<json config>'``: run one recording (see
    :class:`RecorderProcess`)."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_serve(json.loads(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
