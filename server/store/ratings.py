"""Ratings: the requester's `Votre avis (1 à 5)` on a resolved ticket, written once, read on
the ticket, waiting at login, counted on the dashboard."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import ratings, tickets


async def of_ticket(conn: AsyncConnection, ticket_id: int):
    """The ticket's rating row (score, comment, skipped), or None: never asked."""
    query = sa.select(ratings.c.note, ratings.c.commentaire, ratings.c.passe, ratings.c.created_at).where(
        ratings.c.ticket_id == ticket_id
    )
    return (await conn.execute(query)).first()


async def insert(
    conn: AsyncConnection, ticket_id: int, user_id: int, score: int | None, comment: str, now: datetime
) -> None:
    """The requester's answer (`score` None: skipped); the key refuses a second one."""
    await conn.execute(
        ratings.insert().values(
            ticket_id=ticket_id,
            utilisateur_id=user_id,
            note=score,
            commentaire=comment or None,
            passe=score is None,
            created_at=now,
        )
    )


async def waiting(conn: AsyncConnection, author_id: int, status_ids: list[int], limit: int) -> list:
    """The author's tickets of these statuses (resolved, closed) never asked yet, newest first
    (on the author's index, each looked up by the ratings' key)."""
    asked = sa.select(ratings.c.ticket_id).where(ratings.c.ticket_id == tickets.c.id).exists()
    query = (
        sa.select(tickets.c.id)
        .where(tickets.c.auteur_id == author_id, tickets.c.statut_id.in_(status_ids), ~asked)
        .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def summary(conn: AsyncConnection, since: datetime) -> tuple[int, float | None]:
    """Answers (not skips) given since `since` and their average score (None: no answer), read
    from the date and score index alone."""
    query = sa.select(sa.func.count(ratings.c.note), sa.func.avg(ratings.c.note)).where(
        ratings.c.created_at >= since
    )
    count, average = (await conn.execute(query)).one()
    return int(count or 0), None if average is None else float(average)
