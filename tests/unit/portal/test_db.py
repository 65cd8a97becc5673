"""portal.db on SQLite: which request transactions take the write lock up front, and why.

A page view reads in a deferred transaction; if another connection commits before
it writes (a session touch, a popped flash), SQLite refuses the write at once, since a
WAL snapshot cannot be upgraded. pyramid_retry then runs the request again, and that
attempt must take the write lock first so that it waits instead of failing again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import transaction
from pyramid import testing
from pyramid.registry import Registry
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from portal.db import _dbsession, make_engine, make_session_factory, sqlite_writer
from portal.jobs import Job, run_job


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (1, 0)"))
    yield engine
    engine.dispose()


def _request(engine, method: str, attempt: int | None = None):
    request = testing.DummyRequest(method=method)
    request.registry = Registry("test")
    request.registry["dbsession_factory"] = make_session_factory(engine)
    request.tm = transaction.TransactionManager(explicit=True)
    request.tm.begin()
    if attempt is not None:
        request.environ["retry.attempt"] = attempt
    return request


def _bump_elsewhere(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))


def test_a_first_get_that_writes_after_another_commit_is_refused_at_once(engine):
    # The situation the retry exists for: read, someone else commits, then write.
    request = _request(engine, "GET")
    session = _dbsession(request)
    session.execute(text("SELECT n FROM counter")).scalar_one()
    _bump_elsewhere(engine)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
    # At once, not after the 5 s busy timeout: waiting could not have helped.
    assert time.monotonic() - started < 1
    request.tm.abort()


def test_a_retried_get_takes_the_write_lock_and_waits_for_the_other_writer(engine):
    request = _request(engine, "GET", attempt=1)
    session = _dbsession(request)
    other = engine.connect()
    other.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))  # holds the lock

    def commit_later() -> None:
        time.sleep(0.3)
        other.commit()
        other.close()

    thread = threading.Thread(target=commit_later)
    thread.start()
    started = time.monotonic()
    before = session.execute(text("SELECT n FROM counter")).scalar_one()
    waited = time.monotonic() - started
    bumper = threading.Thread(target=_bump_elsewhere, args=(engine,))
    bumper.start()  # must now wait for *this* transaction
    session.execute(text("UPDATE counter SET n = n + 10 WHERE id = 1"))
    mark_changed(session)
    request.tm.commit()
    thread.join()
    bumper.join()
    assert before == 1  # it began after the other writer committed
    assert waited >= 0.2
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 12


@pytest.mark.parametrize(
    ("method", "attempt", "immediate"),
    [
        ("GET", None, False),
        ("HEAD", 0, False),
        ("GET", 1, True),
        ("POST", None, True),
        ("POST", 2, True),
    ],
)
def test_which_requests_take_the_write_lock_first(engine, method, attempt, immediate):
    request = _request(engine, method, attempt)
    session = _dbsession(request)
    options = session.get_bind().get_execution_options()
    assert bool(options.get("qzt_sqlite_immediate")) is immediate
    request.tm.abort()


def _write_lock_is_free(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def test_background_writers_take_the_write_lock_at_begin(engine, tmp_path):
    path = tmp_path / "db.sqlite"
    with Session(engine) as reader:
        reader.execute(text("SELECT n FROM counter")).scalar_one()
        assert _write_lock_is_free(path)  # a reader holds nothing back
    with sqlite_writer(), Session(engine) as job:
        job.execute(text("SELECT n FROM counter")).scalar_one()
        assert not _write_lock_is_free(path)  # a job's transaction waits for nobody later
        job.execute(text("UPDATE counter SET n = 5 WHERE id = 1"))
        job.commit()
    assert _write_lock_is_free(path)


def test_jobs_run_as_background_writers(engine, tmp_path):
    seen: list[bool] = []

    def job(registry, now) -> None:
        with Session(engine) as db:
            db.execute(text("SELECT 1"))
            seen.append(not _write_lock_is_free(tmp_path / "db.sqlite"))

    registry = Registry("test")
    registry.settings = {}
    assert run_job(registry, Job("probe", 60, job))
    assert seen == [True]
