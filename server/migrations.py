"""Schema versions: what each one adds, and bringing a database up to the current one in place.

A new database receives the full current schema (`schema_support.sql` on MySQL, the table
definitions on SQLite) and is recorded at `SCHEMA_VERSION`. An older one receives the steps it
lacks, in order, each recorded in `version_schema` once it has run. Every step looks before it
acts, so that a step cut short (MySQL commits each DDL statement on its own) can simply run again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database, metadata, schema_statements, schema_versions, utcnow
from .errors import UserError
from .i18n import _

log = logging.getLogger("support.migrations")

# Version 1 is the seed's schema, which recorded no version.
SEED_VERSION = 1


class SchemaError(UserError):
    """The database's schema is not the one this program expects."""


class Step:
    """Idempotent schema changes on one connection, written once for both databases."""

    def __init__(self, conn: AsyncConnection, mysql: bool) -> None:
        self.conn = conn
        self.mysql = mysql

    async def _inspect(self, what: Callable[[sa.Inspector], object]):
        return await self.conn.run_sync(lambda c: what(sa.inspect(c)))

    async def tables(self) -> set[str]:
        return set(await self._inspect(lambda i: i.get_table_names()))

    async def columns(self, table: str) -> set[str]:
        return {c["name"] for c in await self._inspect(lambda i: i.get_columns(table))}

    async def indexes(self, table: str) -> set[str]:
        return {ix["name"] for ix in await self._inspect(lambda i: i.get_indexes(table))}

    async def foreign_keys(self, table: str) -> set[str]:
        return {fk["name"] for fk in await self._inspect(lambda i: i.get_foreign_keys(table))}

    async def create_table(self, name: str) -> None:
        """Create a table as the current schema defines it, unless it exists."""
        if name in await self.tables():
            return
        if self.mysql:
            # The statement of schema_support.sql: one definition of each MySQL table.
            prefix = f"CREATE TABLE IF NOT EXISTS {name} ("
            (statement,) = [s for s in schema_statements() if s.startswith(prefix)]
            await self.conn.exec_driver_sql(statement)
        else:
            await self.conn.run_sync(lambda c: metadata.tables[name].create(c, checkfirst=True))

    async def add_column(self, table: str, column: str, mysql: str, sqlite: str) -> None:
        """Add a column from its definition in each dialect (SQLite puts its foreign key here)."""
        if column not in await self.columns(table):
            definition = mysql if self.mysql else sqlite
            await self.conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    async def add_foreign_key(self, table: str, name: str, definition: str) -> None:
        """MySQL only: SQLite cannot add a constraint to a table, see `add_column`."""
        if self.mysql and name not in await self.foreign_keys(table):
            await self.conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")

    async def never_reuse_ids(self, table: str) -> None:
        """SQLite only: rebuild `table` with AUTOINCREMENT, as the current definition has it."""
        if self.mysql:
            return
        created = (
            await self.conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            )
        ).scalar_one()
        if "AUTOINCREMENT" in created.upper():
            return
        definition = metadata.tables[table]
        # Index names are global in SQLite: the old table's go first. No table refers to this
        # one, so renaming and dropping it touches nothing else.
        for index in definition.indexes:
            await self.conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        await self.conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}_avant")
        await self.conn.run_sync(lambda c: definition.create(c))
        columns = ", ".join(c.name for c in definition.columns)
        await self.conn.exec_driver_sql(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_avant"
        )
        await self.conn.exec_driver_sql(f"DROP TABLE {table}_avant")

    async def add_index(self, table: str, name: str) -> None:
        """Create an index as the current table definition declares it."""
        if name not in await self.indexes(table):
            (index,) = [ix for ix in metadata.tables[table].indexes if ix.name == name]
            await self.conn.run_sync(lambda c: index.create(c))


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Step], Awaitable[None]]


async def _v2_helpdesk(step: Step) -> None:
    await step.add_column(
        "tickets",
        "assigne_id",
        "INT NULL",
        "INTEGER CONSTRAINT fk_tickets_assigne REFERENCES utilisateurs (id) ON DELETE SET NULL",
    )
    await step.add_index("tickets", "idx_tickets_assigne_statut")
    await step.add_foreign_key(
        "tickets",
        "fk_tickets_assigne",
        "FOREIGN KEY (assigne_id) REFERENCES utilisateurs (id) ON DELETE SET NULL",
    )
    await step.add_column(
        "historique", "interne", "BOOLEAN NOT NULL DEFAULT FALSE", "BOOLEAN DEFAULT 0 NOT NULL"
    )
    await step.never_reuse_ids("historique")
    for table in ("cles_ssh", "journal_audit", "lectures"):
        await step.create_table(table)


# In order; a new schema change is a new entry here and the same change in schema_support.sql
# and in db.py's tables.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "conversation, assignment, SSH keys, audit trail, unread markers", _v2_helpdesk),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


async def _version(step: Step) -> int:
    """0 for an empty database, 1 for the seed's schema, else the newest version recorded."""
    tables = await step.tables()
    if "utilisateurs" not in tables:
        return 0
    if "version_schema" not in tables:
        return SEED_VERSION
    recorded = (await step.conn.execute(sa.select(sa.func.max(schema_versions.c.version)))).scalar()
    return recorded or SEED_VERSION


async def schema_version(db: Database) -> int:
    async with db.transaction() as conn:
        return await _version(Step(conn, db.mysql))


async def _record(conn: AsyncConnection, version: int) -> None:
    await conn.execute(schema_versions.insert().values(version=version, applied_at=utcnow()))


async def upgrade(db: Database) -> list[int]:
    """Bring the database to SCHEMA_VERSION; returns the versions applied (empty if none)."""
    async with db.transaction(write=True) as conn:
        if db.mysql:
            # A schema change on a big table may take longer than one statement's bound; the
            # bound comes back on this pooled connection below.
            await conn.exec_driver_sql("SET SESSION max_statement_time = 0")
            # Two servers starting at once: one migrates, the other waits and finds it done.
            locked = (await conn.exec_driver_sql("SELECT GET_LOCK('suivi_incident.schema', 60)")).scalar()
            if locked != 1:
                raise SchemaError(
                    _("Une autre mise à jour du schéma est en cours : réessayez quand elle sera finie.")
                )
        try:
            step = Step(conn, db.mysql)
            version = await _version(step)
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    _(
                        "La base est au schéma {found}, plus récent que celui de ce programme ({known})."
                    ).format(found=version, known=SCHEMA_VERSION)
                )
            if version == 0:
                await db.create_schema(conn)
                await _record(conn, SCHEMA_VERSION)
                log.info("schema created version=%s", SCHEMA_VERSION)
                return [SCHEMA_VERSION]
            applied = []
            if version < SCHEMA_VERSION:
                # Whatever is missing altogether (a first creation cut short: MySQL commits each
                # statement) is created as it is now; the steps then add what older tables lack.
                # An up-to-date database is left alone: the application's account may not DDL.
                await db.create_schema(conn)
            for migration in MIGRATIONS:
                if migration.version > version:
                    await migration.apply(step)
                    await _record(conn, migration.version)
                    log.info("schema upgraded version=%s (%s)", migration.version, migration.description)
                    applied.append(migration.version)
            await db.seed(conn)
            return applied
        finally:
            if db.mysql:
                # On a broken connection the lock is gone with it: never hide the first error.
                with contextlib.suppress(Exception):
                    await conn.exec_driver_sql("SELECT RELEASE_LOCK('suivi_incident.schema')")
                with contextlib.suppress(Exception):
                    await conn.exec_driver_sql("SET SESSION " + db.session_bounds())


async def check_version(db: Database) -> None:
    """Refuse a database whose schema differs from this program's, with what to do."""
    version = await schema_version(db)
    if version != SCHEMA_VERSION:
        raise SchemaError(
            _(
                "La base est au schéma {found}, ce programme attend le schéma {known} : "
                "lancez « python -m server init-db » avec un compte qui peut modifier les tables."
            ).format(found=version, known=SCHEMA_VERSION)
        )
