"""Running the realtime server for tests: in a thread, or as real processes.

The server works in its own transactions, so the rows a test needs must be
committed (the per-test rolled-back session cannot be seen from another
connection). ``World`` commits a small cast — departments, staff, enterprise users —
and deletes everything it made, chats included, when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.accounts.models import Enterprise, User
from portal.chat.models import CannedReply, Conversation, StaffPresence
from portal.clock import SystemClock
from portal.departments.models import Department
from realtime import tokens
from realtime.client import Client
from tests import factories
from tests.conftest import require_service
from tests.factories_realtime import staff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "test-realtime-secret"
ORIGIN = "http://portal.test"


def server_settings(settings: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The test settings with real time and test-sized realtime knobs."""
    return {
        **settings,
        "qzt.clock": SystemClock(),
        "qzt.realtime.secret": SECRET,
        "qzt.realtime.origins": [ORIGIN],
        "qzt.realtime.allow_no_origin": True,
        "qzt.realtime.broker": "memory",
        "qzt.realtime.db_threads": 4,
        **overrides,
    }


def token(user: Any | None, ttl: int = 60, now: float | None = None, **extra: Any) -> str:
    now = time.time() if now is None else now
    if user is None:
        return tokens.sign(SECRET, user_id=None, now=now, ttl=ttl)
    return tokens.sign(
        SECRET,
        user_id=user.id,
        name=user.display_name,
        roles=[r.role for r in user.role_rows],
        departments=[user.department_id] if user.department_id else [],
        enterprise_id=user.enterprise_id,
        now=now,
        ttl=ttl,
        extra=extra,
    )


class World:
    """Committed departments and people; ``cleanup`` removes them and their chats."""

    def __init__(self, engine: Engine) -> None:
        self.session = Session(bind=engine, expire_on_commit=False)
        factories.bind(self.session)
        self.departments: list[Department] = []
        self.users: list[User] = []

    def department(self) -> Department:
        dept = factories.DepartmentFactory()
        self.departments.append(dept)
        self.session.commit()
        return dept

    def staff(self, dept: Department, **kw: Any) -> User:
        user = staff(dept, **kw)
        self.users.append(user)
        self.session.commit()
        return user

    def enterprise_user(self, **kw: Any) -> User:
        user = factories.enterprise_user(**kw)
        self.users.append(user)
        self.session.commit()
        return user

    def conversations(self) -> list[Conversation]:
        self.session.expire_all()
        ids = [d.id for d in self.departments]
        return list(
            self.session.scalars(select(Conversation).where(Conversation.department_id.in_(ids)))
        )

    def cleanup(self) -> None:
        session = self.session
        session.rollback()
        dept_ids = [d.id for d in self.departments]
        user_ids = [u.id for u in self.users]
        ent_ids = [u.enterprise_id for u in self.users if u.enterprise_id]
        session.execute(
            delete(Conversation).where(
                or_(Conversation.department_id.in_(dept_ids), Conversation.user_id.in_(user_ids))
            )
        )
        session.execute(delete(CannedReply).where(CannedReply.department_id.in_(dept_ids)))
        session.execute(delete(StaffPresence).where(StaffPresence.user_id.in_(user_ids)))
        session.execute(delete(User).where(User.id.in_(user_ids)))
        session.execute(delete(Enterprise).where(Enterprise.id.in_(ent_ids)))
        session.execute(delete(Department).where(Department.id.in_(dept_ids)))
        session.commit()
        session.close()


class ThreadedServer:
    """A RealtimeServer on 127.0.0.1:0 in its own event loop thread."""

    def __init__(self, settings: dict[str, Any], engine: Engine | None = None) -> None:
        from realtime.server import RealtimeServer, realtime_engine

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = RealtimeServer(settings, engine or realtime_engine(settings))
        self.port = self.call(self.server.start("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def call(self, coro: Any, timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def redis_url() -> str:
    url = os.environ.get("QZT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        require_service(f"Redis unreachable at {url}")
    return url


class ServerProcess:
    """``python -m realtime`` as a child process (for Redis, SIGTERM and kill -9 runs)."""

    def __init__(self, database_url: str, *, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.env = {
            **os.environ,
            "QZT_DATABASE_URL": database_url,
            "QZT_REALTIME_SECRET": SECRET,
            "QZT_REALTIME_ORIGINS": ORIGIN,
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        #: the server's log, shown when a test fails (pytest prints captured output)
        self.stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by close())

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()

    def start(self, port: int = 0) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime", "--ini", "/nonexistent.ini", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"realtime server did not start: {line!r}")
        self.port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout)
        self._close_pipe()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def close(self) -> None:
        self.kill()
        self.stderr.close()


def random_prefix() -> str:
    return f"qzt-test-{secrets.token_hex(4)}:"


@contextlib.contextmanager
def redis_processes(database_url: str, count: int = 2, **env: str) -> Iterator[list[ServerProcess]]:
    """``count`` real realtime processes sharing the real Redis under a fresh prefix;
    killed at the end, their logs printed (pytest shows them when a test fails)."""
    shared = {
        "QZT_REALTIME_BROKER": "redis",
        "QZT_REALTIME_REDIS_URL": redis_url(),
        "QZT_REALTIME_REDIS_PREFIX": random_prefix(),
        **env,
    }
    procs = [ServerProcess(database_url, env=shared) for _ in range(count)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            print(proc.log())
            proc.close()


def client(url: str, user: Any | None, **kw: Any) -> Client:
    """A client that fetches a fresh token for each (re)connect, like the browser."""
    return Client(url, token=lambda: token(user), **kw)


@contextlib.contextmanager
def threaded_server(settings: dict[str, Any], **overrides: Any) -> Iterator[ThreadedServer]:
    server = ThreadedServer(server_settings(settings, **overrides))
    try:
        yield server
    finally:
        server.stop()
