"""A deadlock on MariaDB is named as one: a transaction to run again, not an outage."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.errors import DatabaseUnavailable
from server.store.schema import tickets

from .conftest import admin_connection, context_for, make_user
from .test_faults import pool_idle
from .test_schema import mariadb_only


@mariadb_only
async def test_a_deadlock_rolls_back_one_transaction_without_an_outage(services, admin_db_url: str):
    from server.domain.models import Role

    admin = await make_user(services, "admin@example.org", "Awa Admin", Role.ADMIN)
    ctx = context_for(services, admin)
    first = await ctx.create_ticket("Projecteur", "Pas d'image.", "Haute")
    second = await ctx.create_ticket("Souris", "Clic mort.", "Faible")
    url = make_url(admin_db_url)
    other = admin_connection(str(url.set(database=None)))
    cur = other.cursor()
    cur.execute(f"USE `{url.database}`")
    cur.execute("BEGIN")
    # The other client has written (InnoDB rolls back the transaction that wrote least).
    cur.execute("UPDATE tickets SET titre = 'Projecteur HS' WHERE id = %s", (first,))
    ours_waits = asyncio.Event()

    async def ours(conn) -> None:
        await conn.execute(sa.select(tickets.c.id).where(tickets.c.id == second).with_for_update())
        ours_waits.set()
        await conn.execute(sa.select(tickets.c.id).where(tickets.c.id == first).with_for_update())

    try:
        task = asyncio.ensure_future(services.db.write(ours))
        await ours_waits.wait()
        await asyncio.sleep(0.3)  # ours now waits for the other's row
        closing = asyncio.ensure_future(
            asyncio.to_thread(cur.execute, "SELECT id FROM tickets WHERE id = %s FOR UPDATE", (second,))
        )
        with pytest.raises(DatabaseUnavailable) as refused:
            await asyncio.wait_for(task, 10)
        await closing
        assert refused.value.reason == "deadlock"
    finally:
        cur.execute("ROLLBACK")
        other.close()
    assert services.db.health.reason is None  # no outage was declared
    assert services.db.health.errors["deadlock"] == 1
    assert pool_idle(services.db)
    assert (await ctx.ticket(first)).title == "Projecteur"


async def test_a_row_a_check_refuses_is_an_integrity_error_not_an_outage(services):
    """MariaDB's driver raises a CHECK's refusal as an OperationalError: it must not be taken
    for the database being down (one sentence for the user, an outage for the operator)."""
    from server.store.schema import ratings

    learner = await make_user(services, "awa@example.org", "Awa Diop")
    ticket = await context_for(services, learner).create_ticket("Wi-Fi", "Pas de réseau.", "Moyenne")

    async def out_of_range(conn) -> None:
        row = {"ticket_id": ticket, "utilisateur_id": learner.id, "note": 9, "passe": False}
        await conn.execute(sa.insert(ratings).values(**row, created_at=sa.func.now()))

    with pytest.raises(sa.exc.IntegrityError):
        await services.db.write(out_of_range)
    assert services.db.health.reason is None  # no outage was declared
    assert not any(services.db.health.errors.values())
    assert pool_idle(services.db)
