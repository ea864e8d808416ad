"""Schema versions: Alembic's revisions (store/revisions), run in place up to the current one.

A new database receives the full current schema and is recorded at `SCHEMA_VERSION`. An older
one receives the revisions it lacks, in order, each recorded in `version_schema` once it has
run (the table operators and earlier releases know; revision "0002" is version 2).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import UserError
from ..i18n import _
from .engine import Database, utcnow
from .schema import schema_versions

log = logging.getLogger("support.migrations")

REVISIONS = Path(__file__).parent / "revisions"
# Version 1 is the seed's schema, which recorded no version.
SEED_VERSION = 1


class SchemaError(UserError):
    """The database's schema is not the one this program expects."""


def _scripts() -> list:
    """Every revision, oldest first."""
    directory = ScriptDirectory(str(REVISIONS), version_locations=[str(REVISIONS)])
    return list(reversed(list(directory.walk_revisions())))


SCHEMA_VERSION = int(_scripts()[-1].revision)


def _run_revision(sync_conn, script) -> None:
    context = MigrationContext.configure(sync_conn, opts={"render_as_batch": True})
    with Operations.context(context):
        script.module.upgrade()


async def _tables(conn: AsyncConnection) -> set[str]:
    return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def _version(conn: AsyncConnection) -> int:
    """0 for an empty database, 1 for the seed's schema, else the newest version recorded."""
    tables = await _tables(conn)
    if "utilisateurs" not in tables:
        return 0
    if "version_schema" not in tables:
        return SEED_VERSION
    recorded = (await conn.execute(sa.select(sa.func.max(schema_versions.c.version)))).scalar()
    return recorded or SEED_VERSION


async def schema_version(db: Database) -> int:
    async with db.transaction() as conn:
        return await _version(conn)


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
            return await _upgrade(db, conn)
        finally:
            if db.mysql:
                # On a broken connection the lock is gone with it: never hide the first error.
                with contextlib.suppress(Exception):
                    await conn.exec_driver_sql("SELECT RELEASE_LOCK('suivi_incident.schema')")
                with contextlib.suppress(Exception):
                    await conn.exec_driver_sql("SET SESSION " + db.session_bounds())


async def _upgrade(db: Database, conn: AsyncConnection) -> list[int]:
    version = await _version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            _("La base est au schéma {found}, plus récent que celui de ce programme ({known}).").format(
                found=version, known=SCHEMA_VERSION
            )
        )
    if version == 0:
        await db.create_schema(conn)
        await _record(conn, SCHEMA_VERSION)
        log.info("schema created version=%s", SCHEMA_VERSION)
        return [SCHEMA_VERSION]
    applied = []
    if version < SCHEMA_VERSION:
        # Whatever is missing altogether (a first creation cut short: MySQL commits each
        # statement) is created as it is now; the revisions then change what older tables lack.
        # An up-to-date database is left alone: the application's account may not DDL.
        await db.create_schema(conn)
    for script in _scripts():
        number = int(script.revision)
        if number > version:
            await conn.run_sync(_run_revision, script)
            await _record(conn, number)
            log.info("schema upgraded version=%s (%s)", number, script.doc.splitlines()[0])
            applied.append(number)
    await db.seed(conn)
    return applied


async def bring_up(db: Database, create_schema: bool) -> None:
    """At start-up: SQLite is the service's own file, always brought up to date; MySQL/MariaDB
    only with `database.create_schema`, else its version is checked."""
    if not db.mysql or create_schema:
        await upgrade(db)
    else:
        await check_version(db)


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
