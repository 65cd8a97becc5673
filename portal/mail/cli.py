"""``qzt mail …``: drain the outbox by hand or from cron, see what waits, retry."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select, update

from portal.clock import SystemClock


def cmd_send(args: argparse.Namespace) -> int:
    from portal.cli import load_settings
    from portal.db import make_engine, make_session_factory
    from portal.mail import build_sender

    settings = load_settings(args.ini)
    engine = make_engine(settings)
    try:
        sender = build_sender(settings, make_session_factory(engine))
        report = sender.run(max_passes=args.passes)
    finally:
        engine.dispose()
    print(f"{sender.transport.name}: {report.summary()}")
    for line in report.errors[:20]:
        print("  ", line)
    return 0 if not (report.retrying or report.failed) else 1


def cmd_status(args: argparse.Namespace) -> int:
    from portal.cli import db_session, load_settings
    from portal.mail.delivery import counts
    from portal.mail.models import FAILED, OutboxMail

    settings = load_settings(args.ini)
    with db_session(settings) as db:
        found = counts(db)
        print(" ".join(f"{state}={n}" for state, n in found.items()))
        failed = db.execute(
            select(OutboxMail.id, OutboxMail.recipients, OutboxMail.subject, OutboxMail.last_error)
            .where(OutboxMail.state == FAILED)
            .order_by(OutboxMail.id.desc())
            .limit(args.show)
        ).all()
        for mail_id, recipients, subject, error in failed:
            print(f"  #{mail_id} {recipients} «{subject}»: {error}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from portal.cli import db_session, load_settings
    from portal.mail.delivery import retry_now
    from portal.mail.models import FAILED, QUEUED, OutboxMail

    settings = load_settings(args.ini)
    now = SystemClock().now()
    with db_session(settings) as db:
        if args.failed:
            result: Any = db.execute(
                update(OutboxMail)
                .where(OutboxMail.state == FAILED)
                .values(state=QUEUED, next_attempt_at=now)
            )
            done = result.rowcount
        else:
            done = sum(retry_now(db, mail_id, now) for mail_id in args.ids)
    print(f"{done} messages queued for the next pass")
    return 0 if done or args.failed else 1


def register(sub: Any) -> None:
    mail = sub.add_parser("mail", help="the mail outbox: send, status, retry")
    commands = mail.add_subparsers(dest="mail_command", required=True)
    send = commands.add_parser("send", help="send what is due now (the scheduler's job, once)")
    send.add_argument("--passes", type=int, default=100, help="most batches to send")
    send.set_defaults(func=cmd_send)
    status = commands.add_parser("status", help="messages per state, the latest failures")
    status.add_argument("--show", type=int, default=10, help="failed messages to list")
    status.set_defaults(func=cmd_status)
    retry = commands.add_parser("retry", help="send failed or waiting messages on the next pass")
    retry.add_argument("ids", nargs="*", type=int, help="outbox ids")
    retry.add_argument("--failed", action="store_true", help="every failed message")
    retry.set_defaults(func=cmd_retry)
