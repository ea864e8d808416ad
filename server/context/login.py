"""Before a session has a user: password login, public-key lookup, and creating an account."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..audit import AuditEvent, record, record_in, refuse_throttled
from ..domain.models import Role, User
from ..errors import EmailTaken
from ..metrics import LOGINS
from ..store import Database, accounts, keys, utcnow
from ..throttle import account_key
from .resources import SessionResources


async def create_user(
    db: Database,
    name: str,
    email: str,
    hashed: str,
    role: Role,
    audit: Callable[[AsyncConnection, int], Awaitable[None]] | None = None,
) -> User:
    """Insert an account; `ValidationError` if the e-mail is taken (checked by the unique index).

    `audit` records the creation in the same transaction.
    """
    now = utcnow()

    async def insert(conn: AsyncConnection) -> int:
        user_id = await accounts.insert(conn, name, email, hashed, role, now)
        if audit is not None:
            await audit(conn, user_id)
        return user_id

    try:
        user_id = await db.write(insert)
    except IntegrityError:
        raise EmailTaken() from None
    return User(id=user_id, name=name, email=email, role=role, created_at=now)


async def authenticate(services: SessionResources, email: str, password: str, address: str) -> User | None:
    """The account for this e-mail and password, or None; bcrypt runs either way.

    `Throttled`, without running bcrypt, while the account or the address has to wait. Every
    outcome is audited; an unknown e-mail takes the same path, the same work and the same
    writes as a wrong password, so neither the answer nor the time tells them apart.
    """
    # One attempt at a time per account, each counted before the next is weighed.
    async with services.one_at_a_time("login:" + account_key(email)):
        return await _authenticate(services, email, password, address)


async def _authenticate(services: SessionResources, email: str, password: str, address: str) -> User | None:
    email = email.strip().lower()
    account = account_key(email)
    wait = await services.throttle.login_wait(account, address)
    if wait:
        LOGINS.labels("throttled").inc()
        await refuse_throttled(services.db, AuditEvent.LOGIN_THROTTLED, address, account, wait)
    async with services.db.transaction() as conn:
        row = await accounts.by_email(conn, email)
    ok = await services.hasher.verify(password, row.mot_de_passe if row else None)
    user = accounts.user_of(row) if ok and row is not None else None

    async def outcome(conn: AsyncConnection) -> None:
        # The per-account columns follow the audit trail (an unknown e-mail updates no row).
        if user is not None:
            await accounts.login_succeeded(conn, user.id)
            await record_in(conn, AuditEvent.LOGIN_SUCCEEDED, address, account, user.id)
        else:
            await accounts.login_failed(conn, email, utcnow())
            await record_in(
                conn,
                AuditEvent.LOGIN_FAILED,
                address,
                account,
                row.id if row else None,
                level=logging.WARNING,
            )

    # Committed with the other logins of the moment (store/together.py): a class arriving at
    # once is not one turn of SQLite's write lock each.
    await services.db.write(outcome, together=True)
    LOGINS.labels("ok" if user is not None else "failed").inc()
    return user


# Public keys (the SSH layer asks before anyone is logged in) ----------------------------------


def _key_text(stored: str) -> str:
    """ "<algorithm> <base64>" of a stored key, whatever spacing or comment it came with."""
    return " ".join(stored.split()[:2])


async def key_owner(db: Database, email: str, key: str) -> User | None:
    """The account of this e-mail if `key` is one of its registered keys, else None.

    The SSH layer asks before it has checked the key's signature: the answer is a candidate,
    attached to the connection only once asyncssh has verified that signature.
    """
    email = email.strip().lower()
    async with db.transaction() as conn:
        rows = await keys.of_email(conn, email)
    row = next((r for r in rows if _key_text(r.cle) == _key_text(key)), None)
    return accounts.user_of(row) if row is not None else None


async def key_login_succeeded(db: Database, address: str, user: User) -> None:
    await record(db, AuditEvent.LOGIN_SUCCEEDED, address, user.email, user.id, "ssh publickey")
    LOGINS.labels("ok").inc()


async def key_login_failed(db: Database, address: str, email: str) -> None:
    """A signature made for a registered key was refused: an audited login failure."""
    email = email.strip().lower()
    async with db.transaction() as conn:
        user_id = await accounts.id_of(conn, email)
    await record(db, AuditEvent.LOGIN_FAILED, address, email, user_id, "ssh publickey", level=logging.WARNING)
    LOGINS.labels("failed").inc()
