"""Finding tickets: one's own, all of them, those assigned, the admins' search, people to pick."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import validation
from ..domain.access import Access
from ..domain.models import TicketFilter, TicketPage, TicketSort, TicketSummary, User
from ..store import accounts, search

if TYPE_CHECKING:
    from .session import SessionContext

# Longest text looked for in the admin's list, and most users offered by one search.
SEARCH_TEXT_MAX = 100
USER_MATCHES_MAX = 9


class Finding:
    """Every list of tickets, each from the store's one ticket-summary select."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    def _reader(self, user: User) -> search.Reader:
        return search.Reader(user.id, with_internal=self.ctx.sees_internal(), now=self.ctx.services.clock())

    async def my_tickets(self) -> list[TicketSummary]:
        user = self.ctx.require(Access.CREATE_TICKET)
        async with self.ctx.db.transaction() as conn:
            return await search.written_by(conn, self._reader(user), user.id)

    async def all_tickets(self) -> list[TicketSummary]:
        user = self.ctx.require(Access.LIST_ALL)
        async with self.ctx.db.transaction() as conn:
            return await search.every(conn, self._reader(user))

    async def assigned_tickets(self) -> list[TicketSummary]:
        """The tickets assigned to this admin that are not resolved yet, newest first."""
        user = self.ctx.require(Access.BE_ASSIGNED)
        async with self.ctx.db.transaction() as conn:
            return await search.open_assigned_to(conn, self._reader(user), user.id)

    async def search_tickets(
        self,
        filters: TicketFilter | None = None,
        sort: TicketSort = TicketSort.URGENCY_DESC,
        page: int = 1,
        page_size: int = 20,
    ) -> TicketPage:
        """One page of every user's tickets matching `filters`, and how many match in all.

        A page past the end gives the last one.
        """
        user = self.ctx.require(Access.LIST_ALL)
        filters = filters or TicketFilter()
        page_size = max(1, min(page_size, 200))
        text = validation.search_text(filters.text)[:SEARCH_TEXT_MAX]
        async with self.ctx.db.transaction() as conn:
            items, total, page = await search.page(
                conn, self._reader(user), filters, text, sort, page_size, page
            )
        return TicketPage(items=tuple(items), total=total, page=page, page_size=page_size)

    async def find_users(self, text: str, *, admins_only: bool = False) -> list[User]:
        """Accounts whose name or e-mail contains `text` (admins), a few, by name."""
        self.ctx.require(Access.LIST_ALL)
        text = validation.search_text(text)[:SEARCH_TEXT_MAX]
        async with self.ctx.db.transaction() as conn:
            return await accounts.matching(conn, text, USER_MATCHES_MAX, admins_only=admins_only)
