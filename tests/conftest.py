"""Fixtures: every database test runs on SQLite and on MariaDB; the real server on a free port."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.app import Service
from server.config import Settings, load_settings
from server.context import SessionContext, SessionResources, create_user
from server.domain.models import Role, User
from server.security import PasswordHasher
from server.store import Database, is_mysql
from server.store.migrate import upgrade

from .mailbox import Mailbox, relay
from .sshclient import ScreenReader

REQUIRE_MYSQL = os.environ.get("SUPPORT_TEST_REQUIRE_MYSQL") == "1"
TEST_BCRYPT_COST = 4
PASSWORD = "motdepasse-solide"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )


def mariadb_binaries() -> tuple[str, str] | None:
    """(installer, server) of a local MariaDB installation, if there is one."""
    install = _find("mariadb-install-db") or _find("mysql_install_db")
    mariadbd = _find("mariadbd") or _find("mysqld")
    return (install, mariadbd) if install and mariadbd else None


def install_mariadb(folder: Path) -> None:
    """A fresh data folder for a private server, root with an empty password."""
    binaries = mariadb_binaries()
    assert binaries
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            binaries[0],
            "--no-defaults",
            f"--datadir={folder}/data",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_root,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def run_mariadbd(folder: Path, port: int) -> subprocess.Popen:
    """Start the private server on `folder` and wait until it accepts connections."""
    binaries = mariadb_binaries()
    assert binaries
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [
            binaries[1],
            "--no-defaults",
            f"--datadir={folder}/data",
            f"--socket={folder}/mysqld.sock",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={folder}/mysqld.pid",
            f"--log-error={folder}/error.log",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=2",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            *as_root,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root", password="").close()
            return proc
        except pymysql.err.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = (folder / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"private mariadbd did not start:\n{log}") from None
            time.sleep(0.2)


def stop_mariadbd(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


class RestartableMariaDB:
    """A MariaDB server of one test's own, stopped and started again under a running service."""

    def __init__(self, folder: Path) -> None:
        install_mariadb(folder)
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = run_mariadbd(folder, self.port)
        self.url = f"mysql+aiomysql://root@127.0.0.1:{self.port}/suivi_incident"
        admin_connection(self.url.rsplit("/", 1)[0]).cursor().execute("CREATE DATABASE suivi_incident")

    def stop(self) -> None:
        if self.proc is not None:
            stop_mariadbd(self.proc)
            self.proc = None

    def start(self) -> None:
        self.proc = run_mariadbd(self.folder, self.port)

    def settings(self, tmp_path: Path) -> Settings:
        return load_settings(
            env={},
            overrides={
                "database": {"url": self.url, "pool_timeout": 5},
                "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(tmp_path / "keys")},
                "security": {"bcrypt_cost": TEST_BCRYPT_COST},
            },
        )


@pytest.fixture
def restartable_mariadb(tmp_path: Path) -> Iterator[RestartableMariaDB]:
    if mariadb_binaries() is None:
        skip_without_mariadb()
    server = RestartableMariaDB(tmp_path / "mariadb")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[str | None]:
    """URL of a MariaDB server (no database part), or None with the reason printed."""
    url = os.environ.get("SUPPORT_TEST_MYSQL_URL")
    if url:
        yield url.rstrip("/")
        return
    if mariadb_binaries() is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="support-mariadb-"))
    install_mariadb(folder)
    port = free_port()
    proc = run_mariadbd(folder, port)
    try:
        yield f"mysql+aiomysql://root@127.0.0.1:{port}"
    finally:
        stop_mariadbd(proc)
        shutil.rmtree(folder, ignore_errors=True)


def admin_connection(server_url: str) -> pymysql.Connection:
    u = make_url(server_url)
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        charset="utf8mb4",
        autocommit=True,
    )


@contextmanager
def scratch_database(server_url: str, charset: str = "utf8mb4 COLLATE utf8mb4_unicode_ci") -> Iterator[str]:
    """A new empty database on the MariaDB test server, dropped afterwards; its URL."""
    name = f"support_test_{uuid.uuid4().hex[:12]}"
    conn = admin_connection(server_url)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET {charset}")
    try:
        yield f"{server_url}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


def skip_without_mariadb() -> None:
    """Skip, with the reason, a test that needs MariaDB when none is here; fail under CI."""
    reason = (
        "no MariaDB: set SUPPORT_TEST_MYSQL_URL or install mariadb-server "
        "(mariadbd and mariadb-install-db) for a private throwaway server"
    )
    if REQUIRE_MYSQL:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request, tmp_path: Path, mariadb_server: str | None) -> Iterator[str]:
    """A fresh, empty database of each kind for each test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/support.db"
        return
    if mariadb_server is None:
        skip_without_mariadb()
    with scratch_database(mariadb_server) as url:
        yield url


@pytest.fixture
def admin_db_url(db_url: str) -> str:
    """The test's database with every right, DDL included: for schema, migration, init-db tests.

    `settings` and `database` connect as the application does, without those rights.
    """
    return db_url


@contextmanager
def least_privilege_user(admin_url: str) -> Iterator[str]:
    """A user with only SELECT, INSERT, UPDATE, DELETE on the database of `admin_url` (as the
    README's GRANT for production), dropped afterwards; its URL to the same database."""
    u = make_url(admin_url)
    name, password = f"app_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    conn = admin_connection(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{u.database}`.* TO '{name}'@'%'")
    try:
        yield u.set(username=name, password=password).render_as_string(hide_password=False)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
        conn.close()


@pytest.fixture
def app_db_url(admin_db_url: str) -> Iterator[str]:
    """The URL the application connects with: on MariaDB a user with data rights only."""
    if not is_mysql(admin_db_url):
        yield admin_db_url
        return
    with least_privilege_user(admin_db_url) as url:
        yield url


@pytest.fixture
def settings(app_db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env={},
        overrides={
            "database": {"url": app_db_url, "pool_timeout": 5},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(tmp_path / "host_keys")},
            "security": {"bcrypt_cost": TEST_BCRYPT_COST},
        },
    )


@pytest.fixture
async def database(settings: Settings, admin_db_url: str) -> AsyncIterator[Database]:
    """The application's database: the schema applied with the admin's rights, then opened
    with the application's own (no DDL on MariaDB)."""
    schema = Database(settings, url=admin_db_url)
    try:
        await upgrade(schema)
    finally:
        await schema.close()
    db = Database(settings)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def services(database: Database) -> SessionResources:
    return SessionResources(database, PasswordHasher(TEST_BCRYPT_COST))


async def make_user(services: SessionResources, email: str, name: str, role: Role = Role.USER) -> User:
    hashed = await services.hasher.hash(PASSWORD)
    return await create_user(services.db, name, email, hashed, role)


@pytest.fixture
async def alice(services: SessionResources) -> User:
    return await make_user(services, "alice@example.org", "Alice Ndiaye")


@pytest.fixture
async def bob(services: SessionResources) -> User:
    return await make_user(services, "bob@example.org", "Bob Sarr")


@pytest.fixture
async def admin(services: SessionResources) -> User:
    return await make_user(services, "admin@example.org", "Awa Admin", Role.ADMIN)


def context_for(services: SessionResources, user: User | None) -> SessionContext:
    return SessionContext(services, "127.0.0.1:test", user)


@pytest.fixture
async def service(settings: Settings, database: Database) -> AsyncIterator[Service]:
    """The real server, listening on a free port of 127.0.0.1, on the test's database."""
    svc = Service(settings)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2)


async def until(condition: Callable[[], bool], timeout: float = 10.0, *, fail: bool = True) -> bool:
    """Wait until `condition()` holds; an assertion error after `timeout` unless `fail` is False."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            assert not fail, "condition not met in time"
            return False
        await asyncio.sleep(0.02)
    return True


async def count(database: Database, table: sa.Table, *where) -> int:
    """Rows of `table` (matching every `where`), as the database holds them."""
    query = sa.select(sa.func.count()).select_from(table)
    for w in where:
        query = query.where(w)
    async with database.transaction() as conn:
        return (await conn.execute(query)).scalar_one()


@pytest.fixture
async def clients(service: Service) -> AsyncIterator[list[ScreenReader]]:
    """Clients opened by a test; all closed at its end, then the server is left to see them go,
    so that its stop has no one to show the shutdown notice to (and does not pause for it)."""
    opened: list[ScreenReader] = []
    yield opened
    for c in opened:
        await c.close()
    await until(lambda: not service.terminals, 5, fail=False)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free port: the relay of `mail_service`."""
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def group_window() -> int:
    """Seconds a ticket's mail waits for more events in `mail_service` (a test may override)."""
    return 0


@pytest.fixture
async def mail_service(settings: Settings, database: Database, mailbox: Mailbox, group_window: int):
    """The real server with `mailbox` as its relay."""
    svc = Service(dataclasses.replace(settings, mail=relay(mailbox, group_window=group_window)))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2)
