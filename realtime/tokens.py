"""Short-lived tokens the portal signs and the realtime server verifies.

The realtime process shares no session store with the portal: a browser first asks
the portal (which knows who is logged in) for a token, then sends it as the first
websocket message. The token is ``base64url(json claims) . base64url(hmac-sha256)``
with an expiry, so a stolen token is worth a minute, not a session.

Pure functions, no I/O: the portal, the server, tests and benchmarks share them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


class TokenError(ValueError):
    """The token is malformed, forged or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    """Who the connection speaks for.

    ``user_id`` is None for anonymous visitors (they may only watch presence);
    ``roles`` are role names, ``departments`` the department ids the user works in,
    ``enterprise_id`` the enterprise an enterprise user belongs to.
    """

    user_id: int | None
    name: str
    roles: tuple[str, ...]
    departments: tuple[int, ...]
    enterprise_id: int | None
    expires: int
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.user_id,
            "name": self.name,
            "roles": list(self.roles),
            "depts": list(self.departments),
            "ent": self.enterprise_id,
            "exp": self.expires,
            "x": self.extra,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest()
    return _b64(digest)


def sign(
    secret: str,
    *,
    user_id: int | None,
    name: str = "",
    roles: tuple[str, ...] | list[str] = (),
    departments: tuple[int, ...] | list[int] = (),
    enterprise_id: int | None = None,
    now: float,
    ttl: int = 60,
    extra: dict[str, Any] | None = None,
) -> str:
    claims = Claims(
        user_id=user_id,
        name=name,
        roles=tuple(roles),
        departments=tuple(departments),
        enterprise_id=enterprise_id,
        expires=int(now) + ttl,
        extra=dict(extra or {}),
    )
    payload = _b64(json.dumps(claims.as_dict(), ensure_ascii=False).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, *, now: float) -> Claims:
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
        raise TokenError("malformed")
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise TokenError("forged")
    try:
        data = json.loads(_unb64(payload))
        claims = Claims(
            user_id=data["uid"],
            name=str(data["name"]),
            roles=tuple(data["roles"]),
            departments=tuple(int(d) for d in data["depts"]),
            enterprise_id=data["ent"],
            expires=int(data["exp"]),
            extra=dict(data.get("x") or {}),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed") from exc
    if claims.expires < now:
        raise TokenError("expired")
    return claims
