"""Throughput and latency of the portal next to a bare Pyramid hello world.

    .venv/bin/python bench/portal.py            # or: make bench

Each app runs as its own process under ``pserve`` with the same waitress settings
(bench/hello.py is the baseline), one at a time so they never share the CPU with
each other; ``wrk`` (Debian: apt-get install wrk) drives them from another process
over 127.0.0.1. The portal gets a fresh SQLite database, migrated and seeded with
``qzt migrate`` and ``qzt seed`` exactly as a deployer would. Every URL is warmed up
first, then measured: requests per second and the 50th/99th latency percentiles.

The target (issue: performance) is the anonymous home page at >= 50 % of the
hello world's requests per second with a p99 under 50 ms at 50 connections.
Results and their interpretation live in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)

SERVER = """
[server:main]
use = egg:waitress#main
listen = 127.0.0.1:{port}
threads = {threads}
"""

PORTAL_APP = """
[app:main]
use = egg:qizhengtong
pyramid.reload_templates = false
pyramid.default_locale_name = zh_CN
sqlalchemy.url = sqlite:///{db}
qzt.storage_dir = {tmp}/files
qzt.search.index_dir = {tmp}/index
qzt.session.secure = false
qzt.page_cache.entries = {entries}
"""

HELLO_APP = """
[app:main]
use = call:hello:main
"""

# Warnings only: a log line per request would measure the terminal, not the app.
# waitress warns about its task queue whenever 50 connections outnumber its
# threads, which is the point of the exercise.
LOGGING = """
[loggers]
keys = root, queue

[logger_queue]
level = ERROR
handlers =
qualname = waitress.queue

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx/3xx answers plus socket errors
    cpu_us: float = 0.0  # server CPU time per request: steadier than req/s on a busy box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without QZT_* overrides, so the .ini files say everything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QZT_")}
    env.update(extra)
    return env


def write_ini(path: str, app: str, port: int, threads: int) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write(app + SERVER.format(port=port, threads=threads) + LOGGING)
    return path


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def serving(ini: str, port: int, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``pserve ini`` in its own process; yields its base URL and pid, stops it after."""
    proc = subprocess.Popen([os.path.join(BIN, "pserve"), ini], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(name: str, text: str) -> Result:
    """Pick requests/s, p50, p99 and error counts out of ``wrk --latency`` output."""
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s))\s*$", text, re.M))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s+(\d+) requests in", text, re.M)
    if rps is None or total is None or "50" not in percentiles or "99" not in percentiles:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return Result(
        name=name,
        rps=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(total.group(1)),
        bad=(int(bad.group(1)) if bad else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
    )


def run_wrk(url: str, seconds: float, connections: int, threads: int) -> str:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        url,
    ]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: tuple[str, int], paths: list[str], label: str, args: argparse.Namespace
) -> list[Result]:
    base, pid = server
    results = []
    for path in paths:
        url = base + path
        run_wrk(url, args.warmup, args.connections, args.wrk_threads)  # templates, caches
        before = cpu_seconds(pid)
        out = run_wrk(url, args.duration, args.connections, args.wrk_threads)
        result = parse_wrk(f"{label} {path}", out)
        result.cpu_us = (cpu_seconds(pid) - before) * 1e6 / max(result.requests, 1)
        print(
            f"  {result.name:<28} {result.rps:9.1f} req/s"
            f"  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
            f"  {result.cpu_us:6.0f} us CPU/req",
            flush=True,
        )
        results.append(result)
    return results


def seed_portal(ini: str) -> None:
    qzt = os.path.join(BIN, "qzt")
    for step in ("migrate", "seed"):
        subprocess.run([qzt, "--ini", ini, step], check=True, env=clean_env())


def sample_item(db: str) -> int:
    """The newest published policy: an item page with department, industries, related."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT id FROM content_items WHERE section = 'policy' AND state = 'published'"
            " ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise RuntimeError("the sample data has no published policy")
    return int(row[0])


def report(hello: Result, portal: list[Result], args: argparse.Namespace) -> bool:
    print()
    print(
        f"wrk: {args.connections} connections, {args.wrk_threads} threads, "
        f"{args.duration:g} s per URL; waitress threads={args.threads}; {os.cpu_count()} cores;"
        f" page cache {'off' if args.no_cache else 'on'}"
    )
    header = (
        f"{'URL':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs hello':>9}"
        f" {'CPU us/req':>11} {'errors':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in [hello, *portal]:
        ratio = r.rps / hello.rps if hello.rps else 0.0
        print(
            f"{r.name:<28} {r.rps:9.1f} {r.p50_ms:8.1f} {r.p99_ms:8.1f} {ratio:8.0%}"
            f" {r.cpu_us:11.0f} {r.bad:7d}"
        )
    home = portal[0]
    ok = (
        home.rps >= TARGET_RATIO * hello.rps
        and home.p99_ms < TARGET_P99_MS
        and all(r.bad == 0 for r in portal)
    )
    print()
    print(
        f"target: home >= {TARGET_RATIO:.0%} of hello world and p99 < {TARGET_P99_MS:g} ms: "
        + ("met" if ok else "MISSED")
    )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="portal vs hello world under wrk")
    p.add_argument("--duration", type=float, default=15.0, help="seconds measured per URL")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per URL")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--threads", type=int, default=8, help="waitress threads (both apps)")
    p.add_argument("--no-cache", action="store_true", help="turn the page cache off (before/after)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="qzt-bench-")
    try:
        hello_port, portal_port = free_port(), free_port()
        hello_ini = write_ini(os.path.join(tmp, "hello.ini"), HELLO_APP, hello_port, args.threads)
        db = os.path.join(tmp, "portal.sqlite")
        entries = 0 if args.no_cache else 256
        portal_app = PORTAL_APP.format(db=db, tmp=tmp, entries=entries)
        portal_ini = write_ini(
            os.path.join(tmp, "portal.ini"), portal_app, portal_port, args.threads
        )
        seed_portal(portal_ini)
        item = sample_item(db)

        # PYTHONPATH=bench/ lets PasteDeploy find `call:hello:main`; it would also let
        # this file shadow the `portal` package, which is why only hello gets it.
        print("hello world (bench/hello.py)")
        with serving(hello_ini, hello_port, clean_env(PYTHONPATH=HERE)) as server:
            (hello,) = measure(server, ["/"], "hello-world", args)
        print("portal (seeded SQLite)")
        with serving(portal_ini, portal_port, clean_env()) as server:
            portal = measure(server, ["/", "/policies", f"/content/{item}"], "portal", args)
        return 0 if report(hello, portal, args) else 1
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
