"""Delivery with real commits, real concurrency and real process death.

These tests commit (the sender's claims must be seen by other connections and other
processes), so each one deletes the rows it made. The relay is aiosmtpd on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from portal.clock import FrozenClock
from portal.db import make_session_factory
from portal.mail.delivery import OutboxSender, RetryPolicy
from portal.mail.models import SENDING, SENT, OutboxMail
from portal.mail.outbox import OutboxMailer
from portal.mail.transports import MaildirTransport, SMTPTransport

SENDER = "企政通 <noreply@qzt.example.gov.cn>"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.fixture
def committed(engine: Engine, clock: FrozenClock) -> Iterator[Callable[..., list[int]]]:
    """``committed(n)`` queues and commits n messages; all are deleted afterwards."""
    factory = make_session_factory(engine)
    mailer = OutboxMailer(clock, sender=SENDER, domain="qzt.example.gov.cn")
    made: list[int] = []

    def add(n: int, prefix: str = "user") -> list[int]:
        with factory() as session:
            ids = [
                mailer.queue(
                    session,
                    to=[f"{prefix}{i}@example.cn"],
                    subject=f"通知 {i}",
                    text=f"第 {i} 封",
                )
                for i in range(n)
            ]
            session.commit()
        made.extend(i for i in ids if i is not None)
        return [i for i in ids if i is not None]

    yield add
    with engine.begin() as connection:
        ids = list(made)
        message_ids = select(OutboxMail.message_id).where(OutboxMail.id.in_(ids))
        connection.execute(delete(OutboxMail).where(OutboxMail.message_id.in_(message_ids)))


def states(engine: Engine, ids: list[int]) -> dict[int, OutboxMail]:
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids))).all()
        return {r.id: r for r in rows}


def make_sender(engine: Engine, transport: Any, clock: Any, batch_size: int = 5) -> OutboxSender:
    return OutboxSender(
        make_session_factory(engine),
        transport,
        clock,
        envelope_from=SENDER,
        policy=RetryPolicy(base=60, cap=3600, max_attempts=5),
        batch_size=batch_size,
        lease=timedelta(minutes=5),
    )


def test_four_concurrent_senders_send_every_message_exactly_once(engine, clock, committed, smtpd):
    ids = committed(60)
    mine = {f"user{i}@example.cn" for i in range(60)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        sender = make_sender(engine, SMTPTransport("127.0.0.1", smtpd.port, timeout=5), clock)
        try:
            barrier.wait()
            while sender.run_once().claimed:
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    got = [r.rcpt_tos[0] for r in smtpd.received if r.rcpt_tos[0] in mine]
    assert sorted(got) == sorted(mine)  # each once, none twice
    rows = states(engine, ids)
    assert {r.state for r in rows.values()} == {SENT}
    assert {r.attempts for r in rows.values()} == {1}


SENDER_PROCESS = textwrap.dedent(
    """
    import os, sys
    from datetime import timedelta
    sys.path.insert(0, {root!r})
    from portal.clock import SystemClock
    from portal.db import make_engine, make_session_factory
    from portal.mail.delivery import OutboxSender
    from portal.mail.transports import MaildirTransport, SMTPTransport

    class DieAfterHandOver:
        # The process dies right after the relay accepted, before "sent" is committed.
        def __init__(self, inner):
            self.inner, self.name = inner, inner.name
        def open(self):
            connection = self.inner.open()
            send = connection.send
            def send_then_die(*args):
                send(*args)
                os._exit(9)
            connection.send = send_then_die
            return connection

    engine = make_engine({{"sqlalchemy.url": {url!r}}})
    if {transport!r} == "smtp":
        transport = SMTPTransport("127.0.0.1", {port}, timeout=30)
    else:
        transport = MaildirTransport({maildir!r})
    if {die_after!r}:
        transport = DieAfterHandOver(transport)
    sender = OutboxSender(
        make_session_factory(engine), transport, SystemClock(),
        envelope_from="noreply@qzt.example.gov.cn", lease=timedelta(minutes=5),
    )
    print("claimed", sender.run_once().claimed, flush=True)
    """
)


def start_sender_process(
    settings: dict[str, Any],
    *,
    port: int = 0,
    transport: str = "smtp",
    maildir: str = "",
    die_after: bool = False,
) -> subprocess.Popen[str]:
    code = SENDER_PROCESS.format(
        root=ROOT,
        url=settings["sqlalchemy.url"],
        port=port,
        transport=transport,
        maildir=maildir,
        die_after=die_after,
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def lease_of(engine: Engine, mail_id: int) -> OutboxMail:
    found = states(engine, [mail_id])[mail_id]
    assert found.state == SENDING
    assert found.lease_until is not None
    return found


def test_a_sender_killed_mid_send_is_taken_over_and_the_message_goes_once(
    engine, settings, committed, smtpd
):
    [mail_id] = committed(1)
    smtpd.handler.hold = threading.Event()  # the relay stalls at RCPT TO
    process = start_sender_process(settings, port=smtpd.port)
    try:
        assert smtpd.handler.hold.wait(30), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)  # kill -9 in the middle of the SMTP dialogue
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    smtpd.handler.hold = None
    smtpd.handler.release.set()
    stuck = lease_of(engine, mail_id)
    assert smtpd.received == []

    # The restarted portal: before the lease ends nothing moves, after it the
    # message is claimed again and sent, once.
    restarted = FrozenClock(stuck.lease_until - timedelta(seconds=1))
    sender = make_sender(engine, SMTPTransport("127.0.0.1", smtpd.port, timeout=5), restarted)
    assert sender.run().claimed == 0
    restarted.advance(seconds=1)
    assert sender.run().sent == 1
    done = states(engine, [mail_id])[mail_id]
    assert (done.state, done.attempts) == (SENT, 2)
    assert [r.message["Message-ID"] for r in smtpd.received] == [done.message_id]
    assert sender.run().claimed == 0
    assert len(smtpd.received) == 1


def test_a_crash_between_the_relays_250_and_the_sent_mark_repeats_the_identical_message(
    engine, settings, committed, smtpd
):
    """The documented at-least-once window (portal/mail/delivery.py): the repeat is
    byte-identical with the same Message-ID, so mail clients see one message."""
    [mail_id] = committed(1)
    process = start_sender_process(settings, port=smtpd.port, die_after=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 9, err
    assert len(smtpd.received) == 1
    stuck = lease_of(engine, mail_id)

    restarted = FrozenClock(stuck.lease_until)
    sender = make_sender(engine, SMTPTransport("127.0.0.1", smtpd.port, timeout=5), restarted)
    assert sender.run().sent == 1
    first, second = smtpd.received
    assert first.data == second.data
    assert first.message["Message-ID"] == second.message["Message-ID"] == stuck.message_id


def test_with_the_maildir_the_same_crash_stores_the_message_once(
    engine, settings, committed, tmp_path
):
    [mail_id] = committed(1)
    maildir = str(tmp_path / "maildir")
    process = start_sender_process(settings, transport="maildir", maildir=maildir, die_after=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 9, err
    stuck = lease_of(engine, mail_id)

    sender = make_sender(engine, MaildirTransport(maildir), FrozenClock(stuck.lease_until))
    assert sender.run().sent == 1
    assert len(os.listdir(os.path.join(maildir, "new"))) == 1
    assert states(engine, [mail_id])[mail_id].state == SENT
