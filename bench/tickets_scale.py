"""Benchmark: the admins' ticket search and dashboard with 10,000 users and 100,000 tickets.

Fills a scratch database (bulk inserts: realistic statuses, urgencies, dates, French titles, a
history for each ticket and Votre avis for most resolved ones), then times, through the context
methods the screens call, the default view's first and last pages, deep pages, text searches,
filters by author and by assignee, and the dashboard; prints median and p95 of --runs runs,
then MariaDB's EXPLAIN of the queries behind the default view.

    .venv/bin/python bench/tickets_scale.py          # MariaDB on 127.0.0.1:3306 as root
    .venv/bin/python bench/tickets_scale.py mysql+aiomysql://root@127.0.0.1:3306/support_bench --runs 30
    .venv/bin/python bench/tickets_scale.py sqlite+aiosqlite:////tmp/bench.db

The database named in the URL is dropped and filled again unless it already holds exactly the
requested rows (--refill forces it). Never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import bcrypt
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.config import load_settings  # noqa: E402
from server.context import SessionContext, SessionResources  # noqa: E402
from server.domain.models import Role, Status, TicketFilter, TicketSort, Urgency, User  # noqa: E402
from server.security import PasswordHasher  # noqa: E402
from server.store import Database, utcnow  # noqa: E402
from server.store.migrate import upgrade  # noqa: E402
from server.store.schema import CATEGORY_NAMES, history, ratings, tickets, users  # noqa: E402

DEFAULT_URL = "mysql+aiomysql://root@127.0.0.1:3306/support_bench"
ADMINS = 20
CHUNK = 5000
PAGE = 14  # tickets per page at 80×24

FIRST_NAMES = [
    "Awa",
    "Moussa",
    "Fatou",
    "Aïssatou",
    "Ibrahima",
    "Mariama",
    "Ousmane",
    "Khadija",
    "Cheikh",
    "Ndeye",
    "Mamadou",
    "Coumba",
    "Abdoulaye",
    "Seynabou",
    "Babacar",
    "Rokhaya",
]
LAST_NAMES = [
    "Ndiaye",
    "Diop",
    "Sow",
    "Fall",
    "Ba",
    "Sarr",
    "Gueye",
    "Faye",
    "Diallo",
    "Cissé",
    "Mbaye",
    "Kane",
    "Thiam",
    "Sy",
    "Camara",
    "Ndour",
]
PROBLEMS = [
    ("Mon chargeur ne marche plus", "Le voyant reste éteint quand je branche le chargeur."),
    ("Pas d'accès à la plateforme", "La page de connexion affiche « identifiants invalides »."),
    ("Wifi coupé en salle {n}", "Le réseau apparaît mais la connexion échoue sans arrêt."),
    ("Imprimante bloquée au {n}e étage", "Le papier se coince et le voyant orange clignote."),
    ("Écran noir au démarrage", "L'ordinateur s'allume mais l'écran reste noir."),
    ("Mot de passe oublié", "Je n'arrive plus à me connecter à ma messagerie."),
    ("Clavier : touche {n} cassée", "La touche ne répond plus, même après nettoyage."),
    ("Projecteur salle {n} flou", "L'image est floue et le réglage ne change rien."),
    ("Casque sans son", "Aucun son ne sort du casque pendant les visioconférences."),
    ("Logiciel de cours introuvable", "Le logiciel demandé pour le module {n} n'est pas installé."),
    ("Souris sans fil déconnectée", "La souris se déconnecte toutes les cinq minutes."),
    ("Compte bloqué après trois essais", "Mon compte est verrouillé depuis ce matin."),
]
URGENCY_WEIGHTS = [(Urgency.LOW, 45), (Urgency.MEDIUM, 38), (Urgency.HIGH, 17)]


def summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"{name:<46} median={statistics.median(ms):8.1f} ms  p95={p95:8.1f} ms"


async def reset_mysql(url: str) -> None:
    """Drop and create the database named in the URL, through the server without it."""
    u = make_url(url)
    server = Database(load_settings(env={}), u.set(database="").render_as_string(hide_password=False))
    try:
        async with server.engine.connect() as conn:
            await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{u.database}`")
            await conn.exec_driver_sql(
                f"CREATE DATABASE `{u.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        await server.close()


async def already_filled(db: Database, n_users: int, n_tickets: int) -> bool:
    try:
        async with db.transaction() as conn:
            u = (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one()
            t = (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one()
            r = (await conn.execute(sa.select(sa.func.count()).select_from(ratings))).scalar_one()
    except Exception:
        return False
    return (u, t) == (n_users, n_tickets) and r > 0


def make_rows(n_users: int, n_tickets: int, now: datetime, rng: random.Random):
    """Users (the first ADMINS are admins), tickets over two years, and each ticket's history."""
    hashed = bcrypt.hashpw(b"banc-d-essai-2026", bcrypt.gensalt(4)).decode("ascii")
    user_rows = []
    for i in range(1, n_users + 1):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        user_rows.append(
            {
                "id": i,
                "nom": name,
                "email": f"utilisateur{i}@campus.sn",
                "mot_de_passe": hashed,
                "role": (Role.ADMIN if i <= ADMINS else Role.USER).value,
                "created_at": now - timedelta(days=800),
                "echecs_connexion": 0,
            }
        )
    names = {r["id"]: r["nom"] for r in user_rows}
    ticket_rows, history_rows = [], []
    urgencies, weights = zip(*URGENCY_WEIGHTS, strict=True)
    for i in range(1, n_tickets + 1):
        # More tickets lately, as the centre grows; none in the future.
        age = timedelta(days=730 * rng.random() ** 1.5, seconds=rng.randrange(86400))
        created = (now - age).replace(microsecond=0)
        recent = age < timedelta(days=30)
        roll = rng.random()
        if recent:
            status = Status.WAITING if roll < 0.4 else Status.IN_PROGRESS if roll < 0.7 else Status.RESOLVED
        else:
            status = Status.WAITING if roll < 0.03 else Status.IN_PROGRESS if roll < 0.08 else Status.RESOLVED
        author = rng.randrange(ADMINS + 1, n_users + 1)
        admin = rng.randrange(1, ADMINS + 1)
        title, text = rng.choice(PROBLEMS)
        n = rng.randrange(1, 40)
        ticket_rows.append(
            {
                "id": i,
                "titre": title.format(n=n),
                "description": text.format(n=n) + " Merci d'avance.",
                "urgence": rng.choices(urgencies, weights)[0].value,
                "auteur_id": author,
                "statut_id": list(Status).index(status) + 1,
                "assigne_id": admin if status is not Status.WAITING else None,
                # One of the seeded categories (not drawn: the rest of the data stays as before).
                "categorie_id": i % len(CATEGORY_NAMES) + 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        history_rows.append(
            {
                "ticket_id": i,
                "acteur_id": author,
                "acteur_nom": names[author],
                "action": "creation",
                "ancien_statut_id": None,
                "nouveau_statut_id": 1,
                "details": "",
                "created_at": created,
            }
        )
        moment = created
        for old, new in ((1, 2), (2, 3)):
            if new - 1 > list(Status).index(status):
                break
            moment = min(now, moment + timedelta(minutes=rng.expovariate(1 / 600)))
            history_rows.append(
                {
                    "ticket_id": i,
                    "acteur_id": admin,
                    "acteur_nom": names[admin],
                    "action": "changement_statut",
                    "ancien_statut_id": old,
                    "nouveau_statut_id": new,
                    "details": "",
                    "created_at": moment,
                }
            )
    return user_rows, ticket_rows, history_rows


def make_ratings(ticket_rows: list[dict], history_rows: list[dict], rng: random.Random) -> list[dict]:
    """Votre avis for resolved tickets: six in ten answered (mostly 4 or 5), two skipped, the
    rest never asked yet; a day or so after the resolution. Drawn from a generator of its own,
    so that the users, tickets and history stay the rows they were before ratings existed."""
    resolved_at = {h["ticket_id"]: h["created_at"] for h in history_rows if h["nouveau_statut_id"] == 3}
    rows = []
    for ticket in ticket_rows:
        moment = resolved_at.get(ticket["id"])
        roll = rng.random()
        if moment is None or roll >= 0.8:
            continue
        score = rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 5))[0] if roll < 0.6 else None
        rows.append(
            {
                "ticket_id": ticket["id"],
                "utilisateur_id": ticket["auteur_id"],
                "note": score,
                "commentaire": "Merci, c'est réglé." if score and score >= 4 else None,
                "passe": score is None,
                "created_at": moment + timedelta(minutes=rng.expovariate(1 / 1440)),
            }
        )
    return rows


async def fill(db: Database, n_users: int, n_tickets: int) -> None:
    start = time.perf_counter()
    user_rows, ticket_rows, history_rows = make_rows(n_users, n_tickets, utcnow(), random.Random(2026))
    rating_rows = make_ratings(ticket_rows, history_rows, random.Random(2027))
    filling = ((users, user_rows), (tickets, ticket_rows), (history, history_rows), (ratings, rating_rows))
    for table, rows in filling:
        for at in range(0, len(rows), CHUNK):
            chunk = rows[at : at + CHUNK]
            await db.write(lambda conn, t=table, c=chunk: conn.execute(t.insert(), c))
        print(f"  {table.name}: {len(rows)} rows", flush=True)
    if db.mysql:
        async with db.engine.connect() as conn:
            for table in ("utilisateurs", "tickets", "historique", "avis"):
                await conn.exec_driver_sql(f"ANALYZE TABLE {table}")
    print(f"filled in {time.perf_counter() - start:.1f} s", flush=True)


async def timed(runs: int, work) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - start)
    return samples


class Recorder:
    """The SQL statements (and parameters) sent while it listens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements: list[tuple[str, object]] = []

    def __enter__(self) -> Recorder:
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((statement, parameters))


async def explain(db: Database, ctx: SessionContext) -> None:
    """EXPLAIN of each statement the default view's first page runs."""
    with Recorder(db) as recorder:
        await ctx.search_tickets(TicketFilter(), TicketSort.URGENCY_DESC, 1, PAGE)
    keyword = "EXPLAIN" if db.mysql else "EXPLAIN QUERY PLAN"
    async with db.engine.connect() as conn:
        for statement, parameters in recorder.statements:
            if "FROM statut" in statement and "JOIN" not in statement:
                continue  # the three statuses' ids
            print("\n" + " ".join(statement.split()))
            result = await conn.exec_driver_sql(f"{keyword} {statement}", parameters)
            print("  " + " | ".join(result.keys()))
            for row in result:
                print("  " + " | ".join("" if v is None else str(v) for v in row))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"database URL (default {DEFAULT_URL})")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--refill", action="store_true", help="drop and fill even if already filled")
    args = parser.parse_args()

    settings = load_settings(env={}, overrides={"database": {"url": args.url}})
    db = Database(settings, args.url)
    if args.refill or not await already_filled(db, args.users, args.tickets):
        await db.close()
        if db.mysql:
            await reset_mysql(args.url)
        else:
            Path(make_url(args.url).database).unlink(missing_ok=True)
        db = Database(settings, args.url)
        await upgrade(db)
        print(f"filling {args.users} users, {args.tickets} tickets…", flush=True)
        await fill(db, args.users, args.tickets)
    try:
        await run(db, args.runs)
    finally:
        await db.close()


async def run(db: Database, runs: int) -> None:
    async with db.transaction() as conn:
        admin_row = (await conn.execute(sa.select(users).where(users.c.role == "admin").limit(1))).one()
        busiest = (
            await conn.execute(
                sa.select(tickets.c.auteur_id)
                .group_by(tickets.c.auteur_id)
                .order_by(sa.func.count().desc())
                .limit(1)
            )
        ).scalar_one()
        author_row = (await conn.execute(sa.select(users).where(users.c.id == busiest))).one()
    admin = User(admin_row.id, admin_row.nom, admin_row.email, Role.ADMIN, admin_row.created_at)
    author = User(author_row.id, author_row.nom, author_row.email, Role.USER, author_row.created_at)
    ctx = SessionContext(SessionResources(db, PasswordHasher(4)), "bench", admin)
    everything = TicketFilter(statuses=frozenset())

    first = await ctx.search_tickets(TicketFilter(), TicketSort.URGENCY_DESC, 1, PAGE)
    every = await ctx.search_tickets(everything, TicketSort.DATE_DESC, 1, PAGE)
    print(
        f"\n{'sqlite' if not db.mysql else 'mariadb'}: {every.total} tickets, "
        f"{first.total} open ({first.pages} pages of {PAGE}); {runs} runs each\n"
    )
    cases = [
        ("default view (open, urgency), first page", TicketFilter(), TicketSort.URGENCY_DESC, 1),
        ("default view, last page", TicketFilter(), TicketSort.URGENCY_DESC, first.pages),
        ("all tickets by date, first page", everything, TicketSort.DATE_DESC, 1),
        ("all tickets by date, last page", everything, TicketSort.DATE_DESC, every.pages),
        ("text « imprimante », open tickets", TicketFilter(text="imprimante"), TicketSort.URGENCY_DESC, 1),
        (
            "text « imprimante », all tickets",
            TicketFilter(statuses=frozenset(), text="imprimante"),
            TicketSort.DATE_DESC,
            1,
        ),
        (
            "text « zzz » (no match), all",
            TicketFilter(statuses=frozenset(), text="zzz"),
            TicketSort.DATE_DESC,
            1,
        ),
        (
            "author (busiest), all statuses",
            TicketFilter(statuses=frozenset(), author=author),
            TicketSort.DATE_DESC,
            1,
        ),
        ("assignee (an admin), open", TicketFilter(assignee=admin), TicketSort.URGENCY_DESC, 1),
        ("unassigned, open", TicketFilter(unassigned=True), TicketSort.URGENCY_DESC, 1),
        (
            "Résolu, Haute, by date",
            TicketFilter(statuses=frozenset({Status.RESOLVED}), urgencies=frozenset({Urgency.HIGH})),
            TicketSort.DATE_DESC,
            1,
        ),
    ]
    for name, filters, sort, page in cases:
        found = await ctx.search_tickets(filters, sort, page, PAGE)
        samples = await timed(runs, lambda f=filters, s=sort, p=page: ctx.search_tickets(f, s, p, PAGE))
        print(summary(name, samples) + f"  ({found.total} found)")
    print(summary("dashboard (with 30 days of ratings)", await timed(runs, ctx.dashboard)))
    print(summary("find_users « diop »", await timed(runs, lambda: ctx.find_users("diop"))))
    await explain(db, ctx)


if __name__ == "__main__":
    asyncio.run(main())
