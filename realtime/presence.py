"""Presence: staff 在线/忙碌/离开, departments online, the live 在线部门 sidebar.

The truth is in ``chat_staff_presence`` (shared by every process): the status a
staff member chose and ``seen_at``. This process

* marks its staff connected when their first connection opens and disconnected when
  their last one closes (websocket pings notice a dead network within two ping
  intervals; browsers answer pings in background tabs, so those stay online);
* refreshes ``seen_at`` of its connected staff every ``presence_ttl / 3`` seconds, so
  if the process dies its staff drop out of the online count after ``presence_ttl``;
* keeps the department → online staff count it last saw, and publishes a
  ``presence.department`` event to topic ``presence`` for every department whose
  count changed. Events carry state, not deltas, so two processes noticing the same
  change and both publishing it is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.chat.models import Conversation, ConvState
from realtime.chat import Event, actor_of, announce, chat_service, collect
from realtime.dispatch import (
    Connection,
    Hub,
    ProtocolError,
    field,
    handler,
    on_connect,
    on_disconnect,
    on_shutdown,
    on_startup,
    reply,
)

log = logging.getLogger(__name__)

TOPIC = "presence"


class PresenceState:
    def __init__(self) -> None:
        #: department id → online staff, as last published or heard
        self.known: dict[int, int] = {}
        #: staff user id → connections on this process
        self.local: Counter[int] = Counter()
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()


_states: weakref.WeakKeyDictionary[Any, PresenceState] = weakref.WeakKeyDictionary()


def state_of(hub: Hub) -> PresenceState:
    found = _states.get(hub)
    if found is None:
        found = _states[hub] = PresenceState()
    return found


def _is_staff(conn: Connection) -> bool:
    if conn.claims.user_id is None:
        return False
    return actor_of(conn).is_staff


def _heard(state: PresenceState, message: dict[str, Any]) -> None:
    if message.get("type") != "presence.department":
        return
    dept, staff = int(message["department"]), int(message["staff"])
    if staff > 0:
        state.known[dept] = staff
    else:
        state.known.pop(dept, None)


async def refresh(hub: Hub, dispatch: tuple[int, ...] = (), touch: tuple[int, ...] = ()) -> None:
    """Re-read who is online, publish what changed; route queued conversations of
    ``dispatch`` departments (someone may have come online) and of every department
    that still has a queue (a missed chance elsewhere is taken within one sweep)."""
    svc = chat_service(hub)
    state = state_of(hub)

    def work(session: Session) -> tuple[dict[int, int], list[Event]]:
        svc.touch(session, list(touch))
        queued = set(
            session.scalars(
                select(Conversation.department_id)
                .where(Conversation.state == ConvState.WAITING)
                .distinct()
            )
        )
        online = svc.online_departments(session)
        for department_id in sorted((queued & set(online)) | set(dispatch)):
            svc.dispatch_waiting(session, department_id)
        return online, collect(svc, session)

    async with state.lock:
        online, events = await hub.run_db(work, lane="presence")
        changes = [
            (dept, online.get(dept, 0))
            for dept in sorted(set(online) | set(state.known))
            if online.get(dept, 0) != state.known.get(dept, 0)
        ]
        for dept, staff in changes:
            _heard(state, {"type": "presence.department", "department": dept, "staff": staff})
    for dept, staff in changes:
        await hub.publish(
            TOPIC,
            {
                "type": "presence.department",
                "department": dept,
                "online": staff > 0,
                "staff": staff,
            },
        )
    await announce(hub, events)


async def _sweep(hub: Hub, every: float) -> None:
    state = state_of(hub)
    while True:
        await asyncio.sleep(every)
        try:
            await refresh(hub, touch=tuple(state.local))
        except Exception:
            log.exception("presence sweep failed")


@on_startup
async def start(hub: Hub) -> None:
    state = state_of(hub)
    listen = getattr(hub, "listen", None)
    if listen is not None:
        await listen(TOPIC, lambda message: _heard(state, message))
    state.known = await hub.run_db(lambda s: chat_service(hub).online_departments(s))
    every = float(hub.settings.get("qzt.realtime.presence_ttl", 30)) / 3
    state.task = asyncio.create_task(_sweep(hub, every), name="presence-sweep")


@on_shutdown
async def stop(hub: Hub) -> None:
    state = state_of(hub)
    if state.task is not None:
        state.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.task
    # Tell the others at once rather than after the TTL: this process's staff are gone.
    leaving = list(state.local)
    state.local.clear()
    if leaving:
        await hub.run_db(lambda s: chat_service(hub).disconnect(s, leaving))
        await refresh(hub)


@on_connect
async def connected(hub: Hub, conn: Connection) -> None:
    if not _is_staff(conn):
        return
    actor = actor_of(conn)
    state = state_of(hub)
    state.local[actor.user_id] += 1
    status = await hub.run_db(lambda s: chat_service(hub).connect(s, actor))
    conn.state["presence.status"] = status
    for dept in actor.departments:
        hub.subscribe(conn, f"dept:{dept}")
    await conn.send({"type": "presence.status", "status": status})
    await refresh(hub, dispatch=actor.departments)


@on_disconnect
async def disconnected(hub: Hub, conn: Connection) -> None:
    if not _is_staff(conn):
        return
    state = state_of(hub)
    uid = actor_of(conn).user_id
    state.local[uid] -= 1
    if state.local[uid] > 0:
        return
    del state.local[uid]
    await hub.run_db(lambda s: chat_service(hub).disconnect(s, [uid]))
    await refresh(hub)


@handler("presence.subscribe", anonymous=True)
async def subscribe(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    await hub.subscribe(conn, TOPIC)
    known = state_of(hub).known
    await conn.send(
        reply(message, "presence.snapshot", departments={str(d): n for d, n in known.items()})
    )


@handler("presence.unsubscribe", anonymous=True)
async def unsubscribe(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    hub.unsubscribe(conn, TOPIC)
    await conn.send(reply(message, "presence.unsubscribed"))


@handler("presence.set")
async def set_status(hub: Hub, conn: Connection, message: dict[str, Any]) -> None:
    if not _is_staff(conn):
        raise ProtocolError("forbidden", "staff only")
    actor = actor_of(conn)
    status = field(message, "status", str)
    await hub.run_db(lambda s: chat_service(hub).set_status(s, actor, status))
    conn.state["presence.status"] = status
    await conn.send(reply(message, "presence.ok", status=status))
    await hub.publish(f"user:{actor.user_id}", {"type": "presence.status", "status": status})
    await refresh(hub, dispatch=actor.departments if status == "online" else ())
