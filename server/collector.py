"""Garbage collection for thousands of sessions: short pauses, and the memory still comes back.

Each open session holds about 950 objects the cycle collector can see. CPython's full
collection walks every one of them while no other code runs: at 5,000 sessions, some 4.8
million objects, over a second during which no screen answers a key. So, four times a
second, the young generations are collected and everything is then frozen (`gc.freeze()`):
the collector's automatic passes, full ones included, then walk only the objects of the
last quarter second.

Frozen objects are still freed when their last reference goes, as most of what a keystroke
makes is. A closed session is different: its application, its screens and its connection
end in reference cycles (some 1,700 objects), which only a collection that walks the frozen
objects too can free; so does a screen once the application's cache of key bindings lets
it go. That is the reclaim: once as many sessions have closed since the last one as half of
those still open (and at least RECLAIM_MIN; four replaced screens count as one session),
every object is walked once. The memory closed sessions hold is so bounded by about half of
what the open ones use, and the reclaim's pause (about 0.4 µs an object: some 80 ms at 100
sessions, 2 s at 5,000) is paid once per so many closings instead of at every collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("support.memory")

# Seconds between two looks. What reaches the old generation in between is walked by the
# automatic full passes until it is frozen: at hundreds of keys a second (screens' caches),
# a quarter of a second of it takes about 10 ms, a whole second 40 ms.
INTERVAL = 0.25
# Closed sessions since the last reclaim that call for the next one, at the least.
RECLAIM_MIN = 20
# What a replaced screen leaves to the reclaim, counted in closed sessions.
SCREEN_SHARE = 0.25


class Collector:
    """Runs the collection policy above for one process (started and stopped by app.py)."""

    def __init__(self, open_sessions: Callable[[], int], interval: float = INTERVAL) -> None:
        self.open_sessions = open_sessions
        self.interval = interval
        self._task: asyncio.Task | None = None
        self._closed = 0.0
        self.reclaims = 0

    def start(self) -> None:
        # What start-up built (modules, the shared key bindings, the pool) lives as long as
        # the process: collected once, then never walked again.
        gc.collect()
        gc.freeze()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def session_closed(self) -> None:
        self._closed += 1

    def screen_replaced(self) -> None:
        # A screen that lived long enough to be frozen ends in a cycle too (it holds its key
        # bindings, whose handlers hold it), a fraction of a closed session's objects.
        self._closed += SCREEN_SHARE

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.step()

    def step(self) -> None:
        # The two young generations only: objects made since their last pass. A full pass
        # would also walk what reached the old generation since the last look (screens'
        # caches, at hundreds of keys a second), and what is frozen rarely ends in a cycle
        # but for a closed session, which the reclaim is for. (Counting the frozen objects
        # would walk them all: gc.get_freeze_count() is a list's length.)
        gc.collect(1)
        gc.freeze()
        if self._closed >= max(RECLAIM_MIN, self.open_sessions() // 2):
            self.reclaim()

    def reclaim(self) -> None:
        """Walk every object once, frozen ones included, to free closed sessions' cycles."""
        started = time.perf_counter()
        closed, self._closed = self._closed, 0
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        self.reclaims += 1
        log.info(
            "memory reclaimed: %d objects of %.0f closed sessions freed in %.0f ms (%d open)",
            freed,
            closed,
            (time.perf_counter() - started) * 1000,
            self.open_sessions(),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gc.unfreeze()
