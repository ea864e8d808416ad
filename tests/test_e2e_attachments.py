"""Attachments over the real OpenSSH `scp` and `sftp` (issue 14), on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa

from server.app import Service
from server.domain.models import Urgency
from server.errors import Forbidden
from server.handlers.ticket_view import describe
from server.store.schema import attachment_blocks, attachments, audit_log, history, tickets

from .conftest import PASSWORD, context_for, count
from .sshclient import END, ENTER, ESC, Client
from .sshcommand import ssh_command
from .test_e2e_hostile import assert_clean
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
    back = tmp_path / "retour.txt"
    status, out = await files.sftp(f"get {alice_ticket}/journal.txt {back}\n")
    assert status == 0, out
    assert back.read_text(encoding="utf-8") == text.read_text(encoding="utf-8")
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
    # Another's ticket and a missing one answer alike, even for a file that is there.
    bob_files = await files_for(database, bob, tmp_path, service.port, "bob")
    status, out = await bob_files.sftp(f"put {text} {bobs}/bob.txt\n")
    assert status == 0, out
    stolen = tmp_path / "stolen.txt"
    for command in (f"get {{}}/bob.txt {stolen}", "ls {}"):
        _, other = await files.sftp(command.format(bobs) + "\n")
        _, missing = await files.sftp(command.format(99999) + "\n")
        assert "not found" in missing
        other, missing = (out.replace(str(stolen), "LOCAL") for out in (other, missing))
        assert other.replace(str(bobs), "N") == missing.replace("99999", "N")
    assert not stolen.exists()
    assert await count(database, attachments) == 2


async def test_a_folder_of_non_ascii_digits_is_a_missing_ticket(
    service, database, alice, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    local = tmp_path / "a.txt"
    local.write_text("contenu\n", encoding="utf-8")
    _, missing = await files.sftp(f"put {local} 99999/a.txt\n")
    assert "No such file" in missing, missing
    for folder in ("²", "١"):  # str.isdigit() holds for both: ² made int() fail, ١ read as 1
        _, out = await files.sftp(f"put {local} {folder}/a.txt\n")
        assert "No such file" in out, out
    assert await count(database, attachments) == 0


async def test_a_write_out_of_order_is_refused_again_when_the_file_is_closed(
    service, database, alice, alice_ticket
):
    """OpenSSH writes in order; a client that skips ahead hears the same sentence twice."""
    sentence = "Fichier refusé : il doit être envoyé d'un bout à l'autre, dans l'ordre."
    async with (
        asyncssh.connect(
            "127.0.0.1",
            service.port,
            username=alice.email,
            password=PASSWORD,
            known_hosts=None,
            client_keys=None,
            agent_path=None,
            preferred_auth="password",
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        remote = await sftp.open(f"{alice_ticket}/trou.bin", "wb")
        with pytest.raises(asyncssh.SFTPFailure) as refused:
            await remote.write(b"plus loin", 1000)
        assert refused.value.reason == sentence
        with pytest.raises(asyncssh.SFTPFailure) as refused:
            await remote.close()
        assert refused.value.reason == sentence
    assert await count(database, attachments) == 0


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


def scp_line(screen: str) -> str:
    found = [line.strip() for line in screen.splitlines() if line.strip().startswith("scp ")]
    assert len(found) == 1, screen
    return found[0]


async def test_the_ticket_screen_lists_each_file_with_the_scp_line_that_fetches_it(
    service, clients, database, alice, admin, alice_ticket, tmp_path
):
    c = await Client.connect(service.port, alice.email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    c.send("2")
    await c.wait_for("Mes tickets", "Écran bleu")
    c.send(f"{alice_ticket}" + ENTER)
    await c.wait_for(f"Ticket #{alice_ticket} — Écran bleu", "1. Répondre")
    # The support sends a log to the ticket she has open: it shows without a key.
    staff = await files_for(database, admin, tmp_path, service.port, "admin")
    log = tmp_path / "journal du pilote.txt"
    log.write_text("Erreur : pilote absent\n" * 1000, encoding="utf-8")
    assert (await staff.scp(str(log), staff.remote(f"{alice_ticket}/")))[0] == 0
    screen = await c.wait_for("Pièces jointes", "journal du pilote.txt — 22,5 Kio, text/plain — Awa Admin")
    line = scp_line(screen)
    assert (
        line == f'scp -P {service.port} "alice@example.org@127.0.0.1:{alice_ticket}/journal du pilote.txt" .'
    )
    # Exactly what she would type (with this test's key and options), in a folder of hers.
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    words = shlex.split(line)
    here = tmp_path / "chez-alice"
    here.mkdir()
    proc = await asyncio.create_subprocess_exec(
        words[0], "-i", str(files.identity), *SSH_OPTIONS, *words[1:], cwd=here,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out
    assert sha(here / "journal du pilote.txt") == sha(log)


async def test_tickets_attach_reads_stdin_as_a_file(service, database, alice, bob, alice_ticket, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    identity = str(write_key(tmp_path, key, "id_alice"))
    data = os.urandom(3 * 1024 * 1024 + 7)
    done = await ssh_command(
        service.port, alice.email, "tickets", "attach", str(alice_ticket), "capture.bin",
        stdin=data, identity=identity,
    )  # fmt: skip
    assert done.status == 0, done.err
    assert done.out == "capture.bin\n"
    files = Files(service.port, alice.email, Path(identity))
    back = tmp_path / "back.bin"
    assert (await files.scp(files.remote(f"{alice_ticket}/capture.bin"), str(back)))[0] == 0
    assert back.read_bytes() == data
    # The same name again gets « (2) »; a ticket not hers does not exist; too big: nothing kept.
    again = await ssh_command(
        service.port, alice.email, "tickets", "attach", str(alice_ticket), "capture.bin",
        stdin=b"x", identity=identity,
    )  # fmt: skip
    assert (again.status, again.out) == (0, "capture (2).bin\n")
    missing = await ssh_command(
        service.port, alice.email, "tickets", "attach", "99999", "x.txt", stdin=b"x", identity=identity
    )
    assert (missing.status, missing.err) == (2, "Ticket introuvable.\n")
    big = await ssh_command(
        service.port, alice.email, "tickets", "attach", str(alice_ticket), "gros.bin",
        stdin=os.urandom(10 * 1024 * 1024 + 1), identity=identity,
    )  # fmt: skip
    assert big.status == 1
    assert big.err == "Fichier refusé : la limite de 10 Mio est dépassée.\n"
    assert await count(database, attachments) == 2
    assert await count(database, attachment_blocks) == 14  # 3 MiB + 7 bytes in 13 blocks, then 1 byte
    shown = await ssh_command(
        service.port, alice.email, "tickets", "show", str(alice_ticket), "--json", identity=identity
    )
    listed = json.loads(shown.out)["attachments"]
    assert [(a["name"], a["size"], a["sha256"]) for a in listed] == [
        ("capture.bin", len(data), hashlib.sha256(data).hexdigest()),
        ("capture (2).bin", 1, hashlib.sha256(b"x").hexdigest()),
    ]
    text = await ssh_command(
        service.port, alice.email, "tickets", "show", str(alice_ticket), identity=identity
    )
    assert f'scp -P {service.port} "alice@example.org@127.0.0.1:{alice_ticket}/capture (2).bin" .' in text.out


def putty_key(tmp_path: Path, key, name: str) -> str:
    path = write_key(tmp_path, key, name)
    ppk = tmp_path / f"{name}.ppk"
    subprocess.run(["puttygen", str(path), "-O", "private", "-o", str(ppk)], check=True, capture_output=True)
    return str(ppk)


@pytest.mark.skipif(shutil.which("pscp") is None, reason="putty-tools not installed")
@pytest.mark.parametrize("protocol", ["-sftp", "-scp"])
async def test_pscp_round_trip_and_refusal(
    service, settings, database, alice, alice_ticket, tmp_path, protocol
):
    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    ppk = putty_key(tmp_path, key, "id_putty")
    host_key = asyncssh.read_public_key(settings.host_keys_dir / "ssh_host_ed25519_key.pub")
    pscp = [
        "pscp", protocol, "-batch", "-q", "-hostkey", host_key.get_fingerprint("sha256"),
        "-P", str(service.port), "-l", alice.email, "-i", ppk,
    ]  # fmt: skip
    original = tmp_path / "capture.png"
    original.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2 * 1024 * 1024))
    status, out = await run([*pscp, str(original), f"127.0.0.1:{alice_ticket}/"])
    assert status == 0, out
    back = tmp_path / "back.png"
    status, out = await run([*pscp, f"127.0.0.1:{alice_ticket}/capture.png", str(back)])
    assert status == 0, out
    assert sha(back) == sha(original)
    kinds = await database_rows(database, attachments.c.type_contenu)
    assert kinds == ["image/png"]
    big = tmp_path / "gros.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024 + 1))
    status, out = await run([*pscp, str(big), f"127.0.0.1:{alice_ticket}/"])
    assert status != 0, out
    # PuTTY shows the server's sentence over SCP; over SFTP its own word ("failure").
    assert ("Fichier refusé : la limite de 10 Mio est dépassée." in out) == (protocol == "-scp"), out
    assert await count(database, attachments) == 1
    assert await count(database, attachment_blocks) == 9


async def database_rows(database, column) -> list:
    async with database.transaction() as conn:
        return list((await conn.execute(sa.select(column))).scalars().all())


@pytest.fixture
def small_limits(settings):
    """Room for one 700 KiB file per ticket and per day (in MiB, as the sentences count)."""
    return dataclasses.replace(
        settings,
        attachments=dataclasses.replace(
            settings.attachments, max_ticket=1024 * 1024, max_user_day=1024 * 1024
        ),
    )


@pytest.fixture
async def small_service(small_limits, database):
    svc = Service(small_limits)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2)


@pytest.mark.parametrize("how", ["scp-O", "attach"])
async def test_the_ticket_and_day_limits_refuse_with_a_sentence_and_leave_nothing(
    small_service, services, database, alice, alice_ticket, tmp_path, how
):
    other = await context_for(services, alice).create_ticket("Clavier", "Touches mortes.", Urgency.LOW)
    files = await files_for(database, alice, tmp_path, small_service.port, "alice")
    piece = tmp_path / "piece.bin"
    piece.write_bytes(os.urandom(700 * 1024))

    async def send(ticket_id: int) -> tuple[int, str]:
        if how == "scp-O":
            return await files.scp(str(piece), files.remote(f"{ticket_id}/"), legacy=True)
        done = await ssh_command(
            small_service.port, alice.email, "tickets", "attach", str(ticket_id), "piece.bin",
            stdin=piece.read_bytes(), identity=str(files.identity),
        )  # fmt: skip
        return done.status, done.err

    assert (await send(alice_ticket))[0] == 0
    # A second file would bring the ticket over 1 Mio…
    status, out = await send(alice_ticket)
    assert status != 0
    assert "Fichier refusé : les pièces jointes de ce ticket dépasseraient la limite de 1 Mio." in out, out
    # …and another ticket her day over 1 Mio.
    status, out = await send(other)
    assert status != 0
    assert "Fichier refusé : votre limite d'envoi du jour est atteinte." in out, out
    await _until_count(database, attachments, 1)
    assert await count(database, attachment_blocks) == 3
    assert await count(database, history, history.c.action == "piece_jointe") == 1


async def test_uploads_finishing_at_once_are_counted_one_after_the_other(
    small_service, database, alice, alice_ticket
):
    """Two of the three fit the ticket's 1 Mio: on MariaDB each counted the others' sizes as
    they were before any committed, and all three were kept."""
    ctx = context_for(small_service.services, alice)
    uploads = [await ctx.files.upload(alice_ticket, f"part{i}.bin") for i in range(3)]
    for upload in uploads:
        await upload.write(0, os.urandom(512 * 1024))  # whole blocks: finish goes straight to its checks
    results = await asyncio.gather(*(u.finish() for u in uploads), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert "dépasseraient la limite de 1 Mio" in str(refused[0])
    assert await count(database, attachments) == 2


async def test_start_up_sweeps_uploads_a_stopped_server_left_unfinished(
    settings, database, alice, alice_ticket
):
    from datetime import timedelta

    from server.store import attachments as store
    from server.store import utcnow

    async def begun(conn, ago: timedelta) -> None:
        piece = await store.begin(conn, alice_ticket, "coupe.bin", alice.id, alice.name, utcnow() - ago)
        await store.add_block(conn, piece, 0, b"x" * 1000)

    # One cut by a crash two hours ago; one another front end is receiving now.
    await database.write(lambda conn: begun(conn, timedelta(hours=2)))
    await database.write(lambda conn: begun(conn, timedelta(minutes=5)))
    svc = Service(settings)
    await svc.start()
    await svc.stop(grace=2)
    assert await count(database, attachments) == 1
    assert await count(database, attachment_blocks) == 1
    assert await count(database, attachments, attachments.c.created_at > utcnow() - timedelta(hours=1)) == 1


def entry_key(screen: str, label: str) -> str:
    """The digit of the menu entry whose label holds `label`."""
    # A menu under a body may lay its entries out in two columns: each is « N. label ».
    found = re.findall(rf"(\d)\. {re.escape(label)}", screen)
    assert len(found) == 1, screen
    return found[0]


async def test_an_admin_deletes_one_attachment_with_its_history_and_audit(
    service, clients, services, database, alice, admin, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    for name, text in (("premier.txt", "un\n"), ("second.txt", "deux\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert (await files.scp(str(tmp_path / name), files.remote(f"{alice_ticket}/")))[0] == 0
    # The requester may not: no entry on her screen, a refusal by every other path.
    learner = context_for(services, alice)
    ticket = await learner.ticket(alice_ticket)
    assert not learner.can_delete_attachment(ticket)
    with pytest.raises(Forbidden):
        await learner.files.delete(alice_ticket, ticket.attachments[0].id)
    assert (await files.sftp(f"rm {alice_ticket}/premier.txt\n"))[0] != 0

    c = await Client.connect(service.port, admin.email, PASSWORD)
    clients.append(c)
    await c.wait_for("Menu principal")
    c.send("3")
    await c.wait_for("Tous les tickets", "Écran bleu")
    c.send(f"{alice_ticket}" + ENTER)
    screen = await c.wait_for(f"Ticket #{alice_ticket} — Écran bleu", "Supprimer une pièce jointe")
    c.send(entry_key(screen, "Supprimer une pièce jointe"))
    screen = await c.wait_for("Pièce jointe :", "premier.txt — 3 octets", "second.txt — 5 octets")
    c.send(entry_key(screen, "second.txt — 5 octets, text/plain — Alice Ndiaye"))
    await c.wait_for("Supprimer « second.txt » du ticket", "Confirmer ? (o/n)")
    c.send("o")
    screen = await c.wait_for("Pièce jointe « second.txt » supprimée.", "Pièces jointes", "premier.txt —")
    assert "second.txt —" not in screen
    c.send(END)
    await c.wait_for("Awa Admin — pièce jointe supprimée : second.txt")
    assert await database_rows(database, attachments.c.nom) == ["premier.txt"]
    assert await count(database, attachment_blocks) == 1
    assert await count(database, history, history.c.action == "piece_jointe_supprimee") == 1
    details = await database_rows(database, audit_log.c.details)
    assert any(d.startswith(f"attachment deleted ticket={alice_ticket} ") for d in details), details


async def test_a_text_file_is_read_in_the_console_sanitised(
    service, clients, database, alice, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    log = tmp_path / "pilote.log"
    hostile = "Erreur\x1b]0;PWNED\x07 puis\x1b[2J effacé\r\n"
    lines = [f"ligne {n:05d} du journal\r\n" for n in range(12000)]
    log.write_bytes((hostile + "".join(lines)).encode("utf-8"))  # about 300 KiB
    assert (await files.scp(str(log), files.remote(f"{alice_ticket}/")))[0] == 0
    c = await Client.connect(service.port, alice.email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    c.send("2")
    await c.wait_for("Mes tickets", "Écran bleu")
    c.send(f"{alice_ticket}" + ENTER)
    screen = await c.wait_for(f"Ticket #{alice_ticket} — Écran bleu", "Lire une pièce jointe")
    c.send(entry_key(screen, "Lire une pièce jointe"))
    screen = await c.wait_for(
        f"Ticket #{alice_ticket} : pilote.log",
        "Erreur␛]0;PWNED␇ puis␛[2J effacé",
        "ligne 00000 du journal",
        "Seuls les 256 premiers Kio sont affichés",
    )
    assert_clean(c)
    assert b"\x1b]0;PWNED" not in bytes(c.raw)
    c.send(END)
    await c.wait_for("ligne 0", "Seuls les 256 premiers Kio")
    c.send(ESC)
    await c.wait_for(f"Ticket #{alice_ticket} — Écran bleu", "Lire une pièce jointe")


async def test_names_lose_control_characters_and_are_cut_to_120(
    service, database, alice, alice_ticket, tmp_path
):
    files = await files_for(database, alice, tmp_path, service.port, "alice")
    local = tmp_path / "a.txt"
    local.write_text("contenu\n", encoding="utf-8")
    long_name = "R" * 496 + ".txt"
    status, out = await files.sftp(
        f'put {local} "{alice_ticket}/rap\x1b[31mport\x07.txt"\nput {local} {alice_ticket}/{long_name}\n'
    )
    assert status == 0, out
    names = sorted(await database_rows(database, attachments.c.nom))
    assert names == sorted(["R" * 116 + ".txt", "rap[31mport.txt"]), names


async def test_the_scp_line_names_the_host_and_port_users_type(
    settings, database, services, alice, alice_ticket
):
    """Behind HAProxy on port 22: attachments.host and .port, not the process's own listener."""
    from server.context import SessionContext
    from server.domain.models import Attachment
    from server.store import utcnow

    public = dataclasses.replace(
        settings, attachments=dataclasses.replace(settings.attachments, host="campus", port=22)
    )
    svc = Service(public)
    await svc.start()
    try:
        ctx = SessionContext(svc.services, "127.0.0.1:test", alice)
        item = Attachment(1, alice_ticket, "capture écran.png", 10, "", "image/png", alice.name, utcnow())
        assert (
            ctx.files.fetch_command(item)
            == f'scp "alice@example.org@campus:{alice_ticket}/capture écran.png" .'
        )
    finally:
        await svc.stop(grace=2)
