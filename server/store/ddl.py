"""The schema's DDL, generated from its definitions: created in place, and schema_support.sql."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable

from ..config import PROJECT_ROOT
from .schema import CATEGORY_ROWS, STATUS_ROWS, categories, metadata, statuses

SCHEMA_FILE = PROJECT_ROOT / "schema_support.sql"
# The database the operator's file creates (the application's own is the configured one).
DATABASE_NAME = "suivi_incident"

HEADER = f"""\
-- Support Tickets — full schema for MySQL / MariaDB.
-- Generated from server/store/schema.py: `python -m server schema-sql > schema_support.sql`.
-- Run it as an administrator:  mysql -u root -p < schema_support.sql
-- It can be run again without harm: everything is created only if missing.
-- `python -m server init-db` applies the same statements to the configured database.

-- This file is UTF-8: say so, or a client in a latin1 locale stores 'Résolu' as 'RÃ©solu'.
SET NAMES utf8mb4;

CREATE DATABASE IF NOT EXISTS {DATABASE_NAME}
  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE {DATABASE_NAME};
"""

_DIALECT = mysql.dialect()


def _create_table(table: sa.Table) -> str:
    """CREATE TABLE IF NOT EXISTS with the table's indexes inline: one statement per table,
    so that running it again creates nothing twice (MySQL has no CREATE INDEX IF NOT EXISTS)."""
    text = str(CreateTable(table, if_not_exists=True).compile(dialect=_DIALECT)).strip()
    head, sep, options = text.rpartition("\n)")
    indexes = "".join(
        f", \n\tINDEX {ix.name} ({', '.join(c.name for c in ix.columns)})"
        for ix in sorted(table.indexes, key=lambda ix: ix.name)
    )
    lines = (head + indexes + sep + options).replace(", \n\t", ",\n  ").replace("(\n\t", "(\n  ")
    return lines.replace(")ENGINE", ") ENGINE")


def _seed_statements(dialect) -> list[str]:
    inserts = [
        sa.insert(statuses).prefix_with("IGNORE").values(list(STATUS_ROWS)),
        sa.insert(categories).prefix_with("IGNORE").values(list(CATEGORY_ROWS)),
    ]
    return [str(i.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for i in inserts]


def mysql_statements() -> list[str]:
    """The statements that create the whole schema in the current MySQL database, and seed it."""
    tables = [_create_table(t) for t in metadata.sorted_tables]
    return [*tables, *_seed_statements(_DIALECT)]


def schema_sql() -> str:
    """schema_support.sql as the definitions make it."""
    return HEADER + "".join(f"\n{statement};\n" for statement in mysql_statements())


async def create_schema(conn: AsyncConnection, is_mysql: bool) -> None:
    """Create what is missing of the current schema (idempotent), and seed it."""
    if is_mysql:
        for statement in mysql_statements():
            await conn.exec_driver_sql(statement)
    else:
        await conn.run_sync(metadata.create_all)
        await seed(conn, is_mysql)


async def seed(conn: AsyncConnection, is_mysql: bool) -> None:
    """The rows every database holds: the three statuses, the first categories (by id: one
    renamed or deactivated stays as the admins left it)."""
    ignore = "IGNORE" if is_mysql else "OR IGNORE"
    await conn.execute(statuses.insert().prefix_with(ignore), list(STATUS_ROWS))
    await conn.execute(categories.insert().prefix_with(ignore), list(CATEGORY_ROWS))
