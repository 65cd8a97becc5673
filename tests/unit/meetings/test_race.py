"""100 parallel requests for one slot on the session database (SQLite in CI's first
pass, PostgreSQL in its second): exactly one booking, 99 "slot taken" answers.

The race commits (each request is its own transaction, as in production) and removes
its rows afterwards; see bench/booking_race.py, which also prints the timing.
"""

from __future__ import annotations

import pytest

from bench.booking_race import run_cap_race, run_race


@pytest.mark.parametrize("db_only", [False, True], ids=["with-checks", "database-alone"])
def test_one_hundred_requests_one_booking(app, engine, db_only):
    result = run_race(app.registry, engine, n=100, db_only=db_only)
    assert result.errors == []
    assert (result.bookings, result.conflicts) == (1, 99)
    assert result.rows_in_db == 1
    if db_only:
        # Nothing but the exclusion constraint / trigger refused the 99 losers.
        assert result.refused_by_database == 99


def test_the_daily_cap_holds_when_requests_for_different_slots_race(app, engine):
    # No two of these overlap, so the exclusion constraint is no help: only the cap
    # counted while the others wait (an advisory lock per head on PostgreSQL, the
    # single writer on SQLite) keeps the day at two.
    result = run_cap_race(app.registry, engine, slots=12, cap=2)
    assert result.outcomes == {"booked": 2, "day_full": 10}
    assert result.rows_in_db == 2
