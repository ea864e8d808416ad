"""The command line as an operator runs it: `python -m server` and its subcommands, as processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa

from server.app import SHUTDOWN_NOTICE
from server.config import Settings
from server.store import Database
from server.store.migrate import SCHEMA_VERSION, SEED_VERSION, schema_version
from server.store.schema import statuses, tickets, users

from .conftest import PASSWORD
from .journeys import file_ticket, login_in_app
from .sshclient import Client, OpenSSHClient
from .sshcommand import ssh_process
from .test_migrations import seed_mariadb
from .test_schema import mariadb_only

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "chef-de-salle-2026"
# One event per line: "2026-01-31 12:00:00,123 INFO support.sshd addr=… user=… …"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+ \S")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(tmp_path: Path, db_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no stray SUPPORT_* setting, the test's own ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORT_")}
    env |= {
        "SUPPORT_SSH_HOST": "127.0.0.1",
        "SUPPORT_SSH_PORT": str(free_port()),
        "SUPPORT_SSH_HOST_KEYS_DIR": str(tmp_path / "host_keys"),
        "SUPPORT_SECURITY_BCRYPT_COST": "4",
        # Never the project's own data/support.db.
        "SUPPORT_DATABASE_SQLITE_PATH": str(tmp_path / "default.db"),
        "PYTHONUNBUFFERED": "1",
    }
    if db_url:
        env["SUPPORT_DATABASE_URL"] = db_url
    return env | extra


async def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    """`python -m server ARGS`, run from the project root, stdin a pipe (not a terminal)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def words(text: str) -> str:
    return " ".join(text.split())


async def wait_sentence(c: Client, sentence: str, timeout: float = 15.0) -> None:
    """Wait for a sentence that may be wrapped over several screen lines."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while words(sentence) not in words(c.text()):
        assert loop.time() < deadline and not c.closed, f"{sentence!r} not on screen:\n{c.text()}"
        await asyncio.sleep(0.02)


# --help ---------------------------------------------------------------------------------------

HELP = {
    (): ["usage: python -m server", "serve", "create-admin", "init-db", "check-config", "--config"],
    ("serve",): ["usage: python -m server serve", "Démarre le service SSH", "SIGTERM"],
    ("create-admin",): [
        "usage: python -m server create-admin",
        "Crée un administrateur",
        "--email",
        "--name",
        "entrée standard",
    ],
    ("init-db",): ["usage: python -m server init-db", "Crée les tables manquantes"],
    ("check-config",): [
        "usage: python -m server check-config",
        "Affiche chaque réglage effectif",
        "mot de passe de la base masqué",
    ],
}


@pytest.mark.parametrize("command", list(HELP), ids=lambda c: " ".join(c) or "main")
async def test_help_describes_each_command(tmp_path, command):
    done = await cli(*command, "--help", env=cli_env(tmp_path, COLUMNS="100"))
    assert done.returncode == 0, done.stderr
    for text in HELP[command]:
        assert words(text) in words(done.stdout), done.stdout
    assert done.stderr == ""


async def test_schema_sql_writes_the_committed_file(tmp_path):
    """`python -m server schema-sql > schema_support.sql`: the command the file's header names."""
    done = await cli("schema-sql", env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "schema_support.sql").read_text(encoding="utf-8")
    assert "CREATE TABLE IF NOT EXISTS historique" in done.stdout


# init-db --------------------------------------------------------------------------------------


async def test_init_db_creates_the_schema_and_is_idempotent(tmp_path, admin_db_url, settings: Settings):
    db = Database(settings)
    try:
        assert await schema_version(db) == 0
        for expected in (
            f"Schéma {SCHEMA_VERSION} appliqué",
            f"Schéma déjà à jour (version {SCHEMA_VERSION})",
        ):
            done = await cli("init-db", env=cli_env(tmp_path, admin_db_url))
            assert done.returncode == 0, done.stderr
            assert expected in done.stdout
            assert await schema_version(db) == SCHEMA_VERSION
            async with db.transaction() as conn:
                labels = (await conn.execute(sa.select(statuses.c.libelle).order_by(statuses.c.id))).scalars()
                assert list(labels) == ["En attente", "En cours", "Résolu", "Fermé"]
    finally:
        await db.close()


# create-admin ---------------------------------------------------------------------------------


async def admins(database) -> list[tuple[str, str, str]]:
    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(users.c.email, users.c.role, users.c.mot_de_passe))).all()
    return [tuple(r) for r in rows]


async def test_create_admin_reads_the_password_from_stdin(tmp_path, db_url, service, database):
    done = await cli(
        "create-admin",
        "--email",
        "Chef@Example.org",
        "--name",
        "Chef de salle",
        env=cli_env(tmp_path, db_url),
        stdin=ADMIN_PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "Administrateur créé : chef@example.org" in done.stdout
    assert ADMIN_PASSWORD not in done.stdout + done.stderr
    [(email, role, hashed)] = await admins(database)
    assert (email, role) == ("chef@example.org", "admin")
    assert hashed.startswith("$2") and ADMIN_PASSWORD not in hashed

    # The password works: over SSH, as an admin.
    c = await Client.connect(service.port, "chef@example.org", ADMIN_PASSWORD)
    try:
        await c.wait_for(
            "1. Nouveau ticket",
            "3. Tous les tickets",
            "4. Mes tickets assignés",
            "5. Tableau de bord",
            "6. Utilisateurs",
            "7. Paramètres",
            "8. Mon compte",
            "9. Déconnexion",
        )
    finally:
        await c.close()


async def test_create_admin_refuses_a_short_password(tmp_path, db_url, database):
    done = await cli(
        "create-admin",
        "--email",
        "chef@example.org",
        "--name",
        "Chef",
        env=cli_env(tmp_path, db_url),
        stdin="court\n",
    )
    assert done.returncode != 0
    assert "Le mot de passe doit faire au moins 8 caractères." in done.stderr
    assert "Traceback" not in done.stderr
    assert await admins(database) == []


async def test_create_admin_refuses_an_e_mail_already_used(tmp_path, db_url, database):
    env = cli_env(tmp_path, db_url)
    first = await cli(
        "create-admin", "--email", "chef@example.org", "--name", "Chef", env=env, stdin=ADMIN_PASSWORD + "\n"
    )
    assert first.returncode == 0, first.stderr
    again = await cli(
        "create-admin",
        "--email",
        "CHEF@example.org",
        "--name",
        "Autre chef",
        env=env,
        stdin="un-autre-mot-de-passe\n",
    )
    assert again.returncode != 0
    assert "Un compte existe déjà avec cet e-mail." in again.stderr
    assert "Traceback" not in again.stderr
    assert len(await admins(database)) == 1


# check-config ---------------------------------------------------------------------------------


async def test_check_config_prints_every_setting_and_masks_the_database_password(tmp_path):
    env = cli_env(
        tmp_path,
        "mysql+aiomysql://app:s3cret@127.0.0.1/db",
        SUPPORT_SSH_PORT="2345",
        SUPPORT_LOG_LEVEL="DEBUG",
        SUPPORT_SSH_GUEST_USER="aide",
    )
    done = await cli("check-config", env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "s3cret" not in out + done.stderr
    assert "mysql+aiomysql://app:***@127.0.0.1/db" in out
    for section, values in Settings().sections().items():
        assert re.search(rf"^{section}:$", out, re.MULTILINE), out
        for key in values:
            assert re.search(rf"^  {key}:", out, re.MULTILINE), f"{section}.{key} missing:\n{out}"
    # The environment overrides config.yaml.
    assert re.search(r"^  port: 2345$", out, re.MULTILINE)
    assert re.search(r"^  level: DEBUG$", out, re.MULTILINE)
    assert re.search(r"^  guest_user: aide$", out, re.MULTILINE)
    assert re.search(r"^  bcrypt_cost: 4$", out, re.MULTILINE)
    assert str(tmp_path / "host_keys") in out


# serving --------------------------------------------------------------------------------------


class Server:
    """`python -m server` as a process; its stderr kept line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = int(env["SUPPORT_SSH_PORT"])
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> Server:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._reader = asyncio.ensure_future(self._read())
        await self.wait_log("listening")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait_log(self, text: str, timeout: float = 20.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            assert self.proc is not None
            if self.proc.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"{text!r} not logged:\n{self.log}")
            await asyncio.sleep(0.05)

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def exit_code(self, timeout: float = 15.0) -> int:
        """Wait for the process to end; its exit status."""
        assert self.proc is not None and self._reader is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(self._reader, timeout)
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def test_serve_logs_stops_cleanly_and_keeps_its_host_key(tmp_path, db_url, alice):
    env = cli_env(tmp_path, db_url)
    server = Server(env)
    opened: list[Client] = []
    try:
        await server.start()
        key_file = tmp_path / "host_keys" / "ssh_host_ed25519_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        fingerprint = asyncssh.read_private_key(key_file).get_fingerprint("sha256")
        assert f"fingerprint={fingerprint}" in server.log
        assert "host key generated" in server.log

        # A refused login, at the SSH door and in the application.
        with pytest.raises(asyncssh.PermissionDenied):
            await Client.connect(server.port, "alice@example.org", "pas-le-bon-mot-de-passe")
        guest = await Client.connect(server.port)
        opened.append(guest)
        await login_in_app(guest, "alice@example.org", "encore-le-mauvais")
        await guest.wait_for("E-mail ou mot de passe incorrect.")

        # A successful one, and a ticket.
        c = await Client.connect(server.port, "alice@example.org", PASSWORD)
        opened.append(c)
        await c.wait_for("1. Nouveau ticket")
        fingerprint_seen = c.conn.get_server_host_key().get_fingerprint("sha256")  # type: ignore[union-attr]
        assert fingerprint_seen == fingerprint
        await file_ticket(c, "Chargeur HS", "Il ne charge plus.", "Haute")
        await c.wait_for("Ticket #1 créé.")
        await server.wait_log("ticket created")

        # SIGTERM: the connected user is told, the process exits 0.
        server.terminate()
        await wait_sentence(c, SHUTDOWN_NOTICE)
        assert await server.exit_code() == 0
        await asyncio.wait_for(c.chan.wait_closed(), 10)  # type: ignore[union-attr]
    finally:
        server.kill()
        for client in opened:
            await client.close()

    for line in filter(None, server.lines):
        assert LOG_LINE.match(line), f"not a one-line log event: {line!r}\n{server.log}"
    for secret in (PASSWORD, "pas-le-bon-mot-de-passe", "encore-le-mauvais"):
        assert secret not in server.log
    address = r"addr=127\.0\.0\.1:\d+"
    for event in (
        rf"{address} user=alice@example\.org ssh auth failed",
        rf"{address} user=alice@example\.org ssh auth succeeded",
        # The in-app refusal, as the audit trail logs it.
        rf"event=connexion_echouee {address} account=alice@example\.org",
        rf"{address} user=alice@example\.org ticket created id=1 ",
        r"signal received",
        r"stopped",
    ):
        assert re.search(event, server.log), f"{event!r} not logged:\n{server.log}"

    # Restarted, it reuses the same host key.
    again = Server(cli_env(tmp_path, db_url))
    try:
        await again.start()
        assert f"fingerprint={fingerprint}" in again.log
        assert "host key generated" not in again.log
        c = await Client.connect(again.port, "alice@example.org", PASSWORD)
        try:
            # What the client's known_hosts records: the same key as before the restart.
            assert c.conn.get_server_host_key().get_fingerprint("sha256") == fingerprint  # type: ignore[union-attr]
            await c.wait_for("1. Nouveau ticket")
        finally:
            await c.close()
        again.terminate()
        assert await again.exit_code() == 0
    finally:
        again.kill()
    assert asyncssh.read_private_key(key_file).get_fingerprint("sha256") == fingerprint


async def test_ctrl_c_stops_cleanly_after_sessions_came_and_went(tmp_path, db_url, alice):
    """SIGINT (Ctrl-C in the operator's terminal) stops the service like SIGTERM, even after
    sessions have opened and closed: none of them may take the signal over."""
    server = Server(cli_env(tmp_path, db_url))
    try:
        await server.start()
        first = await Client.connect(server.port)
        await first.wait_for("1. Se connecter")
        await first.close()
        c = await Client.connect(server.port, "alice@example.org", PASSWORD)
        await c.wait_for("1. Nouveau ticket")
        server.terminate(signal.SIGINT)
        await wait_sentence(c, SHUTDOWN_NOTICE)
        assert await server.exit_code() == 0
        await c.close()
    finally:
        server.kill()
    assert "signal received" in server.log and "stopped" in server.log
    assert "Traceback" not in server.log


async def test_a_shutdown_ends_a_screen_and_a_command_with_the_status_sent(tmp_path, db_url, database, alice):
    """SIGTERM with a user on the full screens of the real `ssh -tt` and a script's
    `ssh campus tickets new` still sending its description: the screen's ssh exits 0 once its
    user has read why, the command's exits 3 (try again) with the sentence on stderr and
    nothing else; no ticket was half made."""
    server = Server(cli_env(tmp_path, db_url))
    screen: OpenSSHClient | None = None
    command = None
    try:
        await server.start()
        screen = await OpenSSHClient.start(server.port, "alice@example.org")
        await screen.wait_for("password:")
        screen.send(PASSWORD + "\r")
        await screen.wait_for("1. Nouveau ticket")
        command = await ssh_process(
            server.port, "alice@example.org", "tickets", "new", "--title", "Souris HS", "--urgency", "Faible"
        )
        assert command.stdin is not None and command.stdout is not None and command.stderr is not None
        command.stdin.write(b"Elle ne clique plus.\n")
        while server.log.count("ssh auth succeeded") < 2:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the command is reading its input
        server.terminate()
        await screen.wait_for("Le service redémarre")
        assert await asyncio.wait_for(asyncio.to_thread(screen.proc.wait, 15), 20) == 0  # type: ignore[union-attr]
        assert await asyncio.wait_for(command.wait(), 15) == 3
        assert await command.stdout.read() == b""
        assert (await command.stderr.read()).decode() == SHUTDOWN_NOTICE + "\n"
        assert await server.exit_code() == 0
    finally:
        server.kill()
        if screen is not None:
            await screen.close()
        if command is not None and command.returncode is None:
            command.kill()
    assert "Traceback" not in server.log, server.log
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one() == 0


async def test_a_shutdown_ends_an_export_still_streaming_with_3_and_the_notice(
    tmp_path, db_url, database, admin
):
    """SIGTERM while `ssh campus export` streams more tickets than the client has read: the
    export stops where it is, its ssh exits 3 (try again) with the sentence on stderr."""
    n = 60_000
    now = datetime.now(UTC).replace(tzinfo=None)
    common = {"description": "x", "urgence": "Faible", "auteur_id": admin.id, "statut_id": 1}
    rows = [
        common | {"titre": f"Vidéoprojecteur {i:05} " + "…" * 98, "created_at": now, "updated_at": now}
        for i in range(n)
    ]
    async with database.transaction(write=True) as conn:
        await conn.execute(tickets.insert(), rows)
    server = Server(cli_env(tmp_path, db_url))
    command = None
    try:
        await server.start()
        command = await ssh_process(server.port, "admin@example.org", "export")
        assert command.stdout is not None and command.stderr is not None
        # The first rows read: the export is streaming.
        head = await asyncio.wait_for(command.stdout.readexactly(50_000), 30)
        server.terminate()
        # Ended while it waits for its client, mid-stream; then its client reads on.
        await server.wait_log("command ended by the shutdown: exit 3")
        rest, err = await asyncio.wait_for(command.communicate(), 30)
        assert command.returncode == 3, err
        assert err.decode() == SHUTDOWN_NOTICE + "\n"
        assert await server.exit_code() == 0
    finally:
        server.kill()
        if command is not None and command.returncode is None:
            command.kill()
    out = head + rest
    assert out.startswith(b"id,title,status,") and f"Vidéoprojecteur {n - 1:05}".encode() not in out
    assert "Traceback" not in server.log, server.log


async def test_serve_without_its_database_says_so_in_one_line(tmp_path):
    env = cli_env(tmp_path, "mysql+aiomysql://support_app:s3cret@127.0.0.1:1/suivi_incident")
    result = await cli("serve", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Erreur")]
    assert len(errors) == 1 and "base de données" in errors[0], result.stderr
    assert "s3cret" not in result.stderr


@mariadb_only
async def test_serve_refuses_an_old_schema_when_upgrades_are_off_and_init_db_upgrades_it(tmp_path, db_url):
    seed_mariadb(db_url)
    env = cli_env(tmp_path, db_url, SUPPORT_DATABASE_CREATE_SCHEMA="false")
    result = await cli("serve", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Erreur")]
    assert errors == [
        f"Erreur : La base est au schéma 1, ce programme attend le schéma {SCHEMA_VERSION} : lancez "
        "« python -m server init-db » avec un compte qui peut modifier les tables."
    ], result.stderr

    done = await cli("init-db", env=env)
    applied = ", ".join(str(v) for v in range(SEED_VERSION + 1, SCHEMA_VERSION + 1))
    assert done.returncode == 0 and f"versions appliquées : {applied}" in done.stdout, done.stderr
