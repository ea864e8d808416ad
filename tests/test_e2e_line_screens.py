"""`ssh -T campus menus`: the screens as plain lines, followed as `expect` or a screen reader
does (a line, then an answer), with the real OpenSSH client; in French and in English."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from server.store.schema import tickets

from .conftest import PASSWORD, make_user
from .sshcommand import ssh_process
from .test_e2e_commands import Expect

pytestmark = pytest.mark.usefixtures("alice", "admin")


async def test_a_learner_files_and_finds_a_ticket_line_by_line(service, database):
    proc = await ssh_process(service.port, "alice@example.org", "menus")
    e = Expect(proc)
    shown = await e.expect("Votre choix : ")
    assert "== Menu principal ==" in shown and "  1. Nouveau ticket\n" in shown
    assert "  4. Déconnexion" in shown
    assert shown.endswith("(un numéro puis Entrée ; Ctrl-D : fin de la session)\n")
    e.type("1")
    shown = await e.expect("Titre : ")
    assert "== Nouveau ticket ==" in shown and "« . » seul : annuler" in shown
    e.type("Clavier collant")
    assert "  7. Autre" in await e.expect("Votre choix : ")
    e.type("7")
    await e.expect("Description :")
    e.type("Les touches collent.")
    e.type("Sur le poste 4.")
    e.type(".")
    assert "  1. Faible" in await e.expect("Votre choix : ")
    e.type("1")
    shown = await e.expect("Votre choix : ")
    assert "Ticket #1 créé." in shown and "Les touches collent." in shown and "\x1b" not in shown
    e.type("0")
    await e.expect("Votre choix : ")
    e.type("2")
    shown = await e.expect("Numéro du ticket : ")
    assert "== Mes tickets ==" in shown and "#1" in shown and "Clavier collant" in shown
    assert shown.endswith("(un numéro puis Entrée : ouvrir ; 0 : retour ; Ctrl-D : fin de la session)\n")
    e.type("1")
    assert "Statut : En attente" in await e.expect("Votre choix : ")
    e.type("0")
    await e.expect("Numéro du ticket : ")
    e.type("0")
    await e.expect("Votre choix : ")
    e.type("4")  # Déconnexion: the welcome menu, then Quitter
    shown = await e.expect("Votre choix : ")
    assert "Vous êtes déconnecté." in shown and "== Accueil ==" in shown
    e.type("4")
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert "\x1b" not in e.seen
    # No key of the full screens is named where it does nothing.
    for key in ("Échap", "↑", "PgPréc"):
        assert key not in e.seen
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == 1))).one()
    assert (row.titre, row.description) == ("Clavier collant", "Les touches collent.\nSur le poste 4.")


async def test_a_guest_logs_in_line_by_line_in_english(service):
    proc = await ssh_process(
        service.port, "support", "menus", options=("-o", "SendEnv=LANG"), env={"LANG": "en_US.UTF-8"}
    )
    e = Expect(proc)
    shown = await e.expect("Your choice: ")
    assert "== Home ==" in shown and "  1. Log in" in shown
    assert shown.endswith("(a number then Enter; Ctrl-D: end the session)\n")
    e.type("9")
    await e.expect("Type the number of a line of the list.")
    await e.expect("Your choice: ")
    e.type("1")
    await e.expect("E-mail: ")
    e.type("alice@example.org")
    await e.expect("Password: ")
    e.type(PASSWORD)
    shown = await e.expect("Your choice: ")
    assert "== Main menu ==" in shown and "  1. New ticket" in shown
    proc.stdin.close()  # end of input ends the session
    assert await asyncio.wait_for(proc.wait(), 15) == 0


async def test_a_terminal_that_draws_nothing_gets_the_lines(service):
    """TERM=dumb over a terminal (`ssh -tt`): keys, not lines, come in; the server makes the
    lines (Enter, Backspace), echoes what is typed, and hides the password."""
    proc = await ssh_process(service.port, "support", options=("-tt",), env={"TERM": "dumb"})
    e = Expect(proc)
    assert "== Accueil ==" in await e.expect("Votre choix : ")
    proc.stdin.write(b"x\x7f1\r")  # a typo erased, then 1 and Enter, as a terminal sends them
    await e.expect("E-mail : ")
    proc.stdin.write(b"alice@example.org\r")
    assert (await e.expect("Mot de passe : ")).startswith("alice@example.org\r\n")
    proc.stdin.write(PASSWORD.encode() + b"\r")
    shown = await e.expect("Votre choix : ")
    # What was typed came back, but for the password: nothing of it, not even stars.
    assert shown.startswith("\r\n") and "== Menu principal ==" in shown and PASSWORD not in shown
    proc.stdin.write(b"4\r")  # Déconnexion
    assert "Vous êtes déconnecté." in await e.expect("Votre choix : ")
    proc.stdin.write(b"\x04")  # Ctrl-D: the end
    assert await asyncio.wait_for(proc.wait(), 15) == 0


async def test_sessions_of_lines_are_told_of_a_shutdown_in_their_language(tmp_path, app_db_url):
    """SIGTERM to a real server process: the screens as lines get the sentence of the full
    screens on a line of its own (not after the waiting prompt), the command prompt gets it on
    stderr, in English for the one that sent LANG; both sessions end, the server exits 0."""
    from .test_cli import Server, cli_env

    server = Server(cli_env(tmp_path, app_db_url))
    procs = []
    try:
        await server.start()
        menus = await ssh_process(server.port, "alice@example.org", "menus")
        shell = await ssh_process(
            server.port,
            "admin@example.org",
            "shell",
            options=("-o", "SendEnv=LANG"),
            env={"LANG": "en_US.UTF-8"},
        )
        procs = [menus, shell]
        lines, prompt = Expect(menus), Expect(shell)
        await lines.expect("Votre choix : ")
        lines.type("2")
        await lines.expect("Numéro du ticket : ")
        await prompt.expect("> ")
        server.terminate()
        await server.wait_log("signal received")
        said = (
            "*** Le service redémarre : ce qui est en cours d'enregistrement se termine. "
            "Reconnectez-vous dans un instant.\n"
        )
        assert await lines.expect(said) == "\n"  # the prompt's line ended first
        told = (await asyncio.wait_for(shell.stderr.readline(), 15)).decode("utf-8")
        assert told == "The service is restarting: what is being saved is finishing. Reconnect in a moment.\n"
        # Each ssh exits with the status the session sent, 0, after the close of its channel:
        # not 255 with « Received disconnect … » for a connection cut before that.
        for proc in procs:
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert await menus.stderr.read() == b""
        assert await shell.stderr.read() == b""
        assert await server.exit_code(timeout=15) == 0
        assert "Traceback" not in server.log, server.log
    finally:
        server.kill()
        for proc in procs:
            if proc.returncode is None:
                proc.kill()


async def test_an_admin_pages_the_accounts_line_by_line_in_english(service, services):
    """Fifteen accounts, twelve a page: n and p page the list of lines where the screen pages
    with PgUp/PgDn, and the list says so in the session's language (English from LANG), each
    key named as English writes it."""
    for i in range(1, 14):
        await make_user(services, f"usager{i:02d}@example.org", f"Usager {i:02d}")
    english = {"options": ("-o", "SendEnv=LANG"), "env": {"LANG": "en_US.UTF-8"}}
    proc = await ssh_process(service.port, "admin@example.org", "menus", **english)
    e = Expect(proc)
    assert "  6. Users\n" in await e.expect("Your choice: ")
    e.type("3")
    shown = await e.expect("Ticket number: ")
    assert "== All tickets ==" in shown
    assert shown.endswith(
        "(a number then Enter: open; n: next page; p: previous page; f: filter; t: sort; 0: back; "
        "Ctrl-D: end the session)\n"
    )
    e.type("0")
    await e.expect("Your choice: ")
    e.type("6")
    hints = (
        "(a number then Enter: open; r: search; n: next page; p: previous page; 0: back; "
        "Ctrl-D: end the session)\n"
    )
    first = await e.expect("Account number: ")
    assert "== Users ==" in first and "#1    Alice Ndiaye" in first and "#12   Usager 10" in first
    assert "#13" not in first
    assert first.endswith("15 account(s) · page 1/2\n" + hints)
    e.type("n")
    second = await e.expect("Account number: ")
    assert "#13   Usager 11" in second and "#15   Usager 13" in second and "Alice Ndiaye" not in second
    assert second.endswith("15 account(s) · page 2/2\n" + hints)
    e.type("p")
    again = await e.expect("Account number: ")
    assert "#1    Alice Ndiaye" in again and "#13" not in again
    assert again.endswith("15 account(s) · page 1/2\n" + hints)
    e.type("13")
    assert "== User #13 ==" in await e.expect("Your choice: ")
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    for key in ("PgUp", "PgDn", "Esc", "↑"):
        assert key not in e.seen
