"""Signed reschedule/cancel links, one per side of a booking.

The mail is the credential: whoever holds the link may move or cancel the booking
for that side without logging in, so the link must be unforgeable, expire, and die
as soon as the booking changes (each change mails fresh links). A token is
``base64url(json) . base64url(hmac-sha256)`` over the booking id, the side, the
booking's SEQUENCE when the link was made, and an expiry (the meeting's start).

Pure functions: the service signs and checks, tests forge and replay.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime


class LinkInvalid(ValueError):
    """``reason`` is ``forged`` (malformed or bad signature) or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    booking_id: int
    side: str
    sequence: int
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    key = ("qzt.meetings.link:" + secret).encode()
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: str, claims: LinkClaims) -> str:
    body = {
        "b": claims.booking_id,
        "s": claims.side,
        "q": claims.sequence,
        "e": int(claims.expires.timestamp()),
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token, else :class:`LinkInvalid`."""
    if not isinstance(token, str) or len(token) > 400 or token.count(".") != 1:
        raise LinkInvalid("forged")
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise LinkInvalid("forged")
    try:
        body = json.loads(_unb64(payload))
        claims = LinkClaims(
            booking_id=int(body["b"]),
            side=str(body["s"]),
            sequence=int(body["q"]),
            expires=datetime.fromtimestamp(int(body["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkInvalid("forged") from None
    if now >= claims.expires:
        raise LinkInvalid("expired")
    return claims
