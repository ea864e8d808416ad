"""Assignment: who may take a ticket in hand, taking it, assigning it to another admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain.access import Access
from ..domain.models import Action, Ticket, User
from ..errors import ValidationError
from ..i18n import _
from ..store import accounts, tickets, utcnow

if TYPE_CHECKING:
    from .session import SessionContext


class Assignment:
    """`Prendre en charge` and `Assigner à…`, each with its history entry."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def assignees(self) -> list[User]:
        """Who a ticket can be assigned to (the admins), by name."""
        ctx = self.ctx
        ctx.require(Access.ASSIGN)
        async with ctx.db.transaction() as conn:
            # The role filter only narrows the read; the access function decides below.
            candidates = await accounts.with_admin_role(conn)
        return [u for u in candidates if ctx.allowed(Access.BE_ASSIGNED, user=u)]

    async def take(self, ticket_id: int) -> Ticket:
        """`Prendre en charge`: assign the ticket to oneself."""
        user = self.ctx.require(Access.ASSIGN)
        return await self.assign(ticket_id, user.id)

    async def assign(self, ticket_id: int, assignee_id: int | None) -> Ticket:
        """Assign a ticket to an admin, or unassign it (None), with its history entry."""
        ctx = self.ctx
        now = utcnow()

        async def write(conn: AsyncConnection, row) -> str:
            name = ""
            if assignee_id is not None:
                # Locked: a simultaneous demotion waits for this assignment, or comes first
                # and is seen here.
                target = await accounts.by_id(conn, assignee_id, lock=True)
                if target is None or not ctx.allowed(Access.BE_ASSIGNED, user=accounts.user_of(target)):
                    raise ValidationError(_("Seul un administrateur peut prendre un ticket en charge."))
                name = target.nom
            if row.assigne_id == assignee_id:
                if assignee_id is None:
                    raise ValidationError(_("Le ticket n'est assigné à personne."))
                raise ValidationError(_("Le ticket est déjà pris en charge par {name}.").format(name=name))
            await tickets.update(conn, ticket_id, now, assigne_id=assignee_id)
            await ctx._write_history(conn, ticket_id, Action.ASSIGNED, None, None, name, now)
            await ctx.audit(
                conn,
                AuditEvent.ADMIN_ACTION,
                f"assign ticket={ticket_id} to={assignee_id if assignee_id else '-'}",
            )
            return name

        ticket, name = await ctx.tickets.changed(ticket_id, Access.ASSIGN, write)
        ctx.log("assigned id=%s to=%r", ticket_id, name or None)
        return ticket
