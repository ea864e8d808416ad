"""SSH public keys: the `cles_ssh` rows of an account, and the keys offered for an e-mail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import SshKey
from .schema import ssh_keys, users

if TYPE_CHECKING:
    from ..domain.public_keys import PublicKey


def key_of(row) -> SshKey:
    return SshKey(
        id=row.id,
        algorithm=row.algorithme,
        fingerprint=row.empreinte,
        comment=row.commentaire,
        created_at=row.created_at,
    )


async def of_user(conn: AsyncConnection, user_id: int) -> list[SshKey]:
    """An account's keys, oldest first."""
    rows = await conn.execute(
        sa.select(ssh_keys)
        .where(ssh_keys.c.utilisateur_id == user_id)
        .order_by(ssh_keys.c.created_at, ssh_keys.c.id)
    )
    return [key_of(r) for r in rows]


async def fingerprints(conn: AsyncConnection, user_id: int) -> set[str]:
    query = sa.select(ssh_keys.c.empreinte).where(ssh_keys.c.utilisateur_id == user_id)
    return set((await conn.execute(query)).scalars())


async def insert(conn: AsyncConnection, user_id: int, key: PublicKey, now) -> int:
    """A new key's id; `IntegrityError` if the account has it already (the unique index)."""
    result = await conn.execute(
        ssh_keys.insert().values(
            utilisateur_id=user_id,
            algorithme=key.algorithm,
            cle_publique=key.openssh,
            empreinte=key.fingerprint,
            commentaire=key.comment,
            created_at=now,
        )
    )
    return result.inserted_primary_key[0]


async def lock(conn: AsyncConnection, key_id: int):
    """The key's row, locked until the transaction ends (None if there is none)."""
    query = sa.select(ssh_keys).where(ssh_keys.c.id == key_id).with_for_update()
    return (await conn.execute(query)).first()


async def delete(conn: AsyncConnection, key_id: int) -> None:
    await conn.execute(ssh_keys.delete().where(ssh_keys.c.id == key_id))


async def of_email(conn: AsyncConnection, email: str) -> list:
    """Rows of the account of `email`, one per registered key, its text as column `cle`."""
    query = (
        sa.select(users, ssh_keys.c.cle_publique.label("cle"))
        .join(ssh_keys, ssh_keys.c.utilisateur_id == users.c.id)
        .where(users.c.email == email)
    )
    return (await conn.execute(query)).all()
