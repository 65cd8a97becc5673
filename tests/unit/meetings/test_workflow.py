"""The booking state machine as data: what each state allows, and to whom."""

from __future__ import annotations

import pytest

from portal.meetings.models import ACTIVE_STATES, FINAL_STATES, BookingState, Side
from portal.meetings.workflow import STEPS, TRANSITIONS, actions_for, step_for

S = BookingState


def test_the_map_is_explicit_and_final_states_lead_nowhere():
    assert set(TRANSITIONS) == set(BookingState)
    for state in FINAL_STATES:
        assert TRANSITIONS[state] == {}
    assert {s.source for s in STEPS} == set(ACTIVE_STATES)


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        (S.REQUESTED, "confirm", S.CONFIRMED),
        (S.REQUESTED, "decline", S.DECLINED),
        (S.REQUESTED, "reschedule", S.RESCHEDULED),
        (S.REQUESTED, "cancel", S.CANCELLED),
        (S.CONFIRMED, "reschedule", S.RESCHEDULED),
        (S.CONFIRMED, "cancel", S.CANCELLED),
        (S.CONFIRMED, "complete", S.COMPLETED),
        (S.CONFIRMED, "no_show", S.NO_SHOW),
        (S.RESCHEDULED, "confirm", S.CONFIRMED),
        (S.RESCHEDULED, "reschedule", S.RESCHEDULED),
        (S.RESCHEDULED, "cancel", S.CANCELLED),
    ],
)
def test_allowed_steps(state, action, target):
    step = step_for(state, action)
    assert step is not None
    assert step.target == target


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.REQUESTED, "complete"),
        (S.CONFIRMED, "confirm"),
        (S.CONFIRMED, "decline"),
        (S.DECLINED, "confirm"),
        (S.CANCELLED, "reschedule"),
        (S.COMPLETED, "cancel"),
        (S.NO_SHOW, "complete"),
        (S.REQUESTED, "explode"),
    ],
)
def test_refused_steps(state, action):
    assert step_for(state, action) is None


def test_who_may_do_what():
    assert actions_for(S.REQUESTED, Side.DEPARTMENT) == [
        "confirm",
        "decline",
        "reschedule",
        "cancel",
    ]
    assert actions_for(S.REQUESTED, Side.ENTERPRISE) == ["reschedule", "cancel"]
    assert actions_for(S.CONFIRMED, Side.ENTERPRISE) == ["reschedule", "cancel"]
    assert "complete" in actions_for(S.CONFIRMED, Side.DEPARTMENT)
    assert actions_for(S.CANCELLED, Side.DEPARTMENT) == []


def test_decline_needs_a_reason_and_outcomes_wait_for_the_start():
    assert step_for(S.REQUESTED, "decline").needs_reason
    assert not step_for(S.REQUESTED, "cancel").needs_reason
    assert step_for(S.CONFIRMED, "complete").after_start
    assert step_for(S.CONFIRMED, "no_show").after_start
    assert not step_for(S.CONFIRMED, "cancel").after_start
