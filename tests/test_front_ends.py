"""Several front ends as one server: the shared host key (`ssh.host_key_file`) checked by the real
OpenSSH client, and two front-end processes behind Debian's HAProxy on one MariaDB."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from server.app import Service
from server.audit import AuditEvent
from server.config import ConfigError, Settings
from server.domain.models import Role
from server.store.schema import audit_log
from server.throttle import source as source_of
from server.transport.host_keys import load_shared_host_key

from .conftest import PASSWORD, free_port, make_user, until
from .journeys import file_ticket
from .sshclient import CTRL_D, ENTER, Client, OpenSSHClient
from .test_cli import cli, cli_env


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A private key made as the README says, with OpenSSH's own ssh-keygen."""
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True, timeout=60)
    return path


def with_host_key(settings: Settings, key: Path | None, folder: Path) -> Settings:
    ssh = dataclasses.replace(settings.ssh, host_key_file=str(key or ""), host_keys_dir=str(folder))
    return dataclasses.replace(settings, ssh=ssh)


def test_the_shared_host_key_is_never_made_up(tmp_path):
    with pytest.raises(ConfigError, match=r"ssh\.host_key_file : .* n'existe pas"):
        load_shared_host_key(tmp_path / "absent")
    key = keygen(tmp_path / "shared")
    key.chmod(0o640)
    with pytest.raises(ConfigError, match="accessible à d'autres comptes"):
        load_shared_host_key(key)
    key.chmod(0o600)
    assert load_shared_host_key(key).get_algorithm() == "ssh-ed25519"
    with pytest.raises(ConfigError, match="une clé ssh-ed25519 est attendue"):
        load_shared_host_key(keygen(tmp_path / "rsa", "rsa"))
    (tmp_path / "junk").write_text("pas une clé\n")
    (tmp_path / "junk").chmod(0o600)
    with pytest.raises(ConfigError, match="n'est pas une clé privée lisible"):
        load_shared_host_key(tmp_path / "junk")


async def test_serve_without_its_shared_host_key_stops_and_says_what_to_do(tmp_path):
    missing = tmp_path / "etc" / "ssh_host_ed25519_key"
    env = cli_env(tmp_path, SUPPORT_SSH_HOST_KEY_FILE=str(missing))
    shown = await cli("check-config", env=env)
    assert f"# clés d'hôte : {missing}" in shown.stdout.splitlines()
    done = await cli("serve", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Erreur")]
    assert errors == [
        f"Erreur : ssh.host_key_file : {missing} n'existe pas ; copiez-y la clé d'hôte commune à "
        "tous les frontaux (ssh-keygen -t ed25519 -N '' -f FICHIER la crée une fois)"
    ], done.stderr
    # Nothing made up in its place, neither there nor in host_keys_dir.
    assert not missing.exists() and not (tmp_path / "host_keys").exists()
    assert "listening" not in done.stderr


def ssh_argv(port: int, known_hosts: Path, checking: str, *command: str) -> list[str]:
    """OpenSSH as a lab machine runs it: one name for the service whichever machine answers."""
    return [
        "ssh",
        *(["-tt"] if not command else []),
        "-F",
        "/dev/null",
        "-p",
        str(port),
        "-o",
        "HostKeyAlias=campus",
        "-o",
        f"StrictHostKeyChecking={checking}",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "support@127.0.0.1",
        *command,
    ]


async def test_a_client_that_knows_one_front_end_knows_them_all(settings, database, tmp_path):
    shared = keygen(tmp_path / "ssh_host_ed25519_key")
    services = [
        Service(with_host_key(settings, shared, tmp_path / "a")),
        Service(with_host_key(settings, shared, tmp_path / "b")),
        # A front end left with a key of its own, as when the key was not copied.
        Service(with_host_key(settings, None, tmp_path / "c")),
    ]
    opened: list[OpenSSHClient] = []
    for svc in services:
        await svc.start()
    try:
        a, b, c = (svc.port for svc in services)
        known = tmp_path / "known_hosts"
        # First connection to A: the key is recorded under the service's one name.
        first = await OpenSSHClient.spawn(ssh_argv(a, known, "accept-new"))
        opened.append(first)
        await first.wait_for("Se connecter", "Créer un compte")
        assert known.read_text().startswith("campus ssh-ed25519 ")
        # B, never seen, with the strictest checking: no question, no warning, the menu.
        second = await OpenSSHClient.spawn(ssh_argv(b, known, "yes"))
        opened.append(second)
        screen = await second.wait_for("Se connecter", "Créer un compte")
        assert "WARNING" not in screen and "authenticity" not in screen
        assert len(known.read_text().splitlines()) == 1
        # C serves another key: OpenSSH refuses it outright.
        refused = await asyncio.to_thread(
            subprocess.run, ssh_argv(c, known, "yes", "true"), capture_output=True, text=True, timeout=30
        )
        assert refused.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in refused.stderr
        # And the file was not touched: the generated key of A's folder does not exist.
        assert not (tmp_path / "a").exists()
    finally:
        for client in opened:
            await client.close()
        for svc in services:
            await svc.stop(grace=2)


# Two front-end processes behind HAProxy ----------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
# Failed logins from one address before it waits, and how long: long enough that no attempt of
# the test outlives it.
FAILURES_PER_ADDRESS = 4
WRONG = "pas-le-bon-mot-de-passe"


@dataclasses.dataclass
class FrontEnd:
    """One `python -m server serve` process: its SSH port, its metrics, its log."""

    name: str
    port: int
    metrics: int
    log: Path
    proc: subprocess.Popen | None = None

    def figures(self) -> dict[str, float]:
        """Its metrics endpoint as {'name{labels}': value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=5) as r:
            text = r.read().decode("utf-8")
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[s.name + ("{" + labels + "}" if labels else "")] = s.value
        return out

    async def sessions(self) -> dict[str, int]:
        f = await asyncio.to_thread(self.figures)
        return {k: int(f[f'support_sessions_open{{kind="{k}"}}']) for k in ("guest", "user", "admin")}

    async def logins(self, outcome: str) -> int:
        f = await asyncio.to_thread(self.figures)
        return int(f[f'support_logins_total{{outcome="{outcome}"}}'])


def haproxy_config(front: int, backends: list[FrontEnd]) -> str:
    """deploy/haproxy.cfg itself, its addresses swapped for the test's loopback ports."""
    text = HAPROXY_CFG.read_text(encoding="utf-8")
    text = text.replace("bind :22", f"bind 127.0.0.1:{front}")
    text = text.replace("10.0.0.11:2222", f"127.0.0.1:{backends[0].port}")
    text = text.replace("10.0.0.12:2222", f"127.0.0.1:{backends[1].port}")
    # 20,000 connections need 40,000 descriptors, more than a test machine's ulimit may give.
    text = text.replace("maxconn 20000", "maxconn 1000")
    assert text.count("127.0.0.1:") == 3 and "maxconn 1000" in text, "deploy/haproxy.cfg has changed"
    return text


@pytest.fixture
async def farm(app_db_url, database, tmp_path):
    """Two front ends (one shared host key, PROXY protocol from 127.0.0.1) and HAProxy before them."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    shared = keygen(tmp_path / "ssh_host_ed25519_key")
    fronts = [FrontEnd(n, free_port(), free_port(), tmp_path / f"{n}.log") for n in ("front1", "front2")]
    for f in fronts:
        env = cli_env(
            tmp_path,
            app_db_url,
            SUPPORT_SSH_PORT=str(f.port),
            SUPPORT_SSH_HOST_KEY_FILE=str(shared),
            SUPPORT_SSH_HOST_KEYS_DIR=str(tmp_path / f"{f.name}-keys"),
            SUPPORT_SSH_PROXY_PROTOCOL="true",
            SUPPORT_SSH_TRUSTED_PROXIES="127.0.0.1",
            SUPPORT_METRICS_LISTEN=f"127.0.0.1:{f.metrics}",
            SUPPORT_DATABASE_CREATE_SCHEMA="false",
            SUPPORT_SECURITY_LOGIN_FAILURES_PER_ADDRESS=str(FAILURES_PER_ADDRESS),
            SUPPORT_SECURITY_LOGIN_DELAY_BASE="300",
            SUPPORT_LIVE_POLL_INTERVAL="0.2",
        )
        with f.log.open("wb") as out:
            f.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
    haproxy_log = tmp_path / "haproxy.log"
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(front, fronts), encoding="utf-8")
    haproxy = None
    try:
        for f in fronts:
            await until(lambda f=f: answers(f), 60)
        with haproxy_log.open("wb") as out:
            haproxy = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=out, stderr=out)
        yield Farm(front, fronts, haproxy, haproxy_log, shared)
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(10)
        for f in fronts:
            if f.proc is not None and f.proc.poll() is None:
                f.proc.terminate()
                f.proc.wait(30)


def answers(f: FrontEnd) -> bool:
    assert f.proc is not None and f.proc.poll() is None, f.log.read_text(errors="replace")
    try:
        f.figures()
    except OSError:
        return False
    return True


@dataclasses.dataclass
class Farm:
    port: int  # HAProxy's
    fronts: list[FrontEnd]
    haproxy: subprocess.Popen
    haproxy_log: Path
    host_key: Path

    async def where(self, kind: str) -> list[FrontEnd]:
        """The front ends that hold at least one session of this kind now."""
        return [f for f in self.fronts if (await f.sessions())[kind] > 0]


async def through_haproxy(farm: Farm, source: str, email: str, password: str = PASSWORD) -> Client:
    """A client at `source` logged in through HAProxy; retried while HAProxy has no front end."""
    for _ in range(100):
        assert farm.haproxy.poll() is None, farm.haproxy_log.read_text(errors="replace")
        try:
            return await Client.connect(farm.port, email, password, source=source)
        except (ConnectionError, asyncssh.ConnectionLost, asyncssh.DisconnectError) as exc:
            if isinstance(exc, asyncssh.PermissionDenied):
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("HAProxy let no connection through")


async def refused(farm: Farm, source: str, email: str, password: str) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(farm.port, email, password, source=source)


async def audited(database, event: AuditEvent) -> list[str]:
    async with database.transaction() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.adresse)
            .where(audit_log.c.evenement == event.value)
            .order_by(audit_log.c.id)
        )
        return [source_of(r[0]) for r in rows]


async def test_two_front_ends_behind_haproxy_act_as_one_service(farm, services, database):
    await make_user(services, "alice@example.org", "Alice Ndiaye")
    await make_user(services, "bob@example.org", "Bob Sarr")
    await make_user(services, "admin@example.org", "Awa Admin", Role.ADMIN)
    opened: list[Client] = []
    try:
        # (a) HAProxy sends the learner to one front end and the admin to the other (leastconn).
        learner = await through_haproxy(farm, "127.0.0.2", "alice@example.org")
        opened.append(learner)
        await learner.wait_for("1. Nouveau ticket")
        staff = await through_haproxy(farm, "127.0.0.3", "admin@example.org")
        opened.append(staff)
        await staff.wait_for("1. Nouveau ticket")
        [a] = await farm.where("user")
        [b] = await farm.where("admin")
        assert a is not b
        print(f"\nlearner on {a.name}, admin on {b.name}, both through HAProxy on port {farm.port}")
        # Both served the one shared host key.
        shared = asyncssh.read_private_key(farm.host_key).get_fingerprint("sha256")
        for c in opened:
            assert c.conn.get_server_host_key().get_fingerprint("sha256") == shared  # type: ignore[union-attr]

        # (b) The ticket filed on A reaches the admin on B live; B's reply reaches A live.
        await file_ticket(learner, "Imprimante", "Bourrage papier.", "Moyenne")
        await learner.wait_for("Ticket #1 créé.")
        await staff.wait_for("Nouveau ticket #1 : Imprimante", "1. Nouveau ticket")
        staff.send("3")
        await staff.wait_for("Tous les tickets", "Imprimante", "Numéro du ticket")
        staff.send("1" + ENTER)
        await staff.wait_for("Ticket #1 — Imprimante", "1. Changer le statut")
        staff.send("2")
        await staff.wait_for("Ticket #1 : répondre", "Réponse :")
        staff.send("Essayez le bac 2." + CTRL_D)
        await staff.wait_for("Réponse envoyée.")
        await learner.wait_for("Nouvelle réponse sur votre ticket #1")
        print(f"ticket #1 filed on {a.name}, seen live on {b.name}; {b.name}'s reply told live on {a.name}")

        # (c) Failed logins from one address count across both front ends: past the threshold,
        # the right password is throttled on either; another address is not.
        for _ in range(FAILURES_PER_ADDRESS):
            await refused(farm, "127.0.0.4", "bob@example.org", WRONG)
        failed = [await f.logins("failed") for f in farm.fronts]
        assert sum(failed) == FAILURES_PER_ADDRESS and all(failed), failed
        throttled = [0, 0]
        for _ in range(6):
            await refused(farm, "127.0.0.4", "bob@example.org", PASSWORD)
            throttled = [await f.logins("throttled") for f in farm.fronts]
            if all(throttled):
                break
        assert all(throttled), throttled
        print(f"failures from 127.0.0.4 per front end {failed}, then throttled on each {throttled}")
        bob = await through_haproxy(farm, "127.0.0.5", "bob@example.org")
        opened.append(bob)
        await bob.wait_for("1. Nouveau ticket")

        # (e) The audit trail has the clients' own addresses, never HAProxy's 127.0.0.1.
        assert await audited(database, AuditEvent.LOGIN_SUCCEEDED) == ["127.0.0.2", "127.0.0.3", "127.0.0.5"]
        assert set(await audited(database, AuditEvent.LOGIN_FAILED)) == {"127.0.0.4"}
        assert set(await audited(database, AuditEvent.LOGIN_THROTTLED)) == {"127.0.0.4"}
        assert await audited(database, AuditEvent.ADMIN_ACTION) == ["127.0.0.3"]

        # (d) The learner's front end dies: its clients are cut, the admin's session on the
        # other goes on, and new connections go there once HAProxy's checks mark it down.
        await bob.close()
        opened.remove(bob)
        assert a.proc is not None
        a.proc.kill()
        a.proc.wait(10)
        await until(lambda: learner.closed, 30)
        await until(lambda: "is DOWN" in farm.haproxy_log.read_text(errors="replace"), 30)
        down = [line for line in farm.haproxy_log.read_text().splitlines() if "is DOWN" in line]
        print("haproxy:", down[0].split("]: ", 1)[-1] if down else "")
        staff.send("0")
        await staff.wait_for("Tous les tickets", "Numéro du ticket")
        again = await through_haproxy(farm, "127.0.0.2", "alice@example.org")
        opened.append(again)
        await again.wait_for("1. Nouveau ticket")
        other = await through_haproxy(farm, "127.0.0.6", "bob@example.org")
        opened.append(other)
        await other.wait_for("1. Nouveau ticket")
        assert await b.sessions() == {"guest": 0, "user": 2, "admin": 1}
        print(f"{a.name} killed: the admin's session on {b.name} still answers; 2 new logins on {b.name}")
    finally:
        for c in opened:
            await c.close()
