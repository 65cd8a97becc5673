"""The recording peer with real aiortc participants: the files it writes decode with
PyAV and hold the frames that were sent (realtime/recorder.py)."""

from __future__ import annotations

import asyncio
import fractions
import os

import av
import numpy as np
import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from realtime.recorder import Recorder

pytestmark = pytest.mark.slow


class Pattern(VideoStreamTrack):
    """A moving bar at 30 fps; after ``switch_after`` frames it sends a larger size,
    as a browser does when it switches from the camera to sharing a screen."""

    def __init__(self, size=(640, 360), switch_after=None, larger=(1280, 720)):
        super().__init__()
        self.size, self.switch_after, self.larger, self.count = size, switch_after, larger, 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        width, height = self.size
        if self.switch_after is not None and self.count >= self.switch_after:
            width, height = self.larger
        image = np.zeros((height, width, 3), np.uint8)
        x = (self.count * 8) % (width - 40)
        image[:, x : x + 40] = (40, 200, 120)
        self.count += 1
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base or fractions.Fraction(1, 90000)
        return frame


async def _send_to(
    recorder: Recorder, peer: str, file_id: str, video: Pattern
) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(video)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await recorder.answer(peer, file_id, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def _until_received(recorder: Recorder, frames: int) -> None:
    """Wait (event-driven, no fixed sleep) until each participant sent ``frames``."""

    async def poll() -> None:
        while not all(p.writer.written.received >= frames for p in recorder.participants.values()):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 120)


def _decode(path: str) -> tuple[int, list[tuple[int, int]], int]:
    with av.open(path) as container:
        kinds = {s.type for s in container.streams}
        assert kinds == {"video", "audio"}
        sizes = []
        for frame in container.decode(video=0):
            sizes.append((frame.width, frame.height))
        container.seek(0)
        audio = sum(1 for _ in container.decode(audio=0))
    return len(sizes), sizes, audio


def test_each_participant_is_written_to_a_file_that_decodes(tmp_path):
    async def scenario():
        recorder = Recorder(1, str(tmp_path))
        head = await _send_to(recorder, "aaaa0001", "a" * 32, Pattern())
        guest = await _send_to(recorder, "bbbb0001", "b" * 32, Pattern(switch_after=20))
        await _until_received(recorder, 40)
        written = await recorder.stop()
        await head.close()
        await guest.close()
        return written

    written = asyncio.run(scenario())
    assert set(written) == {"a" * 32, "b" * 32}
    for file_id, info in written.items():
        count, sizes, audio = _decode(info.path)
        # every frame that arrived was written, thinned to 15 fps or (the encoder
        # behind) dropped, and the file holds exactly what was written
        assert info.received >= 40, file_id
        assert info.video_frames + info.thinned + info.dropped == info.received
        assert info.thinned > 0
        assert count == info.video_frames > 0
        assert info.size == os.path.getsize(info.path) > 1000
        assert audio > 0
        # one size for the whole file: the screen's larger frames were scaled to it
        assert set(sizes) == {(640, 360)}


def test_a_participant_who_renegotiates_gets_a_new_file(tmp_path):
    async def scenario():
        recorder = Recorder(2, str(tmp_path))
        first = await _send_to(recorder, "cccc0001", "c" * 32, Pattern())
        await _until_received(recorder, 10)
        second = await _send_to(recorder, "cccc0001", "d" * 32, Pattern())
        await _until_received(recorder, 10)
        await recorder.drop("cccc0001")
        written = await recorder.stop()
        for pc in (first, second):
            await pc.close()
        return written

    written = asyncio.run(scenario())
    assert set(written) == {"c" * 32, "d" * 32}
    assert all(_decode(w.path)[0] > 0 for w in written.values())


def test_a_stopped_recorder_takes_no_more_offers(tmp_path):
    async def scenario():
        recorder = Recorder(3, str(tmp_path))
        await recorder.stop()
        with pytest.raises(RuntimeError):
            await recorder.answer("eeee0001", "e" * 32, "v=0\r\n")

    asyncio.run(scenario())
