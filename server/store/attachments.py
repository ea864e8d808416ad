"""Attachments: their rows and their bytes, in blocks (MariaDB's bytes travel as hex)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import attachment_blocks as blocks
from .schema import attachments as pieces
from .schema import tickets

# Bytes per stored block.
BLOCK_SIZE = 256 * 1024

COLUMNS = (
    pieces.c.id,
    pieces.c.ticket_id,
    pieces.c.nom,
    pieces.c.taille,
    pieces.c.sha256,
    pieces.c.type_contenu,
    pieces.c.auteur_id,
    pieces.c.auteur_nom,
    pieces.c.created_at,
)


def _mysql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "mysql"


async def begin(
    conn: AsyncConnection, ticket_id: int, name: str, user_id: int, user_name: str, now: datetime
) -> int:
    """A new, incomplete attachment row; its id."""
    result = await conn.execute(
        sa.insert(pieces).values(
            ticket_id=ticket_id,
            nom=name,
            auteur_id=user_id,
            auteur_nom=user_name,
            complet=False,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


async def add_block(conn: AsyncConnection, piece_id: int, number: int, data: bytes) -> None:
    # aiomysql mangles some binary parameters: MariaDB receives hex and decodes it itself.
    value = sa.func.unhex(data.hex()) if _mysql(conn) else data
    await conn.execute(sa.insert(blocks).values(piece_id=piece_id, numero=number, donnees=value))


async def block(conn: AsyncConnection, piece_id: int, number: int) -> bytes | None:
    column = sa.func.hex(blocks.c.donnees) if _mysql(conn) else blocks.c.donnees
    value = (
        await conn.execute(sa.select(column).where(blocks.c.piece_id == piece_id, blocks.c.numero == number))
    ).scalar()
    if value is None:
        return None
    return bytes.fromhex(value) if _mysql(conn) else bytes(value)


async def finish(conn: AsyncConnection, piece_id: int, name: str, size: int, sha256: str, kind: str) -> bool:
    """Mark the upload complete under its final name; False if its row is gone (ticket deleted)."""
    result = await conn.execute(
        sa.update(pieces)
        .where(pieces.c.id == piece_id)
        .values(nom=name, taille=size, sha256=sha256, type_contenu=kind, complet=True)
    )
    return result.rowcount == 1


async def discard(conn: AsyncConnection, piece_id: int) -> None:
    """Delete an attachment; its blocks go with it."""
    await conn.execute(sa.delete(blocks).where(blocks.c.piece_id == piece_id))
    await conn.execute(sa.delete(pieces).where(pieces.c.id == piece_id))


async def discard_incomplete(conn: AsyncConnection, begun_before: datetime) -> int:
    """Uploads left incomplete, begun before `begun_before`: deleted; how many."""
    query = sa.select(pieces.c.id).where(pieces.c.complet == sa.false(), pieces.c.created_at < begun_before)
    ids = (await conn.execute(query)).scalars().all()
    for piece_id in ids:
        await discard(conn, piece_id)
    return len(ids)


async def of_ticket(conn: AsyncConnection, ticket_id: int) -> list:
    """A ticket's complete attachments, oldest first."""
    query = (
        sa.select(*COLUMNS)
        .where(pieces.c.ticket_id == ticket_id, pieces.c.complet == sa.true())
        .order_by(pieces.c.created_at, pieces.c.id)
    )
    return list((await conn.execute(query)).all())


async def by_name(conn: AsyncConnection, ticket_id: int, name: str):
    query = sa.select(*COLUMNS).where(
        pieces.c.ticket_id == ticket_id, pieces.c.nom == name, pieces.c.complet == sa.true()
    )
    return (await conn.execute(query.order_by(pieces.c.id))).first()


async def by_id(conn: AsyncConnection, ticket_id: int, piece_id: int):
    """A complete attachment of that ticket, by its id."""
    query = sa.select(*COLUMNS).where(
        pieces.c.id == piece_id, pieces.c.ticket_id == ticket_id, pieces.c.complet == sa.true()
    )
    return (await conn.execute(query)).first()


async def names(conn: AsyncConnection, ticket_id: int) -> set[str]:
    query = sa.select(pieces.c.nom).where(pieces.c.ticket_id == ticket_id, pieces.c.complet == sa.true())
    return set((await conn.execute(query)).scalars().all())


async def ticket_total(conn: AsyncConnection, ticket_id: int) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(pieces.c.taille), 0)).where(
        pieces.c.ticket_id == ticket_id
    )
    return int((await conn.execute(query)).scalar() or 0)


async def user_total_since(conn: AsyncConnection, user_id: int, since: datetime) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(pieces.c.taille), 0)).where(
        pieces.c.auteur_id == user_id, pieces.c.created_at >= since
    )
    return int((await conn.execute(query)).scalar() or 0)


async def ticket_authors(conn: AsyncConnection, author_id: int | None) -> list[tuple[int, int]]:
    """(ticket id, author id) of every ticket, or of one author's; by id."""
    query = sa.select(tickets.c.id, tickets.c.auteur_id).order_by(tickets.c.id)
    if author_id is not None:
        query = query.where(tickets.c.auteur_id == author_id)
    return [(int(r.id), int(r.auteur_id)) for r in (await conn.execute(query)).all()]


async def ticket_author(conn: AsyncConnection, ticket_id: int, *, lock: bool = False) -> int | None:
    query = sa.select(tickets.c.auteur_id).where(tickets.c.id == ticket_id)
    return (await conn.execute(query.with_for_update() if lock else query)).scalar()
