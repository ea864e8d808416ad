"""Schema evolution: a database made by the seed's schema, with data in it, upgrades in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.store.migrate import (
    SCHEMA_VERSION,
    SEED_VERSION,
    SchemaError,
    check_version,
    schema_version,
    upgrade,
)
from server.store.schema import CATEGORY_NAMES, categories, history, schema_versions, tickets, users

from .conftest import admin_connection, scratch_database
from .test_schema import open_database, reflect

DATA = Path(__file__).parent / "data"

# The seed's rows, written with the seed's columns only.
SEED_ROWS = [
    "INSERT INTO statut (id, libelle) VALUES (1, 'En attente'), (2, 'En cours'), (3, 'Résolu')",
    "INSERT INTO utilisateurs (id, nom, email, mot_de_passe, role, echecs_connexion, created_at) VALUES "
    "(1, 'Awa Ndiaye', 'awa@campus.sn', '" + "x" * 60 + "', 'admin', 0, '2026-01-05 08:00:00'), "
    "(2, 'Moussa Diop', 'moussa@campus.sn', '" + "y" * 60 + "', 'utilisateur', 2, '2026-01-06 09:00:00')",
    "INSERT INTO tickets (id, titre, description, urgence, auteur_id, statut_id, created_at, updated_at) "
    "VALUES (1, 'Mon chargeur ne marche plus', 'Depuis lundi, « rien ».', 'Haute', 2, 2, "
    "'2026-01-07 10:00:00', '2026-01-07 11:00:00')",
    "INSERT INTO historique (id, ticket_id, acteur_id, acteur_nom, action, ancien_statut_id, "
    "nouveau_statut_id, details, created_at) VALUES "
    "(1, 1, 2, 'Moussa Diop', 'creation', NULL, 1, NULL, '2026-01-07 10:00:00'), "
    "(2, 1, 1, 'Awa Ndiaye', 'changement_statut', 1, 2, NULL, '2026-01-07 11:00:00')",
]


def seed_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "schema_v1_sqlite.sql").read_text(encoding="utf-8"))
    for row in SEED_ROWS:
        conn.execute(row)
    conn.commit()
    conn.close()
    return f"sqlite+aiosqlite:///{path}"


def seed_mariadb(url: str) -> None:
    """Run the seed's schema_support.sql and rows as an operator would have."""
    u = make_url(url)
    conn = admin_connection(url)
    with conn.cursor() as cur:
        text = (DATA / "schema_v1_mysql.sql").read_text(encoding="utf-8")
        text = text.replace("suivi_incident", u.database)
        text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        for statement in text.split(";"):
            if statement.strip():
                cur.execute(statement)
        for row in SEED_ROWS:
            cur.execute(row.replace("INSERT INTO statut", "INSERT IGNORE INTO statut"))
    conn.close()


async def contents(db) -> dict:
    async with db.transaction() as conn:
        return {
            "users": [
                tuple(r)
                for r in await conn.execute(
                    sa.select(
                        users.c.id,
                        users.c.nom,
                        users.c.email,
                        users.c.mot_de_passe,
                        users.c.role,
                        users.c.echecs_connexion,
                        users.c.created_at,
                    ).order_by(users.c.id)
                )
            ],
            "tickets": [
                tuple(r)
                for r in await conn.execute(
                    sa.select(
                        tickets.c.id,
                        tickets.c.titre,
                        tickets.c.description,
                        tickets.c.urgence,
                        tickets.c.auteur_id,
                        tickets.c.statut_id,
                        tickets.c.created_at,
                        tickets.c.updated_at,
                    ).order_by(tickets.c.id)
                )
            ],
            "history": [
                tuple(r)
                for r in await conn.execute(
                    sa.select(
                        history.c.id,
                        history.c.ticket_id,
                        history.c.acteur_id,
                        history.c.acteur_nom,
                        history.c.action,
                        history.c.ancien_statut_id,
                        history.c.nouveau_statut_id,
                        history.c.created_at,
                    ).order_by(history.c.id)
                )
            ],
        }


async def sqlite_foreign_keys(db) -> set[tuple]:
    """Every foreign key as SQLite itself enforces it: (table, column, target, ON DELETE)."""
    if db.mysql:
        return set()
    found = set()
    async with db.transaction() as conn:
        for table in await conn.run_sync(lambda c: sa.inspect(c).get_table_names()):
            for row in await conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})"):
                found.add((table, row[3], row[2], row[6]))
    return found


@pytest.fixture
def seeded_url(admin_db_url, tmp_path):
    """A database built by the seed's schema with rows in it, on the parametrised backend."""
    if admin_db_url.startswith("sqlite"):
        return seed_sqlite(tmp_path / "seed.db")
    seed_mariadb(admin_db_url)
    return admin_db_url


async def test_a_seed_database_upgrades_in_place_and_keeps_its_data(
    seeded_url, tmp_path, db_url, mariadb_server
):
    old = open_database(seeded_url)
    try:
        assert await schema_version(old) == 1
        before = await contents(old)
        assert len(before["history"]) == 2  # the anchor: the seed's data is really there

        assert await upgrade(old) == list(range(SEED_VERSION + 1, SCHEMA_VERSION + 1))
        assert await schema_version(old) == SCHEMA_VERSION
        assert await contents(old) == before
        assert await upgrade(old) == []  # a second run finds nothing to do

        # The new columns have their defaults on old rows, and the new features work on them.
        async with old.transaction() as conn:
            row = (await conn.execute(sa.select(tickets.c.assigne_id))).one()
            assert row.assigne_id is None
            flags = (await conn.execute(sa.select(history.c.interne))).scalars().all()
            assert flags == [False, False]
            # Old tickets have no category; the categories are seeded, and one in use stays.
            assert (await conn.execute(sa.select(tickets.c.categorie_id))).scalar_one() is None
            seeded = (await conn.execute(sa.select(categories.c.nom).order_by(categories.c.id))).scalars()
            assert tuple(seeded) == CATEGORY_NAMES
            await conn.execute(tickets.update().values(categorie_id=3))
        with pytest.raises(sa.exc.IntegrityError):
            async with old.transaction() as conn:
                await conn.execute(categories.delete().where(categories.c.id == 3))
        async with old.transaction() as conn:
            assert (await conn.execute(sa.select(tickets.c.categorie_id))).scalar_one() == 3
            await conn.execute(tickets.update().values(assigne_id=1))
        async with old.transaction() as conn:
            await conn.execute(users.delete().where(users.c.id == 1))  # the assignee leaves
        async with old.transaction() as conn:
            assert (await conn.execute(sa.select(tickets.c.assigne_id))).scalar_one() is None
        migrated = await reflect(old)
        migrated_keys = await sqlite_foreign_keys(old)
        if not old.mysql:
            # History ids never come back after a deletion, as on a new database.
            async with old.transaction() as conn:
                created = (
                    await conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'historique'")
                ).scalar_one()
            assert "AUTOINCREMENT" in created
    finally:
        await old.close()

    # The upgraded schema is exactly what a new installation gets.
    if db_url.startswith("sqlite"):
        fresh_url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
        fresh = open_database(fresh_url)
        try:
            await upgrade(fresh)
            expected = await reflect(fresh)
            assert migrated_keys == await sqlite_foreign_keys(fresh)
            assert ("tickets", "assigne_id", "utilisateurs", "SET NULL") in migrated_keys
            assert ("tickets", "categorie_id", "categories", "RESTRICT") in migrated_keys
            assert ("tickets", "lieu_id", "lieux", "RESTRICT") in migrated_keys
            assert ("tickets", "suite_de", "tickets", "SET NULL") in migrated_keys
        finally:
            await fresh.close()
        # SQLite can add a foreign key only inline with a new column, whose name and ON DELETE
        # SQLAlchemy does not read back: the database's own list of keys was compared above.
        for schema in (migrated, expected):
            schema["tickets"]["foreign_keys"] = {
                k: v
                for k, v in schema["tickets"]["foreign_keys"].items()
                if v[0] not in {("assigne_id",), ("categorie_id",), ("lieu_id",), ("suite_de",)}
            }
    else:
        with scratch_database(mariadb_server) as url:
            fresh = open_database(url)
            try:
                await upgrade(fresh)
                expected = await reflect(fresh)
            finally:
                await fresh.close()
    assert set(migrated) == set(expected)
    for table in expected:
        assert migrated[table] == expected[table], table


async def test_a_new_database_is_recorded_at_the_current_version(database):
    assert await schema_version(database) == SCHEMA_VERSION
    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(schema_versions.c.version))).scalars().all()
    assert rows == [SCHEMA_VERSION]


async def test_an_old_schema_is_refused_when_upgrades_are_off(seeded_url):
    old = open_database(seeded_url)
    try:
        with pytest.raises(SchemaError) as caught:
            await check_version(old)
        assert "schéma 1" in caught.value.message and "init-db" in caught.value.message
    finally:
        await old.close()


async def test_a_newer_schema_than_the_program_knows_is_refused(database):
    async with database.transaction() as conn:
        newer = schema_versions.insert().values(version=SCHEMA_VERSION + 1, applied_at=sa.func.now())
        await conn.execute(newer)
    with pytest.raises(SchemaError) as caught:
        await upgrade(database)
    assert "plus récent" in caught.value.message


async def test_a_first_creation_cut_short_is_finished(db_url):
    """MySQL commits each CREATE on its own: a first start that died after one table must be
    able to start again and end with the whole schema."""
    db = open_database(db_url)
    try:
        async with db.transaction() as conn:
            await conn.run_sync(lambda c: users.create(c))
        assert await schema_version(db) == 1
        assert await upgrade(db) == list(range(SEED_VERSION + 1, SCHEMA_VERSION + 1))
        async with db.transaction() as conn:
            names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert {"tickets", "historique", "cles_ssh", "journal_audit", "lectures", "version_schema"} <= names
    finally:
        await db.close()
