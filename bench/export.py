"""Benchmark: `ssh -l ADMIN host export` on N tickets, through the real server and OpenSSH client.

Fills a scratch database in a child process (bench/tickets_scale.py's rows: users, tickets over
two years, their history), then starts the server in this process, runs the real `ssh` client
once per format, and prints the time, the bytes received, and this (server) process's resident
memory before and at its highest during the export (sampled every 20 ms).

    .venv/bin/python bench/export.py                          # SQLite in /tmp, 100,000 tickets
    .venv/bin/python bench/export.py mysql+aiomysql://root@127.0.0.1:3306/support_bench
    .venv/bin/python bench/export.py sqlite+aiosqlite:////tmp/export.db --tickets 10000

The database named in the URL is dropped and filled again unless it already holds exactly the
requested rows. Never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import tickets_scale  # noqa: E402

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.store import Database  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402

DEFAULT_URL = "sqlite+aiosqlite:////tmp/support_export_bench.db"
ADMIN = "utilisateur1@campus.sn"
PASSWORD = "banc-d-essai-2026"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def fill(url: str, n_users: int, n_tickets: int) -> None:
    settings = load_settings(env={}, overrides={"database": {"url": url}})
    db = Database(settings, url)
    if await tickets_scale.already_filled(db, n_users, n_tickets):
        await db.close()
        print("database already filled", flush=True)
        return
    await db.close()
    if db.mysql:
        await tickets_scale.reset_mysql(url)
    else:
        Path(make_url(url).database).unlink(missing_ok=True)
    db = Database(settings, url)
    try:
        await upgrade(db)
        print(f"filling {n_users} users, {n_tickets} tickets…", flush=True)
        await tickets_scale.fill(db, n_users, n_tickets)
    finally:
        await db.close()


def askpass() -> str:
    path = Path(tempfile.mkdtemp(prefix="askpass-")) / "askpass.sh"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{PASSWORD}'\n", encoding="utf-8")
    path.chmod(stat.S_IRWXU)
    return str(path)


async def export(port: int, fmt: str) -> tuple[float, int, int, int]:
    """(seconds, bytes received, exit status, highest RSS in KiB meanwhile)."""
    argv = [
        "ssh", "-F", "/dev/null", "-T", "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no",
        "-l", ADMIN, "127.0.0.1", "export", "--format", fmt,
    ]  # fmt: skip
    env = {**os.environ, "SSH_ASKPASS": askpass(), "SSH_ASKPASS_REQUIRE": "force"}
    highest = rss_kib()
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, start_new_session=True
    )
    assert proc.stdout is not None
    received = 0

    async def sample() -> None:
        nonlocal highest
        while True:
            highest = max(highest, rss_kib())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        while chunk := await proc.stdout.read(1 << 16):
            received += len(chunk)
        status = await proc.wait()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    return time.perf_counter() - start, received, status, highest


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=DEFAULT_URL)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--fill-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill_only:
        await fill(args.url, args.users, args.tickets)
        return
    # Filled in a child, so that the rows built for the fill are not in this process's memory.
    subprocess.run(
        [
            sys.executable,
            __file__,
            args.url,
            "--users",
            str(args.users),
            "--tickets",
            str(args.tickets),
            "--fill-only",
        ],
        check=True,
    )
    folder = Path(tempfile.mkdtemp(prefix="export-bench-"))
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": args.url, "create_schema": False},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "keys")},
            "security": {"bcrypt_cost": 4},
        },
    )
    service = Service(settings)
    await service.start()
    try:
        print(f"{args.tickets} tickets, server RSS at rest {rss_kib() / 1024:.1f} MiB", flush=True)
        for fmt in ("csv", "json"):
            seconds, received, status, highest = await export(service.port, fmt)
            print(
                f"export --format {fmt}: {seconds:.1f} s, {received / 1e6:.1f} MB received, exit {status}, "
                f"server RSS at most {highest / 1024:.1f} MiB",
                flush=True,
            )
    finally:
        await service.stop(grace=1)


if __name__ == "__main__":
    asyncio.run(main())
