"""The schema: schema_support.sql and the SQLite tables agree; integrity rules enforced by the database."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.config import load_settings
from server.domain.models import Status
from server.store import Database, utcnow
from server.store.ddl import SCHEMA_FILE
from server.store.migrate import upgrade
from server.store.schema import history, statuses, tickets, users

from .conftest import _find, admin_connection, context_for, count, scratch_database, skip_without_mariadb

STATUSES = {1: "En attente", 2: "En cours", 3: "Résolu", 4: "Fermé"}
TABLES = {
    "utilisateurs",
    "statut",
    "categories",
    "tickets",
    "historique",
    "cles_ssh",
    "journal_audit",
    "lectures",
    "pieces_jointes",
    "lieux",
    "reponses_types",
    "reseaux_lieux",
    "pieces_jointes_blocs",
    "codes_reinitialisation",
    "courriels_sortants",
    "verifications_email",
    "evenements_compte",
    "avis",
    "version_schema",
}

# The same parameter as conftest's db_url, restricted to MariaDB: the fixture then creates and
# drops the database, and skips or fails (SUPPORT_TEST_REQUIRE_MYSQL=1) when there is no server.
mariadb_only = pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)


def open_database(url: str) -> Database:
    return Database(load_settings(env={}, overrides={"database": {"url": url, "pool_timeout": 5}}))


# Reflection, normalised so that the two dialects can be compared -------------------------


def _enum_values_from_checks(inspector, table: str) -> dict[str, tuple[str, ...]]:
    """SQLite keeps an enum as VARCHAR plus CHECK (col IN ('a', 'b')): recover the values."""
    found = {}
    for check in inspector.get_check_constraints(table):
        m = re.fullmatch(r"\s*(\w+)\s+IN\s*\((.*)\)\s*", check["sqltext"], flags=re.IGNORECASE | re.DOTALL)
        if m:
            found[m.group(1)] = tuple(re.findall(r"'((?:[^']|'')*)'", m.group(2)))
    return found


def _type_family(column_type) -> tuple[str, int | None]:
    if isinstance(column_type, sa.Enum):
        return ("string", None)
    # MySQL's BOOLEAN is TINYINT(1): both are small integers underneath.
    if isinstance(column_type, sa.Integer | sa.Boolean):
        return ("integer", None)
    if isinstance(column_type, sa.Text):
        return ("text", None)
    if isinstance(column_type, sa.String):
        return ("string", column_type.length)
    if isinstance(column_type, sa.DateTime):
        return ("datetime", None)
    # SQLite's BLOB, MariaDB's MEDIUMBLOB (an attachment's 256 KiB blocks).
    if (
        isinstance(column_type, sa.LargeBinary | sa.types.BLOB)
        or "blob" in type(column_type).__name__.lower()
    ):
        return ("binary", None)
    return (type(column_type).__name__.lower(), None)


def _default(value: str | None) -> str | None:
    return None if value is None else value.strip("()").strip("'\"")


def _on_delete(options: dict) -> str:
    # MySQL/MariaDB do not report RESTRICT: it is their default, the same as NO ACTION.
    rule = (options.get("ondelete") or "RESTRICT").upper()
    return "RESTRICT" if rule == "NO ACTION" else rule


def describe_schema(sync_conn) -> dict:
    """Everything the application relies on in the schema, in a dialect-neutral form."""
    inspector = sa.inspect(sync_conn)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        checks = _enum_values_from_checks(inspector, table)
        columns = {}
        for col in inspector.get_columns(table):
            family, length = _type_family(col["type"])
            if isinstance(col["type"], sa.Enum):
                values = tuple(col["type"].enums)
            else:
                values = checks.get(col["name"])
                if values:
                    length = None
            columns[col["name"]] = {
                "nullable": bool(col["nullable"]),
                "type": family,
                "length": length,
                "enum": values,
                "default": _default(col.get("default")),
            }
        uniques = {u["name"]: tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        schema[table] = {
            "columns": columns,
            "column_order": [c["name"] for c in inspector.get_columns(table)],
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": {
                fk["name"]: (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    _on_delete(fk["options"]),
                )
                for fk in inspector.get_foreign_keys(table)
            },
            "unique": uniques,
            # MySQL lists each unique constraint as an index too: compare those once, above.
            "indexes": {
                ix["name"]: (tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table)
                if ix["name"] not in uniques
            },
        }
    return schema


async def reflect(database: Database) -> dict:
    async with database.engine.connect() as conn:
        return await conn.run_sync(describe_schema)


# (a) The two schemas agree ---------------------------------------------------------------


@mariadb_only
async def test_mariadb_and_sqlite_schemas_agree(admin_db_url, tmp_path):
    mysql = open_database(admin_db_url)
    sqlite = open_database(f"sqlite+aiosqlite:///{tmp_path}/compare.db")
    try:
        assert mysql.mysql and not sqlite.mysql
        await upgrade(mysql)  # schema_support.sql's statements
        await upgrade(sqlite)  # metadata.create_all
        from_sql_file, from_metadata = await reflect(mysql), await reflect(sqlite)
    finally:
        await mysql.close()
        await sqlite.close()

    assert set(from_sql_file) == set(from_metadata) == TABLES
    for table in sorted(TABLES):
        left, right = from_sql_file[table], from_metadata[table]
        for aspect in left:
            assert left[aspect] == right[aspect], f"{table}: {aspect} differ"
    # A few anchors, so that an empty reflection cannot pass.
    assert from_sql_file["tickets"]["columns"]["urgence"]["enum"] == ("Faible", "Moyenne", "Haute")
    assert from_sql_file["utilisateurs"]["columns"]["role"]["enum"] == ("utilisateur", "admin")
    assert from_sql_file["utilisateurs"]["unique"] == {"uq_utilisateurs_email": ("email",)}
    assert from_sql_file["historique"]["foreign_keys"]["fk_historique_acteur"] == (
        ("acteur_id",),
        "utilisateurs",
        ("id",),
        "SET NULL",
    )


# (b) Applying the schema again is harmless -------------------------------------------------


async def test_schema_applied_twice_is_harmless(database, services, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket("Titre", "Description", "Faible")
    await context_for(services, admin).change_status(ticket_id, Status.IN_PROGRESS)

    await upgrade(database)
    await upgrade(database)

    async with database.transaction() as conn:
        rows = {r.id: r.libelle for r in await conn.execute(sa.select(statuses))}
        kept = (
            await conn.execute(sa.select(sa.func.count()).select_from(users)),
            await conn.execute(sa.select(tickets.c.statut_id)),
            await conn.execute(sa.select(sa.func.count()).select_from(history)),
        )
        n_users, status_id, n_history = (r.scalar_one() for r in kept)
    assert rows == STATUSES
    assert (n_users, status_id, n_history) == (2, 2, 2)


async def test_unicode_round_trip(database):
    name = "Aïssatou 🔌 充电器 Ğ"
    async with database.transaction() as conn:
        await conn.execute(
            users.insert().values(nom=name, email="u@example.org", mot_de_passe="x" * 60, created_at=utcnow())
        )
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.nom))).scalar_one() == name


@mariadb_only
async def test_mariadb_tables_are_innodb_utf8mb4_whatever_the_database_default(mariadb_server, db_url):
    # A database whose default is latin1: the schema must still make utf8mb4 tables.
    with scratch_database(mariadb_server, "latin1") as url:
        database = open_database(url)
        try:
            await upgrade(database)
            async with database.transaction() as conn:
                tables = (
                    await conn.execute(
                        sa.text(
                            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                            "WHERE TABLE_SCHEMA = DATABASE()"
                        )
                    )
                ).all()
                charsets = (
                    await conn.execute(
                        sa.text(
                            "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME "
                            "FROM information_schema.COLUMNS "
                            "WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL"
                        )
                    )
                ).all()
                labels = {r.id: r.libelle for r in await conn.execute(sa.select(statuses))}
        finally:
            await database.close()
    assert {t.TABLE_NAME for t in tables} == TABLES
    for t in tables:
        assert t.ENGINE == "InnoDB", t.TABLE_NAME
        assert t.TABLE_COLLATION.startswith("utf8mb4_"), t.TABLE_NAME
    assert len(charsets) >= 10
    for c in charsets:
        assert c.CHARACTER_SET_NAME == "utf8mb4", f"{c.TABLE_NAME}.{c.COLUMN_NAME}"
    assert labels == STATUSES


@mariadb_only
def test_whole_file_through_the_mariadb_client(mariadb_server, db_url):
    """What the README tells the operator: `mysql -u root -p < schema_support.sql`, twice."""
    client = _find("mariadb") or _find("mysql")
    if client is None:
        pytest.skip("no mariadb/mysql command-line client")
    server = make_url(mariadb_server)
    admin = admin_connection(mariadb_server)
    with admin.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'suivi_incident'")
        if cur.fetchone():
            pytest.skip("suivi_incident already exists on this server: not touching it")
    command = [
        client,
        "--no-defaults",
        "--protocol=TCP",
        f"--host={server.host or '127.0.0.1'}",
        f"--port={server.port or 3306}",
        f"--user={server.username or 'root'}",
    ]
    # The C locale: the client then talks latin1, as on many servers and in cron jobs.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env |= {"LC_ALL": "C", "MYSQL_PWD": server.password or ""}
    try:
        for _ in range(2):
            done = subprocess.run(
                command, input=SCHEMA_FILE.read_bytes(), env=env, capture_output=True, timeout=60
            )
            assert done.returncode == 0, done.stderr.decode(errors="replace")
        with admin.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = 'suivi_incident'"
            )
            tables = cur.fetchall()
            cur.execute("SELECT id, libelle FROM suivi_incident.statut ORDER BY id")
            labels = dict(cur.fetchall())
            cur.execute(
                "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                "WHERE SCHEMA_NAME = 'suivi_incident'"
            )
            (database_charset,) = cur.fetchone()
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS suivi_incident")
        admin.close()
    assert {t[0] for t in tables} == TABLES
    assert all(t[1] == "InnoDB" and t[2].startswith("utf8mb4_") for t in tables)
    assert database_charset == "utf8mb4"
    # The accented label arrives intact whatever the client's default character set.
    assert labels == STATUSES


# (c) Integrity rules, enforced by the database itself -------------------------------------


async def test_deleting_a_user_deletes_their_tickets_and_history(database, services, alice, bob, admin):
    ctx = context_for(services, alice)
    alices = [await ctx.create_ticket(f"Ticket {n}", "Description", "Haute") for n in range(2)]
    bobs = await context_for(services, bob).create_ticket("Celui de Bob", "Description", "Faible")
    await context_for(services, admin).change_status(alices[0], Status.IN_PROGRESS)
    assert await count(database, history) == 4

    async with database.transaction() as conn:
        await conn.execute(users.delete().where(users.c.id == alice.id))

    assert await count(database, tickets, tickets.c.auteur_id == alice.id) == 0
    # Her tickets' history goes too, including the admin's entry on it.
    assert await count(database, history, history.c.ticket_id.in_(alices)) == 0
    # Nobody else's data is touched.
    assert await count(database, tickets) == 1
    assert await count(database, history, history.c.ticket_id == bobs) == 1
    assert await count(database, users) == 2


async def test_a_status_in_use_cannot_be_deleted(database, services, alice):
    await context_for(services, alice).create_ticket("Titre", "Description", "Faible")
    with pytest.raises(sa.exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(statuses.delete().where(statuses.c.libelle == "En attente"))
    assert await count(database, statuses) == 4
    # A status nobody uses can go: the refusal above is the foreign key's doing.
    async with database.transaction() as conn:
        await conn.execute(statuses.delete().where(statuses.c.libelle == "Résolu"))
    assert await count(database, statuses) == 3


async def test_a_status_named_in_history_only_cannot_be_deleted(database, services, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket("Titre", "Description", "Faible")
    await context_for(services, admin).change_status(ticket_id, Status.IN_PROGRESS)
    await context_for(services, admin).change_status(ticket_id, Status.RESOLVED)
    # No ticket is En cours any more, but the history still names it.
    with pytest.raises(sa.exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(statuses.delete().where(statuses.c.libelle == "En cours"))
    assert await count(database, statuses) == 4


async def test_deleting_a_ticket_deletes_its_history(database, services, alice, admin):
    first = await context_for(services, alice).create_ticket("Premier", "Description", "Faible")
    second = await context_for(services, alice).create_ticket("Second", "Description", "Faible")
    await context_for(services, admin).change_status(first, Status.RESOLVED)
    assert await count(database, history, history.c.ticket_id == first) == 2

    async with database.transaction() as conn:
        await conn.execute(tickets.delete().where(tickets.c.id == first))

    assert await count(database, history, history.c.ticket_id == first) == 0
    assert await count(database, history, history.c.ticket_id == second) == 1


async def test_deleting_an_admin_keeps_their_history_with_the_name(database, services, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket("Titre", "Description", "Haute")
    await context_for(services, admin).change_status(ticket_id, Status.IN_PROGRESS)

    async with database.transaction() as conn:
        await conn.execute(users.delete().where(users.c.id == admin.id))

    async with database.transaction() as conn:
        rows = (
            await conn.execute(
                sa.select(history.c.action, history.c.acteur_id, history.c.acteur_nom)
                .where(history.c.ticket_id == ticket_id)
                .order_by(history.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("creation", alice.id, "Alice Ndiaye"),
        ("changement_statut", None, "Awa Admin"),
    ]
    # The history stays readable through the application.
    ticket = await context_for(services, alice).ticket(ticket_id)
    assert [h.actor_name for h in ticket.history] == ["Alice Ndiaye", "Awa Admin"]


async def test_email_unique(database, alice):
    with pytest.raises(sa.exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO utilisateurs (nom, email, mot_de_passe, role, created_at) "
                    "VALUES ('Autre', 'alice@example.org', :h, 'utilisateur', :now)"
                ),
                {"h": "x" * 60, "now": utcnow()},
            )
    assert await count(database, users) == 1


async def test_database_refuses_an_unknown_urgency(database, alice):
    with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)):
        async with database.transaction() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO tickets (titre, description, urgence, auteur_id, statut_id, created_at, "
                    "updated_at) VALUES ('Titre', 'Description', 'Critique', :a, 1, :now, :now)"
                ),
                {"a": alice.id, "now": utcnow()},
            )
    assert await count(database, tickets) == 0


async def test_database_refuses_an_unknown_role(database):
    with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)):
        async with database.transaction() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO utilisateurs (nom, email, mot_de_passe, role, created_at) "
                    "VALUES ('Eve', 'eve@example.org', :h, 'superadmin', :now)"
                ),
                {"h": "x" * 60, "now": utcnow()},
            )
    assert await count(database, users) == 0


async def test_database_refuses_a_ticket_of_an_unknown_user_or_status(database, alice):
    for author, status in ((alice.id + 100, 1), (alice.id, 99)):
        with pytest.raises(sa.exc.IntegrityError):
            async with database.transaction() as conn:
                await conn.execute(
                    tickets.insert().values(
                        titre="Titre",
                        description="D",
                        urgence="Faible",
                        auteur_id=author,
                        statut_id=status,
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                )
    assert await count(database, tickets) == 0


# (d) Indexes for every list the UI shows ---------------------------------------------------


async def test_indexes_serve_every_list(database):
    async with database.engine.connect() as conn:
        indexes = await conn.run_sync(
            lambda c: {
                table: [tuple(ix["column_names"]) for ix in sa.inspect(c).get_indexes(table)]
                for table in ("tickets", "historique")
            }
        )

    def served(table: str, columns: tuple[str, ...]) -> bool:
        return any(ix[: len(columns)] == columns for ix in indexes[table])

    assert served("tickets", ("auteur_id", "created_at")), "a user's tickets by date"
    assert served("tickets", ("statut_id", "urgence", "created_at")), "all tickets by status, urgency, date"
    assert served("tickets", ("created_at",)), "all tickets by date"
    assert served("historique", ("ticket_id", "created_at")), "a ticket's history by date"


async def test_unknown_urgency_refused_even_when_the_server_is_lax(mariadb_server, tmp_path):
    """The application's connections are strict whatever the server's default sql_mode."""
    if mariadb_server is None:
        skip_without_mariadb()
    name = f"support_test_{uuid.uuid4().hex[:12]}"
    admin = admin_connection(mariadb_server)
    with admin.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.sql_mode")
        (saved,) = cur.fetchone()
        cur.execute("SET GLOBAL sql_mode = ''")
        cur.execute(f"CREATE DATABASE {name}")
    db = Database(load_settings(env={}, overrides={"database": {"url": f"{mariadb_server}/{name}"}}))
    try:
        await upgrade(db)
        async with db.transaction() as conn:
            author = (
                await conn.execute(
                    users.insert().values(
                        nom="A",
                        email="a@example.org",
                        mot_de_passe="x" * 60,
                        role="utilisateur",
                        created_at=utcnow(),
                    )
                )
            ).inserted_primary_key[0]
        with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)):
            async with db.transaction() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO tickets (titre, description, urgence, auteur_id, statut_id, "
                        "created_at, updated_at) VALUES ('T', 'D', 'Critique', :a, 1, :now, :now)"
                    ),
                    {"a": author, "now": utcnow()},
                )
        assert await count(db, tickets) == 0
    finally:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL sql_mode = %s", (saved,))
            cur.execute(f"DROP DATABASE {name}")
        admin.close()
        await db.close()


def test_the_committed_sql_file_is_the_one_the_definitions_generate():
    """schema_support.sql is generated (`python -m server schema-sql`): never edited apart."""
    from server.store.ddl import schema_sql

    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_sql(), (
        "schema_support.sql differs from the table definitions: "
        "run `python -m server schema-sql > schema_support.sql`"
    )
