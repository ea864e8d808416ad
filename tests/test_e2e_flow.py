"""The seed end to end: a learner and an admin, connected at the same time, over real SSH."""

from __future__ import annotations

import sqlalchemy as sa

from server.store.schema import history, tickets

from .conftest import PASSWORD
from .journeys import login_in_app, pick_category
from .sshclient import CTRL_D, ENTER, Client


async def test_learner_and_admin_full_journey(service, clients, admin, database):
    learner = await Client.connect(service.port)
    clients.append(learner)

    # Register from the welcome menu.
    await learner.wait_for("Se connecter", "Créer un compte", "Quitter")
    learner.send("2")
    await learner.wait_for("Nom :")
    learner.send("Aïssatou Diop" + ENTER)
    await learner.wait_for("E-mail :")
    learner.send("Aissatou.Diop@Example.ORG" + ENTER)
    await learner.wait_for("Mot de passe :")
    learner.send("chargeur-2026" + ENTER)
    await learner.wait_for("Confirmation :")
    learner.send("chargeur-2026" + ENTER)
    await learner.wait_for("Compte créé", "1. Nouveau ticket", "2. Mes tickets", "Déconnexion")
    assert "Tous les tickets" not in learner.text()

    # Log out, then log in again with the e-mail in another case.
    learner.send("4")
    await learner.wait_for("Vous êtes déconnecté", "1. Se connecter")
    await login_in_app(learner, "AISSATOU.diop@example.org", "chargeur-2026")
    await learner.wait_for("1. Nouveau ticket")

    # Open a ticket.
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("Mon chargeur ne marche plus" + ENTER)
    await pick_category(learner, "Matériel")
    await learner.wait_for("Description :", "Ctrl-D")
    learner.send("Le chargeur du PC 12" + ENTER + "ne charge plus depuis hier." + CTRL_D)
    await learner.wait_for("1. Faible", "2. Moyenne", "3. Haute")
    learner.send("3")
    screen = await learner.wait_for("Ticket #1 créé", "Ticket #1 — Mon chargeur ne marche plus")
    assert "Statut : En attente" in screen and "Urgence : Haute" in screen
    assert "Le chargeur du PC 12\n" in screen and "ne charge plus depuis hier." in screen
    assert "Changer le statut" not in screen

    # It is in Mes tickets.
    learner.send("0")
    await learner.wait_for("1. Nouveau ticket")
    learner.send("2")
    await learner.wait_for("Mes tickets", "#1", "Mon chargeur ne marche plus", "Attente", "Haute")

    # The admin, connected at the same time, finds it and sets it En cours.
    staff = await Client.connect(service.port, "admin@example.org", PASSWORD)
    clients.append(staff)
    await staff.wait_for(
        "1. Nouveau ticket", "3. Tous les tickets", "4. Mes tickets assignés", "9. Déconnexion"
    )
    staff.send("3")
    # At 80 columns the title is whole; the author gives up its column (shown in the ticket).
    await staff.wait_for("Tous les tickets", "Mon chargeur ne marche plus")
    staff.send("1" + ENTER)
    await staff.wait_for("Ticket #1", "1. Changer le statut")
    staff.send("1")
    await staff.wait_for("1. En attente (actuel)", "2. En cours", "3. Résolu")
    staff.send("2")
    await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    await staff.wait_for("Statut changé : En cours.", "Statut : En cours")

    # The learner reopens the list and the ticket: new status and full history.
    learner.send("0")
    await learner.wait_for("1. Nouveau ticket")
    learner.send("2")
    # The list itself: « En cours » may also be in the live notice on the menu.
    await learner.wait_for("Mes tickets", "En cours", "Numéro du ticket")
    learner.send("1" + ENTER)
    screen = await learner.wait_for("Statut : En cours", "Historique")
    assert "Aïssatou Diop — ticket créé (En attente, urgence Haute)" in screen
    assert "Awa Admin — statut : En attente → En cours" in screen

    async with database.transaction() as conn:
        rows = (
            await conn.execute(sa.select(history.c.action, history.c.acteur_nom).order_by(history.c.id))
        ).all()
        status_id = (await conn.execute(sa.select(tickets.c.statut_id))).scalar_one()
    assert [tuple(r) for r in rows] == [("creation", "Aïssatou Diop"), ("changement_statut", "Awa Admin")]
    assert status_id == 2
