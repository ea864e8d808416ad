"""The session's own account: registering, logging in, its name and its password."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from .. import i18n
from ..audit import AuditEvent, record, record_in
from ..domain import validation
from ..domain.access import Access
from ..domain.models import Role, User
from ..errors import AuthFailed, Throttled, TooManyAccounts, ValidationError
from ..i18n import _
from ..metrics import REGISTRATIONS_THROTTLED
from ..store import accounts, utcnow
from ..throttle import account_key, source
from .login import authenticate, create_user
from .notifications import recipient_of
from .verification import start_check

if TYPE_CHECKING:
    from .session import SessionContext


class Accounts:
    """Registration, login, and what one changes of one's own account."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def may_register(self, email: str = "") -> None:
        """`TooManyAccounts` (audited) if this address has created its quota of accounts lately."""
        ctx = self.ctx
        wait = await ctx.services.throttle.registration_wait(ctx.address)
        if wait:
            await record(
                ctx.db,
                AuditEvent.ACCOUNT_CREATION_THROTTLED,
                ctx.address,
                account_key(email),
                details=f"attente={wait}s",
                level=logging.WARNING,
            )
            REGISTRATIONS_THROTTLED.inc()
            raise TooManyAccounts(wait)

    async def register(self, name: str, email: str, password: str) -> User:
        """Create an ordinary account and log it in; limited per source address."""
        ctx = self.ctx
        name = validation.name(name)
        email = validation.email(email)
        validation.new_password(password)
        await self.may_register(email)  # before bcrypt: a refusal costs nothing
        hashed = await ctx.services.hasher.hash(password)
        async with ctx.services.one_at_a_time("register:" + source(ctx.address)):
            # Again under the lock: registrations started together are counted one by one.
            await self.may_register(email)
            user = await create_user(
                ctx.db,
                name,
                email,
                hashed,
                Role.USER,
                # In the insert's transaction: the account and the count of creations agree,
                # and the code that verifies the address is queued only if the account exists.
                audit=lambda conn, user_id: self._created(conn, user_id, name, email),
            )
        ctx.user = user
        if ctx.services.mail.enabled:
            ctx.services.mail_wake()
        return user

    async def _created(self, conn: AsyncConnection, user_id: int, name: str, email: str) -> None:
        ctx = self.ctx
        await record_in(conn, AuditEvent.ACCOUNT_CREATED, ctx.address, email, user_id)
        if ctx.services.mail.enabled:
            row = await accounts.by_id(conn, user_id)
            await start_check(conn, ctx.services, recipient_of(row), utcnow())
            conn.info["mail_queued"] = True

    async def login(self, email: str, password: str) -> User:
        """Check an e-mail and password; the same work and answer for an unknown e-mail."""
        user = await authenticate(self.ctx.services, email, password, self.ctx.address)
        if user is None:
            raise AuthFailed()
        self.ctx.user = user
        return user

    async def my_account(self) -> User:
        """The session's account as the database holds it now."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        async with ctx.db.transaction() as conn:
            row = await accounts.by_id(conn, user.id)
        if row is None:
            raise ctx.account_gone()
        ctx.user = accounts.user_of(row)
        return ctx.user

    async def change_name(self, name: str) -> User:
        """Rename the session's account; history keeps the name each entry was written under."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        name = validation.name(name)

        async def update(conn: AsyncConnection) -> str:
            row = await ctx.lock_own_account(conn)
            if row.nom != name:
                await accounts.update(conn, user.id, nom=name)
                await ctx.audit(conn, AuditEvent.NAME_CHANGED, f"{row.nom} -> {name}")
            return row.nom

        await ctx.write(update)
        for session in ctx.sessions_of(user.id):
            session.user = replace(session.user, name=name)
        return ctx.user or replace(user, name=name)

    async def change_language(self, code: str) -> User:
        """The account's language, kept in the database; every session of the account speaks it
        from its next screen on."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        if code not in i18n.LANGUAGES:
            raise ValidationError(_("Langue inconnue : choisissez Français ou English."))

        async def update(conn: AsyncConnection) -> None:
            await ctx.lock_own_account(conn)
            await accounts.update(conn, user.id, langue=code)

        await ctx.write(update)
        ctx.log("language changed to %s", code)
        for session in ctx.sessions_of(user.id):
            session.user = replace(session.user, language=code)
        return ctx.user or replace(user, language=code)

    async def change_password(self, current: str, new: str) -> None:
        """Replace the password once the current one is proven; bcrypt runs off the event loop."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        validation.new_password(new)
        # Guessing the current password from an open session is guessing a login: the same
        # throttle, one attempt at a time, the same audit trail, no bcrypt while it must wait.
        account = account_key(user.email)
        async with ctx.services.one_at_a_time("login:" + account):
            async with ctx.db.transaction() as conn:
                stored = await accounts.password_of(conn, user.id)
            if stored is None:
                raise ctx.account_gone()
            wait = await ctx.services.throttle.login_wait(account, ctx.address)
            if wait:
                await self._refused(AuditEvent.LOGIN_THROTTLED, account, user)
                raise Throttled(wait)
            if not await ctx.services.hasher.verify(current, stored):
                await self._refused(AuditEvent.LOGIN_FAILED, account, user)
                raise ValidationError(_("Mot de passe actuel incorrect."))
            if new == current:
                raise ValidationError(_("Le nouveau mot de passe doit être différent de l'actuel."))
            hashed = await ctx.services.hasher.hash(new)

            async def update(conn: AsyncConnection) -> None:
                await ctx.lock_own_account(conn)
                if await accounts.password_of(conn, user.id) != stored:
                    # Changed meanwhile (another session, another server): the proof is stale.
                    raise ValidationError(_("Le mot de passe vient d'être changé ailleurs : recommencez."))
                await accounts.update(conn, user.id, mot_de_passe=hashed)
                await ctx.audit(conn, AuditEvent.PASSWORD_CHANGED)

            await ctx.write(update)

    async def _refused(self, event: AuditEvent, account: str, user: User) -> None:
        await record(
            self.ctx.db,
            event,
            self.ctx.address,
            account,
            user.id,
            details="mot de passe actuel",
            level=logging.WARNING,
        )
