"""The periodic task that closes resolved tickets left unanswered (context/closing.py); every
process runs one, and the closing's conditional UPDATE keeps two from closing a ticket twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .context import SessionResources, close_quiet_tickets

log = logging.getLogger("support.closing")


class AutoCloser:
    """Looks every `interval` seconds, from the start; a failed look is logged and retried."""

    def __init__(self, services: Callable[[], SessionResources], days: int, interval: float) -> None:
        # Read at each look: the resources in use then (tests move their clock).
        self.services = services
        self.days = days
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def look(self) -> list[int]:
        return await close_quiet_tickets(self.services(), self.days)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="auto-closer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.look()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("automatic closing: look failed (%s); retrying", getattr(exc, "reason", exc))
            await asyncio.sleep(self.interval)
