"""Checks on what browsers send each other through the meeting signalling (pure).

The server relays offers, answers and ICE candidates between the browsers of one
meeting without acting on them, except those addressed to the recording peer. Relayed
or not, each is checked here first: a malformed description would make the other
browser's ``setRemoteDescription`` fail, and the other side would see a meeting that
never connects, with nothing in any log. Refused here, the sender gets a specific
error and the server logs it.

aiortc's own SDP parser is used as one of the checks; it tolerates text that is no
SDP at all (it skips lines it does not know), so the structure the WebRTC
specification requires (JSEP: version line, origin, media sections with ICE
credentials and a DTLS fingerprint) is checked on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: a browser's offer with audio, video, a screen track and trickled candidates is a
#: few kilobytes; anything past this is not a description a browser made
MAX_SDP_CHARS = 32 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_MEDIA_SECTIONS = 16
MAX_CHAT_CHARS = 1000
DESCRIPTION_TYPES = ("offer", "answer")
MEDIA_KINDS = ("audio", "video", "application")

_MEDIA_LINE = re.compile(r"^m=(\w+) (\d+) ([A-Z/]+)( [\w/.-]+)+$")
_CANDIDATE = re.compile(
    r"^candidate:[\w+/=-]{1,64} \d{1,3} (udp|tcp|UDP|TCP) \d{1,10} [\w.:-]{1,255} \d{1,5} typ "
    r"(host|srflx|prflx|relay)( [\w.:+/=-]+ [\w.:+/=-]+)*$"
)


class SignalError(ValueError):
    """A malformed signalling message; ``code`` names the rule (logs, client)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Description:
    type: str
    sdp: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "sdp": self.sdp}


@dataclass(frozen=True)
class Candidate:
    candidate: str
    sdp_mid: str | None
    sdp_mline_index: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "sdpMid": self.sdp_mid,
            "sdpMLineIndex": self.sdp_mline_index,
        }


def _check_structure(sdp: str) -> None:
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise SignalError("bad_sdp", "the description must start with v=0")
    if not any(line.startswith("o=") for line in lines[:4]):
        raise SignalError("bad_sdp", "the description has no origin (o=) line")
    for line in lines:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise SignalError("bad_sdp", f"not an SDP line: {line[:40]!r}")
    media = [line for line in lines if line.startswith("m=")]
    if not media:
        raise SignalError("bad_sdp", "the description has no media section")
    if len(media) > MAX_MEDIA_SECTIONS:
        raise SignalError("bad_sdp", "too many media sections")
    for line in media:
        found = _MEDIA_LINE.match(line)
        if found is None or found.group(1) not in MEDIA_KINDS:
            raise SignalError("bad_sdp", f"unsupported media section: {line[:40]!r}")
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if not any(line.startswith(attribute) for line in lines):
            raise SignalError("bad_sdp", f"the description has no {attribute[2:-1]}")


def parse_description(value: Any) -> Description:
    """``{"type": "offer"|"answer", "sdp": "..."}`` checked, or SignalError."""
    if not isinstance(value, dict):
        raise SignalError("bad_sdp", "description must be an object")
    kind, sdp = value.get("type"), value.get("sdp")
    if kind not in DESCRIPTION_TYPES:
        raise SignalError("bad_sdp", "description type must be offer or answer")
    if not isinstance(sdp, str) or not sdp:
        raise SignalError("bad_sdp", "description has no sdp")
    if len(sdp) > MAX_SDP_CHARS:
        raise SignalError("bad_sdp", "description too long")
    _check_structure(sdp)
    from aiortc.sdp import SessionDescription

    try:
        SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises assertions, ValueError, KeyError, …
        raise SignalError("bad_sdp", f"unparsable description ({type(exc).__name__})") from exc
    return Description(kind, sdp)


def parse_candidate(value: Any) -> Candidate:
    """An RTCIceCandidateInit; an empty ``candidate`` is the end-of-candidates mark."""
    if not isinstance(value, dict):
        raise SignalError("bad_candidate", "candidate must be an object")
    text, mid, index = value.get("candidate"), value.get("sdpMid"), value.get("sdpMLineIndex")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise SignalError("bad_candidate", "candidate must be a short string")
    if text and _CANDIDATE.match(text) is None:
        raise SignalError("bad_candidate", "not an ICE candidate")
    if mid is not None and (not isinstance(mid, str) or len(mid) > 32):
        raise SignalError("bad_candidate", "sdpMid must be a short string")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_MEDIA_SECTIONS
    ):
        raise SignalError("bad_candidate", "sdpMLineIndex out of range")
    if mid is None and index is None:
        raise SignalError("bad_candidate", "candidate names no media section")
    return Candidate(text, mid, index)


def parse_chat(value: Any) -> str:
    if not isinstance(value, str):
        raise SignalError("bad_chat", "text must be a string")
    text = "".join(c for c in value if c.isprintable() or c == "\n").strip()
    if not text:
        raise SignalError("empty_chat", "the message is empty")
    if len(text) > MAX_CHAT_CHARS:
        raise SignalError("chat_too_long", f"at most {MAX_CHAT_CHARS} characters")
    return text


def parse_media_state(message: dict[str, Any]) -> dict[str, bool]:
    """The sender's switches: microphone, camera, screen sharing."""
    state = {}
    for name in ("audio", "video", "screen"):
        value = message.get(name)
        if not isinstance(value, bool):
            raise SignalError("bad_message", f"{name} must be true or false")
        state[name] = value
    return state


def parse_peer(value: Any) -> str:
    """A peer id: a connection id (hex) or ``recorder``."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{8,64}|recorder", value):
        raise SignalError("bad_peer", "to must name a peer of this meeting")
    return value
