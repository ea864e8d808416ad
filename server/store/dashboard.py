"""The admins' dashboard: open tickets counted, tickets created per day, answer and fix delays."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Action
from .schema import categories, history, tickets
from .search import late_condition

# History actions that answer the requester.
RESPONSE_ACTIONS = (Action.STATUS_CHANGED.value, Action.REPLY.value)


async def open_counts(conn: AsyncConnection, open_ids: list[int]) -> tuple[dict[int, int], dict[str, int]]:
    """Tickets of these statuses, by status id and by urgency label."""
    mine = tickets.c.statut_id.in_(open_ids)
    by_status = sa.select(tickets.c.statut_id, sa.func.count()).where(mine).group_by(tickets.c.statut_id)
    by_urgency = sa.select(tickets.c.urgence, sa.func.count()).where(mine).group_by(tickets.c.urgence)
    return dict((await conn.execute(by_status)).all()), dict((await conn.execute(by_urgency)).all())


async def late_count(conn: AsyncConnection, open_ids: list[int], now: datetime) -> int:
    """Open tickets past their due date (on the status and due date index)."""
    query = sa.select(sa.func.count()).where(late_condition(open_ids, now))
    return (await conn.execute(query)).scalar_one()


async def created_per_day(conn: AsyncConnection, since: datetime) -> dict[str, int]:
    """Tickets created since `since`, by day ("YYYY-MM-DD")."""
    day = sa.func.date(tickets.c.created_at)
    query = sa.select(day, sa.func.count()).where(tickets.c.created_at >= since).group_by(day)
    return {str(d): n for d, n in await conn.execute(query)}


async def created_by_category(conn: AsyncConnection, since: datetime) -> list[tuple[str | None, int]]:
    """Tickets created since `since` by category name (None: without one), most first: counted
    on the date and category index alone, then named (a handful of categories)."""
    counted = (
        sa.select(tickets.c.categorie_id, sa.func.count().label("n"))
        .where(tickets.c.created_at >= since)
        .group_by(tickets.c.categorie_id)
        .subquery()
    )
    query = (
        sa.select(categories.c.nom, counted.c.n)
        .select_from(counted.outerjoin(categories, categories.c.id == counted.c.categorie_id))
        .order_by(counted.c.n.desc(), categories.c.nom)
    )
    return [(name, n) for name, n in await conn.execute(query)]


async def delays(conn: AsyncConnection, resolved_id: int, since: datetime) -> list:
    """Per ticket created since `since`: its `created_at`, its first answer by someone else
    (`first_response`), its first `Résolu` (`resolved`)."""
    answer = sa.and_(
        history.c.action.in_(RESPONSE_ACTIONS),
        history.c.interne == sa.false(),
        # A deleted admin's entries (acteur_id NULL) were answers all the same.
        sa.or_(history.c.acteur_id.is_(None), history.c.acteur_id != tickets.c.auteur_id),
    )
    resolved = sa.and_(
        history.c.action == Action.STATUS_CHANGED.value,
        history.c.nouveau_statut_id == resolved_id,
    )
    query = (
        sa.select(
            tickets.c.id,
            tickets.c.created_at,
            sa.func.min(sa.case((answer, history.c.created_at)), type_=sa.DateTime).label("first_response"),
            sa.func.min(sa.case((resolved, history.c.created_at)), type_=sa.DateTime).label("resolved"),
        )
        .join(history, history.c.ticket_id == tickets.c.id)
        .where(tickets.c.created_at >= since)
        .group_by(tickets.c.id, tickets.c.created_at)
    )
    return (await conn.execute(query)).all()
