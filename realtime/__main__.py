"""``qzt-realtime --ini development.ini`` / ``python -m realtime``: run the server.

Prints ``realtime listening on HOST:PORT`` once it accepts connections (``--port 0``
picks a free port: tests and benchmarks read it from that line), and stops
gracefully on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys

DEFAULT_INI = "development.ini"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qzt-realtime", description=__doc__)
    parser.add_argument("--ini", default=DEFAULT_INI, help="settings file (default %(default)s)")
    parser.add_argument("--host", help="overrides qzt.realtime.host")
    parser.add_argument("--port", type=int, help="overrides qzt.realtime.port (0 = any free)")
    return parser.parse_args(argv)


async def serve(settings: dict[str, object], host: str | None, port: int | None) -> None:
    from realtime.server import RealtimeServer

    server = RealtimeServer(settings)
    bound = await server.start(host, port)
    tune_gc()
    print(
        f"realtime listening on {host or settings['qzt.realtime.host']}:{bound}"
        f" (broker {settings['qzt.realtime.broker']})",
        flush=True,
    )
    await server.run_until_signal()


def tune_gc() -> None:
    """The cyclic garbage collector stops the event loop while it runs. Under load
    (bench/chat.py's closed loop) its full passes took 100–140 ms every few seconds,
    walking every object loaded at start (modules, mappers, compiled statements):
    those live as long as the process, so they are frozen out of it. A larger
    youngest generation lets short-lived objects (messages in flight) die by
    reference counting before they are promoted, so full passes become rare; the
    loop's worst stall fell to ~20 ms. Done here, for the server's own process only
    (not when tests run the server in a thread of theirs)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ini = os.path.abspath(args.ini)
    if os.path.exists(ini):
        from pyramid.paster import setup_logging

        from portal.cli import load_settings

        setup_logging(ini)
        settings = load_settings(ini)
    else:
        from portal import settings as settings_mod

        logging.basicConfig(level=logging.INFO)
        settings = settings_mod.load({"here": os.getcwd()})
    asyncio.run(serve(settings, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
