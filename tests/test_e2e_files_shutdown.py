"""A shutdown (SIGTERM to a real `python -m server`) with file transfers open, through the real
OpenSSH `sftp` and `scp`: each is told why on stderr and ends with the server's close (its ssh
exits 3, try again, as a command does), not a cut connection (255); an upload cut half-way
leaves nothing stored."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from server.app import SHUTDOWN_NOTICE
from server.domain.models import Urgency
from server.store.schema import attachment_blocks, attachments

from .conftest import context_for, count
from .test_cli import Server, cli_env
from .test_e2e_attachments import SSH_OPTIONS, _blocks_appear, _until_count, files_for

pytestmark = pytest.mark.skipif(shutil.which("sftp") is None, reason="OpenSSH client not installed")

# What OpenSSH says when the connection is dropped under it rather than its channel closed.
DROPPED = ("Received disconnect", "closed by remote host", "Broken pipe")


@pytest.fixture
async def alice_ticket(services, alice) -> int:
    return await context_for(services, alice).create_ticket("Écran bleu", "Au démarrage.", Urgency.HIGH)


def transport(tmp_path: Path) -> tuple[Path, Path]:
    """The ssh that sftp and scp run (-S), the real one, its exit status written down."""
    status = tmp_path / "ssh-status"
    script = tmp_path / "ssh-noting-status"
    script.write_text(f'#!/bin/sh\nssh "$@"\ncode=$?\necho $code > {status}\nexit $code\n')
    script.chmod(0o755)
    return script, status


async def started(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def ended(proc: asyncio.subprocess.Process) -> tuple[int | None, str]:
    """Its exit status (None: still running after 20 s, killed) and its stderr."""
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None, ""
    _, err = await proc.communicate()
    return proc.returncode, err.decode("utf-8", "replace")


async def test_an_sftp_session_waiting_for_its_next_command_ends_with_the_servers_close(
    tmp_path, db_url, database, alice, alice_ticket
):
    server = Server(cli_env(tmp_path, db_url))
    ssh, ssh_status = transport(tmp_path)
    proc = None
    try:
        await server.start()
        files = await files_for(database, alice, tmp_path, server.port, "alice")
        # Interactive, fed by a pipe left open: it waits for what its user types next.
        proc = await started(
            "sftp", "-S", str(ssh), "-P", str(files.port), "-i", str(files.identity), *SSH_OPTIONS,
            f"{files.email}@127.0.0.1",
        )  # fmt: skip
        assert proc.stdin is not None
        small = tmp_path / "petit.txt"
        small.write_text("Message d'erreur au démarrage.\n")
        proc.stdin.write(f"put {small} {alice_ticket}/\n".encode())
        await _until_count(database, attachments, 1)  # sent whole: it waits for the next command
        server.terminate()
        assert await server.exit_code() == 0
        await asyncio.wait_for(until_file(ssh_status), 20)
        proc.stdin.close()  # its user leaves
        status, err = await ended(proc)
    finally:
        server.kill()
        if proc is not None and proc.returncode is None:
            proc.kill()
    assert ssh_status.read_text().strip() == "3", err
    assert status == 0, err
    assert said(err)[-2:] == [SHUTDOWN_NOTICE, "Connection closed."], err
    assert not any(word in err for word in DROPPED), err
    assert "Traceback" not in server.log, server.log


def said(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip()]


async def until_file(path: Path) -> None:
    while not path.exists() or not path.read_text().strip():
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("client", ["sftp", "scp-legacy"])
async def test_an_upload_cut_by_a_shutdown_leaves_nothing_stored(
    tmp_path, db_url, database, alice, alice_ticket, client
):
    server = Server(cli_env(tmp_path, db_url))
    ssh, ssh_status = transport(tmp_path)
    data = tmp_path / "gros.bin"
    data.write_bytes(os.urandom(8 * 1024 * 1024))
    proc = None
    try:
        await server.start()
        files = await files_for(database, alice, tmp_path, server.port, "alice")
        common = [
            "-S",
            str(ssh),
            "-l",
            "8000",
            "-P",
            str(files.port),
            "-i",
            str(files.identity),
            *SSH_OPTIONS,
        ]
        if client == "sftp":
            proc = await started("sftp", *common, "-b", "-", f"{files.email}@127.0.0.1")
            assert proc.stdin is not None
            proc.stdin.write(f"put {data} {alice_ticket}/\n".encode())
        else:
            proc = await started("scp", "-O", *common, str(data), files.remote(f"{alice_ticket}/"))
        # Some blocks stored: the upload is half-way when the signal comes.
        assert await _blocks_appear(database)
        server.terminate()
        assert await server.exit_code() == 0
        _, err = await ended(proc)
    finally:
        server.kill()
        if proc is not None and proc.returncode is None:
            proc.kill()
    assert ssh_status.read_text().strip() == "3", err
    assert SHUTDOWN_NOTICE in said(err), err
    assert not any(word in err for word in DROPPED), err
    assert await count(database, attachments) == 0
    assert await count(database, attachment_blocks) == 0
    assert "Traceback" not in server.log, server.log
