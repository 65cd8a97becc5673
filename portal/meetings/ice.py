"""ICE servers for the meeting's peer connections, from settings.

Browsers connect directly whenever they can (host or STUN-discovered addresses);
a TURN relay (coturn) carries the media only when no direct path exists, e.g.
between two strict NATs or from a network that allows only TCP 443.

TURN credentials are never a fixed password in the page: with coturn's
``use-auth-secret`` (the "TURN REST API"), the username is ``<expiry>:<user>`` and
the password ``base64(HMAC-SHA1(static-auth-secret, username))``. coturn checks the
HMAC and the expiry itself, so the portal and coturn share one secret and nothing
else. See docs/deployment.md (coturn).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any


def turn_credentials(secret: str, user: str, now: float, ttl: int) -> tuple[str, str]:
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(settings: Mapping[str, Any], user: str, now: float) -> list[dict[str, Any]]:
    """RTCIceServer dictionaries, as ``new RTCPeerConnection({iceServers})`` takes them."""
    servers: list[dict[str, Any]] = []
    stun = list(settings.get("qzt.meetings.stun_urls") or [])
    if stun:
        servers.append({"urls": stun})
    turn = list(settings.get("qzt.meetings.turn_urls") or [])
    secret = settings.get("qzt.meetings.turn_secret") or ""
    if turn and secret:
        ttl = int(settings.get("qzt.meetings.turn_ttl") or 3600)
        username, credential = turn_credentials(secret, user, now, ttl)
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers
