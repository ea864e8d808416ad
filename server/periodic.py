"""A background task of the process: one step every few seconds, from start until stop. The change
feed, the mail sender and the automatic closing each run one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


def reason_of(exc: BaseException) -> str:
    """What went wrong, in the database's word when it gave one ("unreachable", "pool exhausted")."""
    return getattr(exc, "reason", None) or type(exc).__name__


class Periodic:
    """Runs `step` every `interval` seconds from the start until stopped.

    A step that fails is retried at the next one; an outage is logged once, as `failed` with the
    reason, and its end as what `back()` says (if given). A step that returns true is run again at
    once (more is waiting); `wake()` cuts the wait short.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval: float,
        *,
        log: logging.Logger,
        failed: str,
        back: Callable[[], str] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.log = log
        self.failed = failed
        self.back = back
        self.failing = False
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float = 0.0) -> None:
        """Stop; a step under way is given `grace` seconds to finish before it is cancelled."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), grace)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            more = False
            try:
                more = bool(await self.step())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.failing:
                    self.log.warning(self.failed, reason_of(exc))
                    self.failing = True
            else:
                if self.failing:
                    self.failing = False
                    if self.back is not None:
                        self.log.info(self.back())
            if more and not self._stopping:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
