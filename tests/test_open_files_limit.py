"""The open-files limit at start-up: raised to the hard limit, or a start refused in one line."""

from __future__ import annotations

import asyncio
import resource
import signal
import subprocess
import sys

from .test_cli import ROOT, cli_env


def limited(soft: int, hard: int):
    """In the child: the limits a shell with `ulimit -Sn soft -Hn hard` would give it."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def run_server(env: dict[str, str], soft: int, hard: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=limited(soft, hard),
    )


async def test_a_limit_that_cannot_hold_max_connections_stops_the_start(tmp_path):
    env = cli_env(tmp_path, SUPPORT_SSH_MAX_CONNECTIONS="2000")
    proc = run_server(env, 512, 1024)
    _, stderr = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode == 2
    errors = [line for line in stderr.splitlines() if line.startswith("Erreur")]
    assert errors == [
        "Erreur : ssh.max_connections 2000 demande 2120 descripteurs de fichiers, la limite de ce "
        "processus est 1024 : augmentez-la (ulimit -n, LimitNOFILE= pour systemd) ou baissez "
        "ssh.max_connections"
    ], stderr
    assert "Traceback" not in stderr


async def test_the_soft_limit_is_raised_to_the_hard_one(tmp_path):
    env = cli_env(tmp_path, SUPPORT_SSH_MAX_CONNECTIONS="2000")
    proc = run_server(env, 512, 4096)
    try:
        assert proc.stderr is not None
        while True:
            line = await asyncio.to_thread(proc.stderr.readline)
            assert line, "the server stopped before listening"
            if "open files limit=" in line:
                break
        assert "open files limit=4096 max_connections=2000" in line
        # The version string comes once start-up is over (and SIGTERM is the clean stop).
        reader, writer = await asyncio.open_connection("127.0.0.1", int(env["SUPPORT_SSH_PORT"]))
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"SSH-2.0-")
        writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
    assert proc.returncode == 0
