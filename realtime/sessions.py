"""Connections end with the portal session they were opened from.

A token is checked once, when the connection authenticates; the connection may then
live for hours. Signing out, a password change or a disabled account deletes the
user's ``web_sessions`` rows in the portal, so every ``session_check`` seconds this
process looks up, in one query per 500, which of the sessions named by its open
connections (claim ``extra["sid"]``, the row's id, never the cookie) still exist, and
closes the others with ``4403``. A browser then reconnects with a fresh token, which
names whoever is signed in now (nobody: an anonymous presence watcher).

Only existence is checked, not the portal's idle deadline: chatting does not touch the
portal session, and an enterprise in a long chat must not be cut off for "idling".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.sessions import WebSession
from realtime.dispatch import Connection, Hub, on_shutdown, on_startup

log = logging.getLogger(__name__)

#: close code: the portal session behind the connection has ended
CLOSE_SESSION_ENDED = 4403
CHUNK = 500

_tasks: weakref.WeakKeyDictionary[Any, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def session_id(conn: Connection) -> str | None:
    sid = conn.claims.extra.get("sid") if conn.claims.user_id is not None else None
    return sid if isinstance(sid, str) and sid else None


def by_session(conns: Iterable[Connection]) -> dict[str, list[Connection]]:
    found: dict[str, list[Connection]] = defaultdict(list)
    for conn in conns:
        sid = session_id(conn)
        if sid is not None:
            found[sid].append(conn)
    return found


def existing(session: Session, sids: list[str]) -> set[str]:
    alive: set[str] = set()
    for start in range(0, len(sids), CHUNK):
        chunk = sids[start : start + CHUNK]
        alive.update(session.scalars(select(WebSession.id).where(WebSession.id.in_(chunk))))
    return alive


async def check(hub: Hub) -> int:
    """Close the connections whose portal session is gone; how many were closed."""
    groups = by_session(hub.connections())
    if not groups:
        return 0
    sids = sorted(groups)
    alive = await hub.run_db(lambda s: existing(s, sids), lane="presence")
    ended = [conn for sid in sids if sid not in alive for conn in groups[sid]]
    for conn in ended:
        log.info("closing %r: its portal session ended", conn)
        await conn.close(CLOSE_SESSION_ENDED, "session ended")
    return len(ended)


async def _watch(hub: Hub, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await check(hub)
        except Exception:
            log.exception("checking portal sessions failed")


@on_startup
async def start(hub: Hub) -> None:
    every = float(hub.settings.get("qzt.realtime.session_check", 15))
    if every > 0:
        _tasks[hub] = asyncio.create_task(_watch(hub, every), name="session-check")


@on_shutdown
async def stop(hub: Hub) -> None:
    task = _tasks.pop(hub, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
