"""Garbage collection for thousands of sessions: short pauses, and the memory still comes back.

Each open session holds about 950 objects the cycle collector can see. CPython's full
collection walks every one of them while no other code runs: at 5,000 sessions, some 4.8
million objects, over a second during which no screen answers a key. So, ten times a
second, what is not frozen (the objects of the last tenth of a second) is collected and
everything is then frozen (`gc.freeze()`): the collector's automatic passes, full ones
included, then walk only the objects of the last tenth of a second too.

Frozen objects are still freed when their last reference goes, as most of what a keystroke
makes is. A closed session is too: its screens, its application and its connection break
their reference cycles when they end (Terminal, AppSession, SupportSSHServer, the gate's
protocol), so refcounting frees them. What would still end in a cycle (a path the breaking
misses) only comes back with a collection that walks the frozen objects too, the reclaim,
whose pause is that of a full collection (about 0.4 µs an object: 2 s at 5,000 sessions).
So the reclaim runs only for what is known to be left: each closed session and replaced
screen is watched through a weak reference, and once the watched that are still there weigh
half of the open sessions (at least RECLAIM_MIN; a screen weighs a quarter of a session),
every object is walked once. When every closed session is freed, as measured, it never runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import weakref
from collections.abc import Callable

log = logging.getLogger("support.memory")

# Seconds between two looks. What reaches the old generation in between is walked by the
# automatic full passes until it is frozen, and the look itself walks it: the pause grows with
# the keys typed meanwhile. bench/scale.py at 5,000 sessions with 5 % typing (250 keys a
# second), longest pause once open: 59.5 ms every quarter of a second, 41.7 ms every tenth
# (keys p99 86 → 79 ms, the CPU the same within the noise).
INTERVAL = 0.1
# Closed sessions left unfreed that call for a reclaim, at the least.
RECLAIM_MIN = 20
# What a replaced screen left unfreed weighs, counted in closed sessions.
SCREEN_SHARE = 0.25


class Collector:
    """Runs the collection policy above for one process (started and stopped by app.py)."""

    def __init__(self, open_sessions: Callable[[], int], interval: float = INTERVAL) -> None:
        self.open_sessions = open_sessions
        self.interval = interval
        self._task: asyncio.Task | None = None
        # What has ended (a session's terminal, its connection, a replaced screen) and should
        # be gone, with its weight: an entry that stays was left in a cycle, or is still held.
        self._ended: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()
        self.reclaims = 0

    def start(self) -> None:
        # What start-up built (modules, the shared key bindings, the pool) lives as long as
        # the process: collected once, then never walked again.
        gc.collect()
        gc.freeze()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def ended(self, part: object, weight: float = 1.0) -> None:
        """`part` (of a session that closed, or a replaced screen) should be freed from now on."""
        self._ended[part] = weight

    def left(self) -> float:
        """The weight of the ended parts still there, in closed sessions."""
        return sum(self._ended.values())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.step()

    def step(self) -> None:
        # Every generation, which after the last step's freeze holds only what was made
        # since (a tenth of a second's objects), not the sessions. A pass of the young
        # ones alone would leave what an automatic pass promoted to the old generation while
        # it was still in use: a redraw's own cycles (prompt_toolkit's recursive closures,
        # which hold the screen being drawn) would then be frozen as they die.
        gc.collect()
        gc.freeze()
        if self._ended and self.left() >= max(RECLAIM_MIN, self.open_sessions() // 2):
            self.reclaim()

    def reclaim(self) -> None:
        """Walk every object once, frozen ones included, to free what ended in cycles."""
        started = time.perf_counter()
        left = self.left()
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        # What is still there now is held, not in a cycle: another reclaim would not free it.
        still = self.left()
        self._ended.clear()
        self.reclaims += 1
        log.info(
            "memory reclaimed: %d objects freed, left by %.0f closed sessions (%.0f still held), "
            "in %.0f ms (%d open)",
            freed,
            left,
            still,
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
