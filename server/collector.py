"""Garbage collection for thousands of sessions: short pauses, and the memory still comes back.

Each open session holds about 1,100 objects the cycle collector can see. CPython's full
collection walks every one of them while no other code runs: at 5,000 sessions, some 5.5
million objects, over a second during which no screen answers a key. So, once a second, what
was created since the last look is collected and then frozen (`gc.freeze()`): the
collector's automatic passes, full ones included, then walk only the objects of the last
second, a few milliseconds' work.

Frozen objects are still freed when their last reference goes, which is how most of a
screen goes when the next one replaces it. But what ends in a reference cycle once frozen (a
closed session's application and its connection) is only found by a collection that walks
the frozen objects too: that is the reclaim, run when it is cheap (few objects frozen) or when
the frozen objects have grown by half since the last one, which bounds the memory held by
closed sessions to half of what the open ones use.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

log = logging.getLogger("support.memory")

# Seconds between two looks: the young objects of one second take a few milliseconds to walk.
INTERVAL = 1.0
# Growth of the frozen objects since the last reclaim that calls for the next one.
GROWTH = 0.5
# Below this many frozen objects a reclaim takes under about 50 ms on a small machine: it
# is run as soon as they have grown a tenth.
CHEAP = 200_000


class Collector:
    """Runs the collection policy above for one process (started and stopped by app.py)."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._task: asyncio.Task | None = None
        self._after_reclaim = 0
        self.reclaims = 0

    def start(self) -> None:
        # What start-up built (modules, the shared key bindings, the pool) lives as long as
        # the process: collected once, then never walked again.
        gc.collect()
        gc.freeze()
        self._after_reclaim = gc.get_freeze_count()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.step()

    def step(self) -> None:
        # Only what is not frozen is walked: the objects made since the last look.
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        if frozen > self._after_reclaim * (1 + GROWTH) or (
            frozen < CHEAP and frozen > self._after_reclaim * 1.1
        ):
            self.reclaim()

    def reclaim(self) -> None:
        """Walk every object once, frozen ones included, to free closed sessions' cycles."""
        started = time.perf_counter()
        before = gc.get_freeze_count()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        self._after_reclaim = gc.get_freeze_count()
        self.reclaims += 1
        log.info(
            "memory reclaimed: %d objects freed of %d in %.0f ms",
            freed,
            before,
            (time.perf_counter() - started) * 1000,
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gc.unfreeze()
