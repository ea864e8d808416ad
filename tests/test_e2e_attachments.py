"""Attachments over the real OpenSSH `scp` and `sftp` (issue 14), on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

import asyncssh
import pytest

from server.domain.models import Urgency
from server.handlers.ticket_view import describe
from server.store.schema import attachment_blocks, attachments, history, tickets

from .conftest import context_for, count
from .test_e2e_keys import register_key, write_key

pytestmark = pytest.mark.skipif(shutil.which("scp") is None, reason="OpenSSH client not installed")

SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
]  # fmt: skip


async def run(argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), 120)
    return proc.returncode, out.decode("utf-8", "replace")


class Files:
    """scp and sftp as one user, with their registered key."""

    def __init__(self, port: int, email: str, identity: Path) -> None:
        self.port, self.email, self.identity = port, email, identity

    def remote(self, path: str) -> str:
        return f"{self.email}@127.0.0.1:{path}"

    async def scp(self, *args: str, legacy: bool = False) -> tuple[int, str]:
        mode = ["-O"] if legacy else []
        return await run(["scp", *mode, "-P", str(self.port), "-i", str(self.identity), *SSH_OPTIONS, *args])

    async def sftp(self, commands: str) -> tuple[int, str]:
        argv = ["sftp", "-P", str(self.port), "-i", str(self.identity), *SSH_OPTIONS, "-b", "-"]
        return await run([*argv, f"{self.email}@127.0.0.1"], commands.encode())


async def files_for(database, user, tmp_path: Path, port: int, name: str) -> Files:
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, user, key)
    return Files(port, user.email, write_key(tmp_path, key, f"id_{name}"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def alice_ticket(services, alice) -> int:
    return await context_for(services, alice).create_ticket("Écran bleu", "Au démarrage.", Urgency.HIGH)


@pytest.mark.parametrize("legacy", [False, True], ids=["sftp-mode", "legacy-scp"])
async def test_scp_round_trip_is_byte_identical(
    service, services, database, alice, alice_ticket, tmp_path, legacy
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    original = tmp_path / "capture.bin"
    original.write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    status, out = await files.scp(str(original), files.remote(f"{alice_ticket}/"), legacy=legacy)
    assert status == 0, out
    assert await count(database, attachments, attachments.c.complet.is_(True)) == 1
    assert await count(database, attachment_blocks) == 37  # 9 MiB + 123 bytes in 256 KiB blocks
    back = tmp_path / "back.bin"
    status, out = await files.scp(files.remote(f"{alice_ticket}/capture.bin"), str(back), legacy=legacy)
    assert status == 0, out
    assert sha(back) == sha(original)
    assert await count(database, history, history.c.action == "piece_jointe") == 1
    ticket = await context_for(services, alice).ticket(alice_ticket)
    assert describe(ticket.history[-1]).endswith("Alice Ndiaye — pièce jointe ajoutée : capture.bin")


async def test_sftp_lists_only_own_tickets_and_refuses_everything_else(
    service, services, database, alice, bob, alice_ticket, tmp_path
):
    bobs = await context_for(services, bob).create_ticket("Imprimante", "Bourrage.", Urgency.LOW)
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    text = tmp_path / "journal.txt"
    text.write_text("Erreur : pilote absent\n" * 1000, encoding="utf-8")
    status, out = await files.sftp(f"put {text} {alice_ticket}/\nls /\nls {alice_ticket}\n")
    assert status == 0, out
    root = out.split("sftp> ls /")[1].split("sftp>")[0].split()
    assert root == [f"/{alice_ticket}"], out
    assert f"{alice_ticket}/journal.txt" in out.split(f"sftp> ls {alice_ticket}")[1]
    # Every refused operation, one batch each (sftp -b stops at the first failure).
    for command in (
        f"mkdir {alice_ticket}/dossier",
        f"rename {alice_ticket}/journal.txt {alice_ticket}/autre.txt",
        f"symlink {alice_ticket}/journal.txt {alice_ticket}/lien",
        f"chmod 777 {alice_ticket}/journal.txt",
        f"rm {alice_ticket}/journal.txt",
        f"put {text} {alice_ticket}/../evade.txt",
        f"put {text} /evade.txt",
        f"put {text} {bobs}/intrus.txt",
    ):
        status, out = await files.sftp(command + "\n")
        assert status != 0, (command, out)
    # Another's ticket and a missing one answer alike.
    _, other = await files.sftp(f"get {bobs}/x\n")
    _, missing = await files.sftp("get 99999/x\n")
    assert "not found" in missing
    assert other.replace(str(bobs), "N") == missing.replace("99999", "N")
    assert await count(database, attachments) == 1


async def test_guest_gets_no_file_tree(service, settings, tmp_path):
    status, out = await run(
        ["sftp", "-P", str(service.port), *SSH_OPTIONS, "-b", "-", f"{settings.ssh.guest_user}@127.0.0.1"],
        b"ls /\n",
    )
    assert status != 0, out


async def test_over_the_file_limit_is_refused_and_stores_nothing(
    service, database, alice, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    big = tmp_path / "gros.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024 + 1))
    status, out = await files.scp(str(big), files.remote(f"{alice_ticket}/"))
    assert status != 0, out
    # OpenSSH's SFTP mode prints only "Failure"; the legacy protocol shows the server's sentence.
    status, out = await files.scp(str(big), files.remote(f"{alice_ticket}/"), legacy=True)
    assert status != 0
    assert "10 Mio" in out, out
    assert await count(database, attachments) == 0
    assert await count(database, attachment_blocks) == 0


async def test_an_interrupted_upload_leaves_no_row(service, database, alice, alice_ticket, tmp_path):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    data = tmp_path / "coupe.bin"
    data.write_bytes(os.urandom(8 * 1024 * 1024))
    proc = await asyncio.create_subprocess_exec(
        "scp", "-l", "8000", "-P", str(files.port), "-i", str(files.identity), *SSH_OPTIONS, str(data),
        files.remote(f"{alice_ticket}/"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    # Killed once some blocks are stored: the upload is half-way, never complete.
    assert await _blocks_appear(database)
    proc.kill()
    await proc.wait()
    await _until_count(database, attachments, 0)
    assert await count(database, attachment_blocks) == 0


async def _blocks_appear(database) -> bool:
    for _ in range(300):
        if await count(database, attachment_blocks) >= 2:
            return True
        await asyncio.sleep(0.1)
    return False


async def _until_count(database, table, expected: int) -> None:
    for _ in range(100):
        if await count(database, table) == expected:
            return
        await asyncio.sleep(0.1)
    assert await count(database, table) == expected


async def test_same_name_twice_gets_2_and_the_ticket_takes_its_files_along(
    service, database, alice, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    text = tmp_path / "log.txt"
    text.write_text("premier\n", encoding="utf-8")
    assert (await files.scp(str(text), files.remote(f"{alice_ticket}/")))[0] == 0
    text.write_text("second\n", encoding="utf-8")
    assert (await files.scp(str(text), files.remote(f"{alice_ticket}/")))[0] == 0
    back = tmp_path / "back.txt"
    status, out = await files.scp(files.remote(f"{alice_ticket}/log (2).txt"), str(back))
    assert status == 0, out
    assert back.read_text(encoding="utf-8") == "second\n"
    await database.write(lambda conn: conn.execute(tickets.delete().where(tickets.c.id == alice_ticket)))
    assert await count(database, attachments) == 0
    assert await count(database, attachment_blocks) == 0
