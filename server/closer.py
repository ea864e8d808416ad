"""The periodic task that closes resolved tickets left unanswered (context/closing.py); every
process runs one, and the closing's conditional UPDATE keeps two from closing a ticket twice."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .context import SessionResources, close_quiet_tickets
from .periodic import Periodic

log = logging.getLogger("support.closing")


class AutoCloser:
    """Looks every `interval` seconds, from the start; a failed look is retried, an outage logged once."""

    def __init__(self, services: Callable[[], SessionResources], days: int, interval: float) -> None:
        # Read at each look: the resources in use then (tests move their clock).
        self.services = services
        self.days = days
        self._periodic = Periodic(
            "auto-closer",
            self.look,
            interval,
            log=log,
            failed="automatic closing: look failed (%s); retrying",
        )

    async def look(self) -> list[int]:
        return await close_quiet_tickets(self.services(), self.days)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
