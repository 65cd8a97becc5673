"""Chat actors for the realtime and chat-service tests: staff of a department,
enterprise users, and the ``ChatActor`` each of them acts as."""

from __future__ import annotations

from typing import Any

from portal.accounts.models import User
from portal.chat.interfaces import ChatActor
from portal.roles import Role
from tests import factories


def staff(department: Any, *, head: bool = False, **kw: Any) -> User:
    roles = [Role.STAFF, Role.HEAD] if head else [Role.STAFF]
    return factories.UserFactory(roles=roles, department=department, **kw)


def actor(user: User, oversees: tuple[int, ...] | None = ()) -> ChatActor:
    return ChatActor.from_user(user, oversees=oversees)
