"""Conversation, internal notes, assignment and reopening over real SSH, read on an 80×24 screen."""

from __future__ import annotations

import sqlalchemy as sa

from server.domain.models import Role, Status
from server.store.schema import audit_log, history, tickets

from .conftest import PASSWORD, context_for, make_user, until
from .journeys import pass_ratings
from .sshclient import CTRL_D, ENTER, ESC, PAGE_DOWN, Client, OpenSSHClient, ScreenReader
from .test_e2e_tickets import line_with

NOTE = "Stock HP vide : commander avant de répondre."
MENU_HINT = "Chiffre ou ↑↓ Entrée : choisir · 0/Échap : retour"
END = "\x1b[F"


async def logged_in(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await pass_ratings(c)
    return c


async def open_ticket(c: ScreenReader, menu_key: str, list_title: str, number: int) -> str:
    """From the main menu, a list, then the ticket by its number."""
    c.send(menu_key)
    await c.wait_for(list_title, "Numéro du ticket :")
    c.send(f"{number}" + ENTER)
    return await c.wait_for(f"Ticket #{number} — ", "0. Retour")


async def back_to_main_menu(c: ScreenReader) -> None:
    c.send("0")
    await c.wait_for("Numéro du ticket :")
    c.send("0")
    await c.wait_for("1. Nouveau ticket")


def rows_of(screen: str, *texts: str) -> list[int]:
    """The screen row of each text (each must be there once)."""
    lines = screen.splitlines()
    found = []
    for text in texts:
        at = [i for i, line in enumerate(lines) if text in line]
        assert len(at) == 1, f"{text!r} found {len(at)} times:\n{screen}"
        found += at
    return found


async def history_of(database, ticket_id: int) -> list[tuple]:
    async with database.transaction() as conn:
        rows = await conn.execute(
            sa.select(history.c.action, history.c.acteur_nom, history.c.details, history.c.interne)
            .where(history.c.ticket_id == ticket_id)
            .order_by(history.c.id)
        )
        return [tuple(r) for r in rows]


async def test_learner_and_admin_converse_on_one_ticket(service, clients, services, alice, admin, database):
    number = await context_for(services, alice).create_ticket(
        "Mon chargeur ne marche plus", "Le chargeur du PC 12 ne charge plus.", "Haute"
    )
    learner = await logged_in(service, clients, "alice@example.org")
    staff = await logged_in(service, clients, "admin@example.org")

    # Staff ask, over two lines.
    await open_ticket(staff, "3", "Tous les tickets", number)
    staff.send("2")
    await staff.wait_for("Ticket #1 : répondre", "Réponse :", "Ctrl-D ou Échap Entrée : terminer")
    staff.send("Quel chargeur ?" + ENTER + "La marque est sous le bloc." + CTRL_D)
    screen = await staff.wait_for("Réponse envoyée.", "Awa Admin — réponse :")
    assert "   Quel chargeur ?\n   La marque est sous le bloc." in screen

    # The learner, connected at the same time, reads it and answers (ended by Esc Enter).
    screen = await open_ticket(learner, "2", "Mes tickets", number)
    assert "Awa Admin — réponse :" in screen and "   La marque est sous le bloc." in screen
    assert "1. Répondre" in screen and "Changer le statut" not in screen and "Note interne" not in screen
    learner.send("1")
    await learner.wait_for("Réponse :")
    learner.send("Un HP 65 W, acheté en 2024." + ESC + ENTER)
    screen = await learner.wait_for("Réponse envoyée.", "Alice Ndiaye — réponse :", "Un HP 65 W")
    # One timeline, oldest first: the description, the creation, the question, the answer.
    order = rows_of(
        screen, "Awa Admin — réponse :", "Quel chargeur ?", "Alice Ndiaye — réponse :", "Un HP 65 W"
    )
    assert order == sorted(order)

    # Staff, back in the list and in the ticket, see the answer under their question.
    await back_to_main_menu(staff)
    screen = await open_ticket(staff, "3", "Tous les tickets", number)
    order = rows_of(screen, "Le chargeur du PC 12", "Alice Ndiaye — ticket créé", "Awa Admin — réponse :")
    assert order == sorted(order)
    # Their menu is taller than the learner's: End shows the newest message.
    staff.send(END)
    screen = await staff.wait_for("Un HP 65 W, acheté en 2024.", "1. Changer le statut", "0. Retour")
    order = rows_of(
        screen,
        "Awa Admin — réponse :",
        "La marque est sous le bloc.",
        "Alice Ndiaye — réponse :",
        "Un HP 65 W, acheté en 2024.",
    )
    assert order == sorted(order)

    assert await history_of(database, number) == [
        ("creation", "Alice Ndiaye", "Haute", False),
        ("reponse", "Awa Admin", "Quel chargeur ?\nLa marque est sous le bloc.", False),
        ("reponse", "Alice Ndiaye", "Un HP 65 W, acheté en 2024.", False),
    ]


async def test_internal_note_never_reaches_the_requesters_screen(
    service, clients, services, alice, admin, database
):
    number = await context_for(services, alice).create_ticket(
        "Wi-Fi coupé", "Salle 2, depuis ce matin.", "Moyenne"
    )
    staff = await logged_in(service, clients, "admin@example.org")
    await open_ticket(staff, "3", "Tous les tickets", number)
    staff.send("3")
    await staff.wait_for("Ticket #1 : note interne", "Note interne :", "(visible des seuls administrateurs")
    staff.send(NOTE + CTRL_D)
    screen = await staff.wait_for(
        "Note interne ajoutée.", "Awa Admin — note interne (invisible du demandeur) :"
    )
    assert NOTE in screen
    assert await history_of(database, number) == [
        ("creation", "Alice Ndiaye", "Moyenne", False),
        ("note_interne", "Awa Admin", NOTE, True),
    ]

    learner = await logged_in(service, clients, "alice@example.org")
    learner.send("2")
    listing = await learner.wait_for("Mes tickets", "Wi-Fi coupé")
    learner.send(f"{number}" + ENTER)
    screen = await learner.wait_for(
        f"Ticket #{number} — Wi-Fi coupé", "Alice Ndiaye — ticket créé", "0. Retour"
    )
    # To the very end of the timeline: nothing of the note, not even that there is one.
    learner.send(END)
    await learner.wait_for("Alice Ndiaye — ticket créé", "1. Répondre")
    for shown in (listing, screen, learner.text()):
        assert "Stock HP" not in shown and "note" not in shown.lower() and "Awa Admin" not in shown
    # The update date did not move for the requester either.
    assert "mis à jour le" in screen
    created = line_with(screen, "Créé le").split("·")
    assert created[0].replace("Créé le", "").strip() == created[1].replace("mis à jour le", "").strip()


async def test_assignment_shows_in_lists_ticket_and_my_assigned_tickets(
    service, clients, services, alice, admin, database
):
    moussa = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    number = await context_for(services, alice).create_ticket("Projecteur", "Il clignote.", "Faible")
    staff = await logged_in(service, clients, "admin@example.org")

    # Nobody has it yet: the list says so, and the admin's assigned view is empty.
    staff.send("4")
    await staff.wait_for("Mes tickets assignés", "Aucun ticket ouvert ne vous est assigné.")
    staff.send("0")
    await staff.wait_for("1. Nouveau ticket")
    screen = await open_ticket(staff, "3", "Tous les tickets", number)
    assert "Pas encore pris en charge" in screen
    staff.send("4")
    screen = await staff.wait_for(
        "Vous prenez le ticket #1 en charge.",
        "Pris en charge par Awa Admin",
        "Awa Admin — assigné à Awa Admin",
    )
    assert "Prendre en charge" not in screen and "Retirer l'assignation" in screen
    staff.send("0")
    listing = await staff.wait_for("Tous les tickets", "Ass.", "Projecteur")
    # At 80 columns, the assignee's initials.
    assert " AA " in line_with(listing, "Projecteur")
    staff.send("0")
    await staff.wait_for("4. Mes tickets assignés")
    staff.send("4")
    listing = await staff.wait_for("Mes tickets assignés", "Projecteur", "1 ticket(s)")
    assert line_with(listing, "Projecteur").split()[:3] == ["#1", "Projecteur", "Alice"]

    # From there, handed over to Moussa: it leaves Awa's view.
    staff.send(f"{number}" + ENTER)
    await staff.wait_for("4. Assigner à…")
    staff.send("4")
    await staff.wait_for("Administrateur :", "1. Awa Admin (actuel)", "2. Moussa Admin")
    staff.send("2")
    # The ticket's head stays in view after the action; its entry is at the timeline's end.
    await staff.wait_for(
        "Ticket #1 — Projecteur", "Ticket assigné à Moussa Admin.", "Pris en charge par Moussa Admin"
    )
    staff.send(END)
    await staff.wait_for("Awa Admin — assigné à Moussa Admin")
    staff.send("0")
    await staff.wait_for("Mes tickets assignés", "Aucun ticket ouvert ne vous est assigné.")

    # The requester sees who has it, in her list and on the ticket.
    learner = await logged_in(service, clients, "alice@example.org")
    learner.send("2")
    listing = await learner.wait_for("Mes tickets", "Assigné à", "Projecteur")
    assert "Moussa Ad…" in line_with(listing, "Projecteur")
    learner.send(f"{number}" + ENTER)
    await learner.wait_for(
        "Auteur : Alice Ndiaye · Pris en charge par Moussa Admin", "Awa Admin — assigné à Moussa Admin"
    )

    async with database.transaction() as conn:
        assignee = (await conn.execute(sa.select(tickets.c.assigne_id))).scalar_one()
        audited = (
            await conn.execute(
                sa.select(audit_log.c.compte, audit_log.c.details)
                .where(audit_log.c.evenement == "action_admin")
                .order_by(audit_log.c.id)
            )
        ).all()
    assert assignee == moussa.id
    assert [tuple(r) for r in audited] == [
        ("admin@example.org", f"assign ticket={number} to={admin.id}"),
        ("admin@example.org", f"assign ticket={number} to={moussa.id}"),
    ]


async def test_learner_says_the_problem_persists_and_the_admin_sees_it_en_cours(
    service, clients, services, alice, admin, database
):
    number = await context_for(services, alice).create_ticket(
        "Souris", "Le clic droit ne répond plus.", "Moyenne"
    )
    await context_for(services, admin).change_status(number, Status.RESOLVED)
    staff = await logged_in(service, clients, "admin@example.org")
    learner = await logged_in(service, clients, "alice@example.org")

    screen = await open_ticket(learner, "2", "Mes tickets", number)
    assert "Statut : Résolu" in screen and "2. Le problème persiste" in screen
    learner.send("2")
    await learner.wait_for("Ticket #1 : le problème persiste", "Réponse :")
    learner.send(CTRL_D)  # the reply is required
    await learner.wait_for("La réponse est obligatoire.")
    learner.send("Le clic droit lâche encore" + ENTER + "au bout d'une heure." + CTRL_D)
    screen = await learner.wait_for(
        "Réponse envoyée : le ticket repasse « En cours ».",
        "Alice Ndiaye — le problème persiste : Résolu → En cours",
    )
    assert ". Le problème persiste" not in screen  # offered on a resolved ticket only
    order = rows_of(
        screen,
        "Alice Ndiaye — réponse :",
        "Le clic droit lâche encore",
        "Alice Ndiaye — le problème persiste",
    )
    assert order == sorted(order)

    # The admin, connected all along, finds it En cours with the reply.
    staff.send("3")
    listing = await staff.wait_for("Tous les tickets", "Souris")
    assert "En cours" in line_with(listing, "Souris")
    staff.send(f"{number}" + ENTER)
    await staff.wait_for("Statut : En cours", "Alice Ndiaye — réponse :")
    staff.send(END)
    screen = await staff.wait_for(
        "Le clic droit lâche encore",
        "au bout d'une heure.",
        "Alice Ndiaye — le problème persiste : Résolu → En cours",
    )
    assert ". Le problème persiste" not in screen  # admins change the status instead

    assert await history_of(database, number) == [
        ("creation", "Alice Ndiaye", "Moyenne", False),
        ("changement_statut", "Awa Admin", "", False),
        ("reponse", "Alice Ndiaye", "Le clic droit lâche encore\nau bout d'une heure.", False),
        ("reouverture", "Alice Ndiaye", "", False),
    ]
    async with database.transaction() as conn:
        status_id = (await conn.execute(sa.select(tickets.c.statut_id))).scalar_one()
    assert status_id == 2


async def test_long_conversation_scrolls_and_its_menu_stays_usable(service, clients, services, alice, admin):
    number = await context_for(services, alice).create_ticket("Imprimante", "Elle n'imprime plus.", "Faible")
    staff, learner = context_for(services, admin), context_for(services, alice)
    for n in range(1, 21):
        await (staff if n % 2 else learner).reply(number, f"message {n:02d}\nsuite du message {n:02d}")
    c = await logged_in(service, clients, "alice@example.org")

    screen = await open_ticket(c, "2", "Mes tickets", number)
    assert "PgPréc/PgSuiv : défiler" in screen and "1. Répondre" in screen
    assert "suite du message 20" not in screen
    # Page after page down to the newest message; the menu and the hints stay in place.
    for _ in range(20):
        if "suite du message 20" in c.text():
            break
        before = c.text()
        c.send(PAGE_DOWN)
        await until(lambda before=before: c.text() != before)
    screen = c.text()
    assert "suite du message 20" in screen and "1. Répondre" in screen and "0. Retour" in screen
    assert c.screen.display[0].startswith(" Support Tickets · Ticket #1")
    assert c.screen.display[23].strip().startswith(MENU_HINT)

    # The menu works from there: the new reply shows at the end, under the twentieth.
    c.send("1")
    await c.wait_for("Réponse :")
    c.send("message 21" + CTRL_D)
    screen = await c.wait_for("Réponse envoyée.", "suite du message 20", "message 21", "1. Répondre")
    order = rows_of(screen, "suite du message 20", "message 21")
    assert order == sorted(order)
    assert c.screen.display[23].strip().startswith(MENU_HINT)


async def test_openssh_learner_and_admin_converse(service, clients, services, alice, admin, database):
    """The conversation journey through the real OpenSSH client, for both sides."""
    number = await context_for(services, alice).create_ticket("Clavier", "La touche A colle.", "Faible")
    learner = await OpenSSHClient.start(service.port, "alice@example.org")
    staff = await OpenSSHClient.start(service.port, "admin@example.org")
    clients += [learner, staff]
    for c in (learner, staff):
        await c.wait_for("Mot de passe / password:")
        c.send(PASSWORD + ENTER)
        await c.wait_for("Menu principal", "1. Nouveau ticket")

    await open_ticket(staff, "3", "Tous les tickets", number)
    staff.send("4")
    await staff.wait_for("Pris en charge par Awa Admin")
    staff.send("2")
    await staff.wait_for("Réponse :")
    staff.send("Essayez le clavier de rechange," + ENTER + "dans le tiroir." + CTRL_D)
    await staff.wait_for("Réponse envoyée.", "dans le tiroir.")
    staff.send("3")
    await staff.wait_for("Note interne :")
    staff.send(NOTE + CTRL_D)
    await staff.wait_for("Note interne ajoutée.", NOTE)

    screen = await open_ticket(learner, "2", "Mes tickets", number)
    assert "Pris en charge par Awa Admin" in screen and "dans le tiroir." in screen
    assert NOTE not in screen and "note interne" not in screen
    learner.send("1")
    await learner.wait_for("Réponse :")
    learner.send("Merci, ça marche." + CTRL_D)
    await learner.wait_for("Réponse envoyée.", "Alice Ndiaye — réponse :", "Merci, ça marche.")

    assert [(a, who, interne) for a, who, _d, interne in await history_of(database, number)] == [
        ("creation", "Alice Ndiaye", False),
        ("assignation", "Awa Admin", False),
        ("reponse", "Awa Admin", False),
        ("note_interne", "Awa Admin", True),
        ("reponse", "Alice Ndiaye", False),
    ]


async def test_reopening_a_ticket_reopened_meanwhile_says_so_and_refreshes_the_menu(
    service, clients, services, alice, admin, database
):
    number = await context_for(services, alice).create_ticket("Écran", "Il scintille.", "Faible")
    staff = context_for(services, admin)
    await staff.change_status(number, Status.RESOLVED)
    learner = await logged_in(service, clients, "alice@example.org")
    await open_ticket(learner, "2", "Mes tickets", number)
    learner.send("2")
    await learner.wait_for("Ticket #1 : le problème persiste", "Réponse :")
    # While she types, an admin puts the ticket back En cours.
    await staff.change_status(number, Status.IN_PROGRESS)
    learner.send("Il scintille encore." + CTRL_D)
    screen = await learner.wait_for(
        "Le ticket n'est pas « Résolu » : répondez-y simplement.",
        "Awa Admin — statut : Résolu → En cours",
        "1. Répondre",
    )
    assert ". Le problème persiste" not in screen
    assert [a for a, _who, _d, _i in await history_of(database, number)] == [
        "creation",
        "changement_statut",
        "changement_statut",
    ]
