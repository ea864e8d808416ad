"""The audit trail's rows (`journal_audit`): written, and counted for throttling."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import audit_log


async def insert(conn: AsyncConnection, row: dict) -> None:
    await conn.execute(audit_log.insert().values(**row))


def _from(host: str) -> sa.ColumnElement[bool]:
    """Audit rows of every connection from `host`, whatever their client port.

    "host:port" with nothing after the port: an IPv6 host that merely begins like this one
    ("2001:db8::1:5" for "2001:db8::1") is another machine.
    """
    column = audit_log.c.adresse
    return sa.or_(
        column == host,
        sa.and_(
            column.startswith(f"{host}:", autoescape=True),
            sa.not_(column.like(_escaped(host) + ":%:%", escape="/")),
        ),
    )


def _escaped(text: str) -> str:
    """`text` for a LIKE pattern escaped with "/": its own wildcards match literally."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


async def account_failures(
    conn: AsyncConnection, account: str, failed: str, succeeded: str, since: datetime
) -> tuple[int, datetime | None]:
    """The account's `failed` events since `since` and after its latest `succeeded` one:
    how many, and the last one's time (a success clears the count)."""
    last_success = (
        sa.select(sa.func.max(audit_log.c.id))
        .where(
            audit_log.c.compte == account, audit_log.c.evenement == succeeded, audit_log.c.created_at >= since
        )
        .scalar_subquery()
    )
    query = sa.select(sa.func.count(), sa.func.max(audit_log.c.created_at)).where(
        audit_log.c.evenement == failed,
        audit_log.c.created_at >= since,
        audit_log.c.compte == account,
        audit_log.c.id > sa.func.coalesce(last_success, 0),
    )
    return tuple((await conn.execute(query)).one())


async def host_events(
    conn: AsyncConnection, host: str, event: str, since: datetime
) -> tuple[int, datetime | None]:
    """The `event`s from `host` since `since`: how many, and the last one's time."""
    query = sa.select(sa.func.count(), sa.func.max(audit_log.c.created_at)).where(
        audit_log.c.evenement == event, audit_log.c.created_at >= since, _from(host)
    )
    return tuple((await conn.execute(query)).one())


async def nth_latest(
    conn: AsyncConnection, host: str, event: str, since: datetime, n: int
) -> datetime | None:
    """When the `n`-th latest `event` from `host` since `since` happened (None if fewer)."""
    query = (
        sa.select(audit_log.c.created_at)
        .where(audit_log.c.evenement == event, audit_log.c.created_at >= since, _from(host))
        .order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc())
        .offset(n - 1)
        .limit(1)
    )
    return (await conn.execute(query)).scalar()
