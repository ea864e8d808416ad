"""Benchmark: SIGTERM while 50 people are filing tickets — is any accepted write lost, is anyone
told "saved" for what was not, and how long does the exit take?

Starts `python -m server` as its own process (SQLite in a temporary folder, or --database-url),
logs --users people in over SSH (pyte screens) who file tickets one after another, sends
SIGTERM after --work seconds, then compares what each person was told with the database.

    .venv/bin/python bench/shutdown_under_load.py [--users 50] [--work 3]
    .venv/bin/python bench/shutdown_under_load.py --database-url mysql+aiomysql://root@127.0.0.1:3306/bench_stop

A MariaDB database named in the URL is dropped and created again: give it one of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.login_churn import PASSWORD, prepare, start_server  # noqa: E402
from server.app import SHUTDOWN_NOT_SAVED, SHUTDOWN_SAVED  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.store import Database, is_mysql  # noqa: E402
from server.store.schema import tickets  # noqa: E402
from tests.sshclient import CTRL_D, ENTER, ESC, Client  # noqa: E402

RESTARTING = "Le service redémarre : votre saisie est conservée"
RETRY = "La base de données est momentanément indisponible"


def words(text: str) -> str:
    # Without any space: a sentence printed past the screen's edge is cut mid-word.
    return "".join(text.split())


async def first_of(c: Client, *texts: str, timeout: float = 60) -> str | None:
    """Which of `texts` shows first on the screen (sentences may wrap); None if it closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = words(c.text())
        for t in texts:
            if words(t) in shown:
                return t
        if c.closed:
            return None
        await asyncio.sleep(0.02)
    return None


class Person:
    def __init__(self, n: int) -> None:
        self.email = f"apprenant{n}@campus.sn"
        self.n = n
        self.sent: list[str] = []  # titles whose last key was pressed, with the server up
        self.told_created: set[str] = set()
        self.refused: set[str] = set()
        self.retry: set[str] = set()
        self.client: Client | None = None

    async def work(self, port: int) -> None:
        c = self.client = await Client.connect(port, self.email, PASSWORD)
        await c.wait_for("1. Nouveau ticket", timeout=60)
        k = 0
        while not c.closed:
            k += 1
            title = f"p{self.n}-t{k}"
            c.send("1")
            if await first_of(c, "Titre :") is None:
                return
            c.send(title + ENTER)
            if await first_of(c, "Description :") is None:
                return
            c.send("Ne marche plus." + CTRL_D)
            if await first_of(c, "3. Haute") is None:
                return
            c.send("3")
            self.sent.append(title)
            outcome = await first_of(c, "créé.", RESTARTING, RETRY)
            if outcome == "créé.":
                self.told_created.add(title)
                c.send(ESC)  # back to the main menu
            elif outcome in (RESTARTING, RETRY):
                self.refused.add(title)
                if outcome == RETRY:
                    self.retry.add(title)
                c.send(ESC)
            if await first_of(c, "1. Nouveau ticket") is None:
                return


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="support-stop-"))
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/stop.db"
    people = [Person(n) for n in range(args.users)]
    await prepare(url, folder, [p.email for p in people], 4)
    proc, port = await start_server(url, folder, 4, [f"SUPPORT_DATABASE_SHUTDOWN_GRACE={args.grace}"])
    workers = [asyncio.create_task(p.work(port)) for p in people]
    await asyncio.sleep(args.work)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(proc.wait, args.grace + 30)
    exit_time = time.monotonic() - signalled
    await asyncio.gather(*workers, return_exceptions=True)
    settings = load_settings(env={}, overrides={"database": {"url": url}})
    db = Database(settings)
    async with db.transaction() as conn:
        stored = set((await conn.execute(sa.select(tickets.c.titre))).scalars())
    await db.close()

    sent = {t for p in people for t in p.sent}
    told = {t for p in people for t in p.told_created}
    refused = {t for p in people for t in p.refused}
    # The last one sent by someone whose banner says it was not saved: refused, and told so.
    told_by_banner = {
        p.sent[-1]
        for p in people
        if p.sent and p.client is not None and words(SHUTDOWN_NOT_SAVED) in words(p.client.text())
    }
    lost = sent - stored - refused - told_by_banner
    false_success = told - stored
    untold = stored - told
    untold_without_banner = [
        p.email
        for p in people
        if any(t in untold for t in p.sent)
        and p.client is not None
        and words(SHUTDOWN_SAVED) not in words(p.client.text())
    ]
    for p in people:
        if p.client is not None:
            await p.client.close()
    backend = "MariaDB" if is_mysql(url) else "SQLite"
    print(f"Support Tickets — SIGTERM after {args.work} s with {args.users} people filing tickets, {backend}")
    print(
        f"tickets sent {len(sent)}, stored {len(stored)}, told « créé » {len(told)}, "
        f"refused with the sentence {len(refused)}, told « pas été enregistrée » by the last banner "
        f"{len(told_by_banner - stored - refused)}"
    )
    print(
        f"accepted writes lost {len(lost)}; told created but not stored {len(false_success)}; "
        f"stored without « créé » {len(untold)} (of whom without the saved banner: "
        f"{len(untold_without_banner)})"
    )
    print(f"exit status {code} after {exit_time:.1f} s (shutdown_grace {args.grace} s)")
    retried = {t for p in people for t in p.retry}
    print(f"of the refusals: {len(refused - retried)} at the restart, {len(retried)} « réessayez »")
    for what, titles in (("lost", lost), ("stored, untold", untold)):
        for p in people:
            if any(t in titles for t in p.sent) and p.client is not None:
                print(f"  {what}: {sorted(set(p.sent) & titles)} of {p.sent[-3:]}; last screen:")
                print("    " + " ".join(p.client.text().split())[:300])
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="people filing tickets (default 50)")
    parser.add_argument("--work", type=float, default=3.0, help="seconds of work before SIGTERM")
    parser.add_argument("--grace", type=int, default=30, help="database.shutdown_grace (default 30)")
    parser.add_argument("--database-url", default="", help="SQLAlchemy URL (default: temporary SQLite)")
    asyncio.run(main(parser.parse_args()))
