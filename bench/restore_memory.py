"""Benchmark: the memory `python -m server restore` takes for a big backup, against a tiny one.

Fills a scratch SQLite database with bench/tickets_scale.py's data (users, tickets over two
years and their history), backs it up with `python -m server backup`, then restores that file
into a fresh SQLite file with `python -m server restore`, as an operator would, and prints the
restore process's peak resident memory (from wait4's rusage), next to the same command restoring
the backup of an empty database (the interpreter and its imports).

    .venv/bin/python bench/restore_memory.py                  # 10,000 users, 100,000 tickets
    .venv/bin/python bench/restore_memory.py --tickets 300000 --folder /var/tmp/restore-bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tickets_scale import fill  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.store import Database  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORT_")}
    return env | {"SUPPORT_DATABASE_URL": url}


def run(*args: str, url: str) -> tuple[float, int]:
    """`python -m server ARGS` on `url`: (seconds, peak RSS in KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "server", *args], cwd=ROOT, env=environment(url))
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"python -m server {' '.join(args)} failed")
    return elapsed, usage.ru_maxrss  # KiB on Linux


async def make_source(url: str, n_users: int, n_tickets: int) -> None:
    db = Database(load_settings(env={}, overrides={"database": {"url": url}}), url)
    try:
        await upgrade(db)
        if n_tickets:
            await fill(db, n_users, n_tickets)
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--folder", help="where the scratch files go (default: a temporary folder)")
    parser.add_argument("--fill", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        asyncio.run(make_source(args.fill, args.users, args.tickets))
        return
    with tempfile.TemporaryDirectory(prefix="restore-bench-", dir=args.folder) as folder:
        base = Path(folder)
        figures = []
        for name, users, n_tickets in (("empty", 0, 0), ("big", args.users, args.tickets)):
            source = f"sqlite+aiosqlite:///{base}/{name}.db"
            # Filled by a process of its own: a child inherits its parent's peak RSS (Linux keeps
            # it across exec), and this one must stay small for the figures to be the restore's.
            fill_argv = ["--fill", source, "--users", str(users), "--tickets", str(n_tickets)]
            subprocess.run([sys.executable, __file__, *fill_argv], check=True)
            backup = base / f"{name}.jsonl"
            run("backup", str(backup), url=source)
            seconds, rss = run("restore", str(backup), url=f"sqlite+aiosqlite:///{base}/{name}-restored.db")
            lines = sum(1 for _ in backup.open("rb"))
            figures.append((name, backup.stat().st_size, lines, seconds, rss))
        print()
        for name, size, lines, seconds, rss in figures:
            print(
                f"restore of the {name} backup: {size / 2**20:8.1f} MiB, {lines:>8} lines, "
                f"{seconds:6.1f} s, peak RSS {rss / 1024:6.1f} MiB"
            )
        grown = (figures[1][4] - figures[0][4]) / 1024
        print(f"memory the big backup adds to the restore: {grown:.1f} MiB")


if __name__ == "__main__":
    main()
