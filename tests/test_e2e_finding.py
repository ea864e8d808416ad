"""The admins' Tous les tickets and Tableau de bord over real SSH at 80×24, read on the screen."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.domain.models import Status, Urgency
from server.store import utcnow

from .conftest import until
from .sshclient import ENTER, ESC, PAGE_DOWN
from .test_e2e_tickets import assert_fits, line_with, logged_in
from .test_finding import insert_tickets

BACKSPACE = "\x7f"
RANK = {Urgency.HIGH: 3, Urgency.MEDIUM: 2, Urgency.LOW: 1}
LIST_HINTS = "N° Entrée : ouvrir · f : filtrer · t : trier · n/p : page · 0/Échap : retour"


async def open_and_resolved(database, author) -> dict:
    """20 open tickets of every urgency over three weeks, and 4 resolved ones."""
    base = datetime(2026, 3, 1, 8, 0)
    urgencies = [Urgency.LOW, Urgency.HIGH, Urgency.MEDIUM, Urgency.MEDIUM]
    opened = [
        {
            "title": f"Panne {n:02d}" + (" imprimante" if n == 3 else ""),
            "author": author,
            "urgency": urgencies[n % 4],
            "status": (Status.WAITING, Status.IN_PROGRESS)[n % 2],
            "created_at": base + timedelta(hours=25 * n),
        }
        for n in range(20)
    ]
    resolved = [
        {
            "title": f"Réglé : {what}",
            "author": author,
            "status": Status.RESOLVED,
            "urgency": Urgency.HIGH,
            "created_at": base + timedelta(days=n),
        }
        for n, what in enumerate(["imprimante", "wifi", "chargeur", "souris"])
    ]
    ids = await insert_tickets(database, opened + resolved)
    opened = [{**r, "id": i} for r, i in zip(opened, ids, strict=False)]
    return {
        "open_in_order": sorted(opened, key=lambda r: (-RANK[r["urgency"]], r["created_at"], r["id"])),
        "resolved": [{**r, "id": i} for r, i in zip(resolved, ids[20:], strict=True)],
        "resolved_printer": ids[20],
    }


def listed(screen: str) -> list[int]:
    """Ticket numbers in the table, top to bottom."""
    return [int(row.split()[0][1:]) for row in screen.splitlines() if row.startswith(" #")]


async def test_default_view_is_open_tickets_most_urgent_then_oldest(service, clients, database, alice, admin):
    rows = await open_and_resolved(database, alice)
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    screen = await c.wait_for("Tous les tickets", "20 tickets — page 1/2", "Statut : En attente, En cours")
    assert_fits(
        c,
        LIST_HINTS,
        "N°     Titre",
        "Urgence",
        "Statut",
        "Ass.",
        "Date",
        "tri : urgence, la plus haute d'abord",
        "Numéro du ticket :",
    )
    want = [r["id"] for r in rows["open_in_order"]]
    # A page is as tall as the terminal allows: 14 tickets at 24 lines.
    assert listed(screen) == want[:14]
    assert "Réglé" not in screen
    first = line_with(screen, f"#{want[0]} ")
    # At 80 columns the author gives its room to the title (it shows in the ticket).
    assert "Panne 01" in first and "Haute" in first and "En cours" in first and " — " in first


async def test_filter_by_status_then_text(service, clients, database, alice, admin):
    rows = await open_and_resolved(database, alice)
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    await c.wait_for("20 tickets — page 1/2")
    c.send("f")
    await c.wait_for("Filtres actifs :", "1. Statut", "5. Texte (titre ou description)")
    c.send("1")
    await c.wait_for("4. Résolu", "5. Fermé", "6. Tous les statuts")
    c.send("4")
    screen = await c.wait_for("Statut : Résolu", "4 tickets — page 1/1")
    assert sorted(listed(screen)) == sorted(r["id"] for r in rows["resolved"])
    c.send("f")
    await c.wait_for("Filtres actifs :", "Statut : Résolu")
    c.send("5")
    await c.wait_for("Texte :", "(dans le titre ou la description ; vide : aucun)")
    # Pasted with a terminal's title sequence: refused with one sentence, the field kept.
    c.paste("imprimante\x1b]0;PWNED\x07")
    c.send(ENTER)
    await c.wait_for("Le texte cherché ne peut pas contenir de caractères de contrôle", "Texte :")
    c.send(BACKSPACE * 10 + ENTER)
    screen = await c.wait_for("Statut : Résolu · texte : « imprimante »", "1 ticket — page 1/1")
    assert listed(screen) == [rows["resolved_printer"]]
    assert "Réglé : imprimante " in screen

    # Nothing matches: said so, and clearing the filters brings the default view back.
    c.send("f")
    await c.wait_for("Filtres actifs :")
    c.send("5")
    await c.wait_for("Texte :")
    c.send("zzz" + ENTER)
    await c.wait_for("0 tickets — page 1/1", "Aucun ticket ne correspond à ces filtres.")
    c.send("f")
    await c.wait_for("6. Effacer les filtres (tickets ouverts)")
    c.send("6")
    await c.wait_for("Filtres effacés.", "20 tickets — page 1/2")


async def test_pages_and_opening_a_ticket_from_page_two(service, clients, database, alice, admin):
    rows = await open_and_resolved(database, alice)
    want = [r["id"] for r in rows["open_in_order"]]
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    await c.wait_for("20 tickets — page 1/2")
    c.send(PAGE_DOWN)
    screen = await c.wait_for("20 tickets — page 2/2")
    assert listed(screen) == want[14:]
    c.send("n")
    await c.wait_for("C'est la dernière page.", "page 2/2")

    number = want[16]
    c.send(str(number))
    await c.wait_for(f"Numéro du ticket : {number}")
    c.send(ENTER)
    await c.wait_for(f"Ticket #{number} — ", "1. Changer le statut")
    c.send("0")
    # Back on the same page.
    screen = await c.wait_for("20 tickets — page 2/2")
    assert listed(screen) == want[14:]
    c.send("p")
    screen = await c.wait_for("20 tickets — page 1/2")
    assert listed(screen) == want[:14]
    c.send("p")
    await c.wait_for("C'est la première page.")


async def test_sort_by_date_newest_first(service, clients, database, alice, admin):
    rows = await open_and_resolved(database, alice)
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    await c.wait_for("20 tickets — page 1/2")
    c.send("t")
    await c.wait_for("1. Urgence, la plus haute d'abord (actuel)", "4. Date, les plus récents d'abord")
    c.send("4")
    screen = await c.wait_for("tri : date, les plus récents d'abord", "page 1/2")
    newest = sorted(rows["open_in_order"], key=lambda r: (r["created_at"], r["id"]), reverse=True)
    assert listed(screen) == [r["id"] for r in newest][:14]


async def test_page_size_follows_the_terminal_height(service, clients, database, alice, admin):
    await open_and_resolved(database, alice)
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    await c.wait_for("20 tickets — page 1/2")
    c.resize(100, 30)
    screen = await c.wait_for("20 tickets — page 1/1")
    assert len(listed(screen)) == 20
    c.resize(80, 24)
    screen = await c.wait_for("20 tickets — page 1/2")
    assert len(listed(screen)) == 14
    await until(lambda: LIST_HINTS in c.screen.display[23])


async def test_filter_by_author_searched_by_name(service, clients, database, alice, bob, admin):
    await open_and_resolved(database, alice)
    (bobs,) = await insert_tickets(database, [{"title": "Clavier de Bob", "author": bob}])
    c = await logged_in(service, clients, "admin@example.org")
    c.send("3")
    await c.wait_for("21 tickets — page 1/2")
    c.send("f")
    await c.wait_for("4. Auteur")
    c.send("4")
    await c.wait_for("Auteur (nom ou e-mail) :")
    c.send("SARR" + ENTER)
    await c.wait_for("Comptes trouvés :", "1. Bob Sarr <bob@example.org>")
    c.send("1")
    screen = await c.wait_for("auteur : Bob Sarr", "1 ticket — page 1/1")
    assert listed(screen) == [bobs]
    # An unknown name: one sentence, the filter unchanged.
    c.send("f")
    await c.wait_for("4. Auteur")
    c.send("4")
    await c.wait_for("1. Chercher un autre auteur", "2. Tous les auteurs")
    c.send("1")
    await c.wait_for("Auteur (nom ou e-mail) :")
    c.send("personne" + ENTER)
    await c.wait_for("Aucun compte ne correspond à « personne ».", "auteur : Bob Sarr")


async def test_dashboard_shows_counts_and_a_bar_for_the_day(service, clients, database, alice, admin):
    now = utcnow()
    earlier = now - timedelta(days=3)
    await insert_tickets(
        database,
        [
            *[{"urgency": Urgency.HIGH, "author": alice, "created_at": now}] * 5,
            *[{"urgency": Urgency.LOW, "status": Status.IN_PROGRESS, "author": alice, "created_at": earlier}]
            * 2,
            {"status": Status.RESOLVED, "author": alice, "created_at": earlier},
        ],
    )
    c = await logged_in(service, clients, "admin@example.org")
    c.send("5")
    screen = await c.wait_for("Tableau de bord", "Tickets ouverts : 7", "1. Actualiser")
    assert_fits(
        c,
        "Chiffre ou ↑↓ Entrée : choisir · 0/Échap : retour",
        "En attente : 5 · En cours : 2",
        "Urgence des ouverts : Haute 5 · Moyenne 0 · Faible 2",
        "Médianes sur 30 jours : premier retour — · résolution —",
        "Tickets créés par jour, 14 derniers jours :",
    )
    chart = [
        row
        for row in screen.splitlines()
        if row[1:5] in {"lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."}
    ]
    assert len(chart) == 14
    # Dated by the rows inserted, not by the clock now: a midnight in between changes nothing.
    day_row = line_with(screen, now.strftime(" %d/%m "))
    assert day_row.rstrip().endswith("█ 5"), screen
    earlier_row = line_with(screen, earlier.strftime(" %d/%m "))
    assert earlier_row.rstrip().endswith(" 3") and "█" in earlier_row
    # The longest bar is the largest count; 3 of 5 is three fifths of it, to an eighth.
    assert earlier_row.count("█") < day_row.count("█")

    c.send(ESC)
    await c.wait_for("9. Déconnexion")
