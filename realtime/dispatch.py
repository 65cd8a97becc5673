"""The extension API of the realtime server: what a handler module sees.

A handler module (``realtime/chat.py``, ``realtime/meetings.py``) registers one async
function per message type with ``@handler("chat.send")``. The server authenticates the
connection, parses and size-checks the JSON, rate-limits, then calls the handler with

* the ``Hub``: publish to topics (every subscriber on every realtime process, through
  the broker), subscribe a connection to a topic, run blocking database work in a
  worker thread inside a transaction;
* the ``Connection``: who it is (``claims``), ``send`` a message to it, ``error``;
* the message, a ``dict`` that has a string ``"type"`` (and maybe a ``"ref"`` the
  client wants echoed in the reply).

A handler raises ``ProtocolError(code, detail)`` (or any exception with ``code`` and
``detail`` attributes, such as ``portal.chat.interfaces.ChatError``) to answer with an
``error`` message carrying the request's ``ref``; any other exception is logged and
answered with ``internal``, and the connection stays open.

Topics are plain strings; by convention ``conv:<id>``, ``dept:<id>``, ``user:<id>``,
``conn:<id>`` (every connection is subscribed to its own ``user:`` and ``conn:``
topics at authentication), ``presence``, ``meeting:<id>``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine

from realtime.tokens import Claims

T = TypeVar("T")

log = logging.getLogger(__name__)


class ProtocolError(Exception):
    """Refuse a client message: sent back as ``{"type": "error", "code", "detail", "ref"}``."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail or code


class Connection(Protocol):
    #: globally unique (random hex): also the topic ``conn:<id>``
    id: str
    claims: Claims
    #: per-connection scratch space for handler modules, e.g. ``state["chat.joined"]``;
    #: keys are namespaced by module
    state: dict[str, Any]

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message to this client; a closed connection drops it silently."""

    def push(self, message: dict[str, Any]) -> None:
        """Send without waiting for the peer to read (for fan-out style writers that
        must not stall on one slow client); a closed connection drops it silently."""

    async def error(self, code: str, detail: str = "", ref: Any = None) -> None:
        """Send ``{"type": "error", "code", "detail", "ref"}``."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (see docs/realtime-protocol.md for the codes)."""


class Hub(Protocol):
    #: the loaded portal settings (portal.settings.load on the realtime .ini)
    settings: dict[str, Any]
    #: the process's database engine (``run_db`` is the usual way to use it)
    engine: Engine

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to every connection subscribed to ``topic`` on every
        realtime process (through the broker). At most once: a subscriber that is not
        connected at that moment misses it, which is why chat messages also carry
        sequence numbers a client can sync from."""

    def subscribe(self, conn: Connection, topic: str) -> asyncio.Future[None]:
        """Subscribe ``conn`` to ``topic``. The returned future completes when the
        broker delivers the topic to this process; await it before reading the state
        you will receive updates of (subscribe, await, then sync), or ignore it."""

    def unsubscribe(self, conn: Connection, topic: str) -> None: ...

    def connections(self, user_id: int | None = None) -> list[Connection]:
        """Connections on *this* process (of ``user_id`` if given)."""

    async def run_db(self, fn: Callable[..., T], *args: Any, lane: str = "default") -> T:
        """Run ``fn(session, *args)`` in a worker thread inside one transaction: commit
        when it returns, roll back when it raises (and re-raise). Return only plain
        data or detached objects (sessions use ``expire_on_commit=False``). ``lane``
        "presence" is a thread of its own, so heartbeats never wait behind chat work."""

    async def run_in_lane(self, lane: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker thread of ``lane`` without a transaction
        (for work that manages its own connection)."""


Handler = Callable[[Hub, Connection, dict[str, Any]], Awaitable[None]]
Hook = Callable[[Hub, Connection], Awaitable[None]]
LifecycleHook = Callable[[Hub], Awaitable[None]]


class Registry:
    """Handlers by message type and lifecycle hooks; the server reads ``REGISTRY``."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        #: message types an anonymous (token without user) connection may send
        self.anonymous: set[str] = set()
        self.on_connect: list[Hook] = []
        self.on_disconnect: list[Hook] = []
        self.on_startup: list[LifecycleHook] = []
        self.on_shutdown: list[LifecycleHook] = []


REGISTRY = Registry()


def handler(type_name: str, *, anonymous: bool = False) -> Callable[[Handler], Handler]:
    """Register ``fn`` for messages of ``type_name``; ``anonymous=True`` lets visitors
    without a user (the 在线部门 sidebar) send it too."""

    def register(fn: Handler) -> Handler:
        if type_name in REGISTRY.handlers:
            raise ValueError(f"two handlers for {type_name!r}")
        REGISTRY.handlers[type_name] = fn
        if anonymous:
            REGISTRY.anonymous.add(type_name)
        return fn

    return register


def on_connect(fn: Hook) -> Hook:
    """Run after a connection authenticated (and joined its user:/conn: topics)."""
    REGISTRY.on_connect.append(fn)
    return fn


def on_disconnect(fn: Hook) -> Hook:
    """Run when a connection ends, however it ends (cleanup: leave rooms, presence)."""
    REGISTRY.on_disconnect.append(fn)
    return fn


def on_startup(fn: LifecycleHook) -> LifecycleHook:
    """Run once when the server starts (background tasks: start them here)."""
    REGISTRY.on_startup.append(fn)
    return fn


def on_shutdown(fn: LifecycleHook) -> LifecycleHook:
    REGISTRY.on_shutdown.append(fn)
    return fn


def reply(request: dict[str, Any], type_name: str, /, **data: Any) -> dict[str, Any]:
    """A response to ``request``: its ``ref`` echoed, so the client can match it."""
    out: dict[str, Any] = {"type": type_name, **data}
    if "ref" in request:
        out["ref"] = request["ref"]
    return out


def require_user(conn: Connection) -> int:
    """The connection's user id; ProtocolError ``forbidden`` for anonymous visitors."""
    if conn.claims.user_id is None:
        raise ProtocolError("forbidden", "sign in first")
    return conn.claims.user_id


def field(message: dict[str, Any], name: str, kind: type[T], *, optional: bool = False) -> T:
    """``message[name]`` checked to be a ``kind``; ProtocolError ``bad_message`` if not."""
    value = message.get(name)
    if value is None and optional:
        return value  # type: ignore[return-value]
    # bool is an int in Python; a JSON true is no conversation id
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError("bad_message", f"{name} must be {kind.__name__}")
    return value


def error_message(exc: BaseException, ref: Any = None, context: str = "") -> dict[str, Any]:
    """The ``error`` message answering a request whose handling raised ``exc``:
    ``invalid`` with the field and a Chinese ``detail`` for an ``InputError``, the
    exception's own ``code`` for a ProtocolError or ChatError, else ``internal``
    (logged with its traceback: a server fault). ``context`` prefixes the log line."""
    from sqlalchemy.exc import SQLAlchemyError

    from portal.errors import InputError

    # SQLAlchemy's errors carry a ``code`` too (a link to their docs): a server fault.
    code = None if isinstance(exc, SQLAlchemyError) else getattr(exc, "code", None)
    message: dict[str, Any]
    if isinstance(exc, InputError) and isinstance(code, str):
        # A value the user can fix: say which field, in Chinese.
        log.info("%s refused: %s %s", context, exc.field, exc.message)
        message = {
            "type": "error",
            "code": code,
            "field": exc.field,
            "detail": translate(exc.message, exc.mapping),
        }
    elif isinstance(code, str):
        detail = str(getattr(exc, "detail", code))
        log.info("%s refused: %s %s", context, code, detail)
        message = {"type": "error", "code": code, "detail": detail}
    else:
        log.error("%s failed", context, exc_info=exc)
        message = {"type": "error", "code": "internal", "detail": "server error"}
    if ref is not None:
        message["ref"] = ref
    return message


@functools.cache
def _localizer() -> Any:
    from pyramid.i18n import make_localizer

    import portal

    return make_localizer("zh_CN", [os.path.join(os.path.dirname(portal.__file__), "locale")])


def translate(msgid: str, mapping: dict[str, Any] | None = None) -> str:
    """A portal msgid in Chinese (the UI's language) for an error's ``detail``."""
    from pyramid.i18n import TranslationString

    ts = TranslationString(msgid, domain="qzt", mapping=mapping or None)
    return str(_localizer().translate(ts))
