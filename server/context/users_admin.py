"""Accounts, for admins: the list of users, promotions and demotions, deletions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain import validation
from ..domain.access import Access
from ..domain.models import AccountEvent, AccountEventKind, Role, UserPage, UserSummary
from ..errors import Forbidden, UserNotFound, ValidationError
from ..i18n import N_, _
from ..store import accounts, tickets
from . import account_events

if TYPE_CHECKING:
    from .session import SessionContext

LAST_ADMIN = N_("Impossible : il doit rester au moins un administrateur.")


async def _summary(conn: AsyncConnection, user_id: int) -> UserSummary:
    summary = await accounts.summary(conn, user_id)
    if summary is None:
        raise UserNotFound()
    return summary


class UsersAdmin:
    """The `Utilisateurs` screen's data; there is always at least one admin left."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def list_users(self, search: str = "", offset: int = 0, limit: int = 10) -> UserPage:
        """The page of `limit` accounts holding the one at `offset`, whose name or e-mail
        contains `search`, by name."""
        self.ctx.require(Access.MANAGE_USERS)
        term = search.strip().lower()[: validation.EMAIL_MAX]
        async with self.ctx.db.transaction() as conn:
            items, total, page = await accounts.page(conn, term, offset // limit + 1, limit)
        return UserPage(tuple(items), total, page, limit)

    async def user_summary(self, user_id: int) -> UserSummary:
        self.ctx.require(Access.MANAGE_USERS)
        async with self.ctx.db.transaction() as conn:
            return await _summary(conn, user_id)

    async def _lock_admins(self, conn: AsyncConnection) -> set[int]:
        """The admins' ids, locked until the transaction ends."""
        admins = await accounts.lock_admin_ids(conn)
        # The acting admin may have been demoted by another one a moment ago.
        assert self.ctx.user is not None
        if self.ctx.user.id not in admins:
            raise Forbidden()
        return admins

    async def set_role(self, user_id: int, role: Role | str) -> UserSummary:
        """Promote or demote an account; there is always at least one admin left."""
        ctx = self.ctx
        ctx.require(Access.MANAGE_USERS)
        role = Role(role)
        event = AccountEvent(user_id, AccountEventKind.ROLE_CHANGED, account_events.moment(), role)

        async def update(conn: AsyncConnection) -> UserSummary:
            admins = await self._lock_admins(conn)
            target = (await _summary(conn, user_id)).user
            if target.role is role:
                raise ValidationError(
                    (
                        _("{name} est déjà administrateur.")
                        if role is Role.ADMIN
                        else _("{name} n'est pas administrateur.")
                    ).format(name=target.name)
                )
            if role is Role.USER and not admins - {target.id}:
                raise ValidationError(_(LAST_ADMIN))
            await accounts.update(conn, target.id, role=role.value)
            await account_events.record(conn, ctx.services, event)
            what = "promotion administrateur" if role is Role.ADMIN else "retrait du rôle administrateur"
            await ctx.audit(conn, AuditEvent.ADMIN_ACTION, f"{what} : {target.email} (id {target.id})")
            return await _summary(conn, user_id)

        summary = await ctx.write(update)
        # Sessions of that account follow at once (in the other processes when their feed
        # reads the event): a demoted admin loses the admin screens.
        account_events.apply(ctx.services.sessions, event)
        return summary

    async def delete_user(self, user_id: int, typed_email: str) -> UserSummary:
        """Delete an account once its e-mail is typed back: its tickets go with it, what it did
        on others' tickets stays in their history under its name."""
        ctx = self.ctx
        actor = ctx.require(Access.MANAGE_USERS)
        if user_id == actor.id:
            raise ValidationError(_("Vous ne pouvez pas supprimer votre propre compte."))
        gone = AccountEvent(user_id, AccountEventKind.DELETED, account_events.moment())

        async def delete(conn: AsyncConnection) -> UserSummary:
            # Their tickets and those assigned to them (set NULL by the deletion), locked
            # before the accounts as every ticket change locks them: no deadlock.
            await tickets.lock_of_user(conn, user_id)
            admins = await self._lock_admins(conn)
            summary = await _summary(conn, user_id)
            target = summary.user
            if typed_email.strip().lower() != target.email:
                raise ValidationError(_("Suppression annulée : l'e-mail saisi n'est pas celui du compte."))
            if target.id in admins and not admins - {target.id}:
                raise ValidationError(_(LAST_ADMIN))
            await accounts.delete(conn, target.id)
            await account_events.record(conn, ctx.services, gone)
            await ctx.audit(
                conn,
                AuditEvent.ADMIN_ACTION,
                f"suppression du compte : {target.email} (id {target.id}, {summary.ticket_count} tickets)",
            )
            return summary

        summary = await ctx.write(delete)
        account_events.apply(ctx.services.sessions, gone)
        return summary
