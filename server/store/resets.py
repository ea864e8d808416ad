"""Password reset codes (`codes_reinitialisation`): issued, voided, used once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import codes
from .schema import reset_codes, users

# The user id a reset for an unknown e-mail aims its update at: no account has it, so the
# same statement runs and changes nothing.
NOBODY = 0


async def void_unused(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    """End every code of the account not used yet (an admin's new code, a reset); how many."""
    return await codes.void_unused(conn, reset_codes, user_id, now)


async def insert(
    conn: AsyncConnection,
    user_id: int,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
    issued_by: int | None,
    channel: str,
) -> int:
    result = await conn.execute(
        reset_codes.insert().values(
            utilisateur_id=user_id,
            code_hash=code_hash,
            created_at=now,
            expires_at=expires_at,
            emis_par_id=issued_by,
            canal=channel,
        )
    )
    return result.inserted_primary_key[0]


async def insert_if_verified(
    conn: AsyncConnection, user_id: int, code_hash: str, now: datetime, expires_at: datetime
) -> bool:
    """A code sent by mail, inserted only if `user_id` is an account with a verified address.

    One INSERT … SELECT whether or not such an account exists (NOBODY selects none): asking
    for a code runs the same statements for every e-mail typed.
    """
    verified = sa.select(
        users.c.id,
        sa.literal(code_hash, sa.CHAR(64)),
        sa.literal(now, sa.DateTime),
        sa.literal(expires_at, sa.DateTime),
        sa.literal("mail", sa.String(8)),
    ).where(users.c.id == user_id, users.c.email_verifie == sa.true())
    columns = ["utilisateur_id", "code_hash", "created_at", "expires_at", "canal"]
    result = await conn.execute(reset_codes.insert().from_select(columns, verified))
    return result.rowcount == 1


async def use(conn: AsyncConnection, user_id: int, code_hash: str, now: datetime) -> bool:
    """Mark the code used if it is still unused and unexpired: True for the one caller that did.

    A conditional update, not a read then a write: two resets sent at once with the same
    code both run it, and only one of them changes a row.
    """
    result = await conn.execute(
        reset_codes.update()
        .where(
            reset_codes.c.utilisateur_id == user_id,
            reset_codes.c.code_hash == code_hash,
            codes.live(reset_codes, now),
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


async def known(conn: AsyncConnection, user_id: int, code_hash: str) -> bool:
    """Whether the account ever had this code (used, expired or voided since)."""
    query = sa.select(sa.func.count()).where(
        reset_codes.c.utilisateur_id == user_id, reset_codes.c.code_hash == code_hash
    )
    return (await conn.execute(query)).scalar_one() > 0
