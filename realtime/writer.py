"""Group commit of chat messages: one writer per realtime process.

A ``chat.send`` is checked (fields, body) on the event loop, then queued here; the
handler returns at once, so a connection's next frames are read meanwhile. The writer
takes *every* queued message, stores them in one transaction with a few set-based
statements (``IChatService.post_batch``, ``portal.chat.batch``), commits once, and
only then acknowledges each sender (``chat.ack``) and publishes each new message to
its conversation. While that commit is in flight the next messages queue up and form
the next batch, so the batch grows with the load and the cost of a commit (an fsync)
is shared by all of them; under a light load a batch is one message and nothing waits.

What is kept from one transaction per message:

* **stored before acknowledged**: acks and events are sent after the commit returned;
* **idempotent resends**: ``post_batch`` answers a stored ``client_msg_id`` (also one
  repeated inside the batch) with the stored message, ``duplicate: true``;
* **order**: seqs follow the queue's order, which is each connection's frame order;
  batches are acknowledged and published in the order they were committed, and the
  next batch is handed to the database before this one's acks go out (the two overlap)
  but only after this one committed;
* **one refusal is one error**: a draft the service refuses gets its error, the others
  are stored. If the transaction itself fails with an error that may be one message's
  fault (a value the database refuses), the batch is retried one message at a time so
  that only the culprit fails; if the database is unreachable every message of the
  batch gets ``internal`` and nothing is acknowledged: the client resends it later with
  the same ``client_msg_id``.

Other handlers of the same connection that read or change conversations first wait
until the connection's queued messages are settled (``settled``), so "send, then
close" still stores the message before closing.

Database work runs in a thread of its own (the hub's ``writer`` lane) on a connection
the writer keeps; the event loop only queues, acknowledges and fans out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection as SAConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.chat.interfaces import ChatError, Draft, IChatService, Stored
from realtime.dispatch import Connection, Hub, ProtocolError, error_message
from realtime.hub import DB_ATTEMPTS, retryable

log = logging.getLogger(__name__)

#: conn.state key: the future of the connection's last queued message
LAST = "chat.writer.last"


@dataclass(slots=True)
class Queued:
    conn: Connection
    draft: Draft
    request: dict[str, Any]
    done: asyncio.Future[None]


class MessageWriter:
    def __init__(
        self,
        hub: Hub,
        svc: IChatService,
        topic: Any,
        *,
        max_batch: int = 500,
        max_queue: int = 5000,
    ) -> None:
        self.hub = hub
        self.svc = svc
        self.topic = topic  # conversation id → the topic its events go to
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._queue: deque[Queued] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: for /healthz and the benchmark
        self.batches = 0
        self.messages = 0
        self.largest = 0
        self.failed = 0
        self.db_seconds = 0.0
        self.in_flight = 0
        self._connection: SAConnection | None = None  # used in the writer's thread only

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chat-writer")

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "messages": self.messages,
            "mean_batch": round(self.messages / self.batches, 2) if self.batches else 0,
            "largest_batch": self.largest,
            "failed": self.failed,
            "queued": len(self._queue),
            "in_flight": self.in_flight,
            "db_seconds": round(self.db_seconds, 3),
        }

    def submit(self, conn: Connection, draft: Draft, request: dict[str, Any]) -> None:
        """Queue a checked message; its ack or error is sent after the batch's commit."""
        if self._closing or self._task is None:
            raise ProtocolError("internal", "shutting down")
        if len(self._queue) >= self.max_queue:
            # Not stored: the client resends later (the protocol's rate_limited).
            raise ProtocolError("rate_limited", "server busy")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(Queued(conn, draft, request, done))
        conn.state[LAST] = done
        self._wake.set()

    async def close(self) -> None:
        """Store and answer what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.hub.run_in_lane("writer", self._disconnect)

    # -- the loop -------------------------------------------------------------------
    def _take(self) -> list[Queued]:
        count = min(len(self._queue), self.max_batch)
        return [self._queue.popleft() for _ in range(count)]

    def _begin(self, batch: list[Queued]) -> asyncio.Future[list[Any]]:
        self.in_flight = len(batch)
        drafts = [item.draft for item in batch]
        return asyncio.ensure_future(self.hub.run_in_lane("writer", self._store, drafts))

    def _store(self, drafts: list[Draft]) -> list[Any]:
        """One transaction for the batch, in the writer's thread. The writer keeps one
        connection for all its batches: checking one out of the pool (and pinging it)
        per batch cost a round trip, a third of a one-message batch's time. Any
        failure closes it; the next batch checks out a fresh one."""
        started = time.perf_counter()
        try:
            for attempt in range(1, DB_ATTEMPTS + 1):
                try:
                    if self._connection is None:
                        self._connection = self.hub.engine.connect()
                    with Session(bind=self._connection) as session, session.begin():
                        return self.svc.post_batch(session, drafts)
                except Exception as exc:
                    # Whatever failed, this connection is dropped (a failed commit must
                    # leave nothing behind for the next batch); the next one is fresh.
                    self._disconnect(broken=True)
                    if not isinstance(exc, OperationalError) or not retryable(exc):
                        raise
                    if attempt == DB_ATTEMPTS:
                        raise
                    log.info("retrying a batch after %s", exc.orig)
                    time.sleep(0.01 * attempt)
            raise AssertionError("unreachable")
        finally:
            self.db_seconds += time.perf_counter() - started

    def _disconnect(self, broken: bool = False) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if broken:
                # Closes the driver's connection for good (the pool will not reuse it),
                # whatever state the failed transaction left it in.
                connection.invalidate()
            connection.close()
        except Exception:
            log.warning("closing the writer's connection failed", exc_info=True)

    async def _run(self) -> None:
        flight: tuple[list[Queued], asyncio.Future[list[Any]]] | None = None
        while True:
            if flight is None:
                if not self._queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._take()
                flight = (batch, self._begin(batch))
            batch, future = flight
            results = await self._outcome(batch, future)
            self.in_flight = 0
            # The next batch goes to the database now; this one's answers go out
            # while it is stored.
            flight = None
            if self._queue:
                upcoming = self._take()
                flight = (upcoming, self._begin(upcoming))
            try:
                await self._answer(batch, results)
            except Exception:
                log.exception("answering a batch of %d failed", len(batch))
            finally:
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)

    async def _outcome(self, batch: list[Queued], future: asyncio.Future[list[Any]]) -> list[Any]:
        """One result per message: Stored, a ChatError, or the exception that failed it."""
        try:
            results = await future
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, OperationalError):
                # The database is unreachable or busy beyond the retries: nothing of
                # the batch is stored, nobody is acknowledged, clients resend.
                log.error("storing a batch of %d failed: %s", len(batch), exc)
                self.failed += len(batch)
                return [exc] * len(batch)
            # A value the database refused: find the culprit, one message at a time.
            log.warning("batch of %d failed (%s); storing one by one", len(batch), exc)
            results = []
            for item in batch:
                try:
                    (result,) = await self._begin([item])
                except Exception as one:
                    self.failed += 1
                    result = one
                else:
                    self._committed(1)
                results.append(result)
            return results
        self._committed(len(batch))
        return results

    def _committed(self, size: int) -> None:
        self.batches += 1
        self.messages += size
        self.largest = max(self.largest, size)

    async def _answer(self, batch: list[Queued], results: list[Any]) -> None:
        for item, result in zip(batch, results, strict=True):
            request = item.request
            if isinstance(result, Stored):
                message = result.message
                ack: dict[str, Any] = {
                    "type": "chat.ack",
                    "conversation": message["conversation"],
                    "client_msg_id": message["client_msg_id"],
                    "seq": message["seq"],
                    "message": message,
                    "duplicate": not result.created,
                }
                if "ref" in request:
                    ack["ref"] = request["ref"]
                item.conn.push(ack)
                if result.created:
                    await self.hub.publish(
                        self.topic(message["conversation"]),
                        {"type": "chat.message", "message": message},
                    )
            elif isinstance(result, ChatError):
                item.conn.push(error_message(result, request.get("ref"), f"{item.conn!r}"))
            else:  # the batch's failure, logged once in _outcome
                failed = {"type": "error", "code": "internal", "detail": "not stored, resend"}
                if "ref" in request:
                    failed["ref"] = request["ref"]
                item.conn.push(failed)
            item.done.set_result(None)


async def settled(conn: Connection) -> None:
    """Wait until the messages ``conn`` queued so far are stored (or refused)."""
    last = conn.state.get(LAST)
    if last is not None and not last.done():
        await asyncio.shield(last)
