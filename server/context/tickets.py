"""Tickets and their conversation: creating, reading, status, replies, notes, reopening."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain import validation
from ..domain.access import Access
from ..domain.due import OpeningHours, is_late, opening_hours, target_minutes
from ..domain.models import (
    OPEN_STATUSES,
    Action,
    LiveNotice,
    Rating,
    Status,
    Ticket,
    TicketChange,
    Urgency,
    User,
)
from ..errors import NotFound, ServiceRestarting, ValidationError
from ..i18n import _
from ..metrics import STATUS_CHANGES, TICKETS_CREATED, status_label
from ..store import accounts, categories, history, places, reads, tickets, utcnow
from ..store import attachments as files
from .attachments import attachment_of
from .resources import TicketForm

if TYPE_CHECKING:
    from .session import SessionContext

# What a change does to a locked ticket (its row: author, status, assignee), in its transaction.
Steps = Callable[[AsyncConnection, object], Awaitable[object]]


class Tickets:
    """One ticket at a time: what it says, who may see which of its entries, how it changes."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    # Creating ---------------------------------------------------------------------------

    async def create_ticket(
        self,
        title: str,
        description: str,
        urgency: Urgency | str,
        form: TicketForm | None = None,
        category_id: int | None = None,
        place_id: int | None = None,
        follows: int | None = None,
    ) -> int:
        """A new ticket `En attente`, with its history entry; its id. With a category, its
        default assignee (still an admin) takes the ticket at once, with an entry that says so.

        With `form`, sending the same form again (a second Enter, a retry after an error)
        returns the ticket it already made instead of making another.
        """
        ctx = self.ctx
        user = ctx.require(Access.CREATE_TICKET)
        title = validation.title(title)
        description = validation.description(description)
        urgency = validation.urgency(urgency)
        form = form or TicketForm()
        if form.committed and form.ticket_id is not None:
            return form.ticket_id
        if form.ticket_id is not None:
            # The last try inserted this id, then failed: if its commit went through after all
            # (the answer was lost with the connection), that is the form's ticket.
            made = await self._made_by(form, user)
            if made is not None:
                return made
        now = ctx.services.clock()
        due_at = self.due_at(now, urgency)

        async def insert(conn: AsyncConnection) -> int:
            waiting = (await tickets.status_ids(conn))[Status.WAITING]
            if follows is not None:
                await self.locked(conn, follows, Access.FOLLOW_UP)
                if await tickets.follow_up_of(conn, follows) is not None:
                    raise ValidationError(_("Ce ticket a déjà un ticket de suite."))
            assignee = await self._category_assignee(conn, category_id)
            if place_id is not None and not await places.offered(conn, place_id):
                raise ValidationError(_("Ce lieu n'est plus proposé : choisissez-en un autre."))
            ticket_id = await tickets.insert(
                conn,
                title,
                description,
                urgency,
                user.id,
                waiting,
                now,
                category_id=category_id,
                assignee_id=assignee.id if assignee else None,
                place_id=place_id,
                due_at=due_at,
                follows=follows,
            )
            form.ticket_id, form.created_at, form.committed = ticket_id, now, False
            await ctx._write_history(conn, ticket_id, Action.CREATED, None, waiting, urgency.value, now)
            if assignee is not None:
                await ctx._write_history(
                    conn, ticket_id, Action.CATEGORY_ASSIGNED, None, None, assignee.name, now
                )
            return ticket_id

        ticket_id = await ctx.write(insert)
        form.committed = True
        TICKETS_CREATED.inc()
        ctx.log("ticket created id=%s urgency=%s", ticket_id, urgency.value)
        return ticket_id

    def opening(self) -> OpeningHours:
        d = self.ctx.services.due
        return opening_hours(d.days, d.hours, d.holidays, d.timezone)

    def due_at(self, filed: datetime, urgency: Urgency):
        """When a ticket of this urgency filed at `filed` is due, in the centre's opening hours."""
        d, hours = self.ctx.services.due, self.opening()
        return hours.add(filed, target_minutes(urgency, hours, d.high_hours, d.medium_days, d.low_days))

    def _pause(self, row, by_requester: bool, status: Status, now: datetime) -> dict:
        """What an answer does to the due date's pause: an admin's answer to a ticket `En
        cours` starts it (the ticket waits for its requester); the requester's answer ends it,
        the opening time waited added to the due date."""
        if by_requester:
            if row.pause_depuis is None:
                return {}
            values: dict = {"pause_depuis": None}
            if row.echeance is not None:
                values["echeance"] = self.opening().resumed(row.echeance, row.pause_depuis, now)
            return values
        if status is Status.IN_PROGRESS and row.pause_depuis is None and row.echeance is not None:
            return {"pause_depuis": now}
        return {}

    async def _category_assignee(self, conn: AsyncConnection, category_id: int | None) -> User | None:
        """Who takes a new ticket of this category at once (None: nobody); the category must be
        one offered to new tickets."""
        if category_id is None:
            return None
        category = await categories.offered(conn, category_id)
        if category is None or not category.active:
            raise ValidationError(_("Cette catégorie n'est plus proposée : choisissez-en une autre."))
        if category.assigne_defaut_id is None:
            return None
        # Locked: a demotion meanwhile waits for this ticket, or comes first and is seen here.
        row = await accounts.by_id(conn, category.assigne_defaut_id, lock=True)
        if row is None:
            return None
        assignee = accounts.user_of(row)
        return assignee if self.ctx.allowed(Access.BE_ASSIGNED, user=assignee) else None

    async def _made_by(self, form: TicketForm, user: User) -> int | None:
        """The ticket of `form`'s last try if it is in the database, else None."""
        assert form.ticket_id is not None
        async with self.ctx.db.transaction() as conn:
            found = await tickets.made(conn, form.ticket_id, user.id, form.created_at)
        if found is None:
            form.ticket_id = None
            return None
        form.committed = True
        self.ctx.log("ticket created id=%s (found after a failed answer)", found)
        return found

    # Reading ----------------------------------------------------------------------------

    async def ticket(self, ticket_id: int) -> Ticket:
        """One ticket with its history; `Ticket introuvable` if missing or not the user's."""
        async with self.ctx.db.transaction() as conn:
            return await self.load(conn, ticket_id)

    async def load(self, conn: AsyncConnection, ticket_id: int) -> Ticket:
        """The ticket in `conn`'s transaction, once the user may view it, with the entries they may see."""
        row = await tickets.row(conn, ticket_id)
        self.ctx.require(Access.VIEW_TICKET, row.auteur_id if row else None)
        if row is None:
            raise NotFound()
        entries = await history.of_ticket(
            conn, ticket_id, with_internal=self.ctx.sees_internal(row.auteur_id)
        )
        return Ticket(
            id=row.id,
            title=row.titre,
            description=row.description,
            urgency=Urgency(row.urgence),
            status=Status(row.libelle),
            author_id=row.auteur_id,
            author_name=row.auteur_nom,
            created_at=row.created_at,
            updated_at=row.updated_at,
            history=entries,
            assignee_id=row.assigne_id,
            assignee_name=row.assigne_nom,
            category_id=row.categorie_id,
            category_name=row.categorie_nom,
            attachments=tuple(attachment_of(r) for r in await files.of_ticket(conn, ticket_id)),
            place_id=row.lieu_id,
            place_name=row.lieu_nom,
            due_at=row.echeance,
            late=is_late(Status(row.libelle), row.echeance, self.ctx.services.clock(), row.pause_depuis),
            due_paused=row.pause_depuis is not None and Status(row.libelle) in OPEN_STATUSES,
            follows_id=row.suite_de,
            follow_up_id=await tickets.follow_up_of(conn, ticket_id),
            places_offered=self.ctx.allowed(Access.CHANGE_PLACE, row.auteur_id)
            and await places.any_active(conn),
            rating=None if row.avis_demande is None else Rating(row.avis_note, row.avis_commentaire or ""),
        )

    async def open_ticket(self, ticket_id: int) -> Ticket:
        """`ticket`, remembered as read up to its newest entry: its unread marker goes."""
        ticket = await self.ticket(ticket_id)
        await self.mark_read(ticket)
        return ticket

    async def mark_read(self, ticket: Ticket) -> None:
        """Remember that the user has seen this ticket's history as loaded (never backwards).

        Asks for itself that the user may view the ticket: a ticket not theirs leaves no marker.
        """
        ctx = self.ctx
        if ctx.user is None or not ticket.history:
            return
        newest = max(entry.id for entry in ticket.history)
        try:
            async with ctx.db.transaction() as conn:
                author_id = await tickets.author_of(conn, ticket.id)
                if author_id is None or not ctx.allowed(Access.VIEW_TICKET, author_id):
                    return
                seen = await reads.seen(conn, ctx.user.id, ticket.id)
        except ServiceRestarting:
            return
        # Reading a ticket again is common: no write (no lock) when nothing new was seen.
        if seen is not None and seen >= newest:
            return
        user_id = ctx.user.id
        try:
            await ctx.db.write(lambda conn: reads.remember(conn, user_id, ticket.id, newest))
        except ServiceRestarting:
            # A marker, not the user's action: left for the next time the ticket is opened.
            return

    def live_notice(self, change: TicketChange) -> LiveNotice | None:
        """What this user is told of a change read from the feed; None: not theirs to know.

        The change feed asks every session this, so the access rule stays the one function's.
        """
        ctx, user = self.ctx, self.ctx.user
        if user is None or change.actor_id == user.id:
            return None
        if not ctx.allowed(Access.VIEW_TICKET, change.author_id):
            return None
        if change.internal and not ctx.sees_internal(change.author_id):
            return None
        if change.author_id == user.id:
            closing = (Action.STATUS_CHANGED, Action.AUTO_CLOSED)
            if change.action in closing and change.new_status is not None:
                return LiveNotice.STATUS_CHANGED
            if change.action == Action.REPLY:
                return LiveNotice.REPLY
        elif change.action == Action.CREATED and ctx.allowed(Access.LIST_ALL):
            return LiveNotice.NEW_TICKET
        return LiveNotice.QUIET

    # Changing ---------------------------------------------------------------------------

    async def locked(self, conn: AsyncConnection, ticket_id: int, access: Access):
        """The ticket's row, locked until the transaction ends, once `access` is allowed."""
        row = await tickets.lock(conn, ticket_id)
        self.ctx.require(Access.VIEW_TICKET, row.auteur_id if row else None)
        if row is None:
            raise NotFound()
        self.ctx.require(access, row.auteur_id, Status(row.libelle))
        return row

    async def changed(self, ticket_id: int, access: Access, steps: Steps) -> tuple[Ticket, object]:
        """Lock the ticket once `access` is allowed, run `steps` on it, and read it back, in one
        of the user's writes: the ticket as it now is, and what `steps` returned."""

        async def write(conn: AsyncConnection) -> tuple[Ticket, object]:
            row = await self.locked(conn, ticket_id, access)
            result = await steps(conn, row)
            return await self.load(conn, ticket_id), result

        return await self.ctx.write(write)

    async def change_status(self, ticket_id: int, new_status: Status | str) -> Ticket:
        """Set a ticket's status (admins), with its history entry in the same transaction."""
        ctx = self.ctx
        new_status = validation.status(new_status)
        if new_status is Status.CLOSED:
            raise ValidationError(_("Seul le service ferme un ticket, après des jours sans réponse."))
        now = ctx.services.clock()

        async def update(conn: AsyncConnection, row) -> str:
            if row.libelle == new_status.value:
                raise ValidationError(_("Le ticket est déjà « {status} ».").format(status=new_status.label))
            new_id = (await tickets.status_ids(conn))[new_status]
            await tickets.update(conn, ticket_id, now, statut_id=new_id, **_resolved(new_status, now))
            await ctx._write_history(conn, ticket_id, Action.STATUS_CHANGED, row.statut_id, new_id, "", now)
            details = f"status ticket={ticket_id} from={row.libelle} to={new_status.value}"
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, details)
            return row.libelle

        ticket, old_label = await self.changed(ticket_id, Access.CHANGE_STATUS, update)
        STATUS_CHANGES.labels(status_label(new_status)).inc()
        ctx.log("status changed id=%s from=%r to=%r", ticket_id, old_label, new_status.value)
        return ticket

    async def reply(self, ticket_id: int, text: str, status: Status | str | None = None) -> Ticket:
        """Add a message to the ticket's conversation (its requester and admins). With `status`
        (a canned answer's), the ticket takes it in the same transaction, each with its entry."""
        ctx = self.ctx
        text = validation.reply(text)
        new_status = None if status is None else validation.status(status)
        if new_status is Status.CLOSED:
            raise ValidationError(_("Seul le service ferme un ticket, après des jours sans réponse."))
        now = ctx.services.clock()

        async def write(conn: AsyncConnection, row) -> bool:
            if new_status is not None:
                ctx.require(Access.CHANGE_STATUS, row.auteur_id)
            changes = new_status is not None and row.libelle != new_status.value
            new_id = (await tickets.status_ids(conn))[new_status] if changes and new_status else None
            by_requester = row.auteur_id == ctx.user.id
            after = new_status or Status(row.libelle)
            values = self._pause(row, by_requester, after, now)
            if new_id is not None or (by_requester and after is Status.RESOLVED):
                # Resolved now, or the requester answered: the days before closing start again.
                values.update(_resolved(after, now))
            await tickets.update(conn, ticket_id, now, **values, **({"statut_id": new_id} if new_id else {}))
            await ctx._write_history(conn, ticket_id, Action.REPLY, None, None, text, now)
            if row.auteur_id != ctx.user.id:  # staff answering someone: an admin action
                await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"reply ticket={ticket_id}")
            if new_id is not None and new_status is not None:
                await ctx._write_history(
                    conn, ticket_id, Action.STATUS_CHANGED, row.statut_id, new_id, "", now
                )
                details = f"status ticket={ticket_id} from={row.libelle} to={new_status.value}"
                await ctx.audit(conn, AuditEvent.ADMIN_ACTION, details)
            return changes

        ticket, changed = await self.changed(ticket_id, Access.REPLY, write)
        if changed and new_status is not None:
            STATUS_CHANGES.labels(status_label(new_status)).inc()
        ctx.log("reply id=%s length=%s status=%s", ticket_id, len(text), new_status)
        return ticket

    async def add_note(self, ticket_id: int, text: str) -> Ticket:
        """An admin's internal note: in the history, never shown to the requester."""
        ctx = self.ctx
        text = validation.note(text)
        now = utcnow()

        async def write(conn: AsyncConnection, _row) -> None:
            # `updated_at` is left alone: the requester sees it, and must not learn of the note.
            await ctx._write_history(conn, ticket_id, Action.NOTE, None, None, text, now, internal=True)
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"note ticket={ticket_id}")

        ticket, _done = await self.changed(ticket_id, Access.ADD_NOTE, write)
        ctx.log("internal note id=%s length=%s", ticket_id, len(text))
        return ticket

    async def reopen(self, ticket_id: int, text: str) -> Ticket:
        """`Le problème persiste`: the requester's reply puts a resolved ticket back `En cours`."""
        ctx = self.ctx
        text = validation.reply(text)
        now = ctx.services.clock()

        async def write(conn: AsyncConnection, row) -> None:
            if row.libelle != Status.RESOLVED.value:
                raise ValidationError(_("Le ticket n'est pas « Résolu » : répondez-y simplement."))
            in_progress = (await tickets.status_ids(conn))[Status.IN_PROGRESS]
            pause = self._pause(row, True, Status.IN_PROGRESS, now)
            await tickets.update(conn, ticket_id, now, statut_id=in_progress, resolu_depuis=None, **pause)
            await ctx._write_history(conn, ticket_id, Action.REPLY, None, None, text, now)
            await ctx._write_history(conn, ticket_id, Action.REOPENED, row.statut_id, in_progress, "", now)

        ticket, _done = await self.changed(ticket_id, Access.REOPEN, write)
        STATUS_CHANGES.labels(status_label(Status.IN_PROGRESS)).inc()
        ctx.log("reopened id=%s length=%s", ticket_id, len(text))
        return ticket


def _resolved(status: Status, now: datetime) -> dict:
    """Since when a resolved ticket waits for its requester: the service closes it after
    tickets.autoclose_days without an answer (context/closing.py)."""
    return {"resolu_depuis": now if status is Status.RESOLVED else None}
