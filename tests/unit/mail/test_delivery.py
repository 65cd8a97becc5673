"""The sender over the outbox, against aiosmtpd on loopback: states, backoff, claims,
leases, partial refusals, and "retry now"."""

from __future__ import annotations

import os
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.mail import compose
from portal.mail.delivery import OutboxSender, RetryPolicy, counts, retry_now
from portal.mail.interfaces import MailAttachment
from portal.mail.models import FAILED, QUEUED, SENDING, SENT, OutboxMail
from portal.mail.outbox import OutboxMailer
from portal.mail.transports import MaildirTransport, SMTPTransport

SENDER = "企政通 <noreply@qzt.example.gov.cn>"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def mailer(clock: Any) -> OutboxMailer:
    return OutboxMailer(clock, sender=SENDER, domain="qzt.example.gov.cn")


def sender_for(dbsession: Session, transport: Any, clock: Any, **kw: Any) -> OutboxSender:
    """A sender whose transactions are savepoints of the test's rolled-back one."""
    connection = dbsession.connection()
    options: dict[str, Any] = {
        "envelope_from": SENDER,
        "policy": RetryPolicy(base=60, cap=3600, max_attempts=4),
        "batch_size": 10,
        "lease": timedelta(minutes=5),
    }
    options.update(kw)
    return OutboxSender(
        lambda: Session(bind=connection, join_transaction_mode="create_savepoint"),
        transport,
        clock,
        **options,
    )


def relay(smtpd: Any) -> SMTPTransport:
    return SMTPTransport("127.0.0.1", smtpd.port, timeout=5)


def queue(
    mailer: OutboxMailer, dbsession: Session, to: str = "李娜 <li.na@example.cn>", **kw: Any
) -> int:
    options: dict[str, Any] = {
        "subject": "诉求受理回执",
        "text": "您的诉求已受理。",
        "html": "<p>您的诉求已受理。</p>",
    }
    options.update(kw)
    mail_id = mailer.queue(dbsession, to=[to], **options)
    assert mail_id is not None
    return mail_id


def row(dbsession: Session, mail_id: int) -> OutboxMail:
    dbsession.expire_all()
    return dbsession.get_one(OutboxMail, mail_id)


def test_a_queued_message_is_sent_once_with_its_parts_intact(dbsession, clock, mailer, smtpd):
    mail_id = queue(
        mailer,
        dbsession,
        subject="每日诉求摘要（2026年3月2日）",
        html='<p>见附图：<img src="cid:chart-1" alt="图表"></p>',
        attachments=[
            MailAttachment("chart.png", "image/png", PNG, cid="chart-1"),
            MailAttachment("诉求清单.csv", "text/csv", "编号,标题\n1,测试\n".encode()),
        ],
        kind="digest.daily",
        dedupe_key="digest:daily:2026-03-02:leader:1",
    )
    report = sender_for(dbsession, relay(smtpd), clock).run()
    assert (report.claimed, report.sent) == (1, 1)
    sent = row(dbsession, mail_id)
    assert (sent.state, sent.attempts, sent.sent_at) == (SENT, 1, clock.now())
    assert sent.claimed_by is None
    assert sent.lease_until is None

    [got] = smtpd.received
    assert got.rcpt_tos == ["li.na@example.cn"]
    assert got.mail_from == "noreply@qzt.example.gov.cn"
    msg = got.message
    assert msg["Subject"] == "每日诉求摘要（2026年3月2日）"
    assert msg["To"].addresses[0].display_name == "李娜"
    assert msg["Message-ID"] == sent.message_id
    assert msg["Message-ID"] == compose.make_message_id(
        "qzt.example.gov.cn", "digest:daily:2026-03-02:leader:1"
    )
    assert msg.get_content_type() == "multipart/mixed"
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(html, EmailMessage)
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<chart-1>"
    assert image.get_payload(decode=True) == PNG
    [csv] = list(msg.iter_attachments())
    assert csv.get_filename() == "诉求清单.csv"
    assert csv.get_content().splitlines() == ["编号,标题", "1,测试"]

    again = sender_for(dbsession, relay(smtpd), clock).run()
    assert again.claimed == 0
    assert len(smtpd.received) == 1


def test_smtp_down_then_up_retries_with_backoff_and_loses_nothing(dbsession, clock, mailer, smtpd):
    ids = [queue(mailer, dbsession, to=f"user{n}@example.cn") for n in range(3)]
    sender = sender_for(dbsession, relay(smtpd), clock)
    smtpd.stop()
    start = clock.now()

    first = sender.run()
    assert (first.claimed, first.retrying, first.sent) == (3, 3, 0)
    for mail_id in ids:
        waiting = row(dbsession, mail_id)
        assert (waiting.state, waiting.attempts) == (QUEUED, 1)
        assert waiting.next_attempt_at == start + timedelta(seconds=60)
        assert "ConnectionRefused" in (waiting.last_error or "")

    assert sender.run().claimed == 0  # not due yet
    clock.advance(seconds=60)
    assert sender.run().retrying == 3
    assert row(dbsession, ids[0]).next_attempt_at == clock.now() + timedelta(seconds=120)

    smtpd.start()  # same port
    clock.advance(seconds=119)
    assert sender.run().claimed == 0
    clock.advance(seconds=1)
    back = sender.run()
    assert (back.claimed, back.sent) == (3, 3)
    assert sorted(r.rcpt_tos[0] for r in smtpd.received) == [
        f"user{n}@example.cn" for n in range(3)
    ]
    assert {row(dbsession, i).attempts for i in ids} == {3}
    assert sender.run().claimed == 0
    assert len(smtpd.received) == 3


def test_backoff_doubles_up_to_the_cap_then_the_message_fails(dbsession, clock, mailer, smtpd):
    mail_id = queue(mailer, dbsession)
    smtpd.handler.data_reply = "451 4.3.0 try again later"
    policy = RetryPolicy(base=60, cap=200, max_attempts=4)
    sender = sender_for(dbsession, relay(smtpd), clock, policy=policy)
    waits = []
    for _ in range(3):
        before = clock.now()
        assert sender.run().retrying == 1
        waits.append((row(dbsession, mail_id).next_attempt_at - before).total_seconds())
        clock._at = row(dbsession, mail_id).next_attempt_at
    assert waits == [60, 120, 200]
    assert sender.run().failed == 1
    failed = row(dbsession, mail_id)
    assert (failed.state, failed.attempts) == (FAILED, 4)
    assert "451" in (failed.last_error or "")
    clock.advance(days=2)
    assert sender.run().claimed == 0  # failed stays failed until someone retries it

    smtpd.handler.data_reply = None
    assert retry_now(dbsession, mail_id, clock.now())
    assert row(dbsession, mail_id).state == QUEUED
    assert sender.run().sent == 1
    assert len(smtpd.received) == 1
    assert not retry_now(dbsession, mail_id, clock.now())  # sent: nothing to retry


def test_a_permanent_refusal_fails_at_once(dbsession, clock, mailer, smtpd):
    mail_id = queue(mailer, dbsession, to="gone@example.cn")
    ok_id = queue(mailer, dbsession, to="here@example.cn")
    smtpd.handler.rcpt_replies["gone@example.cn"] = "550 5.1.1 no such mailbox"
    report = sender_for(dbsession, relay(smtpd), clock).run()
    assert (report.failed, report.sent) == (1, 1)
    gone = row(dbsession, mail_id)
    assert (gone.state, gone.attempts) == (FAILED, 1)
    assert "550" in (gone.last_error or "")
    assert row(dbsession, ok_id).state == SENT
    assert counts(dbsession)[FAILED] >= 1


def test_a_recipient_refused_for_now_gets_the_same_message_later(dbsession, clock, mailer, smtpd):
    mail_id = mailer.queue(
        dbsession,
        to=["ok@example.cn", "full@example.cn"],
        subject="会议邀请",
        text="请参会。",
    )
    assert mail_id is not None
    smtpd.handler.rcpt_replies["full@example.cn"] = "452 4.2.2 mailbox full"
    sender = sender_for(dbsession, relay(smtpd), clock)
    assert sender.run().sent == 1
    original = row(dbsession, mail_id)
    assert original.state == SENT
    assert "full@example.cn (452)" in (original.last_error or "")
    copy = dbsession.scalars(
        select(OutboxMail).where(
            OutboxMail.message_id == original.message_id, OutboxMail.id != mail_id
        )
    ).one()
    assert (copy.state, copy.recipients, copy.raw) == (QUEUED, "full@example.cn", original.raw)

    del smtpd.handler.rcpt_replies["full@example.cn"]
    clock.advance(seconds=60)
    assert sender.run().sent == 1
    assert [r.rcpt_tos for r in smtpd.received] == [["ok@example.cn"], ["full@example.cn"]]
    assert smtpd.received[0].data == smtpd.received[1].data


def test_a_claim_held_by_a_dead_sender_is_taken_over_when_its_lease_ends(
    dbsession, clock, mailer, smtpd
):
    mail_id = queue(mailer, dbsession)
    dead = sender_for(dbsession, relay(smtpd), clock)
    [claimed] = dead.claim("dead-sender", clock.now())
    assert (claimed.id, claimed.attempts) == (mail_id, 1)
    assert row(dbsession, mail_id).state == SENDING
    # ... and the process dies here, before handing the message over.

    alive = sender_for(dbsession, relay(smtpd), clock)
    assert alive.run().claimed == 0  # the lease still runs
    clock.advance(minutes=5)
    report = alive.run()
    assert (report.claimed, report.sent) == (1, 1)
    taken = row(dbsession, mail_id)
    assert (taken.state, taken.attempts) == (SENT, 2)
    assert len(smtpd.received) == 1

    # A late word from the dead claim changes nothing.
    with Session(bind=dbsession.connection(), join_transaction_mode="create_savepoint") as s:
        assert not dead._mark(s, claimed, "dead-sender", state=QUEUED)


class SlowRelay:
    """The loopback relay, with the clock moving on while each message goes out."""

    def __init__(self, inner: SMTPTransport, clock: Any, per_message: timedelta) -> None:
        self.inner, self.clock, self.per_message = inner, clock, per_message
        self.name = "smtp"

    def open(self) -> Any:
        connection = self.inner.open()
        send = connection.send

        def slow_send(*args: Any) -> dict[str, int]:
            self.clock._at += self.per_message
            return send(*args)

        connection.send = slow_send  # type: ignore[method-assign]
        return connection


def test_a_slow_sender_gives_back_what_its_lease_no_longer_covers(dbsession, clock, mailer, smtpd):
    ids = [queue(mailer, dbsession, to=f"u{n}@example.cn") for n in range(4)]
    slow = SlowRelay(relay(smtpd), clock, timedelta(minutes=2))
    report = sender_for(dbsession, slow, clock, send_budget=timedelta(minutes=1)).run_once()
    # Lease 0:00-5:00. Sends start at 0:00 and 2:00; at 4:00 a send could run
    # past 5:00, when another sender may claim the message: the last two go back.
    assert (report.sent, report.released) == (2, 2)
    rest = row(dbsession, ids[3])
    assert (rest.state, rest.attempts, rest.claimed_by) == (QUEUED, 0, None)
    assert len(smtpd.received) == 2


def test_the_maildir_sender_writes_each_message_once(dbsession, clock, mailer, tmp_path):
    ids = [queue(mailer, dbsession, to=f"u{n}@example.cn") for n in range(2)]
    maildir = str(tmp_path / "maildir")
    sender = sender_for(dbsession, MaildirTransport(maildir), clock)
    assert sender.run().sent == 2
    # A restart that re-sends a message already on disk (crash after writing,
    # before marking) stores nothing new.
    with Session(bind=dbsession.connection(), join_transaction_mode="create_savepoint") as s:
        s.get_one(OutboxMail, ids[0]).state = QUEUED
        s.commit()
    assert sender.run().sent == 1
    files = sorted(os.listdir(os.path.join(maildir, "new")))
    assert len(files) == 2
    stored = {(tmp_path / "maildir" / "new" / f).read_bytes() for f in files}
    assert stored == {row(dbsession, i).raw for i in ids}


def test_retry_policy_delays():
    policy = RetryPolicy(base=60, cap=6 * 3600, max_attempts=12)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 9, 10, 12)] == [
        60,
        120,
        240,
        15360,
        21600,
        21600,
    ]
