"""A forgotten password: one-time codes issued by an admin, and the reset that uses one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent, record_in, refuse_throttled
from ..domain import validation
from ..domain.access import Access
from ..domain.codes import CODE_ALPHABET as CODE_ALPHABET
from ..domain.codes import code_hash, new_code, shown
from ..domain.models import AccountEvent, AccountEventKind, User
from ..errors import UserNotFound, ValidationError
from ..i18n import N_, _
from ..store import accounts, outbox, resets, utcnow
from ..throttle import account_key
from . import account_events
from .notifications import Recipient, code_text, connect_command, recipient_of

if TYPE_CHECKING:
    from .session import SessionContext

# Wide enough for the code with its dashes and a few stray spaces.
CODE_MAX_CHARS = 24
CODE_VALIDITY = timedelta(minutes=30)

WRONG_CODE = N_("E-mail ou code incorrect.")
STALE_CODE = N_("Ce code a déjà servi ou a expiré : demandez-en un nouveau.")
RESET_SUBJECT = N_("Support technique : code de réinitialisation du mot de passe")
RESET_WHAT = N_("Voici le code qui permet de choisir un nouveau mot de passe (menu Mot de passe oublié) :")
MAIL_OFF = N_("Le courriel n'est pas configuré sur ce service : demandez à un administrateur du support.")


@dataclass(frozen=True)
class IssuedCode:
    """A code just issued: shown once, never stored in clear."""

    user: User
    code: str
    expires_at: datetime


class Recovery:
    """Reset codes and the `Mot de passe oublié` form's reset."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def issue_reset_code(self, user_id: int) -> IssuedCode:
        """A new code for the account, valid 30 minutes; the account's older unused codes end
        (the admin reads out only the latest, and may be giving it because an older one was
        overheard)."""
        ctx = self.ctx
        ctx.require(Access.MANAGE_USERS)
        code = new_code()
        now = utcnow()
        expires_at = now + CODE_VALIDITY

        async def issue(conn: AsyncConnection) -> User:
            row = await accounts.by_id(conn, user_id, lock=True)
            if row is None:
                raise UserNotFound()
            await resets.void_unused(conn, user_id, now)
            assert ctx.user is not None
            await resets.insert(conn, user_id, code_hash(code), now, expires_at, ctx.user.id, "admin")
            # Never the code itself: the trail is read by more people than the desk.
            await ctx.audit(conn, AuditEvent.RESET_CODE_ISSUED, f"pour {row.email} (id {row.id})")
            return accounts.user_of(row)

        user = await ctx.write(issue)
        return IssuedCode(user, shown(code), expires_at)

    async def request_reset_code(self, email: str) -> None:
        """Mail a code to the account of `email` if its address is verified.

        The same answer, the same statements and the same writes to the audit trail (one row,
        which the throttle counts) for an unknown e-mail, an unverified address and a verified
        one: the message is written for a stand-in when there is nobody to send it to, and the
        code and the message are inserted by statements that select the verified account, and
        so insert nothing otherwise. Neither the screen, the time, nor the throttle tells a
        stranger whether an account exists.

        Earlier codes stay valid: a code asked for by mail never voids one an admin gave (else
        anyone who knows the e-mail could cancel it), nor an earlier mailed one the learner may
        be typing. Each is used once, a successful reset voids the others, and how many can be
        live at once is bounded by this request's throttle.
        """
        ctx = self.ctx
        if not ctx.services.mail.enabled:
            raise ValidationError(_(MAIL_OFF))
        account = account_key(email)
        async with ctx.services.one_at_a_time("reset:" + account):
            wait = await ctx.services.throttle.reset_request_wait(account, ctx.address)
            if wait:
                event, why = AuditEvent.RESET_THROTTLED, "demande par courriel, "
                await refuse_throttled(ctx.db, event, ctx.address, account, wait, why=why)
            code = new_code()
            now = utcnow()
            expires_at = now + CODE_VALIDITY
            command = connect_command(ctx.services)

            async def request(conn: AsyncConnection) -> None:
                row = await accounts.by_email(conn, account)
                user_id = row.id if row is not None and row.email_verifie else resets.NOBODY
                to = recipient_of(row) if user_id != resets.NOBODY else Recipient(user_id, "", account, None)
                subject, body = code_text(to, RESET_SUBJECT, RESET_WHAT, shown(code), expires_at, command)
                coded = await resets.insert_if_verified(conn, user_id, code_hash(code), now, expires_at)
                queued = await outbox.enqueue_if_verified(
                    conn, user_id=user_id, to_name=to.name, subject=subject, body=body, now=now
                )
                sent = coded and queued
                # Set either way: this process's sender looks at the outbox either way.
                conn.info["mail_queued"] = True
                await record_in(
                    conn,
                    AuditEvent.RESET_REQUESTED,
                    ctx.address,
                    account,
                    row.id if row is not None else None,
                    "code envoyé" if sent else "aucun envoi (compte inconnu ou adresse non vérifiée)",
                )

            await ctx.write(request)

    async def reset_password(self, email: str, code: str, password: str) -> None:
        """Set a new password with a code; the same work and answer for an unknown e-mail.

        Throttled like logins, per account and per address. The code is used by a conditional
        update in the password's own transaction: used once, by one reset, or not at all. The
        account's other sessions end, in every server process sharing the database (an account
        event, written in that transaction); its SSH keys stay.
        """
        ctx = self.ctx
        validation.new_password(password)
        account = account_key(email)
        async with ctx.services.one_at_a_time("reset:" + account):
            event = await self._reset(account, code, password)
        # Here at once; in the other processes sharing the database when they read the event.
        account_events.apply(ctx.services.sessions, event, spare=ctx)

    async def _reset(self, account: str, code: str, password: str) -> AccountEvent:
        ctx = self.ctx
        wait = await ctx.services.throttle.reset_wait(account, ctx.address)
        if wait:
            await refuse_throttled(ctx.db, AuditEvent.RESET_THROTTLED, ctx.address, account, wait)
        async with ctx.db.transaction() as conn:
            row = await accounts.by_email(conn, account)
        # Hashed whether or not the account exists: an unknown e-mail costs the same bcrypt.
        hashed = await ctx.services.hasher.hash(password)
        digest = code_hash(code)
        user_id = row.id if row is not None else resets.NOBODY
        now = utcnow()

        event = AccountEvent(user_id, AccountEventKind.PASSWORD_RESET, account_events.moment())

        async def reset(conn: AsyncConnection) -> tuple[bool, bool]:
            if await resets.use(conn, user_id, digest, now):
                # The account's other live codes (an admin's, a mailed one) end with this one.
                await resets.void_unused(conn, user_id, now)
                await accounts.update(conn, user_id, mot_de_passe=hashed, echecs_connexion=0)
                await record_in(conn, AuditEvent.RESET_SUCCEEDED, ctx.address, account, user_id)
                await account_events.record(conn, ctx.services, event)
                return True, False
            stale = await resets.known(conn, user_id, digest)
            await record_in(
                conn,
                AuditEvent.RESET_FAILED,
                ctx.address,
                account,
                row.id if row is not None else None,
                "code déjà utilisé ou expiré" if stale else "code inconnu",
                level=logging.WARNING,
            )
            return False, stale

        done, stale = await ctx.write(reset)
        if not done:
            raise ValidationError(_(STALE_CODE) if stale else _(WRONG_CODE))
        return event
