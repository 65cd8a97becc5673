"""The hub: this process's connections, their topics, the broker and the database.

Implements ``realtime.dispatch.Hub``. Fan-out serialises a message once and hands the
same text to ``websockets.broadcast`` for every local subscriber, which writes without
awaiting each peer (a slow peer never holds up the others; its buffer grows until the
ping timeout closes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import broadcast

from realtime.broker import Broker
from realtime.dispatch import Connection
from realtime.protocol import dumps

log = logging.getLogger(__name__)

T = TypeVar("T")

#: database errors worth one more try: PostgreSQL deadlock / serialization failure,
#: SQLite "database is locked" past its busy timeout
RETRYABLE = ("deadlock detected", "could not serialize", "database is locked")
DB_ATTEMPTS = 3

Listener = Callable[[dict[str, Any]], None]


def retryable(exc: OperationalError) -> bool:
    return any(s in str(exc) for s in RETRYABLE)


class LocalHub:
    def __init__(
        self,
        settings: dict[str, Any],
        broker: Broker,
        session_factory: sessionmaker[Session],
        db_threads: int = 8,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.session_factory = session_factory
        self.engine: Engine = session_factory.kw["bind"]
        self.executor = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="rt-db")
        # Heartbeats must not queue behind a burst of chat work: a presence refresh
        # stuck for presence_ttl would make every staff member look gone.
        # The chat writer's group commits take one thread of their own: its batches
        # are sequential by design, and other handlers' reads must not wait for them.
        self.lanes = {
            "default": self.executor,
            "presence": ThreadPoolExecutor(max_workers=1, thread_name_prefix="rt-presence"),
            "writer": ThreadPoolExecutor(max_workers=1, thread_name_prefix="rt-writer"),
        }
        self._conns: dict[str, Connection] = {}
        self._by_user: dict[int, set[str]] = defaultdict(set)
        self._topics: dict[str, set[str]] = defaultdict(set)
        self._of_conn: dict[str, set[str]] = defaultdict(set)
        self._ready: dict[str, asyncio.Future[None]] = {}
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self.started = time.time()
        self.delivered = 0
        self.lag = LoopLag()
        #: name → function giving figures for /healthz (the chat writer's batches …)
        self.metrics: dict[str, Callable[[], Any]] = {"loop_lag_ms": self.lag.summary}

    async def start(self) -> None:
        await self.broker.start(self._deliver)
        self.lag.start()

    async def close(self) -> None:
        await self.lag.stop()
        await self.broker.close()
        for executor in self.lanes.values():
            executor.shutdown(wait=True)

    # -- connections ----------------------------------------------------------------
    def add(self, conn: Connection) -> None:
        self._conns[conn.id] = conn
        if conn.claims.user_id is not None:
            self._by_user[conn.claims.user_id].add(conn.id)

    def remove(self, conn: Connection) -> None:
        for topic in list(self._of_conn.get(conn.id, ())):
            self.unsubscribe(conn, topic)
        self._of_conn.pop(conn.id, None)
        self._conns.pop(conn.id, None)
        uid = conn.claims.user_id
        if uid is not None:
            self._by_user[uid].discard(conn.id)
            if not self._by_user[uid]:
                del self._by_user[uid]

    def connections(self, user_id: int | None = None) -> list[Connection]:
        if user_id is None:
            return list(self._conns.values())
        return [self._conns[c] for c in self._by_user.get(user_id, ())]

    def users(self) -> list[int]:
        return list(self._by_user)

    def topics_of(self, conn: Connection) -> set[str]:
        return set(self._of_conn.get(conn.id, ()))

    # -- topics ---------------------------------------------------------------------
    def subscribe(self, conn: Connection, topic: str) -> asyncio.Future[None]:
        members = self._topics[topic]
        first = not members and not self._listeners.get(topic)
        members.add(conn.id)
        self._of_conn[conn.id].add(topic)
        return self._ensure(topic, first)

    def _ensure(self, topic: str, first: bool) -> asyncio.Future[None]:
        if first or topic not in self._ready:
            self._ready[topic] = self.broker.subscribe(topic)
        return self._ready[topic]

    def unsubscribe(self, conn: Connection, topic: str) -> None:
        members = self._topics.get(topic)
        if members is None or conn.id not in members:
            return
        members.discard(conn.id)
        self._of_conn[conn.id].discard(topic)
        if not members:
            del self._topics[topic]
            if not self._listeners.get(topic):
                self._ready.pop(topic, None)
                self.broker.unsubscribe(topic)

    def listen(self, topic: str, listener: Listener) -> asyncio.Future[None]:
        """Call ``listener(message)`` for every event of ``topic`` (server-side state such
        as the presence cache); kept for the life of the process."""
        first = not self._topics.get(topic) and not self._listeners.get(topic)
        self._listeners[topic].append(listener)
        return self._ensure(topic, first)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self.broker.publish(topic, dumps(message))

    def _deliver(self, topic: str, payload: str) -> None:
        members = self._topics.get(topic)
        if members:
            targets = [self._conns[c] for c in members if c in self._conns]
            broadcast([t.ws for t in targets], payload)  # type: ignore[attr-defined]
            self.delivered += len(targets)
        listeners = self._listeners.get(topic)
        if listeners:
            import json

            message = json.loads(payload)
            for listener in listeners:
                try:
                    listener(message)
                except Exception:
                    log.exception("listener of %s failed", topic)

    # -- database -------------------------------------------------------------------
    async def run_db(self, fn: Callable[..., T], *args: Any, lane: str = "default") -> T:
        return await self.run_in_lane(lane, self._transaction, fn, args)

    async def run_in_lane(self, lane: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a thread of ``lane``, no transaction: for work that manages
        its own connection (the chat writer keeps one for all its batches)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.lanes.get(lane, self.executor), fn, *args)

    def _transaction(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                with self.session_factory() as session, session.begin():
                    return fn(session, *args)
            except OperationalError as exc:
                if attempt == DB_ATTEMPTS or not retryable(exc):
                    raise
                log.info("retrying %s after %s", getattr(fn, "__name__", fn), exc.orig)
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")


class LoopLag:
    """How late the event loop wakes up: a task sleeps ``every`` seconds and records
    by how much more it slept. Work that holds the loop (or the GIL, from a worker
    thread) shows up here as lag; /healthz reports recent percentiles."""

    def __init__(self, every: float = 0.02, keep: int = 3000) -> None:
        self.every = every
        self.samples: deque[float] = deque(maxlen=keep)
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.every)
            late = loop.time() - before - self.every
            self.samples.append(late)
            self.worst = max(self.worst, late)

    def reset(self) -> None:
        self.samples.clear()
        self.worst = 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.samples)
        if not ordered:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}

        def at(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

        return {"p50": at(0.5), "p99": at(0.99), "max": round(1000 * self.worst, 1),
                "samples": len(ordered)}  # fmt: skip
