"""Mon compte and Utilisateurs over real SSH, read on the 80×24 screen: keys, password, name,
roles and deletion, each checked in the database too."""

from __future__ import annotations

import re

import asyncssh
import pytest
import sqlalchemy as sa

from server.domain.models import Role
from server.store.schema import audit_log, ssh_keys, tickets, users

from .conftest import PASSWORD, context_for, count, make_user
from .journeys import file_ticket
from .sshclient import ENTER, ESC, PAGE_DOWN, Client, ScreenReader
from .test_e2e_tickets import WELCOME, assert_fits, line_with, logged_in, wait_sentence

BACKSPACE = "\x7f"
MENU_HINTS = "Chiffre ou ↑↓ Entrée : choisir · 0/Échap : retour"


async def choose(c: ScreenReader, label: str) -> None:
    """Pick a menu entry by its label, whatever its number."""
    screen = await c.wait_for(f". {label}")
    c.send(re.search(rf"(\d+)\. {re.escape(label)}", screen).group(1))


async def open_account(c: ScreenReader) -> str:
    await choose(c, "Mon compte")
    return await c.wait_for("Mon compte", "1. Modifier mon nom", "2. Changer le mot de passe", "3. Clés SSH")


def public_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode("ascii").strip()


async def user_field(database, email: str, column: str):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(users.c[column]).where(users.c.email == email))).scalar()


# Mon compte ---------------------------------------------------------------------------------


async def test_key_pasted_on_screen_is_listed_with_its_fingerprint_then_removed(
    service, clients, alice, database
):
    key = asyncssh.generate_private_key("ssh-ed25519", comment="alice@portable")
    fingerprint = key.get_fingerprint()
    c = await logged_in(service, clients, "alice@example.org")
    screen = await open_account(c)
    assert "Nom : Alice Ndiaye" in screen and "E-mail : alice@example.org" in screen
    assert "Rôle : utilisateur" in screen
    assert_fits(c, MENU_HINTS, "Compte créé le : ", "3. Clés SSH", "0. Retour")
    c.send("3")
    await c.wait_for("Clés SSH", "Aucune clé pour l'instant.", "1. Ajouter une clé")
    assert "Supprimer une clé" not in c.text()
    assert_fits(c, MENU_HINTS, "1. Ajouter une clé", "0. Retour")

    # A private key pasted by mistake: refused, and not left on the screen.
    c.send("1")
    await c.wait_for("Clé publique :", "(une ligne : ssh-ed25519 AAAA… commentaire)")
    c.paste(key.export_private_key().decode("ascii"))
    c.send(ENTER)
    screen = await wait_sentence(c, "Ceci est une clé privée : ne la donnez jamais.")
    assert "PRIVATE KEY" not in screen
    assert await count(database, ssh_keys) == 0

    c.paste(public_line(key))
    c.send(ENTER)
    screen = await c.wait_for(f"Clé ajoutée : {fingerprint}.", "2. Supprimer une clé")
    assert f"1. ssh-ed25519 {fingerprint}" in screen
    assert_fits(c, MENU_HINTS, f"1. ssh-ed25519 {fingerprint}", "2. Supprimer une clé", "0. Retour")
    assert re.search(r"alice@portable · ajoutée le \d\d/\d\d/\d{4}", screen), screen
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(ssh_keys))).one()
    assert (row.utilisateur_id, row.algorithme, row.empreinte, row.commentaire) == (
        alice.id,
        "ssh-ed25519",
        fingerprint,
        "alice@portable",
    )
    assert row.cle_publique == " ".join(public_line(key).split()[:2])

    # The same key again.
    c.send("1")
    await c.wait_for("Clé publique :")
    c.paste(public_line(key))
    c.send(ENTER)
    await wait_sentence(c, "Cette clé est déjà enregistrée sur votre compte.")
    c.send(ESC)
    await c.wait_for("Aucune clé ajoutée.", "2. Supprimer une clé")

    c.send("2")
    await c.wait_for("Quelle clé supprimer ?", f"1. {fingerprint} alice@portable", "0. Annuler")
    c.send("1")
    await wait_sentence(c, f"Supprimer la clé {fingerprint} (alice@portable) ?")
    c.send("n")
    await c.wait_for("Suppression annulée.")
    assert await count(database, ssh_keys) == 1
    c.send("2")
    await c.wait_for("Quelle clé supprimer ?")
    c.send("1")
    await c.wait_for("Confirmer ? (o/n)")
    c.send("o")
    await c.wait_for(f"Clé supprimée : {fingerprint}.", "Aucune clé pour l'instant.")
    assert await count(database, ssh_keys) == 0
    async with database.transaction() as conn:
        events = (await conn.execute(sa.select(audit_log.c.evenement).order_by(audit_log.c.id))).scalars()
        assert [e for e in events if e.startswith("cle_")] == ["cle_ajoutee", "cle_supprimee"]


async def test_password_changed_on_screen_then_ssh_password_login_takes_the_new_one(
    service, clients, alice, database
):
    before = await user_field(database, "alice@example.org", "mot_de_passe")
    c = await logged_in(service, clients, "alice@example.org")
    await open_account(c)

    # A wrong current password: one sentence, nothing changed.
    c.send("2")
    await c.wait_for("Changer le mot de passe", "Mot de passe actuel :")
    c.send("pas-le-bon-mot" + ENTER)
    await c.wait_for("Nouveau mot de passe :", "(8 caractères au moins)")
    c.send("nouveau-secret-42" + ENTER)
    await c.wait_for("Confirmation :")
    c.send("nouveau-secret-42" + ENTER)
    screen = await c.wait_for("Mot de passe actuel incorrect.", "1. Modifier mon nom")
    assert "pas-le-bon-mot" not in screen and "nouveau-secret-42" not in screen
    assert await user_field(database, "alice@example.org", "mot_de_passe") == before

    # The two new ones differ: asked again; then all right.
    c.send("2")
    await c.wait_for("Mot de passe actuel :")
    c.send(PASSWORD + ENTER)
    await c.wait_for("Nouveau mot de passe :")
    c.send("nouveau-secret-42" + ENTER)
    await c.wait_for("Confirmation :")
    c.send("nouveau-secret-43" + ENTER)
    await c.wait_for("Les deux mots de passe ne sont pas identiques.", "Nouveau mot de passe :")
    c.send("nouveau-secret-42" + ENTER)
    await c.wait_for("Confirmation :")
    c.send("nouveau-secret-42" + ENTER)
    screen = await c.wait_for("Mot de passe changé.", "1. Modifier mon nom")
    assert "nouveau-secret-42" not in screen
    assert await user_field(database, "alice@example.org", "mot_de_passe") != before

    # SSH password authentication: the new password opens the main menu, the old one no more.
    fresh = await Client.connect(service.port, "alice@example.org", "nouveau-secret-42")
    clients.append(fresh)
    await fresh.wait_for("1. Nouveau ticket", "Mon compte")
    with pytest.raises(asyncssh.PermissionDenied):
        await Client.connect(service.port, "alice@example.org", PASSWORD)


async def test_new_name_shown_in_the_account_and_on_new_tickets(service, clients, alice, database):
    c = await logged_in(service, clients, "alice@example.org")
    await open_account(c)
    c.send("1")
    await c.wait_for("Modifier mon nom", "(80 caractères au plus)", "Alice Ndiaye")
    c.send(BACKSPACE * len("Alice Ndiaye") + ENTER)
    await c.wait_for("Le nom est obligatoire.")
    c.send("Alice Ndiaye-Sow" + ENTER)
    await c.wait_for("Nom modifié : Alice Ndiaye-Sow.", "Nom : Alice Ndiaye-Sow")
    assert await user_field(database, "alice@example.org", "nom") == "Alice Ndiaye-Sow"
    c.send("0")
    await c.wait_for("1. Nouveau ticket")
    await file_ticket(c, "Clavier", "La touche A colle.", "Faible")
    screen = await c.wait_for("Ticket #1 créé.", "Auteur : Alice Ndiaye-Sow")
    assert "Alice Ndiaye-Sow — ticket créé" in screen


# Utilisateurs --------------------------------------------------------------------------------


async def test_admin_promotes_a_user_who_sees_all_tickets_at_next_login(
    service, clients, alice, bob, admin, database
):
    await context_for(service.services, alice).create_ticket("Wi-Fi", "Coupé.", "Haute")
    staff = await logged_in(service, clients, "admin@example.org")
    await choose(staff, "Utilisateurs")
    screen = await staff.wait_for("Tous les comptes", "3 compte(s) · page 1/1", "Numéro du compte :")
    assert re.search(rf"#{alice.id} +Alice Ndiaye +alice@example.org +util\. +1\b", screen), screen
    assert re.search(rf"#{admin.id} +Awa Admin +admin@example.org +admin +0\b", screen), screen
    # Listed by name.
    rows = screen.splitlines()
    order = [next(i for i, r in enumerate(rows) if name in r) for name in ("Alice", "Awa Admin", "Bob Sarr")]
    assert order == sorted(order)

    staff.send(f"{bob.id}" + ENTER)
    screen = await staff.wait_for(f"Utilisateur #{bob.id}", "Nom : Bob Sarr", "1. Promouvoir administrateur")
    assert "Rôle : utilisateur" in screen and "Tickets : 0" in screen
    staff.send("1")
    await staff.wait_for("Donner le rôle administrateur à Bob Sarr (bob@example.org) ?", "Confirmer ? (o/n)")
    staff.send("o")
    await staff.wait_for("Bob Sarr est maintenant administrateur.", "1. Retirer le rôle administrateur")
    assert await user_field(database, "bob@example.org", "role") == "admin"

    learner = await logged_in(service, clients, "bob@example.org")
    await learner.wait_for("Tous les tickets", "Utilisateurs")
    await choose(learner, "Tous les tickets")
    await learner.wait_for("Tous les tickets", "Wi-Fi", "Numéro du ticket")


async def test_admin_deletes_a_connected_user_by_typing_the_e_mail_back(
    service, clients, alice, bob, admin, database
):
    bobs = await context_for(service.services, bob).create_ticket("Souris", "Cassée.", "Faible")
    alices = await context_for(service.services, alice).create_ticket("Wi-Fi", "Coupé.", "Haute")
    await context_for(service.services, admin).change_status(alices, "En cours")
    learner = await logged_in(service, clients, "bob@example.org")

    staff = await logged_in(service, clients, "admin@example.org")
    await choose(staff, "Utilisateurs")
    await staff.wait_for("Bob Sarr")
    staff.send(f"{bob.id}" + ENTER)
    await staff.wait_for("Nom : Bob Sarr", "Tickets : 1", "2. Supprimer le compte")

    # A wrong e-mail cancels.
    staff.send("2")
    screen = await staff.wait_for("E-mail du compte :", "Compte : Bob Sarr <bob@example.org>")
    assert "Le compte et ses 1 ticket(s) seront supprimés définitivement." in " ".join(screen.split())
    # The warning sits between the account and the field it is about, not at the bottom.
    rows = screen.splitlines()
    field = next(i for i, row in enumerate(rows) if row.startswith(" E-mail du compte :"))
    warned = next(i for i, row in enumerate(rows) if "seront supprimés" in row)
    account = next(i for i, row in enumerate(rows) if row.startswith(" Compte : Bob Sarr"))
    assert account < warned < field and field - warned <= 2, screen
    staff.send("bob@example.com" + ENTER)
    await wait_sentence(staff, "Suppression annulée : l'e-mail saisi n'est pas celui du compte.")
    assert await user_field(database, "bob@example.org", "id") == bob.id
    # Esc cancels too.
    staff.send("2")
    await staff.wait_for("E-mail du compte :")
    staff.send(ESC)
    await staff.wait_for("Suppression annulée.", "2. Supprimer le compte")

    staff.send("2")
    await staff.wait_for("E-mail du compte :")
    staff.send("Bob@Example.org" + ENTER)
    screen = await staff.wait_for("Compte de Bob Sarr supprimé, avec ses 1 ticket(s).", "2 compte(s)")
    assert "bob@example.org" not in screen
    assert await user_field(database, "bob@example.org", "id") is None
    assert await count(database, tickets, tickets.c.id == bobs) == 0
    async with database.transaction() as conn:
        details = (
            (
                await conn.execute(
                    sa.select(audit_log.c.details)
                    .where(audit_log.c.evenement == "action_admin")
                    .where(audit_log.c.details.startswith("suppression"))
                )
            )
            .scalars()
            .all()
        )
    assert details == [f"suppression du compte : bob@example.org (id {bob.id}, 1 tickets)"]

    # Bob, still connected, can do nothing more: told so, and back at the welcome menu.
    await choose(learner, "Mes tickets")
    await learner.wait_for("Votre compte a été supprimé.", *WELCOME)


async def test_users_searched_and_paged_and_an_admin_cannot_delete_themselves(
    service, clients, admin, database
):
    for n in range(14):
        await make_user(service.services, f"apprenant{n:02d}@campus.sn", f"Apprenant {n:02d}")
    staff = await logged_in(service, clients, "admin@example.org")
    await choose(staff, "Utilisateurs")
    screen = await staff.wait_for("15 compte(s) · page 1/2", "Apprenant 00")
    assert "Apprenant 11" in screen and "Apprenant 12" not in screen
    # It fits 80×24 with the key hints in full at the bottom.
    rows = staff.screen.display
    assert rows[23].strip() == "N° Entrée : ouvrir · R : rechercher · PgPréc/PgSuiv : page · 0/Échap : retour"

    staff.send(PAGE_DOWN)
    screen = await staff.wait_for("15 compte(s) · page 2/2", "Apprenant 13", "Awa Admin")
    assert "Apprenant 00" not in screen

    staff.send("r")
    await staff.wait_for("Rechercher un compte", "Nom ou e-mail :", "(vide : tous les comptes)")
    staff.send("APPRENANT07" + ENTER)
    screen = await staff.wait_for("Recherche : « APPRENANT07 »", "1 compte(s) · page 1/1")
    assert "apprenant07@campus.sn" in line_with(screen, "Apprenant 07")
    staff.send("r")
    await staff.wait_for("Nom ou e-mail :")
    staff.send(BACKSPACE * 11 + "personne" + ENTER)
    await staff.wait_for("0 compte(s) · page 1/1", "Aucun compte ne correspond.")

    # One's own account offers no deletion.
    staff.send(f"{admin.id}" + ENTER)
    screen = await staff.wait_for(f"Utilisateur #{admin.id}", "1. Retirer le rôle administrateur")
    assert "Supprimer le compte" not in screen
    staff.send("0")
    await staff.wait_for("Numéro du compte :")
    staff.send("9999" + ENTER)
    await staff.wait_for("Utilisateur introuvable.", "Numéro du compte :")
    assert await count(database, users) == 15
    assert await count(database, users, users.c.role == Role.ADMIN.value) == 1
