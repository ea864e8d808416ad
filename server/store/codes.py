"""What the two code tables (`codes_reinitialisation`, `verifications_email`) share: a code is
live until it is used or expires, and a new one ends the account's live ones."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


def live(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """A code of `table` not used yet and not expired at `now`."""
    return sa.and_(table.c.used_at.is_(None), table.c.expires_at > now)


async def void_unused(conn: AsyncConnection, table: sa.Table, user_id: int, now: datetime) -> int:
    """End every live code of the account in `table`; how many."""
    result = await conn.execute(
        table.update().where(table.c.utilisateur_id == user_id, live(table, now)).values(expires_at=now)
    )
    return result.rowcount
