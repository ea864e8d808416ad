"""Canned answers over real SSH, read on the 80×24 screen and checked in the database: written
under `Paramètres`, picked with Ctrl-T while answering (typed words filter the list), inserted
with the ticket's fields filled in, and their status set in the reply's own transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.domain.models import Action, CannedAnswer, Status, Ticket, fill_canned
from server.errors import Forbidden
from server.store.schema import CATEGORY_NAMES, audit_log, canned_answers, history, tickets

from .conftest import PASSWORD, context_for, count
from .sshclient import CTRL_D, ENTER, Client
from .test_e2e_accounts import choose
from .test_e2e_tickets import wait_sentence

CTRL_T = "\x14"
TEMPLATE = "Bonjour {nom},\nle ticket #{numero} « {titre} » ({categorie}) est réglé.\n{agent}"


async def signed_in(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


async def test_an_admin_writes_a_canned_answer_and_answers_with_it(
    service, clients, services, database, alice, admin
):
    account = CATEGORY_NAMES.index("Compte et mot de passe") + 1
    ticket_id = await context_for(services, alice).create_ticket(
        "Mot de passe oublié", "Plus moyen d'entrer.", "Moyenne", category_id=account
    )
    await context_for(services, admin).add_canned("Wi-Fi : redémarrer la box", "Redémarrez-la, {nom}.")

    staff = await signed_in(service, clients, "admin@example.org")
    await choose(staff, "Paramètres")
    await choose(staff, "Réponses types")
    await staff.wait_for("1. Ajouter une réponse type", "2. Wi-Fi : redémarrer la box")
    staff.send("1")
    await staff.wait_for("Titre :")
    staff.send("Mot de passe de la plateforme" + ENTER)
    await staff.wait_for("Texte :")
    staff.paste(TEMPLATE)
    staff.send(CTRL_D)
    await staff.wait_for("Réponse type « Mot de passe de la plateforme » ajoutée.")
    await choose(staff, "Mot de passe de la plateforme")
    await choose(staff, "Statut à l'envoi")
    await staff.wait_for("1. Aucun (le statut reste)", "4. Résolu")
    staff.send("4")
    await staff.wait_for("Statut à l'envoi : Résolu.")
    async with database.transaction() as conn:
        row = (
            await conn.execute(sa.select(canned_answers).where(canned_answers.c.titre.like("Mot de passe%")))
        ).one()
    assert row.texte == TEMPLATE and row.statut_id == 3
    assert await count(database, audit_log, audit_log.c.details.like("canned=%")) == 3

    # Answering: a few words typed, Ctrl-T, the list filtered, the answer inserted at the cursor.
    for back_to in ("1. Ajouter une réponse type", "1. Catégories", "1. Nouveau ticket"):
        staff.send("0")
        await staff.wait_for(back_to)
    await choose(staff, "Tous les tickets")
    await staff.wait_for("Mot de passe oublié")
    staff.send(f"{ticket_id}" + ENTER)
    await choose(staff, "Répondre")
    await staff.wait_for("Réponse :", "Ctrl-T : réponses types")
    staff.send("Re : ")
    staff.send(CTRL_T)
    await staff.wait_for("Filtrer :", "Mot de passe de la plateforme → Résolu", "Wi-Fi : redémarrer la box")
    staff.send("plateforme")
    screen = await staff.wait_gone("Wi-Fi : redémarrer la box")
    assert "Mot de passe de la plateforme" in screen
    staff.send(ENTER)
    filled = (
        "Re : Bonjour Alice Ndiaye,\nle ticket #1 « Mot de passe oublié » (Compte et mot de passe) "
        "est réglé.\nAwa Admin"
    )
    await staff.wait_for("À l'envoi, le ticket passera à « Résolu ».", "Re : Bonjour Alice Ndiaye,")
    staff.send(" Bonne journée." + CTRL_D)
    await staff.wait_for("Réponse envoyée ; statut changé : Résolu.", "Statut : Résolu")
    await wait_sentence(staff, "Awa Admin Bonne journée.")

    async with database.transaction() as conn:
        entries = (
            await conn.execute(
                sa.select(history.c.action, history.c.details, history.c.created_at).order_by(history.c.id)
            )
        ).all()
        status_id = (await conn.execute(sa.select(tickets.c.statut_id))).scalar_one()
    assert [e.action for e in entries] == [Action.CREATED, Action.REPLY, Action.STATUS_CHANGED]
    assert entries[1].details == filled + " Bonne journée."
    # One transaction: the reply and the status change share their moment.
    assert entries[1].created_at == entries[2].created_at
    assert status_id == 3


async def test_a_learner_never_reaches_canned_answers(service, clients, services, alice, admin):
    answer = await context_for(services, admin).add_canned("Clé", "Texte")
    ctx = context_for(services, alice)
    ticket_id = await ctx.create_ticket("Souris", "Elle ne clique plus.", "Faible")
    learner = await signed_in(service, clients, "alice@example.org")
    screen = await learner.wait_for("4. Déconnexion")
    assert "Paramètres" not in screen
    learner.send("2")
    await learner.wait_for("Souris")
    learner.send(f"{ticket_id}" + ENTER)
    await choose(learner, "Répondre")
    screen = await learner.wait_for("Réponse :")
    assert "Ctrl-T" not in screen
    learner.send(CTRL_T)  # nothing opens: the key is not hers
    learner.send("Toujours rien." + CTRL_D)
    await learner.wait_for("Réponse envoyée.")
    ticket = await ctx.ticket(ticket_id)
    for attempt in (
        ctx.canned_answers(),
        ctx.add_canned("Pirate", "x"),
        ctx.rename_canned(answer.id, "Pirate"),
        ctx.rewrite_canned(answer.id, "x"),
        ctx.set_canned_status(answer.id, "Résolu"),
        ctx.delete_canned(answer.id),
        ctx.reply(ticket_id, "Je me résous moi-même.", Status.RESOLVED),
    ):
        with pytest.raises(Forbidden):
            await attempt
    with pytest.raises(Forbidden):
        ctx.filled_canned(answer, ticket)
    assert not ctx.can_manage_canned() and not ctx.can_use_canned(ticket)
    assert (await ctx.ticket(ticket_id)).status is Status.WAITING


def test_a_template_is_text_never_a_format_string():
    ticket = Ticket(
        id=7, title="T", description="", urgency="Faible", status=Status.WAITING, author_id=1,
        author_name="{agent}", created_at=None, updated_at=None, history=(),
    )  # fmt: skip
    text = "{nom} {0} {nom.__class__} {{numero}} {inconnu} {categorie}."
    # A name holding a field's braces stays as typed: each field is filled once.
    assert fill_canned(text, ticket, "Awa") == "{agent} {0} {nom.__class__} {7} {inconnu} ."
    assert CannedAnswer(1, "t", "x").status is None


async def test_an_admin_deletes_a_canned_answer_and_is_back_on_the_list(
    service, clients, services, database, admin
):
    await context_for(services, admin).add_canned("Wi-Fi : redémarrer la box", "Redémarrez-la, {nom}.")
    await context_for(services, admin).add_canned("Imprimante", "Rallumez-la.")
    staff = await signed_in(service, clients, "admin@example.org")
    await choose(staff, "Paramètres")
    await choose(staff, "Réponses types")
    await choose(staff, "Wi-Fi : redémarrer la box")
    await choose(staff, "Supprimer")
    await staff.wait_for("Supprimer la réponse type « Wi-Fi : redémarrer la box » ?", "Confirmer ? (o/n)")
    staff.send("n")
    await staff.wait_for("Suppression annulée.", "Réponse type #1")
    await choose(staff, "Supprimer")
    await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    # The list, without it, says what was done: not that the answer no longer exists.
    screen = await staff.wait_for(
        "Réponse type « Wi-Fi : redémarrer la box » supprimée.", "1. Ajouter une réponse type"
    )
    assert "2. Imprimante" in screen and "n'existe plus" not in screen
    async with database.transaction() as conn:
        titles = (await conn.execute(sa.select(canned_answers.c.titre))).scalars().all()
    assert titles == ["Imprimante"]
    assert await count(database, audit_log, audit_log.c.details.like("canned=% deleted")) == 1
