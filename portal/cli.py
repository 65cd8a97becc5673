"""``qzt``: the portal's command line (migrate, seed, import, housekeeping)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from portal import settings as settings_mod
from portal.db import make_engine, make_session_factory, transaction

DEFAULT_INI = "development.ini"


def load_settings(ini: str) -> dict[str, Any]:
    from pyramid.paster import get_appsettings

    ini = os.path.abspath(ini)
    raw = dict(get_appsettings(ini))
    raw.setdefault("here", os.path.dirname(ini))
    return settings_mod.load(raw)


@contextmanager
def db_session(settings: dict[str, Any]) -> Iterator[Session]:
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def alembic_config(settings: dict[str, Any]) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "portal:alembic")
    cfg.set_main_option("sqlalchemy.url", settings["sqlalchemy.url"].replace("%", "%%"))
    return cfg


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command

    settings = load_settings(args.ini)
    url = settings["sqlalchemy.url"]
    if url.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(url[len("sqlite:///") :]) or ".", exist_ok=True)
    command.upgrade(alembic_config(settings), args.revision)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from portal.sampledata import load_sample_data

    settings = load_settings(args.ini)
    with db_session(settings) as db:
        created = load_sample_data(db, settings, force=args.force)
    print("sample data loaded" if created else "sample data already present: nothing to do")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from portal.content.importer import import_file
    from portal.searching import build_indexer

    settings = load_settings(args.ini)
    indexer = build_indexer(settings)
    with db_session(settings) as db:
        report = import_file(
            db, settings, args.file, section=args.section, publish=not args.draft, limit=args.limit
        )
        # Outbox rows in the import's own transaction: if indexing below is cut
        # short, the running portal finishes it (it drains the outbox).
        for content_id in report.changed_ids:
            indexer.enqueue(db, content_id)
        bind = db.get_bind()
    if report.changed_ids:
        # Whatever an after-commit hook of this process has not indexed yet.
        indexer.drain(bind, report.changed_ids)
    print(report.summary())
    print(f"search index updated for {len(report.changed_ids)} items")
    for line in report.rejections[: args.show_rejected]:
        print("  rejected:", line)
    return 0 if report.ok else 1


def cmd_purge_sessions(args: argparse.Namespace) -> int:
    from portal.clock import SystemClock
    from portal.sessions import purge_expired

    settings = load_settings(args.ini)
    with db_session(settings) as db:
        count = purge_expired(db, settings, SystemClock().now())
    print(f"{count} expired sessions removed")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    import portal.models  # noqa: F401  (a command has no app to configure every mapper first)
    from portal.searching import build_indexer

    settings = load_settings(args.ini)
    indexer = build_indexer(settings)
    with db_session(settings) as db:
        count = indexer.rebuild(db)
    print(f"search index rebuilt: {count} published items")
    return 0


def cmd_demo_accounts(args: argparse.Namespace) -> int:
    from portal.sampledata import DEMO_ACCOUNTS, DEMO_PASSWORD

    print(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for login, role_label in DEMO_ACCOUNTS:
        print(f"  {login:<16} {role_label}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qzt", description="企政通 command line")
    p.add_argument("--ini", default=os.environ.get("QZT_INI", DEFAULT_INI), help="settings file")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("migrate", help="bring the database schema up to date")
    m.add_argument("revision", nargs="?", default="head")
    m.set_defaults(func=cmd_migrate)

    s = sub.add_parser("seed", help="load the sample data (once)")
    s.add_argument("--force", action="store_true", help="load even if data exists")
    s.set_defaults(func=cmd_seed)

    i = sub.add_parser("import", help="import documents from a JSON Lines file")
    i.add_argument("file")
    i.add_argument(
        "--section",
        required=True,
        choices=["policy", "regulation", "industry", "service", "interpretation"],
    )
    i.add_argument("--draft", action="store_true", help="import as drafts instead of published")
    i.add_argument("--limit", type=int, default=None, help="stop after N records")
    i.add_argument("--show-rejected", type=int, default=20, help="rejections to list")
    i.set_defaults(func=cmd_import)

    ps = sub.add_parser("purge-sessions", help="delete expired sessions")
    ps.set_defaults(func=cmd_purge_sessions)

    r = sub.add_parser("reindex", help="rebuild the search index from the database")
    r.set_defaults(func=cmd_reindex)

    d = sub.add_parser("demo-accounts", help="list the demo accounts")
    d.set_defaults(func=cmd_demo_accounts)

    from portal import jobs
    from portal.digests import cli as digest_cli
    from portal.mail import cli as mail_cli

    jobs.register_cli(sub)  # qzt jobs
    mail_cli.register(sub)  # qzt mail send|status|retry
    digest_cli.register(sub)  # qzt digest daily|weekly|due
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
