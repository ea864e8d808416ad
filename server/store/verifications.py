"""Codes that prove an address (`verifications_email`): sent, tried, used once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import codes
from .schema import email_checks, users


async def start(
    conn: AsyncConnection, user_id: int, email: str, code_hash: str, now: datetime, expires_at: datetime
) -> int:
    """A new code for `email`; the account's earlier pending codes end."""
    await codes.void_unused(conn, email_checks, user_id, now)
    result = await conn.execute(
        email_checks.insert().values(
            utilisateur_id=user_id, email=email, code_hash=code_hash, created_at=now, expires_at=expires_at
        )
    )
    return result.inserted_primary_key[0]


async def pending(conn: AsyncConnection, user_id: int, now: datetime, *, lock: bool = False):
    """The account's code still waiting to be typed (its address, its hash), or None."""
    query = (
        sa.select(email_checks)
        .where(email_checks.c.utilisateur_id == user_id, codes.live(email_checks, now))
        .order_by(email_checks.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def wrong_try(conn: AsyncConnection, check_id: int, now: datetime, limit: int) -> int:
    """Count a wrong code against the check; past `limit` tries it ends. The tries so far."""
    await conn.execute(
        email_checks.update().where(email_checks.c.id == check_id).values(essais=email_checks.c.essais + 1)
    )
    tries = (
        await conn.execute(sa.select(email_checks.c.essais).where(email_checks.c.id == check_id))
    ).scalar_one()
    if tries >= limit:
        await conn.execute(email_checks.update().where(email_checks.c.id == check_id).values(expires_at=now))
    return tries


async def use(conn: AsyncConnection, check_id: int, now: datetime) -> bool:
    result = await conn.execute(
        email_checks.update()
        .where(email_checks.c.id == check_id, codes.live(email_checks, now))
        .values(used_at=now)
    )
    return result.rowcount == 1


async def verified(conn: AsyncConnection, user_id: int, email: str) -> None:
    """The account's address is now `email`, proven."""
    await conn.execute(users.update().where(users.c.id == user_id).values(email=email, email_verifie=True))
