"""视频交流预约: availability, slot rules, bookings (this package), and the meeting room
(``room*``, ``recording*``, ``minutes*``). See docs/meetings.md."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid_services import find_service_factory

from portal.clock import IClock, SystemClock
from portal.content.files import IFileStorage
from portal.mail.interfaces import IMailer
from portal.meetings.interfaces import IBookingService


def make_service(registry: Registry, db: Any, clock: Any, after_commit: Any = None) -> Any:
    """A BookingService over ``db``: for requests, jobs, scripts and benchmarks."""
    from portal.meetings.notify import localizers
    from portal.meetings.services import BookingService

    holder = SimpleNamespace(registry=registry)
    settings = registry.settings
    return BookingService(
        db,
        clock,
        find_service_factory(holder, IFileStorage)(None, None),
        find_service_factory(holder, IMailer)(None, None),
        secret=settings["qzt.meetings.link_secret"],
        public_url=settings["qzt.public_url"],
        max_upload=int(settings["qzt.upload.max_bytes"]),
        localizer=registry.setdefault("qzt.meetings.localizers", localizers(registry)),
        sender=settings["qzt.mail.sender"],
        after_commit=after_commit,
    )


def _booking_service(context: Any, request: Request) -> Any:
    def after_commit(fn: Any) -> None:
        request.tm.get().addAfterCommitHook(lambda ok: fn() if ok else None)

    return make_service(
        request.registry, request.dbsession, request.find_service(IClock), after_commit
    )


def reminder_job(registry: Registry, now: datetime) -> int:
    """Queue the reminders that are due, in a transaction of its own."""
    session = registry["dbsession_factory"]()
    try:
        with session.begin():
            clock = registry.settings.get("qzt.clock") or SystemClock()
            return int(make_service(registry, session, clock).send_reminders(now))
    finally:
        session.close()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    config.register_service_factory(_booking_service, IBookingService)
    config.add_job(
        "meetings.reminders", float(settings["qzt.meetings.reminder_every"]), reminder_job
    )
    config.scan("portal.meetings.views")
    config.scan("portal.meetings.desk")
    config.include("portal.meetings.room")  # the meeting room, minutes, recordings
