"""Benchmark: can a stopwatch tell an unknown e-mail from a wrong password?

Starts the real server on a free port (SQLite in a temporary folder, or --database-url) with
bcrypt at the production cost, then times refused logins of both kinds, interleaved so that
the machine's load falls on both alike: at the SSH door (password auth, connect → "Permission
denied") and in the application (`Se connecter`, Enter on the password → the refusal shown).
Throttling is raised out of the way: every try is a first try.

    .venv/bin/python bench/enumeration.py [--tries 20] [--cost 12] [--database-url URL]
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

import asyncssh  # noqa: E402

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import create_user  # noqa: E402
from server.domain.models import Role  # noqa: E402
from tests.sshclient import ENTER, Client  # noqa: E402

PASSWORD = "banc-d-essai-2026"
WRONG = "pas-le-bon-mot-de-passe"
REFUSAL = "E-mail ou mot de passe incorrect."


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"{name:<36} n={len(ms):<3} median={statistics.median(ms):7.1f} ms  p95={p95:7.1f} ms"


async def ssh_refusal(port: int, email: str) -> float:
    start = time.perf_counter()
    try:
        c = await Client.connect(port, email, WRONG)
    except asyncssh.PermissionDenied:
        return time.perf_counter() - start
    await c.close()
    raise AssertionError(f"{email} got in with a wrong password")


async def app_refusal(c: Client, email: str) -> float:
    await c.wait_for("1. Se connecter")
    c.send("1")
    await c.wait_for("E-mail :")
    c.send(email + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(WRONG)
    await c.wait_for("*" * len(WRONG))
    start = time.perf_counter()
    c.send(ENTER)
    # The form stays on screen until the answer comes, then the welcome menu shows it.
    await c.wait_gone("Mot de passe :", timeout=60)
    await c.wait_for(REFUSAL)
    return time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="support-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    many = 10 * args.tries + 100
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": url},
            "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": str(folder / "keys")},
            "security": {
                "bcrypt_cost": args.cost,
                "login_failures_per_account": many,
                "login_failures_per_address": many,
            },
        },
    )
    service = Service(settings)
    await service.start()
    assert service.services is not None and service.db is not None
    hashed = await service.services.hasher.hash(PASSWORD)
    for i in range(args.tries):
        await create_user(service.db, "Banc d'essai", f"reel{i}@campus.sn", hashed, Role.USER)

    times: dict[str, list[float]] = {k: [] for k in ("ssh-wrong", "ssh-unknown", "app-wrong", "app-unknown")}
    guest = await Client.connect(service.port)
    try:
        for i in range(args.tries):
            # Alternate which kind goes first, so that neither always follows the other.
            pair = [("wrong", f"reel{i}@campus.sn"), ("unknown", f"inconnu{i}@campus.sn")]
            for kind, email in pair if i % 2 == 0 else pair[::-1]:
                times[f"ssh-{kind}"].append(await ssh_refusal(service.port, email))
                times[f"app-{kind}"].append(await app_refusal(guest, email))
    finally:
        await guest.close()
        await service.stop(grace=2)

    backend = "MariaDB/MySQL" if service.db.mysql else "SQLite"
    print(f"Support Tickets — {args.tries} refused logins of each kind, bcrypt cost {args.cost}, {backend}")
    for level, name in (("ssh", "SSH password auth"), ("app", "in-app Se connecter")):
        wrong, unknown = times[f"{level}-wrong"], times[f"{level}-unknown"]
        print(summary(f"{name}, wrong password", wrong))
        print(summary(f"{name}, unknown e-mail", unknown))
        a, b = statistics.median(wrong), statistics.median(unknown)
        print(f"{'':<36} medians differ by {abs(a - b) / max(a, b) * 100:.1f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=20, help="refused logins of each kind (default 20)")
    parser.add_argument("--cost", type=int, default=12, help="bcrypt cost (default 12, production)")
    parser.add_argument("--database-url", default="", help="SQLAlchemy URL (default: temporary SQLite)")
    asyncio.run(main(parser.parse_args()))
