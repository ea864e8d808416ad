"""What the admins' catalogues share (categories, places, canned answers): a name unique
whatever its case, each change allowed, audited and logged in its transaction, and a ticket
moved to another row with its history entry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain.access import Access
from ..domain.models import Action, Ticket
from ..errors import ValidationError
from ..i18n import _
from ..store import tickets, utcnow

if TYPE_CHECKING:
    from .session import SessionContext


def refuse_taken(taken: dict[int, str], name: str, own_id: int | None, message: str) -> None:
    """Refuse `name` when another row than `own_id` bears it, whatever its case."""
    # MariaDB's collation compares without case or accents: refuse alike names on both.
    if any(n.casefold() == name.casefold() for i, n in taken.items() if i != own_id):
        raise ValidationError(message)


class Catalogue:
    """A list of named rows that admins add, rename, deactivate and reactivate; each subclass
    says which rows (its store module), who may change them and the sentences it answers."""

    # The right to change the catalogue, and the word its audit and log lines use.
    access: Access
    kind: str
    # The store module of its rows: listed, by_id, names, insert, update.
    store: ModuleType
    # The rule of a name (validation), as a staticmethod.
    rule: Callable[[str], str]
    # Sentences, marked with N_: the row is gone; the name is taken; already (in)active.
    unknown: str
    taken: str
    already_active: str
    already_inactive: str
    # A ticket's column that names its row (categorie_id…), and its history entry's action.
    ticket_column: str
    moved: Action

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def _listed(self, access: Access, *, active_only: bool) -> list[Any]:
        self.ctx.require(access)
        async with self.ctx.db.transaction() as conn:
            return await self.store.listed(conn, active_only=active_only)

    async def _offered(self) -> list[Any]:
        """The active rows, offered to a new ticket."""
        return await self._listed(Access.CREATE_TICKET, active_only=True)

    async def _all(self) -> list[Any]:
        """Every row, deactivated ones too (admins)."""
        return await self._listed(self.access, active_only=False)

    async def _unique_name(self, conn: AsyncConnection, name: str, own_id: int | None) -> str:
        name = self.rule(name)
        refuse_taken(await self.store.names(conn), name, own_id, _(self.taken))
        return name

    async def _write(self, details: str, change: Callable[[AsyncConnection], Awaitable[int]]) -> Any:
        """Run `change(conn)` once allowed, audit it, and return the row as it now is."""
        ctx = self.ctx
        ctx.require(self.access)

        async def write(conn: AsyncConnection) -> Any:
            target = await change(conn)
            found = await self.store.by_id(conn, target)
            if found is None:
                raise ValidationError(_(self.unknown))
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"{self.kind}={target} {details}")
            return found

        found = await ctx.write(write)
        ctx.log("%s id=%s %s", self.kind, found.id, details)
        return found

    async def _existing(self, conn: AsyncConnection, row_id: int) -> Any:
        found = await self.store.by_id(conn, row_id, lock=True)
        if found is None:
            raise ValidationError(_(self.unknown))
        return found

    async def _add(self, name: str) -> Any:
        async def change(conn: AsyncConnection) -> int:
            return await self.store.insert(conn, await self._unique_name(conn, name, None))

        return await self._write("added", change)

    async def _rename(self, row_id: int, name: str) -> Any:
        async def change(conn: AsyncConnection) -> int:
            await self._existing(conn, row_id)
            await self.store.update(conn, row_id, nom=await self._unique_name(conn, name, row_id))
            return row_id

        return await self._write("renamed", change)

    async def _set_active(self, row_id: int, active: bool) -> Any:
        async def change(conn: AsyncConnection) -> int:
            found = await self._existing(conn, row_id)
            if found.active == active:
                raise ValidationError(_(self.already_active) if active else _(self.already_inactive))
            await self.store.update(conn, row_id, active=active)
            return row_id

        return await self._write("activated" if active else "deactivated", change)

    async def _move(self, ticket_id: int, row_id: int | None, access: Access, same: str) -> Ticket:
        """An admin gives a ticket another row (None: none), with its history entry; `same` is
        said (marked N_) when the ticket already has it."""
        ctx = self.ctx
        now = utcnow()

        async def write(conn: AsyncConnection, ticket) -> str:
            new = await self.store.by_id(conn, row_id, lock=True) if row_id is not None else None
            if row_id is not None and new is None:
                raise ValidationError(_(self.unknown))
            current = getattr(ticket, self.ticket_column)
            if current == row_id:
                raise ValidationError(_(same))
            old = await self.store.by_id(conn, current) if current else None
            details = f"{old.name if old else '—'} → {new.name if new else '—'}"
            await tickets.update(conn, ticket_id, now, **{self.ticket_column: row_id})
            await ctx._write_history(conn, ticket_id, self.moved, None, None, details, now)
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"{self.kind} ticket={ticket_id} to={row_id}")
            return details

        ticket, details = await ctx.tickets.changed(ticket_id, access, write)
        ctx.log("%s changed id=%s %r", self.kind, ticket_id, details)
        return ticket
