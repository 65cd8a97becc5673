"""Signing out of the portal closes the websocket connections opened from that session."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime

import pytest
import websockets
from sqlalchemy import delete
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed

from portal.sessions import WebSession
from realtime.sessions import CLOSE_SESSION_ENDED
from tests.realtime_harness import threaded_server, token

T = 10


@pytest.fixture
def rows(engine):
    """Committed web_sessions rows, as the portal's login makes them."""
    made: list[str] = []
    session = Session(bind=engine)

    def make(user) -> str:
        sid = secrets.token_hex(32)
        now = datetime.now(UTC)
        session.add(
            WebSession(id=sid, user_id=user.id, data={"uid": user.id}, created_at=now,
                       last_seen_at=now)
        )  # fmt: skip
        session.commit()
        made.append(sid)
        return sid

    def end(sid: str) -> None:
        session.execute(delete(WebSession).where(WebSession.id == sid))
        session.commit()

    make.end = end  # type: ignore[attr-defined]
    yield make
    session.execute(delete(WebSession).where(WebSession.id.in_(made)))
    session.commit()
    session.close()


async def authenticated(url: str, signed: str):
    ws = await websockets.connect(url, open_timeout=T)
    await ws.send(json.dumps({"type": "auth", "token": signed}))
    assert json.loads(await asyncio.wait_for(ws.recv(), T))["type"] == "auth.ok"
    return ws


async def drain(ws) -> None:
    """Read until the server closes the connection."""
    while True:
        await asyncio.wait_for(ws.recv(), T)


async def still_open(ws) -> bool:
    await ws.send(json.dumps({"type": "ping"}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), T))
        if message["type"] == "pong":
            return True


def test_a_connection_closes_when_its_portal_session_ends(settings, rt_world, rows):
    dept = rt_world.department()
    clerk = rt_world.staff(dept)
    boss = rt_world.enterprise_user()
    clerk_sid, boss_sid = rows(clerk), rows(boss)

    async def scenario(url: str) -> None:
        clerk_ws = await authenticated(url, token(clerk, sid=clerk_sid))
        boss_ws = await authenticated(url, token(boss, sid=boss_sid))
        tool_ws = await authenticated(url, token(boss))  # no session named: not checked
        await asyncio.sleep(0.5)  # a few checks pass: live sessions are left alone
        assert await still_open(boss_ws)

        rows.end(boss_sid)  # the enterprise user signs out
        with pytest.raises(ConnectionClosed):
            await drain(boss_ws)
        assert boss_ws.close_code == CLOSE_SESSION_ENDED
        assert await still_open(clerk_ws)
        assert await still_open(tool_ws)
        for ws in (clerk_ws, tool_ws):
            await ws.close()

    with threaded_server(settings, **{"qzt.realtime.session_check": 0.1}) as server:
        asyncio.run(scenario(server.url))
