"""The one clock. Store UTC, show Asia/Shanghai; tests swap the clock, not the datetime module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pyramid.config import Configurator
from zope.interface import Interface, implementer

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class IClock(Interface):
    def now() -> datetime:
        """Current time, timezone-aware, in UTC."""


@implementer(IClock)
class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@implementer(IClock)
class FrozenClock:
    """A clock that only moves when told to: for tests and replayable jobs."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)


def local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL_TZ)


def includeme(config: Configurator) -> None:
    clock = config.get_settings().get("qzt.clock") or SystemClock()
    config.register_service(clock, IClock)
