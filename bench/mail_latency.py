"""Benchmark: from an admin's status change to the message in the relay's mailbox.

Starts the real server on a free port (SQLite in a temporary folder, or --database-url) with a
real SMTP server (aiosmtpd) on this machine as its relay, `mail.group_window: 0`; one verified
learner per change. Then, for the same number of changes, the relay is stopped, the changes
made, the relay started again: how long until every message has arrived, and that none came
twice.

    .venv/bin/python bench/mail_latency.py [--changes 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from server.app import Service  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import SessionContext, create_user  # noqa: E402
from server.domain.models import Role  # noqa: E402
from server.store.schema import users  # noqa: E402
from tests.mailbox import Mailbox, relay  # noqa: E402


async def people(svc: Service, n: int):
    hashed = await svc.services.hasher.hash("banc-d-essai-2026")
    admin = await create_user(svc.db, "Admin Banc", "admin@bench.example", hashed, Role.ADMIN)
    learners = [
        await create_user(svc.db, f"Apprenant {i}", f"apprenant{i}@bench.example", hashed, Role.USER)
        for i in range(n)
    ]
    async with svc.db.transaction() as conn:
        await conn.execute(users.update().values(email_verifie=True))
    return admin, learners


async def wait_count(box: Mailbox, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(box.messages()) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(box.messages())} of {n} messages after {timeout}s")
        await asyncio.sleep(0.005)


async def main(changes: int, database_url: str | None) -> None:
    box = Mailbox()
    box.start()
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        settings = load_settings(
            env={},
            overrides={
                "database": {"url": url},
                "ssh": {"host": "127.0.0.1", "port": 0, "host_keys_dir": f"{folder}/keys"},
                "security": {"bcrypt_cost": 4},
            },
        )
        settings = dataclasses.replace(settings, mail=relay(box, retry_base=1, retry_max=2))
        svc = Service(settings)
        await svc.start()
        try:
            admin, learners = await people(svc, 2 * changes)
            staff = SessionContext(svc.services, "127.0.0.1:bench", admin)
            numbers = [
                await SessionContext(svc.services, "127.0.0.1:lab", p).create_ticket(
                    f"Panne {i}", "Rien.", "Haute"
                )
                for i, p in enumerate(learners)
            ]
            latencies = []
            for number in numbers[:changes]:
                before = len(box.messages())
                start = time.perf_counter()
                await staff.change_status(number, "En cours")
                await wait_count(box, before + 1)
                latencies.append(time.perf_counter() - start)
            ms = sorted(x * 1000 for x in latencies)
            p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
            print(
                f"status change -> message in the mailbox  n={len(ms)}  "
                f"median={statistics.median(ms):.1f} ms  p95={p95:.1f} ms  max={ms[-1]:.1f} ms"
            )

            box.stop()
            for number in numbers[changes:]:
                await staff.change_status(number, "En cours")
            await asyncio.sleep(3)
            async with svc.db.transaction() as conn:
                row = (
                    await conn.execute(
                        sa.text(
                            "SELECT COUNT(*), MAX(attempts), MAX(last_error) FROM courriels_sortants "
                            "WHERE sent_at IS NULL"
                        )
                    )
                ).one()
            print(f"relay down 3 s: {row[0]} waiting, up to {row[1]} attempt(s), last error: {row[2]}")
            restarted = time.perf_counter()
            box.start()
            await wait_count(box, 2 * changes)
            print(f"relay back: every waiting message arrived {time.perf_counter() - restarted:.1f} s later")
            await asyncio.sleep(2)
            recipients = [m["To"].addresses[0].addr_spec for m in box.messages()]
            print(f"messages received: {len(recipients)}, distinct recipients: {len(set(recipients))}")
        finally:
            await svc.stop(grace=2)
            box.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.changes, args.database_url))
