"""SSH hardening as auditors and clients see it: the real ssh-audit rates each algorithm profile,
old and new OpenSSH and PuTTY clients get in (or are refused), the host key must be private,
and check-config warns about a database used as root."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from server.app import Service
from server.config import ConfigError, Settings, load_settings
from server.transport.algorithms import POST_QUANTUM_KEX, Profile
from server.transport.host_keys import HOST_KEY_NAME
from server.transport.sshd import server_algorithms

from .conftest import PASSWORD, TEST_BCRYPT_COST
from .sshclient import Client, OpenSSHClient
from .test_cli import cli, cli_env

TERRAPIN_MARKER = "kex-strict-s-v00@openssh.com"

# What an OpenSSH 7.4 client (December 2016) proposes by default, as its ssh_config(5) lists it.
OPENSSH_7_4 = {
    "KexAlgorithms": "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
    "diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha256,"
    "diffie-hellman-group14-sha1",
    "Ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    "MACs": "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    "HostKeyAlgorithms": "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-ed25519,"
    "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
}
# The least a PuTTY 0.70 (July 2017) can do: X25519 under its old name only, AES in CTR or CBC
# mode and no encrypt-then-MAC (the worst case: no ChaCha20, no GCM, no ETM to fall back on).
PUTTY_0_70 = {
    "KexAlgorithms": "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
    "diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1",
    "Ciphers": "aes256-ctr,aes192-ctr,aes128-ctr,aes256-cbc,aes192-cbc,aes128-cbc",
    "MACs": "hmac-sha2-256,hmac-sha1,hmac-sha1-96",
    "HostKeyAlgorithms": "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa",
}
OLD_CLIENTS = {"openssh-7.4": OPENSSH_7_4, "putty-0.70": PUTTY_0_70}


def profile_settings(tmp_path: Path, profile: str) -> Settings:
    return load_settings(
        env={},
        overrides={
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/{profile}.db"},
            "ssh": {
                "host": "127.0.0.1",
                "port": 0,
                "host_keys_dir": str(tmp_path / "host_keys"),
                "profile": profile,
            },
            "security": {"bcrypt_cost": TEST_BCRYPT_COST},
        },
    )


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[Callable[[str], Awaitable[Service]]]:
    """Start the real server in a profile. The algorithms offered do not depend on the database:
    these servers use SQLite; the logins that read users run on both databases below."""
    started: list[Service] = []

    async def start(profile: str) -> Service:
        svc = Service(profile_settings(tmp_path, profile))
        await svc.start()
        started.append(svc)
        return svc

    yield start
    for svc in started:
        await svc.stop(grace=2)


# ssh-audit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    """What the real ssh-audit said about a server: its exit code and its JSON report."""

    exit_code: int
    report: dict

    def offered(self, kind: str) -> list[str]:
        return [entry["algorithm"] for entry in self.report[kind]]

    def notes(self, level: str) -> list[str]:
        """Every `fail` or `warn` note, as "kind algorithm: note"."""
        return [
            f"{kind} {entry['algorithm']}: {note}"
            for kind in ("kex", "key", "enc", "mac")
            for entry in self.report[kind]
            for note in entry.get("notes", {}).get(level, [])
        ]


async def ssh_audit(port: int) -> Audit:
    # No connection-rate (DHEat) test here: it measures the connection limits, tested elsewhere.
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ssh_audit",
            "--json",
            "--skip-rate-test",
            "--timeout",
            "30",
            "--port",
            str(port),
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("{"), f"ssh-audit said:\n{done.stdout}\n{done.stderr}"
    return Audit(done.returncode, json.loads(done.stdout))


async def test_strict_profile_is_clean_for_ssh_audit(start_server):
    audit = await ssh_audit((await start_server("strict")).port)
    assert audit.notes("fail") == [] and audit.notes("warn") == []
    assert audit.exit_code == 0
    assert audit.offered("kex") == [POST_QUANTUM_KEX, "ext-info-s", TERRAPIN_MARKER]
    assert audit.offered("key") == ["ssh-ed25519"]
    assert audit.report["cves"] == []


async def test_compatible_profile_has_no_ssh_audit_failure(start_server):
    audit = await ssh_audit((await start_server("compatible")).port)
    assert audit.notes("fail") == []
    assert audit.exit_code in (0, 2)  # 2: warnings (for the older algorithms), 3 would be failures
    kex = audit.offered("kex")
    # Post-quantum first for the clients that have it, then X25519 under both its names.
    assert kex[:3] == [POST_QUANTUM_KEX, "curve25519-sha256", "curve25519-sha256@libssh.org"]
    assert TERRAPIN_MARKER in kex
    assert audit.offered("key") == ["ssh-ed25519"]
    assert audit.report["compression"] == ["none"]
    assert audit.report["cves"] == []


# What this machine can serve ------------------------------------------------------------------


def test_ml_kem_is_available_here():
    """strict offers ML-KEM on this machine and on CI's: the pinned cryptography brings it."""
    assert POST_QUANTUM_KEX in server_algorithms(Profile.STRICT).kex


def test_without_ml_kem_compatible_serves_the_rest_and_strict_refuses_to_start():
    without = {
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    }
    assert server_algorithms(Profile.COMPATIBLE, without).kex == (
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    )
    with pytest.raises(ConfigError) as info:
        server_algorithms(Profile.STRICT, without)
    assert "ssh.profile strict" in str(info.value) and POST_QUANTUM_KEX in str(info.value)


async def test_strict_profile_lets_a_post_quantum_client_in(start_server):
    svc = await start_server("strict")
    c = await Client.connect(svc.port)
    try:
        await c.wait_for("1. Se connecter")
    finally:
        await c.close()


# Old clients ----------------------------------------------------------------------------------


def ssh_with(port: int, algorithms: dict[str, str]) -> list[str]:
    """The real `ssh`, proposing only `algorithms`, as the guest."""
    options = [arg for name, value in algorithms.items() for arg in ("-o", f"{name}={value}")]
    return [
        "ssh",
        "-tt",
        "-F",
        "/dev/null",
        "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        *options,
        "-l",
        "support",
        "127.0.0.1",
    ]


@pytest.mark.parametrize("client", list(OLD_CLIENTS))
async def test_compatible_profile_serves_clients_of_the_last_ten_years(start_server, client):
    svc = await start_server("compatible")
    c = await OpenSSHClient.spawn(ssh_with(svc.port, OLD_CLIENTS[client]))
    try:
        await c.wait_for("1. Se connecter", "2. Créer un compte", "4. Quitter")
    finally:
        await c.close()


@pytest.mark.parametrize("client", list(OLD_CLIENTS))
async def test_strict_profile_refuses_clients_without_post_quantum_key_exchange(start_server, client):
    svc = await start_server("strict")
    done = await asyncio.to_thread(
        subprocess.run,
        ssh_with(svc.port, OLD_CLIENTS[client]),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 255
    assert f"no matching key exchange method found. Their offer: {POST_QUANTUM_KEX}," in done.stderr
    assert "Se connecter" not in done.stdout


# PuTTY ----------------------------------------------------------------------------------------


async def test_plink_logs_in_with_a_password_and_reaches_the_main_menu(service, settings, alice):
    key = asyncssh.read_private_key(settings.host_keys_dir / HOST_KEY_NAME)
    c = await OpenSSHClient.spawn(
        [
            "plink",
            "-ssh",
            "-batch",
            "-t",
            "-no-antispoof",
            "-P",
            str(service.port),
            "-l",
            "alice@example.org",
            "-pw",
            PASSWORD,
            # Batch mode trusts no unknown host key: the server's fingerprint, as its log shows it.
            "-hostkey",
            key.get_fingerprint("sha256"),
            "127.0.0.1",
        ]
    )
    try:
        await c.wait_for("alice@example.org", "1. Nouveau ticket", "2. Mes tickets", "4. Déconnexion")
        c.send("2")
        await c.wait_for("Mes tickets")
    finally:
        await c.close()


# Host key and configuration checks ------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o604])
async def test_serve_refuses_a_host_key_others_can_read_or_change(tmp_path, mode):
    folder = tmp_path / "host_keys"
    folder.mkdir()
    path = folder / HOST_KEY_NAME
    path.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    path.chmod(mode)
    done = await cli("serve", env=cli_env(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Erreur")]
    assert errors == [
        f"Erreur : la clé d'hôte {path} est accessible à d'autres comptes (mode {mode:04o}) ; "
        f"faites : chmod 600 {path}"
    ], done.stderr
    assert "listening" not in done.stderr


async def test_check_config_warns_when_the_database_is_used_as_root(tmp_path):
    done = await cli(
        "check-config", env=cli_env(tmp_path, "mysql+aiomysql://root:s3cret@127.0.0.1/suivi_incident")
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "Attention : la base de données est utilisée en tant que root : créez un utilisateur "
        "limité (SELECT, INSERT, UPDATE, DELETE sur la base seulement, voir le README) et "
        "mettez-le dans database.url"
    ]
    assert "s3cret" not in done.stdout + done.stderr

    least_privilege = await cli(
        "check-config", env=cli_env(tmp_path, "mysql+aiomysql://support_app:s3cret@127.0.0.1/suivi_incident")
    )
    assert least_privilege.returncode == 0 and least_privilege.stderr == ""


async def test_check_config_shows_and_checks_the_profile(tmp_path):
    done = await cli("check-config", env=cli_env(tmp_path, SUPPORT_SSH_PROFILE="strict"))
    assert done.returncode == 0 and "  profile: strict" in done.stdout.splitlines()
    wrong = await cli("check-config", env=cli_env(tmp_path, SUPPORT_SSH_PROFILE="moderne"))
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "Erreur : ssh.profile: profil inconnu 'moderne' (compatible ou strict attendu)"
    ]
