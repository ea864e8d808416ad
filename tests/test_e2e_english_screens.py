"""Every screen an admin and a visitor reach, drawn in English: none shows French of the
interface (a string left unmarked, or marked and translated at import time, would)."""

from __future__ import annotations

import re

import pytest

from .conftest import PASSWORD
from .sshclient import CTRL_D, ENTER, ESC, Client

pytestmark = pytest.mark.usefixtures("alice", "admin")

ENGLISH = {"LANG": "en_US.UTF-8"}
# What the French interface shows and the English one never does: the colon after a space,
# key names, labels of every screen.
FRENCH = (
    " :",
    "Retour",
    "Entrée",
    "Échap",
    "Menu principal",
    "Déconnexion",
    "actuel",
    "Statut",
    "Urgence",
    "Titre",
    "ticket(s) —",
    "Aucun",
    "Tous",
    "Toutes",
    "page 1/1 · tri",
    "Faible",
    "Moyenne",
    "Haute",
    "En attente",
    "En cours",
    "Résolu",
    "Mon compte",
    "Utilisateurs",
    "Catégories",
    "Tableau de bord",
    "Rechercher",
    "filtrer",
    "trier",
    "Confirmer",
)


async def screen(c: Client, *texts: str) -> str:
    """Wait for `texts`, then check the whole screen holds no French of the interface."""
    shown = await c.wait_for(*texts)
    for french in FRENCH:
        assert french not in shown, f"{french!r} on an English screen:\n{shown}"
    return shown


def pick(c: Client, label: str) -> None:
    """Choose the menu entry `label` by its number, as shown."""
    match = re.search(rf"(\d+)\. {re.escape(label)}", c.text())
    assert match, f"no {label!r} entry:\n{c.text()}"
    c.send(match.group(1))


async def submenus(c: Client, home: str, entries: dict[str, str]) -> None:
    """Open each entry of the menu that shows `home`, check its screen (`|` between the texts
    to wait for), and come back with Esc."""
    for label, texts in entries.items():
        await screen(c, home)
        pick(c, label)
        await screen(c, *texts.split("|"))
        c.send(ESC)
    await screen(c, home)


async def test_every_admin_screen_in_english(service, clients):
    c = await Client.connect(service.port, "admin@example.org", PASSWORD, cols=100, rows=40, env=ENGLISH)
    clients.append(c)
    await screen(c, "Main menu", "1. New ticket", "Log out")

    # Nouveau ticket, every field.
    c.send("1")
    await screen(c, "New ticket", "Title:")
    c.send("Projector broken" + ENTER)
    await screen(c, "Category:")
    c.send("7")
    await screen(c, "Description:", "Ctrl-D")
    c.send("No picture in room 4." + CTRL_D)
    await screen(c, "Urgency:", "1. Low")
    c.send("2")
    await screen(c, "Ticket #1 created.", "Ticket #1 — Projector broken", "Status: Waiting")

    # The ticket's own menus.
    shown = c.text()
    assert "Change the status" in shown, shown
    c.send("1")
    await screen(c, "Ticket #1: change the status", "1. Waiting (current)", "2. Ongoing", "3. Resolved")
    c.send("2")
    await screen(c, "Confirm? (y/n)", "y: confirm")
    c.send("y")
    await screen(c, "Status changed: Ongoing.")
    await submenus(
        c,
        "6. Change the category",
        {
            "Assign to…": "Ticket #1: assign to…",
            "Change the category": "Ticket #1: change the category",
            "Internal note": "Ticket #1: internal note|Internal note:",
            "Reply": "Ticket #1: reply|Reply:",
        },
    )
    c.send(ESC)
    await screen(c, "· Main menu ")

    # Tous les tickets: the list, its filters and its sort.
    c.send("3")
    await screen(c, "All tickets", "Status: Waiting, Ongoing", "1 ticket — page 1/1", "#1", "Ongoing")
    for label, texts in {
        "Status": "Status:|All statuses",
        "Urgency": "Urgency:|All urgencies",
        "Assigned": "Assigned:",
        "Category": "Category:|All categories",
        "Text (title or description)": "Text:",
    }.items():
        c.send("f")
        await screen(c, "All tickets: filter", "Active filters:", "7. Category")
        pick(c, label)
        await screen(c, *texts.split("|"))
        c.send(ESC)
        await screen(c, "No.", "f: filter")
    await screen(c, "All tickets", "No.", "f: filter")
    c.send("t")
    await screen(c, "All tickets: sort", "Sort by:", "1. Urgency, highest first (current)")
    c.send(ESC)
    await screen(c, "All tickets", "No.")
    c.send(ESC)
    await screen(c, "Main menu")

    for key, title, texts in (
        ("4", "My assigned tickets", ()),
        ("5", "Dashboard", ("Open tickets: 1",)),
        ("6", "Users", ("admin@example.org", "alice@example.org")),
        ("7", "Settings", ("1. Categories", "2. Places")),
        ("8", "My account", ("Name: Awa Admin", "3. SSH keys", "Langue / Language: English")),
    ):
        c.send(key)
        await screen(c, f"· {title} ", *texts)
        c.send(ESC)
        await screen(c, "· Main menu ")

    # An account, a category.
    c.send("6")
    await screen(c, "· Users ", "alice@example.org")
    c.send("2" + ENTER)
    await screen(c, "· User #", "E-mail: ", "Tickets: ", "Reset code")
    c.send(ESC)
    await screen(c, "· Users ")
    c.send(ESC)
    await screen(c, "· Main menu ")
    c.send("7")
    await screen(c, "· Settings ", "1. Categories")
    c.send("1")
    await screen(c, "· Categories ", "1. Add a category")
    pick(c, "Autre")
    await screen(c, "· Category #", "Rename")
    c.send(ESC)
    await screen(c, "· Categories ")
    c.send(ESC)
    await screen(c, "· Settings ")
    c.send("2")
    await screen(c, "· Places ")
    c.send(ESC)
    await screen(c, "· Settings ")
    c.send(ESC)
    await screen(c, "· Main menu ")

    # Mon compte's own screens.
    c.send("8")
    await screen(c, "· My account ", "1. Change my name")
    c.send("3")
    await screen(c, "· SSH keys ", "No keys yet")
    c.send(ESC)
    await screen(c, "· My account ")
    c.send("2")
    await screen(c, "· Change the password ", "Current password:")
    c.send(ESC)
    await screen(c, "· My account ", "Password unchanged.")
    c.send(ESC)
    await screen(c, "· Main menu ")

    # Logged out: the welcome screen, in the client's language, and its forms.
    c.send("9")
    await screen(c, "You are logged out.", "1. Log in", "2. Create an account")
    c.send("2")
    await screen(c, "· Create an account", "Name:")
    c.send(ESC)
    await screen(c, "1. Log in")
    pick(c, "Forgotten password")
    await screen(c, "· Forgotten password", "E-mail:", "reset code")
    c.send(ESC)
    await screen(c, "1. Log in")
    c.send("1")
    await screen(c, "· Log in", "E-mail:")
    c.send("admin@example.org" + ENTER)
    await screen(c, "Password:")
    c.send("wrong-password" + ENTER)
    await screen(c, "Wrong e-mail or password.")
