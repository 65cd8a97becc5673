"""What the signalling relay accepts and refuses (realtime/signalling.py), with the
SDP of real aiortc peers as the well-formed case."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack

from realtime.signalling import (
    MAX_SDP_CHARS,
    SignalError,
    parse_candidate,
    parse_chat,
    parse_description,
    parse_media_state,
    parse_peer,
)


def _offer() -> str:
    async def make() -> str:
        pc = RTCPeerConnection()
        pc.addTrack(VideoStreamTrack())
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


@pytest.fixture(scope="module")
def offer() -> str:
    return _offer()


def test_a_real_offer_passes_unchanged(offer: str) -> None:
    parsed = parse_description({"type": "offer", "sdp": offer})
    assert parsed.as_dict() == {"type": "offer", "sdp": offer}
    assert parse_description({"type": "answer", "sdp": offer}).type == "answer"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("v=0", "not an object"),
        ({"type": "rollback", "sdp": "v=0"}, "type"),
        ({"type": "offer"}, "no sdp"),
        ({"type": "offer", "sdp": ""}, "empty"),
        ({"type": "offer", "sdp": "hello world"}, "no version line"),
        ({"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}, "no media"),
        ({"type": "offer", "sdp": 42}, "not text"),
    ],
)
def test_malformed_descriptions_are_refused(value: object, why: str) -> None:
    with pytest.raises(SignalError) as caught:
        parse_description(value)
    assert caught.value.code == "bad_sdp", why


def test_descriptions_missing_ice_or_dtls_are_refused(offer: str) -> None:
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        stripped = "\r\n".join(
            line for line in offer.split("\r\n") if not line.startswith(attribute)
        )
        with pytest.raises(SignalError, match=attribute[2:-1]):
            parse_description({"type": "offer", "sdp": stripped})


def test_descriptions_aiortc_cannot_parse_are_refused(offer: str) -> None:
    broken = offer.replace("a=rtpmap:", "a=rtpmap:x", 1)
    with pytest.raises(SignalError, match="unparsable"):
        parse_description({"type": "offer", "sdp": broken})
    unknown_media = offer.replace("m=video", "m=telepathy", 1)
    with pytest.raises(SignalError, match="unsupported media"):
        parse_description({"type": "offer", "sdp": unknown_media})


def test_oversized_descriptions_are_refused(offer: str) -> None:
    padded = offer + "a=x-padding:" + "A" * MAX_SDP_CHARS + "\r\n"
    with pytest.raises(SignalError, match="too long"):
        parse_description({"type": "offer", "sdp": padded})


@pytest.mark.parametrize(
    "candidate",
    [
        # what Chromium trickles: mDNS host, server-reflexive, TCP, with extensions
        "candidate:1 1 udp 2122260223 6e0f7e5c-1a2b-4c3d-9e8f-0123456789ab.local 54400 typ host "
        "generation 0 ufrag aB+/ network-id 1",
        "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 "
        "generation 0 ufrag sXSW network-cost 999",
        "candidate:3 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active generation 0",
        "candidate:4 1 udp 41885439 2001:db8::1 3478 typ relay raddr 198.51.100.1 rport 5000",
        "",  # end of candidates
    ],
)
def test_browser_candidates_pass(candidate: str) -> None:
    parsed = parse_candidate({"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0})
    assert parsed.as_dict()["candidate"] == candidate


@pytest.mark.parametrize(
    "value",
    [
        "candidate:1 1 udp 1 1.2.3.4 5 typ host",
        {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ bogus", "sdpMid": "0"},
        {"candidate": "<script>", "sdpMid": "0"},
        {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMid": 7},
        {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMLineIndex": 99},
        {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMLineIndex": True},
        {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host"},
        {"candidate": "candidate:" + "1" * 2000, "sdpMid": "0"},
    ],
)
def test_malformed_candidates_are_refused(value: object) -> None:
    with pytest.raises(SignalError) as caught:
        parse_candidate(value)
    assert caught.value.code == "bad_candidate"


def test_chat_text_is_cleaned_and_bounded() -> None:
    assert parse_chat("  您好\u0007，请看材料\n第二行 ") == "您好，请看材料\n第二行"
    with pytest.raises(SignalError, match="empty"):
        parse_chat(" \u0000 ")
    with pytest.raises(SignalError) as caught:
        parse_chat("字" * 1001)
    assert caught.value.code == "chat_too_long"
    with pytest.raises(SignalError):
        parse_chat(["a"])


def test_media_state_needs_three_booleans() -> None:
    assert parse_media_state({"audio": True, "video": False, "screen": False}) == {
        "audio": True,
        "video": False,
        "screen": False,
    }
    with pytest.raises(SignalError):
        parse_media_state({"audio": "yes", "video": False, "screen": False})
    with pytest.raises(SignalError):
        parse_media_state({"audio": True, "video": False})


def test_peers_are_connection_ids_or_the_recorder() -> None:
    assert parse_peer("a1b2c3d4e5f60718") == "a1b2c3d4e5f60718"
    assert parse_peer("recorder") == "recorder"
    for bad in ("user:7", "../x", "", None, 7, "A1B2C3D4E5F6"):
        with pytest.raises(SignalError):
            parse_peer(bad)
