"""Queueing digests: once per (kind, period, recipient), copies to deputies, catch-up
after downtime, a double scheduler run, the empty day, by hand and as a dry run."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.digests.models import DAILY, WEEKLY, DigestRun
from portal.digests.service import DigestSender, dedupe_key, from_settings
from portal.mail import compose
from portal.mail.models import OutboxMail
from portal.mail.outbox import OutboxMailer
from portal.mail.queries import parse
from tests import factories_digests as fd
from tests.timeline import START

PERIOD = date(2026, 3, 2)


def make_sender(settings: dict[str, Any], clock: Any, **overrides: Any) -> DigestSender:
    mailer = OutboxMailer(
        clock, sender="企政通 <noreply@qzt.example.gov.cn>", domain="qzt.example.gov.cn"
    )
    return from_settings(
        {**settings, "qzt.public_url": "https://qzt.example.gov.cn", **overrides},
        mailer,
        lambda case_id: f"https://qzt.example.gov.cn/cases/{case_id}",
    )


@pytest.fixture
def sender(settings: dict[str, Any], clock: Any) -> DigestSender:
    return make_sender(settings, clock)


def savepoints(dbsession: Session) -> Any:
    connection = dbsession.connection()
    return lambda: Session(bind=connection, join_transaction_mode="create_savepoint")


def digest_mail(dbsession: Session) -> list[OutboxMail]:
    dbsession.expire_all()
    return list(
        dbsession.scalars(
            select(OutboxMail).where(OutboxMail.kind.like("digest.%")).order_by(OutboxMail.id)
        )
    )


@pytest.fixture
def city(dbsession: Session) -> fd.City:
    city = fd.City(dbsession)
    fd.CaseFactory(
        department_id=city.a.id, title="营业执照变更审批慢", received_at=START - timedelta(hours=12)
    )
    dbsession.flush()
    return city


def test_the_scheduler_queues_each_digest_once_with_copies(dbsession, sender, city, clock):
    reports = sender.run_due(savepoints(dbsession), clock.now())
    assert [(r.kind, r.period, r.queued) for r in reports] == [
        (DAILY, PERIOD, 3),  # 王 + his deputy's copy, 李
        (WEEKLY, PERIOD, 1),  # the mayor
    ]
    mail = digest_mail(dbsession)
    assert {m.dedupe_key for m in mail} == {
        dedupe_key(DAILY, PERIOD, city.wang.id),
        dedupe_key(DAILY, PERIOD, city.wang.id, "chen.sec@example.gov.cn"),
        dedupe_key(DAILY, PERIOD, city.li.id),
        dedupe_key(WEEKLY, PERIOD, city.mayor.id),
    }
    assert {m.recipients for m in mail} == {
        "王强 <wang@example.gov.cn>",
        "陈秘书 <chen.sec@example.gov.cn>",
        "李敏 <li@example.gov.cn>",
        "张华 <mayor@example.gov.cn>",
    }
    for m in mail:
        assert m.message_id == compose.make_message_id("qzt.example.gov.cn", m.dedupe_key)
        msg = parse(m.raw)
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Message-ID"] == m.message_id
    copy = next(m for m in mail if "chen.sec" in m.recipients)
    assert copy.subject.startswith("[抄送]")
    runs = dbsession.scalars(select(DigestRun).order_by(DigestRun.kind)).all()
    assert [(r.kind, r.period, r.queued) for r in runs] == [(DAILY, PERIOD, 3), (WEEKLY, PERIOD, 1)]

    # the scheduler ticks again, in this process or another: nothing more
    assert sender.run_due(savepoints(dbsession), clock.now()) == []
    clock.advance(hours=10)
    assert sender.run_due(savepoints(dbsession), clock.now()) == []
    assert len(digest_mail(dbsession)) == 4


def test_missed_days_are_caught_up_and_marked_late(dbsession, sender, city, clock):
    dbsession.add_all(
        [
            DigestRun(kind=DAILY, period=date(2026, 2, 27), queued=3, finished_at=START),
            DigestRun(kind=WEEKLY, period=PERIOD, queued=1, finished_at=START),
        ]
    )
    dbsession.flush()
    reports = sender.run_due(savepoints(dbsession), clock.now())
    assert [r.period for r in reports] == [date(2026, 2, 28), date(2026, 3, 1), PERIOD]
    mail = [m for m in digest_mail(dbsession) if "li@" in m.recipients]
    assert [m.dedupe_key.split(":")[2] for m in mail] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert ["补发" in m.subject for m in mail] == [True, True, False]
    # each reports its own day: the case of 3月1日 is new only in the digest of 3月2日
    wang = [m for m in digest_mail(dbsession) if m.recipients.startswith("王强")]
    assert ["新收 1 件" in m.subject for m in wang] == [False, False, True]


def test_a_digest_sent_by_hand_is_not_sent_again_by_the_scheduler(dbsession, sender, city, clock):
    with savepoints(dbsession)() as session:
        report = sender.daily(session, PERIOD, now=clock.now(), leader_ids=[city.li.id])
        session.commit()
    assert (report.queued, report.already_sent) == (1, 0)
    [daily, _weekly] = sender.run_due(savepoints(dbsession), clock.now())
    assert (daily.queued, daily.already_sent) == (2, 1)
    assert len([m for m in digest_mail(dbsession) if "li@" in m.recipients]) == 1


def test_a_dry_run_queues_nothing(dbsession, sender, city, clock):
    report = sender.daily(dbsession, PERIOD, now=clock.now(), dry_run=True)
    assert report.queued == 0
    assert [p.to for p in report.previews] == [
        "王强 <wang@example.gov.cn>",
        "陈秘书 <chen.sec@example.gov.cn>",
        "李敏 <li@example.gov.cn>",
    ]
    assert "营业执照变更审批慢" in report.previews[0].rendered.text
    assert digest_mail(dbsession) == []


def test_an_empty_day_is_one_line_or_nothing(dbsession, settings, clock, city):
    oneline = make_sender(settings, clock)
    [li] = [
        p
        for p in oneline.daily(dbsession, PERIOD, now=clock.now(), dry_run=True).previews
        if "li@" in p.to
    ]
    assert "无新增" in li.rendered.subject
    assert len(li.rendered.text.strip().splitlines()) == 1

    skip = make_sender(settings, clock, **{"qzt.digests.empty_daily": "skip"})
    report = skip.daily(dbsession, PERIOD, now=clock.now())
    assert (report.queued, report.skipped_empty) == (2, 1)
    assert not [m for m in digest_mail(dbsession) if "li@" in m.recipients]
    with pytest.raises(ValueError, match="empty_daily"):
        make_sender(settings, clock, **{"qzt.digests.empty_daily": "maybe"})


def test_a_leader_without_an_address_is_reported_not_mailed(dbsession, sender, city, clock):
    city.li.email = ""
    dbsession.flush()
    report = sender.daily(dbsession, PERIOD, now=clock.now())
    assert report.no_address == ["李敏"]
    assert report.queued == 2
