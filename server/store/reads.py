"""Unread markers: the newest history entry each user has seen of each ticket (`lectures`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import history, reads, tickets


async def seen(conn: AsyncConnection, user_id: int, ticket_id: int) -> int | None:
    query = sa.select(reads.c.dernier_historique_id).where(
        reads.c.utilisateur_id == user_id, reads.c.ticket_id == ticket_id
    )
    return (await conn.execute(query)).scalar_one_or_none()


async def remember(conn: AsyncConnection, user_id: int, ticket_id: int, newest: int) -> None:
    """Seen up to `newest` (never backwards, whoever wrote in between)."""
    values = {"utilisateur_id": user_id, "ticket_id": ticket_id, "dernier_historique_id": newest}
    if conn.dialect.name == "mysql":
        upsert = mysql.insert(reads).values(values)
        upsert = upsert.on_duplicate_key_update(
            dernier_historique_id=sa.func.greatest(
                reads.c.dernier_historique_id, upsert.inserted.dernier_historique_id
            )
        )
    else:
        upsert = sqlite.insert(reads).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[reads.c.utilisateur_id, reads.c.ticket_id],
            set_={
                "dernier_historique_id": sa.func.max(
                    reads.c.dernier_historique_id, upsert.excluded.dernier_historique_id
                )
            },
        )
    await conn.execute(upsert)


def unread(user_id: int, *, with_internal: bool) -> sa.Label:
    """For a list query: whether the ticket has history the user has not seen, as `non_lu`.

    Unseen means newer than what `lectures` remembers of their last opening, written by
    someone else, and internal notes only `with_internal`.
    """
    seen_id = (
        sa.select(reads.c.dernier_historique_id)
        .where(reads.c.utilisateur_id == user_id, reads.c.ticket_id == history.c.ticket_id)
        .scalar_subquery()
    )
    newer = sa.select(history.c.id).where(
        history.c.ticket_id == tickets.c.id,
        history.c.id > sa.func.coalesce(seen_id, 0),
        sa.or_(history.c.acteur_id.is_(None), history.c.acteur_id != user_id),
    )
    if not with_internal:
        newer = newer.where(history.c.interne == sa.false())
    return sa.exists(newer).label("non_lu")
