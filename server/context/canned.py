"""Canned answers: the admins' templates, listed for a reply, filled in, and managed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain import validation
from ..domain.access import Access
from ..domain.models import CannedAnswer, Status, Ticket, fill_canned
from ..errors import ValidationError
from ..i18n import N_, _
from ..store import canned, tickets, utcnow
from .catalogue import refuse_taken

if TYPE_CHECKING:
    from .session import SessionContext

UNKNOWN = N_("Cette réponse type n'existe plus.")


class Canned:
    """`Réponses types`: inserted into a reply by staff, written under `Paramètres`."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def canned_answers(self) -> list[CannedAnswer]:
        """Every canned answer, by title (staff, to answer with)."""
        self.ctx.require(Access.USE_CANNED)
        async with self.ctx.db.transaction() as conn:
            return await canned.listed(conn)

    def filled_canned(self, answer: CannedAnswer, ticket: Ticket) -> str:
        """The answer's text for this ticket, its fields filled in, the agent being this user."""
        user = self.ctx.require(Access.USE_CANNED, ticket.author_id)
        return fill_canned(answer.text, ticket, user.name)

    async def _title(self, conn: AsyncConnection, title: str, answer_id: int | None) -> str:
        title = validation.canned_title(title)
        refuse_taken(await canned.titles(conn), title, answer_id, _("Une réponse type porte déjà ce titre."))
        return title

    async def _write(self, details: str, change) -> CannedAnswer | None:
        ctx = self.ctx
        ctx.require(Access.MANAGE_CANNED)

        async def write(conn: AsyncConnection) -> CannedAnswer | None:
            target, deleted = await change(conn)
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"canned={target} {details}")
            return None if deleted else await canned.by_id(conn, target)

        done = await ctx.write(write)
        ctx.log("canned answer %s", details)
        return done

    async def _existing(self, conn: AsyncConnection, answer_id: int) -> CannedAnswer:
        found = await canned.by_id(conn, answer_id, lock=True)
        if found is None:
            raise ValidationError(_(UNKNOWN))
        return found

    async def add_canned(self, title: str, text: str) -> CannedAnswer:
        body = validation.canned_text(text)

        async def change(conn: AsyncConnection):
            return await canned.insert(conn, await self._title(conn, title, None), body, utcnow()), False

        done = await self._write("added", change)
        assert done is not None
        return done

    async def rename_canned(self, answer_id: int, title: str) -> CannedAnswer:
        async def change(conn: AsyncConnection):
            await self._existing(conn, answer_id)
            await canned.update(conn, answer_id, titre=await self._title(conn, title, answer_id))
            return answer_id, False

        done = await self._write("renamed", change)
        assert done is not None
        return done

    async def rewrite_canned(self, answer_id: int, text: str) -> CannedAnswer:
        body = validation.canned_text(text)

        async def change(conn: AsyncConnection):
            await self._existing(conn, answer_id)
            await canned.update(conn, answer_id, texte=body)
            return answer_id, False

        done = await self._write("rewritten", change)
        assert done is not None
        return done

    async def set_canned_status(self, answer_id: int, status: Status | str | None) -> CannedAnswer:
        """The status sending the answer sets (None: the status stays as it is)."""
        level = None if status is None else validation.status(status)

        async def change(conn: AsyncConnection):
            await self._existing(conn, answer_id)
            status_id = (await tickets.status_ids(conn))[level] if level else None
            await canned.update(conn, answer_id, statut_id=status_id)
            return answer_id, False

        done = await self._write(f"status={level}", change)
        assert done is not None
        return done

    async def delete_canned(self, answer_id: int) -> None:
        async def change(conn: AsyncConnection):
            await self._existing(conn, answer_id)
            await canned.delete(conn, answer_id)
            return answer_id, True

        await self._write("deleted", change)
