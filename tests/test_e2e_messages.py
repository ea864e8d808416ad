"""Messages that stay true and a ticket's head kept in view, read at 80×24 over real SSH."""

from __future__ import annotations

import re

from .conftest import PASSWORD, context_for
from .journeys import file_ticket
from .sshclient import DOWN, ENTER, Client


async def connect(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


async def test_the_created_message_goes_when_a_reply_arrives(service, clients, services, alice, admin):
    learner = await connect(service, clients, "alice@example.org")
    await file_ticket(learner, "Souris cassée", "Le clic droit ne répond plus.", "Faible")
    await learner.wait_for("Ticket #1 créé.", "Ticket #1 — Souris cassée")
    await context_for(services, admin).reply(1, "Passez au bureau 12.")
    screen = await learner.wait_for("Passez au bureau 12.")
    # The ticket changed under the message: it no longer stands at the bottom.
    await learner.wait_gone("Ticket #1 créé.")
    assert "Ticket #1 — Souris cassée" in learner.text(), screen


async def test_the_status_message_goes_when_the_requester_reopens(service, clients, services, alice, admin):
    ticket = await context_for(services, alice).create_ticket("Wi-Fi coupé", "Plus de réseau.", "Haute")
    staff = await connect(service, clients, "admin@example.org")
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Wi-Fi coupé")
    staff.send(f"{ticket}" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Wi-Fi coupé", "1. Changer le statut")
    staff.send("1")
    screen = await staff.wait_for("Résolu")
    staff.send(re.search(r"(\d)\. Résolu", screen).group(1))
    screen = await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    await staff.wait_for("Statut changé : Résolu.")
    await context_for(services, alice).reopen(ticket, "Le problème persiste.")
    await staff.wait_for("Statut : En cours")
    await staff.wait_gone("Statut changé : Résolu.")


async def test_the_message_of_an_action_goes_at_the_next_key(service, clients, services, alice, admin):
    ticket = await context_for(services, alice).create_ticket("Clavier", "La touche A colle.", "Faible")
    staff = await connect(service, clients, "admin@example.org")
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Clavier")
    staff.send(f"{ticket}" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Clavier", "Prendre en charge")
    staff.send(re.search(r"(\d)\. Prendre en charge", screen).group(1))
    await staff.wait_for("Pris en charge par Awa Admin", "Vous prenez le ticket #1 en charge.")
    staff.send(DOWN)  # the admin moves on: the line no longer speaks of what comes next
    await staff.wait_gone("Vous prenez le ticket #1 en charge.")
    assert "Pris en charge par Awa Admin" in staff.text()


async def test_an_admin_action_keeps_the_head_of_a_long_ticket_in_view(
    service, clients, services, alice, admin
):
    ticket = await context_for(services, alice).create_ticket("Projecteur", "Image floue.", "Haute")
    for n in range(1, 13):
        await context_for(services, alice).reply(ticket, f"Relance numéro {n} : toujours flou.")
    staff = await connect(service, clients, "admin@example.org")
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Projecteur")
    staff.send(f"{ticket}" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Projecteur", "Prendre en charge")
    staff.send(re.search(r"(\d)\. Prendre en charge", screen).group(1))
    screen = await staff.wait_for("Pris en charge par Awa Admin")
    # The status and the assignee at the top, not scrolled away to the timeline's end.
    assert "Statut : En attente" in screen or "Statut : En cours" in screen, screen
    assert "Ticket #1 — Projecteur" in screen, screen
