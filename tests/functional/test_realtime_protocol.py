"""The realtime server over real websockets: handshake, auth, bad input, limits.

Every test starts a real server on 127.0.0.1:0 (in a thread) and talks to it with real
websocket clients; the timeouts below bound how long a test may hang, they measure
nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
import websockets
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus

from portal.chat.models import ChatMessage
from realtime.client import Client, ClientError
from tests.realtime_harness import ORIGIN, client, threaded_server, token

T = 10  # seconds any single wait may take before the test fails


@pytest.fixture
def server(settings, engine, rt_world):
    with threaded_server(settings, **{"qzt.realtime.auth_timeout": 1.0}) as srv:
        yield srv


async def raw_connect(url, origin=None):
    headers = {"Origin": origin} if origin else None
    return await websockets.connect(url, additional_headers=headers, open_timeout=T)


async def closed_code(ws):
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), T)
    return ws.close_code


def test_health_check_and_unknown_paths(server):
    base = f"http://127.0.0.1:{server.port}"
    with urllib.request.urlopen(base + "/healthz", timeout=T) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(base + "/admin", timeout=T)
    assert err.value.code == 404
    err.value.close()


def test_authentication_outcomes(server, rt_world):
    user = rt_world.enterprise_user()

    async def scenario():
        # a valid token
        c = client(server.url, user)
        info = await c.connect()
        assert (info["user"], info["enterprise"]) == (user.id, user.enterprise_id)
        await c.close()
        # forged: signed with another secret
        ws = await raw_connect(server.url)
        forged = token(user)[:-4] + "AAAA"
        await ws.send(json.dumps({"type": "auth", "token": forged}))
        assert await closed_code(ws) == 4401
        # expired
        ws = await raw_connect(server.url)
        old = token(user, ttl=60, now=time.time() - 3600)
        await ws.send(json.dumps({"type": "auth", "token": old}))
        assert await closed_code(ws) == 4402
        # first message is not auth, or not even JSON
        for first in (json.dumps({"type": "chat.open", "department": 1}), "{oops"):
            ws = await raw_connect(server.url)
            await ws.send(first)
            assert await closed_code(ws) == 4400
        # silent: the auth timeout closes it
        ws = await raw_connect(server.url)
        assert await closed_code(ws) == 4408

    asyncio.run(scenario())


def test_foreign_origin_is_refused_at_the_handshake(server):
    async def scenario():
        with pytest.raises(InvalidStatus) as err:
            await raw_connect(server.url, origin="https://evil.example")
        assert err.value.response.status_code == 403
        ws = await raw_connect(server.url, origin=ORIGIN)
        await ws.send(json.dumps({"type": "auth", "token": None}))
        assert json.loads(await ws.recv())["type"] == "auth.ok"
        await ws.close()

    asyncio.run(scenario())


def test_anonymous_visitors_may_only_watch_presence(server):
    async def scenario():
        c = Client(server.url, token=None)
        info = await c.connect()
        assert info["user"] is None
        snapshot = await c.request("presence.subscribe")
        assert snapshot["type"] == "presence.snapshot"
        with pytest.raises(ClientError) as err:
            await c.request("chat.open", department=1)
        assert err.value.code == "forbidden"
        await c.close()

    asyncio.run(scenario())


def test_bad_input_gets_specific_errors_and_the_connection_survives(server, rt_world):
    user = rt_world.enterprise_user()

    async def scenario():
        c = client(server.url, user)
        await c.connect()
        await c.send_raw("{not json")
        assert (await c.expect("error"))["code"] == "bad_json"
        await c.send_raw("[1, 2]")
        assert (await c.expect("error"))["code"] == "bad_json"
        await c.send_raw(json.dumps({"no": "type"}))
        assert (await c.expect("error"))["code"] == "bad_message"
        await c.send_raw(b"\x00binary")
        assert (await c.expect("error"))["code"] == "bad_message"
        with pytest.raises(ClientError) as err:
            await c.request("chat.teleport")
        assert err.value.code == "unknown_type"
        with pytest.raises(ClientError) as err:
            await c.request("chat.open", department="12")
        assert (err.value.code, err.value.detail) == ("bad_message", "department must be int")
        with pytest.raises(ClientError) as err:
            await c.request("chat.join", conversation=True)
        assert err.value.code == "bad_message"
        assert (await c.request("ping"))["type"] == "pong"
        await c.close()

    asyncio.run(scenario())


def test_an_oversized_frame_closes_only_that_connection(settings, rt_world):
    user = rt_world.enterprise_user()
    with threaded_server(settings, **{"qzt.realtime.max_message_bytes": 4096}) as srv:

        async def scenario():
            bystander = client(srv.url, user)
            await bystander.connect()
            big = client(srv.url, user)
            await big.connect()
            with pytest.raises((ConnectionError, ConnectionClosed, TimeoutError)):
                await big.request("ping", pad="x" * 10_000, timeout=T)
            assert big.closed_with == 1009
            assert (await bystander.request("ping"))["type"] == "pong"
            await bystander.close()

        asyncio.run(scenario())


def test_a_flood_is_refused_then_closed_without_disturbing_others(settings, rt_world):
    user = rt_world.enterprise_user()
    overrides = {"qzt.realtime.rate": 5, "qzt.realtime.burst": 5, "qzt.realtime.flood_close": 30}
    with threaded_server(settings, **overrides) as srv:

        async def scenario():
            bystander = client(srv.url, user)
            await bystander.connect()
            flood = await raw_connect(srv.url)
            await flood.send(json.dumps({"type": "auth", "token": token(user)}))
            await flood.recv()
            codes = []

            async def flood_then_read():
                for i in range(500):
                    await flood.send(json.dumps({"type": "ping", "ref": i}))
                while True:
                    reply = json.loads(await asyncio.wait_for(flood.recv(), T))
                    codes.append(reply.get("code", reply["type"]))

            with pytest.raises(ConnectionClosed):
                await flood_then_read()
            assert flood.close_code == 4429
            assert "pong" in codes
            assert "rate_limited" in codes
            assert (await bystander.request("ping"))["type"] == "pong"
            await bystander.close()

        asyncio.run(scenario())


def test_another_enterprises_conversation_is_not_found_and_untouched(server, rt_world):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    owner = rt_world.enterprise_user()
    stranger = rt_world.enterprise_user()

    async def scenario():
        staff_c = client(server.url, clerk)
        await staff_c.connect()
        await staff_c.expect("presence.status")
        own = client(server.url, owner)
        await own.connect()
        opened = await own.request("chat.open", department=dept.id)
        conv_id = opened["conversation"]["id"]
        await own.send_message(conv_id, "我们的私事")
        other = client(server.url, stranger)
        await other.connect()
        for kind, fields in (
            ("chat.join", {"since": 0}),
            ("chat.sync", {"since": 0}),
            ("chat.read", {"seq": 1}),
            ("chat.close", {}),
            ("chat.rate", {"rating": 1}),
        ):
            with pytest.raises(ClientError) as err:
                await other.request(kind, conversation=conv_id, **fields)
            assert err.value.code == "not_found", kind
        with pytest.raises(ClientError) as err:
            await other.send_message(conv_id, "插一句")
        assert err.value.code == "not_found"
        with pytest.raises(ClientError) as err:
            await own.send_message(conv_id, "   ")
        assert err.value.code == "invalid"
        assert err.value.message["field"] == "body"
        assert err.value.detail
        with pytest.raises(ClientError) as err:
            await other.request("chat.typing", conversation=conv_id, typing=True)
        assert err.value.code == "forbidden"
        for c in (staff_c, own, other):
            await c.close()

    asyncio.run(scenario())
    (conv,) = rt_world.conversations()
    bodies = rt_world.session.scalars(
        select(ChatMessage.body).where(
            ChatMessage.conversation_id == conv.id, ChatMessage.kind == "text"
        )
    )
    assert list(bodies) == ["我们的私事"]
