"""Backups while the service runs, in one portable format restorable to SQLite or MariaDB.

The file is JSON lines: a header (format, schema version, source dialect, date), then for each
table of `schema.metadata` (in dependency order) a line naming it and its columns, then one
line per row (its values in that order, dates as ISO text).

A consistent copy is taken without holding any writer:

- SQLite: the online backup API copies the live file, WAL included, into a private snapshot
  (readers never block writers in WAL mode); the file is written from that snapshot.
- MariaDB/MySQL: one REPEATABLE READ transaction begun WITH CONSISTENT SNAPSHOT reads every
  table as of one instant (InnoDB's MVCC); never LOCK TABLES, which would stop every writer.

A restore reads the file line by line, twice (checked whole, then inserted BATCH rows at a time,
in one transaction): its memory does not depend on the backup's size.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from ..errors import UserError
from ..i18n import _
from .engine import Database, utcnow
from .migrate import SCHEMA_VERSION, upgrade
from .schema import categories, metadata, schema_versions, statuses

FORMAT = "support-tickets-backup"
FORMAT_VERSION = 1
# Rows fetched and inserted at a time.
BATCH = 1000


class BackupError(UserError):
    """A backup that cannot be made or restored as asked."""


def tables() -> list[sa.Table]:
    """Every table of the schema, parents before children."""
    return list(metadata.sorted_tables)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decoder(column: sa.Column):
    if isinstance(column.type, sa.DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(column.type, sa.Boolean):
        return lambda v: None if v is None else bool(v)
    return lambda v: v


def dump(conn: Connection, out: IO[str], dialect: str) -> dict[str, int]:
    """Write every table read through `conn` (already in its snapshot); rows per table."""
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "source": dialect,
        "created_at": utcnow().isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    counts: dict[str, int] = {}
    for table in tables():
        columns = [c.name for c in table.columns]
        out.write(json.dumps({"table": table.name, "columns": columns}) + "\n")
        key = list(table.primary_key.columns)
        query = sa.select(*table.columns).order_by(*key)
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        n = 0
        for row in result:
            out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False) + "\n")
            n += 1
        counts[table.name] = n
    out.write(json.dumps({"end": counts}) + "\n")
    return counts


def _sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise BackupError(_("Une base SQLite en mémoire ne peut pas être sauvegardée."))
    return Path(database)


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy of the live file, writers never held."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def backup(db: Database, target: Path) -> dict[str, int]:
    """Write a consistent copy of the database `db` to `target` (replaced whole, or not at all)."""
    if db.mysql:
        await check_current(db)
    partial = target.with_name(target.name + ".partial")
    try:
        # The file holds password hashes: the operator's eyes only.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
            if db.mysql:
                counts = await _mysql_backup(db, out)
            else:
                counts = _sqlite_backup(db, out)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _sqlite_backup(db: Database, out: IO[str]) -> dict[str, int]:
    source = _sqlite_path(db)
    if not source.exists():
        raise BackupError(_("La base SQLite {path} n'existe pas.").format(path=source))
    with tempfile.TemporaryDirectory(prefix="support-backup-") as folder:
        snapshot = Path(folder) / "snapshot.db"
        _sqlite_snapshot(source, snapshot)
        engine = sa.create_engine(f"sqlite:///{snapshot}")
        try:
            with engine.connect() as conn:
                _check_version(conn)
                return dump(conn, out, "sqlite")
        finally:
            engine.dispose()


async def _mysql_backup(db: Database, out: IO[str]) -> dict[str, int]:
    async with db.engine.connect() as conn:
        # A dump of a big table may run longer than one statement's bound of the service.
        await conn.exec_driver_sql("SET SESSION max_statement_time = 0")
        await conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            return await conn.run_sync(lambda c: dump(c, out, "mysql"))
        finally:
            await conn.rollback()
            await conn.invalidate()


def _check_version(conn: Connection) -> None:
    names = set(sa.inspect(conn).get_table_names())
    found = 0
    if schema_versions.name in names:
        found = conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar() or 0
    if found != SCHEMA_VERSION:
        raise BackupError(
            _("La base est au schéma {found}, ce programme attend le schéma {known}.").format(
                found=found, known=SCHEMA_VERSION
            )
        )


async def check_current(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.run_sync(_check_version)


# Restoring -------------------------------------------------------------------------------------


def _not_a_backup(source: Path) -> BackupError:
    return BackupError(_("{path} n'est pas une sauvegarde complète de Support Tickets.").format(path=source))


def _items(source: Path) -> Iterator[tuple[str, list]]:
    """The rows of a backup file as (table, values), read one line at a time; ValueError if a
    line is not where a backup would have it."""
    with source.open(encoding="utf-8") as f:
        header = json.loads(f.readline() or "null")
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError("header")
        yield "", [header]
        table: str | None = None
        width = 0
        for line in f:
            item = json.loads(line)
            if isinstance(item, list) and table is not None and len(item) == width:
                yield table, item
            elif isinstance(item, dict) and isinstance(item.get("table"), str):
                table, width = item["table"], len(item.get("columns") or ())
                yield "", [item]
            elif isinstance(item, dict) and "end" in item:
                yield "", [item]
                return
            else:
                raise ValueError("line")
        raise ValueError("end")


def check_backup(source: Path) -> dict:
    """Read the whole file once, keeping nothing but counts: its header if it is a complete
    backup of this schema, else BackupError with one sentence. Nothing is restored from a file
    cut short or of another version, so this comes before the database is touched."""
    header: dict = {}
    columns: dict[str, list] = {}
    counts: dict[str, int] = {}
    end = None
    try:
        for table, item in _items(source):
            if table:
                counts[table] += 1
            elif not header:
                header = item[0]
            elif "table" in item[0]:
                name = item[0]["table"]
                if name in columns:
                    raise ValueError("table twice")
                columns[name], counts[name] = item[0].get("columns"), 0
            else:
                end = item[0]["end"]
    except (ValueError, UnicodeDecodeError):
        raise _not_a_backup(source) from None
    if end != counts:
        raise _not_a_backup(source)
    if header.get("schema_version") != SCHEMA_VERSION:
        raise BackupError(
            _("Cette sauvegarde est au schéma {found}, ce programme attend le schéma {known}.").format(
                found=header.get("schema_version"), known=SCHEMA_VERSION
            )
        )
    for table in tables():
        if columns.get(table.name) != [c.name for c in table.columns]:
            raise BackupError(
                _("La table {table} de la sauvegarde n'a pas les colonnes attendues.").format(
                    table=table.name
                )
            )
    if set(columns) != {t.name for t in tables()}:
        raise _not_a_backup(source)
    return header


def backup_rows(source: Path) -> Iterator[tuple[str, list]]:
    """Every row of a checked backup as (table, values), in the file's order (parents first)."""
    for table, item in _items(source):
        if table:
            yield table, item


async def is_empty(conn) -> bool:
    """True when no table holds more than what a new database holds (statuses, the seeded
    categories, versions)."""
    for table in tables():
        if table in (statuses, categories, schema_versions):
            continue
        if (await conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1))).first():
            return False
    return True


async def restore(db: Database, source: Path, *, force: bool = False) -> dict[str, int]:
    """Load a backup into `db` (its schema created if missing), in one transaction.

    A database that already holds data is refused unless `force`: its rows are then replaced.
    The file is read twice, line by line: once to check it whole, once to insert its rows
    BATCH at a time, so that memory does not grow with the backup.
    """
    check_backup(source)
    await upgrade(db)
    by_name = {t.name: t for t in tables()}

    async def insert(conn, table: sa.Table, batch: list[dict]) -> None:
        try:
            await conn.execute(table.insert(), batch)
        except sa.exc.IntegrityError:
            raise BackupError(
                _("La base refuse des lignes de la table {table} : rien n'a été restauré.").format(
                    table=table.name
                )
            ) from None

    async def load(conn) -> dict[str, int]:
        if not await is_empty(conn) and not force:
            raise BackupError(
                _("La base contient déjà des données : ajoutez --force pour les remplacer par la sauvegarde.")
            )
        for table in reversed(tables()):
            await conn.execute(table.delete())
        counts = dict.fromkeys(by_name, 0)
        batch: list[dict] = []
        current = tables()[0]
        decoders: list = []
        for name, row in backup_rows(source):
            if name != current.name or not decoders:
                if batch:
                    await insert(conn, current, batch)
                    batch = []
                current = by_name[name]
                decoders = [(c.name, _decoder(c)) for c in current.columns]
            batch.append({column: decode(v) for (column, decode), v in zip(decoders, row, strict=True)})
            counts[name] += 1
            if len(batch) >= BATCH:
                await insert(conn, current, batch)
                batch = []
        if batch:
            await insert(conn, current, batch)
        return counts

    return await db.write(load)
