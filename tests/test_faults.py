"""Faults a campus meets: a lock held elsewhere, a read failing after a commit, a database error
at the SSH door, a pool run dry, SIGTERM with people working. Nothing lost, nothing doubled,
nobody left waiting without a word."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.app import SHUTDOWN_NOT_SAVED, SHUTDOWN_SAVED, Service
from server.audit import AuditEvent
from server.config import Settings, load_settings
from server.context import authenticate, create_user
from server.domain.models import Role, User
from server.errors import DatabaseUnavailable, ServiceRestarting
from server.mailer import MailSender
from server.store import Database, outbox, utcnow
from server.store import audit as audit_store
from server.store.schema import audit_log, history, tickets

from .conftest import (
    PASSWORD,
    TEST_BCRYPT_COST,
    admin_connection,
    context_for,
    count,
    make_user,
    until,
)
from .journeys import URGENCY_KEYS, pick_category
from .mailbox import Mailbox, relay
from .sshclient import CTRL_D, ENTER, Client
from .test_cli import Server, cli_env, wait_sentence
from .test_schema import mariadb_only

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# Seconds a lock is waited for in these tests: short, so that "longer than the bound" is quick.
BOUND = 1
RETRY = "La base de données est momentanément indisponible : réessayez dans un instant."
AUDIT_ROW = {"created_at": utcnow(), "evenement": "essai", "adresse": "-", "compte": "-", "details": ""}
RESTARTING = "Le service redémarre : votre saisie est conservée, réessayez dans un instant."


@pytest.fixture
def settings(app_db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env={},
        overrides={
            "database": {"url": app_db_url, "pool_timeout": 5, "lock_timeout": BOUND},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(tmp_path / "host_keys")},
            "security": {"bcrypt_cost": TEST_BCRYPT_COST},
        },
    )


class Locker:
    """Another client of the same database holding a lock, as a mysqldump without
    --single-transaction does (MariaDB: LOCK TABLES … WRITE; SQLite: its one write lock)."""

    def __init__(self, admin_url: str) -> None:
        self.url = make_url(admin_url)
        self.mysql = self.url.get_backend_name() in {"mysql", "mariadb"}
        self._conn = None

    def lock(self, table: str = "tickets") -> None:
        if self.mysql:
            self._conn = admin_connection(str(self.url.set(database=None)))
            with self._conn.cursor() as cur:
                cur.execute(f"USE `{self.url.database}`")
                cur.execute(f"LOCK TABLES {table} WRITE")
        else:
            # isolation_level=None: the BEGIN below is ours, held until unlock().
            self._conn = sqlite3.connect(self.url.database, isolation_level=None, check_same_thread=False)
            self._conn.execute("BEGIN IMMEDIATE")

    def unlock(self) -> None:
        if self._conn is None:
            return
        if self.mysql:
            with self._conn.cursor() as cur:
                cur.execute("UNLOCK TABLES")
        else:
            self._conn.execute("COMMIT")
        self._conn.close()
        self._conn = None


@pytest.fixture
def locker(admin_db_url: str) -> Iterator[Locker]:
    held = Locker(admin_db_url)
    try:
        yield held
    finally:
        held.unlock()


async def logged_in(service: Service, email: str, name: str) -> Client:
    assert service.services is not None
    await make_user(service.services, email, name)
    c = await Client.connect(service.port, email, PASSWORD)
    await c.wait_for("1. Nouveau ticket")
    return c


async def up_to_urgency(c: Client, title: str, description: str = "Rien ne s'affiche.") -> None:
    """`Nouveau ticket` filled up to its last field, the urgency."""
    c.send("1")
    await c.wait_for("Titre :")
    c.send(title + ENTER)
    await pick_category(c)
    await c.wait_for("Description :")
    c.send(description + CTRL_D)
    await c.wait_for("1. Faible", "2. Moyenne", "3. Haute")


def pool_idle(db: Database) -> bool:
    return db.engine.sync_engine.pool.checkedout() == 0


# Every wait bounded ----------------------------------------------------------------------------


async def test_a_table_locked_longer_than_the_bound_ends_in_retry_with_the_form_kept(
    service: Service, clients: list[Client], locker: Locker
):
    """LOCK TABLES tickets WRITE (a dump) held past lock_timeout: the user is told to retry
    within the bound, nothing is written, the connection is back in the pool; once the lock
    is gone, sending the same form again makes the one ticket."""
    c = await logged_in(service, "alice@example.org", "Alice Ndiaye")
    clients.append(c)
    await up_to_urgency(c, "Écran noir")
    locker.lock("tickets")
    c.send(URGENCY_KEYS["Moyenne"])
    # The bound plus a generous margin: a behaviour (it ends), not a timing.
    await wait_sentence(c, RETRY, timeout=BOUND + 5)
    await c.wait_for("Titre : Écran noir", "2. Moyenne")
    assert await until(lambda: pool_idle(service.db), 5)
    locker.unlock()
    assert await count(service.db, tickets) == 0

    c.send(URGENCY_KEYS["Moyenne"])
    await c.wait_for("Ticket #1 créé.")
    assert await count(service.db, tickets) == 1
    assert await count(service.db, history) == 1


async def test_a_second_enter_on_the_last_field_makes_one_ticket(
    service: Service, clients: list[Client], locker: Locker
):
    """Enter pressed again while the ticket is being written (behind a lock), then again on
    the form shown back after the lock outlasted its bound: one form, one ticket."""
    c = await logged_in(service, "alice@example.org", "Alice Ndiaye")
    clients.append(c)
    await up_to_urgency(c, "Souris")
    locker.lock("tickets")
    c.send(ENTER)
    c.send(ENTER)
    await wait_sentence(c, RETRY, timeout=BOUND + 5)
    locker.unlock()
    c.send(ENTER)
    await c.wait_for("Ticket #1 créé.")
    c.send(ENTER)
    await asyncio.sleep(0.5)
    assert await count(service.db, tickets) == 1


async def test_a_reply_refused_for_now_stays_in_its_field(
    service: Service, clients: list[Client], locker: Locker
):
    """A reply that meets a lock past its bound is not lost: it stays typed, with the sentence,
    and Ctrl-D sends it once the lock is gone."""
    assert service.services is not None
    alice = await make_user(service.services, "alice@example.org", "Alice Ndiaye")
    await context_for(service.services, alice).create_ticket("Wi-Fi", "Pas de réseau.", "Haute")
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    clients.append(c)
    await c.wait_for("2. Mes tickets")
    c.send("2")
    await c.wait_for("Wi-Fi")
    c.send("1" + ENTER)
    await c.wait_for("Ticket #1", "1. Répondre")
    c.send("1")
    await c.wait_for("Réponse :")
    locker.lock("tickets")
    c.send("Toujours rien ce matin." + CTRL_D)
    await wait_sentence(c, RETRY, timeout=BOUND + 5)
    await c.wait_for("Toujours rien ce matin.", "Réponse :")
    locker.unlock()
    c.send(CTRL_D)
    await c.wait_for("Réponse envoyée.")
    assert await count(service.db, history) == 2


@mariadb_only
async def test_mariadb_connections_carry_every_bound(app_db_url: str, database: Database, tmp_path: Path):
    """Each pooled connection sets lock_wait_timeout, innodb_lock_wait_timeout and
    max_statement_time from config.yaml; a statement past its bound is stopped and rolled back."""
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": app_db_url, "lock_timeout": 3, "statement_timeout": 1},
            "ssh": {"host_keys_dir": str(tmp_path / "keys")},
        },
    )
    db = Database(settings)
    try:
        async with db.transaction() as conn:
            row = (
                await conn.exec_driver_sql(
                    "SELECT @@lock_wait_timeout, @@innodb_lock_wait_timeout, @@max_statement_time"
                )
            ).one()
        assert tuple(row) == (3, 3, 1.0)
        with pytest.raises(DatabaseUnavailable) as stopped:
            async with db.transaction() as conn:
                await conn.exec_driver_sql("SELECT SLEEP(5) FROM tickets UNION SELECT SLEEP(5)")
        assert stopped.value.reason == "statement timeout"
        assert pool_idle(db)
    finally:
        await db.close()


async def test_a_row_locked_elsewhere_past_the_bound_rolls_back(services, admin_db_url: str):
    """A ticket row held FOR UPDATE by another client (MariaDB's innodb_lock_wait_timeout) or the
    write lock held (SQLite's busy timeout): a status change ends within the bound, nothing
    half-written, the connection back in the pool."""
    from server.domain.models import Role

    from .conftest import context_for

    admin = await make_user(services, "admin@example.org", "Awa Admin", Role.ADMIN)
    ctx = context_for(services, admin)
    ticket_id = await ctx.create_ticket("Projecteur", "Pas d'image.", "Haute")
    holder = Locker(admin_db_url)
    if holder.mysql:
        conn = admin_connection(str(holder.url.set(database=None)))
        cur = conn.cursor()
        cur.execute(f"USE `{holder.url.database}`")
        cur.execute("BEGIN")
        cur.execute("SELECT id FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
    else:
        holder.lock()
    try:
        with pytest.raises(DatabaseUnavailable) as refused:
            await asyncio.wait_for(ctx.change_status(ticket_id, "En cours"), BOUND + 5)
        assert refused.value.reason == "lock wait timeout"
    finally:
        if holder.mysql:
            cur.execute("ROLLBACK")
            conn.close()
        else:
            holder.unlock()
    assert pool_idle(services.db)
    assert (await ctx.ticket(ticket_id)).status.value == "En attente"
    assert await count(services.db, history) == 1


# Outcomes that cannot lie ------------------------------------------------------------------------


async def test_a_commit_followed_by_a_failing_read_is_told_as_created(
    service: Service, clients: list[Client], admin_db_url: str, locker: Locker
):
    """The ticket is committed, then reading it back fails (MariaDB: the accounts table locked
    by a dump; SQLite: the table gone from under the reader): the user is told it was created,
    so that nobody sends it twice."""
    c = await logged_in(service, "alice@example.org", "Alice Ndiaye")
    clients.append(c)
    await up_to_urgency(c, "Chargeur")
    url = make_url(admin_db_url)
    sqlite_conn = None
    if locker.mysql:
        locker.lock("utilisateurs")
    else:
        sqlite_conn = sqlite3.connect(url.database, isolation_level=None)
        sqlite_conn.execute("ALTER TABLE utilisateurs RENAME TO utilisateurs_absents")
    try:
        c.send(URGENCY_KEYS["Haute"])
        shown = await c.wait_for("Ticket #1 créé.", timeout=BOUND + 5)
        assert "réessayez" not in shown
        await wait_sentence(c, "L'affichage n'a pas pu être actualisé")
    finally:
        if sqlite_conn is not None:
            sqlite_conn.execute("ALTER TABLE utilisateurs_absents RENAME TO utilisateurs")
            sqlite_conn.close()
        locker.unlock()
    assert await count(service.db, tickets) == 1


# The SSH door ----------------------------------------------------------------------------------


async def test_a_database_error_during_password_auth_is_a_refusal_with_its_reason(
    service: Service, locker: Locker, caplog
):
    """The account cannot be checked (its table locked past the bound): the client is told
    why it is refused, and the log says so in one line; never a silent disconnect."""
    assert service.services is not None
    await make_user(service.services, "alice@example.org", "Alice Ndiaye")
    # MariaDB: the accounts locked; SQLite: the write lock taken (the login's audit row waits).
    locker.lock("utilisateurs")
    caplog.set_level(logging.INFO)
    with pytest.raises(asyncssh.DisconnectError) as refused:
        await asyncio.wait_for(Client.connect(service.port, "alice@example.org", PASSWORD), BOUND + 5)
    locker.unlock()
    assert "indisponible" in refused.value.reason
    lines = [r.getMessage() for r in caplog.records if "ssh auth impossible" in r.getMessage()]
    assert len(lines) == 1 and "lock wait timeout" in lines[0], lines
    assert "Traceback" not in caplog.text

    # The database free again, the same login gets in.
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    try:
        await c.wait_for("1. Nouveau ticket")
    finally:
        await c.close()


# The pool and its logs -------------------------------------------------------------------------


@pytest.fixture
async def small_pool(app_db_url: str, database: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """The test's database behind a pool of one connection, waited for one second."""
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": app_db_url, "pool_size": 1, "max_overflow": 0, "pool_timeout": 1},
            "ssh": {"host_keys_dir": str(tmp_path / "keys")},
        },
    )
    db = Database(settings)
    try:
        yield db
    finally:
        await db.close()


async def test_an_exhausted_pool_is_named_as_such_once_per_episode(small_pool: Database, caplog):
    caplog.set_level(logging.INFO)
    held = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with small_pool.transaction() as conn:
            await conn.execute(sa.select(1))
            held.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    for _ in range(3):
        with pytest.raises(DatabaseUnavailable) as exc:
            async with small_pool.transaction():
                pass
        assert exc.value.reason == "pool exhausted"
    done.set()
    await holder
    async with small_pool.transaction() as conn:
        await conn.execute(sa.select(1))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("database pool exhausted")
    assert "database back" in warnings[1] and "3 operations refused" in warnings[1]


async def test_the_change_feed_names_an_exhausted_pool(small_pool: Database, caplog):
    from server.change_feed import ChangeFeed

    caplog.set_level(logging.INFO)
    feed = ChangeFeed(small_pool, 0.05)
    await feed.poll()
    held = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with small_pool.transaction():
            held.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    feed.start()
    await until(lambda: feed.failing, 5)
    done.set()
    await holder
    await feed.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "support.live"]
    assert any("pool exhausted" in line for line in lines), lines
    assert not any("unreachable" in line for line in lines), lines


@sqlite_only
async def test_sqlite_writers_take_turns_in_order_and_the_pool_never_grows(
    database: Database, settings: Settings
):
    """On SQLite, writes of this process get the write lock first come, first served, and a
    burst of reads uses the fixed pool: no extra connection (one thread each) is started."""
    before = threading.active_count()
    order: list[int] = []
    release = asyncio.Event()

    async def first(conn) -> None:
        await release.wait()
        order.append(0)

    async def then(n: int):
        async def work(conn) -> None:
            await conn.execute(sa.select(1))
            order.append(n)

        return await database.write(work)

    writers = [asyncio.create_task(database.write(first))]
    await until(lambda: database.writes_running == 1)
    for n in range(1, 8):
        writers.append(asyncio.create_task(then(n)))
        await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*writers)
    assert order == list(range(8))

    peak = [0, 0]

    async def read() -> None:
        async with database.transaction() as conn:
            await conn.execute(sa.select(sa.func.count()).select_from(tickets))
            pool = database.engine.sync_engine.pool
            peak[0] = max(peak[0], pool.checkedout())
            peak[1] = max(peak[1], threading.active_count() - before)
            await asyncio.sleep(0.05)

    await asyncio.gather(*(read() for _ in range(40)))
    assert peak[0] <= settings.database.pool_size
    # One aiosqlite thread per connection, and no more connections than the pool's size.
    assert peak[1] <= settings.database.pool_size


async def test_a_burst_of_logins_all_get_in(services, database: Database):
    """A class arriving at once: 300 password logins at the same moment, the write lock waited
    for one second at most (BOUND), and every one gets in, each with its audit row. Before the
    logins' writes were committed together, each took a turn of SQLite's write lock and the
    last ones in the queue were refused ("lock wait timeout")."""
    n = 300
    hashed = await services.hasher.hash(PASSWORD)
    for i in range(n):
        await create_user(database, f"Apprenant {i}", f"burst{i}@example.org", hashed, Role.USER)
    outcomes = await asyncio.gather(
        *(
            authenticate(services, f"burst{i}@example.org", PASSWORD, f"198.51.100.{i % 250}:{40000 + i}")
            for i in range(n)
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if not isinstance(o, User)]
    assert refused == []
    async with database.transaction() as conn:
        stored = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(audit_log.c.evenement == AuditEvent.LOGIN_SUCCEEDED.value)
        )
    assert stored == n


async def test_writes_committed_together_fail_only_on_their_own(database: Database):
    """One of the writes sharing a transaction breaks a rule of the schema: it alone fails,
    the others are stored."""

    def row(user_id: int | None):
        async def work(conn) -> None:
            await audit_store.insert(conn, {**AUDIT_ROW, "utilisateur_id": user_id})

        return work

    jobs = [database.write(row(None if i != 3 else 999_999), together=True) for i in range(8)]
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    assert [isinstance(o, sa.exc.IntegrityError) for o in outcomes] == [i == 3 for i in range(8)]
    assert await count(database, audit_log) == 7


async def test_writes_are_refused_once_a_shutdown_began(database: Database):
    database.refusing_writes = True
    with pytest.raises(ServiceRestarting) as refused:
        await database.write(lambda conn: conn.execute(sa.select(1)))
    assert refused.value.message == RESTARTING


# SIGTERM with people working --------------------------------------------------------------------


async def test_sigterm_mid_write_loses_nothing_and_tells_each_user_the_truth(
    tmp_path: Path, app_db_url: str, database: Database, locker: Locker
):
    """Two users have sent their ticket, held behind a lock; SIGTERM; a third sends hers after
    the signal. The two tickets are written once the lock goes and their users are told so; the
    third is refused at once with her form kept, and told it was not saved; exit 0."""
    grace = 20
    env = cli_env(
        tmp_path,
        app_db_url,
        SUPPORT_DATABASE_LOCK_TIMEOUT="15",
        SUPPORT_DATABASE_SHUTDOWN_GRACE=str(grace),
    )
    from server.context import SessionResources
    from server.security import PasswordHasher

    services = SessionResources(database, PasswordHasher(TEST_BCRYPT_COST))
    people = [("awa@example.org", "Awa"), ("bineta@example.org", "Bineta"), ("coumba@example.org", "Coumba")]
    for email, name in people:
        await make_user(services, email, name)
    server = Server(env)
    opened: list[Client] = []
    try:
        await server.start()
        for email, _name in people:
            c = await Client.connect(server.port, email, PASSWORD)
            opened.append(c)
            await c.wait_for("1. Nouveau ticket")
        awa, bineta, coumba = opened
        for c, (_email, name) in zip(opened, people, strict=True):
            await up_to_urgency(c, f"Ticket de {name}")
        locker.lock("tickets")
        awa.send(URGENCY_KEYS["Haute"])
        bineta.send(URGENCY_KEYS["Faible"])
        await asyncio.sleep(0.5)  # both writes started, waiting for the lock

        loop = asyncio.get_running_loop()
        signalled = loop.time()
        server.terminate()
        await server.wait_log("signal received")
        await wait_sentence(coumba, "Le service redémarre")
        coumba.send(URGENCY_KEYS["Moyenne"])
        await wait_sentence(coumba, RESTARTING)
        await coumba.wait_for("Titre : Ticket de Coumba")

        await asyncio.sleep(2)  # a slow statement, held by the lock, well past the signal
        locker.unlock()
        # Each of the two sees its ticket created, then the banner saying it is saved.
        await asyncio.gather(awa.wait_for("Ticket #", "créé."), bineta.wait_for("Ticket #", "créé."))
        await asyncio.gather(
            *(wait_sentence(c, SHUTDOWN_SAVED, timeout=grace) for c in (awa, bineta)),
            wait_sentence(coumba, SHUTDOWN_NOT_SAVED, timeout=grace),
        )
        assert await server.exit_code(timeout=grace + 5) == 0
        assert loop.time() - signalled < grace + 5
    finally:
        server.kill()
        for c in opened:
            await c.close()
    async with database.transaction() as conn:
        titles = sorted((await conn.execute(sa.select(tickets.c.titre))).scalars())
    assert titles == ["Ticket de Awa", "Ticket de Bineta"]
    assert await count(database, history) == 2
    for bad in ("non-checked-in", "Event loop is closed", "Traceback", "closing anyway"):
        assert bad not in server.log, server.log


async def test_the_mail_sender_names_an_outage_once_and_sends_when_it_ends(
    small_pool: Database, mailbox: Mailbox, caplog
):
    """The outbox out of reach for several looks: one warning, then the message goes."""
    caplog.set_level(logging.INFO, logger="support.mail")
    await small_pool.write(
        lambda conn: outbox.enqueue(
            conn,
            user_id=None,
            to_address="alice@example.org",
            to_name="Alice",
            subject="S",
            body="B",
            now=utcnow(),
        )
    )
    sender = MailSender(small_pool, relay(mailbox, poll_interval=0.05))
    held = asyncio.Event()
    done = asyncio.Event()

    async def hold() -> None:
        async with small_pool.transaction():
            held.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    sender.start()
    try:
        # Each look waits the pool's second, then fails: three of them.
        await until(lambda: any("outbox unreachable" in r.getMessage() for r in caplog.records), 10)
        await asyncio.sleep(2.5)
        done.set()
        await holder
        await until(lambda: len(mailbox.messages()) == 1, 10)
    finally:
        done.set()
        await sender.stop()
    lines = [
        r.getMessage() for r in caplog.records if r.name == "support.mail" and r.levelno >= logging.WARNING
    ]
    assert sum("outbox unreachable" in line for line in lines) == 1, lines
    assert "pool exhausted" in lines[0], lines
