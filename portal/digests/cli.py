"""``qzt digest daily|weekly [--date D] [--dry-run]``: preview or send a digest by hand;
``qzt digest due``: what the scheduler would send now (catch-up included)."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from typing import Any

from portal.clock import SystemClock
from portal.digests.models import DAILY, WEEKLY


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _sender(settings: dict[str, Any]) -> Any:
    from portal.complaints.policy import CasePolicy
    from portal.digests.service import from_settings
    from portal.mail.outbox import OutboxMailer

    mailer = OutboxMailer(
        SystemClock(), sender=settings["qzt.mail.sender"], domain=settings["qzt.mail.domain"]
    )
    return from_settings(settings, mailer, CasePolicy.from_settings(settings).case_url)


def cmd_digest(args: argparse.Namespace) -> int:
    import portal.models  # noqa: F401  (every mapper configured, as in the app)
    from portal.cli import db_session, load_settings

    settings = load_settings(args.ini)
    sender = _sender(settings)
    schedule = sender.schedule
    now = SystemClock().now()
    kind = args.kind
    if args.date is None:
        period = schedule.latest_due(kind, now)
    elif kind == WEEKLY:
        period = args.date - timedelta(days=(args.date.weekday() - schedule.weekly_day) % 7)
    else:
        period = args.date
    with db_session(settings) as db:
        if kind == DAILY:
            report = sender.daily(db, period, now=now, dry_run=args.dry_run, leader_ids=args.leader)
        else:
            report = sender.weekly(db, period, now=now, dry_run=args.dry_run)
        # A period sent to everyone is done: the scheduler need not look at it again
        # (it would find every digest queued anyway). One sent to chosen leaders is not.
        if not args.dry_run and not getattr(args, "leader", None):
            sender.record(db, kind, period, now, report.queued)
    for preview in report.previews:
        print(f"To: {preview.to}\nSubject: {preview.rendered.subject}\nKey: {preview.key}\n")
        print(preview.rendered.html if args.html else preview.rendered.text)
        print("=" * 72)
    print(report.summary() + (" (dry run: nothing queued)" if args.dry_run else ""))
    if report.queued:
        print("queued in the outbox: the scheduler sends it, or run `qzt mail send`")
    return 0


def cmd_due(args: argparse.Namespace) -> int:
    import portal.models  # noqa: F401
    from portal.cli import load_settings
    from portal.db import make_engine, make_session_factory

    settings = load_settings(args.ini)
    engine = make_engine(settings)
    try:
        reports = _sender(settings).run_due(make_session_factory(engine), SystemClock().now())
    finally:
        engine.dispose()
    for report in reports:
        print(report.summary())
    if not reports:
        print("nothing due")
    return 0


def register(sub: Any) -> None:
    digest = sub.add_parser("digest", help="leaders' digests: preview, send by hand, catch up")
    commands = digest.add_subparsers(dest="digest_command", required=True)
    for kind, text in ((DAILY, "to each 分管领导"), (WEEKLY, "to the mayor")):
        p = commands.add_parser(kind, help=f"the {kind} digest {text}")
        p.add_argument(
            "--date",
            type=_date,
            default=None,
            help="the day it is for (daily: reports the day before; weekly: that week's send day)",
        )
        p.add_argument("--dry-run", action="store_true", help="print, queue nothing")
        p.add_argument("--html", action="store_true", help="with --dry-run: print the HTML part")
        if kind == DAILY:
            p.add_argument("--leader", type=int, action="append", help="only this leader id")
        p.set_defaults(func=cmd_digest, kind=kind)
    due = commands.add_parser("due", help="send what the scheduler owes now (catch-up)")
    due.set_defaults(func=cmd_due)
