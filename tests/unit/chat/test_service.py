"""ChatService on the real database: routing, queue, messages, access, presence."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from zope.interface.verify import verifyClass, verifyObject

from portal.chat.interfaces import (
    ChatConflict,
    ChatForbidden,
    ChatInputError,
    ChatNotFound,
    DepartmentOffline,
    IChatService,
)
from portal.chat.models import ChatMessage, Conversation, StaffPresence, Transfer
from portal.chat.service import ChatService, oversight_scope
from portal.roles import Role
from tests import factories
from tests.factories_realtime import actor, staff


@pytest.fixture
def svc(clock):
    return ChatService(clock, max_open_per_staff=2, presence_ttl=30)


@pytest.fixture
def dept(dbsession):
    return factories.DepartmentFactory()


def online(svc, session, *users):
    for user in users:
        svc.connect(session, actor(user))


def test_conforms_to_the_interface(svc):
    assert verifyClass(IChatService, ChatService)
    assert verifyObject(IChatService, svc)


def test_an_offline_department_refuses_a_chat(dbsession, svc, dept):
    ent = factories.enterprise_user()
    with pytest.raises(DepartmentOffline):
        svc.open_conversation(dbsession, actor(ent), dept.id)
    away = staff(dept)
    svc.set_status(dbsession, actor(away), "away")
    with pytest.raises(DepartmentOffline):
        svc.open_conversation(dbsession, actor(ent), dept.id)


def test_round_robin_then_queue_with_position(dbsession, svc, dept, clock):
    a, b = staff(dept), staff(dept)
    online(svc, dbsession, a, b)
    convs = []
    for _ in range(5):
        clock.advance(seconds=1)
        convs.append(svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id))
    assert [c.staff_id for c in convs[:4]] == [a.id, b.id, a.id, b.id]
    assert convs[4].state == "waiting"
    info = svc.queue_info(dbsession, convs[4].id)
    assert (info.position, info.waiting) == (1, 1)
    assert info.wait_seconds > 0
    assert svc.queue_info(dbsession, convs[0].id) is None

    # closing a chat frees a slot: the waiting one is routed to that person at once
    svc.close(dbsession, actor(a), convs[0].id)
    assert (convs[4].state, convs[4].staff_id) == ("open", a.id)
    assert svc.dispatch_waiting(dbsession, dept.id) == []


def test_the_open_conversation_is_reused_not_duplicated(dbsession, svc, dept):
    online(svc, dbsession, staff(dept))
    ent = factories.enterprise_user()
    first = svc.open_conversation(dbsession, actor(ent), dept.id)
    again = svc.open_conversation(dbsession, actor(ent), dept.id)
    assert again.id == first.id


def test_staff_away_or_disconnected_or_stale_get_nothing(dbsession, svc, dept, clock):
    a, b, c = staff(dept), staff(dept), staff(dept)
    online(svc, dbsession, a, b, c)
    svc.set_status(dbsession, actor(a), "busy")
    svc.disconnect(dbsession, [b.id])
    assert svc.online_departments(dbsession) == {dept.id: 1}
    clock.advance(seconds=31)  # c's process stopped refreshing
    assert svc.online_departments(dbsession) == {}
    svc.touch(dbsession, [c.id])
    assert svc.online_departments(dbsession) == {dept.id: 1}
    conv = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    assert conv.staff_id == c.id


def test_status_is_remembered_across_connections(dbsession, svc, dept):
    a = staff(dept)
    svc.set_status(dbsession, actor(a), "busy")
    svc.disconnect(dbsession, [a.id])
    assert svc.connect(dbsession, actor(a)) == "busy"
    with pytest.raises(ChatInputError):
        svc.set_status(dbsession, actor(a), "sleeping")
    with pytest.raises(ChatForbidden):
        svc.connect(dbsession, actor(factories.enterprise_user()))


def test_messages_get_consecutive_seqs_and_resends_are_idempotent(dbsession, svc, dept):
    a = staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    assert conv.last_seq == 1  # the "assigned" system line
    first = svc.post_message(dbsession, actor(ent), conv.id, body=" 您好 ", client_msg_id="c1")
    assert first.created
    assert first.message.seq == 2
    assert first.message.body == "您好"
    again = svc.post_message(dbsession, actor(ent), conv.id, body="您好", client_msg_id="c1")
    assert not again.created
    assert again.message.id == first.message.id
    reply = svc.post_message(dbsession, actor(a), conv.id, body="请讲", client_msg_id="c1")
    assert reply.created
    assert reply.message.seq == 3
    assert conv.first_response_at is not None
    count = dbsession.scalar(
        select(func.count()).select_from(ChatMessage).where(ChatMessage.conversation_id == conv.id)
    )
    assert count == 3
    since = svc.messages_since(dbsession, actor(ent), conv.id, 1)
    assert [m.seq for m in since] == [2, 3]


def test_bad_message_input_is_refused_and_nothing_stored(dbsession, svc, dept):
    a = staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    for kwargs in (
        {"body": "   ", "client_msg_id": "x"},
        {"body": "长" * 2001, "client_msg_id": "y"},
        {"body": "hi", "client_msg_id": "z" * 65},
        {"body": "hi", "client_msg_id": "k", "kind": "video"},
        {"body": "", "client_msg_id": "att", "kind": "attachment", "attachment_id": "nope"},
    ):
        with pytest.raises(ChatInputError):
            svc.post_message(dbsession, actor(ent), conv.id, **kwargs)
    assert conv.last_seq == 1


def test_another_enterprise_cannot_see_or_write(dbsession, svc, dept):
    online(svc, dbsession, staff(dept))
    conv = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    stranger = actor(factories.enterprise_user())
    with pytest.raises(ChatNotFound):
        svc.post_message(dbsession, stranger, conv.id, body="hi", client_msg_id="s")
    with pytest.raises(ChatNotFound):
        svc.messages_since(dbsession, stranger, conv.id, 0)
    with pytest.raises(ChatNotFound):
        svc.get(dbsession, stranger, 999999)
    other_dept_staff = actor(staff(factories.DepartmentFactory()))
    with pytest.raises(ChatNotFound):
        svc.claim(dbsession, other_dept_staff, conv.id)


def test_a_colleague_of_the_same_enterprise_reads_the_chat(dbsession, svc, dept):
    online(svc, dbsession, staff(dept))
    ent = factories.enterprise_user()
    colleague = factories.enterprise_user(enterprise=ent.enterprise)
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    assert svc.side_of(actor(colleague), conv) == "enterprise"


def test_staff_must_claim_before_writing_and_claims_do_not_collide(dbsession, svc, dept):
    a, b = staff(dept), staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    svc.set_status(dbsession, actor(a), "online")
    # fill a's two slots, the third waits
    convs = [
        svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
        for _ in range(2)
    ]
    waiting = svc.open_conversation(dbsession, actor(ent), dept.id)
    assert waiting.state == "waiting"
    with pytest.raises(ChatConflict):
        svc.post_message(dbsession, actor(b), waiting.id, body="hi", client_msg_id="b1")
    svc.claim(dbsession, actor(b), waiting.id)
    assert waiting.staff_id == b.id
    assert svc.claim(dbsession, actor(b), waiting.id).staff_id == b.id  # idempotent
    with pytest.raises(ChatConflict):
        svc.claim(dbsession, actor(a), waiting.id)
    with pytest.raises(ChatForbidden):
        svc.claim(dbsession, actor(ent), waiting.id)
    with pytest.raises(ChatNotFound):
        svc.claim(dbsession, actor(ent), convs[0].id)


def test_transfer_to_a_colleague_and_to_another_department(dbsession, svc, dept):
    a, b = staff(dept), staff(dept)
    other = factories.DepartmentFactory()
    c = staff(other)
    online(svc, dbsession, a, b, c)
    ent = factories.enterprise_user()
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    assert conv.staff_id == a.id
    with pytest.raises(ChatForbidden):
        svc.transfer(dbsession, actor(b), conv.id, to_staff_id=b.id, note="抢")
    svc.transfer(dbsession, actor(a), conv.id, to_staff_id=b.id, note="b 熟悉此业务")
    assert (conv.staff_id, conv.state, conv.transfer_note) == (b.id, "open", "b 熟悉此业务")
    svc.transfer(dbsession, actor(b), conv.id, to_department_id=other.id, note="属贵局职责")
    assert conv.department_id == other.id
    assert conv.staff_id == c.id  # routed at once: c is online with room
    rows = dbsession.scalars(select(Transfer).where(Transfer.conversation_id == conv.id)).all()
    assert [(t.from_staff_id, t.to_department_id) for t in rows] == [
        (a.id, dept.id),
        (b.id, other.id),
    ]
    # the previous department no longer sees it; the enterprise still does
    with pytest.raises(ChatNotFound):
        svc.get(dbsession, actor(a), conv.id)
    assert svc.get(dbsession, actor(ent), conv.id) is conv
    with pytest.raises(ChatInputError):
        svc.transfer(dbsession, actor(c), conv.id, note="nowhere")
    with pytest.raises(DepartmentOffline):
        svc.transfer(
            dbsession, actor(c), conv.id, to_department_id=factories.DepartmentFactory().id
        )


def test_close_rate_and_missed_chats(dbsession, svc, dept, clock):
    a = staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    clock.advance(minutes=7)
    svc.rate(dbsession, actor(ent), conv.id, 5, "很快解决了")
    assert (conv.state, conv.close_reason, conv.rating) == ("closed", "enterprise", 5)
    with pytest.raises(ChatInputError):
        svc.rate(dbsession, actor(ent), conv.id, 6)
    with pytest.raises(ChatForbidden):
        svc.rate(dbsession, actor(a), conv.id, 1)
    with pytest.raises(ChatInputError, match="already been rated"):
        svc.rate(dbsession, actor(ent), conv.id, 1, "改主意了")
    assert (conv.rating, conv.rating_comment) == (5, "很快解决了")
    with pytest.raises(ChatConflict):
        svc.post_message(dbsession, actor(ent), conv.id, body="还在吗", client_msg_id="late")
    # closed while waiting = missed
    svc.set_status(dbsession, actor(a), "busy")
    svc.set_status(dbsession, actor(staff(dept)), "online")
    b_conv = []
    for _ in range(3):
        b_conv.append(svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id))
    missed = b_conv[-1]
    assert missed.state == "waiting"
    user = dbsession.get(type(a), missed.user_id)
    svc.close(dbsession, actor(user), missed.id)
    assert missed.close_reason == "abandoned"
    assert svc.close(dbsession, actor(user), missed.id).state == "closed"  # idempotent


def test_wait_estimate_learns_the_handling_time(dbsession, svc, dept, clock):
    a = staff(dept)
    online(svc, dbsession, a)
    done = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    clock.advance(minutes=10)
    svc.close(dbsession, actor(a), done.id)
    svc.touch(dbsession, [a.id])
    for _ in range(2):
        svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    third = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    info = svc.queue_info(dbsession, third.id)
    assert info.position == 1
    assert info.wait_seconds == 300  # 600 s handling / (1 staff × 2 slots)


def test_read_marks_only_rise_and_unread_counts(dbsession, svc, dept):
    a = staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    for i in range(3):
        svc.post_message(dbsession, actor(a), conv.id, body=f"m{i}", client_msg_id=f"s{i}")
    svc.post_message(dbsession, actor(ent), conv.id, body="好", client_msg_id="e1")
    assert svc.unread_counts(dbsession, actor(ent)) == {conv.id: 3}  # not the system line
    assert svc.unread_counts(dbsession, actor(a)) == {conv.id: 1}
    assert svc.mark_read(dbsession, actor(ent), conv.id, 3) == 3
    assert svc.mark_read(dbsession, actor(ent), conv.id, 2) == 3
    assert svc.mark_read(dbsession, actor(ent), conv.id, 99) == conv.last_seq
    assert svc.unread_counts(dbsession, actor(ent)) == {}


def test_inbox_views_and_history(dbsession, svc, dept):
    a = staff(dept)
    online(svc, dbsession, a)
    ent = factories.enterprise_user()
    mine = [
        svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id),
        svc.open_conversation(dbsession, actor(ent), dept.id),
    ]
    waiting = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    assert [c.id for c in svc.inbox(dbsession, actor(a), "waiting")] == [waiting.id]
    assert {c.id for c in svc.inbox(dbsession, actor(a), "mine")} == {c.id for c in mine}
    assert {c.id for c in svc.inbox(dbsession, actor(a), "open")} == {c.id for c in mine}
    with pytest.raises(ChatForbidden):
        svc.inbox(dbsession, actor(ent), "waiting", dept.id)
    with pytest.raises(ChatInputError):
        svc.inbox(dbsession, actor(a), "everything")
    assert [c.id for c in svc.history(dbsession, actor(ent))] == [mine[1].id]


def test_oversight_is_read_only(dbsession, svc, dept):
    online(svc, dbsession, staff(dept))
    conv = svc.open_conversation(dbsession, actor(factories.enterprise_user()), dept.id)
    supervisor = factories.UserFactory(roles=[Role.SUPERVISOR])
    assert oversight_scope(dbsession, supervisor) is None
    watcher = actor(supervisor, oversees=None)
    assert svc.side_of(watcher, conv) == "observer"
    assert svc.messages_since(dbsession, watcher, conv.id, 0)
    with pytest.raises(ChatForbidden):
        svc.post_message(dbsession, watcher, conv.id, body="hi", client_msg_id="w")
    leader_user = factories.UserFactory(roles=[Role.LEADER])
    leader = factories.LeaderFactory(user_id=leader_user.id)
    leader.departments.append(dept)
    dbsession.flush()
    assert oversight_scope(dbsession, leader_user) == (dept.id,)
    other_leader = factories.UserFactory(roles=[Role.LEADER])
    assert svc.side_of(actor(other_leader, oversees=()), conv) is None


def test_canned_replies_per_department(dbsession, svc, dept):
    a = staff(dept)
    reply = svc.add_canned_reply(dbsession, actor(a), dept.id, "问候", "您好，请问有什么可以帮您？")
    assert [r.title for r in svc.canned_replies(dbsession, dept.id)] == ["问候"]
    outsider = actor(staff(factories.DepartmentFactory()))
    with pytest.raises(ChatForbidden):
        svc.add_canned_reply(dbsession, outsider, dept.id, "x", "y")
    with pytest.raises(ChatNotFound):
        svc.delete_canned_reply(dbsession, outsider, reply.id)
    svc.delete_canned_reply(dbsession, actor(a), reply.id)
    assert svc.canned_replies(dbsession, dept.id) == []


def test_transcript_lists_every_message(dbsession, svc, dept):
    a = staff(dept, display_name="李四")
    online(svc, dbsession, a)
    ent = factories.enterprise_user(display_name="张三")
    conv = svc.open_conversation(dbsession, actor(ent), dept.id)
    svc.post_message(dbsession, actor(ent), conv.id, body="营业执照怎么办？", client_msg_id="1")
    svc.post_message(dbsession, actor(a), conv.id, body="请到政务中心。", client_msg_id="2")
    svc.close(dbsession, actor(a), conv.id)
    text = svc.transcript(dbsession, conv.id)
    assert dept.name in text
    assert "张三: 营业执照怎么办？" in text
    assert "李四: 请到政务中心。" in text
    assert text.index("营业执照") < text.index("政务中心") < text.index("was closed")


def test_staff_presence_row_follows_the_department(dbsession, svc, dept):
    a = staff(dept)
    svc.connect(dbsession, actor(a))
    row = dbsession.get(StaffPresence, a.id)
    assert (row.department_id, row.status) == (dept.id, "online")
    listing = svc.staff_status(dbsession, dept.id)
    assert listing == [{"id": a.id, "name": a.display_name, "status": "online",
                        "connected": True, "open": 0}]  # fmt: skip
    assert dbsession.scalar(select(func.count()).select_from(Conversation)) is not None
