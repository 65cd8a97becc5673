"""The wire protocol without sockets: parsing, close codes, rate limiting.

See docs/realtime-protocol.md for the messages. Everything here is pure so it is
tested without a server (websockets tutorial: keep the game logic out of app.py).
"""

from __future__ import annotations

import json
from typing import Any

from realtime.dispatch import ProtocolError

# -- close codes (1xxx are the RFC's, 4xxx ours) ------------------------------------
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # shutdown: reconnect with backoff
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_AUTH_REQUIRED = 4400  # first message was not a valid auth message
CLOSE_TOKEN_INVALID = 4401  # forged or malformed token
CLOSE_TOKEN_EXPIRED = 4402
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_FLOOD = 4429

#: error codes a reply may carry (the connection stays open)
ERROR_CODES = frozenset(
    {
        "bad_json",
        "bad_message",
        "unknown_type",
        "forbidden",
        "not_found",
        "conflict",
        "department_offline",
        "invalid",
        "rate_limited",
        "internal",
    }
)


def parse(raw: str | bytes) -> dict[str, Any]:
    """A client frame as a message dict with a string ``type``; ProtocolError if not."""
    if isinstance(raw, bytes):
        raise ProtocolError("bad_message", "text frames only")
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError("bad_json", "not JSON") from exc
    if not isinstance(message, dict):
        raise ProtocolError("bad_json", "not a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise ProtocolError("bad_message", "type must be a non-empty string")
    return message


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; one message costs one token.

    ``refused`` counts messages refused in a row; the server closes a connection whose
    count reaches the flood threshold (a misbehaving client, not a burst of typing).
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = now
        self.refused = 0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False
