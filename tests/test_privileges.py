"""Least privilege: on MariaDB the application connects with data rights only, never DDL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.store.schema import tickets, users

from .conftest import context_for, count

# The same parameter as conftest's db_url, restricted to MariaDB (SQLite has no users).
mariadb_only = pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)

# MariaDB's "command denied to user" (table level) and "access denied to database".
DENIED = {1142, 1044}


@mariadb_only
async def test_the_application_cannot_change_the_schema(database, services, alice):
    async with database.engine.connect() as conn:
        who = (await conn.execute(sa.text("SELECT CURRENT_USER()"))).scalar_one()
        grants = (await conn.execute(sa.text("SHOW GRANTS"))).scalars().all()
    assert not who.startswith("root@")
    assert any("GRANT SELECT, INSERT, UPDATE, DELETE ON" in g for g in grants), grants
    assert not any("ALL PRIVILEGES" in g or " DROP" in g or " CREATE" in g for g in grants), grants

    for statement in (
        "DROP TABLE tickets",
        "CREATE TABLE intrus (id INT PRIMARY KEY)",
        "ALTER TABLE utilisateurs ADD COLUMN intrus INT",
        "TRUNCATE TABLE journal_audit",
        "CREATE INDEX idx_intrus ON tickets (titre)",
    ):
        with pytest.raises(sa.exc.DBAPIError) as refused:
            async with database.engine.begin() as conn:
                await conn.execute(sa.text(statement))
        assert refused.value.orig.args[0] in DENIED, (statement, refused.value)

    # Everything is still there, and the application still does its work with these rights.
    assert await count(database, users) == 1
    ticket_id = await context_for(services, alice).create_ticket("Clavier", "Touche cassée.", "Faible")
    assert await count(database, tickets, tickets.c.id == ticket_id) == 1
