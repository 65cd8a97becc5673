"""Fixtures of the booking tests: factories bound to the test session, the service."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories_meetings
from tests.unit.meetings import mailparse


@pytest.fixture(autouse=True)
def _bind_meeting_factories(request: pytest.FixtureRequest) -> None:
    if "dbsession" in request.fixturenames:
        db = request.getfixturevalue("dbsession")
        factories_meetings.bind(db)
        mailparse.mark(db)


@pytest.fixture
def svc(app: Any, dbsession: Any, clock: Any) -> Any:
    from portal.meetings import make_service

    return make_service(app.registry, dbsession, clock)
