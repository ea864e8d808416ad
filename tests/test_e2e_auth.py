"""The ways in (SPEC §2) over real SSH: direct login, the guest menu, in-app login and logout."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil

import asyncssh
import pytest
import sqlalchemy as sa

from server.app import Service
from server.store.schema import tickets, users

from .conftest import PASSWORD, until
from .journeys import login_in_app, pick_category, register_in_app
from .sshclient import CTRL_D, DOWN, ENTER, ESC, UP, Client, OpenSSHClient, ScreenReader

WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")


def header(c: ScreenReader) -> str:
    return c.screen.display[0].rstrip()


def highlighted(c: ScreenReader) -> str:
    """The text shown in reverse video below the header: the selected menu entry."""
    rows = c.screen.buffer
    text = []
    for y in range(1, c.screen.lines):
        text.append("".join(rows[y][x].data for x in range(c.screen.columns) if rows[y][x].reverse))
    return " ".join(t.strip() for t in text if t.strip())


async def selected(c: ScreenReader, entry: str, timeout: float = 10.0) -> None:
    """Wait until `entry` is the highlighted menu entry."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while highlighted(c) != entry:
        assert loop.time() < deadline, f"{entry!r} not highlighted:\n{c.text()}"
        await asyncio.sleep(0.05)


def message_line(screen: str, text: str) -> str:
    """The one screen line holding `text`."""
    lines = [line for line in screen.splitlines() if text in line]
    assert len(lines) == 1, screen
    return lines[0]


async def wait_closed(c: Client, timeout: float = 10.0) -> None:
    assert c.chan is not None
    await asyncio.wait_for(c.chan.wait_closed(), timeout)
    assert c.closed


# Direct login: ssh -l e-mail -----------------------------------------------------------------


@pytest.mark.parametrize("auth", ["password", "keyboard-interactive"])
async def test_direct_login_lands_on_the_main_menu(service, clients, alice, auth):
    c = await Client.connect(service.port, "alice@example.org", PASSWORD, auth=auth)
    clients.append(c)
    screen = await c.wait_for("Menu principal", "1. Nouveau ticket", "2. Mes tickets", "4. Déconnexion")
    assert header(c).endswith("alice@example.org")
    assert "Tous les tickets" not in screen
    assert "Se connecter" not in screen


async def test_direct_login_email_is_case_insensitive(service, clients, alice):
    c = await Client.connect(service.port, "Alice@Example.ORG", PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    assert header(c).endswith("alice@example.org")


@pytest.mark.parametrize("auth", ["password", "keyboard-interactive"])
async def test_wrong_password_and_unknown_email_get_the_same_refusal(service, clients, alice, auth):
    refusals = []
    for username, password in [
        ("alice@example.org", "pas-le-bon-mot-de-passe"),
        ("inconnu@example.org", PASSWORD),
    ]:
        with pytest.raises(asyncssh.PermissionDenied) as info:
            await Client.connect(service.port, username, password, auth=auth)
        # The client's message names the user it tried; nothing else may differ.
        refused = info.value
        refusals.append((type(refused), refused.code, refused.reason.replace(username, "…")))
    assert refusals[0] == refusals[1]

    # The right password still works afterwards.
    c = await Client.connect(service.port, "alice@example.org", PASSWORD, auth=auth)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")


async def test_admin_sees_all_tickets_and_a_learner_does_not(service, clients, alice, admin):
    staff = await Client.connect(service.port, "admin@example.org", PASSWORD)
    learner = await Client.connect(service.port, "alice@example.org", PASSWORD)
    clients += [staff, learner]
    await staff.wait_for(
        "1. Nouveau ticket",
        "2. Mes tickets",
        "3. Tous les tickets",
        "4. Mes tickets assignés",
        "5. Tableau de bord",
        "6. Utilisateurs",
        "7. Paramètres",
        "8. Mon compte",
        "9. Déconnexion",
    )
    screen = await learner.wait_for("1. Nouveau ticket", "2. Mes tickets", "3. Mon compte", "4. Déconnexion")
    assert "Tous les tickets" not in screen
    staff.send("3")
    await staff.wait_for("Tous les tickets", "0 tickets — page 1/1", "Aucun ticket ne correspond")


# The guest name -------------------------------------------------------------------------------


async def test_guest_lands_on_the_welcome_menu(service, clients):
    c = await Client.connect(service.port, "support")
    clients.append(c)
    screen = await c.wait_for("Accueil", *WELCOME, "Bienvenue sur le support technique.")
    assert "Nouveau ticket" not in screen
    assert "@" not in header(c)


async def test_in_app_login_refusals_say_the_same_sentence(service, clients, alice):
    c = await Client.connect(service.port)
    clients.append(c)

    await login_in_app(c, "alice@example.org", "pas-le-bon-mot-de-passe")
    wrong = message_line(await c.wait_for("E-mail ou mot de passe incorrect.", *WELCOME), "incorrect")

    await login_in_app(c, "inconnu@example.org", PASSWORD)
    # The notice is the same text as before: wait for the new login to be over.
    await c.wait_gone("Mot de passe :")
    unknown = message_line(await c.wait_for("E-mail ou mot de passe incorrect.", *WELCOME), "incorrect")
    assert wrong == unknown == " E-mail ou mot de passe incorrect."

    # The session goes on: the right password logs in.
    await login_in_app(c, "ALICE@example.org", PASSWORD)
    await c.wait_for("Bonjour, Alice Ndiaye !", "1. Nouveau ticket")
    assert header(c).endswith("alice@example.org")


async def test_the_password_is_never_echoed(service, clients, alice):
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    c.send("1")
    await c.wait_for("E-mail :")
    c.send("alice@example.org" + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(PASSWORD)
    screen = await c.wait_for("*" * len(PASSWORD))
    assert PASSWORD not in screen and PASSWORD not in bytes(c.raw).decode("utf-8", "replace")
    c.send(ENTER)
    await c.wait_for("1. Nouveau ticket")


@pytest.mark.parametrize("key", ["4", "0", ESC])
async def test_logout_returns_to_the_welcome_menu(service, clients, alice, key):
    c = await Client.connect(service.port)
    clients.append(c)
    await login_in_app(c, "alice@example.org", PASSWORD)
    await c.wait_for("1. Nouveau ticket", "4. Déconnexion")
    c.send(key)
    await c.wait_for("Vous êtes déconnecté.", *WELCOME)
    assert "@" not in header(c)
    # Logged out for real: the welcome menu works and asks again.
    c.send("1")
    await c.wait_for("Se connecter", "E-mail :")


@pytest.mark.parametrize("key", ["4", "0", ESC])
async def test_quit_from_the_welcome_menu_closes_the_connection(service, clients, key):
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    c.send(key)
    await wait_closed(c)


async def test_quit_closes_a_direct_login_only_after_logout(service, clients, alice):
    c = await Client.connect(service.port, "alice@example.org", PASSWORD)
    clients.append(c)
    await c.wait_for("4. Déconnexion")
    c.send("4")
    await c.wait_for("Vous êtes déconnecté.", *WELCOME)
    c.send("4")
    await wait_closed(c)


async def test_arrows_and_enter_select_menu_entries(service, clients, admin):
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    await selected(c, "1. Se connecter")
    c.send(DOWN)
    await selected(c, "2. Créer un compte")
    c.send(ENTER)
    await c.wait_for("Créer un compte", "Nom :")
    c.send(ESC)
    await c.wait_for(*WELCOME)

    # Up from the first entry wraps to the last one (Quitter) — then back down to the first.
    c.send(UP)
    await selected(c, "4. Quitter")
    c.send(DOWN)
    await selected(c, "1. Se connecter")
    c.send(ENTER)
    await c.wait_for("E-mail :")
    c.send("admin@example.org" + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(PASSWORD + ENTER)
    await c.wait_for("3. Tous les tickets")
    c.send(DOWN + DOWN)
    await selected(c, "3. Tous les tickets")
    c.send(ENTER)
    await c.wait_for("Tous les tickets", "Numéro du ticket")


# The real OpenSSH client ----------------------------------------------------------------------

needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")


@needs_ssh
async def test_openssh_guest_registers_and_files_a_ticket(service, clients, database):
    c = await OpenSSHClient.start(service.port, "support")
    clients.append(c)
    await c.wait_for(*WELCOME)
    await register_in_app(c, "Ousmane Ba", "ousmane.ba@example.org", "clavier-qwerty")
    await c.wait_for("Compte créé. Bienvenue, Ousmane Ba !", "1. Nouveau ticket")
    assert header(c).endswith("ousmane.ba@example.org")

    c.send("1")
    await c.wait_for("Titre :")
    c.send("Écran noir en salle 3" + ENTER)
    await pick_category(c)
    await c.wait_for("Description :")
    c.send("Le poste 7 ne démarre plus." + CTRL_D)
    await c.wait_for("1. Faible", "2. Moyenne", "3. Haute")
    c.send("2")
    await c.wait_for("Ticket #1 créé.", "Ticket #1 — Écran noir en salle 3")
    c.send("0")
    await c.wait_for("1. Nouveau ticket")
    c.send("2")
    await c.wait_for("Mes tickets", "#1", "Écran noir en salle 3", "Moyenne", "Attente")

    async with database.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(users.c.email, tickets.c.titre).join(tickets, tickets.c.auteur_id == users.c.id)
            )
        ).one()
    assert tuple(row) == ("ousmane.ba@example.org", "Écran noir en salle 3")


@needs_ssh
async def test_openssh_password_login(service, clients, alice):
    c = await OpenSSHClient.start(service.port, "alice@example.org")
    clients.append(c)
    # OpenSSH prefers keyboard-interactive: the server asks in French.
    await c.wait_for("Mot de passe / password:")
    c.send(PASSWORD + ENTER)
    await c.wait_for("Menu principal", "1. Nouveau ticket", "2. Mes tickets", "4. Déconnexion")
    assert header(c).endswith("alice@example.org")
    assert PASSWORD not in c.text()
    c.send("4")  # Déconnexion, then Quitter: ssh exits 0, as after a shell's `exit`
    await c.wait_for(*WELCOME)
    c.send("4")
    assert c.proc is not None
    assert await asyncio.wait_for(asyncio.to_thread(c.proc.wait, 15), 20) == 0


async def test_connections_beyond_the_configured_maximum_are_refused(settings, database):
    """`ssh.max_connections`: one more client is turned away; those already in are untouched."""
    limited = dataclasses.replace(settings, ssh=dataclasses.replace(settings.ssh, max_connections=2))
    service = Service(limited)
    await service.start()
    first = second = None
    try:
        first = await Client.connect(service.port)
        second = await Client.connect(service.port)
        await first.wait_for(*WELCOME)
        with pytest.raises((asyncssh.DisconnectError, ConnectionError)):
            third = await Client.connect(service.port)
            await third.close()
        first.send("2")
        await first.wait_for("Nom :")
        await first.close()
        first = None
        await until(lambda: len(service.connections) < 2)
        again = await Client.connect(service.port)
        await again.wait_for(*WELCOME)
        await again.close()
    finally:
        for c in (first, second):
            if c is not None:
                await c.close()
        await service.stop(grace=1)
