"""The booking state machine, declared as data.

::

    requested ──confirm──▶ confirmed ──complete──▶ completed
        │  └──decline──▶ declined          └──no_show──▶ no_show
        ├──reschedule──▶ rescheduled ──confirm──▶ confirmed
        └──cancel──────▶ cancelled    (rescheduled may also be declined, moved
                                       again, cancelled, completed or marked no-show)

A pending request (``requested``) and a moved booking (``rescheduled``) hold their
slot like a confirmed one. Who may take a step is part of the map: the department
(its head, or staff for the head) confirms, declines and records the outcome; either
side reschedules or cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.meetings.models import BookingState as S
from portal.meetings.models import Side


@dataclass(frozen=True)
class Step:
    action: str
    source: S
    target: S
    sides: frozenset[Side]
    needs_reason: bool = False
    #: may only happen once the meeting's start has passed
    after_start: bool = False


BOTH = frozenset(Side)
DEPT = frozenset({Side.DEPARTMENT})

STEPS: tuple[Step, ...] = (
    Step("confirm", S.REQUESTED, S.CONFIRMED, DEPT),
    Step("decline", S.REQUESTED, S.DECLINED, DEPT, needs_reason=True),
    Step("reschedule", S.REQUESTED, S.RESCHEDULED, BOTH),
    Step("cancel", S.REQUESTED, S.CANCELLED, BOTH),
    Step("reschedule", S.CONFIRMED, S.RESCHEDULED, BOTH),
    Step("cancel", S.CONFIRMED, S.CANCELLED, BOTH),
    Step("complete", S.CONFIRMED, S.COMPLETED, DEPT, after_start=True),
    Step("no_show", S.CONFIRMED, S.NO_SHOW, DEPT, after_start=True),
    Step("confirm", S.RESCHEDULED, S.CONFIRMED, DEPT),
    Step("decline", S.RESCHEDULED, S.DECLINED, DEPT, needs_reason=True),
    Step("reschedule", S.RESCHEDULED, S.RESCHEDULED, BOTH),
    Step("cancel", S.RESCHEDULED, S.CANCELLED, BOTH),
    Step("complete", S.RESCHEDULED, S.COMPLETED, DEPT, after_start=True),
    Step("no_show", S.RESCHEDULED, S.NO_SHOW, DEPT, after_start=True),
)

#: state → action → step: the explicit transition map
TRANSITIONS: dict[S, dict[str, Step]] = {state: {} for state in S}
for _step in STEPS:
    TRANSITIONS[_step.source][_step.action] = _step

ACTIONS = frozenset(s.action for s in STEPS)


def step_for(state: str, action: str) -> Step | None:
    return TRANSITIONS.get(S(state), {}).get(action)


def actions_for(state: str, side: Side) -> list[str]:
    """What ``side`` may do to a booking in ``state``, in the map's order."""
    return [a for a, step in TRANSITIONS.get(S(state), {}).items() if side in step.sides]
