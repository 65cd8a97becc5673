"""Round-robin, capacity, queue position and wait estimate: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal.chat.routing import (
    DEFAULT_HANDLING_SECONDS,
    StaffLoad,
    capacity,
    estimated_wait,
    pick_staff,
    queue_position,
)

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def test_never_assigned_staff_go_first_in_id_order():
    loads = [StaffLoad(3, 0, None), StaffLoad(1, 0, T0), StaffLoad(2, 0, None)]
    assert pick_staff(loads, limit=3).user_id == 2


def test_the_least_recently_assigned_with_room_is_next():
    loads = [
        StaffLoad(1, 1, T0 + timedelta(minutes=2)),
        StaffLoad(2, 1, T0),
        StaffLoad(3, 1, T0 + timedelta(minutes=1)),
    ]
    assert pick_staff(loads, limit=3).user_id == 2


def test_staff_at_the_limit_are_skipped():
    loads = [StaffLoad(1, 3, None), StaffLoad(2, 2, T0)]
    assert pick_staff(loads, limit=3).user_id == 2
    assert pick_staff([StaffLoad(1, 3, None)], limit=3) is None
    assert pick_staff([], limit=3) is None


def test_rotation_visits_everyone_before_anyone_twice():
    loads = {i: StaffLoad(i, 0, None) for i in (1, 2, 3)}
    order = []
    for minute in range(6):
        pick = pick_staff(list(loads.values()), limit=10)
        assert pick is not None
        order.append(pick.user_id)
        loads[pick.user_id] = StaffLoad(
            pick.user_id, pick.open_chats + 1, T0 + timedelta(minutes=minute)
        )
    assert order == [1, 2, 3, 1, 2, 3]


@given(st.lists(st.integers(min_value=0, max_value=6), max_size=8), st.integers(1, 5))
def test_a_pick_always_has_room_and_none_means_full(opens, limit):
    loads = [StaffLoad(i, n, None) for i, n in enumerate(opens)]
    pick = pick_staff(loads, limit)
    if pick is None:
        assert capacity(loads, limit) == 0
    else:
        assert pick.open_chats < limit


def test_capacity_counts_free_slots():
    assert capacity([StaffLoad(1, 1, None), StaffLoad(2, 5, None)], limit=3) == 2


def test_queue_position_orders_by_arrival_then_id():
    waiting = [(7, T0 + timedelta(seconds=5)), (4, T0), (9, T0)]
    assert queue_position(waiting, 4) == 1
    assert queue_position(waiting, 9) == 2
    assert queue_position(waiting, 7) == 3
    assert queue_position(waiting, 1) is None


def test_wait_estimate_divides_handling_time_by_capacity():
    # two staff × 3 chats, 10-minute chats: a slot frees every 100 s on average
    assert estimated_wait(1, online_staff=2, limit=3, average_handling=600) == 100
    assert estimated_wait(3, online_staff=2, limit=3, average_handling=600) == 300


def test_wait_estimate_without_history_or_staff_uses_the_default():
    assert estimated_wait(1, online_staff=1, limit=1, average_handling=None) == (
        DEFAULT_HANDLING_SECONDS
    )
    assert estimated_wait(2, online_staff=0, limit=3, average_handling=60) == 120
