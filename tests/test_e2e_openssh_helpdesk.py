"""The helpdesk's features through the real OpenSSH client at 80×24, both sides, on both databases."""

from __future__ import annotations

import pytest

from server.store.schema import tickets

from .conftest import PASSWORD, count, until
from .journeys import file_ticket
from .sshclient import CTRL_D, ENTER, ESC, OpenSSHClient, ScreenReader

pytestmark = pytest.mark.usefixtures("alice", "admin")


async def signed_in(port: int, clients: list, email: str) -> OpenSSHClient:
    c = await OpenSSHClient.start(port, email)
    clients.append(c)
    await c.wait_for("Mot de passe / password:")
    c.send(PASSWORD + ENTER)
    await c.wait_for("Menu principal", "1. Nouveau ticket")
    return c


async def home(c: ScreenReader) -> None:
    """Back to the main menu, one screen at a time, whatever list or ticket is on screen."""
    while "Menu principal" not in (header := c.text().splitlines()[0]):
        c.send("0")
        await until(lambda: c.text().splitlines()[0] != header)


async def test_a_ticket_from_filing_to_agreed_resolution(service, clients, database):
    learner = await signed_in(service.port, clients, "alice@example.org")
    staff = await signed_in(service.port, clients, "admin@example.org")
    await staff.wait_for("4. Mes tickets assignés", "5. Tableau de bord", "6. Utilisateurs", "9. Déconnexion")

    # Filed through ssh: the admin, who pressed nothing, is told at once.
    await file_ticket(learner, "Imprimante bloquée", "Bourrage papier en salle 2.", "Haute")
    await learner.wait_for("Ticket #1 créé.")
    await staff.wait_for("Nouveau ticket #1 : Imprimante bloquée")
    assert await count(database, tickets) == 1

    # Finding it: the default view, then a text filter.
    staff.send("3")
    await staff.wait_for("Statut : En attente, En cours", "1 ticket — page 1/1", "#1")
    staff.send("f")
    await staff.wait_for("Filtres actifs :", "5. Texte (titre ou description)")
    staff.send("5")
    await staff.wait_for("Texte :")
    staff.send("bourrage" + ENTER)
    await staff.wait_for("texte : « bourrage »", "1 ticket — page 1/1", "Imprimante bloq")

    # Taken in hand, answered, resolved; the learner sees each change come.
    staff.send("1" + ENTER)
    await staff.wait_for("Ticket #1 — Imprimante bloquée", "4. Prendre en charge")
    staff.send("4")
    await staff.wait_for("Pris en charge par Awa Admin")
    staff.send("2")
    await staff.wait_for("Réponse :")
    staff.send("Bourrage retiré, l'imprimante repart." + CTRL_D)
    await staff.wait_for("Réponse envoyée.")
    await learner.wait_for("Nouvelle réponse sur votre ticket #1")
    staff.send("1")
    await staff.wait_for("3. Résolu")
    staff.send("3")
    await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    # Back at the end of the timeline (the ticket's head scrolled up above its longer menu).
    await staff.wait_for("Statut changé : Résolu.", "Statut : Résolu")

    # The learner, still on the ticket since filing it, is asked her rating at once (she
    # passes it), then sees it resolved and now offered `Le problème persiste`; she disagrees:
    # back En cours with her reply.
    await learner.wait_for(
        "Ticket #1 : votre avis", "Votre avis (1 à 5) :", "Ticket #1 : Imprimante bloquée (Résolu)"
    )
    learner.send(ESC)
    await learner.wait_for("Statut : Résolu", "Bourrage retiré", "2. Le problème persiste")
    learner.send("2")
    await learner.wait_for("Réponse :")
    learner.send("Elle bloque encore à la deuxième page." + CTRL_D)
    await learner.wait_for("Statut : En cours", "le ticket repasse « En cours »")
    # The admin, still on the ticket, sees it change without a key: the news in view, under
    # the ticket's head, without scrolling.
    await staff.wait_for(
        "Statut : En cours", "Elle bloque encore", "le problème persiste : Résolu → En cours"
    )

    # The admin's own view, the dashboard and the accounts.
    await home(staff)
    staff.send("4")
    await staff.wait_for("Mes tickets assignés", "Imprimante bloq", "En cours")
    await home(staff)
    staff.send("5")
    await staff.wait_for("Tableau de bord", "Tickets ouverts : 1", "En cours : 1", "█")
    await home(staff)
    staff.send("6")
    await staff.wait_for("Utilisateurs", "alice@example.org", "admin@example.org")
    await home(staff)
    staff.send("7")
    await staff.wait_for("Paramètres", "1. Catégories", "2. Lieux")
    staff.send("1")
    await staff.wait_for("Catégories", "1. Ajouter une catégorie", "8. Autre")
    await home(staff)
    staff.send("8")
    await staff.wait_for("Mon compte", "E-mail : admin@example.org", "3. Clés SSH")
