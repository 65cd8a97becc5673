"""Real ``python -m realtime`` processes: two of them over the real Redis, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from tests.realtime_harness import ServerProcess, client, redis_processes

T = 15


@pytest.fixture
def redis_pair(settings, rt_world):
    with redis_processes(settings["sqlalchemy.url"], QZT_REALTIME_PRESENCE_TTL="3") as procs:
        yield procs


@pytest.mark.redis
@pytest.mark.slow
def test_two_processes_share_presence_queue_and_messages(redis_pair, rt_world):
    one, two = redis_pair
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    first, second = rt_world.enterprise_user(), rt_world.enterprise_user()

    async def scenario():
        sidebar = client(two.url, None)
        await sidebar.connect()
        await sidebar.request("presence.subscribe")
        staff_c = client(one.url, clerk)  # staff on process one …
        await staff_c.connect()
        online = await sidebar.expect(
            "presence.department", where=lambda e: e["department"] == dept.id, timeout=T
        )
        assert online["online"] is True  # … seen from process two

        ent = client(two.url, first)  # enterprise on process two
        await ent.connect()
        conv = (await ent.request("chat.open", department=dept.id))["conversation"]
        assigned = await staff_c.expect("chat.assigned", timeout=T)
        assert assigned["conversation"]["id"] == conv["id"]
        await staff_c.join(conv["id"])
        for i in range(20):
            await ent.send_message(conv["id"], f"问题{i}")
        for i in range(20):
            await staff_c.send_message(conv["id"], f"答复{i}")
        await staff_c.sync(conv["id"])

        async def complete(c):
            while c.logs[conv["id"]].last < 41:
                await c.expect("chat.message", timeout=T)

        await asyncio.wait_for(complete(ent), T)
        for c in (ent, staff_c):
            log = c.logs[conv["id"]]
            assert log.last == 41
            assert log.duplicates == 0
            bodies = [log.messages[s]["body"] for s in range(2, 42)]
            assert sorted(bodies[:20]) == sorted(f"问题{i}" for i in range(20))

        # the queue is shared too: one slot each (limit 3 by default → fill it)
        others = [client(two.url, second)]
        await others[0].connect()
        c2 = (await others[0].request("chat.open", department=dept.id))["conversation"]
        assert c2["staff_id"] == clerk.id  # routed by process two to staff on process one
        await staff_c.expect(
            "chat.assigned", where=lambda e: e["conversation"]["id"] == c2["id"], timeout=T
        )

        # process one stops gracefully: its clients see 1001, the others stay
        code = one.terminate()
        assert code == 0
        await asyncio.sleep(0)
        with pytest.raises(ConnectionError):
            await staff_c.expect("never", timeout=T)
        assert staff_c.closed_with == 1001
        offline = await sidebar.expect(
            "presence.department",
            where=lambda e: e["department"] == dept.id and not e["online"],
            timeout=T,
        )
        assert offline["staff"] == 0
        assert (await ent.request("ping"))["type"] == "pong"
        for c in (sidebar, ent, *others):
            await c.close()

    asyncio.run(scenario())


def test_sigterm_closes_with_1001_and_keeps_stored_messages(settings, rt_world):
    proc = ServerProcess(settings["sqlalchemy.url"]).start()
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    boss = rt_world.enterprise_user()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/healthz", timeout=T) as r:
            assert json.loads(r.read())["status"] == "ok"

        async def scenario():
            staff_c = client(proc.url, clerk)
            await staff_c.connect()
            await staff_c.expect("presence.status", timeout=T)
            ent = client(proc.url, boss)
            await ent.connect()
            conv = (await ent.request("chat.open", department=dept.id))["conversation"]
            acks = [await ent.send_message(conv["id"], f"m{i}") for i in range(5)]
            assert [a["seq"] for a in acks] == [2, 3, 4, 5, 6]
            assert proc.terminate() == 0
            with pytest.raises(ConnectionError):
                await ent.expect("never", timeout=T)
            return ent.closed_with, conv["id"]

        code, _conv_id = asyncio.run(scenario())
        assert code == 1001
        (conv,) = rt_world.conversations()
        assert conv.last_seq == 6
    finally:
        proc.kill()
        print(proc.log())
        proc.close()
