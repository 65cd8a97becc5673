"""Chat and presence over the real server: an enterprise and staff in websocket clients."""

from __future__ import annotations

import asyncio

import pytest

from realtime.client import Client, ClientError
from tests.realtime_harness import client, threaded_server

T = 10


@pytest.fixture
def server(settings, engine, rt_world):
    with threaded_server(settings, **{"qzt.chat.max_open_per_staff": 1}) as srv:
        yield srv


def presence_of(dept_id):
    return lambda e: e["department"] == dept_id


def test_a_whole_conversation(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept, display_name="王科员")
    boss = rt_world.enterprise_user(display_name="赵经理")

    async def scenario():
        sidebar = Client(server.url, token=None)
        await sidebar.connect()
        snapshot = await sidebar.request("presence.subscribe")
        assert str(dept.id) not in snapshot["departments"]

        staff_c = client(server.url, clerk)
        await staff_c.connect()
        assert (await staff_c.expect("presence.status"))["status"] == "online"
        online = await sidebar.expect("presence.department", where=presence_of(dept.id))
        assert (online["online"], online["staff"]) == (True, 1)

        ent = client(server.url, boss)
        await ent.connect()
        opened = await ent.request("chat.open", department=dept.id, topic="办理执照")
        conv = opened["conversation"]
        assert (conv["state"], conv["staff_id"], opened["queue"]) == ("open", clerk.id, None)

        assigned = await staff_c.expect("chat.assigned")
        assert assigned["conversation"]["id"] == conv["id"]
        joined = await staff_c.join(conv["id"])
        assert joined["side"] == "staff"
        assert [m["body"] for m in joined["messages"]] == ["assigned"]

        ack = await ent.send_message(conv["id"], "请问营业执照怎么办理？")
        assert ack["seq"] == 2
        assert not ack["duplicate"]
        got = await staff_c.expect("chat.message", where=lambda e: e["message"]["seq"] == 2)
        assert got["message"]["name"] == "赵经理"

        await staff_c.request("chat.typing", conversation=conv["id"], typing=True)
        typing = await ent.expect("chat.typing")
        assert (typing["side"], typing["typing"], typing["name"]) == ("staff", True, "王科员")

        unread = await staff_c.request("chat.unread")
        assert unread["counts"] == {str(conv["id"]): 1}
        await staff_c.request("chat.read", conversation=conv["id"], seq=2)
        receipt = await ent.expect("chat.read", where=lambda e: e["side"] == "staff")
        assert receipt["seq"] == 2
        assert (await staff_c.request("chat.unread"))["counts"] == {}

        await staff_c.send_message(conv["id"], "请带身份证到政务服务中心。")
        reply = await ent.expect("chat.message", where=lambda e: e["message"]["side"] == "staff")
        assert reply["message"]["seq"] == 3
        assert ent.logs[conv["id"]].last == 3

        rated = await ent.request("chat.rate", conversation=conv["id"], rating=5, comment="满意")
        assert (rated["conversation"]["state"], rated["conversation"]["rating"]) == ("closed", 5)
        state = await staff_c.expect("chat.state", where=lambda e: e["event"] == "closed")
        assert state["conversation"]["id"] == conv["id"]
        with pytest.raises(ClientError) as again:
            await ent.request("chat.rate", conversation=conv["id"], rating=1)
        assert again.value.code == "invalid"
        assert again.value.detail == "该对话已经评价过了。"
        history = await ent.request("chat.history")
        assert [c["id"] for c in history["conversations"]] == [conv["id"]]

        await staff_c.close()
        offline = await sidebar.expect("presence.department", where=presence_of(dept.id))
        assert (offline["online"], offline["staff"]) == (False, 0)
        for c in (sidebar, ent):
            await c.close()

    asyncio.run(scenario())


def test_offline_department_and_status_changes(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    boss = rt_world.enterprise_user()

    async def scenario():
        ent = client(server.url, boss)
        await ent.connect()
        with pytest.raises(ClientError) as err:
            await ent.request("chat.open", department=dept.id)
        assert err.value.code == "department_offline"

        await ent.request("presence.subscribe")
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        here = await ent.expect("presence.department", where=presence_of(dept.id))
        assert here["online"] is True
        await staff_c.request("presence.set", status="busy")
        gone = await ent.expect("presence.department", where=presence_of(dept.id))
        assert gone["online"] is False
        with pytest.raises(ClientError) as err:
            await ent.request("chat.open", department=dept.id)
        assert err.value.code == "department_offline"
        with pytest.raises(ClientError) as err:
            await ent.request("presence.set", status="online")
        assert err.value.code == "forbidden"
        with pytest.raises(ClientError) as err:
            await staff_c.request("presence.set", status="asleep")
        assert err.value.code == "invalid"
        await staff_c.request("presence.set", status="online")
        back = await ent.expect("presence.department", where=presence_of(dept.id))
        assert back["online"] is True
        # a status is remembered: reconnecting while 忙碌 stays 忙碌
        await staff_c.request("presence.set", status="busy")
        await staff_c.close()
        again = client(server.url, clerk)
        await again.connect()
        assert (await again.expect("presence.status"))["status"] == "busy"
        for c in (ent, again):
            await c.close()

    asyncio.run(scenario())


def test_queue_position_then_routing_when_a_slot_frees(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    first, second, third = (rt_world.enterprise_user() for _ in range(3))

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        a, b, c = (client(server.url, u) for u in (first, second, third))
        for x in (a, b, c):
            await x.connect()
        conv_a = (await a.request("chat.open", department=dept.id))["conversation"]
        assert conv_a["state"] == "open"
        opened_b = await b.request("chat.open", department=dept.id)
        assert opened_b["queue"]["position"] == 1
        opened_c = await c.request("chat.open", department=dept.id)
        assert (opened_c["queue"]["position"], opened_c["queue"]["waiting"]) == (2, 2)

        inbox = await staff_c.request("chat.inbox", view="waiting")
        assert [x["id"] for x in inbox["conversations"]] == [
            opened_b["conversation"]["id"],
            opened_c["conversation"]["id"],
        ]
        # the enterprise gives up waiting: c moves up, and it is a missed chat
        closed = await b.request("chat.close", conversation=opened_b["conversation"]["id"])
        assert closed["conversation"]["state"] == "closed"
        moved = await c.expect("chat.queue", where=lambda e: e["queue"]["position"] == 1)
        assert moved["queue"]["waiting"] == 1

        # staff closes a's chat: c is routed to them at once
        await staff_c.request("chat.close", conversation=conv_a["id"])
        routed = await c.expect("chat.state", where=lambda e: e["event"] == "assigned")
        assert routed["conversation"]["staff_id"] == clerk.id
        assigned = await staff_c.expect(
            "chat.assigned", where=lambda e: e["conversation"]["id"] == routed["conversation"]["id"]
        )
        assert assigned["conversation"]["state"] == "open"
        for x in (staff_c, a, b, c):
            await x.close()

    asyncio.run(scenario())
    reasons = {c.user_id: c.close_reason for c in rt_world.conversations()}
    assert reasons[second.id] == "abandoned"


def test_claim_transfer_and_canned_replies(server, rt_world):
    dept, other = rt_world.department(), rt_world.department()
    one, two, elsewhere = rt_world.staff(dept), rt_world.staff(dept), rt_world.staff(other)
    boss, waiter = rt_world.enterprise_user(), rt_world.enterprise_user()

    async def scenario():
        s1, s2, s3 = (client(server.url, u) for u in (one, two, elsewhere))
        for s in (s1, s2, s3):
            await s.connect()
            await s.expect("presence.status")
        await s2.request("presence.set", status="away")
        ent, ent2 = client(server.url, boss), client(server.url, waiter)
        await ent.connect()
        await ent2.connect()
        conv = (await ent.request("chat.open", department=dept.id))["conversation"]
        assert conv["staff_id"] == one.id
        waiting = (await ent2.request("chat.open", department=dept.id))["conversation"]
        assert waiting["state"] == "waiting"
        # a colleague takes the waiting one by hand
        claimed = await s2.request("chat.claim", conversation=waiting["id"])
        assert claimed["conversation"]["staff_id"] == two.id
        with pytest.raises(ClientError) as err:
            await s1.request("chat.claim", conversation=waiting["id"])
        assert err.value.code == "conflict"
        with pytest.raises(ClientError) as err:
            await s3.request("chat.claim", conversation=waiting["id"])
        assert err.value.code == "not_found"
        # transfer to another department with a note
        await ent.join(conv["id"])
        moved = await s1.request(
            "chat.transfer", conversation=conv["id"], department=other.id, note="属贵局职责"
        )
        assert moved["conversation"]["department_id"] == other.id
        arrived = await s3.expect("chat.assigned")
        assert (arrived["conversation"]["id"], arrived["conversation"]["transfer_note"]) == (
            conv["id"],
            "属贵局职责",
        )
        note = await ent.expect(
            "chat.message", where=lambda e: e["message"]["body"] == "transferred"
        )
        assert note["message"]["data"]["note"] == "属贵局职责"
        canned = await s3.request("chat.canned")
        assert canned["replies"] == []
        with pytest.raises(ClientError) as err:
            await ent.request("chat.canned", department=dept.id)
        assert err.value.code == "forbidden"
        for c in (s1, s2, s3, ent, ent2):
            await c.close()

    asyncio.run(scenario())


def test_resend_after_reconnect_is_idempotent_and_sync_fills_gaps(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    boss = rt_world.enterprise_user()

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        ent = client(server.url, boss, reconnect=True)
        await ent.connect()
        conv = (await ent.request("chat.open", department=dept.id))["conversation"]
        await ent.join(conv["id"])
        await staff_c.join(conv["id"])
        first = await ent.send_message(conv["id"], "第一条", client_msg_id="m-1")

        # the link drops; meanwhile the staff writes twice
        await ent.ws.close()
        await staff_c.send_message(conv["id"], "回复一")
        await staff_c.send_message(conv["id"], "回复二")
        # the client resends "m-1" as if its ack had been lost: stored once
        again = await ent.send_message(conv["id"], "第一条", client_msg_id="m-1")
        assert (again["seq"], again["duplicate"]) == (first["seq"], True)
        assert ent.reconnects >= 1
        # the re-join fetched what was missed: everything, in order, no duplicates
        await ent.sync(conv["id"])
        log = ent.logs[conv["id"]]
        assert log.last == 4
        assert [log.messages[s]["body"] for s in range(1, 5)] == [
            "assigned",
            "第一条",
            "回复一",
            "回复二",
        ]
        for c in (staff_c, ent):
            await c.close()

    asyncio.run(scenario())


def test_a_dead_network_takes_staff_offline(settings, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    overrides = {"qzt.realtime.ping_interval": 1.0}
    with threaded_server(settings, **overrides) as srv:

        async def scenario():
            sidebar = Client(srv.url, token=None)
            await sidebar.connect()
            await sidebar.request("presence.subscribe")
            staff_c = client(srv.url, clerk)
            await staff_c.connect()
            await sidebar.expect("presence.department", where=lambda e: e["online"])
            # the staff's machine stops answering (no close frame, no FIN): only the
            # server's pings can tell
            staff_c.ws.transport.pause_reading()
            gone = await sidebar.expect("presence.department", timeout=2 * T)
            assert (gone["department"], gone["online"]) == (dept.id, False)
            staff_c.ws.transport.abort()
            await sidebar.close()

        asyncio.run(scenario())


def test_a_background_tab_that_only_answers_pings_stays_online(settings, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    # seen_at would expire after 3 s: only the sweeps (every 1 s) keep the staff online
    overrides = {"qzt.realtime.ping_interval": 0.5, "qzt.realtime.presence_ttl": 3}
    with threaded_server(settings, **overrides) as srv:

        async def scenario():
            sidebar = Client(srv.url, token=None)
            await sidebar.connect()
            await sidebar.request("presence.subscribe")
            staff_c = client(srv.url, clerk)
            await staff_c.connect()
            await sidebar.expect("presence.department", where=lambda e: e["online"])
            # several ping intervals and presence sweeps pass without a message sent
            for _ in range(8):
                snapshot = await sidebar.request("presence.subscribe")
                assert snapshot["departments"].get(str(dept.id)) == 1
                await asyncio.sleep(0.75)
            assert not [e for e in sidebar.events if e["type"] == "presence.department"]
            for c in (staff_c, sidebar):
                await c.close()

        asyncio.run(scenario())
