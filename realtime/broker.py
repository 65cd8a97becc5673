"""Brokers: how one realtime process's events reach the subscribers of every process.

A broker moves ``(topic, payload)`` pairs, where the payload is the JSON text of one
message, serialised once by the publisher. The hub keeps which local connections
want which topic and tells the broker only the first subscription and the last
unsubscription of each topic on this process.

* ``MemoryBroker`` (the embedded default): one process, delivery is a function call.
* ``RedisBroker``: Redis pub/sub, one channel per topic under a prefix. A process
  delivers its own events locally at once and ignores their echo from Redis (each
  payload is tagged with the publishing process's id), so local subscribers do not
  pay a round trip. If the Redis connection drops, the broker reconnects and
  subscribes again; events published meanwhile are lost to the other processes,
  which is acceptable because events are notifications: state (messages with their
  seq, conversations, presence) is in the database and clients sync from it.
  Publishing never waits for Redis: events go to an outgoing queue that one task
  sends in order, as many per pipeline (one round trip) as have accumulated, so a
  batch of chat messages costs one round trip, not one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Deliver = Callable[[str, str], None]


class Broker(Protocol):
    async def start(self, deliver: Deliver) -> None:
        """Begin delivering: ``deliver(topic, payload)`` for every event on a topic this
        process subscribed to (including its own)."""

    async def publish(self, topic: str, payload: str) -> None: ...

    def subscribe(self, topic: str) -> asyncio.Future[None]:
        """Future done when events of ``topic`` are being delivered."""

    def unsubscribe(self, topic: str) -> None: ...

    async def close(self) -> None: ...


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class MemoryBroker:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, topic: str, payload: str) -> None:
        if self._deliver is not None:
            self._deliver(topic, payload)

    def subscribe(self, topic: str) -> asyncio.Future[None]:
        return _done()

    def unsubscribe(self, topic: str) -> None:
        pass

    async def close(self) -> None:
        self._deliver = None


class RedisBroker:
    SEPARATOR = "\x1f"  # between the origin tag and the JSON payload

    def __init__(self, url: str, prefix: str = "qzt:") -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.prefix = prefix + "rt:"
        self.origin = secrets.token_hex(6)
        self._redis: Any = aioredis.from_url(url)
        self._pubsub: Any = None
        self._deliver: Deliver | None = None
        self._channels: set[str] = set()
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._ops: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._outgoing: deque[tuple[str, str]] = deque()
        self._has_outgoing = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sender: asyncio.Task[None] | None = None
        self._sending = False
        self._control = self.prefix + "_control." + self.origin

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._read(), name="redis-broker-read"),
            asyncio.create_task(self._apply_ops(), name="redis-broker-ops"),
        ]
        self._sender = asyncio.create_task(self._send(), name="redis-broker-send")

    async def _connect(self) -> None:
        self._pubsub = self._redis.pubsub()
        # A pub/sub connection with no channel cannot be read from; the control
        # channel keeps one subscribed at all times.
        await self._pubsub.subscribe(self._control, *sorted(self._channels))

    async def publish(self, topic: str, payload: str) -> None:
        if self._deliver is not None:
            self._deliver(topic, payload)
        self._outgoing.append((self.prefix + topic, self.origin + self.SEPARATOR + payload))
        self._has_outgoing.set()

    async def _send(self) -> None:
        while True:
            await self._has_outgoing.wait()
            self._has_outgoing.clear()
            while self._outgoing:
                batch = [self._outgoing.popleft() for _ in range(min(500, len(self._outgoing)))]
                self._sending = True
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.publish(channel, data)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception:  # Redis down: local subscribers got them; others resync
                    log.warning("redis publish of %d events failed", len(batch), exc_info=True)
                finally:
                    self._sending = False

    async def _flush(self, timeout: float) -> None:
        """Wait (a little) until the queued events are sent: a stopping process's
        last presence events should reach the others."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._outgoing or self._sending:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("%d events not sent to redis at close", len(self._outgoing))
                return
            await asyncio.sleep(0.01)

    def subscribe(self, topic: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(self.prefix + topic, []).append(future)
        self._ops.put_nowait(("subscribe", self.prefix + topic))
        return future

    def unsubscribe(self, topic: str) -> None:
        self._ops.put_nowait(("unsubscribe", self.prefix + topic))

    async def _apply_ops(self) -> None:
        # One task applies (un)subscriptions in the order they were asked for.
        while True:
            op, channel = await self._ops.get()
            if op == "stop":
                return
            try:
                if op == "subscribe":
                    self._channels.add(channel)
                    await self._pubsub.subscribe(channel)
                else:
                    self._channels.discard(channel)
                    await self._pubsub.unsubscribe(channel)
            except Exception:
                log.warning("redis %s %s failed; retried on reconnect", op, channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("redis broker connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                with contextlib.suppress(Exception):
                    await self._connect()
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if kind == "subscribe":
            for future in self._waiting.pop(channel, []):
                if not future.done():
                    future.set_result(None)
            return
        if kind != "message" or self._deliver is None:
            return
        data = message["data"]
        text = data.decode() if isinstance(data, bytes) else data
        origin, _, payload = text.partition(self.SEPARATOR)
        if origin != self.origin:
            self._deliver(channel[len(self.prefix) :], payload)

    async def close(self) -> None:
        # redis-py may swallow a cancellation that lands inside one of its commands,
        # leaving a task that no longer knows it should stop: the ops task also gets a
        # "stop" op, and neither is waited for longer than a moment.
        if self._sender is not None:
            await self._flush(2.0)
            self._tasks.append(self._sender)
            self._sender = None
        self._ops.put_nowait(("stop", ""))
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        with contextlib.suppress(Exception):
            if self._pubsub is not None:
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
        self._deliver = None


def make_broker(settings: dict[str, Any]) -> Broker:
    kind = settings.get("qzt.realtime.broker", "memory")
    if kind == "memory":
        return MemoryBroker()
    if kind == "redis":
        return RedisBroker(
            settings["qzt.realtime.redis_url"], settings["qzt.realtime.redis_prefix"]
        )
    raise ValueError(f"unknown qzt.realtime.broker {kind!r} (memory or redis)")
