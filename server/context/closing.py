"""Automatic closing: resolved tickets their requester left unanswered for N days are closed by
the service, each with its history entry, and the requester's mail about it, in the closing's
transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Action, Status
from ..store import tickets
from .resources import SessionResources
from .session import SessionContext

log = logging.getLogger("support.closing")

# Tickets closed per transaction-free look; the next look takes the rest.
BATCH = 200


async def close_quiet_tickets(services: SessionResources, days: int) -> list[int]:
    """Close what has waited `days` days since it was resolved or its requester last answered;
    the ids this process closed (another process sharing the database closes the others)."""
    now = services.clock()
    before = now - timedelta(days=days)
    ctx = SessionContext(services, "service")
    async with services.db.transaction() as conn:
        ids = await tickets.status_ids(conn)
        found = await tickets.quiet_resolved(conn, ids[Status.RESOLVED], before, BATCH)
    closed = []
    for ticket_id in found:

        async def close(conn: AsyncConnection, ticket_id: int = ticket_id) -> bool:
            resolved, final = ids[Status.RESOLVED], ids[Status.CLOSED]
            if not await tickets.close_if_quiet(conn, ticket_id, resolved, final, before, now):
                return False  # answered, reopened or closed by another process meanwhile
            await ctx._write_history(
                conn, ticket_id, Action.AUTO_CLOSED, resolved, final, str(days), now, by_service=True
            )
            return True

        # The session's write: the mail the history entry queued is sent as soon as it commits.
        if await ctx.write(close):
            closed.append(ticket_id)
    if closed:
        log.info("closed %d resolved tickets left unanswered %d days: %s", len(closed), days, closed)
    return closed
