"""Benchmark: people logging in and leaving all the time — how long to the main menu, and does
the server's memory grow?

Starts `python -m server` as its own process (SQLite in a temporary folder, or --database-url),
then keeps --sessions SSH clients churning: connect with a password, wait for the main menu on
a pyte screen, leave. Prints p50/p99/max of the time to the main menu, and the server's RSS
after 100 cycles and after the last (a cycle is one such login).

    .venv/bin/python bench/login_churn.py [--sessions 20] [--cycles 1000] [--cost 4]
    .venv/bin/python bench/login_churn.py --database-url mysql+aiomysql://root@127.0.0.1:3306/bench_churn

A MariaDB database named in the URL is dropped and created again: give it one of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from server.config import load_settings  # noqa: E402
from server.context import create_user  # noqa: E402
from server.domain.models import Role  # noqa: E402
from server.security import PasswordHasher  # noqa: E402
from server.store import Database, is_mysql  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402
from tests.sshclient import Client  # noqa: E402

PASSWORD = "banc-d-essai-2026"
# The RSS is read after this many cycles, and again after the last.
FIRST_MARK = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def rss_mib(pid: int) -> float:
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def threads(pid: int) -> int:
    return int(proc_status(pid)["Threads"])


def fresh_mariadb(url: str) -> None:
    u = make_url(url)
    conn = pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{u.database}`")
        cur.execute(f"CREATE DATABASE `{u.database}` CHARACTER SET utf8mb4")
    conn.close()


async def prepare(url: str, folder: Path, emails: list[str], cost: int) -> None:
    """The schema and the accounts, written before the server starts."""
    if is_mysql(url):
        fresh_mariadb(url)
    settings = load_settings(
        env={}, overrides={"database": {"url": url}, "ssh": {"host_keys_dir": str(folder / "keys")}}
    )
    db = Database(settings)
    try:
        await upgrade(db)
        hashed = await PasswordHasher(cost).hash(PASSWORD)
        for email in emails:
            await create_user(db, "Banc d'essai", email, hashed, Role.USER)
    finally:
        await db.close()


async def start_server(url: str, folder: Path, cost: int, extra: list[str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORT_")}
    env |= {
        "SUPPORT_DATABASE_URL": url,
        "SUPPORT_SSH_HOST": "127.0.0.1",
        "SUPPORT_SSH_PORT": str(port),
        "SUPPORT_SSH_HOST_KEYS_DIR": str(folder / "keys"),
        "SUPPORT_SECURITY_BCRYPT_COST": str(cost),
        # Thousands of connections from one address: spared the per-address rate.
        "SUPPORT_SSH_EXEMPT": "127.0.0.1",
        "SUPPORT_LOG_LEVEL": "WARNING",
        # One process, whose RSS is the figure: with ssh.workers (auto is one per core on
        # MariaDB) the process started would be the supervisor, which holds no session.
        "SUPPORT_SSH_WORKERS": "1",
    }
    env |= dict(item.split("=", 1) for item in extra)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text(errors="replace")) from None
            await asyncio.sleep(0.1)


async def one_login(port: int, email: str) -> float:
    start = time.perf_counter()
    c = await Client.connect(port, email, PASSWORD)
    try:
        await c.wait_for("1. Nouveau ticket", timeout=60)
        return time.perf_counter() - start
    finally:
        await c.close()


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="support-churn-"))
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/churn.db"
    emails = [f"apprenant{i}@campus.sn" for i in range(args.sessions)]
    await prepare(url, folder, emails, args.cost)
    proc, port = await start_server(url, folder, args.cost, args.env)
    times: list[float] = []
    failures: list[str] = []
    marks: dict[int, tuple[float, int]] = {}
    done = 0
    remaining = args.cycles

    async def session(email: str) -> None:
        nonlocal done, remaining
        while remaining > 0:
            remaining -= 1
            try:
                times.append(await one_login(port, email))
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            done += 1
            if done == FIRST_MARK or done % 500 == 0 or done == args.cycles:
                marks[done] = (rss_mib(proc.pid), threads(proc.pid))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(session(email) for email in emails))
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        code = proc.wait(60)
    backend = "MariaDB" if is_mysql(url) else "SQLite"
    ms = sorted(t * 1000 for t in times)
    print(
        f"Support Tickets — login churn on {backend}: {args.sessions} sessions at once, "
        f"{args.cycles} cycles (connect → main menu → leave), bcrypt cost {args.cost}"
    )
    print(
        f"time to main menu   p50={percentile(ms, 0.50):7.0f} ms  p99={percentile(ms, 0.99):7.0f} ms"
        f"  max={ms[-1]:7.0f} ms  (n={len(ms)}, failed={len(failures)}, {len(ms) / elapsed:.1f}/s)"
    )
    first, last = marks.get(FIRST_MARK), marks.get(args.cycles)
    if first and last:
        growth = (last[0] - first[0]) / first[0] * 100
        print(
            f"server RSS          after {FIRST_MARK} cycles {first[0]:.1f} MiB, after {args.cycles} "
            f"{last[0]:.1f} MiB ({growth:+.1f} %); threads {first[1]} → {last[1]}"
        )
    if len(marks) > 2:
        print("server RSS by cycle " + ", ".join(f"{n}: {m[0]:.1f} MiB" for n, m in sorted(marks.items())))
    print(f"server exit status  {code} after SIGTERM")
    for failure in failures[:5]:
        print(f"  failure: {failure}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="sessions churning at once (default 20)")
    parser.add_argument("--cycles", type=int, default=1000, help="logins in all (default 1000)")
    parser.add_argument("--cost", type=int, default=4, help="bcrypt cost (default 4, as the tests)")
    parser.add_argument("--database-url", default="", help="SQLAlchemy URL (default: temporary SQLite)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the server's environment"
    )
    asyncio.run(main(parser.parse_args()))
