"""Mail a person receives, end to end: the real server over SSH, a real SMTP server (aiosmtpd)
as the relay. Verified addresses, a reset code by mail, notifications of a ticket's news."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time

import pytest
import sqlalchemy as sa

from server.app import Service
from server.audit import AuditEvent
from server.context import SessionContext
from server.domain.models import Action, Role
from server.errors import Throttled
from server.i18n import Language, speaking
from server.store import utcnow
from server.store.schema import audit_log, tickets, users
from server.store.schema import outbox as outbox_table

from .conftest import PASSWORD, count, make_user, until
from .mailbox import relay
from .sshclient import ENTER, Client, ScreenReader
from .test_e2e_accounts import MENU_HINTS, choose
from .test_e2e_recovery import DONE, NEW
from .test_e2e_tickets import WELCOME, assert_fits, wait_sentence
from .test_throttle import Clock, stamp

CODE = re.compile(r"^    ([A-Z0-9]{4}(?:-[A-Z0-9]{1,4})+)$", re.M)


def code_in(message) -> str:
    return CODE.search(body(message)).group(1)


def body(message) -> str:
    return message.get_content().replace("\r\n", "\n")


async def verified(database, *people) -> None:
    async with database.transaction() as conn:
        for p in people:
            await conn.execute(users.update().where(users.c.id == p.id).values(email_verifie=True))


async def connect(svc, clients, email: str | None = None) -> Client:
    c = await Client.connect(svc.port, email or "support", PASSWORD if email else None)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket" if email else WELCOME[0])
    return c


@pytest.fixture
async def mail_clients(mail_service):
    opened: list[ScreenReader] = []
    yield opened
    for c in opened:
        await c.close()
    await until(lambda: not mail_service.terminals, 5, fail=False)


async def test_registration_sends_a_code_that_verifies_the_address(
    mail_service, mail_clients, mailbox, database
):
    c = await connect(mail_service, mail_clients)
    c.send("2")
    for label, value in [
        ("Nom :", "Fatou Sow"),
        ("E-mail :", "fatou.sow@example.org"),
        ("Mot de passe :", "motdepasse-1"),
        ("Confirmation :", "motdepasse-1"),
    ]:
        await c.wait_for(label)
        c.send(value + ENTER)
    await c.wait_for("Compte créé. Bienvenue, Fatou Sow !")
    await until(lambda: len(mailbox.messages()) == 1)
    [message] = mailbox.messages()
    assert message["To"].addresses[0].addr_spec == "fatou.sow@example.org"
    assert message["Subject"] == "Support technique : code de vérification de votre adresse"
    code = code_in(message)
    assert f"ssh -p {mail_service.port} support@" in body(message)

    await choose(c, "Mon compte")
    await c.wait_for("E-mail vérifié : non", "Vérifier mon e-mail")
    await choose(c, "Vérifier mon e-mail")
    await c.wait_for("Code :", "Envoyé à : fatou.sow@example.org")
    c.send("ZZZZ-ZZZZ" + ENTER)
    await wait_sentence(c, "Code incorrect.")
    await choose(c, "Vérifier mon e-mail")
    await c.wait_for("Code :")
    c.send(code.lower() + ENTER)
    await c.wait_for("Adresse vérifiée : fatou.sow@example.org.", "E-mail vérifié : oui")
    assert "Vérifier mon e-mail" not in c.text()
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.email_verifie))).scalar() is True
    assert await count(database, audit_log, audit_log.c.evenement == AuditEvent.EMAIL_VERIFIED.value) == 1


async def test_status_change_and_reply_reach_the_requester_never_the_internal_note(
    mail_service, mailbox, database, alice, admin
):
    await verified(database, alice)
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    learner = SessionContext(mail_service.services, "127.0.0.1:lab", alice)
    number = await learner.create_ticket("Vidéoprojecteur", "Salle B204.", "Haute")
    # A title stored before titles refused line breaks.
    async with database.transaction() as conn:
        await conn.execute(tickets.update().values(titre="Vidéoprojecteur\r\nBcc: x@evil.example"))
    assert mailbox.messages() == []  # her own action is not news to her

    started = time.monotonic()
    await staff.change_status(number, "En cours")
    await until(lambda: len(mailbox.messages()) == 1, 15)
    print(f"status change to mailbox: {time.monotonic() - started:.3f} s")
    await staff.add_note(number, "Note interne : lampe commandée chez le fournisseur X.")
    await staff.reply(number, "Lampe changée, pouvez-vous vérifier ?")
    await until(lambda: len(mailbox.messages()) == 2, 15)
    first, second = mailbox.messages()
    for m in (first, second):
        assert m["To"].addresses[0].addr_spec == "alice@example.org"
        assert m["Subject"] == f"[Support #{number}] Vidéoprojecteur Bcc: x@evil.example"
        assert m["Bcc"] is None
        assert "fournisseur X" not in body(m) and "Note interne" not in body(m)
    assert "Bonjour Alice Ndiaye," in body(first)
    assert "statut : En attente → En cours" in body(first)
    assert "réponse :" in body(second) and "    Lampe changée, pouvez-vous vérifier ?" in body(second)
    assert f"ssh -p {mail_service.port} support@" in body(second)
    await asyncio.sleep(0.5)
    assert len(mailbox.messages()) == 2


@pytest.mark.parametrize("group_window", [2])
async def test_events_within_the_window_make_one_message(mail_service, mailbox, database, alice, admin):
    await verified(database, alice)
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    number = await SessionContext(mail_service.services, "127.0.0.1:lab", alice).create_ticket(
        "Wi-Fi", "Coupé.", "Haute"
    )
    await staff.change_status(number, "En cours")
    await staff.add_note(number, "Note interne : borne du 2e étage à remplacer.")
    await staff.reply(number, "Borne redémarrée.")
    await staff.change_status(number, "Résolu")
    await until(lambda: len(mailbox.messages()) == 1, 15)
    await asyncio.sleep(2.5)
    [message] = mailbox.messages()
    text = body(message)
    assert "statut : En attente → En cours" in text and "Borne redémarrée." in text
    assert "statut : En cours → Résolu" in text
    assert "2e étage" not in text and "note" not in text.lower()
    assert await count(database, outbox_table) == 1


async def test_no_mail_to_an_unverified_address_or_to_who_chose_none(
    mail_service, mailbox, database, alice, bob, admin
):
    await verified(database, bob)
    await SessionContext(mail_service.services, "127.0.0.1:x", bob).set_notifications("rien")
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    for person in (alice, bob):
        number = await SessionContext(mail_service.services, "127.0.0.1:x", person).create_ticket(
            "Souris", "Cassée.", "Faible"
        )
        await staff.change_status(number, "En cours")
        await staff.reply(number, "Je passe.")
    await asyncio.sleep(1)
    assert mailbox.messages() == [] and await count(database, outbox_table) == 0


async def test_admins_who_chose_everything_hear_of_new_and_assigned_tickets(
    mail_service, mailbox, database, alice, admin
):
    await verified(database, admin, alice)
    other = await make_user(mail_service.services, "chef@example.org", "Chef Admin", Role.ADMIN)
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    await staff.set_notifications("tout")
    number = await SessionContext(mail_service.services, "127.0.0.1:lab", alice).create_ticket(
        "Imprimante", "Bourrage.", "Moyenne"
    )
    await until(lambda: len(mailbox.messages()) == 1, 15)
    [created] = mailbox.messages()
    assert created["To"].addresses[0].addr_spec == "admin@example.org"
    assert "ticket créé (En attente, urgence Moyenne)" in body(created)
    await SessionContext(mail_service.services, "127.0.0.1:chef", other).assign(number, admin.id)
    await until(lambda: len(mailbox.messages()) == 2, 15)
    assigned = mailbox.messages()[1]
    assert assigned["To"].addresses[0].addr_spec == "admin@example.org"
    assert "Chef Admin — assigné à Awa Admin" in body(assigned)
    # The requester hears of neither: they are not replies nor status changes.
    assert all(m["To"].addresses[0].addr_spec != "alice@example.org" for m in mailbox.messages())
    # Her reply on the ticket the admin has in hand reaches the admin.
    await SessionContext(mail_service.services, "127.0.0.1:lab", alice).reply(number, "Toujours bloquée.")
    await until(lambda: len(mailbox.messages()) == 3, 15)
    news = mailbox.messages()[2]
    assert news["To"].addresses[0].addr_spec == "admin@example.org" and "Toujours bloquée." in body(news)


async def test_a_change_that_rolls_back_queues_nothing(mail_service, mailbox, database, alice, admin):
    await verified(database, alice)
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    number = await SessionContext(mail_service.services, "127.0.0.1:lab", alice).create_ticket(
        "Clavier", "Touches.", "Faible"
    )

    async def reply_then_fail(conn):
        await staff._write_history(conn, number, Action.REPLY, None, None, "Jamais envoyé.", utcnow())
        assert await conn.scalar(sa.select(sa.func.count()).select_from(outbox_table)) == 1
        raise RuntimeError("the rest of the change failed")

    with pytest.raises(RuntimeError):
        await staff.write(reply_then_fail)
    await asyncio.sleep(1)
    assert await count(database, outbox_table) == 0 and mailbox.messages() == []


async def test_relay_stopped_during_a_status_change_then_started_the_message_arrives_once(
    mail_service, mailbox, database, alice, admin
):
    await verified(database, alice)
    staff = SessionContext(mail_service.services, "127.0.0.1:desk", admin)
    number = await SessionContext(mail_service.services, "127.0.0.1:lab", alice).create_ticket(
        "Écran", "Noir.", "Haute"
    )
    mailbox.stop()
    await staff.change_status(number, "En cours")
    for _ in range(100):
        async with database.transaction() as conn:
            row = (await conn.execute(sa.select(outbox_table))).one()
        if row.attempts:
            break
        await asyncio.sleep(0.05)
    assert row.sent_at is None and row.attempts >= 1 and row.last_error
    mailbox.start()
    await until(lambda: len(mailbox.messages()) == 1, 15)
    await asyncio.sleep(1.5)
    assert len(mailbox.messages()) == 1


async def test_reset_by_an_e_mailed_code_and_the_same_screen_for_an_unknown_address(
    mail_service, mail_clients, mailbox, database, alice
):
    await verified(database, alice)
    c = await connect(mail_service, mail_clients)
    screens = []
    for email in ("personne@example.org", "alice@example.org"):
        c.send("3")
        await c.wait_for("1. J'ai un code", "2. Recevoir un code par e-mail")
        c.send("2")
        await c.wait_for("E-mail :")
        c.send(email + ENTER)
        screens.append(await wait_sentence(c, "un code vient d'y être envoyé (valable 30 minutes)."))
        c.send("\x1b")
        await c.wait_for(*WELCOME)
    assert screens[0].replace("personne@example.org", "X") == screens[1].replace("alice@example.org", "X")
    await until(lambda: len(mailbox.messages()) == 1, 15)
    [message] = mailbox.messages()
    assert message["To"].addresses[0].addr_spec == "alice@example.org"
    assert message["Subject"] == "Support technique : code de réinitialisation du mot de passe"
    code = code_in(message)
    requested = AuditEvent.RESET_REQUESTED.value
    assert await count(database, audit_log, audit_log.c.evenement == requested) == 2

    c.send("3")
    await c.wait_for("1. J'ai un code")
    c.send("1")
    await c.wait_for("E-mail :")
    c.send("alice@example.org" + ENTER)
    await c.wait_for("Code :")
    c.send(code + ENTER)
    await c.wait_for("Nouveau mot de passe :")
    c.send(NEW + ENTER)
    await c.wait_for("Confirmation :")
    c.send(NEW + ENTER)
    await c.wait_for(DONE, *WELCOME)
    # Used once.
    c.send("3")
    await c.wait_for("1. J'ai un code")
    c.send("1")
    await reset_on_screen_after_menu(c, "alice@example.org", code)
    await c.wait_for("Ce code a déjà servi ou a expiré", *WELCOME)


async def reset_on_screen_after_menu(c: ScreenReader, email: str, code: str) -> None:
    await c.wait_for("E-mail :")
    c.send(email + ENTER)
    await c.wait_for("Code :")
    c.send(code + ENTER)
    await c.wait_for("Nouveau mot de passe :")
    c.send("encore-autre-1" + ENTER)
    await c.wait_for("Confirmation :")
    c.send("encore-autre-1" + ENTER)


async def test_an_unverified_address_gets_no_reset_code(mail_service, mail_clients, mailbox, database, alice):
    ctx = SessionContext(mail_service.services, "127.0.0.1:x")
    await ctx.request_reset_code("alice@example.org")
    await asyncio.sleep(0.5)
    assert mailbox.messages() == [] and await count(database, outbox_table) == 0


async def test_changing_the_e_mail_asks_the_password_and_the_new_addresss_code(
    mail_service, mail_clients, mailbox, database, alice
):
    await verified(database, alice)
    c = await connect(mail_service, mail_clients, "alice@example.org")
    await choose(c, "Mon compte")
    await c.wait_for("E-mail vérifié : oui")
    await choose(c, "Changer d'e-mail")
    await c.wait_for("Nouvel e-mail :")
    c.send("alice.ndiaye@campus.example" + ENTER)
    await c.wait_for("Mot de passe actuel :")
    c.send("pas-le-bon" + ENTER)
    await wait_sentence(c, "Mot de passe actuel incorrect.")
    await choose(c, "Changer d'e-mail")
    await c.wait_for("Nouvel e-mail :")
    c.send("alice.ndiaye@campus.example" + ENTER)
    await c.wait_for("Mot de passe actuel :")
    c.send(PASSWORD + ENTER)
    await wait_sentence(c, "Code envoyé à alice.ndiaye@campus.example")
    await c.wait_for(
        "Nouvelle adresse à vérifier : alice.ndiaye@campus.example", "E-mail : alice@example.org"
    )
    await until(lambda: len(mailbox.messages()) == 1, 15)
    [message] = mailbox.messages()
    assert message["To"].addresses[0].addr_spec == "alice.ndiaye@campus.example"
    await choose(c, "Vérifier mon e-mail")
    await c.wait_for("Code :", "Envoyé à : alice.ndiaye@campus.example")
    c.send(code_in(message) + ENTER)
    await c.wait_for(
        "Adresse vérifiée : alice.ndiaye@campus.example.", "E-mail : alice.ndiaye@campus.example"
    )
    assert await count(database, users, users.c.email == "alice.ndiaye@campus.example") == 1


async def test_without_a_relay_the_menus_say_so_and_nothing_is_queued(
    service, clients, database, alice, admin
):
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    clients.append(c)
    await choose(c, "Mon compte")
    await c.wait_for("Courriel : non configuré sur ce service")
    await choose(c, "Changer d'e-mail")
    await wait_sentence(c, "Le courriel n'est pas configuré sur ce service")
    number = await SessionContext(service.services, "127.0.0.1:x", alice).create_ticket("A", "B.", "Faible")
    await SessionContext(service.services, "127.0.0.1:y", admin).change_status(number, "En cours")
    assert await count(database, outbox_table) == 0


async def test_the_requester_reads_the_mail_in_the_language_of_her_account(
    mail_service, mailbox, database, alice, admin
):
    await verified(database, alice)
    async with database.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == alice.id).values(langue="en"))
    number = await SessionContext(mail_service.services, "127.0.0.1:lab", alice).create_ticket(
        "Imprimante", "Bourrage.", "Moyenne"
    )
    await SessionContext(mail_service.services, "127.0.0.1:desk", admin).change_status(number, "Résolu")
    await until(lambda: len(mailbox.messages()) == 1, 15)
    text = body(mailbox.messages()[0])
    assert text.startswith("Hello Alice Ndiaye,") and "status: Waiting → " in text
    assert "Bonjour" not in text and "To reply or follow the ticket: ssh -p" in text


def test_a_ticket_mail_in_english():
    from server.context.notifications import Recipient, ticket_text
    from server.domain.models import HistoryEntry, Status

    entry = HistoryEntry(
        1, "Awa Admin", Action.STATUS_CHANGED, Status.WAITING, Status.IN_PROGRESS, "", utcnow()
    )
    to = Recipient(1, "Alice", "alice@example.org", "en")
    subject, text = ticket_text(to, 7, "Printer", [entry], "ssh -p 2222 support@campus")
    assert subject == "[Support #7] Printer"
    assert "Hello Alice," in text and "status: Waiting → Ongoing" in text
    with speaking(Language("fr")):
        assert "Bonjour" in ticket_text(Recipient(1, "Alice", "a@b.org", None), 7, "P", [entry], "ssh")[1]


async def test_two_servers_on_one_database_send_each_notification_once(
    mail_service, mailbox, database, settings, admin
):
    other = Service(dataclasses.replace(settings, mail=relay(mailbox)))
    await other.start()
    try:
        learners = [
            await make_user(mail_service.services, f"learner{i}@example.org", f"Learner {i}")
            for i in range(12)
        ]
        await verified(database, *learners)
        for i, learner in enumerate(learners):
            front = (mail_service, other)[i % 2]
            number = await SessionContext(front.services, "127.0.0.1:lab", learner).create_ticket(
                f"Panne {i}", "Rien ne va.", "Faible"
            )
            await SessionContext(front.services, "127.0.0.1:desk", admin).change_status(number, "En cours")
        await until(lambda: len(mailbox.messages()) == 12, 20)
        await asyncio.sleep(1)
    finally:
        await other.stop(grace=2)
    recipients = sorted(m["To"].addresses[0].addr_spec for m in mailbox.messages())
    assert recipients == sorted(f"learner{i}@example.org" for i in range(12))
    assert await count(database, outbox_table, outbox_table.c.sent_at.is_not(None)) == 12


async def test_codes_asked_by_mail_are_throttled_like_logins(mail_service, mailbox, database, alice):
    await verified(database, alice)
    clock = Clock()
    mail_service.services = dataclasses.replace(mail_service.services, clock=clock)
    for _ in range(5):
        await SessionContext(mail_service.services, "127.0.0.1:x").request_reset_code("alice@example.org")
    await stamp(database, clock.now)
    with pytest.raises(Throttled):
        await SessionContext(mail_service.services, "127.0.0.1:x").request_reset_code("alice@example.org")
    assert await count(database, audit_log, audit_log.c.evenement == AuditEvent.RESET_THROTTLED.value) == 1
    clock.advance(2)
    await SessionContext(mail_service.services, "127.0.0.1:x").request_reset_code("alice@example.org")
    await until(lambda: len(mailbox.messages()) == 6, 15)


async def test_mon_compte_with_mail_fits_80x24(mail_service, mail_clients, database, alice):
    c = await connect(mail_service, mail_clients, "alice@example.org")
    await choose(c, "Mon compte")
    await c.wait_for("E-mail vérifié : non", "Notifications par e-mail : Réponses et changements de statut")
    assert_fits(
        c,
        MENU_HINTS,
        "Compte créé le : ",
        "5. Vérifier mon e-mail",
        "7. Notifications par e-mail",
        "0. Retour",
    )
    await choose(c, "Notifications par e-mail")
    await c.wait_for("1. Réponses et changements de statut", "2. Tout", "3. Rien")
    c.send("3")
    await wait_sentence(
        c, "Notifications par e-mail : Rien. (aucun courriel tant que l'adresse n'est pas vérifiée)"
    )
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.notifications))).scalar() == "rien"
