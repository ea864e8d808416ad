"""Account events (`evenements_compte`): written with the change, read by every change feed."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import account_events

EPOCH = datetime(1970, 1, 1)


async def insert(
    conn: AsyncConnection, user_id: int, kind: str, now: datetime, process: str, role: str | None = None
) -> int:
    """`now` to the microsecond (naive UTC); `created_at` keeps its whole seconds."""
    result = await conn.execute(
        account_events.insert().values(
            created_at=now.replace(microsecond=0),
            instant_us=(now - EPOCH) // timedelta(microseconds=1),
            utilisateur_id=user_id,
            evenement=kind,
            role=role,
            processus=process,
        )
    )
    return result.inserted_primary_key[0]


def instant(row) -> datetime:
    """When the event of `row` happened, to the microsecond (naive UTC)."""
    return EPOCH + timedelta(microseconds=row.instant_us)


async def newest_id(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.max(account_events.c.id)))).scalar() or 0


async def rows_after(conn: AsyncConnection, last_id: int, also: list[int], limit: int) -> list:
    """Events with an id above `last_id` or in `also`, by id, at most `limit`."""
    newer = account_events.c.id > last_id
    query = (
        sa.select(account_events)
        .where(sa.or_(newer, account_events.c.id.in_(sorted(also))) if also else newer)
        .order_by(account_events.c.id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()
