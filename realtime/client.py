"""A small asyncio client of the realtime protocol, for tests, benchmarks and tools.

It keeps the client's side of the delivery contract (docs/realtime-protocol.md):
an outbox of unacknowledged ``chat.send``s resent with the same ``client_msg_id``
after a reconnect, the highest contiguous ``seq`` per joined conversation, re-join
with ``since`` after a reconnect, and de-duplication by ``seq``.

    client = Client(url, token=lambda: sign(...))
    await client.connect()
    opened = await client.request("chat.open", department=12)
    ack = await client.send_message(opened["conversation"]["id"], "您好")
    event = await client.expect("chat.message")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

TokenSource = str | None | Callable[[], str | None] | Callable[[], Awaitable[str | None]]
#: close codes after which reconnecting cannot help
FATAL_CLOSES = {4400, 4401, 4403}  # 4403: the portal session ended


class ClientError(Exception):
    """The server answered a request with ``error``."""

    def __init__(self, code: str, detail: str = "", message: dict[str, Any] | None = None):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.message = message or {}


@dataclass
class Pending:
    conversation: int
    client_msg_id: str
    body: str
    extra: dict[str, Any]
    acked: asyncio.Future[dict[str, Any]]


@dataclass
class ConversationLog:
    """What this client has seen of one conversation."""

    last: int = 0  # highest contiguous seq
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: a seq delivered twice (the echo of one's own acknowledged message is not one)
    duplicates: int = 0
    acked: set[int] = field(default_factory=set)


class Client:
    def __init__(
        self,
        url: str,
        token: TokenSource = None,
        *,
        origin: str | None = None,
        reconnect: bool = False,
        max_backoff: float = 5.0,
        keep_events: bool = True,
    ) -> None:
        self.url = url
        self.token = token
        self.origin = origin
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        #: keep events for ``expect``; a benchmark with ``on_message`` turns it off
        self.keep_events = keep_events
        self.ws: ClientConnection | None = None
        self.info: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.logs: dict[int, ConversationLog] = {}
        self.outbox: dict[str, Pending] = {}
        self.reconnects = 0
        self.closed_with: int | None = None
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        self._refs = itertools.count(1)
        self._waiters: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._event_signal = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._connected = asyncio.Event()

    # -- connection -----------------------------------------------------------------
    async def _token(self) -> str | None:
        source = self.token
        if callable(source):
            value = source()
            if asyncio.iscoroutine(value):
                value = await value
            return value  # type: ignore[return-value]
        return source

    async def _open(self) -> dict[str, Any]:
        headers = {"Origin": self.origin} if self.origin else None
        ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            compression=None,
            open_timeout=10,
            ping_interval=None,
            max_size=2**20,
        )
        await ws.send(json.dumps({"type": "auth", "token": await self._token()}))
        try:
            first = json.loads(await ws.recv())
        except ConnectionClosed:
            self.closed_with = ws.close_code
            raise
        if first.get("type") != "auth.ok":
            await ws.close()
            raise ClientError("auth", str(first))
        self.ws = ws
        self.info = first
        self._connected.set()
        return first

    async def connect(self) -> dict[str, Any]:
        info = await self._open()
        self._reader = asyncio.create_task(self._read(), name="realtime-client")
        return info

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read(self) -> None:
        while True:
            ws = self.ws
            assert ws is not None
            try:
                async for raw in ws:
                    self._handle(json.loads(raw))
            except ConnectionClosed:
                pass
            self.closed_with = ws.close_code
            self._connected.clear()
            self._fail_waiters(ConnectionError(f"closed {ws.close_code}"))
            if self._closing or not self.reconnect or ws.close_code in FATAL_CLOSES:
                self._event_signal.set()
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 (jitter)
            try:
                await self._open()
            except (OSError, ConnectionClosed, ClientError, TimeoutError) as exc:
                log.debug("reconnect failed: %s", exc)
                delay = min(delay * 2, self.max_backoff)
                continue
            self.reconnects += 1
            asyncio.create_task(self._resume())  # noqa: RUF006 (runs while _read reads)
            return

    async def _resume(self) -> None:
        """After a reconnect: re-join (fetching what was missed), then resend."""
        for conv_id, log_ in list(self.logs.items()):
            try:
                await self._join(conv_id, log_.last)
            except (ConnectionError, ConnectionClosed, ClientError, TimeoutError) as exc:
                log.debug("re-join of %s failed: %s", conv_id, exc)
        for pending in list(self.outbox.values()):
            try:
                await self._send_pending(pending)
            except (ConnectionError, ConnectionClosed, TimeoutError) as exc:
                log.debug("resend interrupted: %s", exc)
                return  # the next reconnect resends what is still unacknowledged

    def _fail_waiters(self, exc: Exception) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(exc)
        self._waiters.clear()

    # -- incoming -------------------------------------------------------------------
    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        ref = message.get("ref")
        if kind == "chat.ack":
            pending = self.outbox.pop(message.get("client_msg_id", ""), None)
            if pending is not None and not pending.acked.done():
                pending.acked.set_result(message)
            self._record(message["message"], ack=True)
            return
        if kind == "error" and isinstance(ref, str) and ref.startswith("m:"):
            self._refused(ref[2:], message)
            return
        if kind == "chat.message":
            self._record(message["message"])
        elif kind in ("chat.joined", "chat.messages"):
            for item in message.get("messages", ()):
                self._record(item)
        if ref is not None and ref in self._waiters:
            future = self._waiters.pop(ref)
            if not future.done():
                if kind == "error":
                    future.set_exception(
                        ClientError(message.get("code", ""), message.get("detail", ""), message)
                    )
                else:
                    future.set_result(message)
            return
        if self.keep_events:
            self.events.append(message)
            self._event_signal.set()
        if self.on_message is not None:
            self.on_message(message)

    def _refused(self, client_msg_id: str, error: dict[str, Any]) -> None:
        pending = self.outbox.get(client_msg_id)
        if pending is None:
            return
        if error.get("code") == "rate_limited":
            # Not stored: try again once the bucket has refilled a little.
            asyncio.get_running_loop().call_later(
                0.5, lambda: asyncio.ensure_future(self._send_pending(pending))
            )
            return
        del self.outbox[client_msg_id]
        if not pending.acked.done():
            pending.acked.set_exception(
                ClientError(error.get("code", ""), error.get("detail", ""), error)
            )

    def _record(self, message: dict[str, Any], ack: bool = False) -> None:
        conv_log = self.logs.setdefault(message["conversation"], ConversationLog())
        seq = message["seq"]
        if ack:
            conv_log.acked.add(seq)
        if seq in conv_log.messages:
            if ack or seq in conv_log.acked:
                conv_log.acked.discard(seq)  # the echo of our own message, once
            else:
                conv_log.duplicates += 1
            return
        conv_log.messages[seq] = message
        while conv_log.last + 1 in conv_log.messages:
            conv_log.last += 1

    # -- requests -------------------------------------------------------------------
    async def send_raw(self, data: str | bytes) -> None:
        assert self.ws is not None
        await self.ws.send(data)

    async def request(self, type_name: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        """Send a message with a fresh ``ref`` and wait for the reply (ClientError if the
        reply is an error)."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        ref = next(self._refs)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[ref] = future
        assert self.ws is not None
        try:
            await self.ws.send(json.dumps({"type": type_name, "ref": ref, **fields}))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.pop(ref, None)

    async def expect(
        self,
        type_name: str,
        timeout: float = 10,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The first unclaimed event of ``type_name`` (matching ``where``), waiting for it."""

        async def find() -> dict[str, Any]:
            while True:
                for i, event in enumerate(self.events):
                    if event.get("type") == type_name and (where is None or where(event)):
                        return self.events.pop(i)
                if self._reader is not None and self._reader.done():
                    raise ConnectionError(f"closed {self.closed_with}")
                self._event_signal.clear()
                await self._event_signal.wait()

        return await asyncio.wait_for(find(), timeout)

    async def _join(self, conversation: int, since: int) -> dict[str, Any]:
        reply = await self.request("chat.join", conversation=conversation, since=since)
        while reply.get("more"):
            last = self.logs[conversation].last
            reply = await self.request("chat.sync", conversation=conversation, since=last)
        return reply

    async def join(self, conversation: int) -> dict[str, Any]:
        """Join (and remember it, to re-join after a reconnect) from the last seen seq."""
        conv_log = self.logs.setdefault(conversation, ConversationLog())
        return await self._join(conversation, conv_log.last)

    async def _send_pending(self, pending: Pending) -> None:
        await asyncio.wait_for(self._connected.wait(), 30)
        assert self.ws is not None
        await self.ws.send(
            json.dumps(
                {
                    "type": "chat.send",
                    "conversation": pending.conversation,
                    "client_msg_id": pending.client_msg_id,
                    "ref": "m:" + pending.client_msg_id,
                    "body": pending.body,
                    **pending.extra,
                }
            )
        )

    async def send_message(
        self,
        conversation: int,
        body: str,
        *,
        client_msg_id: str | None = None,
        timeout: float | None = 30,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send a chat message and wait for its ``chat.ack``, across reconnects."""
        pending = Pending(
            conversation,
            client_msg_id or uuid.uuid4().hex,
            body,
            extra,
            asyncio.get_running_loop().create_future(),
        )
        self.outbox[pending.client_msg_id] = pending
        with contextlib.suppress(ConnectionClosed, ConnectionError):
            await self._send_pending(pending)
        return await asyncio.wait_for(asyncio.shield(pending.acked), timeout)

    async def sync(self, conversation: int) -> None:
        """Fetch what is missing after the last contiguous seq."""
        conv_log = self.logs.setdefault(conversation, ConversationLog())
        more = True
        while more:
            reply = await self.request("chat.sync", conversation=conversation, since=conv_log.last)
            more = bool(reply.get("more"))
