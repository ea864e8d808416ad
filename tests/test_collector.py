"""The collection policy: young objects frozen once looked at, what ended in cycles reclaimed."""

from __future__ import annotations

import gc
import weakref

from server.collector import RECLAIM_MIN, SCREEN_SHARE, Collector


class Node:
    """An object in a reference cycle, as a closed session's application is."""

    def __init__(self) -> None:
        self.me = self


class Part:
    """An object freed by its last reference going, as a closed session's parts are."""


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


async def test_cycles_that_reached_the_old_generation_are_freed_before_being_frozen():
    collector = Collector(lambda: 0)
    collector.start()
    try:
        # In use through an automatic pass or two (a redraw's own cycles): promoted, then dead.
        nodes = [Node() for _ in range(100)]
        gc.collect(0)
        gc.collect(1)
        refs = [weakref.ref(node) for node in nodes]
        del nodes
        collector.step()
        assert all(ref() is None for ref in refs)
    finally:
        await collector.stop()


async def test_a_step_reclaims_once_enough_of_what_ended_is_left_in_cycles():
    open_sessions = 100
    collector = Collector(lambda: open_sessions)
    collector.start()
    try:
        # Ended and freed at once, as closed sessions are: nothing to reclaim, however many.
        for _ in range(500):
            collector.ended(Part())
        collector.step()
        assert collector.reclaims == 0 and collector.left() == 0
        # Ended in cycles, and frozen: half of those still open, 50, not one fewer.
        left = [Node() for _ in range(50)]
        collector.step()
        for node in left[:49]:
            collector.ended(node)
        collector.step()
        assert collector.reclaims == 0
        collector.ended(left[49])
        refs = [weakref.ref(node) for node in left]
        del left, node
        collector.step()
        assert collector.reclaims == 1
        assert all(ref() is None for ref in refs)
        # Four replaced screens weigh one closed session.
        screens = [Node() for _ in range(4 * 50)]
        collector.step()
        for screen in screens:
            collector.ended(screen, SCREEN_SHARE)
        del screens, screen
        collector.step()
        assert collector.reclaims == 2
        # What is still held after a reclaim is not watched any more: no reclaim in a loop.
        held = [Node() for _ in range(RECLAIM_MIN)]
        open_sessions = 2
        for node in held:
            collector.ended(node)
        collector.step()
        assert collector.reclaims == 3
        collector.step()
        assert collector.reclaims == 3 and collector.left() == 0
    finally:
        await collector.stop()
