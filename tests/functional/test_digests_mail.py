"""Digests end to end: queued by the scheduler, delivered by the sender to a real SMTP
server on loopback (aiosmtpd), and read back as a mail client would (MIME parts,
headers, links); a double scheduler run in two threads at once; catch-up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.db import make_session_factory
from portal.digests.models import DAILY, WEEKLY, DigestRun
from portal.digests.service import DigestSender, dedupe_key, from_settings
from portal.mail import compose
from portal.mail.delivery import OutboxSender
from portal.mail.outbox import OutboxMailer
from portal.mail.transports import SMTPTransport
from tests import factories_digests as fd
from tests.timeline import START

PUBLIC = "https://qzt.example.gov.cn"
PERIOD = date(2026, 3, 2)


def digest_sender(settings: dict[str, Any], clock: Any) -> DigestSender:
    mailer = OutboxMailer(
        clock, sender="企政通 <noreply@qzt.example.gov.cn>", domain="qzt.example.gov.cn"
    )
    return from_settings(
        {**settings, "qzt.public_url": PUBLIC}, mailer, lambda case_id: f"{PUBLIC}/cases/{case_id}"
    )


def mail_sender(session_factory: Any, smtpd: Any, clock: Any) -> OutboxSender:
    return OutboxSender(
        session_factory,
        SMTPTransport("127.0.0.1", smtpd.port, timeout=5),
        clock,
        envelope_from="企政通 <noreply@qzt.example.gov.cn>",
    )


def savepoints(dbsession: Session) -> Any:
    connection = dbsession.connection()
    return lambda: Session(bind=connection, join_transaction_mode="create_savepoint")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)


def hrefs(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


@pytest.fixture
def city(dbsession: Session) -> Any:
    city = fd.City(dbsession)
    city.new = fd.CaseFactory(
        department_id=city.a.id, title="营业执照变更审批慢", received_at=START - timedelta(hours=12)
    )
    city.late = fd.CaseFactory(
        department_id=city.b.id, title="拖欠工资三个月", received_at=START - timedelta(days=30),
        close_due_at=START - timedelta(days=4),
    )  # fmt: skip
    dbsession.flush()
    return city


def test_digests_arrive_over_smtp_as_multipart_mail_with_links(
    dbsession, settings, clock, city, smtpd
):
    reports = digest_sender(settings, clock).run_due(savepoints(dbsession), clock.now())
    assert [(r.kind, r.queued) for r in reports] == [(DAILY, 3), (WEEKLY, 1)]
    delivery = mail_sender(savepoints(dbsession), smtpd, clock).run()
    assert delivery.sent == 4
    by_rcpt = {r.rcpt_tos[0]: r for r in smtpd.received}
    assert set(by_rcpt) == {
        "wang@example.gov.cn",
        "chen.sec@example.gov.cn",
        "li@example.gov.cn",
        "mayor@example.gov.cn",
    }

    wang = by_rcpt["wang@example.gov.cn"].message
    assert wang.get_content_type() == "multipart/alternative"
    assert wang["Subject"] == "企政通每日诉求简报（2026年3月2日）：新收 1 件，超期 1 件"
    assert wang["From"].addresses[0].display_name == "企政通"
    assert wang["To"].addresses[0].display_name == "王强"
    assert wang["Auto-Submitted"] == "auto-generated"
    key = dedupe_key(DAILY, PERIOD, city.wang.id)
    assert wang["Message-ID"] == compose.make_message_id("qzt.example.gov.cn", key)
    text, html = parts(wang)
    assert "王强副市长：" in text
    assert "营业执照变更审批慢" in text
    assert "拖欠工资三个月" in text
    assert f"{PUBLIC}/cases/{city.new.id}" in text
    assert f"{PUBLIC}/cases/{city.new.id}" in hrefs(html)
    assert f"{PUBLIC}/cases/{city.late.id}" in hrefs(html)
    assert f"{PUBLIC}/leader" in hrefs(html)
    assert set(hrefs(html)) <= {
        f"{PUBLIC}/cases/{city.new.id}",
        f"{PUBLIC}/cases/{city.late.id}",
        f"{PUBLIC}/leader",
    }
    assert "<script" not in html

    copy = by_rcpt["chen.sec@example.gov.cn"].message
    assert copy["Subject"] == "[抄送] " + wang["Subject"]
    assert copy["To"].addresses[0].display_name == "陈秘书"
    assert copy["Message-ID"] != wang["Message-ID"]
    assert "抄送：陈秘书" in parts(copy)[0]

    li = by_rcpt["li@example.gov.cn"].message
    assert li["Subject"] == "企政通每日诉求简报（2026年3月2日）：无新增事项"
    assert "无新增事项" in parts(li)[0]

    mayor = by_rcpt["mayor@example.gov.cn"].message
    assert mayor["Subject"].startswith("企政通诉求办理周报（2026年2月23日至2026年3月1日）")
    assert mayor["X-Qzt-Digest"] == "weekly 2026-03-02"
    text, html = parts(mayor)
    assert "部门排名" in text
    assert city.a.name in text
    assert f"{PUBLIC}/cases/{city.late.id}" in hrefs(html)  # longest overdue
    assert f"{PUBLIC}/leader/weekly" in hrefs(html)
    # the chart is table cells sized in percent: no image to block, no script
    assert 'bgcolor="#2b6cb0"' in html

    # A second run of scheduler and sender: nothing new reaches the server.
    assert digest_sender(settings, clock).run_due(savepoints(dbsession), clock.now()) == []
    assert mail_sender(savepoints(dbsession), smtpd, clock).run().claimed == 0
    assert len(smtpd.received) == 4


def test_after_downtime_the_missed_days_arrive_marked_late(dbsession, settings, clock, city, smtpd):
    dbsession.add(DigestRun(kind=DAILY, period=date(2026, 2, 28), queued=3, finished_at=START))
    dbsession.add(DigestRun(kind=WEEKLY, period=PERIOD, queued=1, finished_at=START))
    dbsession.flush()
    smtpd.stop()  # the relay was down too
    digest_sender(settings, clock).run_due(savepoints(dbsession), clock.now())
    sender = mail_sender(savepoints(dbsession), smtpd, clock)
    assert sender.run().retrying == 6
    smtpd.start()
    clock.advance(minutes=2)
    assert sender.run().sent == 6
    li = sorted(
        (r.message for r in smtpd.received if r.rcpt_tos == ["li@example.gov.cn"]),
        key=lambda m: m["X-Qzt-Digest"],
    )
    assert [m["X-Qzt-Digest"] for m in li] == ["daily 2026-03-01", "daily 2026-03-02"]
    assert li[0]["Subject"] == "企政通每日诉求简报（2026年3月1日）：无新增事项（补发）"
    assert "补发" not in li[1]["Subject"]


# -- two schedulers at once, real commits -------------------------------------------------
@pytest.fixture
def committed_city(engine: Engine) -> Iterator[Any]:
    with fd.committed_city(engine) as city:
        yield city


def test_two_schedulers_at_once_queue_each_digest_once(
    engine, settings, clock, committed_city, smtpd
):
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def scheduler() -> None:
        sender = digest_sender(settings, clock)
        barrier.wait()
        try:
            results.append(sender.run_due(make_session_factory(engine), clock.now()))
        except BaseException as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [r for r in results if isinstance(r, BaseException)], results
    queued = sum(report.queued for reports in results for report in reports)
    assert queued == 4
    with make_session_factory(engine)() as session:
        runs = session.scalars(select(DigestRun).order_by(DigestRun.kind)).all()
        assert [(r.kind, r.period) for r in runs] == [(DAILY, PERIOD), (WEEKLY, PERIOD)]
    mail_sender(make_session_factory(engine), smtpd, clock).run()
    assert sorted(r.rcpt_tos[0] for r in smtpd.received) == [
        "chen.sec@example.gov.cn",
        "li@example.gov.cn",
        "mayor@example.gov.cn",
        "wang@example.gov.cn",
    ]
