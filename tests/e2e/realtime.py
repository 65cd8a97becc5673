"""The realtime server beside the browser tests' portal, as ``make run`` starts them.

Every page carries the live 在线部门 list, which opens a websocket: without the server
beside it a page would log connection errors. The server runs in a background thread
with its own event loop, on 127.0.0.1 and a free port, sharing the portal's database
and secret; its Origin allowlist is the portal's address, exactly as deployed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class DeferredApp:
    """A WSGI app filled in later: the portal's URL (its port) must be known before the
    realtime server starts, and the portal's settings need the realtime server's."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "the portal is not ready yet"
        return self.app(environ, start_response)


class RealtimeThread:
    """``realtime.server.RealtimeServer`` on port 0 in a thread; ``url`` is its /ws."""

    def __init__(self, settings: dict[str, Any], origins: list[str]) -> None:
        from realtime.server import RealtimeServer

        self.settings = {
            **settings,
            "qzt.realtime.origins": origins,
            "qzt.realtime.allow_no_origin": True,  # the tests' own Python clients
        }
        self.loop = asyncio.new_event_loop()
        self.server = RealtimeServer(self.settings)
        self.port = 0
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="e2e-realtime", daemon=True
        )
        self.thread.start()
        self.port = self._start()
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def _start(self) -> int:
        started = asyncio.run_coroutine_threadsafe(
            self.server.start("127.0.0.1", self.port), self.loop
        )
        return int(started.result(timeout=30))

    def portal_settings(self) -> dict[str, Any]:
        """What the portal must know to send browsers here."""
        return {"qzt.realtime.public_url": self.url}

    def restart(self) -> None:
        """Stop (every connection closes with 1001) and start again on the same port,
        as after a deployment: clients must reconnect and resend on their own."""
        from realtime.server import RealtimeServer

        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.server = RealtimeServer(self.settings)
        self._start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
