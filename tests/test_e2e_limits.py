"""Limits over real sockets: caps, the rate, attempts, grace and idle times, ssh-audit's DHEat."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncssh
import pytest
from ssh_audit.dheat import DHEat

from server.app import Service
from server.audit import AuditEvent
from server.config import Settings, SshSettings
from server.context import authenticate
from server.store.schema import audit_log
from server.transport.limits import ConnectionGate, Limits
from server.transport.sshd import MAX_SESSIONS_PER_CONNECTION, TOO_MANY_TRIES, SupportSSHServer

from .conftest import PASSWORD, count, until
from .sshclient import DOWN, Client, OpenSSHClient

WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")
REFUSED = (asyncssh.DisconnectError, ConnectionError)


@asynccontextmanager
async def running(settings: Settings, **ssh) -> AsyncIterator[Service]:
    """The real server with some `ssh` settings changed."""
    service = Service(dataclasses.replace(settings, ssh=dataclasses.replace(settings.ssh, **ssh)))
    await service.start()
    try:
        yield service
    finally:
        await service.stop(grace=1)


class Raw:
    """A bare TCP connection: what the server sends first, before anyone speaks SSH."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def first_bytes(self) -> bytes:
        """The server's version string, or b"" when it drops the connection without a word."""
        try:
            return await asyncio.wait_for(self.reader.read(8), 15)
        except ConnectionResetError:
            return b""

    async def until_dropped(self) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.read(), 15)
        except ConnectionResetError:
            return b""

    def close(self) -> None:
        self.writer.close()


async def guest(port: int) -> Client:
    c = await Client.connect(port)
    await c.wait_for(*WELCOME)
    return c


# Caps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["max_unauthenticated", "max_unauthenticated_per_address"])
async def test_connections_still_authenticating_are_capped(settings, database, setting):
    """Like OpenSSH's MaxStartups: beyond the cap, dropped before the version string."""
    async with running(settings, **{setting: 2}) as service:
        first, second = await Raw.open(service.port), await Raw.open(service.port)
        assert await first.first_bytes() == b"SSH-2.0-"
        assert await second.first_bytes() == b"SSH-2.0-"
        third = await Raw.open(service.port)
        assert await third.first_bytes() == b""
        with pytest.raises(REFUSED):
            await Client.connect(service.port)

        # One leaves: a guest gets in, and once in no longer counts as a startup.
        first.close()
        await until(lambda: service.gate.unauthenticated_count == 1)
        visitor = await guest(service.port)
        another = await Raw.open(service.port)
        assert await another.first_bytes() == b"SSH-2.0-"
        assert await (await Raw.open(service.port)).first_bytes() == b""
        for c in (second, another):
            c.close()
        await visitor.close()


async def test_connections_from_one_address_are_capped(settings, database):
    async with running(settings, max_per_address=2) as service:
        first, second = await guest(service.port), await guest(service.port)
        with pytest.raises(REFUSED):
            await Client.connect(service.port)
        # Those already in are untouched; when one leaves, a newcomer fits.
        second.send("2")
        await second.wait_for("Nom :")
        await first.close()
        await until(lambda: service.gate.open_count == 1)
        third = await guest(service.port)
        await second.close()
        await third.close()


async def test_exempt_networks_lift_the_per_address_caps_and_rate_not_the_total(settings, database):
    async with running(
        settings,
        exempt="10.0.0.0/8, 127.0.0.0/8",
        max_per_address=1,
        max_unauthenticated_per_address=1,
        rate_per_minute=1,
        rate_burst=1,
        rate_wait=0,
        max_connections=3,
    ) as service:
        clients = [await guest(service.port) for _ in range(3)]
        assert await (await Raw.open(service.port)).first_bytes() == b""
        for c in clients:
            await c.close()


# Rate ----------------------------------------------------------------------------------------


async def test_beyond_the_rate_connections_are_dropped_before_the_key_exchange(settings, database):
    async with running(settings, rate_per_minute=1, rate_burst=2, rate_wait=0) as service:
        first, second = await guest(service.port), await guest(service.port)
        third = await Raw.open(service.port)
        assert await third.first_bytes() == b""
        with pytest.raises(REFUSED):
            await Client.connect(service.port)
        # The rate is per address: those already in carry on.
        first.send("2")
        await first.wait_for("Nom :")
        await first.close()
        await second.close()


async def test_a_burst_beyond_the_rate_waits_its_turn_instead(settings, database):
    async with running(settings, rate_per_minute=600, rate_burst=1, rate_wait=10) as service:
        clients = await asyncio.gather(*(guest(service.port) for _ in range(4)))
        for c in clients:
            await c.close()


async def test_a_connection_leaving_before_its_turn_gives_the_turn_back(settings, database):
    async with running(settings, rate_per_minute=1, rate_burst=1, rate_wait=60) as service:
        visitor = await guest(service.port)  # the burst
        waiting = await Raw.open(service.port)  # books the turn a minute away
        await until(lambda: service.gate.open_count == 2)
        assert await (await Raw.open(service.port)).first_bytes() == b""  # two minutes: too far
        waiting.close()
        await until(lambda: service.gate.open_count == 1)
        # The minute booked by the one who left is free again: the next one waits for it.
        again = await Raw.open(service.port)
        await until(lambda: service.gate.open_count == 2)
        again.close()
        await visitor.close()


async def test_thirty_learners_behind_one_address_all_get_in_with_the_defaults(service, clients):
    """A class behind the campus NAT, all at once: some wait a moment, none is turned away."""
    assert service.settings.ssh == dataclasses.replace(
        Settings().ssh, host="127.0.0.1", port=0, host_keys_dir=service.settings.ssh.host_keys_dir
    )
    learners = await asyncio.gather(*(Client.connect(service.port) for _ in range(30)))
    clients += learners
    for c in learners:
        await c.wait_for(*WELCOME, timeout=60)
    assert service.gate.open_count == 30


def run_ssh_audit(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ssh_audit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SHELL": "/bin/sh"},  # one status line, no cursor movements
    )


async def test_ssh_audit_dheat_connection_rate_check_passes(service):
    """CVE-2002-20001 (DHEat): ssh-audit counts version strings per second from one address."""
    # The check of a standard audit: its JSON carries a note when the rate is unsafe.
    audit = run_ssh_audit("-j", "-p", str(service.port), "127.0.0.1")
    out, _ = await asyncio.to_thread(audit.communicate, timeout=120)
    report = json.loads(out)
    notes = json.dumps(report.get("additional_notes", []))
    assert "DHEat" not in notes, notes

    # The interactive connection-rate test, over several seconds at 16 sockets at once.
    rate_test = run_ssh_audit("--conn-rate-test=16", "-p", str(service.port), "127.0.0.1")
    assert rate_test.stdout is not None
    status = ""
    seconds = 0.0
    while seconds < 4:
        chunk = await asyncio.to_thread(rate_test.stdout.read, 256)
        assert chunk, status
        status += chunk
        runs = re.findall(r"Run time: (?:\x1b\[[0-9;]*m)?([0-9.,]+)", status)
        seconds = float(runs[-1].replace(",", "")) if runs else 0.0
    rate_test.send_signal(signal.SIGINT)
    try:
        rest, _ = await asyncio.to_thread(rate_test.communicate, timeout=30)
    except subprocess.TimeoutExpired:
        # On a loaded machine its threads may miss the interrupt: the figures read so far
        # are the ones judged.
        rate_test.kill()
        rest, _ = await asyncio.to_thread(rate_test.communicate, timeout=30)
    status += rest
    plain = re.sub(r"\x1b\[[0-9;]*m", "", status)
    completed = [float(x.replace(",", "")) for x in re.findall(r"Compl\. conns/sec: ([0-9.,]+)", plain)]
    assert completed, plain
    assert completed[-1] < DHEat.MAX_SAFE_RATE, plain[-400:]


# Authentication attempts and grace time ---------------------------------------------------


class WrongPasswords(asyncssh.SSHClient):
    """A client that keeps guessing: every refusal brings another password."""

    tried = 0

    def password_auth_requested(self) -> str:
        WrongPasswords.tried += 1
        return f"devinette-{WrongPasswords.tried}"


async def test_six_failed_attempts_of_any_kind_end_the_connection(service, alice):
    WrongPasswords.tried = 0
    stranger_keys = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(2)]
    with pytest.raises(asyncssh.PermissionDenied) as info:
        await asyncssh.connect(
            "127.0.0.1",
            service.port,
            username="alice@example.org",
            known_hosts=None,
            agent_path=None,
            client_factory=WrongPasswords,
            client_keys=stranger_keys,
            preferred_auth="publickey,password",
        )
    # Two keys refused, then four passwords: the sixth failure closes the connection.
    assert WrongPasswords.tried == 4
    assert info.value.reason == TOO_MANY_TRIES
    await until(lambda: service.gate.open_count == 0)

    # Nothing sticks to the next connection: it gets its own six attempts.
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    try:
        await c.wait_for("1. Nouveau ticket")
    finally:
        await c.close()


async def test_a_connection_that_never_authenticates_is_dropped_after_the_grace_time(settings, database):
    async with running(settings, login_timeout=1) as service:
        visitor = await guest(service.port)
        silent = await Raw.open(service.port)
        assert await silent.first_bytes() == b"SSH-2.0-"
        await silent.until_dropped()  # the rest of the version line, then the end
        assert silent.reader.at_eof()
        await until(lambda: service.gate.open_count == 1)
        # The guest, authenticated before, was not concerned.
        visitor.send("2")
        await visitor.wait_for("Nom :")
        await visitor.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
async def test_keepalives_drop_a_client_that_stopped_answering(settings, database):
    """A lab machine frozen or unplugged: its connection goes after the missed keepalives."""
    async with running(settings, keepalive_interval=1, keepalive_count_max=2) as service:
        c = await OpenSSHClient.start(service.port, "support")
        try:
            await c.wait_for(*WELCOME)
            assert c.proc is not None
            os.kill(c.proc.pid, signal.SIGSTOP)  # alive for TCP, silent for SSH
            await until(lambda: service.gate.open_count == 0 and not service.connections, 30)
        finally:
            if c.proc is not None:
                os.kill(c.proc.pid, signal.SIGCONT)
            await c.close()


# Idle sessions -------------------------------------------------------------------------------


async def test_an_idle_session_is_warned_then_closed_and_a_key_resets_it(settings, database, services, alice):
    warning = "Sans activité, vous serez déconnecté dans 4 secondes."
    async with running(settings, idle_timeout=6, idle_warning=4) as service:
        c = await Client.connect(service.port, "alice@example.org", PASSWORD)
        try:
            await c.wait_for("Menu principal", "1. Nouveau ticket")
            await c.wait_for(warning)
            c.send(DOWN)
            await c.wait_gone(warning)
            assert "Menu principal" in c.text()
            await c.wait_for(warning)
            assert c.chan is not None
            await asyncio.wait_for(c.chan.wait_closed(), 15)
            assert "Déconnecté après 6 s sans activité." in c.text()
        finally:
            await c.close()


async def test_one_connection_cannot_multiply_sessions(service):
    """Each session is a whole application: a client may not open them by the hundred."""
    conn = await asyncssh.connect(
        "127.0.0.1",
        service.port,
        username="support",
        known_hosts=None,
        agent_path=None,
        client_keys=None,
        preferred_auth="none",
    )
    try:
        opened = []
        for _ in range(MAX_SESSIONS_PER_CONNECTION):
            channel, _session = await conn.create_session(asyncssh.SSHClientSession, term_type="xterm")
            opened.append(channel)
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_session(asyncssh.SSHClientSession, term_type="xterm")
        assert len(opened) == MAX_SESSIONS_PER_CONNECTION
    finally:
        conn.close()
        await conn.wait_closed()


async def test_an_attempt_cut_short_by_the_next_one_still_counts(services, alice, database):
    """asyncssh cancels a password check when the client sends its next request: the check
    still ends (bcrypt, audit row) and counts towards the connection's attempts."""
    server = SupportSSHServer(
        "support",
        lambda email, password, address: authenticate(services, email, password, address),
        None,
        set(),
        ConnectionGate(Limits.from_settings(SshSettings())),
    )
    server.address = "192.0.2.44:50000"
    attempt = asyncio.create_task(server._password("alice@example.org", "pas-le-bon"))
    await asyncio.sleep(0)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    assert server.failures == 1
    failed = audit_log.c.evenement == AuditEvent.LOGIN_FAILED.value
    # The audit row is written beside the check, which the cancellation does not stop: wait for
    # it to land (a check that was really cut short never writes it, and this fails).
    for _ in range(500):
        if await count(database, audit_log, failed) == 1:
            break
        await asyncio.sleep(0.02)
    assert await count(database, audit_log, failed) == 1
