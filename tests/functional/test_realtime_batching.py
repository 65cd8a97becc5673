"""Group commit over the real server: batches of chat.send stored in one transaction.

To make a batch's composition certain, the test holds the writer's database thread
(a job that waits on an event), lets one "plug" message occupy the writer, sends the
messages under test from real websocket clients, waits until the writer has queued
them all, then lets go: the plug's batch commits, and the queued messages form the
next batch, one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from sqlalchemy import event, select

from portal.chat.models import ChatMessage, Conversation
from realtime.chat import writer_of
from realtime.client import ClientError
from tests.realtime_harness import client, threaded_server

T = 10


@pytest.fixture
def server(settings, engine, rt_world):
    with threaded_server(settings) as srv:
        yield srv


def writer_stats(server):
    async def read():
        return writer_of(server.server.hub).stats()

    return server.call(read())


async def until(predicate, what):
    for _ in range(T * 100):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def one_batch(server, plug_client, plug_conv, expected):
    """Messages sent inside the block are handed to the database together, as one
    batch, when ``expected`` of them are queued and the block ends. Yields the
    writer's figures from before."""
    hold = threading.Event()
    server.server.hub.lanes["writer"].submit(hold.wait, T)
    plug = asyncio.create_task(plug_client.send_message(plug_conv, "塞子"))
    try:
        await until(lambda: writer_stats(server)["in_flight"] == 1, "the plug in flight")
        yield writer_stats(server)
        await until(lambda: writer_stats(server)["queued"] == expected, "the batch queued")
    finally:
        hold.set()
    await plug


async def staffed_chat(server, rt_world, dept, clerk_client):
    boss = rt_world.enterprise_user()
    ent = client(server.url, boss, reconnect=True)
    await ent.connect()
    conv = (await ent.request("chat.open", department=dept.id))["conversation"]
    await ent.join(conv["id"])
    await clerk_client.join(conv["id"])
    return boss, ent, conv["id"]


def stored(rt_world, conv_id):
    rt_world.session.expire_all()
    return rt_world.session.execute(
        select(ChatMessage.seq, ChatMessage.client_msg_id, ChatMessage.body)
        .where(ChatMessage.conversation_id == conv_id)
        .order_by(ChatMessage.seq)
    ).all()


def test_a_batch_across_conversations_is_numbered_per_conversation(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        _a, ent_a, conv_a = await staffed_chat(server, rt_world, dept, staff_c)
        _b, ent_b, conv_b = await staffed_chat(server, rt_world, dept, staff_c)
        async with one_batch(server, ent_a, conv_a, expected=5) as before:
            sends = [
                asyncio.create_task(ent_a.send_message(conv_a, "甲一", client_msg_id="a1")),
                asyncio.create_task(ent_b.send_message(conv_b, "乙一", client_msg_id="b1")),
                asyncio.create_task(ent_a.send_message(conv_a, "甲二", client_msg_id="a2")),
                asyncio.create_task(staff_c.send_message(conv_b, "您好", client_msg_id="s1")),
                asyncio.create_task(ent_b.send_message(conv_b, "乙二", client_msg_id="b2")),
            ]
            await until(lambda: writer_stats(server)["queued"] == 5, "five queued")
        acks = await asyncio.gather(*sends)
        assert writer_stats(server)["batches"] == before["batches"] + 2  # the plug's, ours
        # conv_a: 1 assigned, 2 the plug; conv_b: 1 assigned. Frames of one connection
        # keep their order; those of different connections may arrive either way.
        seq = {a["client_msg_id"]: (a["conversation"], a["seq"]) for a in acks}
        assert (seq["a1"], seq["a2"]) == ((conv_a, 3), (conv_a, 4))
        assert sorted(seq[k] for k in ("b1", "s1", "b2")) == [(conv_b, n) for n in (2, 3, 4)]
        assert seq["b1"] < seq["b2"]
        assert not any(a["duplicate"] for a in acks)
        # the staff console got every message once, by events, per conversation
        for conv in (conv_a, conv_b):
            log = staff_c.logs[conv]
            await until(lambda log=log: log.last == 4, "the staff console has all")
            assert log.duplicates == 0
        bodies = [staff_c.logs[conv_b].messages[n]["body"] for n in (2, 3, 4)]
        assert sorted(bodies) == sorted(["乙一", "您好", "乙二"])
        for c in (staff_c, ent_a, ent_b):
            await c.close()
        return conv_a, conv_b

    conv_a, conv_b = asyncio.run(scenario())
    convs = {c.id: c for c in rt_world.conversations()}
    assert (convs[conv_a].last_seq, convs[conv_b].last_seq) == (4, 4)
    assert convs[conv_a].first_response_at is None
    assert convs[conv_b].first_response_at is not None


def test_duplicates_inside_a_batch_and_resends_are_stored_once(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        boss, ent, conv = await staffed_chat(server, rt_world, dept, staff_c)
        early = await ent.send_message(conv, "早先", client_msg_id="old")
        # the same user in a second tab (or back after a reconnect) sends the same ids
        tab = client(server.url, boss)
        await tab.connect()
        async with one_batch(server, ent, conv, expected=4) as before:
            sends = [
                asyncio.create_task(ent.send_message(conv, "新的", client_msg_id="new")),
                asyncio.create_task(tab.send_message(conv, "新的", client_msg_id="new")),
                asyncio.create_task(tab.send_message(conv, "早先", client_msg_id="old")),
                asyncio.create_task(ent.send_message(conv, "再一条", client_msg_id="more")),
            ]
            await until(lambda: writer_stats(server)["queued"] == 4, "four queued")
        first, twin, resent, more = await asyncio.gather(*sends)
        assert writer_stats(server)["batches"] == before["batches"] + 2
        # one of the two copies of "new" (whichever frame came first) stored it
        assert sorted([first["duplicate"], twin["duplicate"]]) == [False, True]
        assert twin["message"] == first["message"]
        assert resent["duplicate"]
        assert resent["message"] == early["message"]
        assert (first["seq"], more["seq"]) == (4, 5)  # 1 assigned, 2 old, 3 plug
        log = staff_c.logs[conv]
        await until(lambda: log.last == 5, "the staff console has all")  # by events
        assert log.duplicates == 0
        for c in (staff_c, ent, tab):
            await c.close()
        return conv

    conv = asyncio.run(scenario())
    rows = stored(rt_world, conv)
    assert [b for _s, _c, b in rows] == ["assigned", "早先", "塞子", "新的", "再一条"]
    assert [c for _s, c, _b in rows][3:] == ["new", "more"]


@contextlib.contextmanager
def failing(engine, when, what="commit"):
    """Make the writer's transactions fail (only the writer thread's) while ``when``."""

    def on_commit(conn):
        if threading.current_thread().name.startswith("rt-writer") and when(None):
            raise RuntimeError("injected: the commit failed")

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if (
            threading.current_thread().name.startswith("rt-writer")
            and statement.startswith("INSERT INTO chat_messages")
            and when(parameters)
        ):
            raise RuntimeError("injected: the database refused a value")

    name, fn = ("commit", on_commit) if what == "commit" else ("before_cursor_execute", on_execute)
    event.listen(engine, name, fn)
    try:
        yield
    finally:
        event.remove(engine, name, fn)


def test_a_failed_commit_acknowledges_nothing_and_the_resend_succeeds(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    broken = threading.Event()

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        _a, ent_a, conv_a = await staffed_chat(server, rt_world, dept, staff_c)
        _b, ent_b, conv_b = await staffed_chat(server, rt_world, dept, staff_c)
        items = [(ent_a, conv_a, "fa1"), (ent_b, conv_b, "fb1"), (ent_a, conv_a, "fa2")]
        with failing(server.server.engine, lambda _parameters: broken.is_set()):
            async with one_batch(server, ent_a, conv_a, expected=3) as before:
                sends = [
                    asyncio.create_task(c.send_message(conv, f"消息{cid}", client_msg_id=cid))
                    for c, conv, cid in items
                ]
                await until(lambda: writer_stats(server)["queued"] == 3, "three queued")
                # runs after the plug's batch committed, before ours: break only ours
                server.server.hub.lanes["writer"].submit(broken.set)
            outcomes = await asyncio.gather(*sends, return_exceptions=True)
        assert all(isinstance(o, ClientError) and o.code == "internal" for o in outcomes)
        after = writer_stats(server)
        assert after["batches"] == before["batches"] + 1  # the plug's only
        assert after["failed"] == before["failed"] + 3
        assert [b for _s, _c, b in stored(rt_world, conv_a)] == ["assigned", "塞子"]
        assert [b for _s, _c, b in stored(rt_world, conv_b)] == ["assigned"]
        # the client resends with the same ids: stored now, no gap in the seqs
        acks = [
            await c.send_message(conv, f"消息{cid}", client_msg_id=cid) for c, conv, cid in items
        ]
        assert [(a["seq"], a["duplicate"]) for a in acks] == [(3, False), (2, False), (4, False)]
        await staff_c.sync(conv_a)
        assert staff_c.logs[conv_a].last == 4
        for c in (staff_c, ent_a, ent_b):
            await c.close()

    asyncio.run(scenario())


def test_a_value_the_database_refuses_fails_only_its_own_message(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)

    def poisoned(parameters):
        return "毒" in repr(parameters)

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        _a, ent, conv = await staffed_chat(server, rt_world, dept, staff_c)
        with failing(server.server.engine, poisoned, what="insert"):
            async with one_batch(server, ent, conv, expected=3) as before:
                sends = [
                    asyncio.create_task(ent.send_message(conv, body, client_msg_id=cid))
                    for cid, body in (("p1", "好的"), ("p2", "有毒"), ("p3", "谢谢"))
                ]
                await until(lambda: writer_stats(server)["queued"] == 3, "three queued")
            good, bad, also_good = await asyncio.gather(*sends, return_exceptions=True)
        assert isinstance(bad, ClientError)
        assert bad.code == "internal"
        assert (good["seq"], also_good["seq"]) == (3, 4)
        assert writer_stats(server)["failed"] == before["failed"] + 1
        for c in (staff_c, ent):
            await c.close()
        return conv

    conv = asyncio.run(scenario())
    assert [b for _s, _c, b in stored(rt_world, conv)][2:] == ["好的", "谢谢"]
    (row,) = [c for c in rt_world.conversations() if c.id == conv]
    assert isinstance(row, Conversation)
    assert row.last_seq == 4


def test_bad_characters_are_refused_before_the_batch(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        _a, ent, conv = await staffed_chat(server, rt_world, dept, staff_c)
        for body in ("a\x00b", "\ud800"):
            with pytest.raises(ClientError) as err:
                await ent.request("chat.send", conversation=conv, client_msg_id="n", body=body)
            assert (err.value.code, err.value.message["field"]) == ("invalid", "body")
            assert err.value.detail == "消息中含有无法发送的字符。"
        ack = await ent.send_message(conv, "正常", client_msg_id="n")
        assert ack["seq"] == 2
        for c in (staff_c, ent):
            await c.close()

    asyncio.run(scenario())


def test_a_connection_keeps_its_order_send_then_close(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        _a, ent, conv = await staffed_chat(server, rt_world, dept, staff_c)
        hold = threading.Event()
        server.server.hub.lanes["writer"].submit(hold.wait, T)
        sent = asyncio.create_task(ent.send_message(conv, "最后一句", client_msg_id="last"))
        await until(lambda: writer_stats(server)["in_flight"] == 1, "the message in flight")
        # the close is read while the message is not stored yet: it waits for it
        closing = asyncio.create_task(ent.request("chat.close", conversation=conv))
        await asyncio.sleep(0.2)
        assert not closing.done()
        hold.set()
        ack, closed = await asyncio.gather(sent, closing)
        assert (ack["seq"], ack["duplicate"]) == (2, False)
        assert closed["conversation"]["state"] == "closed"
        assert closed["conversation"]["last_seq"] == 3  # the message, then "closed"
        for c in (staff_c, ent):
            await c.close()
        return conv

    conv = asyncio.run(scenario())
    assert [b for _s, _c, b in stored(rt_world, conv)] == ["assigned", "最后一句", "closed"]
