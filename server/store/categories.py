"""Categories: the `categories` rows, read, added, renamed, (de)activated, with their defaults."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import Category, Urgency
from . import catalogue
from .schema import categories, users

default_assignee = users.alias("assigne_defaut")


def _category(row) -> Category:
    return Category(
        id=row.id,
        name=row.nom,
        active=bool(row.active),
        default_assignee_id=row.assigne_defaut_id,
        default_assignee_name=row.assigne_defaut_nom,
        default_urgency=Urgency(row.urgence_defaut) if row.urgence_defaut else None,
    )


def _select():
    return sa.select(categories, default_assignee.c.nom.label("assigne_defaut_nom")).outerjoin(
        default_assignee, default_assignee.c.id == categories.c.assigne_defaut_id
    )


async def listed(conn: AsyncConnection, *, active_only: bool) -> list[Category]:
    """The categories in the order they were made (the seed's first, `Autre` among them)."""
    query = _select().order_by(categories.c.id)
    if active_only:
        query = query.where(categories.c.active == sa.true())
    return [_category(r) for r in await conn.execute(query)]


async def by_id(conn: AsyncConnection, category_id: int, *, lock: bool = False) -> Category | None:
    """One category (None if there is no such one); `lock` holds it until the transaction ends."""
    query = _select().where(categories.c.id == category_id)
    if lock:
        query = query.with_for_update(of=categories)
    row = (await conn.execute(query)).first()
    return _category(row) if row else None


async def offered(conn: AsyncConnection, category_id: int):
    """Whether a new ticket may take this category, and its default assignee's id; locked until
    the transaction ends (None if there is no such category). Reads no account."""
    query = (
        sa.select(categories.c.active, categories.c.assigne_defaut_id)
        .where(categories.c.id == category_id)
        .with_for_update()
    )
    return (await conn.execute(query)).first()


# names(conn), insert(conn, name), update(conn, id, …): any of nom, active, assigne_defaut_id,
# urgence_defaut.
_named = catalogue.Named(categories)
names, insert, update = _named.names, _named.insert, _named.update
