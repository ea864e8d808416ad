"""The engine: the pool for MariaDB or SQLite, its bounds, transactions, outage logging."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from ..config import Settings
from ..errors import DatabaseUnavailable, ServiceRestarting
from . import ddl
from .together import Together

log = logging.getLogger("support.db")

T = TypeVar("T")


def utcnow() -> datetime:
    """Current UTC time as stored in the database (naive, whole seconds)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def is_mysql(url: str) -> bool:
    return make_url(url).get_backend_name() in {"mysql", "mariadb"}


def _sqlite_on_connect(busy_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        # SQLAlchemy, not the driver, starts transactions: see _sqlite_on_begin.
        dbapi_connection.isolation_level = None
        # Integrity rules are off by default in SQLite; WAL lets readers run beside a writer.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Another process's writer (a backup, a second server) is waited for this long at most.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    return on_connect


def _sqlite_on_begin(conn) -> None:
    # A write transaction takes SQLite's write lock at once, as SELECT … FOR UPDATE does on
    # MySQL: what it reads cannot change before it writes, and writers queue, never deadlock.
    write = conn.get_execution_options().get("write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# MariaDB error codes of a bounded wait: lock waits (row locks and LOCK TABLES' metadata
# locks) and max_statement_time.
_LOCK_WAIT_CODES = {1205}
_STATEMENT_TIMEOUT_CODES = {1969, 3024}
# InnoDB chose this transaction to roll back out of a lock cycle (or, on Galera, a
# certification conflict): the database is well, the transaction may simply be run again.
_DEADLOCK_CODES = {1213}
# A CHECK constraint refused a row (MariaDB's 4025, MySQL's 3819): the data's fault, not the
# database's, though the driver raises it as an OperationalError. It is an integrity error,
# as SQLite's refusal of the same row is.
_CHECK_CODES = {4025, 3819}


def _code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", None)
    return orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], int) else None


def failure_reason(exc: BaseException) -> str:
    """What a database error means for the operator: unreachable, pool exhausted, a lock or a
    statement past its bound."""
    if isinstance(exc, sa.exc.TimeoutError):
        return "pool exhausted"
    code = _code(exc)
    if code in _LOCK_WAIT_CODES:
        return "lock wait timeout"
    if code in _STATEMENT_TIMEOUT_CODES:
        return "statement timeout"
    if code in _DEADLOCK_CODES:
        return "deadlock"
    orig = getattr(exc, "orig", None)
    if orig is not None and "database is locked" in str(orig):
        return "lock wait timeout"
    return "unreachable"


# Seconds between two log lines about transactions rolled back at a bound.
BOUNDED_LOG_EVERY = 10.0


class Health:
    """Outage episodes, logged as one WARNING when they start and one when they end.

    Every failed transaction and every connection dropped while the database is down are
    counted, not logged one by one (SQLAlchemy's "Exception during reset" traceback per
    returned connection included).
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self.started = 0.0
        self.failed = 0
        self.dropped = 0
        # Transactions rolled back at a bound since the last line about them.
        self.bounded = 0
        self.bounded_logged = -BOUNDED_LOG_EVERY
        # Every failed transaction since start, by reason (the metrics endpoint's figures).
        self.errors: dict[str, int] = dict.fromkeys(
            ("unreachable", "pool exhausted", "lock wait timeout", "statement timeout", "deadlock"), 0
        )

    def failure(self, reason: str, exc: BaseException) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        if reason in {"lock wait timeout", "statement timeout", "deadlock"}:
            # A bound reached (or a deadlock) is a rolled-back transaction, not an outage: one line, then at
            # most one every BOUNDED_LOG_EVERY seconds with how many more there were.
            now = time.monotonic()
            self.bounded += 1
            if now - self.bounded_logged >= BOUNDED_LOG_EVERY:
                log.warning(
                    "database %s: transaction rolled back (%s); %d so since the previous such line",
                    reason,
                    _short(exc),
                    self.bounded,
                )
                self.bounded, self.bounded_logged = 0, now
            return
        if self.reason is None:
            self.reason, self.started = reason, time.monotonic()
            self.failed = self.dropped = 0
            log.warning("database %s: %s; refusing what needs it until it is back", reason, _short(exc))
        self.failed += 1

    def success(self) -> None:
        if self.reason is None:
            return
        log.warning(
            "database back after %.1fs (%s): %d operations refused, %d connections dropped",
            time.monotonic() - self.started,
            self.reason,
            self.failed,
            self.dropped,
        )
        self.reason = None

    def connection_dropped(self) -> None:
        self.dropped += 1


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return f"{type(orig).__name__} {text[:160]}".strip()


class _ResetFailures(logging.Filter):
    """SQLAlchemy logs each connection that could not be reset as it went back to the pool
    (the database is down): counted in the outage instead."""

    def __init__(self, health: Health) -> None:
        super().__init__()
        self.health = health

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Exception during reset"):
            self.health.connection_dropped()
            return False
        return True


class Database:
    """One engine shared by every session, its bounds, and the count of running writes for
    shutdown."""

    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.url = url or settings.database_url
        self.mysql = is_mysql(self.url)
        self.lock_timeout = settings.database.lock_timeout
        self.statement_timeout = settings.database.statement_timeout
        # A server may have closed a pooled connection meanwhile; a SQLite file never does.
        options: dict = {"pool_pre_ping": self.mysql, "pool_timeout": settings.database.pool_timeout}
        if self.mysql:
            u = make_url(self.url)
            if "charset" not in u.query:
                u = u.update_query_dict({"charset": "utf8mb4"})
            self.url = u.render_as_string(hide_password=False)
            options |= {
                "connect_args": {
                    # Strict mode whatever the server's default: a bad ENUM value is an error,
                    # not ''. Every wait bounded: a LOCK TABLES elsewhere (mysqldump) or a row
                    # lock is waited for lock_timeout, a statement runs statement_timeout at most
                    # (MariaDB's defaults: a day, a year, forever).
                    "init_command": "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
                    "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
                    + self.session_bounds(),
                    "connect_timeout": settings.database.pool_timeout,
                },
                "pool_size": settings.database.pool_size,
                "max_overflow": settings.database.max_overflow,
                "pool_recycle": settings.database.pool_recycle,
            }
        else:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                # A fixed set of connections (each is one aiosqlite thread): no thread is
                # started and stopped for every burst, as overflow connections would be.
                options |= {
                    "poolclass": AsyncAdaptedQueuePool,
                    "pool_size": settings.database.pool_size,
                    "max_overflow": 0,
                }
            options |= {"connect_args": {"timeout": self.lock_timeout}}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if not self.mysql:
            busy_ms = self.lock_timeout * 1000
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect(busy_ms))
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
        self.health = Health()
        pool_logger = getattr(self.engine.sync_engine.pool, "logger", None)
        pool_logger = getattr(pool_logger, "logger", pool_logger)
        if isinstance(pool_logger, logging.Logger):
            pool_logger.addFilter(_ResetFailures(self.health))
        # SQLite has one write lock per file, and its busy handler hands it out by chance: a
        # writer may wait while later ones get in. Writers of this process take turns here,
        # first come first served (asyncio.Lock wakes its waiters in order); readers never wait.
        self._turn: asyncio.Lock | None = None if self.mysql else asyncio.Lock()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._writes = 0
        self._writes_done = asyncio.Event()
        self._writes_done.set()
        # Set by a shutdown: writes not yet started are refused.
        self.refusing_writes = False
        self._together = Together(lambda: self.transaction(write=True))

    def session_bounds(self, statement_timeout: float | None = None) -> str:
        """MariaDB's session variables that bound every wait (`SET SESSION …` without SET)."""
        lock = int(self.lock_timeout)
        statement = self.statement_timeout if statement_timeout is None else statement_timeout
        return (
            f"lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {lock}, "
            f"max_statement_time = {float(statement)}"
        )

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back on error.

        `write` marks one that reads in order to write (SQLite then locks at its start, after
        the writers that came before it). A database that is down, a pool without a free
        connection, a lock or a statement past its bound: `DatabaseUnavailable`, rolled back.
        """
        self._active += 1
        self._idle.clear()
        turn = self._turn if write else None
        try:
            if turn is not None:
                try:
                    await asyncio.wait_for(turn.acquire(), self.lock_timeout)
                except TimeoutError:
                    queued = DatabaseUnavailable(reason="lock wait timeout")
                    self.health.failure(queued.reason, TimeoutError(f"{self._writes} writers queued"))
                    raise queued from None
            try:
                async with self.engine.connect() as conn:
                    if write:
                        await conn.execution_options(write=True)
                    async with conn.begin():
                        yield conn
                    # Committed: the next writer may begin while this connection goes back.
                    if turn is not None:
                        turn.release()
                        turn = None
            finally:
                if turn is not None:
                    turn.release()
            self.health.success()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            if _code(exc) in _CHECK_CODES:
                raise sa.exc.IntegrityError(exc.statement, exc.params, exc.orig) from exc
            reason = failure_reason(exc)
            self.health.failure(reason, exc)
            raise DatabaseUnavailable(reason=reason) from exc
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def write(
        self, work: Callable[[AsyncConnection], Awaitable[T]], *, together: bool = False, undo: bool = False
    ) -> T:
        """Run `work` in one transaction that ends whole even if the caller is cancelled.

        `together`: `work` only writes (it decides nothing from what it reads), so it may share
        its transaction with other such writes queued meanwhile (together.py: logins' audit).

        A client that drops mid-write, or a shutdown, cancels the screen awaiting this; the
        transaction itself still commits or rolls back as a unit, never cut half-way. Once a
        shutdown has begun, a write not yet started is refused (`ServiceRestarting`), unless it
        `undo`es what a cut action began (an upload's blocks): that one leaves less behind.
        """
        if self.refusing_writes and not undo:
            raise ServiceRestarting()
        self._writes += 1
        self._writes_done.clear()

        async def run() -> T:
            try:
                if together:
                    return await self._together.run(work)
                async with self.transaction(write=True) as conn:
                    return await work(conn)
            finally:
                self._writes -= 1
                if self._writes == 0:
                    self._writes_done.set()

        return await asyncio.shield(run())

    @property
    def writes_running(self) -> int:
        return self._writes

    async def wait_writes(self, timeout: float) -> bool:
        """Wait until no write runs; False if some still run after `timeout` seconds."""
        return await _wait(self._writes_done, timeout)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no transaction runs; False if some still run after `timeout` seconds."""
        return await _wait(self._idle, timeout)

    async def create_schema(self, conn: AsyncConnection) -> None:
        """Create the full current schema where it is missing (idempotent), and seed it."""
        await ddl.create_schema(conn, self.mysql)

    async def seed(self, conn: AsyncConnection) -> None:
        """The rows every database holds: the three statuses."""
        await ddl.seed(conn, self.mysql)

    async def close(self) -> None:
        await self.engine.dispose()


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    if event.is_set():
        return True
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except TimeoutError:
        return False
