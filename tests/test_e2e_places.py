"""Places over real SSH, read on the 80×24 screen and checked in the database: the admins'
`Lieux` screen and its networks, `Lieu` of a new ticket preselected from the client's address
(the most specific network), a ticket's place, the filter, and what a learner never reaches."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.domain.models import Action, TicketFilter
from server.errors import Forbidden, ValidationError
from server.store.schema import audit_log, history, place_networks, places, tickets

from .conftest import PASSWORD, context_for, count
from .journeys import pick_category
from .sshclient import CTRL_D, ENTER, ESC, Client
from .sshcommand import ssh_command
from .test_e2e_accounts import choose
from .test_e2e_tickets import wait_sentence

BACKSPACE = "\x7f"
PAGE_DOWN = "\x1b[6~"


async def signed_in(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


async def open_places(c: Client) -> str:
    await choose(c, "Paramètres")
    await choose(c, "Lieux")
    return await c.wait_for("1. Ajouter un lieu")


async def add_place_on_screen(c: Client, name: str) -> None:
    c.send("1")
    await c.wait_for("Ajouter un lieu", "Nom :")
    c.send(name + ENTER)
    await c.wait_for(f"Lieu « {name} » ajouté.")


async def test_admins_map_networks_and_a_new_ticket_is_at_the_most_specific(
    service, clients, database, alice, admin
):
    staff = await signed_in(service, clients, "admin@example.org")
    await open_places(staff)
    await add_place_on_screen(staff, "Bâtiment A")
    await add_place_on_screen(staff, "Salle B12")
    staff.send("1")
    await staff.wait_for("Nom :")
    staff.send("salle b12" + ENTER)  # alike names are one name, whatever the case
    await staff.wait_for("Un lieu porte déjà ce nom.")
    staff.send(ESC)
    await staff.wait_for("2. Bâtiment A", "3. Salle B12")

    staff.send("2")
    await staff.wait_for("Lieu : Bâtiment A", "Réseaux : aucun")
    await choose(staff, "Ajouter un réseau")
    await staff.wait_for("Réseau :")
    # Hostile or mistyped input: one sentence each, nothing written.
    for typed, sentence in [
        ("salle 12; DROP TABLE lieux", "Réseau invalide : écrivez-le comme 10.12.0.0/16 ou 2001:db8::/32."),
        ("127.0.0.1/8", "Réseau invalide : l'adresse a des bits après le préfixe (écrivez 127.0.0.0/8)."),
        ("300.1.2.0/24", "Réseau invalide : écrivez-le comme 10.12.0.0/16 ou 2001:db8::/32."),
    ]:
        staff.send(typed + ENTER)
        await staff.wait_for(sentence)
        staff.send(BACKSPACE * len(typed))
    staff.send("127.0.0.0/8" + ENTER)
    await staff.wait_for("Réseau 127.0.0.0/8 ajouté.", "Réseaux : 127.0.0.0/8")
    await choose(staff, "Ajouter un réseau")
    await staff.wait_for("Réseau :")
    staff.send("10.20.0.0/16" + ENTER)
    await staff.wait_for("Réseaux : 127.0.0.0/8, 10.20.0.0/16")
    await choose(staff, "Retirer un réseau")
    await staff.wait_for("1. 127.0.0.0/8", "2. 10.20.0.0/16")
    staff.send("2")
    await staff.wait_for("Réseau 10.20.0.0/16 retiré.", "Réseaux : 127.0.0.0/8")
    staff.send(ESC)
    await staff.wait_for("3. Salle B12")
    staff.send("3")
    await choose(staff, "Ajouter un réseau")
    await staff.wait_for("Réseau :")
    staff.send("127.0.0.0/8" + ENTER)  # a network belongs to one place
    await staff.wait_for("Ce réseau est déjà celui d'un autre lieu.")
    staff.send(BACKSPACE * 11 + "127.0.0.1" + ENTER)  # an address alone: its own network
    await staff.wait_for("Réseau 127.0.0.1/32 ajouté.")

    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(places.c.nom, place_networks.c.reseau).join(places))).all()
    assert sorted(tuple(r) for r in rows) == [("Bâtiment A", "127.0.0.0/8"), ("Salle B12", "127.0.0.1/32")]
    assert await count(database, audit_log, audit_log.c.details.like("place=%")) == 6

    # The learner at 127.0.0.1: both networks hold it, the /32 wins; she may change it.
    learner = await signed_in(service, clients, "alice@example.org")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("Vidéoprojecteur éteint" + ENTER)
    await pick_category(learner, "Salles et vidéoprojecteurs")
    screen = await learner.wait_for(
        "Lieu :", "1. Bâtiment A", "2. Salle B12", "3. Aucun lieu", "d'après votre adresse : Salle B12"
    )
    assert "Catégorie : Salles et vidéoprojecteurs" in screen
    learner.send(ENTER)  # the place selected first: her address's
    await learner.wait_for("Description :", "Lieu : Salle B12")
    learner.send("Il ne s'allume plus." + CTRL_D)
    await learner.wait_for("Urgence :", "Lieu : Salle B12")
    learner.send("2")
    await learner.wait_for("Ticket #1 créé.", "Lieu : Salle B12")

    # Another one, left without a place.
    learner.send(ESC)
    await learner.wait_for("1. Nouveau ticket")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("Question" + ENTER)
    await pick_category(learner)
    await learner.wait_for("3. Aucun lieu")
    learner.send("3")
    await learner.wait_for("Description :")
    learner.send("Une question." + CTRL_D)
    await learner.wait_for("Urgence :")
    learner.send("1")
    screen = await learner.wait_for("Ticket #2 créé.")
    assert "Lieu :" not in screen

    async with database.transaction() as conn:
        placed = dict((await conn.execute(sa.select(tickets.c.id, tickets.c.lieu_id))).all())
        b12 = (await conn.execute(sa.select(places.c.id).where(places.c.nom == "Salle B12"))).scalar_one()
    assert placed == {1: b12, 2: None}


async def test_a_deactivated_place_is_no_longer_offered_nor_matched(services, database, alice, admin):
    staff, learner = context_for(services, admin), context_for(services, alice)
    hall = await staff.add_place("Hall")
    await staff.add_network(hall.id, "127.0.0.0/8")
    assert (await learner.place_of_address()).name == "Hall"
    await staff.set_place_active(hall.id, False)
    assert await learner.place_of_address() is None
    assert await learner.offered_places() == []
    with pytest.raises(ValidationError) as refused:
        await learner.create_ticket("Écran", "Noir.", "Faible", place_id=hall.id)
    assert refused.value.message == "Ce lieu n'est plus proposé : choisissez-en un autre."
    assert await count(database, tickets) == 0


async def test_a_script_from_a_mapped_address_files_its_ticket_there(service, services, alice, admin):
    staff = context_for(services, admin)
    lab = await staff.add_place("Labo 2")
    await staff.add_network(lab.id, "127.0.0.2/32")
    other = await staff.add_place("Ailleurs")
    await staff.add_network(other.id, "127.0.0.0/8")
    # OpenSSH bound to 127.0.0.2: the server sees that address.
    r = await ssh_command(
        service.port, "alice@example.org", "tickets", "new", "--title", "Poste 4", "--urgency", "Faible",
        stdin="Ne démarre pas.".encode(), options=("-b", "127.0.0.2"),
    )  # fmt: skip
    assert r.status == 0, r.err
    r = await ssh_command(service.port, "alice@example.org", "tickets", "show", r.out.strip())
    assert "Lieu : Labo 2" in r.out, r.out


async def test_an_admin_changes_a_tickets_place_and_filters_on_it(service, clients, services, alice, admin):
    staff_ctx = context_for(services, admin)
    hall = await staff_ctx.add_place("Hall")
    lab = await staff_ctx.add_place("Labo 1")
    ctx = context_for(services, alice)
    await ctx.create_ticket("Projecteur HS", "Salle 4.", "Moyenne", place_id=hall.id)
    await ctx.create_ticket("Souris cassée", "Poste 3.", "Moyenne")

    staff = await signed_in(service, clients, "admin@example.org")
    await choose(staff, "Tous les tickets")
    await staff.wait_for("2 tickets — page 1/1")
    staff.send("2" + ENTER)
    await staff.wait_for("Ticket #2", "Souris cassée")
    await choose(staff, "Changer le lieu")
    await staff.wait_for("Nouveau lieu :", "2. Labo 1", "3. Aucun lieu (actuel)")
    staff.send("2")
    await staff.wait_for("Lieu changé : Labo 1.", "Lieu : Labo 1")
    staff.send(PAGE_DOWN)  # the head stays in view after the change: the history is below
    await wait_sentence(staff, "lieu : — → Labo 1")
    staff.send(ESC)
    await staff.wait_for("2 tickets — page 1/1")
    staff.send("f")
    await choose(staff, "Lieu")
    await staff.wait_for("1. Tous les lieux", "2. Hall", "3. Labo 1")
    staff.send("3")
    screen = await staff.wait_for("lieu : Labo 1", "1 ticket — page 1/1", "Souris cassée")
    assert "Projecteur HS" not in screen
    async with services.db.transaction() as conn:
        kinds = (
            (
                await conn.execute(
                    sa.select(history.c.action).where(history.c.ticket_id == 2).order_by(history.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert kinds == [Action.CREATED.value, Action.PLACE_CHANGED.value]
    found = await staff_ctx.search_tickets(TicketFilter(place=lab), page=1, page_size=10)
    assert [t.id for t in found.items] == [2]


async def test_a_learner_never_reaches_place_management(service, clients, services, alice, admin):
    learner = await signed_in(service, clients, "alice@example.org")
    screen = await learner.wait_for("4. Déconnexion")
    assert "Paramètres" not in screen and "Lieux" not in screen
    hall = await context_for(services, admin).add_place("Hall")
    ctx = context_for(services, alice)
    ticket_id = await ctx.create_ticket("Souris", "Elle ne clique plus.", "Faible", place_id=hall.id)
    for attempt in (
        ctx.all_places(),
        ctx.add_place("Pirate"),
        ctx.rename_place(hall.id, "Pirate"),
        ctx.set_place_active(hall.id, False),
        ctx.add_network(hall.id, "0.0.0.0/0"),
        ctx.remove_network(hall.id, "0.0.0.0/0"),
        ctx.change_place(ticket_id, None),
    ):
        with pytest.raises(Forbidden):
            await attempt
    assert not ctx.can_manage_places()
    assert not ctx.can_change_place(await ctx.ticket(ticket_id))
    assert (await ctx.ticket(ticket_id)).place_name == "Hall"


async def test_the_database_refuses_to_delete_a_place_in_use(services, database, alice, admin):
    hall = await context_for(services, admin).add_place("Hall")
    await context_for(services, admin).add_network(hall.id, "10.0.0.0/8")
    await context_for(services, alice).create_ticket("Projecteur", "Éteint.", "Moyenne", place_id=hall.id)
    with pytest.raises(sa.exc.IntegrityError):
        async with database.transaction() as conn:
            await conn.execute(places.delete().where(places.c.id == hall.id))
    assert await count(database, place_networks) == 1
