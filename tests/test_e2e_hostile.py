"""Hostile input over real SSH: terminal escapes, SQL metacharacters, broken bytes, vanishing clients."""

from __future__ import annotations

import contextlib

import asyncssh
import pytest
import sqlalchemy as sa

from server.audit import AuditEvent
from server.store.schema import audit_log, history, tickets, users

from .conftest import PASSWORD, until
from .journeys import file_ticket, login_in_app, pick_category
from .sshclient import CTRL_D, ENTER, ESC, Client

WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")

# A window-title change (OSC … BEL), a colour (CSI), and the same colour through the one-byte C1 CSI.
TITLE = "Panne \x1b]2;HACKED\x07 \x1b[31mrouge \x9b31m fin"
DESCRIPTION = "Première ligne \x1b]2;HACKED\x07\nDeuxième \x1b[31mrouge \x9b31m fin"
NAME = "N'Diaye \x1b]2;PWNED\x07Awa\x9b"
# What a terminal must never receive from another person's text.
FORBIDDEN = [b"\x1b]2;HACKED", b"\x1b]2;PWNED", b"\x07", "\x9b".encode(), b"\x1b[31mrouge"]


def assert_clean(c: Client) -> None:
    received = bytes(c.raw)
    for sequence in FORBIDDEN:
        assert sequence not in received, f"{sequence!r} reached the terminal"


async def connect(service, clients, email: str | None = None) -> Client:
    c = await Client.connect(service.port, email or "support", PASSWORD if email else None)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket" if email else "1. Se connecter")
    return c


async def new_ticket(c: Client, title: str, description: str, *, paste: bool = True) -> None:
    await file_ticket(c, title, description, "Haute", paste=paste)
    await c.wait_for("Ticket #1 créé.")


TITLE_REFUSED = "Le titre ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."
NAME_REFUSED = "Le nom ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."


async def test_escape_sequences_in_a_ticket_reach_nobody(service, clients, alice, admin, database):
    learner = await connect(service, clients, "alice@example.org")
    staff = await connect(service, clients, "admin@example.org")

    # A one-line title refuses them at once, with one sentence.
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.paste(TITLE)
    learner.send(ENTER)
    await learner.wait_for(TITLE_REFUSED)
    learner.send(ESC)
    await learner.wait_for("1. Nouveau ticket")
    assert_clean(learner)

    # A description keeps them, stored exactly as typed: made safe where it meets a terminal.
    await new_ticket(learner, "Panne", DESCRIPTION)
    # A title stored before the rule existed is still shown through the sanitiser.
    async with database.transaction() as conn:
        await conn.execute(sa.update(tickets).values(titre=TITLE))
        stored = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).one()
    assert tuple(stored) == (TITLE, DESCRIPTION)

    # The admin, connected all along, lists every ticket, then opens this one.
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Panne ␛]2;HACKED")
    assert_clean(staff)
    staff.send("1" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Panne", "Historique")
    assert "Ticket #1 — Panne ␛]2;HACKED␇ ␛[31mrouge �31m fin" in screen
    assert "Première ligne ␛]2;HACKED␇" in screen
    assert "Deuxième ␛[31mrouge �31m fin" in screen
    assert_clean(staff)

    # The author's own terminal, form included, got none of it either.
    screen = await learner.wait_for("Ticket #1 — Panne")
    assert "Deuxième ␛[31mrouge �31m fin" in screen
    assert_clean(learner)


async def test_control_characters_in_a_name_reach_nobody(service, clients, admin, database):
    staff = await connect(service, clients, "admin@example.org")
    guest = await connect(service, clients)
    guest.send("2")
    await guest.wait_for("Nom :")
    guest.paste(NAME)
    guest.send(ENTER)
    # Refused at the door with one sentence; corrected, the account is made.
    await guest.wait_for(NAME_REFUSED)
    guest.send("\x7f" * len(NAME) + "Awa Ndiaye" + ENTER)
    for label, value in [
        ("E-mail :", "awa.ndiaye@example.org"),
        ("Mot de passe :", PASSWORD),
        ("Confirmation :", PASSWORD),
    ]:
        await guest.wait_for(label)
        guest.send(value + ENTER)
    await guest.wait_for("Compte créé. Bienvenue, Awa Ndiaye !")
    assert_clean(guest)
    await new_ticket(guest, "Souris", "Elle ne clique plus.", paste=False)
    # A name stored before the rule existed is still shown through the sanitiser.
    async with database.transaction() as conn:
        await conn.execute(sa.update(users).where(users.c.email == "awa.ndiaye@example.org").values(nom=NAME))

    staff.send("3")
    # The list itself, not the main menu with the live notice of the new ticket.
    await staff.wait_for("Tous les tickets", "Souris", "Numéro du ticket")
    assert_clean(staff)
    staff.send("1" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Souris")
    assert "Auteur : N'Diaye ␛]2;PWNED␇Awa�" in screen
    assert_clean(staff)
    assert_clean(guest)


async def test_sql_metacharacters_are_stored_and_shown_literally(service, clients, alice, admin, database):
    title = "'; DROP TABLE tickets; --"
    description = "100% _sûr_ \\ %_\\ \"guillemets\" ' OR '1'='1"
    learner = await connect(service, clients, "alice@example.org")
    await new_ticket(learner, title, description)
    screen = await learner.wait_for(f"Ticket #1 — {title}")
    assert description in screen

    async with database.transaction() as conn:
        stored = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).one()
        assert (await conn.execute(sa.select(sa.func.count()).select_from(history))).scalar_one() == 1
    assert tuple(stored) == (title, description)

    staff = await connect(service, clients, "admin@example.org")
    staff.send("3")
    await staff.wait_for("Tous les tickets", "'; DROP TABLE tickets; --")

    # An "e-mail" made of SQL gets the ordinary refusal, in the app and at the SSH door.
    guest = await connect(service, clients)
    guest.send("1")
    await guest.wait_for("E-mail :")
    guest.send("' OR '1'='1' -- " + ENTER)
    await guest.wait_for("Mot de passe :")
    guest.send("' OR '1'='1" + ENTER)
    await guest.wait_for("E-mail ou mot de passe incorrect.", *WELCOME)
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "admin@example.org' --", "' OR 1=1 --")
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one() == 1


async def test_invalid_utf8_and_nul_bytes_break_nothing(service, clients, alice, database):
    junk = b"\xff\xfe\x00\xc3"
    guest = await connect(service, clients)
    guest.send(junk)
    guest.send("1")
    await guest.wait_for("Se connecter", "E-mail :")
    guest.send(junk + b"\x00")
    guest.send(ESC)
    await guest.wait_for(*WELCOME)

    # A logged-in session takes the same bytes in a menu and in a form, and goes on.
    learner = await connect(service, clients, "alice@example.org")
    learner.send(junk)
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send(b"Clavier " + junk + b" HS" + ENTER.encode())
    await pick_category(learner)
    await learner.wait_for("Description :")
    learner.send(b"Touches \xff mortes" + CTRL_D.encode())
    await learner.wait_for("1. Faible")
    learner.send("1")
    screen = await learner.wait_for("Ticket #1 créé.", "Ticket #1 — Clavier")
    async with database.transaction() as conn:
        title, description = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).one()
    # Undecodable bytes arrive as U+FFFD; NUL is Ctrl-Space, a key that does nothing here, and
    # what is typed after it is kept.
    assert title == "Clavier \ufffd\ufffd\ufffd HS"
    assert description == "Touches \ufffd mortes"
    assert "Touches � mortes" in screen

    # Both sessions still answer, and a newcomer still gets in.
    guest.send("2")
    await guest.wait_for("Créer un compte", "Nom :")
    newcomer = await connect(service, clients)
    assert "Bienvenue sur le support technique." in newcomer.text()


async def test_a_client_that_vanishes_mid_form_leaves_nothing_behind(service, clients, alice, database):
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    await c.wait_for("1. Nouveau ticket")
    c.send("1")
    await c.wait_for("Titre :")
    c.send("À moitié tapé")
    await c.wait_for("À moitié tapé")
    assert len(service.terminals) == 1
    # Gone without a word: the TCP connection drops.
    assert c.conn is not None
    c.conn.abort()
    with contextlib.suppress(Exception):
        await c.conn.wait_closed()

    # The server ends that session instead of keeping it waiting for keys forever…
    await until(lambda: not service.terminals)
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one() == 0
    # …and serves the next person as usual.
    other = await Client.connect(service.port, "alice@example.org", PASSWORD)
    clients.append(other)
    await other.wait_for("1. Nouveau ticket")


async def test_a_huge_paste_is_refused_and_no_one_waits(service, clients, alice, database):
    """1 MiB pasted into a field: one message, the field still works, other sessions go on."""
    learner = await connect(service, clients, "alice@example.org")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.paste("x" * (1 << 20))
    # Before the paste is even digested, someone else connects and is served.
    await connect(service, clients)
    await learner.wait_for("Texte collé trop long (1048576 caractères, 120 au plus)")
    learner.send("Souris cassée" + ENTER)
    await pick_category(learner)
    await learner.wait_for("Description :")
    learner.paste("y" * (1 << 20))
    await learner.wait_for("Texte collé trop long (1048576 caractères, 4000 au plus)")
    learner.send("Le clic droit ne répond plus." + CTRL_D)
    await learner.wait_for("1. Faible")
    learner.send("1")
    await learner.wait_for("Ticket #1 créé.", "Souris cassée")
    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).all()
    assert [tuple(r) for r in rows] == [("Souris cassée", "Le clic droit ne répond plus.")]


async def test_typing_past_a_field_capacity_stops_with_a_message(service, clients, alice, database):
    """Text sent as keystrokes (a terminal without bracketed paste) stops at the field's capacity."""
    learner = await connect(service, clients, "alice@example.org")
    learner.send("1")
    await learner.wait_for("Titre :")
    learner.send("z" * 5000)
    await learner.wait_for("Limite atteinte : 120 caractères au plus.")
    learner.send(ENTER)
    await learner.wait_for("Le titre est trop long (1000 caractères, 120 au plus).")
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one() == 0


# Every field a person can fill, against every kind of hostile input -----------------------

# A window title (OSC … BEL), a screen erase (CSI), a colour through the one-byte C1 CSI, and
# a terminal status request (DCS … ST) that would make the victim's terminal answer.
PAYLOAD = "A\x1b]0;pwned\x07B\x1b[2JC\x9b31mD\x1bP1$qm\x1b\\E"
# How a terminal shows it once neutralised: every control a visible stand-in.
NEUTRALISED = "A␛]0;pwned␇B␛[2JC�31mD␛P1$qm␛\\E"
# Bytes that must never reach another person's terminal: each sequence with its payload.
RAW_FORBIDDEN = [b"\x1b]0;pwned", b"\x07", b"\x1b[2JC", "\x9b".encode(), b"\x1bP1$qm", b"\x1b\\E"]
MIB = 1 << 20


def assert_neutralised(c: Client) -> None:
    received = bytes(c.raw)
    for sequence in RAW_FORBIDDEN:
        i = received.find(sequence)
        assert i < 0, f"{sequence!r} reached the terminal: {received[max(0, i - 80) : i + 40]!r}"


async def fill(c: Client, label: str, value: str) -> None:
    await c.wait_for(label)
    c.send(value + ENTER)


async def test_escape_sequences_in_every_field_reach_other_terminals_neutralised(
    service, clients, admin, database
):
    staff = await connect(service, clients, "admin@example.org")
    guest = await connect(service, clients)
    guest.send("2")
    await guest.wait_for("Nom :")
    guest.paste(f"Nom {PAYLOAD}")
    guest.send(ENTER)
    # A one-line field refuses them with one sentence; the value is given back for correction.
    await guest.wait_for(NAME_REFUSED)
    guest.send("\x7f" * (len(PAYLOAD) + 1) + " Awa" + ENTER)
    # An e-mail carrying them is refused (and nothing is stored), at the form and at the SSH door.
    await guest.wait_for("E-mail :")
    guest.paste(f"x{PAYLOAD}@example.org")
    guest.send(ENTER)
    await guest.wait_for("Adresse e-mail invalide")
    # Given back for correction: erased with as many backspaces (one more would ring the bell).
    guest.send("\x7f" * len(f"x{PAYLOAD}@example.org"))
    await guest.wait_gone("@example.org")
    guest.send("awa.ndiaye@example.org" + ENTER)
    await fill(guest, "Mot de passe :", PASSWORD)
    await fill(guest, "Confirmation :", PASSWORD)
    await guest.wait_for("Compte créé.", "1. Nouveau ticket")

    guest.send("1")
    await guest.wait_for("Titre :")
    guest.paste(f"Titre {PAYLOAD}")
    guest.send(ENTER)
    await guest.wait_for(TITLE_REFUSED)
    guest.send(ESC)
    await guest.wait_for("1. Nouveau ticket")
    await new_ticket(guest, "Titre", f"Description {PAYLOAD}\nLigne 2 {PAYLOAD}")
    async with database.transaction() as conn:
        # A name and a title stored before the rule existed: still shown through the sanitiser.
        await conn.execute(sa.update(users).where(users.c.id != admin.id).values(nom=f"Nom {PAYLOAD}"))
        await conn.execute(sa.update(tickets).values(titre=f"Titre {PAYLOAD}"))
        query = sa.select(users.c.nom, users.c.email).where(users.c.id != admin.id)
        stored = (await conn.execute(query)).one()
        ticket = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).one()
    assert tuple(stored) == (f"Nom {PAYLOAD}", "awa.ndiaye@example.org")
    assert tuple(ticket) == (f"Titre {PAYLOAD}", f"Description {PAYLOAD}\nLigne 2 {PAYLOAD}")

    # The admin, connected all along, lists every ticket and opens this one.
    staff.send("3")
    await staff.wait_for("Tous les tickets", "Titre A␛]0;pwned␇B")
    staff.send("1" + ENTER)
    screen = await staff.wait_for("Ticket #1 — Titre", "Historique")
    assert f"Ticket #1 — Titre {NEUTRALISED}" in screen
    assert f"Auteur : Nom {NEUTRALISED}" in screen
    assert f"Description {NEUTRALISED}" in screen and f"Ligne 2 {NEUTRALISED}" in screen
    assert_neutralised(staff)
    assert_neutralised(guest)


async def test_a_huge_paste_into_any_account_field_is_refused(service, clients, alice, database):
    """1 MiB pasted into the name, e-mail, password and confirmation of both forms."""
    guest = await connect(service, clients)
    guest.send("2")
    for label, limit, value in [
        ("Nom :", 80, "Awa Ndiaye"),
        ("E-mail :", 254, "awa.ndiaye@example.org"),
        ("Mot de passe :", 72, PASSWORD),
        ("Confirmation :", 72, PASSWORD),
    ]:
        await guest.wait_for(label)
        guest.paste("x" * MIB)
        await guest.wait_for(f"Texte collé trop long (1048576 caractères, {limit} au plus)")
        guest.send(value + ENTER)
        await guest.wait_gone(f"{limit} au plus")
    await guest.wait_for("Compte créé. Bienvenue, Awa Ndiaye !")
    guest.send("0")

    # The login form's two fields too; then the same session logs in.
    await guest.wait_for(*WELCOME)
    guest.send("1")
    for label, limit, value in [("E-mail :", 254, "alice@example.org"), ("Mot de passe :", 72, PASSWORD)]:
        await guest.wait_for(label)
        guest.paste("y" * MIB)
        await guest.wait_for(f"Texte collé trop long (1048576 caractères, {limit} au plus)")
        guest.send(value + ENTER)
        await guest.wait_gone(f"{limit} au plus")
    await guest.wait_for("Bonjour, Alice Ndiaye !")
    async with database.transaction() as conn:
        names = (await conn.execute(sa.select(users.c.nom, users.c.email).order_by(users.c.id))).all()
    assert [tuple(n) for n in names] == [
        ("Alice Ndiaye", "alice@example.org"),
        ("Awa Ndiaye", "awa.ndiaye@example.org"),
    ]


async def test_nul_and_control_bytes_at_the_login_doors_break_nothing(service, clients, alice, database):
    # At the SSH door: NUL and escapes in a password are refused (the library's SASLprep turns
    # them away as a protocol error before any check), the same for every account.
    for username in ("alice@example.org", "inconnu@example.org"):
        for password in (PASSWORD + "\x00", f"{PASSWORD}{PAYLOAD}"):
            with pytest.raises(asyncssh.DisconnectError):
                await Client.connect(service.port, username, password)
    # In the login form: broken bytes and NUL typed in both fields, the usual refusal.
    guest = await connect(service, clients)
    guest.send("1")
    await guest.wait_for("E-mail :")
    guest.send(b"alice\xff\x00@example.org\xc3" + ENTER.encode())
    await guest.wait_for("Mot de passe :")
    guest.send(b"\xfe\x00" + PASSWORD.encode() + ENTER.encode())
    await guest.wait_for("E-mail ou mot de passe incorrect.", *WELCOME)
    # The same session, and new ones, still log in.
    await login_in_app(guest, "alice@example.org", PASSWORD)
    await guest.wait_for("Bonjour, Alice Ndiaye !")
    await connect(service, clients, "alice@example.org")
    failed = AuditEvent.LOGIN_FAILED.value
    async with database.transaction() as conn:
        accounts = (
            (await conn.execute(sa.select(audit_log.c.compte).where(audit_log.c.evenement == failed)))
            .scalars()
            .all()
        )
    # Undecodable bytes arrive as U+FFFD; NUL is a key that does nothing in a field.
    assert accounts == ["alice\ufffd@example.org\ufffd"]


async def test_sql_metacharacters_in_a_name_are_stored_and_shown_literally(service, clients, database):
    name = "O'Brien'; DROP TABLE tickets; -- 100% _x_ \\"
    guest = await connect(service, clients)
    guest.send("2")
    await fill(guest, "Nom :", name)
    await fill(guest, "E-mail :", "o.brien@example.org")
    await fill(guest, "Mot de passe :", PASSWORD)
    await fill(guest, "Confirmation :", PASSWORD)
    await guest.wait_for(f"Compte créé. Bienvenue, {name} !")
    await new_ticket(guest, "100% _en panne_", "Le \\ et le % restent.", paste=False)
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.nom))).scalar_one() == name
        assert (await conn.execute(sa.select(tickets.c.titre))).scalar_one() == "100% _en panne_"
