"""Benchmark: what the change feed costs one server process, idle and with many sessions.

Opens the database (SQLite in a temporary folder, or --database-url), subscribes --sessions
sessions to one ChangeFeed (a tenth of them admins), each asking its context what it may be
told, as the server does, then prints the statements the feed sends per second at rest, and
how long one look takes when a change has to be handed to every session.

    .venv/bin/python bench/live_feed.py [--sessions 500] [--seconds 10] [--changes 200]
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

from sqlalchemy import event  # noqa: E402

from server.change_feed import ChangeFeed  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.context import SessionContext, SessionResources, create_user  # noqa: E402
from server.domain.models import Role, Status  # noqa: E402
from server.security import PasswordHasher  # noqa: E402
from server.store import Database  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402


async def main(args: argparse.Namespace) -> None:
    folder = tempfile.mkdtemp(prefix="bench-live-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    settings = load_settings(env={}, overrides={"database": {"url": url}})
    db = Database(settings)
    await upgrade(db)
    services = SessionResources(db, PasswordHasher(4))
    # Accounts need a hash, not a real one: the bench never logs in.
    hashed = "$2b$04$" + "x" * 53
    users = [
        await create_user(
            db, f"Personne {i}", f"p{i}@bench.example", hashed, Role.ADMIN if i % 10 == 0 else Role.USER
        )
        for i in range(args.sessions)
    ]
    contexts = [SessionContext(services, "bench", u) for u in users]
    told = [0]

    def listener(ctx: SessionContext):
        def take(change) -> None:
            told[0] += ctx.live_notice(change) is not None

        return take

    feed = ChangeFeed(db, settings.live.poll_interval)
    for ctx in contexts:
        feed.subscribe(listener(ctx))
    await feed.poll()

    statements = [0]

    def counted(*_args) -> None:
        statements[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", counted)

    feed.start()
    await asyncio.sleep(args.seconds)
    await feed.stop()
    rate = statements[0] / args.seconds
    print(
        f"at rest, {args.sessions} sessions, poll every {settings.live.poll_interval}s: "
        f"{rate:.2f} statements/s, {feed.polls} looks"
    )

    # One change per look, handed to every session (the context decides for each).
    requesters = [u for u in users if not u.is_admin]
    admin = next(u for u in users if u.is_admin)
    looks = []
    for i in range(args.changes):
        author = requesters[i % len(requesters)]
        ticket = await SessionContext(services, "bench", author).create_ticket(
            f"Ticket {i}", "Banc.", "Faible"
        )
        await SessionContext(services, "bench", admin).change_status(ticket, Status.IN_PROGRESS)
        start = time.perf_counter()
        await feed.poll()
        looks.append(time.perf_counter() - start)
    ms = sorted(x * 1000 for x in looks)
    print(
        f"one look reading 2 changes and handing them to {args.sessions} sessions: "
        f"median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, "
        f"max {ms[-1]:.2f} ms; sessions told: {told[0] / args.changes:.1f} per pair of changes"
    )
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--database-url", default="")
    asyncio.run(main(parser.parse_args()))
