"""Factories for chat rows (bound with the others by ``tests.factories.bind``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory

from portal.chat.models import (
    CannedReply,
    ChatMessage,
    Conversation,
    ConvState,
    MessageKind,
    Side,
    StaffPresence,
    Status,
)
from portal.roles import Role
from tests.factories import Base, DepartmentFactory, UserFactory, _register, enterprise_user
from tests.timeline import now


@_register
class ConversationFactory(Base):
    """An open conversation of an enterprise user with a department, handled by a staff
    member of it (``state=waiting`` leaves ``staff`` out: pass ``staff=None``)."""

    class Meta:
        model = Conversation

    class Params:
        opener = factory.LazyFunction(enterprise_user)
        department = factory.SubFactory(DepartmentFactory)

    user_id = factory.LazyAttribute(lambda o: o.opener.id)
    enterprise_id = factory.LazyAttribute(lambda o: o.opener.enterprise_id)
    department_id = factory.LazyAttribute(lambda o: o.department.id)
    staff_id = factory.LazyAttribute(
        lambda o: (
            UserFactory(roles=[Role.STAFF], department=o.department).id
            if o.state != ConvState.WAITING
            else None
        )
    )
    state = ConvState.OPEN.value
    topic = ""
    created_at = factory.LazyFunction(now)
    queued_at = None
    claimed_at = factory.LazyAttribute(
        lambda o: o.created_at + timedelta(seconds=20) if o.state != ConvState.WAITING else None
    )
    first_response_at = None
    last_message_at = None
    closed_at = None
    close_reason = None
    transfer_note = ""
    rating = None
    rating_comment = ""
    last_seq = 0
    enterprise_read_seq = 0
    staff_read_seq = 0


@_register
class ChatMessageFactory(Base):
    class Meta:
        model = ChatMessage

    conversation_id = factory.LazyAttribute(lambda o: o.conversation.id)
    seq = factory.LazyAttribute(lambda o: _next_seq(o.conversation))
    sender_id = factory.LazyAttribute(lambda o: o.conversation.user_id)
    sender_side = Side.ENTERPRISE.value
    sender_name = "张三"
    kind = MessageKind.TEXT.value
    body = "您好，请问高新技术企业认定需要哪些材料？"
    created_at = factory.LazyFunction(now)

    class Params:
        conversation = factory.SubFactory(ConversationFactory)


def _next_seq(conv: Conversation) -> int:
    conv.last_seq += 1
    return conv.last_seq


@_register
class CannedReplyFactory(Base):
    class Meta:
        model = CannedReply

    department_id = factory.LazyAttribute(lambda o: o.department.id)
    title = factory.Sequence(lambda n: f"常用回复{n}")
    body = "您好，请提供营业执照复印件和近三年的财务报表。"
    sort_order = factory.Sequence(lambda n: n)
    created_at = factory.LazyFunction(now)

    class Params:
        department = factory.SubFactory(DepartmentFactory)


@_register
class StaffPresenceFactory(Base):
    class Meta:
        model = StaffPresence

    user_id = factory.LazyAttribute(lambda o: o.user.id)
    department_id = factory.LazyAttribute(lambda o: o.user.department_id)
    status = Status.ONLINE.value
    seen_at = factory.LazyFunction(now)
    updated_at = factory.LazyFunction(now)

    class Params:
        user = None


def staff_of(department: Any, role: Role = Role.STAFF, **kw: Any) -> Any:
    return UserFactory(roles=[role], department=department, **kw)


# A test module may import this one after ``bind`` ran for the current test: join the
# session the other factories were bound to (later binds include these factories).
for _factory in (ConversationFactory, ChatMessageFactory, CannedReplyFactory, StaffPresenceFactory):
    _factory._meta.sqlalchemy_session = DepartmentFactory._meta.sqlalchemy_session
