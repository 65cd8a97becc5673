"""Queue the digests: who gets which, exactly once, and the periods the scheduler owes.

Exactly once per (kind, period, recipient): every message carries the outbox
``dedupe_key`` ``digest:<kind>:<period>:leader:<id>`` (a deputy's copy adds
``:copy:<hash of the address>``), queued in the transaction that builds it; the
unique constraint refuses a second one, whoever tries (a second scheduler tick, a
second process, ``qzt digest`` by hand). The Message-ID is derived from the same key,
so it is stable however often the digest is built.

The scheduler (``run_due``) sends, per kind, every period after the last one
recorded in ``digest_runs`` up to the one due now (at most ``catch_up_days`` back),
one transaction per period that starts by inserting that period's ``DigestRun``:
a second process doing the same period waits on that insert and then finds it
taken, before building anything.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.db import transaction
from portal.digests import content
from portal.digests.content import Recipient
from portal.digests.models import DAILY, WEEKLY, DigestRun
from portal.digests.periods import Schedule
from portal.digests.render import Links, Rendered, render_daily, render_weekly
from portal.mail.compose import format_address
from portal.mail.interfaces import IMailer

log = logging.getLogger(__name__)

EMPTY_DAILY = ("oneline", "skip")


@dataclass
class Preview:
    to: str
    key: str
    rendered: Rendered


@dataclass
class RunReport:
    kind: str
    period: date
    queued: int = 0
    already_sent: int = 0
    skipped_empty: int = 0
    no_address: list[str] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.kind} {self.period}: queued={self.queued} already_sent={self.already_sent} "
            f"empty_skipped={self.skipped_empty}"
        )
        if self.no_address:
            text += f" no_address={','.join(self.no_address)}"
        return text


def dedupe_key(kind: str, period: date, leader_id: int, copy_to: str | None = None) -> str:
    key = f"digest:{kind}:{period.isoformat()}:leader:{leader_id}"
    if copy_to:
        key += ":copy:" + hashlib.sha256(copy_to.strip().lower().encode()).hexdigest()[:16]
    return key


class DigestSender:
    def __init__(
        self,
        mailer: IMailer,
        schedule: Schedule,
        links: Links,
        *,
        site: str,
        empty_daily: str = "oneline",
        list_limit: int = 10,
        locale: str = "zh_CN",
    ) -> None:
        if empty_daily not in EMPTY_DAILY:
            raise ValueError(f"qzt.digests.empty_daily must be one of {EMPTY_DAILY}")
        self.mailer = mailer
        self.schedule = schedule
        self.links = links
        self.site = site
        self.empty_daily = empty_daily
        self.list_limit = list_limit
        self.locale = locale

    # -- one period -------------------------------------------------------------------
    def _queue(
        self,
        session: Session,
        report: RunReport,
        recipient: Recipient,
        render: Callable[[bool], Rendered],
        dry_run: bool,
    ) -> None:
        targets = [(recipient.name, recipient.email, False)]
        if recipient.deputy_email:
            targets.append((recipient.deputy_name, recipient.deputy_email, True))
        for name, email, copy in targets:
            key = dedupe_key(
                report.kind, report.period, recipient.leader_id, email if copy else None
            )
            rendered = render(copy)
            to = format_address(name, email)
            if dry_run:
                report.previews.append(Preview(to, key, rendered))
                continue
            queued = self.mailer.queue(
                session,
                to=[to],
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                kind=f"digest.{report.kind}",
                dedupe_key=key,
                headers={
                    # RFC 3834: no vacation replies to a report
                    "Auto-Submitted": "auto-generated",
                    "X-Qzt-Digest": f"{report.kind} {report.period.isoformat()}",
                },
            )
            if queued is None:
                report.already_sent += 1
            else:
                report.queued += 1

    def daily(
        self,
        session: Session,
        period: date,
        *,
        now: datetime,
        dry_run: bool = False,
        leader_ids: Sequence[int] | None = None,
    ) -> RunReport:
        report = RunReport(DAILY, period)
        leaders = content.supervisors(session, leader_ids)
        digests = content.build_daily(
            session, self.schedule, period, limit=self.list_limit, leaders=leaders, now=now
        )
        for digest in digests:
            recipient = digest.recipient
            if not recipient.email:
                report.no_address.append(recipient.name)
                continue
            if digest.empty and self.empty_daily == "skip":
                report.skipped_empty += 1
                continue

            def render(copy: bool, digest: content.DailyDigest = digest) -> Rendered:
                return render_daily(
                    digest, self.links, site=self.site, locale=self.locale, copy=copy
                )

            self._queue(session, report, recipient, render, dry_run)
        return report

    def weekly(
        self, session: Session, period: date, *, now: datetime, dry_run: bool = False
    ) -> RunReport:
        report = RunReport(WEEKLY, period)
        readers = content.mayors(session)
        if not readers:
            return report
        named = content.deputies(session, [m.id for m in readers])
        digest = content.build_weekly(session, self.schedule, period, now=now)
        for mayor in readers:
            recipient = content.recipient_of(mayor, named.get(mayor.id))
            if not recipient.email:
                report.no_address.append(recipient.name)
                continue
            digest.recipient = recipient

            def render(copy: bool, digest: content.WeeklyDigest = digest) -> Rendered:
                return render_weekly(
                    digest, self.links, site=self.site, locale=self.locale, copy=copy
                )

            self._queue(session, report, recipient, render, dry_run)
        return report

    def run(
        self, session: Session, kind: str, period: date, *, now: datetime, dry_run: bool = False
    ) -> RunReport:
        if kind == DAILY:
            return self.daily(session, period, now=now, dry_run=dry_run)
        if kind == WEEKLY:
            return self.weekly(session, period, now=now, dry_run=dry_run)
        raise ValueError(kind)

    # -- what the scheduler owes ------------------------------------------------------------
    def run_due(self, session_factory: Callable[[], Session], now: datetime) -> list[RunReport]:
        reports = []
        for kind in (DAILY, WEEKLY):
            with transaction(session_factory) as session:
                last = session.scalar(
                    select(func.max(DigestRun.period)).where(DigestRun.kind == kind)
                )
            for period in self.schedule.pending(kind, now, last):
                with transaction(session_factory) as session:
                    run = DigestRun(kind=kind, period=period, queued=0, finished_at=now)
                    try:
                        with session.begin_nested():
                            session.add(run)
                    except IntegrityError:
                        log.info("digest %s %s: done by another process", kind, period)
                        continue
                    report = self.run(session, kind, period, now=now)
                    run.queued = report.queued
                reports.append(report)
                log.info("digest %s", report.summary())
        return reports

    def record(self, session: Session, kind: str, period: date, now: datetime, queued: int) -> None:
        """Note a period as done (``qzt digest`` by hand), if nobody did yet."""
        try:
            with session.begin_nested():
                session.add(DigestRun(kind=kind, period=period, queued=queued, finished_at=now))
        except IntegrityError:
            pass


def from_settings(
    settings: dict[str, Any], mailer: IMailer, case_url: Callable[[int], str]
) -> DigestSender:
    public_url = str(settings["qzt.public_url"]).rstrip("/")
    return DigestSender(
        mailer,
        Schedule.from_settings(settings),
        Links(public_url, case_url),
        site=settings["qzt.site_name"],
        empty_daily=settings["qzt.digests.empty_daily"],
        list_limit=settings["qzt.digests.list_limit"],
        locale=settings["pyramid.default_locale_name"],
    )
