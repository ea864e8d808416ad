"""`ssh.workers`: `python -m server` as a supervisor and two worker processes on one port, with
the real OpenSSH client: both serve, the limits are the service's (not each worker's), a stop
tells every user, a worker killed is started again, the metrics endpoint counts them all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncssh
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.app import SHUTDOWN_NOTICE

from .conftest import PASSWORD, free_port, until
from .sshclient import Client, OpenSSHClient
from .test_cli import cli, cli_env, wait_sentence

ROOT = Path(__file__).resolve().parent.parent
WELCOME = ("1. Se connecter", "2. Créer un compte")
FAILURES = 4
OPENED = re.compile(r" worker=(\d) addr=127\.0\.0\.1:\d+ connection opened$", re.M)


class Supervised:
    """`python -m server serve` with ssh.workers 2: its port, its metrics, its log."""

    def __init__(self, proc: subprocess.Popen, port: int, metrics: int, log: Path, env: dict) -> None:
        self.proc, self.port, self.metrics, self.log_file, self.env = proc, port, metrics, log, env

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def worker_pid(self, index: int) -> int:
        """The pid of worker `index` as the supervisor last started it."""
        return int(re.findall(rf"worker {index} started pid=(\d+)", self.log)[-1])

    def served_by(self) -> list[str]:
        """Which worker logged each connection, in order."""
        return OPENED.findall(self.log)

    def figures(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=10) as r:
            text = r.read().decode("utf-8")
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[s.name + ("{" + labels + "}" if labels else "")] = s.value
        return out

    async def guests(self) -> int:
        return int((await asyncio.to_thread(self.figures))['support_sessions_open{kind="guest"}'])

    async def refused(self, limit: str) -> int:
        figures = await asyncio.to_thread(self.figures)
        return int(figures[f'support_connections_refused_total{{limit="{limit}"}}'])


@asynccontextmanager
async def supervised(tmp_path: Path, db_url: str | None = None, **settings: str) -> AsyncIterator[Supervised]:
    metrics = free_port()
    env = cli_env(
        tmp_path,
        db_url,
        SUPPORT_SSH_WORKERS="2",
        SUPPORT_METRICS_LISTEN=f"127.0.0.1:{metrics}",
        SUPPORT_SSH_RATE_PER_MINUTE="0",
        **settings,
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    server = Supervised(proc, int(env["SUPPORT_SSH_PORT"]), metrics, log, env)
    try:

        def serving() -> bool:
            assert proc.poll() is None, server.log
            return set(re.findall(r"worker (\d) pid=\d+ serving", server.log)) == {"1", "2"}

        await until(serving, 60)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 60)


async def guest(port: int) -> OpenSSHClient:
    c = await OpenSSHClient.start(port, "support")
    await c.wait_for(*WELCOME)
    return c


async def on_both_workers(server: Supervised, opened: list[OpenSSHClient], most: int = 24) -> None:
    """Open guest sessions until each worker holds at least one (the kernel picks, by hash)."""
    while set(server.served_by()) != {"1", "2"}:
        assert len(opened) < most, f"every connection went to one worker:\n{server.log}"
        opened.append(await guest(server.port))
        await until(lambda: len(server.served_by()) == len(opened))


async def settled(server: Supervised, guests: int) -> None:
    for _ in range(100):
        if await server.guests() == guests:
            return
        await asyncio.sleep(0.1)
    assert await server.guests() == guests


async def refused_at_once(port: int) -> None:
    """The real client turned away before any SSH: no welcome, ssh's own failure status."""
    c = await OpenSSHClient.start(port, "support")
    try:
        assert await asyncio.to_thread(c.proc.wait, 15) == 255  # type: ignore[union-attr]
        assert "Se connecter" not in c.text()
    finally:
        await c.close()


async def close_all(clients: list[OpenSSHClient]) -> None:
    for c in clients:
        await c.close()


async def test_two_workers_serve_one_port_and_one_endpoint_counts_both(tmp_path):
    opened: list[OpenSSHClient] = []
    async with supervised(tmp_path) as server:
        try:
            await on_both_workers(server, opened)
            pids = {server.worker_pid(1), server.worker_pid(2)}
            assert len(pids) == 2 and server.proc.pid not in pids
            # One endpoint (the supervisor's) gives the whole service's figures.
            assert await server.guests() == len(opened)
            shown = await cli("status", env=server.env)
            assert shown.returncode == 0, shown.stderr
            assert f'support_sessions_open{{kind="guest"}} {len(opened)}' in shown.stdout.splitlines()
        finally:
            await close_all(opened)


async def test_the_per_address_limit_is_the_services_whichever_worker_gets_the_connection(tmp_path):
    opened: list[OpenSSHClient] = []
    async with supervised(tmp_path, SUPPORT_SSH_MAX_PER_ADDRESS="3") as server:
        try:
            for _ in range(3):
                opened.append(await guest(server.port))
            # Six more from 127.0.0.1: each refused, whichever worker the kernel handed it to.
            for _ in range(6):
                await refused_at_once(server.port)
            assert await server.refused("per_address") == 6
            assert len(server.served_by()) == 3
            # A slot freed on one worker is free for the whole service.
            await opened.pop().close()
            await settled(server, 2)
            opened.append(await guest(server.port))
            await refused_at_once(server.port)
        finally:
            await close_all(opened)


async def test_the_total_limit_is_the_services(tmp_path):
    opened: list[OpenSSHClient] = []
    async with supervised(tmp_path, SUPPORT_SSH_MAX_CONNECTIONS="4") as server:
        try:
            for _ in range(4):
                opened.append(await guest(server.port))
            # Six more: each refused, whichever worker the kernel handed it to.
            for _ in range(6):
                await refused_at_once(server.port)
            assert await server.refused("total") == 6
            assert len(server.served_by()) == 4
        finally:
            await close_all(opened)


async def test_sigterm_to_the_supervisor_tells_every_user_and_exits_0(tmp_path):
    opened: list[OpenSSHClient] = []
    async with supervised(tmp_path) as server:
        try:
            await on_both_workers(server, opened)
            server.proc.send_signal(signal.SIGTERM)
            for c in opened:
                await wait_sentence(c, SHUTDOWN_NOTICE)
            assert await asyncio.to_thread(server.proc.wait, 60) == 0, server.log
        finally:
            await close_all(opened)
        for index in (1, 2):
            assert re.search(rf"worker {index} pid=\d+ stopped \(exit status 0\)", server.log), server.log
        assert "stopped: every worker exited cleanly" in server.log


async def test_a_killed_worker_is_started_again_and_the_others_sessions_stay(tmp_path):
    opened: list[OpenSSHClient] = []
    async with supervised(tmp_path) as server:
        try:
            await on_both_workers(server, opened)
            on_first = server.served_by().count("1")
            dead = server.worker_pid(1)
            os.kill(dead, signal.SIGKILL)
            await until(lambda: sum(c.closed for c in opened) == on_first, 15)
            await until(lambda: f"worker 1 pid={dead} died (killed by SIGKILL)" in server.log, 15)
            await until(lambda: server.worker_pid(1) != dead, 15)
            await until(lambda: len(re.findall(r"worker 1 pid=\d+ serving", server.log)) == 2, 60)
            assert server.proc.poll() is None
            # The second worker's users kept their sessions; the gate forgot the dead worker's.
            alive = [c for c in opened if not c.closed]
            assert len(alive) == len(opened) - on_first
            await settled(server, len(alive))
            for c in alive:
                c.send("4")  # Quitter: the screen still answers
                await until(lambda c=c: c.closed, 15)
            await settled(server, 0)
            opened.append(await guest(server.port))
            assert server.served_by()[-1] in {"1", "2"}
        finally:
            await close_all(opened)


async def test_login_throttling_counts_failures_made_on_either_worker(app_db_url, database, tmp_path):
    """Failed logins from one address, wherever they landed, make the right password wait on
    whichever worker weighs it: throttling is counted from the database (SQLite, MariaDB)."""
    async with supervised(
        tmp_path,
        app_db_url,
        SUPPORT_DATABASE_CREATE_SCHEMA="false",
        SUPPORT_SECURITY_LOGIN_FAILURES_PER_ADDRESS=str(FAILURES),
        SUPPORT_SECURITY_LOGIN_DELAY_BASE="300",
    ) as server:
        admin = ("create-admin", "--email", "bob@example.org", "--name", "Bob")
        made = await cli(*admin, env=server.env, stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
        for _ in range(FAILURES):
            await denied(server.port, "bob@example.org", "pas-le-bon-mot")
        failure = r"worker=(\d) addr=127\.0\.0\.4:\d+ user=bob@\S+ ssh auth failed"
        failed = Counter(re.findall(failure, server.log))
        assert sum(failed.values()) == FAILURES
        # The right password, until a worker that saw fewer than FAILURES of them refuses it.
        for _ in range(12):
            await denied(server.port, "bob@example.org", PASSWORD)
            throttled = re.findall(r"worker=(\d) .*attente=\d+s", server.log)
            if any(failed[w] < FAILURES for w in throttled):
                break
        else:
            raise AssertionError(f"never weighed by a worker that missed failures: {failed}\n{server.log}")
        assert "ssh auth succeeded method=password" not in server.log
        bob = await Client.connect(server.port, "bob@example.org", PASSWORD, source="127.0.0.5")
        try:
            await bob.wait_for("1. Nouveau ticket")
        finally:
            await bob.close()


async def denied(port: int, email: str, password: str) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(port, email, password, source="127.0.0.4")


async def test_a_worker_whose_gate_is_silent_refuses_new_connections_and_says_so_once(tmp_path):
    async with supervised(tmp_path) as server:
        # The supervisor stopped (SIGSTOP): no verdict comes, the workers refuse on their own.
        server.proc.send_signal(signal.SIGSTOP)
        try:
            refusals = [refused_at_once(server.port) for _ in range(4)]
            await asyncio.gather(*refusals)
        finally:
            server.proc.send_signal(signal.SIGCONT)
        said = r"worker=(\d) connection gate silent for \S+: new connections refused"
        silent = re.findall(said, server.log)
        assert 1 <= len(silent) <= 2 and len(set(silent)) == len(silent), server.log
        assert "connection opened" not in server.log
        # Once it answers again, so do the workers; the late verdicts freed their slots.
        c = await guest(server.port)
        try:
            assert await server.guests() == 1
            assert await server.refused("unavailable") == 4
        finally:
            await c.close()
