"""Forms, lists and ticket screens over real SSH: each refusal on screen, nothing written."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import sqlalchemy as sa

from server.store.schema import history, statuses, tickets, users

from .conftest import PASSWORD, context_for, count, until
from .journeys import pick_category
from .sshclient import CTRL_D, ENTER, ESC, PAGE_DOWN, Client, ScreenReader

BACKSPACE = "\x7f"
WELCOME = ("1. Se connecter", "2. Créer un compte", "3. Mot de passe oublié", "4. Quitter")
BCRYPT_MESSAGE = (
    "Le mot de passe dépasse 72 octets (limite de bcrypt ; les lettres accentuées comptent double) : "
    "raccourcissez-le."
)


async def counts(database) -> dict[str, int]:
    return {t.name: await count(database, t) for t in (users, tickets, history)}


def words(text: str) -> str:
    return " ".join(text.split())


async def wait_sentence(c: ScreenReader, sentence: str, timeout: float = 15.0) -> str:
    """Wait for a sentence that may be wrapped over several screen lines."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while words(sentence) not in words(c.text()):
        assert loop.time() < deadline and not c.closed, f"{sentence!r} not on screen:\n{c.text()}"
        c.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.changed.wait(), 0.2)
    return c.text()


def line_with(screen: str, text: str) -> str:
    found = [line for line in screen.splitlines() if text in line]
    assert len(found) == 1, screen
    return found[0]


async def fill(c: ScreenReader, steps: list[tuple[str, str]]) -> None:
    """Wait for each field's label, then type its value and Enter."""
    for label, value in steps:
        await c.wait_for(label)
        c.send(value + ENTER)


async def guest(service, clients) -> Client:
    c = await Client.connect(service.port)
    clients.append(c)
    await c.wait_for(*WELCOME)
    return c


async def logged_in(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await c.wait_for("1. Nouveau ticket")
    return c


# Registration ---------------------------------------------------------------------------------

NAME, EMAIL = ("Nom :", "Fatou Sow"), ("E-mail :", "fatou.sow@example.org")
PASS, CONFIRM = ("Mot de passe :", "motdepasse-1"), ("Confirmation :", "motdepasse-1")

REGISTRATION_REFUSALS = {
    # case: (fields typed, sentence shown, field asked again, keys that correct it)
    "invalid e-mail": (
        [NAME, ("E-mail :", "fatou.sow@example")],
        "Adresse e-mail invalide (exemple : prenom.nom@exemple.org).",
        "E-mail :",
        # The refused value stays in the field, cursor at its end: the user completes it.
        [(".org", "Mot de passe :"), ("motdepasse-1", "Confirmation :"), ("motdepasse-1", "")],
    ),
    "e-mail already used": (
        [NAME, ("E-mail :", "ALICE@Example.org"), PASS, CONFIRM],
        "Un compte existe déjà avec cet e-mail.",
        "E-mail :",
        [(BACKSPACE * 3 + "net", "Mot de passe :"), ("motdepasse-1", "Confirmation :"), ("motdepasse-1", "")],
    ),
    "name too long": (
        [("Nom :", "N" * 81)],
        "Le nom est trop long (81 caractères, 80 au plus).",
        "Nom :",
        [
            (BACKSPACE, "E-mail :"),
            ("fatou.sow@example.org", "Mot de passe :"),
            ("motdepasse-1", "Confirmation :"),
            ("motdepasse-1", ""),
        ],
    ),
    "password too short": (
        [NAME, EMAIL, ("Mot de passe :", "court")],
        "Le mot de passe doit faire au moins 8 caractères.",
        "Mot de passe :",
        [("motdepasse-1", "Confirmation :"), ("motdepasse-1", "")],
    ),
    "password over 72 bytes": (
        [NAME, EMAIL, ("Mot de passe :", "é" * 40)],
        BCRYPT_MESSAGE,
        "Mot de passe :",
        [("é" * 36, "Confirmation :"), ("é" * 36, "")],
    ),
    "passwords different": (
        [NAME, EMAIL, PASS, ("Confirmation :", "motdepasse-2")],
        "Les deux mots de passe ne sont pas identiques.",
        "Mot de passe :",
        [("motdepasse-1", "Confirmation :"), ("motdepasse-1", "")],
    ),
}


@pytest.mark.parametrize("case", list(REGISTRATION_REFUSALS))
async def test_registration_refusal(service, clients, alice, database, case):
    typed, sentence, asked_again, corrections = REGISTRATION_REFUSALS[case]
    c = await guest(service, clients)
    before = await counts(database)
    c.send("2")
    await fill(c, typed)

    screen = await wait_sentence(c, sentence)
    assert asking(c, asked_again), screen
    assert "Entrée : valider · Échap : annuler" in screen
    assert "Traceback" not in screen
    assert await counts(database) == before

    # The session goes on: once corrected, the account is created.
    for keys, next_label in corrections:
        c.send(keys + ENTER)
        if next_label:
            await c.wait_for(next_label)
    await c.wait_for("Compte créé. Bienvenue", "1. Nouveau ticket")
    assert await counts(database) == {**before, "utilisateurs": before["utilisateurs"] + 1}


async def test_registration_refuses_a_name_with_control_characters(service, clients, database):
    c = await guest(service, clients)
    c.send("2")
    await c.wait_for("Nom :")
    c.paste("Awa\x1b]0;PWNED\x07")
    c.send(ENTER)
    screen = await wait_sentence(
        c, "Le nom ne peut pas contenir de caractères de contrôle (Échap, tabulation…)."
    )
    assert asking(c, "Nom :"), screen
    assert await counts(database) == {"utilisateurs": 0, "tickets": 0, "historique": 0}
    # Corrected, the account is created under the clean name.
    c.send(BACKSPACE * 10 + " Diop" + ENTER)
    await fill(c, [EMAIL, PASS, CONFIRM])
    await c.wait_for("Compte créé. Bienvenue", "1. Nouveau ticket")
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(users.c.nom))).scalar_one() == "Awa Diop"


def asking(c: ScreenReader, label: str) -> bool:
    """Whether `label` is the field being typed (a filled one shows its value after the colon)."""
    return any(row.rstrip() == f" {label}" or row.startswith(f" {label}  (") for row in c.screen.display)


@pytest.mark.parametrize("cancel_at", ["Nom :", "E-mail :", "Mot de passe :", "Confirmation :"])
async def test_escape_cancels_registration(service, clients, database, cancel_at):
    c = await guest(service, clients)
    c.send("2")
    steps = [NAME, EMAIL, PASS, CONFIRM]
    for label, value in steps:
        await c.wait_for(label)
        if label == cancel_at:
            c.send(ESC)
            break
        c.send(value + ENTER)
    screen = await c.wait_for(*WELCOME)
    assert "Compte créé" not in screen
    assert await counts(database) == {"utilisateurs": 0, "tickets": 0, "historique": 0}


# New ticket -----------------------------------------------------------------------------------

TICKET_REFUSALS = {
    # case: (what to do at the title, at the description, sentence, correction, final title/description)
    "empty title": (
        lambda c: c.send(ENTER),
        None,
        "Le titre est obligatoire.",
        lambda c: c.send("Imprimante bloquée" + ENTER),
    ),
    "title over 120 characters": (
        lambda c: c.send("T" * 121 + ENTER),
        None,
        "Le titre est trop long (121 caractères, 120 au plus).",
        lambda c: c.send(BACKSPACE + ENTER),
    ),
    "title with control characters": (
        # Pasted: typed, Esc would cancel the field.
        lambda c: (c.paste("Imprimante\x1b]0;PWNED\x07"), c.send(ENTER)),
        None,
        "Le titre ne peut pas contenir de caractères de contrôle (Échap, tabulation…).",
        lambda c: c.send(BACKSPACE * 10 + ENTER),
    ),
    "empty description": (
        lambda c: c.send("Imprimante bloquée" + ENTER),
        lambda c: c.send(CTRL_D),
        "La description est obligatoire.",
        lambda c: c.send("Plus rien ne sort." + CTRL_D),
    ),
    "description over 4000 characters": (
        lambda c: c.send("Imprimante bloquée" + ENTER),
        lambda c: (c.paste("d" * 4001), c.send(CTRL_D)),
        "La description est trop longue (4001 caractères, 4000 au plus).",
        lambda c: c.send(BACKSPACE + CTRL_D),
    ),
}


@pytest.mark.parametrize("case", list(TICKET_REFUSALS))
async def test_new_ticket_refusal(service, clients, alice, database, case):
    at_title, at_description, sentence, correct = TICKET_REFUSALS[case]
    c = await logged_in(service, clients, "alice@example.org")
    before = await counts(database)
    c.send("1")
    await c.wait_for("Titre :")
    at_title(c)
    if at_description is not None:
        await pick_category(c)
        await c.wait_for("Description :")
        at_description(c)
    screen = await wait_sentence(c, sentence)
    assert "Traceback" not in screen
    assert await counts(database) == before

    # The session goes on: corrected, the ticket is created.
    correct(c)
    if at_description is None:
        await pick_category(c)
        await c.wait_for("Description :")
        c.send("Plus rien ne sort." + CTRL_D)
    await c.wait_for("1. Faible")
    c.send("1")
    await c.wait_for("Ticket #1 créé.")
    after = await counts(database)
    assert after == {**before, "tickets": 1, "historique": 1}
    async with database.transaction() as conn:
        title, description = (await conn.execute(sa.select(tickets.c.titre, tickets.c.description))).one()
    if case == "title over 120 characters":
        assert title == "T" * 120
    if case == "title with control characters":
        assert title == "Imprimante"
    if case == "description over 4000 characters":
        assert description == "d" * 4000


@pytest.mark.parametrize("cancel_at", ["Titre :", "Catégorie :", "Description :", "Urgence :"])
async def test_escape_cancels_a_new_ticket(service, clients, alice, database, cancel_at):
    c = await logged_in(service, clients, "alice@example.org")
    c.send("1")
    for label, value in [
        ("Titre :", "Wifi coupé" + ENTER),
        ("Catégorie :", "3"),
        ("Description :", "Depuis ce matin." + CTRL_D),
        ("Urgence :", None),
    ]:
        await c.wait_for(label)
        if label == cancel_at:
            c.send(ESC)
            break
        c.send(value)
    await c.wait_for("Ticket abandonné.", "1. Nouveau ticket")
    assert await counts(database) == {"utilisateurs": 1, "tickets": 0, "historique": 0}


@pytest.mark.parametrize("end", [CTRL_D, ESC + ENTER], ids=["ctrl-d", "esc-enter"])
async def test_multi_line_description_ends_with_ctrl_d_or_esc_enter(service, clients, alice, database, end):
    c = await logged_in(service, clients, "alice@example.org")
    c.send("1")
    await fill(c, [("Titre :", "Projecteur salle 2")])
    await pick_category(c, "Salles et vidéoprojecteurs")
    screen = await c.wait_for("Description :", "Ctrl-D ou Échap Entrée : terminer")
    c.send("Le projecteur clignote." + ENTER + ENTER + "Puis il s'éteint.")
    await c.wait_for("Puis il s'éteint.")
    c.send(end)
    await c.wait_for("1. Faible", "2. Moyenne", "3. Haute")
    c.send("2")
    screen = await c.wait_for("Ticket #1 créé.", "Puis il s'éteint.")
    assert "Le projecteur clignote.\n\n Puis il s'éteint." in screen
    async with database.transaction() as conn:
        description = (await conn.execute(sa.select(tickets.c.description))).scalar_one()
    assert description == "Le projecteur clignote.\n\nPuis il s'éteint."


# Lists and ticket screens ---------------------------------------------------------------------


async def test_another_users_ticket_is_introuvable_like_a_missing_one(
    service, clients, services, alice, bob, database
):
    alices = await context_for(services, alice).create_ticket("Secret d'Alice", "Privé.", "Haute")
    bobs = await context_for(services, bob).create_ticket("Clavier de Bob", "Touche A.", "Faible")
    missing = bobs + 100

    c = await logged_in(service, clients, "bob@example.org")
    screens = []
    for number in (alices, missing):
        c.send("2")
        await c.wait_for("Mes tickets", "Clavier de Bob")
        c.send(str(number))
        await c.wait_for(f"Numéro du ticket : {number}")
        c.send(ENTER)
        screens.append(await c.wait_for("Ticket introuvable."))
        assert "Secret d'Alice" not in screens[-1] and "Privé." not in screens[-1]
        c.send("0")
        await c.wait_for("1. Nouveau ticket")
    sentences = [line_with(screen, "introuvable") for screen in screens]
    assert sentences == [" Ticket introuvable."] * 2
    # Not just the sentence: the whole screen is the same.
    assert screens[0] == screens[1]

    # Bob's own ticket opens from the same list.
    c.send("2")
    await c.wait_for("Clavier de Bob")
    c.send(f"{bobs}" + ENTER)
    await c.wait_for(f"Ticket #{bobs} — Clavier de Bob", "Touche A.")


async def test_status_change_needs_confirmation(service, clients, services, alice, admin, database):
    number = await context_for(services, alice).create_ticket("Souris cassée", "Le clic droit.", "Moyenne")
    staff = await logged_in(service, clients, "admin@example.org")

    async def state() -> tuple[str, int]:
        async with database.transaction() as conn:
            status = (
                await conn.execute(
                    sa.select(statuses.c.libelle).join(tickets, tickets.c.statut_id == statuses.c.id)
                )
            ).scalar_one()
            count = (await conn.execute(sa.select(sa.func.count()).select_from(history))).scalar_one()
        return status, count

    staff.send("3")
    await staff.wait_for("Tous les tickets", "Souris cassée", "Numéro du ticket")
    staff.send(f"{number}" + ENTER)
    await staff.wait_for(f"Ticket #{number}", "1. Changer le statut")
    for key in ("n", "x", ESC):
        staff.send("1")
        await staff.wait_for("1. En attente (actuel)", "2. En cours", "3. Résolu")
        staff.send("3")
        await staff.wait_for("« En attente » à « Résolu »", "Confirmer ? (o/n)")
        staff.send(key)
        await staff.wait_for("Changement annulé.", "Statut : En attente")
        assert await state() == ("En attente", 1)

    staff.send("1")
    await staff.wait_for("3. Résolu")
    staff.send("3")
    await staff.wait_for("Confirmer ? (o/n)")
    staff.send("o")
    screen = await staff.wait_for("Statut changé : Résolu.", "Statut : Résolu")
    assert "Awa Admin — statut : En attente → Résolu" in screen
    assert await state() == ("Résolu", 2)
    async with database.transaction() as conn:
        change = (await conn.execute(sa.select(history).order_by(history.c.id.desc()).limit(1))).one()
    assert (change.action, change.acteur_nom, change.ancien_statut_id, change.nouveau_statut_id) == (
        "changement_statut",
        "Awa Admin",
        1,
        3,
    )


async def test_lists_show_the_newest_first(service, clients, services, alice, admin):
    ctx = context_for(services, alice)
    for title in ("Premier ticket", "Deuxième ticket", "Troisième ticket"):
        await ctx.create_ticket(title, "Détails.", "Faible")
    # The admins' Tous les tickets puts the most urgent first: see test_e2e_finding.py.
    for who, key, list_title in (("alice@example.org", "2", "Mes tickets"),):
        c = await logged_in(service, clients, who)
        c.send(key)
        screen = await c.wait_for(list_title, "Premier ticket", "Deuxième ticket", "Troisième ticket")
        rows = screen.splitlines()
        order = [
            next(i for i, row in enumerate(rows) if t in row)
            for t in ("Troisième ticket", "Deuxième ticket", "Premier ticket")
        ]
        assert order == sorted(order) and len(set(order)) == 3, screen
        assert line_with(screen, "Troisième").split()[0] == "#3"
        assert "3 ticket(s)" in screen


async def test_long_description_scrolls_with_page_down(service, clients, services, alice):
    description = "\n".join(f"ligne {n:02d} de la description" for n in range(1, 61))
    number = await context_for(services, alice).create_ticket("Très long", description, "Haute")
    c = await logged_in(service, clients, "alice@example.org")
    c.send("2")
    await c.wait_for("Très long")
    c.send(f"{number}" + ENTER)
    screen = await c.wait_for("ligne 01 de la description", "PgPréc/PgSuiv : défiler", "0. Retour")
    shown = [n for n in range(1, 61) if f"ligne {n:02d} " in screen]
    assert shown and max(shown) < 60
    following = f"ligne {max(shown) + 1:02d} "
    assert following not in screen

    c.send(PAGE_DOWN)
    screen = await c.wait_for(following, "0. Retour", "PgPréc/PgSuiv : défiler")
    # Keep going down to the end, then the history below it.
    for _ in range(10):
        c.send(PAGE_DOWN)
    await c.wait_for("ligne 60 de la description", "Historique", "Alice Ndiaye — ticket créé", "0. Retour")


async def test_window_resize_re_renders_at_the_new_size(service, clients, services, alice):
    await context_for(services, alice).create_ticket("Écran trop petit", "Détails.", "Faible")
    c = await logged_in(service, clients, "alice@example.org")
    await c.wait_for("Chiffre ou ↑↓ Entrée : choisir")
    assert len(c.screen.display[0].rstrip()) == 79
    assert c.screen.display[0].rstrip().endswith("alice@example.org")

    c.resize(100, 30)
    await until(lambda: len(c.screen.display[0].rstrip()) == 99)
    assert c.screen.display[0].rstrip().endswith("alice@example.org")
    # The key hints moved down to the new last line.
    await until(lambda: "Chiffre ou ↑↓ Entrée : choisir" in c.screen.display[29])

    # The next screen is drawn at the new size too: the table's title column is wider.
    c.send("2")
    await c.wait_for("Mes tickets", "Écran trop petit")
    await until(lambda: "Numéro puis Entrée" in c.screen.display[29])
    header_row = line_with(c.text(), "Titre")
    assert len(header_row.rstrip()) > 80

    c.resize(80, 24)
    await until(lambda: len(c.screen.display[0].rstrip()) == 79)
    await until(lambda: "Numéro puis Entrée" in c.screen.display[23])
    assert line_with(c.text(), "Écran trop petit").startswith(" #1")


def assert_fits(c: ScreenReader, hints: str, *visible: str) -> None:
    """80×24, nothing essential cut: the header, what must be seen, the key hints in full at
    the bottom."""
    rows = c.screen.display
    assert (c.screen.columns, c.screen.lines) == (80, 24)
    assert rows[0].startswith(" Support Tickets · "), c.text()
    last = max(i for i, row in enumerate(rows) if row.strip())
    assert rows[last].strip() == hints, c.text()
    for text in visible:
        assert any(text in row for row in rows), f"{text!r} cut or missing:\n{c.text()}"


async def test_every_screen_fits_80x24(service, clients, services, alice, admin):
    menu_hint = "Chiffre ou ↑↓ Entrée : choisir · 0/Échap : {}"
    field_hint = "Entrée : valider · Échap : annuler"
    long_title = (
        "Le vidéoprojecteur de la salle de réunion du deuxième étage affiche une image floue "
        "et s'éteint au bout de dix minutes"[:120]
    )
    description = "\n".join(f"Paragraphe {n} : " + "détail " * 12 for n in range(1, 20))
    number = await context_for(services, alice).create_ticket(long_title, description, "Haute")

    c = await guest(service, clients)
    assert_fits(c, menu_hint.format("quitter"), *WELCOME, "Bienvenue sur le support technique.")
    c.send("2")
    await c.wait_for("Nom :")
    assert_fits(c, field_hint, "Créer un compte", "Nom :", "(80 caractères au plus)")
    c.send(ESC)
    await c.wait_for(*WELCOME)
    c.send("1")
    await c.wait_for("E-mail :")
    assert_fits(c, field_hint, "Se connecter", "E-mail :")
    c.send("admin@example.org" + ENTER)
    await c.wait_for("Mot de passe :")
    assert_fits(c, field_hint, "E-mail : admin@example.org", "Mot de passe :")
    c.send(PASSWORD + ENTER)
    await c.wait_for("9. Déconnexion")
    assert_fits(
        c,
        menu_hint.format("déconnexion"),
        "1. Nouveau ticket",
        "2. Mes tickets",
        "3. Tous les tickets",
        "4. Mes tickets assignés",
        "5. Tableau de bord",
        "6. Utilisateurs",
        "7. Paramètres",
        "8. Mon compte",
        "9. Déconnexion",
        "admin@example.org",
    )

    c.send("1")
    await c.wait_for("Titre :")
    assert_fits(c, field_hint, "Nouveau ticket", "Titre :", "(une ligne, 120 caractères au plus)")
    c.send("Vidéoprojecteur" + ENTER)
    await c.wait_for("Catégorie :", "7. Autre")
    assert_fits(c, menu_hint.format("annuler"), "Titre : Vidéoprojecteur", "Catégorie :", "7. Autre")
    c.send("4")
    await c.wait_for("Description :")
    assert_fits(
        c,
        "Entrée : nouvelle ligne · Ctrl-D ou Échap Entrée : terminer · Échap : annuler",
        "Titre : Vidéoprojecteur",
        "Description :",
    )
    c.send("Flou." + CTRL_D)
    await c.wait_for("1. Faible")
    assert_fits(
        c, menu_hint.format("annuler"), "Urgence :", "1. Faible", "2. Moyenne", "3. Haute", "0. Annuler"
    )
    c.send(ESC)
    await c.wait_for("Ticket abandonné.")

    c.send("3")
    await c.wait_for("Tous les tickets", "Numéro du ticket")
    # At 80 columns the author gives its room to the title; the assignee shows initials.
    assert_fits(
        c,
        "N° Entrée : ouvrir · f : filtrer · t : trier · n/p : page · 0/Échap : retour",
        "N°     Titre",
        "Ass.",
        "Urgence",
        "Statut",
        "Date",
        "Numéro du ticket :",
        "1 ticket — page 1/1",
    )
    assert "Le vidéoprojecteur de la salle de réunion…" in line_with(c.text(), f"#{number}")
    c.send(f"{number}" + ENTER)
    await c.wait_for(f"Ticket #{number} — Le vidéoprojecteur")
    assert_fits(
        c,
        menu_hint.format("retour") + " · PgPréc/PgSuiv : défiler",
        "Urgence : Haute",
        "Statut : En attente",
        "Auteur : Alice Ndiaye",
        "1. Changer le statut",
        "0. Retour",
        "Paragraphe 1 :",
    )
    # The title wraps over two lines instead of being cut.
    assert "s'éteint au bout de dix minutes" in words(c.text())
    c.send("1")
    await c.wait_for("3. Résolu")
    assert_fits(
        c,
        menu_hint.format("retour"),
        "Nouveau statut :",
        "1. En attente (actuel)",
        "2. En cours",
        "3. Résolu",
        "0. Retour",
    )
    c.send("2")
    await c.wait_for("Confirmer ? (o/n)")
    assert_fits(
        c,
        "o : confirmer · toute autre touche : annuler",
        "« En attente » à « En cours » ?",
        "Confirmer ? (o/n)",
    )
    c.send("n")
    await c.wait_for("Changement annulé.")
    c.send("0")
    await c.wait_for("Tous les tickets")
    c.send("0")
    await c.wait_for("9. Déconnexion")
    c.send("2")
    await c.wait_for("Mes tickets", "Aucun ticket pour l'instant.")
    assert_fits(
        c,
        "Numéro puis Entrée, ou ↑↓ puis Entrée : ouvrir · 0 ou Échap : retour",
        "Aucun ticket pour l'instant.",
        "Numéro du ticket :",
    )
