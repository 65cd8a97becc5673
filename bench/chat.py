"""Chat delivery benchmark: the realtime server beside a bare websockets broadcast server.

    .venv/bin/python bench/chat.py                 # SQLite (the embedded default)
    .venv/bin/python bench/chat.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_chat
    .venv/bin/python bench/chat.py --help

Every server runs in its own process and the clients in another (this script re-runs
itself with ``--load``). The same client load drives, one after the other:

* ``bare``: a websockets server speaking the same message subset (auth, chat.open,
  chat.join, chat.send → chat.ack + chat.message fan-out with ``broadcast``) with no
  database, no authentication, no limits: the ceiling;
* ``realtime``: ``python -m realtime`` (one process, in-process broker);
* ``realtime-redis``: two realtime processes over Redis, every enterprise connected to
  one and every staff member to the other, so each message crosses processes.

Load: ``--clients`` connections (staff and enterprises, one conversation per enterprise),
then ``--rate`` chat messages per second from random enterprises for ``--seconds``
(open loop: a message is due at a fixed time whatever happened to the previous one).
Delivery latency = staff receives ``chat.message`` − enterprise sent ``chat.send``.
Then a closed loop (each enterprise sends its next message when the previous is
acknowledged) gives the maximum throughput. Memory per idle connection = the server's
RSS after all clients connected and joined, minus before, over the connections.

Every line also gives, per phase, the CPU time the servers and the client process used
(``/proc/<pid>/stat``, as % of one core and, for the servers, ms per delivered message),
how busy the whole machine was (``/proc/stat``: servers, clients, database and Redis
together), the load average (the machine is shared: read figures beside it), the servers' event
loop lag (p99 and worst wake-up delay, from ``/healthz``; the bare server runs the same
probe) and, for the realtime server, how many messages each group commit stored and how
long its database work took.

Fault run: the realtime process is killed with SIGKILL during the load and restarted on
the same port; the clients (``realtime.client.Client``) reconnect, resend what was not
acknowledged and re-join from their last seq. Printed: acknowledged vs delivered, lost
(acknowledged but never delivered), duplicated (a message stored or delivered twice).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SECRET = "bench-realtime-secret"  # noqa: S105 (signs the benchmark's own tokens)
PYTHON = sys.executable


# -- database ----------------------------------------------------------------------------


def prepare_database(url: str, staff: int, enterprises: int) -> dict[str, Any]:
    """Migrate ``url`` and add one department, its staff and the enterprise users."""
    from sqlalchemy import insert, text

    from portal import settings as settings_mod
    from portal.accounts.models import Enterprise, User, UserRole
    from portal.cli import alembic_config
    from portal.db import make_engine
    from portal.departments.models import Department

    settings = settings_mod.load({"sqlalchemy.url": url, "here": ROOT}, environ={})
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(url[len("sqlite:///") :] + suffix):
                os.remove(url[len("sqlite:///") :] + suffix)
    engine = make_engine(settings)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    from alembic import command

    cfg = alembic_config(settings)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    now = time.time()
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(now, UTC)
    with engine.begin() as conn:
        dept_id = conn.execute(
            insert(Department).returning(Department.id),
            [
                {
                    "code": "bench",
                    "name": "压测局",
                    "short_name": "压测",
                    "category": "经济发展",
                    "responsibilities": "",
                    "address": "",
                    "phone": "",
                    "sort_order": 0,
                    "is_active": True,
                }
            ],
        ).scalar_one()
        ents = (
            conn.execute(
                insert(Enterprise).returning(Enterprise.id),
                [
                    {
                        "name": f"压测企业{i}",
                        "uscc": f"91440700{i:09d}X"[:18],
                        "industry": "C",
                        "contact_person": "张三",
                        "contact_phone": "1",
                        "address": "",
                        "created_at": at,
                    }
                    for i in range(enterprises)
                ],
            )
            .scalars()
            .all()
        )
        common = {
            "password_hash": "x",
            "is_active": True,
            "is_enterprise_admin": False,
            "title": "",
            "phone": "",
            "failed_logins": 0,
            "created_at": at,
        }
        staff_ids = conn.execute(
            insert(User).returning(User.id),
            [
                {**common, "login": f"staff{i}", "email": None, "display_name": f"工作人员{i}",
                 "department_id": dept_id, "enterprise_id": None}
                for i in range(staff)
            ],
        ).scalars().all()  # fmt: skip
        ent_users = conn.execute(
            insert(User).returning(User.id),
            [
                {**common, "login": f"ent{i}", "email": None, "display_name": f"企业用户{i}",
                 "department_id": None, "enterprise_id": ents[i]}
                for i in range(enterprises)
            ],
        ).scalars().all()  # fmt: skip
        conn.execute(
            insert(UserRole),
            [{"user_id": u, "role": "staff"} for u in staff_ids]
            + [{"user_id": u, "role": "enterprise"} for u in ent_users],
        )
    engine.dispose()
    return {
        "department": dept_id,
        "staff": list(staff_ids),
        "enterprises": [[u, e] for u, e in zip(ent_users, ents, strict=True)],
    }


def count_duplicates(url: str) -> int:
    """Logical messages stored more than once (the body carries a unique id)."""
    from sqlalchemy import func, select

    from portal import settings as settings_mod
    from portal.chat.models import ChatMessage
    from portal.db import make_engine

    engine = make_engine(settings_mod.load({"sqlalchemy.url": url, "here": ROOT}, environ={}))
    with engine.connect() as conn:
        rows = conn.execute(
            select(ChatMessage.body, func.count())
            .where(ChatMessage.kind == "text")
            .group_by(ChatMessage.body)
            .having(func.count() > 1)
        ).all()
    engine.dispose()
    return sum(n - 1 for _body, n in rows)


# -- processes ----------------------------------------------------------------------------


@functools.cache
def log_dir() -> str:
    return tempfile.mkdtemp(prefix="qzt-bench-chat-logs-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> Server:
        # Each server's log goes to a file of its own (named in errors).
        self.log = os.path.join(log_dir(), f"server-{len(os.listdir(log_dir()))}.log")
        with open(self.log, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"server did not start: {self.argv} {line!r}, see {self.log}")
        self.port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def realtime_server(db: str, port: int = 0, **env: str) -> Server:
    base = {
        "QZT_DATABASE_URL": db,
        "QZT_REALTIME_SECRET": SECRET,
        # every enterprise gets a staff member at once: the load is messages, not queues
        "QZT_CHAT_MAX_OPEN_PER_STAFF": "1000",
    }
    argv = [PYTHON, "-m", "realtime", "--ini", "/nonexistent.ini", "--port", str(port)]
    return Server(argv, {**base, **env})


def bare_server() -> Server:
    return Server([PYTHON, os.path.abspath(__file__), "--bare-server"])


# -- the bare ceiling ---------------------------------------------------------------------


async def run_bare_server() -> None:
    """The same message subset, no database, no checks: what websockets alone costs."""
    from websockets.asyncio.server import broadcast, serve

    staff: list[Any] = []
    members: dict[int, set[Any]] = defaultdict(set)
    seqs: Counter[int] = Counter()
    next_conv = iter(range(1, 10**9))
    rotation = iter(range(10**9))

    async def handle(ws: Any) -> None:
        try:
            auth = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "auth.ok", "user": None}))
            if auth.get("bench_role") == "staff":
                staff.append(ws)
                await ws.send(json.dumps({"type": "presence.status", "status": "online"}))
            async for raw in ws:
                msg = json.loads(raw)
                kind = msg["type"]
                if kind == "chat.open":
                    conv = next(next_conv)
                    members[conv].add(ws)
                    data = {"id": conv, "state": "open"}
                    await ws.send(json.dumps({"type": "chat.opened", "ref": msg.get("ref"),
                                              "conversation": data, "queue": None}))  # fmt: skip
                    target = staff[next(rotation) % len(staff)]
                    await target.send(json.dumps({"type": "chat.assigned", "conversation": data}))
                elif kind == "chat.join":
                    members[msg["conversation"]].add(ws)
                    await ws.send(json.dumps({"type": "chat.joined", "ref": msg.get("ref"),
                                              "conversation": {"id": msg["conversation"]},
                                              "messages": [], "more": False}))  # fmt: skip
                elif kind == "chat.send":
                    conv = msg["conversation"]
                    seqs[conv] += 1
                    message = {"conversation": conv, "seq": seqs[conv], "side": "enterprise",
                               "body": msg["body"], "client_msg_id": msg["client_msg_id"]}  # fmt: skip  # noqa: E501
                    await ws.send(json.dumps({"type": "chat.ack", "ref": msg.get("ref"),
                                              "seq": seqs[conv], "message": message,
                                              "client_msg_id": msg["client_msg_id"]}))  # fmt: skip
                    broadcast(
                        members[conv], json.dumps({"type": "chat.message", "message": message})
                    )
        except Exception:  # noqa: S110 (a client went away: the ceiling does not care)
            pass
        finally:
            if ws in staff:
                staff.remove(ws)

    # The same loop-lag probe as the realtime server's, so that the lag the machine's
    # load alone causes is printed beside ours.
    from realtime.hub import LoopLag

    lag = LoopLag()
    lag.start()

    def healthz(connection: Any, request: Any) -> Any:
        path, _, query = request.path.partition("?")
        if path != "/healthz":
            return None
        body = json.dumps({"loop_lag_ms": lag.summary()})
        if query == "reset=lag":
            lag.reset()
        return connection.respond(200, body + "\n")

    async with serve(handle, "127.0.0.1", 0, compression=None, max_queue=16,
                     process_request=healthz) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"bare listening on 127.0.0.1:{port}", flush=True)
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
        await stop


# -- the load (a separate process) --------------------------------------------------------


def sign(user_id: int, role: str, dept: int | None, enterprise: int | None) -> str:
    from realtime.tokens import sign as sign_token

    return sign_token(
        SECRET,
        user_id=user_id,
        name=f"u{user_id}",
        roles=[role],
        departments=[dept] if dept else [],
        enterprise_id=enterprise,
        now=time.time(),
        ttl=600,
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Load:
    """Raw websockets clients: cheap enough that 1,000 of them fit beside the server."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.latencies: list[float] = []
        self.delivered = 0
        self.acked = 0
        self.joined = 0
        self.present = 0
        self.conns: list[Any] = []
        self.ent: list[tuple[Any, int]] = []  # (ws, conversation)
        self.ack_waiters: dict[str, asyncio.Future[None]] = {}
        self.measuring = False

    async def connect(self, url: str, role: str, uid: int, ent: int | None) -> Any:
        import websockets

        ws = await websockets.connect(url, compression=None, ping_interval=None, max_size=2**20,
                                      open_timeout=60)  # fmt: skip
        token = sign(uid, role, self.cfg["department"] if role == "staff" else None, ent)
        await ws.send(json.dumps({"type": "auth", "token": token, "bench_role": role}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "auth.ok", reply
        self.conns.append(ws)
        return ws

    async def staff_reader(self, ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg["type"]
            if kind == "chat.message" and msg["message"]["side"] == "enterprise":
                self.delivered += 1
                if self.measuring:
                    sent = float(msg["message"]["body"].split()[0])
                    self.latencies.append(time.time() - sent)
            elif kind == "chat.assigned":
                conv = msg["conversation"]["id"]
                await ws.send(json.dumps({"type": "chat.join", "conversation": conv, "since": 0}))
            elif kind == "chat.joined":
                self.joined += 1
            elif kind == "presence.status":
                self.present += 1

    async def ent_reader(self, ws: Any, opened: asyncio.Future[dict[str, Any]]) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg["type"]
            if kind == "chat.ack":
                self.acked += 1
                waiter = self.ack_waiters.pop(msg["client_msg_id"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif kind == "chat.opened" and not opened.done():
                opened.set_result(msg)
            elif kind == "error" and not opened.done():
                opened.set_exception(RuntimeError(str(msg)))

    async def setup(self) -> dict[str, Any]:
        cfg = self.cfg
        staff_url, ent_url = cfg["staff_url"], cfg["ent_url"]
        tasks = []
        for uid in cfg["staff"]:
            ws = await self.connect(staff_url, "staff", uid, None)
            tasks.append(asyncio.create_task(self.staff_reader(ws)))
        # presence: every staff connection is marked connected before anyone opens a chat
        deadline = time.time() + 120
        while self.present < len(cfg["staff"]) and time.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(50)

        async def one(uid: int, ent: int) -> None:
            async with sem:
                ws = await self.connect(ent_url, "enterprise", uid, ent)
                opened: asyncio.Future[dict[str, Any]] = loop.create_future()
                tasks.append(asyncio.create_task(self.ent_reader(ws, opened)))
                await ws.send(json.dumps({"type": "chat.open", "department": cfg["department"]}))
                reply = await asyncio.wait_for(opened, 60)
                self.ent.append((ws, reply["conversation"]["id"]))

        await asyncio.gather(*(one(uid, ent) for uid, ent in cfg["enterprises"]))
        deadline = time.time() + 60
        while self.joined < len(self.ent) and time.time() < deadline:
            await asyncio.sleep(0.1)
        return {"connections": len(self.conns), "conversations": len(self.ent),
                "joined": self.joined}  # fmt: skip

    async def send(self, ws: Any, conv: int) -> str:
        cid = secrets.token_hex(8)
        body = f"{time.time():.6f} {cid}"
        await ws.send(json.dumps({"type": "chat.send", "conversation": conv,
                                  "client_msg_id": cid, "body": body}))  # fmt: skip
        return cid

    async def open_loop(self, rate: float, seconds: float) -> dict[str, Any]:
        self.latencies.clear()
        self.measuring = True
        start_delivered = self.delivered
        t0 = time.time()
        total = int(rate * seconds)
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ws, conv = random.choice(self.ent)
            await self.send(ws, conv)
        # let the last messages arrive
        deadline = time.time() + 10
        while self.delivered - start_delivered < total and time.time() < deadline:
            await asyncio.sleep(0.05)
        elapsed = time.time() - t0
        self.measuring = False
        got = self.delivered - start_delivered
        return {"sent": total, "delivered": got, "seconds": elapsed,
                "msgs_per_s": got / elapsed, "p50_ms": percentile(self.latencies, 50) * 1000,
                "p99_ms": percentile(self.latencies, 99) * 1000}  # fmt: skip

    async def closed_loop(self, seconds: float, senders: int) -> dict[str, Any]:
        stop_at = time.time() + seconds
        start = self.delivered
        loop = asyncio.get_running_loop()

        async def sender(ws: Any, conv: int) -> None:
            while time.time() < stop_at:
                fut: asyncio.Future[None] = loop.create_future()
                cid = await self.send(ws, conv)
                self.ack_waiters[cid] = fut
                try:
                    await asyncio.wait_for(fut, 30)
                except TimeoutError:
                    return

        t0 = time.time()
        await asyncio.gather(*(sender(ws, conv) for ws, conv in self.ent[:senders]))
        await asyncio.sleep(0.5)
        elapsed = time.time() - t0
        return {"max_msgs_per_s": (self.delivered - start) / elapsed,
                "delivered": self.delivered - start}  # fmt: skip


async def run_load(cfg: dict[str, Any]) -> None:
    # Each phase starts when the parent says so (it samples CPU time, load average and
    # the server's loop lag in between) and ends with one JSON line.
    load = Load(cfg)
    print(json.dumps({"setup": await load.setup()}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent measured the idle memory
    await asyncio.sleep(1.0)
    print(json.dumps({"open": await load.open_loop(cfg["rate"], cfg["seconds"])}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    closed = await load.closed_loop(cfg["closed_seconds"], cfg["senders"])
    print(json.dumps({"closed": closed}), flush=True)
    for ws in load.conns:
        await ws.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat: how much of the
    machine everything (servers, clients, the database, Redis) used over a phase."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def health(server: Server, reset: bool = False) -> dict[str, Any]:
    """The server's /healthz: loop lag, and the realtime server's writer batches."""
    import urllib.request

    url = f"http://127.0.0.1:{server.port}/healthz" + ("?reset=lag" if reset else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        found: dict[str, Any] = json.loads(response.read())
        return found


class Phase:
    """CPU time of the servers and of the client process, and the load average,
    over one phase of the load."""

    def __init__(self, servers: list[Server], client: subprocess.Popen[str]) -> None:
        self.servers, self.client = servers, client
        for server in servers:
            health(server, reset=True)
        self.server_cpu = self._server_cpu()
        self.client_cpu = cpu_seconds(client.pid)
        self.writer = [health(s).get("chat_writer", {}) for s in servers]
        self.machine = machine_ticks()
        self.started = time.time()

    def _server_cpu(self) -> float:
        return sum(cpu_seconds(s.proc.pid) for s in self.servers if s.proc)

    def end(self, delivered: int) -> dict[str, Any]:
        elapsed = time.time() - self.started
        busy, total = (b - a for a, b in zip(self.machine, machine_ticks(), strict=True))
        server_cpu = self._server_cpu() - self.server_cpu
        healths = [health(s) for s in self.servers]
        lags = [h["loop_lag_ms"] for h in healths if "loop_lag_ms" in h]
        batches = messages = 0
        db_seconds = 0.0
        for before, h in zip(self.writer, healths, strict=True):
            after = h.get("chat_writer", {})
            batches += after.get("batches", 0) - before.get("batches", 0)
            messages += after.get("messages", 0) - before.get("messages", 0)
            db_seconds += after.get("db_seconds", 0) - before.get("db_seconds", 0)
        return {
            "server_cpu_pct": 100 * server_cpu / elapsed,
            "server_cpu_ms_per_msg": 1000 * server_cpu / max(1, delivered),
            "client_cpu_pct": 100 * (cpu_seconds(self.client.pid) - self.client_cpu) / elapsed,
            "load": os.getloadavg()[0],
            "machine_busy_pct": 100 * busy / max(1, total),
            "lag_p99_ms": max((lag["p99"] for lag in lags), default=None),
            "lag_max_ms": max((lag["max"] for lag in lags), default=None),
            "mean_batch": messages / batches if batches else None,
            "db_ms_per_batch": 1000 * db_seconds / batches if batches else None,
        }


def measure(
    name: str, servers: list[Server], staff_url: str, ent_url: str, people: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    cfg = {
        **people,
        "staff_url": staff_url,
        "ent_url": ent_url,
        "rate": args.rate,
        "seconds": args.seconds,
        "closed_seconds": args.closed_seconds,
        "senders": args.senders,
    }
    before = sum(rss_kib(s.proc.pid) for s in servers if s.proc)
    client = subprocess.Popen(
        [PYTHON, os.path.abspath(__file__), "--load", json.dumps(cfg)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout is not None
    assert client.stdin is not None

    def step() -> dict[str, Any]:
        assert client.stdin is not None
        assert client.stdout is not None
        client.stdin.write("go\n")
        client.stdin.flush()
        found: dict[str, Any] = json.loads(client.stdout.readline())
        return found

    result = json.loads(client.stdout.readline())
    time.sleep(2.0)
    after = sum(rss_kib(s.proc.pid) for s in servers if s.proc)
    phase = Phase(servers, client)
    result.update(step())
    result["open"]["cpu"] = phase.end(result["open"]["delivered"])
    phase = Phase(servers, client)
    result.update(step())
    result["closed"]["cpu"] = phase.end(result["closed"]["delivered"])
    client.wait(60)
    conns = result["setup"]["connections"]
    result["mem_kib_per_conn"] = (after - before) / max(1, conns)
    result["name"] = name
    return result


def _cpu(c: dict[str, Any]) -> str:
    text = (
        f"server {c['server_cpu_pct']:.0f}% of a core ({c['server_cpu_ms_per_msg']:.2f} ms/msg), "
        f"clients {c['client_cpu_pct']:.0f}%, machine {c['machine_busy_pct']:.0f}% busy, "
        f"load {c['load']:.1f}"
    )
    if c["lag_p99_ms"] is not None:
        text += f", loop lag p99 {c['lag_p99_ms']:.0f}ms max {c['lag_max_ms']:.0f}ms"
    if c["mean_batch"] is not None:
        text += f", {c['mean_batch']:.1f} msgs/commit ({c['db_ms_per_batch']:.1f} ms each)"
    return text


def line(result: dict[str, Any]) -> str:
    o, c = result["open"], result["closed"]
    return (
        f"{result['name']:<44} p50={o['p50_ms']:.1f}ms p99={o['p99_ms']:.1f}ms "
        f"msgs/s={o['msgs_per_s']:.0f} (offered {o['sent'] / o['seconds']:.0f}/s, "
        f"delivered {o['delivered']}/{o['sent']}) max_msgs/s={c['max_msgs_per_s']:.0f} "
        f"idle_conn={result['mem_kib_per_conn']:.1f}KiB "
        f"[{result['setup']['connections']} clients, {result['setup']['conversations']} chats]\n"
        f"{'':<44} open loop: {_cpu(o['cpu'])}\n"
        f"{'':<44} closed loop: {_cpu(c['cpu'])}"
    )


# -- fault run ----------------------------------------------------------------------------


async def run_fault_load(cfg: dict[str, Any]) -> None:
    """Clients that reconnect and resend (the protocol's contract) through a kill -9."""
    from realtime.client import Client

    url, dept = cfg["url"], cfg["department"]
    staff = [Client(url, token=lambda u=u: sign(u, "staff", dept, None), reconnect=True,
                    keep_events=False, max_backoff=1.0) for u in cfg["staff"]]  # fmt: skip
    ents = [Client(url, token=lambda u=u, e=e: sign(u, "enterprise", None, e), reconnect=True,
                   keep_events=False, max_backoff=1.0)
            for u, e in cfg["enterprises"]]  # fmt: skip
    convs: dict[int, Client] = {}
    by_staff: dict[int, Client] = {}
    joins: list[asyncio.Future[Any]] = []

    def on_staff(c: Client) -> Any:
        def handler(message: dict[str, Any]) -> None:
            if message["type"] == "chat.assigned":
                joins.append(asyncio.ensure_future(c.join(message["conversation"]["id"])))
                by_staff[message["conversation"]["id"]] = c

        return handler

    for c in staff:
        c.on_message = on_staff(c)
        await c.connect()
    await asyncio.sleep(1.0)
    for c in ents:
        await c.connect()
        opened = await c.request("chat.open", department=dept)
        convs[opened["conversation"]["id"]] = c
    while len(by_staff) < len(convs):
        await asyncio.sleep(0.05)
    print(json.dumps({"ready": True}), flush=True)

    acked: set[str] = set()
    failed = 0
    pending: list[asyncio.Task[Any]] = []
    rate, seconds = cfg["rate"], cfg["seconds"]
    t0 = time.time()
    items = list(convs.items())

    async def one(conv: int, c: Client, cid: str) -> None:
        nonlocal failed
        try:
            await c.send_message(conv, f"{cid}", client_msg_id=cid, timeout=120)
            acked.add(cid)
        except Exception:
            failed += 1

    for i in range(int(rate * seconds)):
        delay = t0 + i / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        conv, c = random.choice(items)
        pending.append(asyncio.create_task(one(conv, c, f"f{i:06d}")))
    await asyncio.gather(*pending)
    # every staff console syncs what it may have missed, as after any reconnect
    for conv, c in by_staff.items():
        await c.sync(conv)
    delivered: set[str] = set()
    dup_deliveries = 0
    for conv, c in by_staff.items():
        log = c.logs.get(conv)
        if log is None:
            continue
        dup_deliveries += log.duplicates
        for message in log.messages.values():
            if message["side"] == "enterprise":
                delivered.add(message["body"])
    reconnects = sum(c.reconnects for c in staff + ents)
    for c in staff + ents:
        await c.close()
    print(json.dumps({"acked": len(acked), "delivered": len(acked & delivered),
                      "lost": len(acked - delivered), "dup_deliveries": dup_deliveries,
                      "failed": failed, "reconnects": reconnects,
                      "sent": int(rate * seconds)}), flush=True)  # fmt: skip


def fault_run(db: str, people: dict[str, Any], args: argparse.Namespace) -> str:
    port = free_port()
    server = realtime_server(db, port).start()
    cfg = {**people, "url": f"ws://127.0.0.1:{port}/ws", "rate": args.rate,
           "seconds": args.fault_seconds}  # fmt: skip
    client = subprocess.Popen(
        [PYTHON, os.path.abspath(__file__), "--fault-load", json.dumps(cfg)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout is not None
    assert json.loads(client.stdout.readline()).get("ready")
    time.sleep(args.fault_seconds / 3)
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    time.sleep(1.0)
    restarted = realtime_server(db, port).start()
    result = json.loads(client.stdout.readline())
    client.wait(60)
    restarted.stop()
    server.stop()
    # duplicated = a logical message stored twice, or shown twice after the client's
    # de-duplication by seq (which cannot happen: the log keeps one entry per seq);
    # re-deliveries the client dropped by seq are reported apart.
    duplicated = count_duplicates(db)
    return (
        f"fault run (kill -9 at {args.fault_seconds / 3:.0f}s, restart): acked={result['acked']} "
        f"delivered={result['delivered']} lost={result['lost']} duplicated={duplicated} "
        f"[sent {result['sent']}, unacknowledged {result['failed']}, "
        f"re-deliveries dropped by seq {result['dup_deliveries']}, "
        f"reconnects {result['reconnects']}]"
    )


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temporary directory)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--staff", type=int, default=100, help="of the clients, staff")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--closed-seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=200, help="closed-loop senders")
    parser.add_argument("--fault-seconds", type=float, default=15.0)
    parser.add_argument("--fault-clients", type=int, default=220)
    parser.add_argument("--only", choices=["bare", "realtime", "redis", "fault"], action="append")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--fault-load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        asyncio.run(run_bare_server())
        return 0
    if args.load:
        asyncio.run(run_load(json.loads(args.load)))
        return 0
    if args.fault_load:
        asyncio.run(run_fault_load(json.loads(args.fault_load)))
        return 0

    only = set(args.only or ["bare", "realtime", "redis", "fault"])
    tmp = tempfile.mkdtemp(prefix="qzt-bench-chat-")
    db = args.db or f"sqlite:///{tmp}/chat.sqlite"
    print(f"# {args.clients} clients ({args.staff} staff), {args.rate:.0f} msgs/s offered for "
          f"{args.seconds:.0f}s, closed loop {args.senders} senders × {args.closed_seconds:.0f}s; "
          f"db {db.split('@')[-1]}; load average {os.getloadavg()[0]:.1f}; "
          f"{os.cpu_count()} CPUs; server logs in {log_dir()}", flush=True)  # fmt: skip

    def people(clients: int, staff: int) -> dict[str, Any]:
        return prepare_database(db, staff, clients - staff)

    if "bare" in only:
        cast = people(args.clients, args.staff)
        server = bare_server().start()
        try:
            print(line(measure("bare websockets broadcast (ceiling)", [server], server.url,
                               server.url, cast, args)), flush=True)  # fmt: skip
        finally:
            server.stop()
    if "realtime" in only:
        cast = people(args.clients, args.staff)
        server = realtime_server(db).start()
        try:
            print(line(measure("realtime, 1 process", [server], server.url, server.url,
                               cast, args)), flush=True)  # fmt: skip
        finally:
            server.stop()
    if "redis" in only:
        cast = people(args.clients, args.staff)
        env = {"QZT_REALTIME_BROKER": "redis", "QZT_REALTIME_REDIS_URL": args.redis,
               "QZT_REALTIME_REDIS_PREFIX": f"bench-{secrets.token_hex(4)}:"}  # fmt: skip
        a, b = realtime_server(db, **env).start(), realtime_server(db, **env).start()
        try:
            print(line(measure("realtime, 2 processes over Redis", [a, b], a.url, b.url,
                               cast, args)), flush=True)  # fmt: skip
        finally:
            a.stop()
            b.stop()
    if "fault" in only:
        cast = people(args.fault_clients, max(1, args.fault_clients // 11))
        print(fault_run(db, cast, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
