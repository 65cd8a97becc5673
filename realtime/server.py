"""The websockets server: handshake checks, authentication, the per-connection loop.

Thin on purpose: what a message *does* lives in handler modules (``realtime.chat``,
``realtime.presence``, ``realtime.meetings``) registered through ``realtime.dispatch``.
Here: Origin allowlist (websockets refuses others with 403), ``/healthz`` through
``process_request``, max frame size (websockets closes with 1009), the first message
must authenticate, a token bucket per connection, errors answered without closing,
and a graceful stop (close 1001, wait for in-flight database work).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import secrets
import signal
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from portal.db import make_engine, make_session_factory
from realtime import tokens
from realtime.broker import make_broker
from realtime.dispatch import REGISTRY, ProtocolError, error_message, handler, reply
from realtime.hub import LocalHub
from realtime.protocol import (
    CLOSE_AUTH_REQUIRED,
    CLOSE_AUTH_TIMEOUT,
    CLOSE_FLOOD,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_TOKEN_INVALID,
    TokenBucket,
    dumps,
    parse,
)

log = logging.getLogger(__name__)

#: seconds each on_shutdown hook may take before the stop goes on without it
SHUTDOWN_HOOK_TIMEOUT = 5.0

ANONYMOUS = tokens.Claims(
    user_id=None, name="", roles=(), departments=(), enterprise_id=None, expires=0, extra={}
)


class Conn:
    """One authenticated websocket (implements ``realtime.dispatch.Connection``)."""

    def __init__(self, ws: ServerConnection, claims: tokens.Claims, bucket: TokenBucket) -> None:
        self.id = secrets.token_hex(8)
        self.ws = ws
        self.claims = claims
        self.bucket = bucket
        self.state: dict[str, Any] = {}

    async def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(dumps(message))

    def push(self, message: dict[str, Any]) -> None:
        # Written without waiting for the peer to read (like the fan-out): the chat
        # writer acknowledges a whole batch in one go and one slow reader must not
        # hold up the others; a peer that never reads is closed by the ping timeout.
        broadcast([self.ws], dumps(message))

    async def error(self, code: str, detail: str = "", ref: Any = None) -> None:
        message: dict[str, Any] = {"type": "error", "code": code, "detail": detail or code}
        if ref is not None:
            message["ref"] = ref
        await self.send(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)

    def __repr__(self) -> str:
        return f"<Conn {self.id} user={self.claims.user_id}>"


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def realtime_engine(settings: dict[str, Any]) -> Engine:
    """The portal's engine, except that on SQLite every transaction takes the write
    lock up front: worker threads that read then write would otherwise fail at once
    with "database is locked" when another thread wrote in between (WAL snapshots
    cannot be upgraded), instead of waiting their turn; and that on PostgreSQL every
    statement is planned for its parameters (``_custom_plans``)."""
    from portal.db import _sqlite_begin

    engine = make_engine(settings)
    if engine.dialect.name == "sqlite":
        event.remove(engine, "begin", _sqlite_begin)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _custom_plans)
    return engine


def _custom_plans(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares the statements a connection runs often, and PostgreSQL then
    # settles on a generic plan costed with the statistics of that moment. On a young
    # table (a fresh deployment, the benchmark) the chat writer's plan for finding
    # resends scanned chat_messages whole, and kept doing so as the table grew until
    # the next autoanalyze (6,000 sequential scans, 33 M rows read in one run). A plan
    # per execution follows the table's actual size and uses the index.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def load_handler_modules() -> None:
    """Import the modules whose ``@handler`` registrations make up the protocol."""
    import realtime.chat
    import realtime.meetings
    import realtime.presence
    import realtime.sessions  # noqa: F401


@handler("ping", anonymous=True)
async def _ping(hub: Any, conn: Any, message: dict[str, Any]) -> None:
    await conn.send(reply(message, "pong", server_time=time.time()))


class RealtimeServer:
    def __init__(self, settings: dict[str, Any], engine: Engine | None = None) -> None:
        load_handler_modules()
        self.settings = settings
        self.engine = engine or realtime_engine(settings)
        self.hub = LocalHub(
            settings,
            make_broker(settings),
            make_session_factory(self.engine),
            db_threads=settings.get("qzt.realtime.db_threads", 8),
        )
        self.secret = settings["qzt.realtime.secret"]
        self.rate = float(settings.get("qzt.realtime.rate", 20))
        self.burst = int(settings.get("qzt.realtime.burst", 40))
        self.flood_close = int(settings.get("qzt.realtime.flood_close", 200))
        self.auth_timeout = float(settings.get("qzt.realtime.auth_timeout", 10))
        self.max_bytes = int(settings.get("qzt.realtime.max_message_bytes", 65536))
        self.server: Server | None = None
        self.stopping = False

    # -- lifecycle ------------------------------------------------------------------
    async def start(self, host: str | None = None, port: int | None = None) -> int:
        """Listen; returns the port (pass 0 for any free one)."""
        settings = self.settings
        origins: list[str | None] = list(settings.get("qzt.realtime.origins", []))
        if settings.get("qzt.realtime.allow_no_origin", True):
            origins.append(None)
        ping = float(settings.get("qzt.realtime.ping_interval", 10))
        await self.hub.start()
        for hook in REGISTRY.on_startup:
            await hook(self.hub)
        self.server = await serve(
            self._connection,
            host if host is not None else settings.get("qzt.realtime.host", "127.0.0.1"),
            port if port is not None else settings.get("qzt.realtime.port", 6544),
            origins=origins,  # type: ignore[arg-type]
            process_request=self._process_request,
            max_size=self.max_bytes,
            ping_interval=ping,
            ping_timeout=ping,
            # A peer that stopped answering never completes the closing handshake:
            # give up on it quickly so its presence ends within ~2.5 ping intervals.
            close_timeout=min(5.0, ping),
            # Per-message compression would cost ~64 KiB of zlib state per connection.
            compression=None,
            max_queue=16,
        )
        sockets = list(self.server.sockets)
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, close every connection with 1001 (clients reconnect to
        another process), let handlers finish their database work, then shut down."""
        if self.stopping:
            return
        self.stopping = True
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
        for hook in REGISTRY.on_shutdown:
            name = f"{hook.__module__}.{hook.__qualname__}"
            log.debug("shutdown hook %s", name)
            try:
                await asyncio.wait_for(hook(self.hub), SHUTDOWN_HOOK_TIMEOUT)
            except TimeoutError:
                log.error("shutdown hook %s did not finish in %ss", name, SHUTDOWN_HOOK_TIMEOUT)
            except Exception:
                log.exception("shutdown hook %s failed", name)
        await self.hub.close()
        self.engine.dispose()
        log.info("stopped")

    async def run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()

        def request_stop() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, request_stop)
        await stop
        log.info("stopping: closing %d connections", len(self.hub.connections()))
        await self.stop()

    # -- HTTP -----------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path == "/healthz":
            hub = self.hub
            body = json.dumps(
                {
                    "status": "stopping" if self.stopping else "ok",
                    "connections": len(hub.connections()),
                    "users": len(hub.users()),
                    "uptime": round(time.time() - hub.started, 1),
                    **{name: figures() for name, figures in hub.metrics.items()},
                }
            )
            if query == "reset=lag":  # the benchmark measures the loop lag per phase
                hub.lag.reset()
            response = connection.respond(
                http.HTTPStatus.SERVICE_UNAVAILABLE if self.stopping else http.HTTPStatus.OK,
                body + "\n",
            )
            response.headers["Content-Type"] = "application/json"
            return response
        if path != "/ws":
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    # -- websocket ------------------------------------------------------------------
    async def _authenticate(self, ws: ServerConnection) -> tokens.Claims | None:
        peer = ws.remote_address
        try:
            raw = await asyncio.wait_for(ws.recv(), self.auth_timeout)
        except TimeoutError:
            log.info("%s: no auth within %ss", peer, self.auth_timeout)
            await ws.close(CLOSE_AUTH_TIMEOUT, "auth timeout")
            return None
        try:
            message = parse(raw)
        except ProtocolError:
            message = {}
        if message.get("type") != "auth":
            log.info("%s: first message was not auth", peer)
            await ws.close(CLOSE_AUTH_REQUIRED, "authenticate first")
            return None
        token = message.get("token")
        if token is None:
            return ANONYMOUS
        try:
            return tokens.verify(self.secret, token, now=time.time())
        except tokens.TokenError as exc:
            log.warning("%s: token refused (%s)", peer, exc.reason)
            if exc.reason == "expired":
                await ws.close(CLOSE_TOKEN_EXPIRED, "token expired")
            else:
                await ws.close(CLOSE_TOKEN_INVALID, f"token {exc.reason}")
            return None

    async def _connection(self, ws: ServerConnection) -> None:
        conn: Conn | None = None
        try:
            claims = await self._authenticate(ws)
            if claims is None:
                return
            conn = Conn(ws, claims, TokenBucket(self.rate, self.burst, time.monotonic()))
            hub = self.hub
            hub.add(conn)
            hub.subscribe(conn, f"conn:{conn.id}")
            if claims.user_id is not None:
                hub.subscribe(conn, f"user:{claims.user_id}")
            await conn.send(
                {
                    "type": "auth.ok",
                    "connection": conn.id,
                    "user": claims.user_id,
                    "name": claims.name,
                    "roles": list(claims.roles),
                    "departments": list(claims.departments),
                    "enterprise": claims.enterprise_id,
                    "server_time": time.time(),
                    "limits": {
                        "max_bytes": self.max_bytes,
                        "rate": self.rate,
                        "burst": self.burst,
                    },
                }
            )
            for hook in REGISTRY.on_connect:
                try:
                    await hook(hub, conn)
                except Exception:
                    log.exception("connect hook failed for %r", conn)
            closing: asyncio.Task[None] | None = None
            async for raw in ws:
                if closing is not None:
                    # Drain what the flooder already sent: the closing handshake
                    # completes only once its close frame, queued behind them, is read.
                    continue
                if not conn.bucket.take(time.monotonic()):
                    if conn.bucket.refused >= self.flood_close:
                        log.warning("%r flooding: closing", conn)
                        closing = asyncio.create_task(ws.close(CLOSE_FLOOD, "flood"))
                        continue
                    await conn.error("rate_limited", "slow down", _ref_of(raw))
                    continue
                await self._dispatch(conn, raw)
            if closing is not None:
                await closing
        except ConnectionClosed:
            pass
        finally:
            if conn is not None:
                for hook in REGISTRY.on_disconnect:
                    try:
                        await hook(self.hub, conn)
                    except Exception:
                        log.exception("disconnect hook failed for %r", conn)
                self.hub.remove(conn)
                log.debug("%r closed (%s)", conn, ws.close_code)

    async def _dispatch(self, conn: Conn, raw: str | bytes) -> None:
        try:
            message = parse(raw)
        except ProtocolError as exc:
            log.info("%r: %s", conn, exc)
            await conn.error(exc.code, exc.detail)
            return
        kind = message["type"]
        ref = message.get("ref")
        fn = REGISTRY.handlers.get(kind)
        if fn is None:
            log.info("%r: unknown type %r", conn, kind[:64])
            await conn.error("unknown_type", kind[:64], ref)
            return
        if conn.claims.user_id is None and kind not in REGISTRY.anonymous:
            await conn.error("forbidden", "sign in first", ref)
            return
        try:
            await fn(self.hub, conn, message)
        except ConnectionClosed:
            raise
        except Exception as exc:
            await conn.send(error_message(exc, ref, f"{conn!r} {kind}"))


def _ref_of(raw: str | bytes) -> Any:
    try:
        message = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return message.get("ref") if isinstance(message, dict) else None
