"""Several front ends as one server: the shared host key (`ssh.host_key_file`) checked by the real
OpenSSH client, and two front-end processes behind Debian's HAProxy on one MariaDB."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from pathlib import Path

import pytest

from server.app import Service
from server.config import ConfigError, Settings
from server.sshd import load_shared_host_key

from .sshclient import OpenSSHClient


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
