"""The scheduler: every job in a thread of its own, failures logged not raised; and
the portal's own jobs (digests, then mail delivery) run through it on real commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.registry import Registry
from sqlalchemy import select

from portal.db import make_session_factory
from portal.jobs import Job, Scheduler, jobs_of, run_job
from portal.mail.models import SENT, OutboxMail
from tests import factories_digests as fd


def test_a_slow_job_does_not_hold_up_the_others_and_a_failing_one_is_only_logged(caplog):
    registry = Registry("test")
    registry.settings = {}
    release = threading.Event()
    fast_runs: list[Any] = []
    fast_ran_thrice = threading.Event()

    def slow(registry: Registry, now: Any) -> None:
        release.wait(30)

    def fast(registry: Registry, now: Any) -> None:
        fast_runs.append(now)
        if len(fast_runs) >= 3:
            fast_ran_thrice.set()

    def broken(registry: Registry, now: Any) -> None:
        raise RuntimeError("boom")

    jobs = jobs_of(registry)
    jobs["slow"] = Job("slow", 0.01, slow)
    jobs["fast"] = Job("fast", 0.01, fast)
    jobs["broken"] = Job("broken", 0.01, broken)
    scheduler = Scheduler(registry, tick=0.01)
    scheduler.start()
    try:
        # the slow job is still inside its first run while the fast one goes on
        assert fast_ran_thrice.wait(30)
    finally:
        release.set()
        scheduler.stop(timeout=30)
    assert all(not t.is_alive() for t in scheduler._threads)
    assert "job broken failed" in caplog.text
    assert run_job(registry, jobs["broken"]) is False
    assert run_job(registry, jobs["fast"]) is True


@pytest.fixture
def committed_city(engine: Any) -> Iterator[Any]:
    with fd.committed_city(engine) as city:
        yield city


def test_the_portal_jobs_send_the_days_digests_into_the_maildir(
    app, settings, engine, committed_city, clock
):
    jobs = jobs_of(app.registry)
    assert {"mail.deliver", "digests.send"} <= set(jobs)
    assert jobs["digests.send"].every == settings["qzt.digests.check_interval"]
    assert run_job(app.registry, jobs["digests.send"])
    assert run_job(app.registry, jobs["digests.send"])  # again: nothing more
    assert run_job(app.registry, jobs["mail.deliver"])
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(OutboxMail).where(OutboxMail.kind.like("digest.%"))).all()
    assert len(rows) == 4
    assert {r.state for r in rows} == {SENT}
    new = Path(settings["qzt.mail.maildir"]) / "new"
    stored = [path.read_bytes() for path in new.iterdir()]
    assert {r.raw for r in rows} <= set(stored)
