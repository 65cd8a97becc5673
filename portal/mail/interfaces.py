"""The mail contract every domain uses (chat transcripts, booking invites, case
acknowledgements, leaders' digests).

``queue`` writes the message into the ``mail_outbox`` table in the caller's
transaction: a rolled-back change sends nothing, a committed one is sent even if the
process dies right after (a sender drains the outbox with retries). ``dedupe_key``
makes "exactly once per (kind, period, recipient)" a unique constraint rather than a
check-then-insert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from zope.interface import Interface


@dataclass(frozen=True)
class MailAttachment:
    """A file part. ``cid`` makes it an inline part an HTML body can show as
    ``<img src="cid:…">``; ``params`` adds Content-Type parameters (an iCalendar
    invite needs ``{"method": "REQUEST"}``)."""

    filename: str
    mime_type: str
    data: bytes
    cid: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


class IMailer(Interface):
    def queue(
        session: Session,
        *,
        to: Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Sequence[MailAttachment] = (),
        kind: str = "notice",
        dedupe_key: str | None = None,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int | None:
        """Queue one message; return its outbox id, or None when ``dedupe_key`` was
        already queued (the earlier message stands, nothing is sent twice)."""


class DeliveryError(Exception):
    """A message could not be handed over. ``permanent`` (an SMTP 5xx for the message
    itself) fails it at once; otherwise (server down, 4xx, timeout) it is retried
    with backoff. ``broken``: the connection is gone, so the rest of the sender's
    pass waits for the next one."""

    def __init__(self, message: str, *, permanent: bool = False, broken: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.broken = broken


class IMailConnection(Interface):
    def send(envelope_from: str, recipients: Sequence[str], raw: bytes, key: str) -> dict[str, int]:
        """Hand one message over; return the recipients the server refused, with the
        SMTP code of each refusal (the others got it). ``key`` is stable per outbox
        message: a transport that can tell a repeat (the maildir) uses it to store the
        message only once. Raises ``DeliveryError`` when nobody got it."""

    def close() -> None:
        """Say goodbye to the server (never raises)."""


class IMailTransport(Interface):
    """Where the sender hands messages: an SMTP relay or the local maildir."""

    name: str

    def open() -> IMailConnection:
        """Connect (one connection per sender pass); raises ``DeliveryError``."""
