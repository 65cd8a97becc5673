"""The sender: drains ``mail_outbox`` into a transport, with retries and claims that
hold across several processes.

One pass: **claim** up to ``batch_size`` due messages in one short transaction
(``queued`` -> ``sending``, stamped with this pass's token and a lease), commit, hand
them to the transport one by one, and **mark** each one ``sent`` (or back to
``queued`` with a later ``next_attempt_at``, or ``failed``) in its own transaction
right after the server's answer.

Claims: on PostgreSQL the candidates are picked ``FOR UPDATE SKIP LOCKED``, so two
senders claim disjoint batches without waiting for each other. SQLite has no row
locks; there the claim is the same single conditional ``UPDATE … WHERE id IN
(…due…) RETURNING``, and SQLite runs one writing statement at a time, so a row is
claimed by whichever statement runs first and no longer matches for the second.
Every later mark repeats ``claimed_by = <token>`` in its WHERE, so a pass that lost
its claim (lease ended) cannot overwrite what another pass recorded.

Restart mid-send: a claim lasts ``lease`` (ten SMTP timeouts, at least five
minutes). A sender that dies leaves its rows in ``sending``; when the lease ends
any sender claims them again. A live sender starts a message only while its lease
still covers a whole send (``send_budget``, two SMTP timeouts) and gives the rest
back, so a slow pass never races the one that takes over.

The one window no design closes: the relay has answered 250 to the final "." but
the process dies before its ``sent`` commit. Marking ``sent`` before the final "."
would lose the message when the relay then refuses it or the process dies; marking
after leaves a possible duplicate. We choose **at least once** (RFC 5321 §6.1 and
RFC 1047 make the same choice for MTAs): the window is one local commit long, and
a repeat carries the same bytes and the same Message-ID, so it is recognisably the
same message. The maildir transport closes the window entirely: it stores each
message under a name derived from it and skips a message already there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from portal.clock import IClock
from portal.db import transaction
from portal.mail.interfaces import DeliveryError, IMailConnection, IMailTransport
from portal.mail.models import FAILED, QUEUED, SENDING, SENT, OutboxMail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base``, 2×, 4× … up to ``cap`` seconds; after
    ``max_attempts`` failed attempts the message is ``failed``."""

    base: float = 60
    cap: float = 6 * 3600
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base * 2 ** max(attempts - 1, 0), self.cap))


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    recipients: str
    raw: bytes
    message_id: str

    @property
    def envelope_to(self) -> list[str]:
        return [addr for _, addr in getaddresses([self.recipients]) if addr]

    @property
    def key(self) -> str:
        # Stable per message and distinct across databases that reuse ids.
        return f"{self.id}{self.message_id}"


@dataclass
class PassReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PassReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.released += other.released
        self.errors.extend(other.errors)

    def summary(self) -> str:
        return (
            f"claimed={self.claimed} sent={self.sent} retrying={self.retrying} "
            f"failed={self.failed} released={self.released}"
        )


def claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxMail.state == QUEUED, OutboxMail.next_attempt_at <= now),
        and_(OutboxMail.state == SENDING, OutboxMail.lease_until <= now),
    )


class OutboxSender:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        transport: IMailTransport,
        clock: IClock,
        *,
        envelope_from: str,
        policy: RetryPolicy | None = None,
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=5),
        send_budget: timedelta | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.transport = transport
        self.clock = clock
        self.envelope_from = parseaddr(envelope_from)[1] or envelope_from
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.lease = lease
        #: the longest one message may take (each SMTP step may take the timeout)
        self.send_budget = send_budget if send_budget is not None else lease / 5

    def _transaction(self) -> AbstractContextManager[Session]:
        return transaction(self.session_factory)

    # -- claim --------------------------------------------------------------------
    def claim(self, token: str, now: datetime, limit: int | None = None) -> list[Claimed]:
        due = (
            select(OutboxMail.id)
            .where(claimable(now))
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit or self.batch_size)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing
        )
        stmt = (
            update(OutboxMail)
            .where(OutboxMail.id.in_(due.scalar_subquery()), claimable(now))
            .values(
                state=SENDING,
                attempts=OutboxMail.attempts + 1,
                claimed_by=token,
                lease_until=now + self.lease,
            )
            .returning(
                OutboxMail.id,
                OutboxMail.attempts,
                OutboxMail.recipients,
                OutboxMail.raw,
                OutboxMail.message_id,
            )
            .execution_options(synchronize_session=False)
        )
        with self._transaction() as session:
            rows = session.execute(stmt).all()
        return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)

    # -- marks ----------------------------------------------------------------------
    def _mark(self, session: Session, item: Claimed, token: str, **values: Any) -> bool:
        result = session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == item.id,
                OutboxMail.claimed_by == token,
                OutboxMail.state == SENDING,
            )
            .values(claimed_by=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("mail %s: claim %s lost before it was marked", item.id, token)
            return False
        return True

    def _sent(self, item: Claimed, token: str, refused: dict[str, int], report: PassReport) -> None:
        now = self.clock.now()
        note = None
        with self._transaction() as session:
            if refused:
                retry = [rcpt for rcpt, code in refused.items() if code < 500]
                note = "refused: " + ", ".join(f"{r} ({c})" for r, c in sorted(refused.items()))
                if retry:
                    copy_id = self._requeue_for(session, item, retry, now)
                    note += f"; retried for {', '.join(retry)} as #{copy_id}"
            self._mark(session, item, token, state=SENT, sent_at=now, last_error=note)
        report.sent += 1

    def _requeue_for(
        self, session: Session, item: Claimed, recipients: Sequence[str], now: datetime
    ) -> int:
        """A recipient the relay refused for now (4xx) gets the same message again
        later, as its own outbox row: same bytes, same Message-ID."""
        original = session.get_one(OutboxMail, item.id)
        copy = OutboxMail(
            kind=original.kind,
            dedupe_key=None,
            message_id=original.message_id,
            recipients=",".join(recipients),
            subject=original.subject,
            raw=original.raw,
            state=QUEUED,
            attempts=0,
            next_attempt_at=now + self.policy.delay(1),
            created_at=now,
        )
        session.add(copy)
        session.flush()
        return copy.id

    def _failed(self, item: Claimed, token: str, exc: DeliveryError, report: PassReport) -> None:
        now = self.clock.now()
        final = exc.permanent or item.attempts >= self.policy.max_attempts
        values: dict[str, Any] = {"last_error": str(exc)[:2000]}
        if final:
            values.update(state=FAILED)
        else:
            values.update(state=QUEUED, next_attempt_at=now + self.policy.delay(item.attempts))
        with self._transaction() as session:
            if self._mark(session, item, token, **values):
                if final:
                    report.failed += 1
                else:
                    report.retrying += 1
        report.errors.append(f"#{item.id}: {exc}")
        log.info("mail %s attempt %s failed: %s", item.id, item.attempts, exc)

    def _release(self, items: Sequence[Claimed], token: str, report: PassReport) -> None:
        """Give back claimed messages this pass will not try (the attempt is not counted)."""
        if not items:
            return
        with self._transaction() as session:
            result = session.execute(
                update(OutboxMail)
                .where(
                    OutboxMail.id.in_([i.id for i in items]),
                    OutboxMail.claimed_by == token,
                    OutboxMail.state == SENDING,
                )
                .values(
                    state=QUEUED,
                    attempts=OutboxMail.attempts - 1,
                    claimed_by=None,
                    lease_until=None,
                )
                .execution_options(synchronize_session=False)
            )
        report.released += result.rowcount  # type: ignore[attr-defined]

    # -- passes ---------------------------------------------------------------------
    def run_once(self) -> PassReport:
        report = PassReport()
        token = uuid.uuid4().hex
        start = self.clock.now()
        items = self.claim(token, start)
        report.claimed = len(items)
        if not items:
            return report
        lease_end = start + self.lease
        try:
            connection: IMailConnection = self.transport.open()
        except DeliveryError as exc:
            for item in items:
                self._failed(item, token, exc, report)
            return report
        try:
            for index, item in enumerate(items):
                if self.clock.now() + self.send_budget >= lease_end:
                    # This send might end after the lease, when another sender may
                    # have claimed the message: give the rest back instead.
                    self._release(items[index:], token, report)
                    break
                try:
                    refused = connection.send(
                        self.envelope_from, item.envelope_to, item.raw, item.key
                    )
                except DeliveryError as exc:
                    self._failed(item, token, exc, report)
                    if exc.broken:
                        for rest in items[index + 1 :]:
                            self._failed(rest, token, exc, report)
                        break
                    continue
                self._sent(item, token, refused, report)
        finally:
            connection.close()
        return report

    def run(self, max_passes: int = 20) -> PassReport:
        """Passes until the outbox has nothing due (or a pass hit a dead server)."""
        total = PassReport()
        for _ in range(max_passes):
            report = self.run_once()
            total.add(report)
            if report.claimed < self.batch_size or report.sent == 0:
                break
        return total


# -- outbox maintenance (admin page, CLI) ---------------------------------------------
def retry_now(session: Session, mail_id: int, now: datetime) -> bool:
    """Put a queued or failed message at the front: due now, one more attempt."""
    result = session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.state.in_((QUEUED, FAILED)))
        .values(state=QUEUED, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    found = dict.fromkeys((QUEUED, SENDING, SENT, FAILED), 0)
    for state, n in session.execute(
        select(OutboxMail.state, func.count()).group_by(OutboxMail.state)
    ):
        found[state] = n
    return found
