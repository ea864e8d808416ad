"""Tickets: statuses, the `tickets` rows created, locked and changed, and one ticket in full."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Status, Urgency
from .schema import categories, places, ratings, statuses, tickets, users

author = users.alias("auteur")
assignee = users.alias("assigne")


def with_names(query: sa.Select, *, catalogues: bool = True) -> sa.Select:
    """`query` over tickets joined to what names a ticket: its status, author and assignee, and
    with `catalogues` its category and place (the columns are the caller's to choose)."""
    query = (
        query.join(statuses, statuses.c.id == tickets.c.statut_id)
        .join(author, author.c.id == tickets.c.auteur_id)
        .outerjoin(assignee, assignee.c.id == tickets.c.assigne_id)
    )
    if catalogues:
        query = query.outerjoin(categories, categories.c.id == tickets.c.categorie_id).outerjoin(
            places, places.c.id == tickets.c.lieu_id
        )
    return query


async def status_ids(conn: AsyncConnection) -> dict[Status, int]:
    """Each status's id: the one way statuses are read."""
    return {Status(r.libelle): r.id for r in await conn.execute(sa.select(statuses))}


async def insert(
    conn: AsyncConnection,
    title: str,
    description: str,
    urgency: Urgency,
    author_id: int,
    status_id: int,
    now,
    *,
    category_id: int | None = None,
    assignee_id: int | None = None,
    place_id: int | None = None,
    due_at=None,
    follows: int | None = None,
) -> int:
    result = await conn.execute(
        tickets.insert().values(
            suite_de=follows,
            echeance=due_at,
            categorie_id=category_id,
            lieu_id=place_id,
            assigne_id=assignee_id,
            titre=title,
            description=description,
            urgence=urgency.value,
            auteur_id=author_id,
            statut_id=status_id,
            created_at=now,
            updated_at=now,
        )
    )
    return result.inserted_primary_key[0]


async def made(conn: AsyncConnection, ticket_id: int, author_id: int, created_at) -> int | None:
    """The ticket's id if it is in the database as inserted by this author at that moment."""
    query = sa.select(tickets.c.id).where(
        tickets.c.id == ticket_id, tickets.c.auteur_id == author_id, tickets.c.created_at == created_at
    )
    return (await conn.execute(query)).scalar()


async def lock(conn: AsyncConnection, ticket_id: int):
    """The ticket's author, status, assignee, due date and status label, locked until the
    transaction ends."""
    query = (
        sa.select(
            tickets.c.auteur_id,
            tickets.c.statut_id,
            tickets.c.assigne_id,
            tickets.c.categorie_id,
            tickets.c.lieu_id,
            tickets.c.echeance,
            tickets.c.pause_depuis,
            statuses.c.libelle,
        )
        .join(statuses, statuses.c.id == tickets.c.statut_id)
        .where(tickets.c.id == ticket_id)
        .with_for_update(of=tickets)
    )
    return (await conn.execute(query)).first()


async def lock_of_user(conn: AsyncConnection, user_id: int) -> None:
    """Lock the tickets an account wrote or was assigned, as every ticket change locks them."""
    await conn.execute(
        sa.select(tickets.c.id)
        .where(sa.or_(tickets.c.auteur_id == user_id, tickets.c.assigne_id == user_id))
        .with_for_update()
    )


async def update(conn: AsyncConnection, ticket_id: int, now, **values) -> None:
    """Set `updated_at` and any of statut_id, assigne_id, categorie_id, lieu_id, echeance,
    pause_depuis."""
    await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(updated_at=now, **values))


async def author_of(conn: AsyncConnection, ticket_id: int) -> int | None:
    """The id of the ticket's author (None if there is no such ticket)."""
    return (await conn.execute(sa.select(tickets.c.auteur_id).where(tickets.c.id == ticket_id))).scalar()


async def row(conn: AsyncConnection, ticket_id: int):
    """The ticket with its status label, author's, assignee's, category's and place's names, and
    its requester's rating if asked (None if missing)."""
    query = (
        with_names(
            sa.select(
                tickets,
                statuses.c.libelle,
                author.c.nom.label("auteur_nom"),
                assignee.c.nom.label("assigne_nom"),
                categories.c.nom.label("categorie_nom"),
                places.c.nom.label("lieu_nom"),
                ratings.c.ticket_id.label("avis_demande"),
                ratings.c.note.label("avis_note"),
                ratings.c.commentaire.label("avis_commentaire"),
            )
        )
        .outerjoin(ratings, ratings.c.ticket_id == tickets.c.id)
        .where(tickets.c.id == ticket_id)
    )
    return (await conn.execute(query)).first()


async def quiet_resolved(conn: AsyncConnection, resolved_id: int, before, limit: int) -> list[int]:
    """Resolved tickets whose requester has not answered since before `before`, oldest first."""
    query = (
        sa.select(tickets.c.id)
        .where(tickets.c.statut_id == resolved_id, tickets.c.resolu_depuis < before)
        .order_by(tickets.c.resolu_depuis, tickets.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def close_if_quiet(
    conn: AsyncConnection, ticket_id: int, resolved_id: int, closed_id: int, before, now
) -> bool:
    """Close the ticket if it is still resolved and unanswered since before `before`: one
    conditional UPDATE, so that of two processes closing at once only one changes the row."""
    result = await conn.execute(
        tickets.update()
        .where(
            tickets.c.id == ticket_id,
            tickets.c.statut_id == resolved_id,
            tickets.c.resolu_depuis < before,
        )
        .values(statut_id=closed_id, resolu_depuis=None, updated_at=now)
    )
    return result.rowcount == 1


async def follow_up_of(conn: AsyncConnection, ticket_id: int) -> int | None:
    """The ticket opened as this one's follow-up, if any."""
    query = sa.select(tickets.c.id).where(tickets.c.suite_de == ticket_id).order_by(tickets.c.id).limit(1)
    return (await conn.execute(query)).scalar()
