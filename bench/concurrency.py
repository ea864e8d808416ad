"""Benchmark: does a storm of logins (bcrypt at the production cost) freeze anyone's screen?

Starts the real server on a free port (SQLite in a temporary folder, or --database-url),
keeps one logged-in person typing in a ticket list, and measures, through a real SSH
client and a terminal emulator, how long a keystroke takes to show on their screen:
first at rest, then while many people log in at once.

    .venv/bin/python bench/concurrency.py [--logins 40] [--parallel 8] [--cost 12]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import create_user  # noqa: E402
from server.domain.models import Role  # noqa: E402
from tests.sshclient import Client  # noqa: E402

PASSWORD = "banc-d-essai-2026"


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return (
        f"{name:<38} n={len(ms):<4} median={statistics.median(ms):7.1f} ms"
        f"  p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


async def keystroke(observer: Client) -> float:
    """Type a digit in the ticket list, wait until it shows; erase it, wait until it's gone."""
    start = time.perf_counter()
    observer.send("7")
    await observer.wait_for("Numéro du ticket : 7")
    elapsed = time.perf_counter() - start
    observer.send("\x7f")
    await observer.wait_gone("Numéro du ticket : 7")
    return elapsed


async def typing(observer: Client, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(await keystroke(observer))
        await asyncio.sleep(0.02)


async def login(port: int, email: str) -> float:
    start = time.perf_counter()
    c = await Client.connect(port, email, PASSWORD)
    await c.wait_for("1. Nouveau ticket")
    elapsed = time.perf_counter() - start
    await c.close()
    return elapsed


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="support-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": url},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "keys")},
            "security": {"bcrypt_cost": args.cost},
        },
    )
    service = Service(settings)
    await service.start()
    assert service.services is not None and service.db is not None
    hashed = await service.services.hasher.hash(PASSWORD)
    emails = [f"apprenant{i}@campus.sn" for i in range(args.parallel)]
    for email in [*emails, "observateur@campus.sn"]:
        await create_user(service.db, "Banc d'essai", email, hashed, Role.USER)

    observer = await Client.connect(service.port, "observateur@campus.sn", PASSWORD)
    await observer.wait_for("2. Mes tickets")
    observer.send("2")
    await observer.wait_for("Numéro du ticket :")

    at_rest = [await keystroke(observer) for _ in range(30)]

    stop = asyncio.Event()
    during: list[float] = []
    typist = asyncio.create_task(typing(observer, stop, during))
    logins: list[float] = []
    started = time.perf_counter()
    queue = [emails[i % len(emails)] for i in range(args.logins)]

    async def worker(mine: list[str]) -> None:
        for email in mine:
            logins.append(await login(service.port, email))

    await asyncio.gather(*(worker(queue[i :: args.parallel]) for i in range(args.parallel)))
    storm = time.perf_counter() - started
    stop.set()
    await typist
    await observer.close()
    await service.stop(grace=2)

    backend = "MariaDB/MySQL" if service.db.mysql else "SQLite"
    print(
        f"Support Tickets — {args.logins} SSH password logins, {args.parallel} at a time, "
        f"bcrypt cost {args.cost}, {backend}"
    )
    print(summary("keystroke echo, at rest", at_rest))
    print(summary("keystroke echo, during the login storm", during))
    print(summary("login (connect → main menu)", logins))
    print(f"{'logins per second':<38} {args.logins / storm:.1f}  ({storm:.1f} s in all)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=40, help="logins in all (default 40)")
    parser.add_argument("--parallel", type=int, default=8, help="logins at the same time (default 8)")
    parser.add_argument("--cost", type=int, default=12, help="bcrypt cost (default 12, production)")
    parser.add_argument("--database-url", default="", help="SQLAlchemy URL (default: temporary SQLite)")
    asyncio.run(main(parser.parse_args()))
