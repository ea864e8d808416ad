"""What a person reads at 80, 100 and 132 columns: lists give the title its room first."""

from __future__ import annotations

import re

import pytest

from server.store.schema import CATEGORY_NAMES

from .conftest import PASSWORD, context_for, make_user
from .sshclient import Client

# 40 characters: readable in full in `Tous les tickets` at 80 columns.
TITLE = "Mon chargeur ne fonctionne plus du tout!"
LONG_NAME = "Awa Diop-Ndiaye de la Promo 26"  # 30 characters, cut at 24 before


async def admin_list(service, clients, cols: int) -> str:
    c = await Client.connect(service.port, "admin@example.org", PASSWORD, cols=cols)
    clients.append(c)
    screen = await c.wait_for("1. Nouveau ticket")
    c.send(re.search(r"(\d+)\. Tous les tickets", screen).group(1))
    await c.wait_for("Tous les tickets", "Numéro du ticket")
    return c


@pytest.fixture
async def triage(services, admin):
    assert len(TITLE) == 40
    awa = await make_user(services, "awa@example.org", "Awa Diop-Ndiaye")
    ticket = await context_for(services, awa).create_ticket(
        TITLE, "Il ne charge plus.", "Haute", category_id=CATEGORY_NAMES.index("Réseau / Wi-Fi") + 1
    )
    await context_for(services, admin).take(ticket)
    return ticket


async def test_80_columns_keep_the_whole_title_with_urgency_status_assignee_date(
    service, clients, admin, triage
):
    c = await admin_list(service, clients, 80)
    row = next(line for line in c.text().splitlines() if line.startswith(" #1 "))
    assert TITLE in row, c.text()
    # The status short, the assignee in initials (Awa Admin), the date of this year without
    # its year, the unread mark after a gap.
    assert re.search(r" Haute +Attente +AA +\d\d/\d\d •$", row), row
    assert len(row) <= 80
    # The category gives its room first: it shows on the ticket itself.
    assert "Catégorie" not in c.text() and "Réseau" not in row


async def test_100_columns_bring_back_the_names(service, clients, admin, triage):
    c = await admin_list(service, clients, 100)
    row = next(line for line in c.text().splitlines() if line.startswith(" #1 "))
    # The author narrowed, the assignee whole: the title keeps its 40 characters.
    assert TITLE in row and "Awa Diop-Nd…" in row and "Awa Admin" in row, c.text()


async def test_132_columns_show_every_column_whole(service, clients, admin, triage):
    c = await admin_list(service, clients, 132)
    header = next(line for line in c.text().splitlines() if "Titre" in line and "Urgence" in line)
    for name in ("N°", "Titre", "Urgence", "Statut", "Auteur", "Assigné à", "Catégorie", "Date"):
        assert name in header, header
    row = next(line for line in c.text().splitlines() if line.startswith(" #1 "))
    assert TITLE in row and "Awa Diop-Ndiaye" in row and "Awa Admin" in row and "En attente" in row
    assert "Réseau / Wi-Fi" in row, row
    assert re.search(r"\d\d/\d\d/\d{4} •$", row), row


async def test_122_columns_bring_back_the_category_narrowed(service, clients, admin, triage):
    c = await admin_list(service, clients, 122)
    row = next(line for line in c.text().splitlines() if line.startswith(" #1 "))
    assert TITLE in row and "Réseau / Wi…" in row, row
    assert re.search(r" \d\d/\d\d •$", row), row


async def test_a_learner_sees_the_category_of_their_tickets_where_room_allows(
    service, clients, services, alice
):
    await context_for(services, alice).create_ticket("Projecteur", "Salle 4.", "Faible", category_id=4)
    for cols, shown in ((80, False), (132, True)):
        c = await Client.connect(service.port, "alice@example.org", PASSWORD, cols=cols)
        clients.append(c)
        await c.wait_for("1. Nouveau ticket")
        c.send("2")
        screen = await c.wait_for("Mes tickets", "Projecteur")
        assert ("Salles et vidéo…" in screen) is shown, screen


async def test_unread_mark_has_a_column_of_its_own(service, clients, admin, alice, services):
    ticket = await context_for(services, alice).create_ticket(TITLE, "Il ne charge plus.", "Haute")
    c = await admin_list(service, clients, 80)
    await context_for(services, alice).reply(ticket, "Toujours rien.")
    screen = await c.wait_for("•")
    row = next(line for line in screen.splitlines() if line.startswith(" #1 "))
    assert row.endswith(" •"), row


async def test_users_list_shows_a_long_name_whole_at_80_columns(service, clients, admin, services):
    await make_user(services, "awa.diop@example.org", LONG_NAME)
    c = await Client.connect(service.port, "admin@example.org", PASSWORD)
    clients.append(c)
    screen = await c.wait_for("1. Nouveau ticket")
    c.send(re.search(r"(\d+)\. Utilisateurs", screen).group(1))
    screen = await c.wait_for("Utilisateurs", "Numéro du compte")
    assert LONG_NAME in screen, screen
    assert "awa.diop@example.org" in screen
