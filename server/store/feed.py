"""The change feed's reads: history rows by id, with their ticket's author, title and status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import history, statuses, tickets


async def newest_id(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.max(history.c.id)))).scalar() or 0


async def rows_after(conn: AsyncConnection, last_id: int, also: list[int], limit: int) -> list:
    """History rows with an id above `last_id` or in `also`, by id, at most `limit`."""
    newer = history.c.id > last_id
    query = (
        sa.select(
            history.c.id,
            history.c.ticket_id,
            history.c.acteur_id,
            history.c.action,
            history.c.interne,
            statuses.c.libelle,
            tickets.c.auteur_id,
            tickets.c.titre,
        )
        .join(tickets, tickets.c.id == history.c.ticket_id)
        .outerjoin(statuses, statuses.c.id == history.c.nouveau_statut_id)
        .where(sa.or_(newer, history.c.id.in_(sorted(also))) if also else newer)
        .order_by(history.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()
