"""`python -m server backup` under load and `restore` into a fresh database, on SQLite and MariaDB:
every row of the restored database is the backup's, and the backup is one consistent instant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.config import Settings, load_settings
from server.domain.models import Action, Role
from server.store import Database, is_mysql, utcnow
from server.store.backup import backup_rows, check_backup, tables
from server.store.migrate import SCHEMA_VERSION
from server.store.schema import history, tickets, users

from .conftest import context_for, make_user, scratch_database
from .test_cli import cli, cli_env


@contextmanager
def fresh_url(db_url: str, mariadb_server: str | None, tmp_path: Path, name: str) -> Iterator[str]:
    """Another empty database of the same kind as `db_url`."""
    if is_mysql(db_url):
        assert mariadb_server
        with scratch_database(mariadb_server) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path}/{name}.db"


def open_database(url: str) -> Database:
    return Database(load_settings(env={}, overrides={"database": {"url": url, "pool_timeout": 5}}))


async def every_row(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, as the database returns it."""
    db = open_database(url)
    try:
        async with db.transaction() as conn:
            out = {}
            for table in tables():
                query = sa.select(*table.columns).order_by(*table.primary_key.columns)
                out[table.name] = [tuple(r) for r in (await conn.execute(query)).all()]
            return out
    finally:
        await db.close()


def file_rows(path: Path) -> dict[str, list[list]]:
    check_backup(path)
    rows: dict[str, list[list]] = {t.name: [] for t in tables()}
    for table, row in backup_rows(path):
        rows[table].append(row)
    return rows


def as_json(rows: dict[str, list[tuple]]) -> dict[str, list[list]]:
    """Rows as the backup file writes them (dates as ISO text)."""
    return json.loads(json.dumps(rows, default=lambda v: v.isoformat()))


async def seed_tickets(database: Database, author: int, n: int) -> None:
    """`n` old tickets, each with its creation entry: the dump then takes a while, and writers
    land between its first table and its last."""
    now = utcnow()
    async with database.transaction(write=True) as conn:
        first = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(tickets.c.id), 0)))).scalar() + 1
        ids = range(first, first + n)
        common = {"titre": "Ancien", "description": "Archivé.", "urgence": "Faible", "auteur_id": author}
        await conn.execute(
            tickets.insert(),
            [common | {"id": i, "statut_id": 3, "created_at": now, "updated_at": now} for i in ids],
        )
        entry = {"acteur_id": author, "acteur_nom": "Learner 0", "action": Action.CREATED.value}
        await conn.execute(
            history.insert(),
            [entry | {"ticket_id": i, "nouveau_statut_id": 3, "created_at": now} for i in ids],
        )


async def writers(services, users, stop: asyncio.Event, made: list[int]) -> None:
    """Learners filing tickets and replying to them until `stop`, each write its own transaction."""

    async def one(user) -> None:
        ctx = context_for(services, user)
        n = 0
        while not stop.is_set():
            n += 1
            ticket_id = await ctx.create_ticket(f"Panne {user.id}-{n}", "L'écran reste noir.", "Haute")
            made.append(ticket_id)
            await ctx.reply(ticket_id, f"Toujours noir ({n}).")

    await asyncio.gather(*(one(u) for u in users))


async def test_backup_under_load_restores_every_row(
    services, database, settings, tmp_path, db_url, mariadb_server
):
    users = [await make_user(services, f"l{i}@example.org", f"Learner {i}") for i in range(3)]
    await make_user(services, "chef@example.org", "Chef", Role.ADMIN)
    await seed_tickets(database, users[0].id, 5000)
    stop, made = asyncio.Event(), []
    load = asyncio.create_task(writers(services, users, stop, made))
    try:
        while len(made) < 10:
            await asyncio.sleep(0.02)
        env = cli_env(tmp_path, settings.database_url)
        during = tmp_path / "during.jsonl"
        done = await cli("backup", str(during), env=env)
        assert done.returncode == 0, done.stderr
        assert "Sauvegarde écrite dans" in done.stdout
        written_meanwhile = len(made)
    finally:
        stop.set()
        await load
    # Writers went on while the backup ran, and none of them failed (gather would have raised).
    assert len(made) > 10 and written_meanwhile <= len(made)

    header = json.loads(during.read_text(encoding="utf-8").splitlines()[0])
    assert header["schema_version"] == SCHEMA_VERSION
    assert during.stat().st_mode & 0o077 == 0
    snap = file_rows(during)
    # One instant: every ticket of the backup has its creation entry, every entry its ticket.
    cols = {t.name: [c.name for c in t.columns] for t in tables()}
    ticket_ids = {r[cols["tickets"].index("id")] for r in snap["tickets"]}
    created = {
        r[cols["historique"].index("ticket_id")]
        for r in snap["historique"]
        if r[cols["historique"].index("action")] == Action.CREATED.value
    }
    entry_tickets = {r[cols["historique"].index("ticket_id")] for r in snap["historique"]}
    assert ticket_ids and created == ticket_ids and entry_tickets == ticket_ids
    # What the backup holds is what the live database held: each row is still there, unchanged
    # (the writers only add tickets and replies; a reply touches its ticket's updated_at).
    live = as_json(await every_row(settings.database_url))
    for name in ("utilisateurs", "historique", "cles_ssh", "statut"):
        assert all(row in live[name] for row in snap[name]), name
    assert ticket_ids <= {r[0] for r in live["tickets"]}

    with fresh_url(db_url, mariadb_server, tmp_path, "restored") as target:
        restored = await cli("restore", str(during), env=cli_env(tmp_path, target))
        assert restored.returncode == 0, restored.stderr
        assert as_json(await every_row(target)) == snap

    # Writers stopped: a second backup is the live database, row for row, once restored.
    quiet = tmp_path / "quiet.jsonl"
    assert (await cli("backup", str(quiet), env=cli_env(tmp_path, settings.database_url))).returncode == 0
    with fresh_url(db_url, mariadb_server, tmp_path, "quiet") as target:
        assert (await cli("restore", str(quiet), env=cli_env(tmp_path, target))).returncode == 0
        assert await every_row(target) == await every_row(settings.database_url)
        # The restored database goes on: a new ticket takes the id after the restored ones.
        db = open_database(target)
        try:
            async with db.transaction(write=True) as conn:
                row = (await conn.execute(sa.select(tickets).limit(1))).mappings().one()
                values = {k: v for k, v in row.items() if k != "id"}
                new_id = (await conn.execute(tickets.insert().values(**values))).inserted_primary_key[0]
        finally:
            await db.close()
        assert new_id == max(made) + 1


async def test_restore_refuses_a_database_with_data_unless_forced(
    services, database, settings: Settings, tmp_path
):
    alice = await make_user(services, "alice@example.org", "Alice Ndiaye")
    first = await context_for(services, alice).create_ticket("Wi-Fi", "Pas de réseau.", "Faible")
    env = cli_env(tmp_path, settings.database_url)
    copy = tmp_path / "copy.jsonl"
    assert (await cli("backup", str(copy), env=env)).returncode == 0
    await context_for(services, alice).create_ticket("Imprimante", "Bourrage.", "Moyenne")
    before = await every_row(settings.database_url)

    refused = await cli("restore", str(copy), env=env)
    assert refused.returncode == 2
    assert "La base contient déjà des données : ajoutez --force pour les remplacer" in refused.stderr
    assert await every_row(settings.database_url) == before

    forced = await cli("restore", "--force", str(copy), env=env)
    assert forced.returncode == 0, forced.stderr
    after = await every_row(settings.database_url)
    assert [r[0] for r in after["tickets"]] == [first]
    assert as_json(after) == file_rows(copy)


@pytest.mark.parametrize("content", ["", "pas du json\n", '{"format": "support-tickets-backup"}\n'])
async def test_restore_refuses_what_is_not_a_whole_backup(database, settings, tmp_path, content):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    done = await cli("restore", str(bad), env=cli_env(tmp_path, settings.database_url))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Erreur : {bad} n'est pas une sauvegarde complète de Support Tickets."
    ]


async def test_a_backup_restores_into_the_other_database(
    services, database, settings, tmp_path, db_url, mariadb_server
):
    """SQLite's backup into MariaDB, MariaDB's into SQLite: the same rows."""
    if mariadb_server is None:
        pytest.skip("no MariaDB to restore into or from")
    alice = await make_user(services, "alice@example.org", "Alice Ndiaye")
    ctx = context_for(services, alice)
    ticket_id = await ctx.create_ticket("Écran", "Il clignote — « parfois ».", "Haute")
    await ctx.reply(ticket_id, "Ça recommence.")
    copy = tmp_path / "copy.jsonl"
    assert (await cli("backup", str(copy), env=cli_env(tmp_path, settings.database_url))).returncode == 0
    other = "sqlite+aiosqlite:///x" if is_mysql(db_url) else "mysql+aiomysql://x/y"
    with fresh_url(other, mariadb_server, tmp_path, "other") as target:
        done = await cli("restore", str(copy), env=cli_env(tmp_path, target))
        assert done.returncode == 0, done.stderr
        assert as_json(await every_row(target)) == as_json(await every_row(settings.database_url))


async def test_restore_refuses_a_backup_cut_short_or_altered(
    services, database, settings, tmp_path, db_url, mariadb_server
):
    alice = await make_user(services, "alice@example.org", "Alice Ndiaye")
    ctx = context_for(services, alice)
    for title in ("Wi-Fi", "Imprimante", "Écran"):
        await ctx.create_ticket(title, "Rien ne va.", "Faible")
    copy = tmp_path / "copy.jsonl"
    assert (await cli("backup", str(copy), env=cli_env(tmp_path, settings.database_url))).returncode == 0
    lines = copy.read_text(encoding="utf-8").splitlines()
    at = lines.index(next(line for line in lines if '"table": "tickets"' in line)) + 2  # a ticket's row
    row = json.loads(lines[at])
    end = json.loads(lines[-1])
    end["end"]["tickets"] += 1
    variants = {
        "cut": lines[:-1],
        "row missing": lines[:at] + lines[at + 1 :],
        "value missing": [*lines[:at], json.dumps(row[:-1]), *lines[at + 1 :]],
        "row twice, counts fixed": [*lines[: at + 1], lines[at], *lines[at + 1 : -1], json.dumps(end)],
    }
    with fresh_url(db_url, mariadb_server, tmp_path, "target") as target:
        for name, text in variants.items():
            bad = tmp_path / "bad.jsonl"
            bad.write_text("\n".join(text) + "\n", encoding="utf-8")
            done = await cli("restore", str(bad), env=cli_env(tmp_path, target))
            expected = (
                "Erreur : La base refuse des lignes de la table tickets : rien n'a été restauré."
                if name == "row twice, counts fixed"
                else f"Erreur : {bad} n'est pas une sauvegarde complète de Support Tickets."
            )
            assert done.returncode == 2, (name, done.stderr)
            assert done.stderr.strip().splitlines() == [expected], name
        # The last refusal happened half-way through the file: not a row of it stayed.
        rows = await every_row(target)
        assert rows[users.name] == rows[tickets.name] == rows[history.name] == []
        done = await cli("restore", str(copy), env=cli_env(tmp_path, target))
        assert done.returncode == 0, done.stderr
        assert as_json(await every_row(target)) == file_rows(copy)
