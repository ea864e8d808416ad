"""Public-key login (SPEC §2) over real SSH: asyncssh, OpenSSH `ssh -i` and PuTTY `plink -i`."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest
from asyncssh.public_key import SSHLocalKeyPair

from server.audit import AuditEvent
from server.domain.models import User
from server.store import Database, utcnow
from server.store.schema import audit_log, ssh_keys

from .conftest import count
from .sshclient import ENTER, Client, OpenSSHClient, ScreenReader
from .test_e2e_accounts import open_account, public_line
from .test_e2e_tickets import logged_in

MAIN_MENU = ("Menu principal", "1. Nouveau ticket", "2. Mes tickets")


async def register_key(db: Database, user: User, key: asyncssh.SSHKey, comment: str = "") -> None:
    """A row of `cles_ssh` as the "Mon compte" screen writes it."""
    public = key.convert_to_public()
    line = public.export_public_key("openssh").decode().split()
    await db.write(
        lambda conn: conn.execute(
            ssh_keys.insert().values(
                utilisateur_id=user.id,
                algorithme=public.get_algorithm(),
                cle_publique=f"{line[0]} {line[1]}",
                empreinte=public.get_fingerprint("sha256"),
                commentaire=comment,
                created_at=utcnow(),
            )
        )
    )


def header(c: ScreenReader) -> str:
    return c.screen.display[0].rstrip()


async def audit_count(db: Database, event: AuditEvent) -> int:
    return await count(
        db, audit_log, audit_log.c.evenement == event.value, audit_log.c.details == "ssh publickey"
    )


async def until_count(db: Database, event: AuditEvent, expected: int) -> None:
    # The audit row is written beside the login, not before it: wait for it to land.
    for _ in range(500):
        if await audit_count(db, event) == expected:
            return
        await asyncio.sleep(0.02)
    assert await audit_count(db, event) == expected


class ProbeOnly(SSHLocalKeyPair):
    """Holds someone's public key but not its private half: it can offer the key, not sign."""

    def __init__(self, public: asyncssh.SSHKey, private_stand_in: asyncssh.SSHKey) -> None:
        super().__init__(private_stand_in, None, None, None)
        self.public_data = public.public_data

    def sign(self, data: bytes) -> bytes:
        raise ValueError("no private key")


class Forger(ProbeOnly):
    """Offers someone's public key and signs with another key: a signature that cannot verify."""

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, self.sig_algorithm)


# asyncssh client ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, signature",
    [("ssh-ed25519", "ssh-ed25519"), ("ssh-rsa", "rsa-sha2-256"), ("ssh-rsa", "rsa-sha2-512")],
)
async def test_registered_key_logs_in_without_a_password(
    service, clients, database, alice, algorithm, signature
):
    key = asyncssh.generate_private_key(algorithm, **({"key_size": 2048} if algorithm == "ssh-rsa" else {}))
    await register_key(database, alice, key, "portable d'Alice")
    pair = asyncssh.load_keypairs([key])[0]
    # The client signs with this algorithm only (else it picks the best the server offers).
    pair.sig_algorithms = [signature.encode()]
    pair.set_sig_algorithm(signature.encode())
    c = await Client.connect(service.port, "Alice@Example.org", client_keys=[pair], auth="publickey")
    clients.append(c)
    await c.wait_for(*MAIN_MENU)
    assert header(c).endswith("alice@example.org")
    await until_count(database, AuditEvent.LOGIN_SUCCEEDED, 1)
    assert await audit_count(database, AuditEvent.LOGIN_FAILED) == 0


async def test_unregistered_key_and_unknown_email_get_the_same_refusal(service, database, alice):
    registered = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, registered)
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    refusals = []
    for username, key in [
        ("alice@example.org", stranger),  # a known account, a key that is not its own
        ("inconnu@example.org", stranger),  # an unknown account
        ("inconnu@example.org", registered),  # alice's key under another name
    ]:
        with pytest.raises(asyncssh.PermissionDenied) as info:
            await Client.connect(service.port, username, client_keys=[key], auth="publickey")
        refused = info.value
        refusals.append((type(refused), refused.code, refused.reason.replace(username, "…")))
    assert refusals[0] == refusals[1] == refusals[2]
    assert await audit_count(database, AuditEvent.LOGIN_SUCCEEDED) == 0


async def test_offering_a_registered_key_without_signing_never_opens_a_session(service, database, alice):
    """soft-serve's CVE-2023-43809: the server said "yes, that key" to a probe and let it in."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    probe = ProbeOnly(key.convert_to_public(), asyncssh.generate_private_key("ssh-ed25519"))
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "alice@example.org", client_keys=[probe], auth="publickey")
    # Then, on the same server, the guest name: whatever was offered before stays unattached.
    guest = await Client.connect(service.port, "support")
    try:
        await guest.wait_for("1. Se connecter")
    finally:
        await guest.close()
    assert not service.terminals or all(t.who == "" for t in service.terminals)
    assert await audit_count(database, AuditEvent.LOGIN_SUCCEEDED) == 0
    # A key offered and never used to sign is not a failed login.
    assert await audit_count(database, AuditEvent.LOGIN_FAILED) == 0


async def test_a_signature_that_does_not_verify_is_refused_and_audited(service, database, alice):
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    forger = Forger(key.convert_to_public(), asyncssh.generate_private_key("ssh-ed25519"))
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "alice@example.org", client_keys=[forger], auth="publickey")
    await until_count(database, AuditEvent.LOGIN_FAILED, 1)
    assert await audit_count(database, AuditEvent.LOGIN_SUCCEEDED) == 0


# OpenSSH and PuTTY ---------------------------------------------------------------------------


def write_key(folder: Path, key: asyncssh.SSHKey, name: str) -> Path:
    path = folder / name
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    (folder / f"{name}.pub").write_bytes(key.export_public_key("openssh"))
    return path


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
@pytest.mark.parametrize("algorithm", ["ssh-ed25519", "ssh-rsa"])
async def test_openssh_logs_in_with_its_key(service, clients, database, alice, tmp_path, algorithm):
    key = asyncssh.generate_private_key(algorithm, **({"key_size": 2048} if algorithm == "ssh-rsa" else {}))
    await register_key(database, alice, key)
    path = write_key(tmp_path, key, "id_test")
    c = await OpenSSHClient.start(service.port, "alice@example.org", identity=str(path))
    clients.append(c)
    await c.wait_for(*MAIN_MENU)
    assert header(c).endswith("alice@example.org")
    assert "Mot de passe" not in c.text()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
async def test_openssh_with_only_the_public_key_is_refused(service, clients, database, alice, tmp_path):
    """Someone who copied alice's public key: OpenSSH offers it, cannot sign, gets nothing."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    path = write_key(tmp_path, key, "id_test")
    path.unlink()  # the private half stays with alice
    c = await OpenSSHClient.start(service.port, "alice@example.org", identity=str(path))
    clients.append(c)
    screen = await c.wait_for("Permission denied")
    assert "Menu principal" not in screen
    assert c.proc is not None
    assert await asyncio.to_thread(c.proc.wait, 10) == 255
    assert await audit_count(database, AuditEvent.LOGIN_SUCCEEDED) == 0
    assert await audit_count(database, AuditEvent.LOGIN_FAILED) == 0


@pytest.mark.skipif(shutil.which("plink") is None, reason="putty-tools not installed")
@pytest.mark.parametrize("algorithm", ["ssh-ed25519", "ssh-rsa"])
async def test_putty_logs_in_with_its_key(service, clients, database, settings, alice, tmp_path, algorithm):
    key = asyncssh.generate_private_key(algorithm, **({"key_size": 2048} if algorithm == "ssh-rsa" else {}))
    await register_key(database, alice, key)
    path = write_key(tmp_path, key, "id_test")
    ppk = tmp_path / "id_test.ppk"
    subprocess.run(["puttygen", str(path), "-O", "private", "-o", str(ppk)], check=True, capture_output=True)
    host_key = asyncssh.read_public_key(settings.host_keys_dir / "ssh_host_ed25519_key.pub")
    c = await OpenSSHClient.spawn(
        [
            "plink",
            "-ssh",
            "-batch",
            "-t",
            "-no-antispoof",
            "-hostkey",
            host_key.get_fingerprint("sha256"),
            "-P",
            str(service.port),
            "-l",
            "alice@example.org",
            "-i",
            str(ppk),
            "127.0.0.1",
        ]
    )
    clients.append(c)
    await c.wait_for(*MAIN_MENU)
    assert header(c).endswith("alice@example.org")


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
async def test_key_added_on_the_account_screen_opens_ssh_and_removing_it_closes_it(
    service, clients, database, alice, tmp_path
):
    """The whole promise: paste the public key in `Mon compte`, then `ssh -i key` needs no password."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment="alice@salle-3")
    path = write_key(tmp_path, key, "id_salle3")
    c = await logged_in(service, clients, "alice@example.org")
    await open_account(c)
    c.send("3")
    await c.wait_for("Clés SSH", "1. Ajouter une clé")
    c.send("1")
    await c.wait_for("Clé publique :")
    c.paste(public_line(key))
    c.send(ENTER)
    await c.wait_for(f"Clé ajoutée : {key.get_fingerprint()}.")

    first = await OpenSSHClient.start(service.port, "alice@example.org", identity=str(path))
    clients.append(first)
    await first.wait_for(*MAIN_MENU)
    assert header(first).endswith("alice@example.org") and "Mot de passe" not in first.text()
    await until_count(database, AuditEvent.LOGIN_SUCCEEDED, 1)

    # Removed on the screen: the same key no longer opens anything.
    c.send("2")
    await c.wait_for("Quelle clé supprimer ?")
    c.send("1")
    await c.wait_for("Confirmer ? (o/n)")
    c.send("o")
    await c.wait_for("Aucune clé pour l'instant.")
    second = await OpenSSHClient.start(service.port, "alice@example.org", identity=str(path))
    clients.append(second)
    screen = await second.wait_for("Permission denied")
    assert "Menu principal" not in screen
