"""Benchmark: the server's CPU time per keystroke on a typical screen, and where it goes.

The server runs in this process (SQLite in a temporary folder, bcrypt cost 4), one asyncssh
client in a process of its own logs in, opens `Mes tickets` and types --keys digits into its
number prompt, each followed by its erasure, waiting for every echo. The figure is this
process's CPU time (every thread) over the typing divided by the keys: robust on a busy
machine, unlike a round trip. With --profile, cProfile's view of the same keys.

    .venv/bin/python bench/keystroke_cpu.py [--keys 500] [--runs 3] [--profile] [--server-root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "banc-d-essai-2026"
EMAIL = "frappe@scale.bench"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def client(port: int, keys: int) -> None:
    """The typist (run with --client): waits for a line on stdin before typing, and after."""
    import asyncssh

    conn = await asyncssh.connect(
        "127.0.0.1",
        port,
        username=EMAIL,
        password=PASSWORD,
        known_hosts=None,
        agent_path=None,
        client_keys=None,
        preferred_auth="password",
    )
    received = bytearray()
    arrived = asyncio.Event()

    class Session(asyncssh.SSHClientSession):
        def data_received(self, data: bytes, datatype) -> None:
            received.extend(data)
            arrived.set()

    chan, _ = await conn.create_session(
        Session, term_type="xterm-256color", term_size=(80, 24), encoding=None
    )

    async def until(pattern: bytes | None) -> None:
        # None: any answer at all (an erasure draws no character of its own).
        while (pattern is None and not received) or (pattern is not None and pattern not in received):
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 30)

    await until(b"1. Nouveau ticket")
    chan.write(b"2")
    await until("Numéro du ticket".encode())
    await asyncio.sleep(0.5)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    for _ in range(keys):
        for key, echo in ((b"1", b"1"), (b"\x7f", None)):
            received.clear()
            chan.write(key)
            await until(echo)
            await asyncio.sleep(0.005)
    print(f"done {(time.perf_counter() - started) / (2 * keys) * 1000:.2f}", flush=True)
    sys.stdin.readline()
    conn.close()


async def measure(args: argparse.Namespace) -> None:
    from server.app import Service
    from server.config import load_settings
    from server.context import create_user
    from server.domain.models import Role
    from server.security import PasswordHasher
    from server.store import Database
    from server.store.migrate import upgrade

    logging.disable(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="keystroke-"))
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": f"sqlite+aiosqlite:///{folder}/bench.db"},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "keys")},
            "security": {"bcrypt_cost": 4},
        },
    )
    db = Database(settings)
    await upgrade(db)
    await create_user(db, "Frappe", EMAIL, await PasswordHasher(4).hash(PASSWORD), Role.USER)
    await db.close()
    service = Service(settings)
    await service.start()
    figures = []
    profile = cProfile.Profile() if args.profile else None
    try:
        for _ in range(args.runs):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--client",
                str(service.port),
                "--keys",
                str(args.keys),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert proc.stdin is not None and proc.stdout is not None
            line = await proc.stdout.readline()
            assert line.startswith(b"ready"), line
            before = cpu_seconds()
            if profile is not None:
                profile.enable()
            proc.stdin.write(b"\n")
            await proc.stdin.drain()
            line = await proc.stdout.readline()
            if profile is not None:
                profile.disable()
            spent = cpu_seconds() - before
            figures.append((spent / (2 * args.keys) * 1000, float(line.split()[1])))
            proc.stdin.write(b"\n")
            await proc.stdin.drain()
            await proc.wait()
    finally:
        await service.stop(grace=1)
    for cpu, trip in figures:
        print(f"server CPU per key {cpu:.3f} ms   (round trip {trip:.2f} ms)")
    print(f"best of {len(figures)}: {min(c for c, _t in figures):.3f} ms of CPU per key")
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        if args.callers:
            stats.print_callers(args.callers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=500, help="digits per run, each erased (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="runs, each with a new client (default 3)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's figures")
    parser.add_argument("--callers", default="", help="with --profile: who calls the functions matching")
    parser.add_argument("--server-root", default=str(ROOT), help="the tree whose `server` is measured")
    parser.add_argument("--client", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(args.client, args.keys))
        return
    sys.path.insert(0, args.server_root)
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
