"""Categories over real SSH, read on the 80×24 screen, each checked in the database too: the
admins' `Catégories` screen, `Catégorie` of a new ticket with its defaults, a ticket's category."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.domain.models import Action, Urgency
from server.errors import Forbidden, ValidationError
from server.store.schema import CATEGORY_NAMES, audit_log, categories, history, tickets

from .conftest import PASSWORD, context_for, count
from .journeys import pick_category
from .sshclient import CTRL_D, ENTER, ESC, Client
from .test_e2e_accounts import choose
from .test_e2e_tickets import wait_sentence

BACKSPACE = "\x7f"
WIFI = CATEGORY_NAMES.index("Réseau / Wi-Fi") + 1


async def signed_in(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


async def open_categories(c: Client) -> str:
    await choose(c, "Paramètres")
    await choose(c, "Catégories")
    return await c.wait_for("1. Ajouter une catégorie", "8. Autre")


async def test_the_default_assignee_takes_the_ticket_with_the_default_urgency(
    service, clients, database, alice, admin
):
    staff = await signed_in(service, clients, "admin@example.org")
    await open_categories(staff)
    # The list's first entry is `Ajouter une catégorie`: a category is one further down.
    staff.send(str(WIFI + 1))
    await staff.wait_for("Catégorie : Réseau / Wi-Fi", "Assigné par défaut : personne")
    await choose(staff, "Assigné par défaut")
    await staff.wait_for("1. Personne", "2. Awa Admin")
    staff.send("2")
    await staff.wait_for("Assigné par défaut : Awa Admin.")
    await choose(staff, "Urgence par défaut")
    await staff.wait_for("1. Aucune", "4. Haute")
    staff.send("4")
    await staff.wait_for("Urgence par défaut : Haute.", "Urgence par défaut : Haute")
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(categories).where(categories.c.id == WIFI))).one()
    assert (row.assigne_defaut_id, row.urgence_defaut) == (admin.id, "Haute")

    learner = await signed_in(service, clients, "alice@example.org")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("Wi-Fi coupé en salle B12" + ENTER)
    await pick_category(learner, "Réseau / Wi-Fi")
    await learner.wait_for("Description :", "Catégorie : Réseau / Wi-Fi")
    learner.send("Plus aucun réseau depuis ce matin." + CTRL_D)
    await learner.wait_for("Urgence :", "3. Haute")
    # Enter takes the entry selected first: the category's urgency.
    learner.send(ENTER)
    screen = await learner.wait_for("Ticket #1 créé.", "Catégorie : Réseau / Wi-Fi", "Urgence : Haute")
    assert "Pris en charge par Awa Admin" in screen
    await wait_sentence(learner, "pris en charge par Awa Admin, assigné par défaut de la catégorie")

    async with database.transaction() as conn:
        ticket = (await conn.execute(sa.select(tickets))).one()
        actions = (
            await conn.execute(sa.select(history.c.action, history.c.details).order_by(history.c.id))
        ).all()
    assert (ticket.categorie_id, ticket.assigne_id, ticket.urgence) == (WIFI, admin.id, "Haute")
    assert [tuple(a) for a in actions] == [
        (Action.CREATED.value, "Haute"),
        (Action.CATEGORY_ASSIGNED.value, "Awa Admin"),
    ]


async def test_admins_add_rename_and_deactivate_categories(service, clients, database, alice, admin):
    staff = await signed_in(service, clients, "admin@example.org")
    await open_categories(staff)
    staff.send("1")
    await staff.wait_for("Ajouter une catégorie", "Nom :")
    staff.send("autre" + ENTER)  # alike names are one name, whatever the case
    await staff.wait_for("Une catégorie porte déjà ce nom.")
    staff.send(BACKSPACE * 5 + "Imprimantes" + ENTER)
    await staff.wait_for("Catégorie « Imprimantes » ajoutée.", "9. Imprimantes")

    staff.send("2")
    await staff.wait_for("Catégorie : Matériel", "État : active")
    await choose(staff, "Désactiver")
    await staff.wait_for(
        "Catégorie désactivée : elle n'est plus proposée aux nouveaux tickets.", "État : désactivée"
    )
    await choose(staff, "Renommer")
    await staff.wait_for("Nom :", "Matériel")
    staff.send(BACKSPACE * len("Matériel") + "Ordinateurs" + ENTER)
    await staff.wait_for("Catégorie renommée : Ordinateurs.", "Catégorie : Ordinateurs")
    staff.send(ESC)
    await staff.wait_for("2. Ordinateurs (désactivée)", "9. Imprimantes")

    async with database.transaction() as conn:
        rows = {r.id: (r.nom, bool(r.active)) for r in await conn.execute(sa.select(categories))}
    assert rows[1] == ("Ordinateurs", False)
    assert rows[8] == ("Imprimantes", True)
    assert len(rows) == len(CATEGORY_NAMES) + 1
    assert await count(database, audit_log, audit_log.c.details.like("category=%")) == 3

    # A new ticket is offered the active categories only.
    learner = await signed_in(service, clients, "alice@example.org")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("Imprimante HS" + ENTER)
    screen = await learner.wait_for("Catégorie :", "7. Imprimantes")
    assert "Ordinateurs" not in screen and "Matériel" not in screen
    learner.send("7")
    await learner.wait_for("Description :", "Catégorie : Imprimantes")


async def test_an_admin_changes_a_tickets_category(service, clients, services, database, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket(
        "Logiciel absent", "Pas de LibreOffice.", "Faible"
    )
    staff = await signed_in(service, clients, "admin@example.org")
    await choose(staff, "Tous les tickets")
    await staff.wait_for("Logiciel absent")
    staff.send(f"{ticket_id}" + ENTER)
    await staff.wait_for("Catégorie : aucune")
    await choose(staff, "Changer la catégorie")
    await staff.wait_for("Nouvelle catégorie :", "5. Logiciels")
    staff.send("5")
    await staff.wait_for("Catégorie changée : Logiciels.", "Catégorie : Logiciels")
    await wait_sentence(staff, "catégorie : — → Logiciels")
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(tickets.c.categorie_id))).scalar_one() == CATEGORY_NAMES.index(
            "Logiciels"
        ) + 1
        kinds = (await conn.execute(sa.select(history.c.action).order_by(history.c.id))).scalars().all()
    assert kinds == [Action.CREATED.value, Action.CATEGORY_CHANGED.value]


async def test_a_learner_never_reaches_category_management(service, clients, services, alice, admin):
    learner = await signed_in(service, clients, "alice@example.org")
    screen = await learner.wait_for("4. Déconnexion")
    assert "Catégories" not in screen and "Paramètres" not in screen
    ctx = context_for(services, alice)
    ticket_id = await ctx.create_ticket("Souris", "Elle ne clique plus.", "Faible", category_id=1)
    for attempt in (
        ctx.all_categories(),
        ctx.add_category("Pirate"),
        ctx.rename_category(1, "Pirate"),
        ctx.set_category_active(1, False),
        ctx.set_category_defaults(1, alice.id, "Haute"),
        ctx.change_category(ticket_id, 2),
    ):
        with pytest.raises(Forbidden):
            await attempt
    assert not ctx.can_manage_categories()
    assert not ctx.can_change_category(await ctx.ticket(ticket_id))
    assert [c.name for c in await ctx.offered_categories()] == list(CATEGORY_NAMES)


async def test_rules_of_categories(services, database, alice, admin):
    staff, learner = context_for(services, admin), context_for(services, alice)
    await staff.set_category_active(1, False)
    with pytest.raises(ValidationError) as refused:
        await learner.create_ticket("Écran", "Noir.", "Faible", category_id=1)
    assert refused.value.message == "Cette catégorie n'est plus proposée : choisissez-en une autre."
    with pytest.raises(ValidationError):
        await staff.set_category_defaults(2, alice.id, None)  # only an admin takes tickets
    with pytest.raises(ValidationError):
        await staff.rename_category(2, "  ")
    with pytest.raises(ValidationError):
        await staff.rename_category(2, "Réseau / WI-FI")
    assert await count(database, tickets) == 0
    # The default urgency is preselected only: the learner's choice is what is written.
    await staff.set_category_defaults(3, None, Urgency.HIGH)
    ticket_id = await learner.create_ticket("Wi-Fi", "Lent.", "Faible", category_id=3)
    ticket = await learner.ticket(ticket_id)
    assert (ticket.urgency, ticket.assignee_id, ticket.category_name) == (Urgency.LOW, None, "Réseau / Wi-Fi")


async def test_the_database_refuses_to_delete_a_category_in_use(services, database, alice):
    await context_for(services, alice).create_ticket(
        "Projecteur", "Il ne s'allume pas.", "Moyenne", category_id=4
    )
    with pytest.raises(sa.exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(categories.delete().where(categories.c.id == 4))
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(tickets.c.categorie_id))).scalar_one() == 4
        await conn.execute(categories.delete().where(categories.c.id == 5))  # unused: it may go
    assert await count(database, categories) == len(CATEGORY_NAMES) - 1


async def test_all_tickets_filter_by_category(service, clients, services, alice, admin):
    ctx = context_for(services, alice)
    await ctx.create_ticket("Projecteur HS", "Salle 4.", "Moyenne", category_id=4)
    await ctx.create_ticket("Mot de passe perdu", "Plateforme.", "Moyenne", category_id=6)

    staff = await signed_in(service, clients, "admin@example.org")
    await choose(staff, "Tous les tickets")
    await staff.wait_for("2 tickets — page 1/1")
    staff.send("f")
    await choose(staff, "Catégorie")
    await staff.wait_for("1. Toutes les catégories", "7. Compte et mot de passe")
    staff.send("7")
    screen = await staff.wait_for(
        "catégorie : Compte et mot de passe", "1 ticket — page 1/1", "Mot de passe perdu"
    )
    rows = [line for line in screen.splitlines() if line.startswith(" #")]
    assert len(rows) == 1 and rows[0].startswith(" #2 "), screen
