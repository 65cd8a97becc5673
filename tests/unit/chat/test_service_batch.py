"""ChatService.post_batch: many messages, one transaction, the same rules as one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.chat.interfaces import (
    ChatConflict,
    ChatForbidden,
    ChatInputError,
    ChatNotFound,
    Draft,
    Stored,
)
from portal.chat.models import ChatAttachment, ChatMessage, Conversation
from portal.chat.service import ChatService
from portal.roles import Role
from tests import factories
from tests.factories_realtime import actor, staff


@pytest.fixture
def svc(clock):
    return ChatService(clock, max_open_per_staff=5, presence_ttl=30)


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory()


@pytest.fixture
def clerk(dbsession, svc, dept):
    user = staff(dept, display_name="王科员")
    svc.connect(dbsession, actor(user))
    return user


def opened(dbsession, svc, dept, **kw):
    ent = factories.enterprise_user(**kw)
    return ent, svc.open_conversation(dbsession, actor(ent), dept.id)


def stored_rows(dbsession, conv):
    return dbsession.execute(
        select(ChatMessage.seq, ChatMessage.client_msg_id, ChatMessage.body)
        .where(ChatMessage.conversation_id == conv.id)
        .order_by(ChatMessage.seq)
    ).all()


def test_a_batch_across_conversations_numbers_each_in_order(dbsession, svc, dept, clerk):
    (a, conv_a), (b, conv_b) = opened(dbsession, svc, dept), opened(dbsession, svc, dept)
    drafts = [
        Draft(actor(a), conv_a.id, "a1", "甲一"),
        Draft(actor(b), conv_b.id, "b1", "乙一"),
        Draft(actor(a), conv_a.id, "a2", " 甲二 "),
        Draft(actor(clerk), conv_b.id, "s1", "请讲"),
        Draft(actor(a), conv_a.id, "a3", "甲三"),
    ]
    results = svc.post_batch(dbsession, drafts)
    assert all(isinstance(r, Stored) and r.created for r in results)
    assert [(r.message["conversation"], r.message["seq"]) for r in results] == [
        (conv_a.id, 2),
        (conv_b.id, 2),
        (conv_a.id, 3),
        (conv_b.id, 3),
        (conv_a.id, 4),
    ]
    assert results[2].message["body"] == "甲二"
    assert results[3].message["side"] == "staff"
    assert results[3].message["name"] == "王科员"
    assert [(s, c) for s, c, _b in stored_rows(dbsession, conv_a)][1:] == [
        (2, "a1"),
        (3, "a2"),
        (4, "a3"),
    ]
    # the conversations loaded in this session follow, and the database agrees
    assert (conv_a.last_seq, conv_b.last_seq) == (4, 3)
    assert conv_b.first_response_at is not None
    assert conv_a.first_response_at is None
    dbsession.expire_all()
    assert (dbsession.get(Conversation, conv_a.id).last_seq, conv_b.last_seq) == (4, 3)
    # the message object is the one a reader gets later
    again = svc.messages_since(dbsession, actor(a), conv_a.id, 3)
    assert [m.as_json() for m in again] == [results[4].message]


def test_duplicates_in_the_batch_and_resends_of_stored_ones_are_stored_once(
    dbsession, svc, dept, clerk
):
    ent, conv = opened(dbsession, svc, dept)
    first = svc.post_message(dbsession, actor(ent), conv.id, body="早先", client_msg_id="old")
    drafts = [
        Draft(actor(ent), conv.id, "new", "新的"),
        Draft(actor(ent), conv.id, "old", "早先"),  # resend of a stored one
        Draft(actor(ent), conv.id, "new", "新的"),  # the same draft twice in one batch
        Draft(actor(clerk), conv.id, "new", "同一 id，另一发送者"),  # ids are per sender
    ]
    results = svc.post_batch(dbsession, drafts)
    assert [r.created for r in results] == [True, False, False, True]
    assert results[1].message["id"] == first.message.id
    assert results[1].message == first.message.as_json()
    assert results[2].message == results[0].message
    assert [r.message["seq"] for r in results] == [3, 2, 3, 4]
    assert [c for _s, c, _b in stored_rows(dbsession, conv)] == [None, "old", "new", "new"]
    # and a later batch resending all of it stores nothing
    again = svc.post_batch(dbsession, drafts)
    assert [r.created for r in again] == [False] * 4
    assert [r.message["seq"] for r in again] == [3, 2, 3, 4]
    assert conv.last_seq == 4


def test_a_refused_draft_does_not_stop_the_others(dbsession, svc, dept, clerk):
    ent, conv = opened(dbsession, svc, dept)
    closed_ent, closed = opened(dbsession, svc, dept)
    svc.close(dbsession, actor(closed_ent), closed.id)
    colleague = staff(dept)
    stranger = factories.enterprise_user()
    watcher = actor(factories.UserFactory(roles=[Role.SUPERVISOR]), oversees=None)
    other_conv = opened(dbsession, svc, dept)[1]
    foreign = ChatAttachment(
        id="f" * 32,
        conversation_id=other_conv.id,
        filename="a.pdf",
        media_type="application/pdf",
        size=3,
        sha256="0" * 64,
        created_at=svc.clock.now(),
    )
    dbsession.add(foreign)
    dbsession.flush()
    drafts = [
        Draft(actor(ent), conv.id, "ok1", "第一条"),
        Draft(actor(ent), 999_999, "x1", "不存在"),
        Draft(actor(stranger), conv.id, "x2", "别家的"),
        Draft(watcher, conv.id, "x3", "只读"),
        Draft(actor(closed_ent), closed.id, "x4", "已关闭"),
        Draft(actor(colleague), conv.id, "x5", "未认领"),
        Draft(actor(ent), conv.id, "x6", "   "),
        Draft(actor(ent), conv.id, "x7", "", kind="attachment", attachment_id="f" * 32),
        Draft(actor(ent), conv.id, "x" * 65, "id 太长"),
        Draft(actor(ent), conv.id, "ok2", "第二条"),
    ]
    results = svc.post_batch(dbsession, drafts)
    kinds = [type(r) for r in results]
    assert kinds == [
        Stored,
        ChatNotFound,
        ChatNotFound,
        ChatForbidden,
        ChatConflict,
        ChatConflict,
        ChatInputError,
        ChatInputError,
        ChatInputError,
        Stored,
    ]
    assert (results[0].message["seq"], results[9].message["seq"]) == (2, 3)
    assert results[7].field == "attachment"
    assert conv.last_seq == 3


def test_an_attachment_message_carries_its_file(dbsession, svc, dept, clerk):
    ent, conv = opened(dbsession, svc, dept)
    dbsession.add(
        ChatAttachment(
            id="a" * 32,
            conversation_id=conv.id,
            filename="营业执照.pdf",
            media_type="application/pdf",
            size=1234,
            sha256="0" * 64,
            created_at=svc.clock.now(),
        )
    )
    dbsession.flush()
    draft = Draft(actor(ent), conv.id, "f1", "附件", kind="attachment", attachment_id="a" * 32)
    (result,) = svc.post_batch(dbsession, [draft])
    assert result.message["attachment"]["filename"] == "营业执照.pdf"
    (resent,) = svc.post_batch(dbsession, [draft])
    assert resent.message == result.message
    (message,) = svc.messages_since(dbsession, actor(ent), conv.id, 1)
    assert message.as_json() == result.message


def test_nothing_valid_touches_nothing(dbsession, svc, dept, clerk):
    ent, conv = opened(dbsession, svc, dept)
    before = dbsession.scalar(select(func.count()).select_from(ChatMessage))
    results = svc.post_batch(dbsession, [Draft(actor(ent), conv.id, "e", "")])
    assert isinstance(results[0], ChatInputError)
    assert svc.post_batch(dbsession, []) == []
    assert dbsession.scalar(select(func.count()).select_from(ChatMessage)) == before
