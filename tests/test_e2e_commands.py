"""Commands over SSH (`ssh -l EMAIL host COMMAND`) with the real OpenSSH client, no terminal,
on both databases: outputs, exit statuses, and what the database holds."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from datetime import datetime
from pathlib import Path

import asyncssh
import pytest
import sqlalchemy as sa

from server.commands.basic import USAGES
from server.store.schema import audit_log, history, tickets

from .conftest import context_for, count
from .sshcommand import ssh_command, ssh_process

pytestmark = pytest.mark.usefixtures("alice", "bob", "admin")

ALICE, BOB, ADMIN = "alice@example.org", "bob@example.org", "admin@example.org"


async def test_whoami_help_and_usage_errors(service):
    r = await ssh_command(service.port, ALICE, "whoami", "--json")
    assert r.status == 0, r.err
    assert json.loads(r.out) == {"email": ALICE, "name": "Alice Ndiaye", "role": "utilisateur"}
    r = await ssh_command(service.port, ALICE, "whoami")
    assert (r.status, r.out) == (0, "Alice Ndiaye <alice@example.org> (utilisateur)\n")

    r = await ssh_command(service.port, ALICE, "help")
    assert r.status == 0 and "tickets list" in r.out and "export" not in r.out
    r = await ssh_command(service.port, ADMIN, "help", "export")
    assert r.status == 0 and r.out.startswith("export [--format csv|json]")

    r = await ssh_command(service.port, ALICE, "frobnicate")
    assert (r.status, r.out) == (1, "")
    assert r.err == "Commande inconnue : frobnicate. Tapez : help\n"
    r = await ssh_command(service.port, ALICE, "tickets", "list", "--colour")
    assert r.status == 1 and r.err.startswith("Option inconnue : --colour. Usage : tickets list")


# Command lines not of their command's shape, and the usage line each is answered with.
WRONG_SHAPES = [
    (ALICE, "whoami de trop", "whoami"),
    (ALICE, "tickets list de trop", "tickets list"),
    (ALICE, "tickets list --json --csv", "tickets list"),
    (ALICE, "tickets show", "tickets show"),
    (ALICE, "tickets show 1 2", "tickets show"),
    (ALICE, "tickets new --title Souris", "tickets new"),
    (ALICE, "tickets new --urgency Faible --title", None),  # the option's own sentence
    (ALICE, "tickets new --title Souris --urgency Faible de trop", "tickets new"),
    (ALICE, "tickets reply", "tickets reply"),
    (ADMIN, "tickets note 1 2", "tickets note"),
    (ADMIN, "tickets status 1", "tickets status"),
    (ADMIN, "tickets assign 1", "tickets assign"),
    (ADMIN, "tickets assign 1 me de trop", "tickets assign"),
    (ALICE, "tickets attach 1", "tickets attach"),
    (ADMIN, "export de trop", "export"),
    (ADMIN, "export --format xml", "export"),
    (ADMIN, "users", "users list"),
    (ADMIN, "users liste", "users list"),
    (ADMIN, "users list --json --csv", "users list"),
]


async def test_each_command_of_the_wrong_shape_is_answered_with_its_usage(service, database):
    for user, line, name in WRONG_SHAPES:
        r = await ssh_command(service.port, user, *line.split())
        expected = (
            "L'option --title attend une valeur. Usage : " + USAGES["tickets new"]
            if name is None
            else "Usage : " + USAGES[name]
        )
        assert (r.status, r.out, r.err) == (1, "", expected + "\n"), line
    r = await ssh_command(service.port, ALICE, "tickets")
    group = " | ".join(usage for command, usage in USAGES.items() if command.startswith("tickets "))
    assert (r.status, r.err) == (1, f"Usage : {group}\n")
    assert await count(database, tickets) == 0


async def test_numbers_are_ascii_digits_only(service):
    # str.isdigit() holds for these: ² made int() fail (a traceback's sentence), ١ read as 1.
    for word in ("²", "١"):
        r = await ssh_command(service.port, ALICE, "tickets", "show", word)
        usage = "Usage : tickets show N [--json]"
        assert (r.status, r.err) == (1, f"Numéro de ticket invalide : {word}. {usage}\n")
        r = await ssh_command(service.port, ALICE, "tickets", "list", "--limit", word)
        assert r.status == 1 and r.err.startswith(f"Valeur invalide : {word}. Usage : tickets list"), r.err


async def test_the_guest_name_is_told_to_use_an_email(service):
    r = await ssh_command(service.port, "support", "tickets", "list")
    assert r.status == 2
    assert r.err == (
        "Les commandes demandent un compte : connectez-vous avec votre e-mail (ssh -l EMAIL …).\n"
    )


async def test_a_ticket_from_a_script_to_its_resolution(service, database):
    description = "Bourrage papier, « salle 2 ».\n" + "x" * 3950
    r = await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Imprimante, bloquée", "--urgency", "Haute",
        stdin=description.encode(),
    )  # fmt: skip
    assert r.status == 0, r.err
    number = int(r.out)
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == number))).one()
    assert (row.titre, row.urgence) == ("Imprimante, bloquée", "Haute")
    assert row.description == description and len(description) == 3980

    # The admin takes it in hand, notes, answers and sets its status, each in the history.
    for words, stdin in [
        (("tickets", "assign", str(number), "me"), b""),
        (("tickets", "note", str(number)), b"Voir le contrat de maintenance."),
        (("tickets", "reply", str(number)), "Bourrage retiré.\n".encode()),
        (("tickets", "status", str(number), "En", "cours"), b""),
    ]:
        r = await ssh_command(service.port, ADMIN, *words, stdin=stdin)
        assert (r.status, r.err) == (0, ""), words
    assert await count(database, history, history.c.ticket_id == number) == 5
    assert await count(database, audit_log, audit_log.c.details.like(f"%ticket={number}%")) == 4

    # The requester's view: no internal note, in JSON as in text.
    r = await ssh_command(service.port, ALICE, "tickets", "show", str(number), "--json")
    assert r.status == 0, r.err
    shown = json.loads(r.out)
    assert shown["status"] == "En cours" and shown["assignee"] == "Awa Admin"
    assert [e["action"] for e in shown["history"]] == [
        "creation",
        "assignation",
        "reponse",
        "changement_statut",
    ]
    assert shown["created_at"].endswith("+00:00")
    r = await ssh_command(service.port, ALICE, "tickets", "show", str(number))
    assert r.status == 0 and "Bourrage retiré." in r.out and "contrat" not in r.out
    r = await ssh_command(service.port, ADMIN, "tickets", "show", str(number))
    assert "Voir le contrat de maintenance." in r.out

    # Her list: a plain table; the admin's, with filters, in CSV parsed back.
    r = await ssh_command(service.port, ALICE, "tickets", "list")
    assert r.status == 0 and "\x1b" not in r.out
    assert r.out.splitlines()[0].split() == [
        "N°",
        "Statut",
        "Urgence",
        "Créé",
        "le",
        "Demandeur",
        "Assigné",
        "à",
        "Catégorie",
        "Titre",
    ]
    assert f"#{number}" in r.out and "Imprimante, bloquée" in r.out
    r = await ssh_command(
        service.port, ADMIN, "tickets", "list", "--all", "--status", "En cours", "--assignee", "me", "--csv"
    )
    assert r.status == 0, r.err
    rows = list(csv.reader(io.StringIO(r.out, newline="")))
    assert rows[0][0] == "id" and rows[1][0] == str(number) and rows[1][-1] == "Imprimante, bloquée"
    r = await ssh_command(service.port, ADMIN, "tickets", "list", "--all", "--status", "Résolu", "--json")
    assert (r.status, json.loads(r.out)) == (0, [])


async def test_another_learners_ticket_is_as_missing_as_a_missing_one(service, database):
    r = await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Wifi", "--urgency", "Faible", stdin=b"Pas de wifi."
    )
    number = int(r.out)
    theirs = await ssh_command(service.port, BOB, "tickets", "show", str(number))
    missing = await ssh_command(service.port, BOB, "tickets", "show", "999")
    assert (theirs.status, theirs.err) == (missing.status, missing.err) == (2, "Ticket introuvable.\n")
    r = await ssh_command(service.port, BOB, "tickets", "reply", str(number), stdin=b"Moi aussi.")
    assert (r.status, r.err) == (2, "Ticket introuvable.\n")
    r = await ssh_command(service.port, ALICE, "tickets", "status", str(number), "Résolu")
    assert (r.status, r.err) == (2, "Action réservée aux administrateurs.\n")
    r = await ssh_command(service.port, ALICE, "export")
    assert (r.status, r.err) == (2, "Action réservée aux administrateurs.\n")
    assert await count(database, history, history.c.ticket_id == number) == 1


async def test_stdin_is_bounded_and_must_be_utf8(service, database):
    r = await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Long", "--urgency", "Faible", stdin=b"a" * 100_000
    )
    assert (r.status, r.err) == (1, "Le texte reçu sur l'entrée standard est trop long.\n")
    r = await ssh_command(
        service.port,
        ALICE,
        "tickets",
        "new",
        "--title",
        "Octets",
        "--urgency",
        "Faible",
        stdin=b"caf\xe9 noir",
    )
    assert (r.status, r.err) == (1, "Le texte reçu sur l'entrée standard n'est pas de l'UTF-8 valide.\n")
    assert await count(database, tickets) == 0


async def test_untrusted_text_is_neutralised_in_text_and_escaped_in_json(service):
    r = await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Piège", "--urgency", "Moyenne",
        stdin="Texte \x1b[2J\x1b]0;titre\x07 caché".encode(),
    )  # fmt: skip
    number = r.out.strip()
    r = await ssh_command(service.port, ALICE, "tickets", "show", number)
    assert r.status == 0 and "\x1b" not in r.out and "\x07" not in r.out and "␛[2J" in r.out
    r = await ssh_command(service.port, ALICE, "tickets", "show", number, "--json")
    assert json.loads(r.out)["description"] == "Texte \x1b[2J\x1b]0;titre\x07 caché"
    assert "\x1b" not in r.out


async def test_export_and_users_list_for_admins(service, database):
    for n in range(3):
        await ssh_command(
            service.port, ALICE, "tickets", "new", "--title", f'Titre "{n}", é', "--urgency", "Faible",
            stdin=b"Description.",
        )  # fmt: skip
    r = await ssh_command(service.port, ADMIN, "export")
    assert r.status == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out, newline="")))
    assert [row["title"] for row in rows] == ['Titre "0", é', 'Titre "1", é', 'Titre "2", é']
    assert rows[0]["author_email"] == ALICE and rows[0]["replies"] == "0"
    r = await ssh_command(service.port, ADMIN, "export", "--format", "json", "--since", "2000-01-01")
    assert [t["id"] for t in json.loads(r.out)] == [int(row["id"]) for row in rows]
    r = await ssh_command(service.port, ADMIN, "export", "--format", "json", "--since", "2999-01-01")
    assert (r.status, json.loads(r.out)) == (0, [])
    r = await ssh_command(service.port, ADMIN, "export", "--since", "hier")
    assert (r.status, r.err) == (1, "Date invalide : hier (attendu AAAA-MM-JJ).\n")

    r = await ssh_command(service.port, ADMIN, "export", "--bom")
    assert r.out.startswith("\ufeffid,title,") and r.out.endswith("\r\n")
    r = await ssh_command(service.port, ADMIN, "users", "list", "--csv", "--bom")
    assert r.out.startswith("\ufeffemail,name,role,created_at,tickets\r\n")
    r = await ssh_command(service.port, ADMIN, "users", "list", "--json")
    assert r.status == 0, r.err
    people = {u["email"]: u for u in json.loads(r.out)}
    assert set(people) == {ALICE, BOB, ADMIN} and people[ALICE]["tickets"] == 3


async def test_wrong_passwords_are_throttled_and_audited_as_for_screens(service, database):
    for _ in range(5):
        r = await ssh_command(service.port, ALICE, "whoami", password="mauvais")
        assert r.status == 255 and r.out == ""
    # Now even the right password is refused for a while (the same throttle as screens).
    r = await ssh_command(service.port, ALICE, "whoami")
    assert r.status == 255 and r.out == ""
    assert await count(database, audit_log, audit_log.c.compte == ALICE) >= 5


async def test_a_session_without_a_terminal_gets_the_screens_as_lines(service):
    """`ssh -T` into a pipe draws nothing: the screens as plain lines, no escape sequence."""
    r = await ssh_command(service.port, ALICE, stdin=b"4\n4\n")  # Déconnexion, then Quitter
    assert r.status == 0, r.err
    assert "\x1b" not in r.out
    assert r.out.startswith("\n== Menu principal ==\n  1. Nouveau ticket\n")
    assert "Vous êtes déconnecté." in r.out and "== Accueil ==" in r.out
    r = await ssh_command(service.port, "support", stdin=b"")
    assert (r.status, "\x1b" in r.out) == (0, False)
    assert r.out.startswith("\n== Accueil ==\n")
    # A command still needs an account.
    r = await ssh_command(service.port, "support", "shell")
    assert (r.status, r.err) == (
        2,
        "Les commandes demandent un compte : connectez-vous avec votre e-mail (ssh -l EMAIL …).\n",
    )
    # A terminal that draws nothing (TERM=dumb) gets the screens as lines, with its line ends
    # (tests/test_e2e_line_screens.py follows them).
    r = await ssh_command(service.port, ALICE, options=("-tt",), term="dumb")
    assert r.status == 0 and "\x1b" not in r.out
    assert "\r\n== Menu principal ==\r\n  1. Nouveau ticket\r\n" in r.out


LINE_MODE = "Mode ligne : tapez une commande puis Entrée (help : la liste, quit : terminer).\n"


class Expect:
    """`ssh -T` driven as `expect` does: wait for a text on stdout, then type a line."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.seen = ""

    def _at_line_start(self, text: str) -> int:
        at = -1
        while (at := self.seen.find(text, at + 1)) >= 0:
            if at == 0 or self.seen[at - 1] == "\n":
                return at
        return -1

    async def expect(self, text: str) -> str:
        """What came before `text`, found at the start of a line."""
        while (at := self._at_line_start(text)) < 0:
            chunk = await asyncio.wait_for(self.proc.stdout.read(4096), 15)
            assert chunk, f"{text!r} never came:\n{self.seen}"
            self.seen += chunk.decode("utf-8")
        before, self.seen = self.seen[:at], self.seen[at + len(text) :]
        return before

    def type(self, line: str) -> None:
        self.proc.stdin.write((line + "\n").encode("utf-8"))


async def test_line_mode_followed_line_by_line(service, database):
    proc = await ssh_process(service.port, ALICE, "shell")
    e = Expect(proc)
    assert await e.expect("> ") == LINE_MODE
    e.type("whoami")
    assert await e.expect("> ") == "Alice Ndiaye <alice@example.org> (utilisateur)\n"
    e.type("tickets new --title Clavier collant --urgency Faible")
    await e.expect("Tapez le texte ; terminez par une ligne ne contenant qu'un point (.).\n")
    e.type("Les touches collent.")
    e.type("Sur le poste 4.")
    e.type(".")
    assert await e.expect("> ") == "1\n"
    e.type("tickets list")
    listed = await e.expect("> ")
    assert "#1" in listed and "Clavier collant" in listed and "\x1b" not in listed
    e.type("tickets show 99")
    await e.expect("> ")
    e.type("quit")
    # As a shell does: the session ends with the last command's status (not found: 2).
    assert await asyncio.wait_for(proc.wait(), 15) == 2
    err = (await proc.stderr.read()).decode("utf-8")
    assert err == "Ticket introuvable.\n"
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == 1))).one()
    assert (row.titre, row.description) == ("Clavier collant", "Les touches collent.\nSur le poste 4.")


def _readme_json_example() -> list:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    scripts = readme.split("## Scripts", 1)[1]
    return json.loads(scripts.split("```json\n", 1)[1].split("```", 1)[0])


async def test_the_readme_json_example_is_what_tickets_list_prints(service, services, admin):
    # The script's address (127.0.0.1) is in a network of a place: its ticket is there.
    staff = context_for(services, admin)
    place = await staff.add_place("Bâtiment B — salle 12")
    await staff.add_network(place.id, "127.0.0.0/8")
    await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Imprimante bloquée", "--urgency", "Haute",
        "--category", "matériel", stdin=b"Bourrage.",
    )  # fmt: skip
    await ssh_command(service.port, ADMIN, "tickets", "assign", "1", "me")
    await ssh_command(service.port, ADMIN, "tickets", "status", "1", "En", "cours")
    r = await ssh_command(service.port, ALICE, "tickets", "list", "--json")
    [printed], [example] = json.loads(r.out), _readme_json_example()
    assert list(printed) == list(example)
    assert {k: type(v) for k, v in printed.items()} == {k: type(v) for k, v in example.items()}
    assert (printed["title"], printed["status"], printed["urgency"], printed["category"]) == (
        example["title"], example["status"], example["urgency"], example["category"]
    )  # fmt: skip
    assert printed["place"] == example["place"]
    r = await ssh_command(service.port, ALICE, "tickets", "list")
    assert "Catégorie" in r.out.splitlines()[0] and "Matériel" in r.out, r.out
    r = await ssh_command(service.port, ALICE, "tickets", "new", "--title", "X", "--urgency", "Haute",
                          "--category", "Cuisine")  # fmt: skip
    assert (r.status, r.err.split(". ")[0]) == (1, "Catégorie inconnue : Cuisine")
    assert datetime.fromisoformat(printed["created_at"]).utcoffset() is not None


async def test_a_script_logs_in_with_its_key_or_keyboard_interactive(service, database, alice, tmp_path):
    from .test_e2e_keys import register_key, write_key

    key = asyncssh.generate_private_key("ssh-ed25519")
    await register_key(database, alice, key)
    path = write_key(tmp_path, key, "id_script")
    r = await ssh_command(service.port, ALICE, "whoami", "--json", identity=str(path), password="pas-demandé")
    assert (r.status, json.loads(r.out)["email"]) == (0, ALICE)
    r = await ssh_command(
        service.port, ALICE, "whoami", options=("-o", "PreferredAuthentications=keyboard-interactive")
    )
    assert (r.status, r.out) == (0, "Alice Ndiaye <alice@example.org> (utilisateur)\n")


async def test_a_command_waiting_for_stdin_that_never_ends_gives_up(service, database):
    ssh = dataclasses.replace(service.settings.ssh, idle_timeout=1)
    service.settings = dataclasses.replace(service.settings, ssh=ssh)
    r = await ssh_command(
        service.port, ALICE, "tickets", "new", "--title", "Attente", "--urgency", "Faible", hold_stdin=True
    )
    assert (r.status, r.err) == (
        1,
        "Rien n'a été reçu sur l'entrée standard à temps : la commande est abandonnée.\n",
    )
    assert await count(database, tickets) == 0
