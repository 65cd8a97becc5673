"""``IMailer`` over the ``mail_outbox`` table (queue side)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.clock import IClock
from portal.mail import compose
from portal.mail.interfaces import IMailer, MailAttachment
from portal.mail.models import OutboxMail


@implementer(IMailer)
class OutboxMailer:
    def __init__(self, clock: IClock, sender: str, domain: str) -> None:
        self.clock = clock
        self.sender = sender
        self.domain = domain

    def queue(
        self,
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
        recipients = [addr for addr in to if addr]
        if not recipients:
            return None
        if dedupe_key is not None:
            # The unique constraint is the guarantee; this lookup only avoids
            # provoking an IntegrityError (and a retry) in the common case.
            existing = session.scalar(
                select(OutboxMail.id).where(OutboxMail.dedupe_key == dedupe_key)
            )
            if existing is not None:
                return None
        now = self.clock.now()
        message_id = message_id or compose.make_message_id(self.domain, dedupe_key)
        msg = compose.build(
            sender=self.sender,
            to=recipients,
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            message_id=message_id,
            date=now,
            headers=headers,
        )
        row = OutboxMail(
            kind=kind,
            dedupe_key=dedupe_key,
            message_id=message_id,
            recipients=",".join(recipients),
            subject=subject[:300],
            raw=msg.as_bytes(),
            state="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        if dedupe_key is None:
            session.add(row)
            session.flush()
            return row.id
        try:
            # A savepoint, so a concurrent process that queued the same key first
            # costs us this one message, not the caller's whole transaction.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return None
        return row.id
