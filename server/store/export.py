"""Every ticket for the admins' export, read in batches by ticket number (keyset pages)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Action
from .schema import history, statuses, tickets
from .tickets import assignee, author


def _count(action: Action):
    return (
        sa.select(sa.func.count())
        .select_from(history)
        .where(history.c.ticket_id == tickets.c.id, history.c.action == action.value)
        .scalar_subquery()
    )


async def batch(conn: AsyncConnection, after_id: int, size: int, since: datetime | None) -> list:
    """Up to `size` tickets numbered above `after_id` (created since `since`), by number."""
    query = (
        sa.select(
            tickets.c.id,
            tickets.c.titre,
            tickets.c.urgence,
            statuses.c.libelle,
            author.c.nom.label("auteur_nom"),
            author.c.email.label("auteur_email"),
            assignee.c.email.label("assigne_email"),
            tickets.c.created_at,
            tickets.c.updated_at,
            _count(Action.REPLY).label("reponses"),
            _count(Action.NOTE).label("notes"),
        )
        .join(statuses, statuses.c.id == tickets.c.statut_id)
        .join(author, author.c.id == tickets.c.auteur_id)
        .outerjoin(assignee, assignee.c.id == tickets.c.assigne_id)
        .where(tickets.c.id > after_id)
        .order_by(tickets.c.id)
        .limit(size)
    )
    if since is not None:
        query = query.where(tickets.c.created_at >= since)
    return list(await conn.execute(query))
