"""Live news over real SSH: notices without a keypress, lists refreshed in place, two processes."""

from __future__ import annotations

import logging
from pathlib import Path

from server.app import Service
from server.domain.models import Action, Role, Status

from .conftest import (
    PASSWORD,
    context_for,
    make_user,
    until,
)
from .journeys import file_ticket, pass_ratings
from .sshclient import DOWN, END, ENTER, ESC, PAGE_UP, Client, ScreenReader
from .test_e2e_hostile import assert_clean
from .test_live import add_history

BACKSPACE = "\x7f"


async def logged_in(port: int, clients, email: str) -> Client:
    c = await Client.connect(port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


def line_with(screen: str, text: str) -> str:
    found = [line.rstrip() for line in screen.splitlines() if text in line]
    assert len(found) == 1, screen
    return found[0]


def selected_row(c: ScreenReader) -> str:
    """The list row drawn in reverse video (the header line, reversed too, left aside)."""
    rows = [y for y in range(2, c.screen.lines) if c.screen.buffer[y][3].reverse]
    assert len(rows) == 1, c.text()
    return c.screen.display[rows[0]].strip()


async def test_requester_is_told_without_pressing_a_key(service, clients, services, alice, admin, database):
    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    c = await logged_in(service.port, clients, "alice@example.org")
    # Her own reply and an admin's internal note come first: neither is news to tell her.
    await add_history(database, number, alice, Action.REPLY)
    await add_history(database, number, admin, Action.REPLY, internal=True)
    await context_for(services, admin).change_status(number, Status.IN_PROGRESS)

    # Not a key sent since the menu: the notice comes to her.
    screen = await c.wait_for(f"Votre ticket #{number} est passé à En cours", "1. Nouveau ticket")
    assert "Nouvelle réponse" not in screen

    await add_history(database, number, admin, Action.REPLY)
    await c.wait_for(
        f"Nouvelle réponse sur votre ticket #{number}",
        f"Votre ticket #{number} est passé à En cours",
        "1. Nouveau ticket",
    )

    # The menu still answers, and the next screen starts without the notices.
    c.send("2")
    screen = await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    assert "Votre ticket" not in screen and "Nouvelle réponse" not in screen


async def test_the_ticket_on_screen_shows_the_change_without_a_key(service, clients, services, alice, admin):
    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    c = await logged_in(service.port, clients, "alice@example.org")
    c.send("2")
    await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    c.send(f"{number}" + ENTER)
    await c.wait_for(f"Ticket #{number} — Chargeur", "Statut : En attente", "1. Répondre")

    staff = context_for(services, admin)
    await staff.change_status(number, Status.IN_PROGRESS)
    await staff.reply(number, "Quel modèle de chargeur ?")
    # The notice and the ticket itself, status and reply, while she has pressed nothing.
    screen = await c.wait_for(
        f"Votre ticket #{number} est passé à En cours", "Statut : En cours", "Quel modèle de chargeur ?"
    )
    assert "Statut : En attente" not in screen
    # What was drawn has been seen: back on her list, no unread mark.
    c.send("0")
    screen = await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    assert "•" not in screen


async def test_admin_list_shows_a_new_ticket_in_place(service, clients, services, alice, admin):
    ctx = context_for(services, alice)
    await ctx.create_ticket("Clavier", "Touche A.", "Faible")
    second = await ctx.create_ticket("Souris", "Clic droit.", "Faible")
    staff = await logged_in(service.port, clients, "admin@example.org")
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Souris", "2 tickets — page 1/1")
    staff.send(DOWN)
    await until(lambda: selected_row(staff).startswith(f"#{second} "))
    staff.send("9")
    await staff.wait_for("Numéro du ticket : 9")

    learner = await logged_in(service.port, clients, "alice@example.org")
    await file_ticket(learner, "Vidéoprojecteur éteint", "Projecteur.", "Haute", paste=True)
    await learner.wait_for("Ticket #3 créé.")

    # Without a key from the admin: the notice, the new (most urgent) row on top, his typing
    # and choice kept.
    screen = await staff.wait_for(
        "Nouveau ticket #3 : Vidéoprojecteur éteint",
        "3 tickets — page 1/1",
        "Numéro du ticket : 9",
    )
    rows = [line for line in screen.splitlines() if line.startswith(" #")]
    assert [r.split()[0] for r in rows] == ["#3", "#1", "#2"], screen
    assert selected_row(staff).startswith(f"#{second} ")
    assert_clean(staff)

    staff.send(BACKSPACE + ENTER)
    await staff.wait_for(f"Ticket #{second} — Souris")


async def test_unread_mark_appears_live_and_goes_once_opened(service, clients, services, alice, admin):
    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    c = await logged_in(service.port, clients, "alice@example.org")
    c.send("2")
    screen = await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    assert "•" not in screen

    await context_for(services, admin).change_status(number, Status.RESOLVED)
    await c.wait_for(f"Votre ticket #{number} est passé à Résolu", "• : du nouveau")
    row = line_with(c.text(), "Chargeur")
    assert "Résolu" in row and row.endswith("•"), c.text()

    c.send(f"{number}" + ENTER)
    await pass_ratings(c, f"Ticket #{number} — Chargeur")
    await c.wait_for(f"Ticket #{number} — Chargeur", "statut : En attente → Résolu")
    c.send(ESC)
    screen = await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    assert "•" not in screen and "du nouveau" not in screen


async def test_two_server_processes_share_the_news(service, clients, settings, alice, admin):
    """Two services on one database (one SQLite file, one MariaDB database), as two processes."""
    other = Service(settings)
    await other.start()
    try:
        learner = await logged_in(other.port, clients, "alice@example.org")
        staff = await logged_in(service.port, clients, "admin@example.org")

        # A ticket filed through the other process reaches the admin connected to this one.
        await file_ticket(learner, "Imprimante", "Bourrage papier.", "Moyenne")
        await learner.wait_for("Ticket #1 créé.")
        await staff.wait_for("Nouveau ticket #1 : Imprimante", "1. Nouveau ticket")

        # The admin's status change here reaches the requester there.
        staff.send("3")
        await staff.wait_for("Tous les tickets", "Imprimante", "Numéro du ticket")
        staff.send("1" + ENTER)
        await staff.wait_for("Ticket #1 — Imprimante", "1. Changer le statut")
        staff.send("1")
        await staff.wait_for("2. En cours")
        staff.send("2")
        await staff.wait_for("Confirmer ? (o/n)")
        staff.send("o")
        await staff.wait_for("Statut changé : En cours.")
        await learner.wait_for("Votre ticket #1 est passé à En cours")
    finally:
        for c in clients:
            await c.close()
        await until(lambda: not other.terminals, 5, fail=False)
        await other.stop(grace=2)


async def test_the_feed_survives_a_database_restart(tmp_path: Path, caplog, restartable_mariadb):
    """The database goes away under the feed: one warning, then the news flows again."""
    mariadb = restartable_mariadb
    settings = mariadb.settings(tmp_path)
    caplog.set_level(logging.INFO, logger="support.live")
    service = Service(settings)
    await service.start()
    client = None
    try:
        assert service.services is not None and service.feed is not None
        alice = await make_user(service.services, "alice@example.org", "Alice Ndiaye")
        staff = await make_user(service.services, "admin@example.org", "Awa Admin", Role.ADMIN)
        number = await context_for(service.services, alice).create_ticket("Écran", "Noir.", "Haute")
        client = await Client.connect(service.port, "alice@example.org", PASSWORD)
        await client.wait_for("1. Nouveau ticket")

        mariadb.stop()
        await until(lambda: service.feed.failing, 30)
        mariadb.start()
        await context_for(service.services, staff).change_status(number, Status.IN_PROGRESS)
        await client.wait_for(f"Votre ticket #{number} est passé à En cours", timeout=30)
        assert not service.feed.failing
        messages = [r.getMessage() for r in caplog.records if r.name == "support.live"]
        assert sum("database unreachable" in m for m in messages) == 1, messages
        assert sum("database back" in m for m in messages) == 1, messages
    finally:
        if client is not None:
            await client.close()
        await service.stop(grace=2)


LONG = "\n".join(f"Ligne {n} du journal d'erreurs." for n in range(1, 31))


async def test_news_on_an_open_ticket_comes_into_view_with_its_head_and_one_notice(
    service, clients, services, alice, admin
):
    number = await context_for(services, alice).create_ticket("Chargeur", LONG, "Haute")
    c = await logged_in(service.port, clients, "alice@example.org")
    c.send("2")
    await c.wait_for("Mes tickets", "Chargeur", "Numéro du ticket")
    c.send(f"{number}" + ENTER)
    screen = await c.wait_for(f"Ticket #{number} — Chargeur", "Ligne 1 du journal", "1. Répondre")
    assert "Historique" not in screen
    staff = context_for(services, admin)
    for n in range(1, 5):
        await staff.reply(number, f"Réponse numéro {n} du support.")
    # Without a key: the newest reply in view, under the ticket's head, marked as news.
    screen = await c.wait_for(
        "Réponse numéro 4 du support.", "Statut : En attente", "Pas encore pris en charge"
    )
    assert screen.count(f"Nouvelle réponse sur votre ticket #{number}") == 1, screen
    marked = [line for line in screen.splitlines() if "Awa Admin — réponse :" in line]
    assert marked and all(line.strip().startswith("• ") for line in marked), screen
    assert "Ligne 1 du journal" not in screen
    # Scrolled back up by the reader: further news keeps their place.
    c.send(PAGE_UP)
    c.send(PAGE_UP)
    c.send(PAGE_UP)
    c.send(PAGE_UP)
    await c.wait_for("Ligne 1 du journal")
    await staff.change_status(number, Status.IN_PROGRESS)
    screen = await c.wait_for("Statut : En cours")
    assert "Ligne 1 du journal" in screen and "statut : En attente → En cours" not in screen, screen
    c.send(END)
    await c.wait_for("statut : En attente → En cours", "Statut : En cours")
