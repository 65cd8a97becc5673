"""Periodic jobs: a scheduler in each portal process, one thread per job.

Domains register work with ``config.add_job(name, every, func)``; ``func(registry,
now)`` opens its own transaction. Jobs must be safe to run in several processes at
once and twice in a row (deadline checks, digests and reminders are idempotent by
construction: unique keys in the database), so the scheduler itself needs no
cross-process lock. ``qzt jobs`` runs every job once, by hand or from cron.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated
from pyramid.registry import Registry

log = logging.getLogger(__name__)

JobFunc = Callable[[Registry, datetime], Any]


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between runs
    func: JobFunc


def jobs_of(registry: Registry) -> dict[str, Job]:
    found: dict[str, Job] = registry.setdefault("qzt.jobs", {})
    return found


def add_job(config: Configurator, name: str, every: float, func: JobFunc) -> None:
    def register() -> None:
        jobs_of(config.registry)[name] = Job(name, every, func)

    config.action(("qzt.job", name), register)


def run_job(registry: Registry, job: Job) -> bool:
    """Run one job now; a failure is logged, never raised (the next run retries)."""
    from portal.clock import SystemClock
    from portal.db import sqlite_writer

    # The same clock the services get (tests freeze it through this setting).
    now = (registry.settings.get("qzt.clock") or SystemClock()).now()
    try:
        with sqlite_writer():  # jobs write: on SQLite they wait their turn at BEGIN
            job.func(registry, now)
    except Exception:
        log.exception("job %s failed", job.name)
        return False
    return True


def run_all(registry: Registry) -> dict[str, bool]:
    return {name: run_job(registry, job) for name, job in sorted(jobs_of(registry).items())}


class Scheduler:
    """Runs each job every ``job.every`` seconds until ``stop``, each job in a thread
    of its own, so a long digest run never holds up mail delivery."""

    def __init__(self, registry: Registry, tick: float = 1.0) -> None:
        self.registry = registry
        self.tick = tick
        self._stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, job: Job) -> None:
        while not self._stop_event.is_set():
            run_job(self.registry, job)
            self._stop_event.wait(max(job.every, self.tick))

    def start(self) -> None:
        for name, job in sorted(jobs_of(self.registry).items()):
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"qzt-job-{name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop_event.set()
        for thread in self._threads:
            thread.join(timeout)


def cmd_jobs(args: Any) -> int:
    """``qzt jobs``: run every job (or the named ones) once, then exit (cron)."""
    from portal import main
    from portal.cli import load_settings

    settings = load_settings(args.ini)
    settings["qzt.jobs.enabled"] = False  # no scheduler thread in a one-shot command
    registry = main({}, **settings).registry
    found = jobs_of(registry)
    unknown = set(args.names) - set(found)
    if unknown:
        print("unknown jobs:", ", ".join(sorted(unknown)), "; known:", ", ".join(sorted(found)))
        return 2
    ok = True
    for name in sorted(args.names or found):
        done = run_job(registry, found[name])
        ok = ok and done
        print(f"{name}: {'ok' if done else 'failed (see the log)'}")
    return 0 if ok else 1


def register_cli(sub: Any) -> None:
    p = sub.add_parser("jobs", help="run the periodic jobs once (cron, or by hand)")
    p.add_argument("names", nargs="*", help="only these jobs (default: all)")
    p.set_defaults(func=cmd_jobs)


def includeme(config: Configurator) -> None:
    config.add_directive("add_job", add_job)
    settings = config.get_settings()

    def on_created(event: ApplicationCreated) -> None:
        if settings.get("qzt.jobs.enabled"):
            scheduler = Scheduler(event.app.registry)
            event.app.registry["qzt.scheduler"] = scheduler
            scheduler.start()

    config.add_subscriber(on_created, ApplicationCreated)
