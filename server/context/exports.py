"""The admins' export: every ticket, streamed in batches, never all held at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain.access import Access
from ..domain.models import ExportedTicket, Status, Urgency
from ..store import export

if TYPE_CHECKING:
    from .session import SessionContext

BATCH = 1000


def _exported(row) -> ExportedTicket:
    return ExportedTicket(
        id=row.id,
        title=row.titre,
        urgency=Urgency(row.urgence),
        status=Status(row.libelle),
        author_name=row.auteur_nom,
        author_email=row.auteur_email,
        assignee_email=row.assigne_email,
        created_at=row.created_at,
        updated_at=row.updated_at,
        replies=int(row.reponses),
        notes=int(row.notes),
    )


class Exports:
    """`export`: one short read per batch, so no transaction stays open while a client reads."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def export_tickets(
        self, since: datetime | None = None, batch: int = BATCH
    ) -> AsyncIterator[list[ExportedTicket]]:
        """Every ticket (created since `since`), by number, `batch` at a time."""
        self.ctx.require(Access.EXPORT)
        after = 0
        while True:
            self.ctx.require(Access.EXPORT)
            async with self.ctx.db.transaction() as conn:
                rows = await export.batch(conn, after, batch, since)
            if not rows:
                return
            yield [_exported(r) for r in rows]
            after = rows[-1].id
