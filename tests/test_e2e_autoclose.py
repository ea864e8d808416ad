"""Automatic closing over real SSH on both databases, with a moved clock: a resolved ticket left
unanswered by its requester for tickets.autoclose_days is closed by the service (`Fermé`, one
history entry by the service, a live notice), not a minute before; her answer meanwhile starts
the days again; two services on one database close it once; a closed ticket takes no reply."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.app import Service
from server.config import Settings, TicketSettings
from server.config_checks import check
from server.domain.models import Status
from server.errors import ConfigError, Forbidden, UserError
from server.store.schema import history, outbox, tickets, users

from .conftest import context_for, count
from .mailbox import relay
from .sshclient import CTRL_D, ENTER, ESC
from .sshcommand import ssh_command
from .test_e2e_accounts import choose
from .test_e2e_due_pause import Clock, connected

MONDAY = datetime(2026, 12, 21, 9, 0)
CLOSED = "fermeture_auto"


def moved(service: Service, clock: Clock) -> None:
    """Every session the service opens from now on, and its closing, read `clock`."""
    service.services = dataclasses.replace(service.services, clock=clock)


async def resolved_ticket(frozen, alice, admin, title: str) -> int:
    ticket_id = await context_for(frozen, alice).create_ticket(title, "Rien ne va.", "Moyenne")
    await context_for(frozen, admin).change_status(ticket_id, Status.RESOLVED)
    return ticket_id


async def status_of(database, ticket_id: int) -> str:
    ctx_row = sa.select(tickets.c.statut_id).where(tickets.c.id == ticket_id)
    async with database.transaction() as conn:
        status_id = (await conn.execute(ctx_row)).scalar_one()
        return (
            await conn.execute(sa.text("SELECT libelle FROM statut WHERE id = :i"), {"i": status_id})
        ).scalar_one()


def test_the_days_are_checked():
    check(Settings())
    assert Settings().tickets.autoclose_days == 7
    for wrong in (TicketSettings(autoclose_days=0), TicketSettings(autoclose_interval=0)):
        with pytest.raises(ConfigError):
            check(dataclasses.replace(Settings(), tickets=wrong))


async def test_a_resolved_ticket_left_unanswered_seven_days_is_closed(
    service, clients, services, database, alice, admin
):
    clock = Clock(MONDAY)
    moved(service, clock)
    frozen = dataclasses.replace(services, clock=clock)
    quiet = await resolved_ticket(frozen, alice, admin, "Imprimante")
    answered = await resolved_ticket(frozen, alice, admin, "Wi-Fi")

    # Thursday: she answers on the second one (a thank-you, it stays resolved).
    clock.now = MONDAY + timedelta(days=3)
    learner = await connected(service, clients, "alice@example.org")
    learner.send("2")
    await learner.wait_for("Imprimante", "Wi-Fi")
    learner.send(f"{answered}" + ENTER)
    await choose(learner, "Répondre")
    await learner.wait_for("Réponse :")
    learner.send("Merci, ça marche." + CTRL_D)
    await learner.wait_for("Réponse envoyée.")
    await learner.wait_for("Statut : Résolu")
    learner.send("0")
    await learner.wait_for("Imprimante")
    learner.send(f"{quiet}" + ENTER)
    await learner.wait_for("Statut : Résolu", "Le problème persiste")

    # A minute short of seven days: nothing closes.
    clock.now = MONDAY + timedelta(days=7, minutes=-1)
    assert await service.closer.look() == []
    clock.now = MONDAY + timedelta(days=7, minutes=1)
    assert await service.closer.look() == [quiet]
    screen = await learner.wait_for(
        f"Votre ticket #{quiet} est passé à Fermé", "Statut : Fermé", "fermé automatiquement"
    )
    await learner.wait_gone("Le problème persiste")
    screen = learner.text()
    assert "Répondre" not in screen and "Le problème persiste" not in screen, screen
    assert await status_of(database, answered) == "Résolu"
    # Three days after her answer: the second one closes in turn.
    clock.now = MONDAY + timedelta(days=10, minutes=1)
    assert await service.closer.look() == [answered]

    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(history).where(history.c.action == CLOSED))).all()
    assert sorted((r.ticket_id, r.acteur_id, r.acteur_nom, r.details) for r in rows) == [
        (quiet, None, "Service", "7"),
        (answered, None, "Service", "7"),
    ]

    # No more replies, from any door, in one sentence.
    r = await ssh_command(
        service.port, "alice@example.org", "tickets", "reply", str(quiet), stdin=b"Encore ?"
    )
    assert (r.status, r.err) == (2, "Ce ticket est fermé : il ne reçoit plus de réponse.\n")
    r = await ssh_command(service.port, "admin@example.org", "tickets", "status", str(quiet), "En cours")
    assert r.err == "Ce ticket est fermé : il ne reçoit plus de réponse.\n"
    r = await ssh_command(service.port, "admin@example.org", "tickets", "status", str(answered), "Fermé")
    assert (r.status, r.err) == (1, "Seul le service ferme un ticket, après des jours sans réponse.\n")
    shown = json.loads(
        (await ssh_command(service.port, "alice@example.org", "tickets", "show", "--json", str(quiet))).out
    )
    assert shown["status"] == "Fermé"
    assert shown["history"][-1] | {"at": None} == {
        "at": None, "actor": "Service", "action": CLOSED, "old_status": "Résolu",
        "new_status": "Fermé", "details": "7", "internal": False,
    }  # fmt: skip
    learner_ctx = context_for(frozen, alice)
    for attempt in (learner_ctx.reply(quiet, "Encore ?"), learner_ctx.reopen(quiet, "Toujours pas.")):
        with pytest.raises(Forbidden):
            await attempt
    assert await count(database, history, history.c.ticket_id == quiet) == 3


async def test_two_services_on_one_database_close_a_ticket_once(
    service, settings, services, database, alice, admin
):
    clock = Clock(MONDAY)
    frozen = dataclasses.replace(services, clock=clock)
    ticket_ids = [await resolved_ticket(frozen, alice, admin, f"Salle {n}") for n in range(5)]
    other = Service(settings)
    await other.start()
    try:
        clock.now = MONDAY + timedelta(days=8)
        moved(service, clock)
        moved(other, clock)
        mine, theirs = await asyncio.gather(service.closer.look(), other.closer.look())
    finally:
        await other.stop(grace=2)
    assert sorted(mine + theirs) == ticket_ids
    assert await count(database, history, history.c.action == CLOSED) == 5


async def test_the_requester_opens_a_follow_up_that_names_the_closed_ticket(
    service, clients, services, database, alice, bob, admin
):
    clock = Clock(MONDAY)
    moved(service, clock)
    frozen = dataclasses.replace(services, clock=clock)
    old = await resolved_ticket(frozen, alice, admin, "Imprimante")
    clock.now = MONDAY + timedelta(days=8)
    assert await service.closer.look() == [old]
    # Nobody else follows it up, and an open ticket is not followed up.
    with pytest.raises(UserError):
        await context_for(frozen, bob).create_ticket("Suite", "x", "Faible", follows=old)
    learner = await connected(service, clients, "alice@example.org")
    learner.send("2")
    await learner.wait_for("Imprimante")
    learner.send(f"{old}" + ENTER)
    await choose(learner, "Ouvrir un ticket de suite")
    await learner.wait_for(f"Suite du ticket #{old} : Imprimante")
    learner.send(ENTER)
    await choose(learner, "Matériel")
    await learner.wait_for("Description")
    learner.send("Elle bourre encore." + CTRL_D)
    await learner.wait_for("Urgence :")
    learner.send(ENTER)
    screen = await learner.wait_for("créé.", f"Suite du ticket #{old} : Imprimante")
    # Named on its own line of the head too, not only in the title.
    assert (
        f"\nSuite du ticket #{old}\n" in "\n" + "\n".join(line.strip() for line in screen.splitlines()) + "\n"
    )
    async with database.transaction() as conn:
        new, follows = (
            await conn.execute(
                sa.select(tickets.c.id, tickets.c.suite_de).where(tickets.c.suite_de.is_not(None))
            )
        ).one()
    assert follows == old and f"Ticket #{new} — Suite du ticket #{old} : Imprimante" in screen
    learner.send(ESC)
    screen = await learner.wait_for(f"Suivi par le ticket #{new}", "Statut : Fermé")
    assert "Ouvrir un ticket de suite" not in screen
    with pytest.raises(UserError):
        await context_for(frozen, alice).create_ticket("Encore", "x", "Faible", follows=old)
    shown = json.loads(
        (await ssh_command(service.port, "alice@example.org", "tickets", "show", "--json", str(old))).out
    )
    assert (shown["follow_up"], shown["follows"]) == (new, None)


# The requester's mail about the closing: a real relay (aiosmtpd), the whole service's clock moved.


def moved_with_mail(service: Service, clock: Clock) -> None:
    moved(service, clock)
    service.mailer.clock = clock


async def outbox_empty(database) -> None:
    async def waiting() -> int:
        return await count(database, outbox, outbox.c.sent_at.is_(None))

    for _ in range(500):
        if await waiting() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("mail still waiting for the relay")


def closing_mail(mailbox, ticket_id: int) -> list:
    return [m for m in mailbox.messages() if m["Subject"].startswith(f"[Support #{ticket_id}]")]


async def test_the_requester_is_told_by_mail_of_the_closing_unless_she_chose_none(
    mail_service, mailbox, services, database, alice, bob, admin
):
    clock = Clock(MONDAY)
    frozen = dataclasses.replace(services, clock=clock)  # no relay: only the closing's mail
    hers = await resolved_ticket(frozen, alice, admin, "Imprimante")
    his = await resolved_ticket(frozen, bob, admin, "Wi-Fi")
    async with database.transaction() as conn:
        await conn.execute(users.update().values(email_verifie=True))
        await conn.execute(users.update().where(users.c.id == bob.id).values(notifications="rien"))
    moved_with_mail(mail_service, clock)
    clock.now = MONDAY + timedelta(days=8)
    assert sorted(await mail_service.closer.look()) == sorted([hers, his])
    await outbox_empty(database)
    [message] = mailbox.messages()
    assert message["To"].addresses[0].addr_spec == "alice@example.org"
    assert message["Subject"] == f"[Support #{hers}] Imprimante"
    text = message.get_content().replace("\r\n", "\n")
    assert f"Du nouveau sur le ticket #{hers} « Imprimante » :" in text
    assert "fermé automatiquement : Résolu → Fermé, sans réponse depuis 7 jours" in text


async def test_the_closing_mail_is_in_the_requesters_language_and_sent_once_by_two_services(
    mail_service, mailbox, settings, services, database, alice, admin
):
    clock = Clock(MONDAY)
    frozen = dataclasses.replace(services, clock=clock)
    ticket_ids = [await resolved_ticket(frozen, alice, admin, f"Salle {n}") for n in range(3)]
    async with database.transaction() as conn:
        await conn.execute(users.update().values(email_verifie=True))
        await conn.execute(users.update().where(users.c.id == alice.id).values(langue="en"))
    other = Service(dataclasses.replace(settings, mail=relay(mailbox)))
    await other.start()
    try:
        clock.now = MONDAY + timedelta(days=8)
        moved_with_mail(mail_service, clock)
        moved_with_mail(other, clock)
        mine, theirs = await asyncio.gather(mail_service.closer.look(), other.closer.look())
        assert sorted(mine + theirs) == ticket_ids
        await outbox_empty(database)
        await asyncio.sleep(0.3)  # both senders have looked again: nothing more goes
    finally:
        await other.stop(grace=2)
    assert len(mailbox.messages()) == 3
    for n, ticket_id in enumerate(ticket_ids):
        [message] = closing_mail(mailbox, ticket_id)
        text = message.get_content().replace("\r\n", "\n")
        assert message["To"].addresses[0].addr_spec == "alice@example.org"
        assert f"News on ticket #{ticket_id} “Salle {n}”:" in text, text
        assert "closed automatically: Resolved → Closed, no answer for 7 days" in text, text
