"""N parallel booking requests for one head's one slot: exactly one must win.

    .venv/bin/python bench/booking_race.py                       # PostgreSQL test_booking
    .venv/bin/python bench/booking_race.py --url sqlite:////tmp/race.sqlite --n 100

Each request is what the booking page does: its own session and transaction, the
service's rule checks, the INSERT, the mail queued in the same transaction, commit.
All N threads are released together by a barrier. The only thing that keeps two of
them from both booking is the database (the PostgreSQL exclusion constraint or the
SQLite trigger, see portal/meetings/models.py); the answers must be one booking and
N-1 "slot taken".

On SQLite a writer that finds another one mid-commit gets "database is locked"; the
request is then run again from the start (what pyramid_retry does for PostgreSQL's
serialization failures) and the retries are counted.

``run_race(registry, engine, n)`` is imported by the test suite
(tests/unit/meetings/test_race.py) and by bench/video.py, which prints the same
``race bookings=… conflicts=…`` line. It commits its fixtures and removes them again.
Baseline printed beside the race: the same request alone, uncontended.

Then the cap race: 12 requests at once for 12 different, non-overlapping slots of one
day whose daily cap is 2; exactly 2 must get in, 10 must hear "day full".
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

# Run as a script, bench/ comes first on sys.path and bench/portal.py would shadow
# the portal package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from alembic import command  # noqa: E402
from sqlalchemy import delete, func, select, update  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from portal import main as portal_main  # noqa: E402
from portal import settings as settings_mod  # noqa: E402
from portal.accounts.models import Enterprise, User  # noqa: E402
from portal.cli import alembic_config  # noqa: E402
from portal.clock import FrozenClock  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.departments.models import Department  # noqa: E402
from portal.mail.models import OutboxMail  # noqa: E402
from portal.meetings import make_service  # noqa: E402
from portal.meetings.interfaces import BookingError, SlotTaken  # noqa: E402
from portal.meetings.models import (  # noqa: E402
    ACTIVE_STATES,
    Booking,
    BookingState,
    SlotRules,
    WeeklyAvailability,
)
from portal.meetings.slots import local_date  # noqa: E402
from portal.roles import Role  # noqa: E402

#: a Monday 09:30 in Beijing: the race's frozen "now" (the holiday calendar knows 2026)
RACE_NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
MAX_ATTEMPTS = 50
#: not an argon2 hash: the race's users can never log in
NO_LOGIN = "!"


@dataclass
class RaceResult:
    n: int
    bookings: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    #: conflicts the INSERT itself hit (the rest were seen by the rule checks first)
    refused_by_database: int = 0
    wall_ms: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    single_ms: float = 0.0  # baseline: one uncontended request
    database: str = ""
    db_only: bool = False
    rows_in_db: int = 0  # active bookings of the head after the race, counted again

    @property
    def ok(self) -> bool:
        return (
            self.bookings == 1
            and self.conflicts == self.n - 1
            and not self.errors
            and self.rows_in_db == 1
        )

    def line(self) -> str:
        return f"race bookings={self.bookings} conflicts={self.conflicts}"

    def details(self) -> str:
        lat = sorted(self.latencies_ms) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"race db={self.database} db_only={self.db_only} n={self.n} wall_ms={self.wall_ms:.0f} "
            f"p50_ms={statistics.median(lat):.0f} p99_ms={p99:.0f} retries={self.retries} "
            f"refused_by_database={self.refused_by_database} "
            f"errors={len(self.errors)} rows_in_db={self.rows_in_db} "
            f"| baseline single_request_ms={self.single_ms:.1f}"
        )


@dataclass
class Fixture:
    department_id: int
    head_id: int
    enterprise_id: int
    user_ids: list[int]
    tag: str


def setup_fixture(
    engine: Engine, n: int, now: datetime, daily_cap: int = 8, hours: tuple[int, int] = (9, 12)
) -> Fixture:
    """Commit a department, its head (weekdays, ``hours``) and ``n + 1`` enterprise users."""

    tag = secrets.token_hex(4)
    with Session(engine) as db, db.begin():
        department = Department(
            code=f"race{tag}",
            name=f"抢约测试局{tag}",
            short_name=f"抢约{tag}",
            category="经济发展",
            responsibilities="压测",
        )
        enterprise = Enterprise(
            name=f"抢约测试企业{tag}",
            uscc=f"91RACE{tag}00000"[:18],
            industry="C",
            contact_person="测试",
            contact_phone="13800000000",
            created_at=now,
        )
        db.add_all([department, enterprise])
        db.flush()
        head = User(
            login=f"racehead{tag}",
            email=f"racehead{tag}@example.gov.cn",
            display_name="抢约局长",
            password_hash=NO_LOGIN,
            department_id=department.id,
            created_at=now,
        )
        head.set_roles({Role.HEAD})
        users = [
            User(
                login=f"race{tag}u{i}",
                email=f"race{tag}u{i}@example.com",
                display_name=f"企业用户{i}",
                password_hash=NO_LOGIN,
                enterprise_id=enterprise.id,
                created_at=now,
            )
            for i in range(n + 1)
        ]
        for user in users:
            user.set_roles({Role.ENTERPRISE})
        db.add(head)
        db.add_all(users)
        db.flush()
        db.add(
            SlotRules(
                department_id=department.id,
                length_minutes=30,
                interval_minutes=30,
                buffer_before_minutes=0,
                buffer_after_minutes=10,
                min_notice_minutes=60,
                horizon_days=30,
                daily_cap=daily_cap,
            )
        )
        db.add_all(
            WeeklyAvailability(
                head_id=head.id,
                weekday=d,
                start_time=clock_time(hours[0]),
                end_time=clock_time(hours[1]),
            )
            for d in range(5)
        )
        return Fixture(department.id, head.id, enterprise.id, [u.id for u in users], tag)


def cleanup_fixture(engine: Engine, fx: Fixture) -> None:
    """Remove what :func:`setup_fixture` made, with the bookings and their mail."""

    with Session(engine) as db, db.begin():
        ids = list(db.scalars(select(Booking.id).where(Booking.head_id == fx.head_id)))
        for booking_id in ids:
            db.execute(
                delete(OutboxMail).where(
                    OutboxMail.dedupe_key.like(f"meetings:booking:{booking_id}:%")
                )
            )
        db.execute(delete(Booking).where(Booking.head_id == fx.head_id))
        db.execute(delete(User).where(User.id.in_([fx.head_id, *fx.user_ids])))
        db.execute(delete(Enterprise).where(Enterprise.id == fx.enterprise_id))
        db.execute(delete(Department).where(Department.id == fx.department_id))


def _attempt(
    registry: Any,
    engine: Engine,
    clock: Any,
    user_id: int,
    head_id: int,
    start: datetime,
    db_only: bool = False,
) -> str:
    """One booking request in its own transaction: 'booked', 'taken' or 'retry'."""

    try:
        with Session(engine, expire_on_commit=False) as db, db.begin():
            svc = make_service(registry, db, clock)
            svc.check_held = not db_only
            user, head = db.get(User, user_id), db.get(User, head_id)
            svc.request(user, head, start, "抢约测试：同一时段")
        return "booked"
    except SlotTaken as taken:
        return "taken-by-database" if taken.by_database else "taken"
    except BookingError as refused:
        return refused.code  # e.g. "day_full" in the cap race
    except OperationalError as exc:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            return "retry"
        raise


def _request(
    registry: Any,
    engine: Engine,
    clock: Any,
    user_id: int,
    head_id: int,
    start: datetime,
    db_only: bool = False,
) -> tuple[str, int]:
    for attempt in range(MAX_ATTEMPTS):
        outcome = _attempt(registry, engine, clock, user_id, head_id, start, db_only)
        if outcome != "retry":
            return outcome, attempt
        time.sleep(0.002 * (attempt + 1))
    return "gave-up", MAX_ATTEMPTS


def _first_slot(registry: Any, engine: Engine, clock: Any, head_id: int, day: date) -> datetime:

    with Session(engine) as db, db.begin():
        head = db.get(User, head_id)
        found = make_service(registry, db, clock).free_slots(head, day, day + timedelta(days=7))
        return found[0].starts_at


def _count_active(engine: Engine, head_id: int) -> int:

    with Session(engine) as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(Booking)
                .where(
                    Booking.head_id == head_id,
                    Booking.state.in_([s.value for s in ACTIVE_STATES]),
                )
            )
        )


def run_race(
    registry: Any,
    engine: Engine,
    n: int = 100,
    now: datetime = RACE_NOW,
    db_only: bool = False,
) -> RaceResult:
    """Race ``n`` requests for one slot on ``engine``; returns the tally.

    ``db_only`` switches off the service's own "held time" check, so every loser
    must be refused by the INSERT: the database alone keeps the slot single.
    """

    clock = FrozenClock(now)
    result = RaceResult(n=n, database=engine.dialect.name, db_only=db_only)
    fx = setup_fixture(engine, n, now)
    try:
        # Baseline: the same request alone (a different slot, by the spare user).
        slot = _first_slot(registry, engine, clock, fx.head_id, local_date(now))
        spare = slot + timedelta(days=1)
        began = time.perf_counter()
        outcome, _ = _request(registry, engine, clock, fx.user_ids[-1], fx.head_id, spare)
        result.single_ms = (time.perf_counter() - began) * 1000
        if outcome != "booked":
            result.errors.append(f"baseline request: {outcome}")
        _release_spare(engine, fx.head_id, spare)

        barrier = threading.Barrier(n)
        lock = threading.Lock()

        def one(user_id: int) -> None:
            barrier.wait()
            began = time.perf_counter()
            try:
                outcome, retries = _request(
                    registry, engine, clock, user_id, fx.head_id, slot, db_only
                )
            except Exception as exc:  # counted and shown, never hidden
                outcome, retries = f"error: {exc!r}"[:300], 0
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                result.retries += retries
                if outcome == "booked":
                    result.bookings += 1
                elif outcome in ("taken", "taken-by-database"):
                    result.conflicts += 1
                    result.refused_by_database += outcome == "taken-by-database"
                else:
                    result.errors.append(outcome)

        threads = [threading.Thread(target=one, args=(uid,)) for uid in fx.user_ids[:n]]
        result.wall_ms = _run_all(threads)
        result.rows_in_db = _count_active(engine, fx.head_id)
    finally:
        cleanup_fixture(engine, fx)
    return result


def _run_all(threads: list[threading.Thread]) -> float:
    """Start the threads (they meet at their barrier) and wait for all; wall ms."""
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - began) * 1000


@dataclass
class CapRaceResult:
    slots: int
    cap: int
    outcomes: dict[str, int] = field(default_factory=dict)
    rows_in_db: int = 0
    wall_ms: float = 0.0

    @property
    def ok(self) -> bool:
        booked = self.outcomes.get("booked", 0)
        full = self.outcomes.get("day_full", 0)
        return booked == self.cap == self.rows_in_db and booked + full == self.slots

    def line(self) -> str:
        return (
            f"cap race slots={self.slots} cap={self.cap} "
            f"bookings={self.outcomes.get('booked', 0)} "
            f"day_full={self.outcomes.get('day_full', 0)} rows_in_db={self.rows_in_db} "
            f"other={sum(v for k, v in self.outcomes.items() if k not in ('booked', 'day_full'))} "
            f"wall_ms={self.wall_ms:.0f}"
        )


def run_cap_race(
    registry: Any, engine: Engine, slots: int = 12, cap: int = 2, now: datetime = RACE_NOW
) -> CapRaceResult:
    """``slots`` requests at once for *different* free slots of one head's one day whose
    daily cap is ``cap``: no two overlap, so only the cap can refuse, and exactly
    ``cap`` must get in (a count checked before the insert would let all of them)."""

    clock = FrozenClock(now)
    result = CapRaceResult(slots=slots, cap=cap)
    # slots an hour apart from 08:00: none overlaps another's buffers
    fx = setup_fixture(engine, slots, now, daily_cap=cap, hours=(8, 8 + slots))
    try:
        day = local_date(now) + timedelta(days=1)
        first = _first_slot(registry, engine, clock, fx.head_id, day)
        starts = [first + timedelta(hours=i) for i in range(slots)]
        barrier = threading.Barrier(slots)
        lock = threading.Lock()

        def one(user_id: int, start: datetime) -> None:
            barrier.wait()
            try:
                outcome, _retries = _request(registry, engine, clock, user_id, fx.head_id, start)
            except Exception as exc:  # counted and shown, never hidden
                outcome = f"error: {exc!r}"[:300]
            with lock:
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1

        threads = [
            threading.Thread(target=one, args=(uid, start))
            for uid, start in zip(fx.user_ids, starts, strict=False)
        ]
        result.wall_ms = _run_all(threads)
        result.rows_in_db = _count_active(engine, fx.head_id)
    finally:
        cleanup_fixture(engine, fx)
    return result


def _release_spare(engine: Engine, head_id: int, start: datetime) -> None:

    with Session(engine) as db, db.begin():
        db.execute(
            update(Booking)
            .where(Booking.head_id == head_id, Booking.starts_at == start)
            .values(state=BookingState.CANCELLED.value)
        )


def build_app(url: str) -> tuple[Any, Engine]:
    """Migrate ``url`` and build the portal on it (no background jobs)."""

    settings = settings_mod.load(
        {"here": ROOT, "sqlalchemy.url": url, "qzt.jobs.enabled": "false"}, environ={}
    )
    engine = make_engine(settings)
    cfg = alembic_config(settings)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    app = portal_main({}, **{**settings, "qzt.engine": engine})
    return app, engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test_booking",
        help="database to race on (migrated to head first)",
    )
    parser.add_argument("--n", type=int, default=100, help="parallel requests")
    parser.add_argument(
        "--db-only",
        action="store_true",
        help="skip the service's held-time check: only the database refuses the losers",
    )
    args = parser.parse_args(argv)
    # 99 refusals are logged as warnings by design; the summary is what matters here.
    logging.getLogger("portal.meetings").setLevel(logging.ERROR)
    app, engine = build_app(args.url)
    result = run_race(app.registry, engine, args.n, db_only=args.db_only)
    print(result.line())
    print(result.details())
    for error in result.errors[:5]:
        print("  error:", error)
    cap = run_cap_race(app.registry, engine)
    print(cap.line())
    engine.dispose()
    return 0 if result.ok and cap.ok else 1


if __name__ == "__main__":
    sys.exit(main())
