"""A real SMTP server on loopback for the mail tests: aiosmtpd on 127.0.0.1, port 0.

``LoopbackSMTP`` records what it accepts and can be told to misbehave the way
relays do: stop (connection refused), refuse a recipient or the data with a 4xx/5xx
code, or hold a transaction open at RCPT until the test lets it go (to kill a
sender mid-send). ``stop()`` then ``start()`` comes back on the same port.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    #: address -> reply ("450 …", "550 …") for RCPT TO
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: a reply for DATA instead of accepting ("451 …", "554 …")
    data_reply: str | None = None
    #: set: RCPT waits for ``release`` (the client is then stuck mid-transaction)
    hold: threading.Event | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.hold is not None:
            import asyncio

            self.hold.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Port 0 asks the kernel for a free port; learn it before aiosmtpd's
        # readiness probe connects.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LoopbackSMTP:
    def __init__(self, **options: Any) -> None:
        """``options`` go to aiosmtpd (``tls_context``, ``require_starttls``,
        ``ssl_context``, ``authenticator`` …)."""
        self.handler = Handler()
        self.port = 0
        self.options = options
        self._controller: _Controller | None = None

    def start(self) -> LoopbackSMTP:
        controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.options)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.handler.release.set()
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Mail settings that point the SMTP transport here."""
        return {
            "qzt.mail.transport": "smtp",
            "qzt.mail.smtp.host": "127.0.0.1",
            "qzt.mail.smtp.port": self.port,
            "qzt.mail.smtp.security": "none",
            "qzt.mail.smtp.timeout": 5,
            **extra,
        }
