"""The mail outbox (`courriels_sortants`): queued in the event's transaction, claimed, sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import outbox, users

SUBJECT_MAX = 255
ERROR_MAX = 500


@dataclass(frozen=True)
class Mail:
    """One message of the outbox, as the sender and `mail-queue` see it."""

    id: int
    to_address: str
    to_name: str
    subject: str
    body: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str


def _mail(row) -> Mail:
    return Mail(
        row.id,
        row.to_address,
        row.to_name,
        row.subject,
        row.body,
        row.created_at,
        row.attempts,
        row.next_attempt_at,
        row.sent_at,
        row.failed_at,
        row.last_error,
    )


async def enqueue(
    conn: AsyncConnection,
    *,
    user_id: int | None,
    to_address: str,
    to_name: str,
    subject: str,
    body: str,
    now: datetime,
    about: str = "",
    delay: int = 0,
) -> int:
    """Queue a message in the caller's transaction: sent if and once it commits."""
    result = await conn.execute(
        outbox.insert().values(
            utilisateur_id=user_id,
            to_address=to_address,
            to_name=to_name[:80],
            subject=subject[:SUBJECT_MAX],
            body=body,
            about=about,
            created_at=now,
            next_attempt_at=now + timedelta(seconds=delay),
        )
    )
    return result.inserted_primary_key[0]


async def enqueue_if_verified(
    conn: AsyncConnection,
    *,
    user_id: int,
    to_name: str,
    subject: str,
    body: str,
    now: datetime,
) -> bool:
    """Queue a message to the account's address only if that address is verified.

    One INSERT … SELECT whether or not such an account exists (an unknown id selects none):
    the caller runs the same statements for an e-mail with no account behind it.
    """
    verified = sa.select(
        users.c.id,
        users.c.email,
        sa.literal(to_name[:80], sa.String(80)),
        sa.literal(subject[:SUBJECT_MAX], sa.String(SUBJECT_MAX)),
        sa.literal(body, sa.Text),
        sa.literal(now, sa.DateTime),
        sa.literal(now, sa.DateTime),
    ).where(users.c.id == user_id, users.c.email_verifie == sa.true())
    columns = [
        "utilisateur_id",
        "to_address",
        "to_name",
        "subject",
        "body",
        "created_at",
        "next_attempt_at",
    ]
    result = await conn.execute(outbox.insert().from_select(columns, verified))
    return result.rowcount == 1


async def waiting_about(conn: AsyncConnection, user_id: int, about: str, now: datetime):
    """The message for this user about this thing not yet due, locked: where a new event joins."""
    query = (
        sa.select(outbox)
        .where(
            outbox.c.utilisateur_id == user_id,
            outbox.c.about == about,
            outbox.c.sent_at.is_(None),
            outbox.c.failed_at.is_(None),
            outbox.c.attempts == 0,
            outbox.c.claimed_until.is_(None),
            outbox.c.next_attempt_at > now,
        )
        .order_by(outbox.c.id.desc())
        .limit(1)
        .with_for_update()
    )
    return (await conn.execute(query)).first()


async def extend(conn: AsyncConnection, mail_id: int, subject: str, body: str) -> bool:
    """Replace a waiting message's text, if no sender has claimed it meanwhile."""
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id == mail_id, outbox.c.claimed_until.is_(None), outbox.c.sent_at.is_(None))
        .values(subject=subject[:SUBJECT_MAX], body=body)
    )
    return result.rowcount == 1


def _due(now: datetime):
    return sa.and_(
        outbox.c.sent_at.is_(None),
        outbox.c.failed_at.is_(None),
        outbox.c.next_attempt_at <= now,
        sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
    )


async def claim(
    conn: AsyncConnection, owner: str, now: datetime, lease: int, limit: int, *, mysql: bool
) -> list[Mail]:
    """Take up to `limit` due messages for `owner` until `now + lease`.

    MariaDB: the rows another process is claiming at this moment are skipped, not waited for
    (FOR UPDATE SKIP LOCKED); SQLite: the write transaction holds the whole file. Either way a
    claimed row is another process's until its lease ends.
    """
    query = (
        sa.select(outbox.c.id).where(_due(now)).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
    )
    query = query.with_for_update(skip_locked=True) if mysql else query
    ids = list((await conn.execute(query)).scalars())
    if not ids:
        return []
    await conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids))
        .values(claimed_by=owner, claimed_until=now + timedelta(seconds=lease))
    )
    rows = await conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
    return [_mail(r) for r in rows]


async def mark_sent(conn: AsyncConnection, mail_id: int, owner: str, now: datetime) -> None:
    await conn.execute(
        outbox.update()
        .where(outbox.c.id == mail_id, outbox.c.claimed_by == owner)
        .values(sent_at=now, attempts=outbox.c.attempts + 1, claimed_until=None, last_error="")
    )


async def mark_refused(
    conn: AsyncConnection, mail_id: int, owner: str, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """One more attempt that failed: retried at `retry_at`, or failed for good if None."""
    values = {
        "attempts": outbox.c.attempts + 1,
        "last_error": error[:ERROR_MAX],
        "claimed_until": None,
    }
    if retry_at is None:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = retry_at
    await conn.execute(
        outbox.update().where(outbox.c.id == mail_id, outbox.c.claimed_by == owner).values(**values)
    )


async def release(conn: AsyncConnection, owner: str) -> None:
    """Give back what `owner` claimed and did not send (a process stopping)."""
    await conn.execute(
        outbox.update()
        .where(outbox.c.claimed_by == owner, outbox.c.sent_at.is_(None), outbox.c.claimed_until.is_not(None))
        .values(claimed_until=None)
    )


async def unsent(conn: AsyncConnection, limit: int = 200) -> list[Mail]:
    """Waiting and failed messages, oldest first."""
    rows = await conn.execute(
        sa.select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(limit)
    )
    return [_mail(r) for r in rows]


async def counts(conn: AsyncConnection) -> tuple[int, int]:
    """(waiting, failed) messages."""
    failed = sa.case((outbox.c.failed_at.is_not(None), 1), else_=0)
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(failed), 0)).where(
        outbox.c.sent_at.is_(None)
    )
    total, failed_count = (await conn.execute(query)).one()
    return int(total) - int(failed_count), int(failed_count)


async def retry(conn: AsyncConnection, now: datetime, mail_id: int | None = None) -> int:
    """Send failed (and waiting) messages again at once; how many. A message older than a day
    that the relay refuses again is failed again at once: it stays in the operator's hands."""
    query = (
        outbox.update()
        .where(outbox.c.sent_at.is_(None))
        .values(failed_at=None, next_attempt_at=now, claimed_until=None)
    )
    if mail_id is not None:
        query = query.where(outbox.c.id == mail_id)
    return (await conn.execute(query)).rowcount
