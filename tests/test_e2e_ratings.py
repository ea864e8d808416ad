"""`Votre avis (1 à 5)` over the real OpenSSH client at 80×24 (and `ssh -T`), on both databases:
asked once on the ticket's screen when an admin resolves it (live, or on opening), or at the
next login; skippable, never asked again; refused out of 1..5 with one sentence; the requester's
only; shown to admins on the ticket, in its history and in `tickets show --json`; counted on the
dashboard over 30 days (a moved clock)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.domain.models import Status
from server.errors import Forbidden, NotFound, ValidationError
from server.store.schema import CATEGORY_NAMES, history, ratings, tickets

from .conftest import PASSWORD, context_for, count, until
from .sshclient import ENTER, ESC, OpenSSHClient
from .sshcommand import ssh_command, ssh_process
from .test_e2e_accounts import choose
from .test_e2e_autoclose import moved
from .test_e2e_commands import Expect
from .test_e2e_due_pause import Clock
from .test_e2e_openssh_helpdesk import signed_in
from .test_e2e_tickets import assert_fits

QUESTION = "Votre avis (1 à 5) :"
REFUSED = "Votre avis est un chiffre de 1 à 5 (ou « p » pour passer)."
FIELD_HINTS = "Entrée : valider · Échap : annuler"
MONDAY = datetime(2026, 12, 21, 9, 0)


async def rows(database) -> list:
    async with database.transaction() as conn:
        query = sa.select(ratings).order_by(ratings.c.ticket_id)
        return [(r.ticket_id, r.note, r.commentaire, bool(r.passe)) for r in await conn.execute(query)]


async def rated_entries(database, ticket_id: int) -> list:
    async with database.transaction() as conn:
        query = sa.select(history.c.acteur_nom, history.c.details).where(
            history.c.ticket_id == ticket_id, history.c.action == "avis"
        )
        return [tuple(r) for r in await conn.execute(query)]


def field_line(c) -> str:
    """The line under the question, where the score is typed."""
    lines = c.text().splitlines()
    return next(lines[i + 1] for i, line in enumerate(lines) if QUESTION in line)


async def logged_in_asked(port: int, clients: list, email: str) -> OpenSSHClient:
    """Logged in with the real client, stopped at the question asked before the main menu."""
    c = await OpenSSHClient.start(port, email)
    clients.append(c)
    await c.wait_for("Mot de passe / password:")
    c.send(PASSWORD + ENTER)
    await c.wait_for(QUESTION)
    return c


async def test_asked_live_when_an_admin_resolves_answered_once_and_in_json(
    service, clients, services, database, alice, admin
):
    ticket_id = await context_for(services, alice).create_ticket("Wi-Fi coupé", "Salle 3.", "Moyenne")
    learner = await signed_in(service.port, clients, "alice@example.org")
    learner.send("2")
    await learner.wait_for("Wi-Fi coupé")
    learner.send(f"{ticket_id}" + ENTER)
    await learner.wait_for("Statut : En attente", "Répondre")
    assert QUESTION not in learner.text()

    # Resolved while she reads it: the question comes at once, with no score typed for her.
    await context_for(services, admin).change_status(ticket_id, Status.RESOLVED)
    screen = await learner.wait_for(f"Ticket #{ticket_id} : votre avis", QUESTION, "« p » ou Échap : passer")
    assert_fits(learner, FIELD_HINTS, f"Ticket #{ticket_id} : Wi-Fi coupé (Résolu)")
    assert f"{QUESTION} 1" not in screen and f"{QUESTION} 5" not in screen
    learner.send("4" + ENTER)
    await learner.wait_for("Commentaire (facultatif) :", "Votre avis (1 à 5) : 4")
    learner.send("Rapide, merci." + ENTER)
    await learner.wait_for("Merci pour votre avis (4/5).", "Statut : Résolu", "Le problème persiste")
    assert await rows(database) == [(ticket_id, 4, "Rapide, merci.", False)]
    assert await rated_entries(database, ticket_id) == [("Alice Ndiaye", "4")]

    # Opened again: never asked twice.
    learner.send("0")
    await learner.wait_for("Mes tickets", "Wi-Fi coupé")
    learner.send(f"{ticket_id}" + ENTER)
    await learner.wait_for("Statut : Résolu", "Le problème persiste")
    assert QUESTION not in learner.text()

    # Admins read it in `tickets show --json` too, as does she.
    r = await ssh_command(service.port, "admin@example.org", "tickets", "show", str(ticket_id), "--json")
    assert json.loads(r.out)["rating"] == {"score": 4, "comment": "Rapide, merci."}
    r = await ssh_command(service.port, "alice@example.org", "tickets", "show", str(ticket_id), "--json")
    assert json.loads(r.out)["rating"] == {"score": 4, "comment": "Rapide, merci."}
    assert await count(database, ratings) == 1


async def test_an_admin_reads_the_rating_on_the_ticket(service, clients, services, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket("Projecteur", "Salle 12.", "Haute")
    await context_for(services, admin).change_status(ticket_id, Status.RESOLVED)
    await context_for(services, alice).rate(ticket_id, 2, "Trop long à venir.")
    # Nothing asked of him at login: the main menu at once.
    staff = await signed_in(service.port, clients, "admin@example.org")
    assert QUESTION not in staff.text()
    await choose(staff, "Tous les tickets")
    await staff.wait_for("Numéro du ticket")
    staff.send(f"{ticket_id}" + ENTER)
    await staff.wait_for(
        "Ticket #1 — Projecteur",
        "Avis du demandeur : 2/5 — « Trop long à venir. »",
        "avis du demandeur : 2/5",
        "1. Changer le statut",
    )
    assert QUESTION not in staff.text()


async def test_refused_out_of_range_then_skipped_on_opening_and_never_asked_again(
    service, clients, services, database, alice, admin
):
    ticket_id = await context_for(services, alice).create_ticket("Souris", "Elle saute.", "Faible")
    learner = await signed_in(service.port, clients, "alice@example.org")
    # Resolved while she is elsewhere: asked when she opens it.
    await context_for(services, admin).change_status(ticket_id, Status.RESOLVED)
    await learner.wait_for(f"Votre ticket #{ticket_id} est passé à Résolu")
    learner.send("2")
    await learner.wait_for("Souris")
    learner.send(f"{ticket_id}" + ENTER)
    await learner.wait_for(QUESTION)
    learner.send(ENTER)  # no default: Enter alone is no answer
    await learner.wait_for(REFUSED)
    for wrong in ("6", "0", "quatre"):
        learner.send(wrong + ENTER)
        # Refused, and given back in the field for correction: erased before the next try.
        await until(lambda w=wrong: REFUSED in learner.text() and f" {w}" in field_line(learner))
        assert await count(database, ratings) == 0
        learner.send("\x7f" * len(wrong))
        await until(lambda: field_line(learner).strip() == "")
    learner.send("p" + ENTER)
    await learner.wait_for("Question passée : elle ne vous sera plus posée.", "Statut : Résolu")
    assert await rows(database) == [(ticket_id, None, None, True)]
    assert await rated_entries(database, ticket_id) == []

    learner.send("0")
    await learner.wait_for("Mes tickets", "Souris")
    learner.send(f"{ticket_id}" + ENTER)
    await learner.wait_for("Statut : Résolu", "Le problème persiste")
    assert QUESTION not in learner.text()
    # Logged in again: straight to the main menu.
    again = await signed_in(service.port, clients, "alice@example.org")
    assert QUESTION not in again.text()
    r = await ssh_command(service.port, "alice@example.org", "tickets", "show", str(ticket_id), "--json")
    assert json.loads(r.out)["rating"] is None


async def test_asked_at_the_next_login_for_resolved_and_closed_tickets(
    service, clients, services, database, alice, admin
):
    learner_ctx, staff = context_for(services, alice), context_for(services, admin)
    first = await learner_ctx.create_ticket("Clavier", "Touches collées.", "Faible")
    second = await learner_ctx.create_ticket("Écran", "Il clignote.", "Moyenne")
    still_open = await learner_ctx.create_ticket("Câble", "Trop court.", "Faible")
    await staff.change_status(first, Status.RESOLVED)
    await staff.change_status(second, Status.RESOLVED)
    async with database.transaction() as conn:  # closed by the service, never asked
        closed_id = (await conn.execute(sa.text("SELECT id FROM statut WHERE libelle = 'Fermé'"))).scalar()
        await conn.execute(tickets.update().where(tickets.c.id == first).values(statut_id=closed_id))

    learner = await logged_in_asked(service.port, clients, "alice@example.org")
    # Newest first, one screen each, before the main menu.
    await learner.wait_for(f"Ticket #{second} : votre avis", "Écran (Résolu)")
    assert "Menu principal" not in learner.text()
    learner.send(ESC)
    await learner.wait_for(f"Ticket #{first} : votre avis", "Clavier (Fermé)", QUESTION)
    learner.send("5" + ENTER)
    await learner.wait_for("Commentaire (facultatif) :")
    learner.send(ENTER)
    await learner.wait_for("Menu principal", "Merci pour votre avis (5/5).")
    assert await rows(database) == [(first, 5, None, False), (second, None, None, True)]
    assert still_open not in {r[0] for r in await rows(database)}

    again = await signed_in(service.port, clients, "alice@example.org")
    assert QUESTION not in again.text()
    again.send("2")
    await again.wait_for("Écran", "Clavier")
    again.send(f"{second}" + ENTER)
    await again.wait_for("Statut : Résolu", "Le problème persiste")
    assert QUESTION not in again.text()


async def test_asked_line_by_line_at_login(service, services, database, alice, admin):
    ticket_id = await context_for(services, alice).create_ticket("Imprimante", "Bourrage.", "Haute")
    await context_for(services, admin).change_status(ticket_id, Status.RESOLVED)
    proc = await ssh_process(service.port, "alice@example.org", "menus")
    e = Expect(proc)
    shown = await e.expect(f"{QUESTION} ")
    assert f"== Ticket #{ticket_id} : votre avis ==" in shown and "« p » ou Échap : passer" in shown
    e.type("7")
    assert REFUSED in await e.expect(f"{QUESTION} ")
    e.type("3")
    await e.expect("Commentaire (facultatif) : ")
    e.type("Correct.")
    shown = await e.expect("Votre choix : ")
    assert "== Menu principal ==" in shown and "Merci pour votre avis (3/5)." in shown
    proc.stdin.close()
    await proc.wait()
    assert await rows(database) == [(ticket_id, 3, "Correct.", False)]


async def test_only_the_requester_rates_once_and_the_database_holds_to_it(
    services, database, alice, bob, admin
):
    learner, other, staff = (context_for(services, u) for u in (alice, bob, admin))
    ticket_id = await learner.create_ticket("Casque", "Grésille.", "Faible")
    with pytest.raises(Forbidden):  # not resolved yet
        await learner.rate(ticket_id, 4)
    await staff.change_status(ticket_id, Status.RESOLVED)
    with pytest.raises(NotFound):  # someone else's ticket: as if it did not exist
        await other.rate(ticket_id, 5)
    with pytest.raises(NotFound):
        await other.skip_rating(ticket_id)
    with pytest.raises(Forbidden):  # nobody answers for her, admins included
        await staff.rate(ticket_id, 5)
    assert not other.survey_due(await learner.ticket(ticket_id))
    for wrong, comment in (("6", ""), ("0", ""), ("", ""), ("4", "x" * 501), ("4", "ligne\x1bÉchap")):
        with pytest.raises(ValidationError):
            await learner.rate(ticket_id, wrong, comment)
    assert await count(database, ratings) == 0
    await learner.rate(ticket_id, "4", "  Bien.  ")
    with pytest.raises(ValidationError, match="déjà donné votre avis"):
        await learner.skip_rating(ticket_id)
    assert await rows(database) == [(ticket_id, 4, "Bien.", False)]

    # The database itself: one row per ticket, a score within 1..5, a skip without one.
    second = await learner.create_ticket("Chaise", "Cassée.", "Faible")
    now = datetime(2026, 12, 1)
    for values in (
        {"ticket_id": ticket_id, "note": 5, "passe": False},
        {"ticket_id": second, "note": 6, "passe": False},
        {"ticket_id": second, "note": None, "passe": False},
        {"ticket_id": second, "note": 3, "passe": True},
    ):
        # MariaDB names a failed CHECK an OperationalError (4025); straight on the engine, so
        # that the service's outage detection is not the one asked.
        refused = r"ck_avis_note|ck_avis_passe|CHECK constraint|UNIQUE|Duplicate"
        with pytest.raises((sa.exc.IntegrityError, sa.exc.OperationalError), match=refused):
            async with database.engine.begin() as conn:
                await conn.execute(ratings.insert().values(utilisateur_id=alice.id, created_at=now, **values))
    assert await count(database, ratings) == 1


async def test_the_dashboard_counts_30_days_of_ratings_and_tickets_by_category(
    service, clients, services, database, alice, admin
):
    clock = Clock(MONDAY - timedelta(days=40))
    moved(service, clock)
    frozen = dataclasses.replace(services, clock=clock)
    learner, staff = context_for(frozen, alice), context_for(frozen, admin)
    hardware = CATEGORY_NAMES.index("Matériel") + 1
    wifi = CATEGORY_NAMES.index("Réseau / Wi-Fi") + 1

    async def rated(score: int | None, category: int | None) -> None:
        ticket_id = await learner.create_ticket("Panne", "Rien.", "Faible", category_id=category)
        await staff.change_status(ticket_id, Status.RESOLVED)
        await (learner.skip_rating(ticket_id) if score is None else learner.rate(ticket_id, score))

    await rated(1, wifi)  # 40 days ago: neither its rating nor its ticket counts
    clock.now = MONDAY - timedelta(days=3)
    await rated(4, hardware)
    await rated(5, hardware)
    await rated(None, wifi)  # a skip: no answer to count
    await learner.create_ticket("Sans catégorie", "Rien.", "Faible")

    clock.now = MONDAY
    c = await signed_in(service.port, clients, "admin@example.org")
    await choose(c, "Tableau de bord")
    screen = await c.wait_for("Tableau de bord", "Avis sur 30 jours :", "1. Actualiser")
    assert_fits(
        c,
        "Chiffre ou ↑↓ Entrée : choisir · 0/Échap : retour",
        "Tickets ouverts : 1",
        "2 réponse(s) · moyenne 4,5/5",
        "Tickets par catégorie (30 j) :",
        "Matériel                     2",
        "Réseau / Wi-Fi               1",
        "sans catégorie               1",
        "Tickets créés par jour, 14 derniers jours :",
    )
    # The chart's 14 days are all there beside it, today (the moved clock's) last.
    days = [
        row
        for row in screen.splitlines()
        if row[1:5] in {"lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."}
    ]
    assert len(days) == 14 and days[-1].startswith(" lun. 21/12"), screen
    board = await staff.dashboard()
    assert (board.ratings, board.average_rating) == (2, 4.5)
    assert dict(board.by_category) == {"Matériel": 2, "Réseau / Wi-Fi": 1, None: 1}
