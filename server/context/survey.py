"""`Votre avis (1 à 5)`: the requester's satisfaction with a resolved ticket, asked once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import validation
from ..domain.access import Access
from ..domain.models import Action, Status, Ticket
from ..errors import ValidationError
from ..i18n import _
from ..store import ratings, tickets

if TYPE_CHECKING:
    from .session import SessionContext

# The tickets asked at login, at most: one screen each, then the main menu; the others wait
# for the next login.
AT_LOGIN = 3


class Survey:
    """The question asked once per ticket, answered or skipped, on every front end alike."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def rate(self, ticket_id: int, score: int | str, comment: str = "") -> Ticket:
        """The requester's score (1 to 5) and optional comment, with its history entry."""
        score = validation.rating(score)
        comment = validation.rating_comment(comment)
        ticket = await self._answer(ticket_id, score, comment)
        self.ctx.log("rated id=%s score=%s length=%s", ticket_id, score, len(comment))
        return ticket

    async def skip_rating(self, ticket_id: int) -> Ticket:
        """The requester passed: the question is not asked again (no history entry)."""
        ticket = await self._answer(ticket_id, None, "")
        self.ctx.log("rating skipped id=%s", ticket_id)
        return ticket

    async def _answer(self, ticket_id: int, score: int | None, comment: str) -> Ticket:
        ctx = self.ctx
        now = ctx.services.clock()

        async def write(conn: AsyncConnection, _row) -> None:
            # The ticket's row is locked: two front ends answering at once take turns, and the
            # second reads the first's row (the key would refuse it anyway).
            if await ratings.of_ticket(conn, ticket_id) is not None:
                raise ValidationError(_("Vous avez déjà donné votre avis sur ce ticket."))
            assert ctx.user is not None
            await ratings.insert(conn, ticket_id, ctx.user.id, score, comment, now)
            if score is not None:
                await ctx._write_history(conn, ticket_id, Action.RATED, None, None, str(score), now)

        ticket, _done = await ctx.tickets.changed(ticket_id, Access.RATE, write)
        return ticket

    async def waiting_ratings(self) -> list[Ticket]:
        """The user's resolved or closed tickets never asked yet, newest first (a few)."""
        ctx = self.ctx
        if ctx.user is None:
            return []
        async with ctx.db.transaction() as conn:
            ids = await tickets.status_ids(conn)
            asked = [ids[Status.RESOLVED], ids[Status.CLOSED]]
            found = await ratings.waiting(conn, ctx.user.id, asked, AT_LOGIN)
            loaded = [await ctx.tickets.load(conn, ticket_id) for ticket_id in found]
        return [t for t in loaded if ctx.survey_due(t)]
