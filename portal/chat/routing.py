"""Routing and queue arithmetic, without a database or sockets.

Round-robin over the staff who are online *and* connected, skipping anyone at the
per-staff limit of open chats; the pointer is "who was assigned least recently", kept
in the database (``StaffPresence.last_assigned_at``) so several realtime processes
rotate through the same list. When everyone is at the limit, the conversation waits;
its position is its rank by ``queued_at`` and the estimated wait assumes the
department frees a slot every ``average handling time / capacity`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

#: used for the wait estimate until a department has closed conversations to learn from
DEFAULT_HANDLING_SECONDS = 300


@dataclass(frozen=True)
class StaffLoad:
    user_id: int
    open_chats: int
    last_assigned_at: datetime | None


def pick_staff(candidates: Sequence[StaffLoad], limit: int) -> StaffLoad | None:
    """The next staff member in the rotation who has room, or None if all are full.

    Never-assigned staff go first (by id, for a stable order), then the one whose last
    assignment is oldest.
    """
    free = [c for c in candidates if c.open_chats < limit]
    if not free:
        return None
    return min(free, key=_rotation_key)


def _rotation_key(c: StaffLoad) -> tuple[bool, float, int]:
    at = c.last_assigned_at
    return (at is not None, at.timestamp() if at is not None else 0.0, c.user_id)


def capacity(candidates: Sequence[StaffLoad], limit: int) -> int:
    """Open slots left across the department."""
    return sum(max(0, limit - c.open_chats) for c in candidates)


def queue_position(waiting: Sequence[tuple[int, datetime]], conversation_id: int) -> int | None:
    """1-based rank of the conversation in the queue ``[(id, queued_at), …]``, or None."""
    order = sorted(waiting, key=lambda item: (item[1], item[0]))
    for rank, (conv_id, _at) in enumerate(order, start=1):
        if conv_id == conversation_id:
            return rank
    return None


def estimated_wait(
    position: int, online_staff: int, limit: int, average_handling: float | None
) -> int:
    """Seconds until a conversation at ``position`` is likely to be taken.

    With ``online_staff × limit`` chats in progress, one ends on average every
    ``average_handling / (online_staff × limit)`` seconds; the conversation needs
    ``position`` of those endings. Nobody online: no estimate better than "one
    handling time per position", which is what the widget shows next to 留言.
    """
    handling = average_handling if average_handling and average_handling > 0 else None
    handling = handling or DEFAULT_HANDLING_SECONDS
    slots = max(1, online_staff * max(1, limit))
    return math.ceil(position * handling / slots)
