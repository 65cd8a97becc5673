"""Factories for bookings: a head with weekly availability, an enterprise user, a booking.

``bind`` follows tests.factories.bind; the ``dbsession`` fixture binds these too when
a meetings test module imports this file (see tests/unit/meetings/conftest.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from portal.meetings.models import (
    DEFAULT_RULES,
    AvailabilityOverride,
    Booking,
    BookingState,
    Side,
    SlotRules,
    WeeklyAvailability,
)
from portal.roles import Role
from tests import factories
from tests.timeline import now

__all__ = ["AvailabilityOverride", "Side", "SlotRules"]

_FACTORIES: list[type[SQLAlchemyModelFactory]] = []


def bind(session: Session) -> None:
    factories.bind(session)
    for f in _FACTORIES:
        f._meta.sqlalchemy_session = session


def _register(cls: Any) -> Any:
    _FACTORIES.append(cls)
    return cls


@_register
class SlotRulesFactory(factories.Base):
    class Meta:
        model = SlotRules

    length_minutes = DEFAULT_RULES["length_minutes"]
    interval_minutes = DEFAULT_RULES["interval_minutes"]
    buffer_before_minutes = 0
    buffer_after_minutes = 0
    min_notice_minutes = 60
    horizon_days = 30
    daily_cap = 8


@_register
class WeeklyFactory(factories.Base):
    class Meta:
        model = WeeklyAvailability

    weekday = 0
    start_time = time(9, 0)
    end_time = time(12, 0)


#: the default weekly pattern: Monday to Friday, 09:00-12:00 and 14:30-17:00
OFFICE_HOURS = ((time(9, 0), time(12, 0)), (time(14, 30), time(17, 0)))


def head(department: Any = None, weekly: Any = OFFICE_HOURS, **kw: Any) -> Any:
    """An active head of ``department`` (a new one if None) with weekday office hours."""
    department = department or factories.DepartmentFactory()
    user = factories.UserFactory(roles=[Role.HEAD], department=department, **kw)
    for weekday in range(5):
        for start, end in weekly:
            WeeklyFactory(head_id=user.id, weekday=weekday, start_time=start, end_time=end)
    return user


def staff(department: Any, **kw: Any) -> Any:
    return factories.UserFactory(roles=[Role.STAFF], department=department, **kw)


def enterprise_user(**kw: Any) -> Any:
    return factories.enterprise_user(**kw)


@_register
class BookingFactory(factories.Base):
    """A booking row written directly (no rules checked): for pages, reminders, the
    database constraint. Pass ``head`` and ``requester``."""

    class Meta:
        model = Booking
        exclude = ("head_user", "requester_user", "start")

    head_user: Any = None
    requester_user: Any = None
    start: datetime = factory.LazyFunction(lambda: now() + timedelta(days=1))

    uid = factory.LazyFunction(lambda: f"{uuid.uuid4()}@qzt-meetings")
    head_id = factory.LazyAttribute(lambda o: o.head_user.id)
    department_id = factory.LazyAttribute(lambda o: o.head_user.department_id)
    requester_id = factory.LazyAttribute(lambda o: o.requester_user.id)
    enterprise_id = factory.LazyAttribute(lambda o: o.requester_user.enterprise_id)
    topic = factory.Sequence(lambda n: f"项目落地咨询{n}")
    details = ""
    state = BookingState.CONFIRMED.value
    starts_at = factory.LazyAttribute(lambda o: o.start)
    ends_at = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=30))
    blocked_from = factory.LazyAttribute(lambda o: o.start)
    blocked_until = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=30))
    proposed_by = "enterprise"
    sequence = 0
    reason = ""
    created_at = factory.LazyFunction(now)
    updated_at = factory.LazyFunction(now)
