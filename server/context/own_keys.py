"""The session's own SSH public keys: listed, added from a pasted line, removed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent
from ..domain.access import Access
from ..domain.models import SshKey
from ..domain.public_keys import parse_public_key
from ..errors import KeyNotFound, ValidationError
from ..i18n import _
from ..store import keys, utcnow

if TYPE_CHECKING:
    from .session import SessionContext

# SSH keys one account may hold: enough for every machine one uses.
MAX_KEYS = 20


class OwnKeys:
    """`Mon compte`'s keys; only ever one's own, admins included."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    async def my_keys(self) -> list[SshKey]:
        """The session's own SSH public keys, oldest first."""
        user = self.ctx.require(Access.OWN_ACCOUNT)
        async with self.ctx.db.transaction() as conn:
            return await keys.of_user(conn, user.id)

    async def add_key(self, text: str) -> SshKey:
        """Register one pasted OpenSSH public key line on the session's own account."""
        ctx = self.ctx
        user = ctx.require(Access.OWN_ACCOUNT)
        key = parse_public_key(text)
        now = utcnow()
        duplicate = _("Cette clé est déjà enregistrée sur votre compte.")

        async def insert(conn: AsyncConnection) -> int:
            # The account row locked: two pastes at once count keys one after the other.
            await ctx.lock_own_account(conn)
            fingerprints = await keys.fingerprints(conn, user.id)
            if key.fingerprint in fingerprints:
                raise ValidationError(duplicate)
            if len(fingerprints) >= MAX_KEYS:
                raise ValidationError(
                    _("Vous avez déjà {max} clés : supprimez-en une avant d'en ajouter.").format(max=MAX_KEYS)
                )
            key_id = await keys.insert(conn, user.id, key, now)
            await ctx.audit(conn, AuditEvent.KEY_ADDED, f"{key.algorithm} {key.fingerprint}")
            return key_id

        try:
            key_id = await ctx.write(insert)
        except IntegrityError:  # the unique index, should a check ever be bypassed
            raise ValidationError(duplicate) from None
        return SshKey(key_id, key.algorithm, key.fingerprint, key.comment, now)

    async def remove_key(self, key_id: int) -> SshKey:
        """Remove one of the session's own keys; anyone else's is `Clé introuvable.` as a missing one."""
        ctx = self.ctx
        ctx.require(Access.OWN_ACCOUNT)

        async def delete(conn: AsyncConnection) -> SshKey:
            row = await keys.lock(conn, key_id)
            if row is None or not ctx.allowed(Access.OWN_KEY, row.utilisateur_id):
                raise KeyNotFound()
            await keys.delete(conn, key_id)
            await ctx.audit(conn, AuditEvent.KEY_REMOVED, f"{row.algorithme} {row.empreinte}")
            return keys.key_of(row)

        return await ctx.write(delete)
