"""Sample availability for 视频交流预约: every department head receives video meetings.

Heads keep office hours on working days; to make the demo calendar less uniform,
every third department receives in the mornings only and the 发展和改革局 (the demo
head ``fgj-head``) keeps a shorter meeting length with a buffer. Idempotent: heads
that already have weekly hours keep them.
"""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User, UserRole
from portal.meetings.models import DEFAULT_RULES, SlotRules, WeeklyAvailability
from portal.roles import Role

MORNING = (time(9, 0), time(11, 30))
AFTERNOON = (time(14, 30), time(17, 0))


def load_availability(db: Session) -> None:
    kept = set(db.scalars(select(WeeklyAvailability.head_id)))
    heads = db.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.HEAD.value, User.department_id.is_not(None))
        .order_by(User.id)
    ).all()
    for index, head in enumerate(heads):
        if head.id in kept:
            continue
        periods = (MORNING,) if index % 3 == 2 else (MORNING, AFTERNOON)
        db.add_all(
            WeeklyAvailability(head_id=head.id, weekday=day, start_time=start, end_time=end)
            for day in range(5)
            for start, end in periods
        )
        if head.login == "fgj-head" and db.get(SlotRules, head.department_id) is None:
            db.add(
                SlotRules(
                    department_id=head.department_id,
                    **{**DEFAULT_RULES, "length_minutes": 20, "buffer_after_minutes": 10},
                )
            )
    db.flush()
