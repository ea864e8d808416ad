"""History: the `historique` entries of a ticket, written and read (internal notes or not)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Action, HistoryEntry, Status
from .schema import history, statuses


@dataclass(frozen=True)
class Entry:
    """One entry to write: who, what, the statuses it moved between, its text."""

    ticket_id: int
    actor_id: int | None
    actor_name: str
    action: Action
    old_status_id: int | None = None
    new_status_id: int | None = None
    details: str = ""
    internal: bool = False


async def insert(conn: AsyncConnection, entry: Entry, now) -> None:
    await conn.execute(
        history.insert().values(
            ticket_id=entry.ticket_id,
            acteur_id=entry.actor_id,
            acteur_nom=entry.actor_name,
            action=entry.action.value,
            ancien_statut_id=entry.old_status_id,
            nouveau_statut_id=entry.new_status_id,
            details=entry.details,
            created_at=now,
            interne=entry.internal,
        )
    )


def _entries(ticket_id: int):
    """A ticket's entries in order, with the labels of the statuses they moved between."""
    old = statuses.alias("ancien")
    new = statuses.alias("nouveau")
    return (
        sa.select(history, old.c.libelle.label("ancien"), new.c.libelle.label("nouveau"))
        .outerjoin(old, old.c.id == history.c.ancien_statut_id)
        .outerjoin(new, new.c.id == history.c.nouveau_statut_id)
        .where(history.c.ticket_id == ticket_id)
        .order_by(history.c.created_at, history.c.id)
    )


def _entry(e) -> HistoryEntry:
    return HistoryEntry(
        id=e.id,
        actor_name=e.acteur_nom,
        action=Action(e.action),
        old_status=Status(e.ancien) if e.ancien else None,
        new_status=Status(e.nouveau) if e.nouveau else None,
        details=e.details or "",
        created_at=e.created_at,
        internal=bool(e.interne),
    )


async def of_ticket(
    conn: AsyncConnection, ticket_id: int, *, with_internal: bool
) -> tuple[HistoryEntry, ...]:
    """A ticket's entries in order; internal notes only `with_internal`."""
    query = _entries(ticket_id)
    if not with_internal:
        query = query.where(history.c.interne == sa.false())
    return tuple(_entry(e) for e in await conn.execute(query))


async def since(
    conn: AsyncConnection, ticket_id: int, moment, *, exclude_actor: int | None
) -> list[HistoryEntry]:
    """A ticket's entries written from `moment` on, internal notes never, without those of
    `exclude_actor` (what a mail to that person reports)."""
    query = _entries(ticket_id).where(history.c.created_at >= moment, history.c.interne == sa.false())
    if exclude_actor is not None:
        query = query.where(sa.or_(history.c.acteur_id.is_(None), history.c.acteur_id != exclude_actor))
    return [_entry(e) for e in await conn.execute(query)]
