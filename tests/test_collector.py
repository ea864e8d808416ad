"""The collection policy: young objects frozen once looked at, closed sessions' cycles reclaimed."""

from __future__ import annotations

import gc
import weakref

from server.collector import RECLAIM_MIN, Collector


class Node:
    """An object in a reference cycle, as a closed session's application is."""

    def __init__(self) -> None:
        self.me = self


def cycles(n: int) -> list[weakref.ref]:
    refs = []
    for _ in range(n):
        node = Node()
        refs.append(weakref.ref(node))
    return refs


async def test_a_step_freezes_what_lives_and_a_reclaim_frees_frozen_cycles():
    collector = Collector(lambda: 0)
    collector.start()
    try:
        kept = [Node() for _ in range(10)]
        collector.step()
        # Frozen: the collector's passes no longer walk them.
        assert all(o is not kept[0] for o in gc.get_objects())
        refs = [weakref.ref(node) for node in kept]
        del kept
        gc.collect()
        # Cycles among frozen objects are out of the automatic passes' reach...
        assert all(ref() is not None for ref in refs)
        collector.reclaim()
        # ...and freed by the reclaim.
        assert all(ref() is None for ref in refs)
    finally:
        await collector.stop()


async def test_young_cycles_are_freed_before_being_frozen():
    collector = Collector(lambda: 0)
    collector.start()
    try:
        refs = cycles(100)
        collector.step()
        assert all(ref() is None for ref in refs)
    finally:
        await collector.stop()


async def test_a_step_reclaims_once_enough_sessions_have_closed():
    open_sessions = 100
    collector = Collector(lambda: open_sessions)
    collector.start()
    try:
        # Half of those still open: 50 closings, not one fewer.
        for _ in range(49):
            collector.session_closed()
        collector.step()
        assert collector.reclaims == 0
        collector.session_closed()
        collector.step()
        assert collector.reclaims == 1
        # Counted from zero again: the next step does not walk everything once more.
        collector.step()
        assert collector.reclaims == 1
        # Four replaced screens weigh one closed session.
        for _ in range(4 * 50):
            collector.screen_replaced()
        collector.step()
        assert collector.reclaims == 2
        # Counted anew; with few sessions open, RECLAIM_MIN closings are enough.
        open_sessions = 2
        for _ in range(RECLAIM_MIN):
            collector.session_closed()
        collector.step()
        assert collector.reclaims == 3
    finally:
        await collector.stop()
