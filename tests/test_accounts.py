"""Accounts through the context, on SQLite and MariaDB: one's own name, password and SSH keys;
admins listing, promoting, demoting and deleting accounts."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import asyncssh
import bcrypt
import pytest
import sqlalchemy as sa

from server.context import MAX_KEYS, authenticate
from server.domain.models import Role, Status
from server.errors import AccountDeleted, Forbidden, KeyNotFound, Throttled, UserNotFound, ValidationError
from server.store.schema import audit_log, history, ssh_keys, tickets, users

from .conftest import PASSWORD, context_for, count, make_user
from .test_throttle import Spy

LAST_ADMIN = "Impossible : il doit rester au moins un administrateur."
FORBIDDEN = "Action réservée aux administrateurs."
UNRECOGNISED = "Clé non reconnue : collez une seule ligne au format OpenSSH (ssh-ed25519 AAAA… commentaire)."
NEW_KEY = "créez une clé avec « ssh-keygen -t ed25519 »."


def public_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode("ascii").strip()


def ed25519(comment: str = "alice@portable") -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519", comment=comment)


async def user_row(database, user_id: int):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()


async def audit_rows(database, event: str):
    async with database.transaction() as conn:
        return (
            await conn.execute(
                sa.select(audit_log).where(audit_log.c.evenement == event).order_by(audit_log.c.id)
            )
        ).all()


async def key_rows(database):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(ssh_keys).order_by(ssh_keys.c.id))).all()


# Name -------------------------------------------------------------------------------------


async def test_new_name_reaches_the_session_and_new_history_while_old_history_keeps_the_old(
    services, database, alice
):
    ctx = context_for(services, alice)
    before = await ctx.create_ticket("Wi-Fi", "Coupé.", "Haute")
    user = await ctx.change_name("  Alice Ndiaye-Sow ")
    assert user.name == "Alice Ndiaye-Sow" and ctx.user.name == "Alice Ndiaye-Sow"
    assert (await user_row(database, alice.id)).nom == "Alice Ndiaye-Sow"
    after = await ctx.create_ticket("Souris", "Cassée.", "Faible")

    old, new = await ctx.ticket(before), await ctx.ticket(after)
    # The author is the account as it is now; each history entry, as it was then.
    assert old.author_name == new.author_name == "Alice Ndiaye-Sow"
    assert [e.actor_name for e in old.history] == ["Alice Ndiaye"]
    assert [e.actor_name for e in new.history] == ["Alice Ndiaye-Sow"]
    (event,) = await audit_rows(database, "nom_change")
    assert (event.compte, event.utilisateur_id, event.adresse) == (
        "alice@example.org",
        alice.id,
        "127.0.0.1:test",
    )
    assert event.details == "Alice Ndiaye -> Alice Ndiaye-Sow"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "Le nom est obligatoire."),
        ("N" * 81, "Le nom est trop long (81 caractères, 80 au plus)."),
        ("Deux\nlignes", "Le nom doit tenir sur une seule ligne."),
    ],
)
async def test_refused_name_changes_nothing(services, database, alice, name, message):
    ctx = context_for(services, alice)
    with pytest.raises(ValidationError) as info:
        await ctx.change_name(name)
    assert info.value.message == message
    assert ctx.user.name == "Alice Ndiaye"
    assert (await user_row(database, alice.id)).nom == "Alice Ndiaye"
    assert await count(database, audit_log) == 0


async def test_anonymous_session_has_no_account_to_change(services, database, alice):
    ctx = context_for(services, None)
    for attempt in (
        ctx.change_name("X"),
        ctx.change_password(PASSWORD, "nouveau-mot-2"),
        ctx.my_keys(),
        ctx.add_key(public_line(ed25519())),
    ):
        with pytest.raises(Forbidden):
            await attempt
    assert await count(database, ssh_keys) == 0


# Password ---------------------------------------------------------------------------------


async def test_password_changed_after_proving_the_current_one(services, database, alice):
    ctx = context_for(services, alice)
    await ctx.change_password(PASSWORD, "nouveau-secret-42")
    stored = (await user_row(database, alice.id)).mot_de_passe
    assert stored.startswith("$2b$") and "nouveau-secret-42" not in stored
    assert bcrypt.checkpw(b"nouveau-secret-42", stored.encode("ascii"))
    assert await authenticate(services, "alice@example.org", "nouveau-secret-42", "192.0.2.1") == alice
    assert await authenticate(services, "alice@example.org", PASSWORD, "192.0.2.1") is None
    (event,) = await audit_rows(database, "mot_de_passe_change")
    assert (event.compte, event.utilisateur_id) == ("alice@example.org", alice.id)
    assert "nouveau-secret-42" not in event.details and PASSWORD not in event.details


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("pas-le-bon-mot", "nouveau-secret-42", "Mot de passe actuel incorrect."),
        (PASSWORD, "court", "Le mot de passe doit faire au moins 8 caractères."),
        (
            PASSWORD,
            "é" * 37,
            "Le mot de passe dépasse 72 octets (limite de bcrypt ; les lettres accentuées "
            "comptent double) : raccourcissez-le.",
        ),
        (PASSWORD, PASSWORD, "Le nouveau mot de passe doit être différent de l'actuel."),
    ],
    ids=["wrong current", "too short", "over 72 bytes", "unchanged"],
)
async def test_refused_password_change_keeps_the_old_password(
    services, database, alice, current, new, message
):
    before = (await user_row(database, alice.id)).mot_de_passe
    with pytest.raises(ValidationError) as info:
        await context_for(services, alice).change_password(current, new)
    assert info.value.message == message
    assert (await user_row(database, alice.id)).mot_de_passe == before
    assert await audit_rows(database, "mot_de_passe_change") == []


async def test_guessing_the_current_password_is_throttled_like_a_login(services, database, alice):
    ctx = context_for(services, alice)
    spy = Spy(services.hasher)
    for _ in range(services.thresholds.login_failures_per_account):
        with pytest.raises(ValidationError):
            await ctx.change_password("devine-123", "nouveau-secret-42")
    failures = await audit_rows(database, "connexion_echouee")
    assert [(r.compte, r.details) for r in failures] == [("alice@example.org", "mot de passe actuel")] * 5
    # Now even the right password waits, and no bcrypt runs for it.
    before = (await user_row(database, alice.id)).mot_de_passe
    with pytest.raises(Throttled):
        await ctx.change_password(PASSWORD, "nouveau-secret-42")
    assert (await user_row(database, alice.id)).mot_de_passe == before
    assert spy.calls == 5
    assert len(await audit_rows(database, "connexion_freinee")) == 1


# SSH keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "options"),
    [("ssh-ed25519", {}), ("ecdsa-sha2-nistp256", {}), ("ssh-rsa", {"key_size": 2048})],
)
async def test_key_stored_as_the_ssh_layer_reads_it(services, database, alice, algorithm, options):
    private = asyncssh.generate_private_key(algorithm, comment="alice@portable", **options)
    ctx = context_for(services, alice)
    added = await ctx.add_key("  " + public_line(private) + "\n")

    (row,) = await key_rows(database)
    assert row.utilisateur_id == alice.id
    assert row.algorithme == algorithm == private.get_algorithm()
    # Without its comment, exactly as OpenSSH writes the key.
    assert row.cle_publique == " ".join(public_line(private).split()[:2])
    assert row.empreinte == private.get_fingerprint() and row.empreinte.startswith("SHA256:")
    assert row.commentaire == "alice@portable"
    # What is stored is the very key: read back, it has the private key's public half.
    stored = asyncssh.import_public_key(row.cle_publique)
    assert stored.public_data == private.convert_to_public().public_data
    assert stored.get_fingerprint() == row.empreinte

    assert [(k.id, k.algorithm, k.fingerprint, k.comment) for k in await ctx.my_keys()] == [
        (added.id, algorithm, row.empreinte, "alice@portable")
    ]
    (event,) = await audit_rows(database, "cle_ajoutee")
    assert (event.compte, event.details) == ("alice@example.org", f"{algorithm} {row.empreinte}")


def _key_refusals() -> dict[str, tuple[str, str]]:
    ed = ed25519()
    dsa = asyncssh.generate_private_key("ssh-dss")
    rsa = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    return {
        "empty": ("  ", "Collez votre clé publique (le contenu du fichier .pub)."),
        "garbage": ("mon chargeur ne marche plus", UNRECOGNISED),
        "bad base64": ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken", UNRECOGNISED),
        "type mismatch": ("ssh-rsa " + public_line(ed).split()[1], UNRECOGNISED),
        "two lines": (public_line(ed) + "\n" + public_line(ed25519()), UNRECOGNISED),
        "private key": (
            ed.export_private_key().decode("ascii"),
            "Ceci est une clé privée : ne la donnez jamais. Collez la clé publique (fichier .pub).",
        ),
        "dsa": (public_line(dsa), "Les clés DSA (ssh-dss) ne sont plus sûres : " + NEW_KEY),
        "rsa 1024": (public_line(rsa), "Clé RSA trop courte (1024 bits, 2048 au moins) : " + NEW_KEY),
        "unknown type": (
            "ssh-foo AAAAB3NzaC1yc2E x",
            "Type de clé non accepté (ssh-foo) : utilisez ssh-ed25519, ecdsa ou ssh-rsa.",
        ),
        "comment too long": (
            public_line(ed25519("c" * 201)),
            "Le commentaire de la clé est trop long (201 caractères, 200 au plus).",
        ),
    }


KEY_REFUSALS = _key_refusals()


@pytest.mark.parametrize("case", list(KEY_REFUSALS))
async def test_refused_key_writes_nothing(services, database, alice, case):
    text, message = KEY_REFUSALS[case]
    with pytest.raises(ValidationError) as info:
        await context_for(services, alice).add_key(text)
    assert info.value.message == message
    # Whatever was pasted, it is never repeated back.
    assert not text.strip() or text.strip() not in message
    assert await count(database, ssh_keys) == 0
    assert await count(database, audit_log) == 0


async def test_same_key_twice_refused_even_with_another_comment(services, database, alice):
    private = ed25519("portable")
    ctx = context_for(services, alice)
    await ctx.add_key(public_line(private))
    again = " ".join(public_line(private).split()[:2]) + " autre-commentaire"
    with pytest.raises(ValidationError) as info:
        await ctx.add_key(again)
    assert info.value.message == "Cette clé est déjà enregistrée sur votre compte."
    assert [r.commentaire for r in await key_rows(database)] == ["portable"]


async def test_number_of_keys_is_bounded(services, database, alice):
    ctx = context_for(services, alice)
    for n in range(MAX_KEYS):
        await ctx.add_key(public_line(ed25519(f"machine-{n}")))
    with pytest.raises(ValidationError) as info:
        await ctx.add_key(public_line(ed25519("une de trop")))
    assert info.value.message == f"Vous avez déjà {MAX_KEYS} clés : supprimez-en une avant d'en ajouter."
    assert await count(database, ssh_keys) == MAX_KEYS


async def test_keys_are_their_owners_alone(services, database, alice, bob, admin):
    alices = await context_for(services, alice).add_key(public_line(ed25519("alice")))
    bobs = await context_for(services, bob).add_key(public_line(ed25519("bob")))
    assert [k.comment for k in await context_for(services, bob).my_keys()] == ["bob"]
    assert await context_for(services, admin).my_keys() == []

    # Another's key is answered as a missing one, for a user and for an admin alike.
    for who in (bob, admin):
        for key_id in (alices.id, alices.id + bobs.id + 100):
            with pytest.raises(KeyNotFound) as info:
                await context_for(services, who).remove_key(key_id)
            assert info.value.message == "Clé introuvable."
    assert sorted(r.commentaire for r in await key_rows(database)) == ["alice", "bob"]

    removed = await context_for(services, alice).remove_key(alices.id)
    assert removed.fingerprint == alices.fingerprint
    assert [r.commentaire for r in await key_rows(database)] == ["bob"]
    (event,) = await audit_rows(database, "cle_supprimee")
    assert (event.compte, event.details) == ("alice@example.org", f"ssh-ed25519 {alices.fingerprint}")
    with pytest.raises(KeyNotFound):
        await context_for(services, alice).remove_key(alices.id)


# Admins: the list -------------------------------------------------------------------------


async def test_users_listed_by_name_with_role_and_ticket_count_searched_and_paged(
    services, alice, bob, admin
):
    for _n in range(3):
        await context_for(services, alice).create_ticket("Wi-Fi", "Coupé.", "Haute")
    await context_for(services, bob).create_ticket("Souris", "Cassée.", "Faible")
    for n in range(12):
        await make_user(services, f"apprenant{n:02d}@campus.sn", f"Apprenant {n:02d}")
    ctx = context_for(services, admin)

    first = await ctx.list_users(limit=10)
    assert first.total == 15 and first.offset == 0
    names = [s.user.name for s in first.users]
    assert names == ["Alice Ndiaye", *[f"Apprenant {n:02d}" for n in range(9)]]
    assert (first.users[0].user.role, first.users[0].ticket_count) == (Role.USER, 3)
    assert first.users[1].ticket_count == 0
    second = await ctx.list_users(offset=10, limit=10)
    assert [(s.user.name, s.user.role, s.ticket_count) for s in second.users] == [
        ("Apprenant 09", Role.USER, 0),
        ("Apprenant 10", Role.USER, 0),
        ("Apprenant 11", Role.USER, 0),
        ("Awa Admin", Role.ADMIN, 0),
        ("Bob Sarr", Role.USER, 1),
    ]
    # Past the end: the last page.
    assert (await ctx.list_users(offset=40, limit=10)).offset == 10

    by_name = await ctx.list_users("NDIAYE")
    assert [s.user.email for s in by_name.users] == ["alice@example.org"] and by_name.total == 1
    by_email = await ctx.list_users("campus.sn", limit=5)
    assert by_email.total == 12 and len(by_email.users) == 5
    # LIKE wildcards typed by the admin are taken literally.
    assert (await ctx.list_users("%")).total == 0
    assert (await ctx.list_users("_")).total == 0


async def test_only_admins_manage_accounts(services, database, alice, bob, admin):
    ctx = context_for(services, alice)
    assert not ctx.can_manage_users() and context_for(services, admin).can_manage_users()
    for attempt in (
        ctx.list_users(),
        ctx.user_summary(bob.id),
        ctx.set_role(alice.id, Role.ADMIN),
        ctx.delete_user(bob.id, "bob@example.org"),
    ):
        with pytest.raises(Forbidden) as info:
            await attempt
        assert info.value.message == FORBIDDEN
    assert (await user_row(database, alice.id)).role == "utilisateur"
    assert await user_row(database, bob.id) is not None
    assert await count(database, audit_log) == 0


# Admins: roles ----------------------------------------------------------------------------


async def test_promote_then_demote_audited_and_never_the_last_admin(services, database, alice, admin):
    ctx = context_for(services, admin)
    promoted = await ctx.set_role(alice.id, Role.ADMIN)
    assert promoted.user.role is Role.ADMIN
    assert (await user_row(database, alice.id)).role == "admin"
    with pytest.raises(ValidationError) as info:
        await ctx.set_role(alice.id, Role.ADMIN)
    assert info.value.message == "Alice Ndiaye est déjà administrateur."

    await ctx.set_role(alice.id, Role.USER)
    assert (await user_row(database, alice.id)).role == "utilisateur"
    with pytest.raises(ValidationError) as info:
        await ctx.set_role(alice.id, Role.USER)
    assert info.value.message == "Alice Ndiaye n'est pas administrateur."

    # The one admin left can't step down.
    with pytest.raises(ValidationError) as info:
        await ctx.set_role(admin.id, Role.USER)
    assert info.value.message == LAST_ADMIN
    assert (await user_row(database, admin.id)).role == "admin"
    with pytest.raises(UserNotFound) as info:
        await ctx.set_role(admin.id + 1000, Role.ADMIN)
    assert info.value.message == "Utilisateur introuvable."

    events = await audit_rows(database, "action_admin")
    assert [(e.compte, e.utilisateur_id) for e in events] == [("admin@example.org", admin.id)] * 2
    assert [e.details for e in events] == [
        f"promotion administrateur : alice@example.org (id {alice.id})",
        f"retrait du rôle administrateur : alice@example.org (id {alice.id})",
    ]


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(services, database, admin):
    other = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    first, second = context_for(services, admin), context_for(services, other)
    for _round in range(4):
        results = await asyncio.gather(
            first.set_role(other.id, Role.USER), second.set_role(admin.id, Role.USER), return_exceptions=True
        )
        # One demotion goes through; the other finds its author no longer admin.
        assert sorted(type(r).__name__ for r in results) == ["Forbidden", "UserSummary"], results
        async with database.transaction() as conn:
            admins = (await conn.execute(sa.select(users.c.id).where(users.c.role == "admin"))).all()
        assert len(admins) == 1
        # Both sessions see the outcome: the demoted one is no longer offered the admin screens.
        assert sorted([first.can_manage_users(), second.can_manage_users()]) == [False, True]
        # Back to two admins for the next round.
        winner = first if first.can_manage_users() else second
        await winner.set_role(other.id if winner is first else admin.id, Role.ADMIN)


async def test_demoted_admin_session_loses_admin_access_at_once(services, admin):
    other = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    connected = context_for(services, other)
    assert connected.can_list_all()
    await context_for(services, admin).set_role(other.id, Role.USER)
    assert not connected.can_list_all() and not connected.can_manage_users()
    with pytest.raises(Forbidden):
        await connected.all_tickets()


# Admins: deletion -------------------------------------------------------------------------


async def test_deleted_account_takes_its_tickets_and_leaves_its_history_on_others(
    services, database, alice, bob, admin
):
    other = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    alices = await context_for(services, alice).create_ticket("Wi-Fi", "Coupé.", "Haute")
    await context_for(services, other).create_ticket("Projecteur", "Flou.", "Faible")
    await context_for(services, other).change_status(alices, Status.IN_PROGRESS)
    await context_for(services, other).add_key(public_line(ed25519("moussa")))

    deleted = await context_for(services, admin).delete_user(other.id, "  Moussa.Admin@Example.org ")
    assert deleted.user.email == "moussa.admin@example.org" and deleted.ticket_count == 1

    assert await user_row(database, other.id) is None
    assert await count(database, tickets, tickets.c.auteur_id == other.id) == 0
    assert await count(database, tickets) == 1
    assert await count(database, ssh_keys) == 0
    # What they did on Alice's ticket stays, under their name, no longer linked to an account.
    async with database.transaction() as conn:
        rows = (
            await conn.execute(sa.select(history).where(history.c.ticket_id == alices).order_by(history.c.id))
        ).all()
    assert [(r.action, r.acteur_nom, r.acteur_id) for r in rows] == [
        ("creation", "Alice Ndiaye", alice.id),
        ("changement_statut", "Moussa Admin", None),
    ]
    ticket = await context_for(services, alice).ticket(alices)
    assert [e.actor_name for e in ticket.history] == ["Alice Ndiaye", "Moussa Admin"]
    # The status change before it is an admin action too: the deletion is the last one.
    event = (await audit_rows(database, "action_admin"))[-1]
    assert (event.compte, event.details) == (
        "admin@example.org",
        f"suppression du compte : moussa.admin@example.org (id {other.id}, 1 tickets)",
    )
    assert await authenticate(services, "moussa.admin@example.org", PASSWORD, "192.0.2.1") is None


@pytest.mark.parametrize("typed", ["", "bob", "alice@example.org", "bob@example.org.", "bob@exemple.org"])
async def test_deletion_cancelled_unless_the_e_mail_is_typed_back(
    services, database, alice, bob, admin, typed
):
    await context_for(services, bob).create_ticket("Souris", "Cassée.", "Faible")
    with pytest.raises(ValidationError) as info:
        await context_for(services, admin).delete_user(bob.id, typed)
    assert info.value.message == "Suppression annulée : l'e-mail saisi n'est pas celui du compte."
    assert await user_row(database, bob.id) is not None
    assert await count(database, tickets) == 1
    assert await count(database, audit_log) == 0


async def test_admin_cannot_delete_their_own_account(services, database, admin):
    other = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    with pytest.raises(ValidationError) as info:
        await context_for(services, admin).delete_user(admin.id, "admin@example.org")
    assert info.value.message == "Vous ne pouvez pas supprimer votre propre compte."
    assert await user_row(database, admin.id) is not None
    # Another admin may.
    await context_for(services, other).delete_user(admin.id, "admin@example.org")
    assert await user_row(database, admin.id) is None


async def test_connected_session_of_a_deleted_account_can_no_longer_act(
    services, database, alice, bob, admin
):
    connected = context_for(services, bob)
    key = await connected.add_key(public_line(ed25519("bob")))
    await context_for(services, admin).delete_user(bob.id, "bob@example.org")

    with pytest.raises(AccountDeleted) as info:
        await connected.create_ticket("Encore moi", "Toujours là ?", "Haute")
    assert info.value.message == "Votre compte a été supprimé."
    assert connected.user is None
    # And it keeps saying so, whatever is tried next, until someone logs in again.
    for attempt in (connected.my_tickets(), connected.change_name("Bob"), connected.remove_key(key.id)):
        with pytest.raises(AccountDeleted):
            await attempt
    assert await count(database, tickets) == 0
    await connected.login("alice@example.org", PASSWORD)
    assert await connected.my_tickets() == []


async def test_session_of_an_account_deleted_elsewhere_is_told_on_its_next_write(services, database, bob):
    # Deleted by another process, say: this one learns it from the database.
    connected = context_for(services, bob)
    async with database.transaction() as conn:
        await conn.execute(users.delete().where(users.c.id == bob.id))
    with pytest.raises(AccountDeleted):
        await connected.change_name("Bob Sarr 2")
    assert await count(database, audit_log) == 0
    with pytest.raises(AccountDeleted):
        await connected.my_keys()


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH (ssh-keygen) not installed")
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
async def test_key_made_by_ssh_keygen_stored_as_openssh_writes_and_fingerprints_it(
    services, database, alice, tmp_path, kind
):
    path = tmp_path / f"id_{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "alice@salle-2", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    line = path.with_suffix(".pub").read_text().strip()
    await context_for(services, alice).add_key(line)
    (row,) = await key_rows(database)
    kind_name, data, comment = line.split(" ", 2)
    assert (row.algorithme, row.cle_publique, row.commentaire) == (kind_name, f"{kind_name} {data}", comment)
    # The fingerprint OpenSSH itself gives for the stored key.
    stored = tmp_path / "stored.pub"
    stored.write_text(row.cle_publique + "\n")
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(stored)], check=True, capture_output=True, text=True
    )
    assert listed.stdout.split()[1] == row.empreinte
