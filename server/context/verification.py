"""The account's address: proven by a code sent to it, changed only once the new one is proven,
and which mail the account wants."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent, record, record_in, refuse_throttled
from ..domain import validation
from ..domain.access import Access
from ..domain.codes import code_hash, new_code, shown
from ..domain.models import Notifications, User
from ..errors import CodesThrottled, EmailTaken, Throttled, ValidationError
from ..i18n import N_, _
from ..store import accounts, utcnow, verifications
from ..throttle import account_key
from .notifications import Recipient, code_text, connect_command, queue, recipient_of
from .recovery import MAIL_OFF

if TYPE_CHECKING:
    from .resources import SessionResources
    from .session import SessionContext

T = TypeVar("T")

VERIFY_CODE_LENGTH = 8
# Wrong codes typed against one check before it ends (a new one can be asked for at once).
VERIFY_TRIES = 5


VERIFY_SUBJECT = N_("Support technique : code de vérification de votre adresse")
VERIFY_WHAT = N_("Voici le code qui vérifie cette adresse pour votre compte du support technique :")


async def start_check(
    conn: AsyncConnection,
    resources: SessionResources,
    to: Recipient,
    now: datetime,
) -> None:
    """A new code for `to.email`, queued to that address in `conn`'s transaction."""
    code = new_code(VERIFY_CODE_LENGTH)
    until = now + timedelta(seconds=resources.mail.verify_validity)
    await verifications.start(conn, to.user_id, to.email, code_hash(code), now, until)
    subject, body = code_text(to, VERIFY_SUBJECT, VERIFY_WHAT, shown(code), until, connect_command(resources))
    await queue(conn, resources, to, subject, body, now)


class EmailArea:
    """`E-mail vérifié`, `Vérifier mon e-mail`, `Changer d'e-mail`, `Notifications par e-mail`."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    def mail_enabled(self) -> bool:
        """Whether a relay is configured (else the menus say mail is not set up)."""
        return self.ctx.services.mail.enabled

    def _require_mail(self) -> None:
        if not self.mail_enabled():
            raise ValidationError(_(MAIL_OFF))

    async def pending_address(self) -> str | None:
        """The address a code was sent to and not typed yet, or None."""
        user = self.ctx.require(Access.OWN_ACCOUNT)
        async with self.ctx.db.transaction() as conn:
            check = await verifications.pending(conn, user.id, utcnow())
        return check.email if check is not None else None

    async def send_verification(self) -> str:
        """Send a new code to the pending address (a change under way) or the account's own."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        self._require_mail()
        now = utcnow()

        async def send(conn: AsyncConnection) -> str:
            row = await ctx.lock_own_account(conn)
            check = await verifications.pending(conn, user.id, now)
            address = check.email if check is not None else row.email
            if address == row.email and row.email_verifie:
                raise ValidationError(_("Votre adresse est déjà vérifiée."))
            await self._mail_code(conn, replace(recipient_of(row), email=address), now)
            return address

        return await self._throttled(send)

    async def _throttled(self, send: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `send`, which mails a code, unless the account or the client's address has had
        too many lately: each code is a message to an address the caller chose, and without a
        limit `Changer d'e-mail` would make the service flood any mailbox."""
        ctx = self.ctx
        assert ctx.user is not None
        user = ctx.user
        account = account_key(user.email)
        # One at a time per account: requests sent together would all read the count from
        # before any of them was sent.
        async with ctx.services.one_at_a_time("verify:" + account):
            wait = await ctx.services.throttle.verification_wait(account, ctx.address)
            if wait:
                event, error = AuditEvent.EMAIL_CODE_THROTTLED, CodesThrottled
                await refuse_throttled(ctx.db, event, ctx.address, account, wait, user.id, error=error)
            return await ctx.write(send)

    async def _mail_code(self, conn: AsyncConnection, to: Recipient, now: datetime) -> None:
        """A code for `to.email`, queued, and counted for throttling in the same transaction."""
        ctx = self.ctx
        assert ctx.user is not None
        await start_check(conn, ctx.services, to, now)
        account = account_key(ctx.user.email)
        await record_in(conn, AuditEvent.EMAIL_CODE_SENT, ctx.address, account, ctx.user.id, f"à {to.email}")

    async def verify_email(self, code: str) -> User:
        """Prove the pending address with its code; a new address then replaces the old one."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        now = utcnow()

        async def verify(conn: AsyncConnection) -> tuple[bool, str]:
            row = await ctx.lock_own_account(conn)
            check = await verifications.pending(conn, user.id, now, lock=True)
            if check is None:
                return False, _("Aucun code en attente : demandez-en un nouveau.")
            if check.code_hash != code_hash(code):
                tries = await verifications.wrong_try(conn, check.id, now, VERIFY_TRIES)
                if tries >= VERIFY_TRIES:
                    return False, _("Code incorrect, trop d'essais : demandez-en un nouveau.")
                return False, _("Code incorrect.")
            await verifications.use(conn, check.id, now)
            try:
                await verifications.verified(conn, user.id, check.email)
            except IntegrityError:
                raise EmailTaken() from None
            if check.email != row.email:
                await ctx.audit(conn, AuditEvent.EMAIL_CHANGED, f"{row.email} -> {check.email}")
            else:
                await ctx.audit(conn, AuditEvent.EMAIL_VERIFIED, check.email)
            return True, check.email

        done, text = await ctx.write(verify)
        if not done:
            raise ValidationError(text)
        for session in ctx.sessions_of(user.id):
            session.user = replace(session.user, email=text, email_verified=True)
        return ctx.user or replace(user, email=text, email_verified=True)

    async def change_email(self, new_email: str, password: str) -> str:
        """Send a code to `new_email` once the password is proven; the address changes only
        when that code is typed (`verify_email`)."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        self._require_mail()
        new_email = validation.email(new_email)
        if new_email == user.email:
            raise ValidationError(_("C'est déjà l'adresse de votre compte."))
        account = account_key(user.email)
        async with ctx.services.one_at_a_time("login:" + account):
            wait = await ctx.services.throttle.login_wait(account, ctx.address)
            if wait:
                raise Throttled(wait)
            async with ctx.db.transaction() as conn:
                stored = await accounts.password_of(conn, user.id)
                taken = await accounts.id_of(conn, new_email)
            if not await ctx.services.hasher.verify(password, stored):
                await record(
                    ctx.db,
                    AuditEvent.LOGIN_FAILED,
                    ctx.address,
                    account,
                    user.id,
                    details="mot de passe actuel",
                    level=logging.WARNING,
                )
                raise ValidationError(_("Mot de passe actuel incorrect."))
        if taken is not None:
            raise EmailTaken()
        now = utcnow()

        async def start(conn: AsyncConnection) -> None:
            row = await ctx.lock_own_account(conn)
            await self._mail_code(conn, replace(recipient_of(row), email=new_email), now)

        await self._throttled(start)
        return new_email

    async def set_notifications(self, choice: Notifications | str) -> User:
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        choice = Notifications(choice)

        async def update(conn: AsyncConnection) -> None:
            await ctx.lock_own_account(conn)
            await accounts.update(conn, user.id, notifications=choice.value)

        await ctx.write(update)
        for session in ctx.sessions_of(user.id):
            session.user = replace(session.user, notifications=choice)
        return ctx.user or replace(user, notifications=choice)
