"""The event-loop lag probe behind /healthz's ``loop_lag_ms``."""

from __future__ import annotations

import asyncio
import time

from realtime.hub import LoopLag


def test_summary_of_recorded_samples():
    lag = LoopLag()
    assert lag.summary() == {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}
    for ms in range(1, 101):  # 1 … 100 ms
        lag.samples.append(ms / 1000)
    lag.worst = 0.25
    assert lag.summary() == {"p50": 51.0, "p99": 100.0, "max": 250.0, "samples": 100}
    lag.reset()
    assert lag.summary()["samples"] == 0


def test_a_blocked_loop_shows_as_lag():
    async def scenario():
        lag = LoopLag(every=0.01)
        lag.start()
        while not lag.samples:
            await asyncio.sleep(0.01)
        time.sleep(0.2)  # work that holds the loop, as a synchronous call would
        count = len(lag.samples)
        while len(lag.samples) == count:
            await asyncio.sleep(0.01)
        await lag.stop()
        return lag.summary()

    summary = asyncio.run(scenario())
    # the probe slept 10 ms before the block began: it woke at least 190 ms late
    assert summary["max"] >= 190
