"""English over real SSH: the language the OpenSSH client sends (LANG with SendEnv), each session
its own while others speak French at the same time, commands too; on both databases."""

from __future__ import annotations

import csv
import io
import json

import asyncssh
import pytest
import sqlalchemy as sa

from server.store.schema import users

from .conftest import PASSWORD
from .sshclient import CTRL_D, ENTER, ESC, OpenSSHClient
from .sshcommand import ssh_command

pytestmark = pytest.mark.usefixtures("alice", "admin")

ENGLISH = {"LANG": "en_US.UTF-8"}
SEND_LANG = ("-o", "SendEnv=LANG LC_ALL LC_MESSAGES")


def ssh_argv(port: int, email: str) -> list[str]:
    return [
        "ssh", "-tt", "-F", "/dev/null", "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1",
        *SEND_LANG, "-l", email, "127.0.0.1",
    ]  # fmt: skip


async def signed_in(port: int, clients: list, email: str, env: dict[str, str]) -> OpenSSHClient:
    # The client's own environment, without what the test runner's shell may hold.
    base = {"LANG": "", "LC_ALL": "", "LC_MESSAGES": ""}
    c = await OpenSSHClient.spawn(ssh_argv(port, email), env={**base, **env})
    clients.append(c)
    await c.wait_for("Mot de passe / password:")
    c.send(PASSWORD + ENTER)
    return c


async def test_an_english_learner_and_a_french_admin_at_the_same_time(service, clients):
    learner = await signed_in(service.port, clients, "alice@example.org", ENGLISH)
    staff = await signed_in(service.port, clients, "admin@example.org", {"LANG": "fr_FR.UTF-8"})
    await learner.wait_for("Main menu", "1. New ticket", "2. My tickets", "Log out")
    await staff.wait_for("Menu principal", "1. Nouveau ticket", "3. Tous les tickets", "Déconnexion")
    assert "Main menu" not in staff.text()
    english(learner.text())

    # Filed in English; the French admin is told in French, by the feed that runs in neither.
    learner.send("1")
    await learner.wait_for("New ticket", "Title:")
    learner.send("Printer jammed" + ENTER)
    await learner.wait_for("Category:", "7. Autre")  # category names are the centre's data
    learner.send("7")
    await learner.wait_for("Description:", "Ctrl-D or Esc Enter: finish")
    learner.send("Paper stuck in room 2." + CTRL_D)
    await learner.wait_for("Urgency:", "1. Low", "2. Medium", "3. High")
    english(learner.text())
    learner.send("3")
    await learner.wait_for("Ticket #1 created.", "Status: Waiting")
    await staff.wait_for("Nouveau ticket #1 : Printer jammed")

    # The admin works in French; the English learner reads each change in English.
    staff.send("3")
    await staff.wait_for("Statut : En attente, En cours", "1 ticket — page 1/1", "#1")
    staff.send("1" + ENTER)
    await staff.wait_for("Ticket #1 — Printer jammed", "Statut : En attente", "Urgence : Haute")
    staff.send("2")
    await staff.wait_for("Réponse :")
    staff.send("Bourrage retiré." + CTRL_D)
    await staff.wait_for("Réponse envoyée.")
    await learner.wait_for("New reply on your ticket #1")
    staff.send("1")
    await staff.wait_for("3. Résolu")
    staff.send("3")
    await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    await staff.wait_for("Statut changé : Résolu.")
    # On the ticket's screen, she is asked her rating in English at once; she passes it.
    await learner.wait_for("Ticket #1: your rating", "Your rating (1 to 5):", "“p” or Esc: skip")
    learner.send(ESC)
    await learner.wait_for("Question skipped", "Status: Resolved", "2. The problem persists")
    assert "Resolved" not in staff.text()
    english(learner.text())

    # The learner's history, in English, with the admin's French words left as written.
    await learner.wait_for("ticket created (Waiting, urgency High)")
    await learner.wait_for("status: Waiting → Resolved")


async def test_commands_answer_in_the_language_sent(service):
    port = service.port
    r = await ssh_command(
        port, "alice@example.org", "tickets", "new", "--title", "Projector", "--urgency", "High",
        stdin=b"No picture in room 4.", options=SEND_LANG, env=ENGLISH,
    )  # fmt: skip
    assert r.status == 0, r.err

    r = await ssh_command(port, "alice@example.org", "tickets", "list", options=SEND_LANG, env=ENGLISH)
    assert r.status == 0
    head = r.out.splitlines()[0].split()
    assert head[:3] == ["No.", "Status", "Urgency"], r.out
    assert "Waiting" in r.out and "High" in r.out and "En attente" not in r.out

    # What scripts parse stays as it is in every language: keys, headers, stored values.
    r = await ssh_command(
        port, "alice@example.org", "tickets", "list", "--json", options=SEND_LANG, env=ENGLISH
    )
    (ticket,) = json.loads(r.out)
    assert ticket["status"] == "En attente" and ticket["urgency"] == "Haute"
    r = await ssh_command(
        port, "alice@example.org", "tickets", "list", "--csv", options=SEND_LANG, env=ENGLISH
    )
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0][:3] == ["id", "status", "urgency"] and rows[1][1:3] == ["En attente", "Haute"]

    # Errors, on stderr, in English; the same exit codes.
    r = await ssh_command(port, "alice@example.org", "tickets", "show", "99", options=SEND_LANG, env=ENGLISH)
    assert (r.status, r.err) == (2, "Ticket not found.\n")
    r = await ssh_command(
        port, "alice@example.org", "tickets", "list", "--colour", options=SEND_LANG, env=ENGLISH
    )
    assert r.status == 1 and r.err.startswith("Unknown option: --colour. Usage: tickets list"), r.err
    r = await ssh_command(port, "alice@example.org", "help", options=SEND_LANG, env=ENGLISH)
    assert r.out.startswith("Commands (ssh … COMMAND):"), r.out
    assert "--title TITLE --urgency Low|Medium|High" in r.out

    # LC_ALL wins over LANG, as in POSIX; without SendEnv nothing is sent, and French it is.
    r = await ssh_command(
        port, "alice@example.org", "tickets", "show", "99", options=SEND_LANG,
        env={"LANG": "en_US.UTF-8", "LC_ALL": "fr_FR.UTF-8"},
    )  # fmt: skip
    assert r.err == "Ticket introuvable.\n"
    r = await ssh_command(port, "alice@example.org", "tickets", "show", "99", env=ENGLISH)
    assert r.err == "Ticket introuvable.\n"


async def test_unknown_or_hostile_languages_are_french(service):
    for value in ("de_DE.UTF-8", "C.UTF-8", "en_US.UTF-8\x1b[2J", "../../en", "en" + "_US" * 40, "en US"):
        r = await ssh_command(
            service.port, "alice@example.org", "tickets", "show", "99", options=SEND_LANG, env={"LANG": value}
        )
        assert (r.status, r.err) == (2, "Ticket introuvable.\n"), value


def english(text: str) -> str:
    """The screen holds no French of the interface: no French colon (`Titre :`), no key names."""
    for french in (" :", "Retour", "Entrée", "Échap", "Menu principal", "Déconnexion", "(actuelle)"):
        assert french not in text, (french, text)
    return text


async def test_the_account_language_is_kept_and_followed_everywhere(service, clients, database):
    # A client that sends no language: French, until the account chooses English.
    c = await signed_in(service.port, clients, "alice@example.org", {})
    await c.wait_for("Menu principal", "3. Mon compte")
    c.send("3")
    await c.wait_for("Mon compte", "4. Langue / Language : Français")
    c.send("4")
    await c.wait_for("Langue / Language", "1. Français (actuelle)", "2. English")
    c.send("2")
    await c.wait_for("Language: English.", "My account", "4. Langue / Language: English", "Name: Alice")
    english(c.text())
    c.send("0")
    await c.wait_for("Main menu", "3. My account", "4. Log out")
    english(c.text())
    async with database.transaction() as conn:
        stored = (
            await conn.execute(sa.select(users.c.langue).where(users.c.email == "alice@example.org"))
        ).scalar()
    assert stored == "en"

    # Logged out, the welcome screen follows the client again (French); logged in, the account.
    c.send("4")
    await c.wait_for("Vous êtes déconnecté.", "1. Se connecter")
    c.send("1")
    await c.wait_for("E-mail :")
    c.send("alice@example.org" + ENTER)
    await c.wait_for("Mot de passe :")
    c.send(PASSWORD + ENTER)
    await c.wait_for("Main menu", "1. New ticket")
    english(c.text())

    # Commands follow the account too, whatever the client sends.
    r = await ssh_command(service.port, "alice@example.org", "tickets", "show", "99")
    assert (r.status, r.err) == (2, "Ticket not found.\n")
    r = await ssh_command(
        service.port,
        "alice@example.org",
        "tickets",
        "show",
        "99",
        options=SEND_LANG,
        env={"LANG": "fr_FR.UTF-8"},
    )
    assert r.err == "Ticket not found.\n"

    # Back to French, from the same menu; the choice holds for the next session.
    c.send("3")
    await c.wait_for("4. Langue / Language: English")
    c.send("4")
    await c.wait_for("1. Français", "2. English (current)")
    c.send("1")
    await c.wait_for("Langue : Français.", "Mon compte")
    r = await ssh_command(
        service.port, "alice@example.org", "tickets", "show", "99", options=SEND_LANG, env=ENGLISH
    )
    assert r.err == "Ticket introuvable.\n"


async def test_file_transfers_answer_in_the_language_sent(service):
    """SFTP's refusals carry the sentence in the language the client sent, else French."""

    async with asyncssh.connect(
        "127.0.0.1",
        service.port,
        username="alice@example.org",
        password=PASSWORD,
        known_hosts=None,
        client_keys=None,
        agent_path=None,
        preferred_auth="password",
    ) as conn:
        for env, sentence in ((ENGLISH, "Ticket or file not found."), ({}, "Ticket ou fichier introuvable.")):
            async with conn.start_sftp_client(env=env) as sftp:
                with pytest.raises(asyncssh.SFTPNoSuchFile) as refused:
                    await sftp.stat("/999/notes.txt")
            assert refused.value.reason == sentence
