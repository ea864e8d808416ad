"""Canned answers: the `reponses_types` rows, read, added, changed, deleted."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.models import CannedAnswer, Status
from . import catalogue
from .schema import canned_answers, statuses


def _select():
    return sa.select(canned_answers, statuses.c.libelle).outerjoin(
        statuses, statuses.c.id == canned_answers.c.statut_id
    )


def _answer(row) -> CannedAnswer:
    return CannedAnswer(
        id=row.id, title=row.titre, text=row.texte, status=Status(row.libelle) if row.libelle else None
    )


async def listed(conn: AsyncConnection) -> list[CannedAnswer]:
    """Every canned answer, by title."""
    return [_answer(r) for r in await conn.execute(_select().order_by(canned_answers.c.titre))]


async def by_id(conn: AsyncConnection, answer_id: int, *, lock: bool = False) -> CannedAnswer | None:
    query = _select().where(canned_answers.c.id == answer_id)
    if lock:
        query = query.with_for_update(of=canned_answers)
    row = (await conn.execute(query)).first()
    return _answer(row) if row else None


async def titles(conn: AsyncConnection) -> dict[int, str]:
    """Every title by id, locked (see catalogue.names)."""
    return await catalogue.names(conn, canned_answers.c.titre)


async def insert(conn: AsyncConnection, title: str, text: str, now) -> int:
    result = await conn.execute(canned_answers.insert().values(titre=title, texte=text, created_at=now))
    return result.inserted_primary_key[0]


async def update(conn: AsyncConnection, answer_id: int, **values) -> None:
    """Set any of titre, texte, statut_id."""
    await catalogue.update(conn, canned_answers, answer_id, **values)


async def delete(conn: AsyncConnection, answer_id: int) -> int:
    return (await conn.execute(canned_answers.delete().where(canned_answers.c.id == answer_id))).rowcount
