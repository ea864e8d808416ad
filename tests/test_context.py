"""SessionContext directly, on SQLite and MariaDB: accounts, tickets, isolation, history, atomicity."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import bcrypt
import pytest
import sqlalchemy as sa

from server.audit import AuditEvent, record
from server.context import Access, SessionContext, access_allowed
from server.domain.models import Action, Role, Status, Urgency, User
from server.errors import AuthFailed, EmailTaken, Forbidden, NotFound, ValidationError
from server.store.schema import audit_log, history, statuses, tickets, users

from .conftest import PASSWORD, context_for, count, make_user

NOT_FOUND = "Ticket introuvable."
FORBIDDEN = "Action réservée aux administrateurs."
AUTH_FAILED = "E-mail ou mot de passe incorrect."


async def status_ids(database) -> dict[str, int]:
    async with database.transaction() as conn:
        return {r.libelle: r.id for r in await conn.execute(sa.select(statuses))}


async def ticket_row(database, ticket_id: int):
    async with database.transaction() as conn:
        return (
            await conn.execute(
                sa.select(tickets, statuses.c.libelle)
                .join(statuses, statuses.c.id == tickets.c.statut_id)
                .where(tickets.c.id == ticket_id)
            )
        ).one()


async def history_rows(database, ticket_id: int):
    async with database.transaction() as conn:
        return (
            await conn.execute(
                sa.select(history).where(history.c.ticket_id == ticket_id).order_by(history.c.id)
            )
        ).all()


async def user_row(database, email: str):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(users).where(users.c.email == email))).one()


async def new_ticket(services, user: User, title: str = "Chargeur en panne") -> int:
    return await context_for(services, user).create_ticket(title, "Le chargeur ne charge plus.", "Moyenne")


# Registration ---------------------------------------------------------------------------


async def test_register_stores_lower_case_email_and_bcrypt_hash(services, database):
    ctx = context_for(services, None)
    user = await ctx.register("  Aïssatou Diop ", "Aissatou.Diop@Example.ORG", "chargeur-2026")
    assert ctx.user == user
    assert user.email == "aissatou.diop@example.org" and user.name == "Aïssatou Diop"
    assert user.role is Role.USER

    row = await user_row(database, "aissatou.diop@example.org")
    assert row.id == user.id
    assert row.nom == "Aïssatou Diop"
    assert row.role == "utilisateur"
    assert row.echecs_connexion == 0
    assert row.mot_de_passe != "chargeur-2026"
    assert "chargeur-2026" not in row.mot_de_passe
    assert row.mot_de_passe.startswith("$2b$")
    assert bcrypt.checkpw(b"chargeur-2026", row.mot_de_passe.encode("ascii"))


async def test_register_refuses_same_email_in_another_case(services, database):
    await context_for(services, None).register("Aïssatou Diop", "aissatou.diop@example.org", "chargeur-2026")
    ctx = context_for(services, None)
    with pytest.raises(EmailTaken) as info:
        await ctx.register("Autre Personne", "AISSATOU.Diop@EXAMPLE.org", "autre-mot-de-passe")
    assert info.value.message == "Un compte existe déjà avec cet e-mail."
    assert ctx.user is None
    assert await count(database, users) == 1
    row = await user_row(database, "aissatou.diop@example.org")
    assert row.nom == "Aïssatou Diop"


@pytest.mark.parametrize(
    ("name", "email", "password"),
    [
        ("", "x@example.org", "motdepasse-solide"),
        ("Nom", "pas-un-email", "motdepasse-solide"),
        ("Nom", "x@example.org", "court"),
        ("Nom", "x@example.org", "é" * 37),
    ],
)
async def test_register_refused_input_writes_nothing(services, database, name, email, password):
    ctx = context_for(services, None)
    with pytest.raises(ValidationError):
        await ctx.register(name, email, password)
    assert ctx.user is None
    assert await count(database, users) == 0


# Login ----------------------------------------------------------------------------------


async def test_login_with_right_password(services, alice):
    ctx = context_for(services, None)
    user = await ctx.login("Alice@Example.ORG", PASSWORD)
    assert user == alice
    assert ctx.user == alice


async def test_wrong_password_and_unknown_email_give_the_same_answer(services, database, alice):
    ctx = context_for(services, None)
    with pytest.raises(AuthFailed) as wrong:
        await ctx.login("alice@example.org", "pas-le-bon-mot")
    with pytest.raises(AuthFailed) as unknown:
        await ctx.login("personne@example.org", PASSWORD)
    assert wrong.value.message == unknown.value.message == AUTH_FAILED
    assert ctx.user is None
    # An unknown e-mail creates nothing.
    assert await count(database, users) == 1


async def test_failure_counter_increments_then_resets_on_success(services, database, alice):
    ctx = context_for(services, None)
    row = await user_row(database, "alice@example.org")
    assert row.echecs_connexion == 0 and row.dernier_echec is None
    for expected in (1, 2, 3):
        with pytest.raises(AuthFailed):
            await ctx.login("alice@example.org", "pas-le-bon-mot")
        row = await user_row(database, "alice@example.org")
        assert row.echecs_connexion == expected
        assert row.dernier_echec is not None
    await ctx.login("alice@example.org", PASSWORD)
    assert (await user_row(database, "alice@example.org")).echecs_connexion == 0


async def test_failures_on_one_account_do_not_touch_another(services, database, alice, bob):
    with pytest.raises(AuthFailed):
        await context_for(services, None).login("alice@example.org", "pas-le-bon-mot")
    assert (await user_row(database, "alice@example.org")).echecs_connexion == 1
    assert (await user_row(database, "bob@example.org")).echecs_connexion == 0


async def test_logout_forgets_the_user(services, alice):
    ctx = context_for(services, alice)
    ctx.logout()
    assert ctx.user is None
    with pytest.raises(Forbidden):
        await ctx.my_tickets()


# Creating tickets -----------------------------------------------------------------------


async def test_create_ticket_is_waiting_with_a_creation_history_row(services, database, alice):
    ctx = context_for(services, alice)
    ticket_id = await ctx.create_ticket(
        "  Mon chargeur ne marche plus ", "Le chargeur du PC 12\r\nne charge plus.", "Haute"
    )
    row = await ticket_row(database, ticket_id)
    assert row.titre == "Mon chargeur ne marche plus"
    assert row.description == "Le chargeur du PC 12\nne charge plus."
    assert row.urgence == "Haute"
    assert row.auteur_id == alice.id
    assert row.libelle == "En attente"
    assert row.created_at == row.updated_at

    ids = await status_ids(database)
    (entry,) = await history_rows(database, ticket_id)
    assert entry.action == "creation"
    assert entry.acteur_id == alice.id
    assert entry.acteur_nom == "Alice Ndiaye"
    assert entry.ancien_statut_id is None
    assert entry.nouveau_statut_id == ids["En attente"]
    assert entry.created_at == row.created_at

    ticket = await ctx.ticket(ticket_id)
    assert ticket.status is Status.WAITING and ticket.urgency is Urgency.HIGH
    assert ticket.author_name == "Alice Ndiaye"
    assert [(h.action, h.actor_name, h.old_status, h.new_status) for h in ticket.history] == [
        (Action.CREATED, "Alice Ndiaye", None, Status.WAITING)
    ]


@pytest.mark.parametrize(
    ("title", "description", "urgency", "message"),
    [
        ("", "Description", "Faible", "Le titre est obligatoire."),
        ("t" * 121, "Description", "Faible", "Le titre est trop long (121 caractères, 120 au plus)."),
        ("Deux\nlignes", "Description", "Faible", "Le titre doit tenir sur une seule ligne."),
        ("Titre", "  ", "Faible", "La description est obligatoire."),
        ("Titre", "d" * 4001, "Faible", "La description est trop longue (4001 caractères, 4000 au plus)."),
        ("Titre", "Description", "Urgentissime", "Urgence inconnue : choisissez Faible, Moyenne ou Haute."),
    ],
)
async def test_refused_ticket_writes_nothing(services, database, alice, title, description, urgency, message):
    with pytest.raises(ValidationError) as info:
        await context_for(services, alice).create_ticket(title, description, urgency)
    assert info.value.message == message
    assert await count(database, tickets) == 0
    assert await count(database, history) == 0


async def test_anonymous_cannot_create_a_ticket(services, database):
    with pytest.raises(Forbidden):
        await context_for(services, None).create_ticket("Titre", "Description", "Faible")
    assert await count(database, tickets) == 0


# Lists ----------------------------------------------------------------------------------


async def test_my_tickets_newest_first_and_only_mine(services, database, alice, bob):
    first = await new_ticket(services, alice, "Premier")
    bobs = await new_ticket(services, bob, "Celui de Bob")
    second = await new_ticket(services, alice, "Deuxième")
    third = await new_ticket(services, alice, "Troisième")
    # Spread the dates so that the order depends on them, not on the ids alone:
    # the first ticket is made the newest.
    base = datetime(2026, 3, 1, 9, 0, 0)
    dates = {first: base + timedelta(days=3), second: base, third: base + timedelta(days=1)}
    async with database.transaction() as conn:
        for ticket_id, when in dates.items():
            await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(created_at=when))

    mine = await context_for(services, alice).my_tickets()
    assert [t.id for t in mine] == [first, third, second]
    assert [t.title for t in mine] == ["Premier", "Troisième", "Deuxième"]
    assert all(t.author_name == "Alice Ndiaye" for t in mine)
    assert mine[0].created_at == dates[first]
    assert {(t.urgency, t.status) for t in mine} == {(Urgency.MEDIUM, Status.WAITING)}

    theirs = await context_for(services, bob).my_tickets()
    assert [t.id for t in theirs] == [bobs]


async def test_same_second_tickets_listed_newest_first(services, alice):
    ids = [await new_ticket(services, alice, f"Ticket {n}") for n in range(3)]
    assert [t.id for t in await context_for(services, alice).my_tickets()] == ids[::-1]


async def test_all_tickets_refused_to_a_non_admin(services, alice):
    await new_ticket(services, alice)
    with pytest.raises(Forbidden) as info:
        await context_for(services, alice).all_tickets()
    assert info.value.message == FORBIDDEN
    with pytest.raises(Forbidden):
        await context_for(services, None).all_tickets()


async def test_all_tickets_complete_for_an_admin_with_authors(services, alice, bob, admin):
    a = await new_ticket(services, alice, "Chargeur")
    b = await new_ticket(services, bob, "Plateforme")
    c = await new_ticket(services, admin, "Projecteur")
    listed = await context_for(services, admin).all_tickets()
    assert [(t.id, t.title, t.author_name) for t in listed] == [
        (c, "Projecteur", "Awa Admin"),
        (b, "Plateforme", "Bob Sarr"),
        (a, "Chargeur", "Alice Ndiaye"),
    ]


# One ticket -----------------------------------------------------------------------------


async def test_another_users_ticket_looks_exactly_like_a_missing_one(services, alice, bob):
    bobs = await new_ticket(services, bob)
    ctx = context_for(services, alice)
    with pytest.raises(NotFound) as other:
        await ctx.ticket(bobs)
    with pytest.raises(NotFound) as missing:
        await ctx.ticket(bobs + 1000)
    assert type(other.value) is type(missing.value)
    assert other.value.message == missing.value.message == NOT_FOUND
    # The owner and an anonymous session.
    assert (await context_for(services, bob).ticket(bobs)).id == bobs
    with pytest.raises(NotFound):
        await context_for(services, None).ticket(bobs)


async def test_admin_sees_any_ticket_but_not_a_missing_one(services, alice, admin):
    alices = await new_ticket(services, alice)
    ctx = context_for(services, admin)
    ticket = await ctx.ticket(alices)
    assert ticket.author_id == alice.id and ticket.author_name == "Alice Ndiaye"
    assert ctx.can_change_status(ticket)
    assert not context_for(services, alice).can_change_status(ticket)
    with pytest.raises(NotFound) as info:
        await ctx.ticket(alices + 1000)
    assert info.value.message == NOT_FOUND


# Changing the status --------------------------------------------------------------------


async def test_non_admin_cannot_change_status(services, database, alice, bob):
    alices = await new_ticket(services, alice)
    bobs = await new_ticket(services, bob)
    ctx = context_for(services, alice)
    with pytest.raises(Forbidden) as own:
        await ctx.change_status(alices, Status.RESOLVED)
    assert own.value.message == FORBIDDEN
    with pytest.raises(NotFound) as other:
        await ctx.change_status(bobs, Status.RESOLVED)
    with pytest.raises(NotFound) as missing:
        await ctx.change_status(bobs + 1000, Status.RESOLVED)
    assert other.value.message == missing.value.message == NOT_FOUND
    for ticket_id in (alices, bobs):
        assert (await ticket_row(database, ticket_id)).libelle == "En attente"
    assert await count(database, history) == 2


async def test_admin_changes_status_with_history(services, database, bob, admin):
    bobs = await new_ticket(services, bob)
    ids = await status_ids(database)
    before = await ticket_row(database, bobs)
    # Make the creation visibly older, so that updated_at is shown to move.
    async with database.transaction() as conn:
        old = before.created_at - timedelta(hours=2)
        await conn.execute(
            tickets.update().where(tickets.c.id == bobs).values(created_at=old, updated_at=old)
        )

    ticket = await context_for(services, admin).change_status(bobs, "En cours")
    assert ticket.status is Status.IN_PROGRESS
    assert [(h.action, h.actor_name, h.old_status, h.new_status) for h in ticket.history] == [
        (Action.CREATED, "Bob Sarr", None, Status.WAITING),
        (Action.STATUS_CHANGED, "Awa Admin", Status.WAITING, Status.IN_PROGRESS),
    ]

    row = await ticket_row(database, bobs)
    assert row.statut_id == ids["En cours"]
    assert row.updated_at > row.created_at
    creation, change = await history_rows(database, bobs)
    assert creation.action == "creation"
    assert change.action == "changement_statut"
    assert change.acteur_id == admin.id and change.acteur_nom == "Awa Admin"
    assert change.ancien_statut_id == ids["En attente"]
    assert change.nouveau_statut_id == ids["En cours"]
    assert change.created_at == row.updated_at

    # And again, to Résolu: the old status is now En cours.
    await context_for(services, admin).change_status(bobs, Status.RESOLVED)
    last = (await history_rows(database, bobs))[-1]
    assert (last.ancien_statut_id, last.nouveau_statut_id) == (ids["En cours"], ids["Résolu"])
    assert (await ticket_row(database, bobs)).libelle == "Résolu"


async def test_same_status_again_refused_without_history(services, database, bob, admin):
    bobs = await new_ticket(services, bob)
    ctx = context_for(services, admin)
    with pytest.raises(ValidationError) as info:
        await ctx.change_status(bobs, Status.WAITING)
    assert info.value.message == "Le ticket est déjà « En attente »."
    await ctx.change_status(bobs, Status.IN_PROGRESS)
    with pytest.raises(ValidationError) as info:
        await ctx.change_status(bobs, "En cours")
    assert info.value.message == "Le ticket est déjà « En cours »."
    assert await count(database, history, history.c.ticket_id == bobs) == 2


async def test_an_admin_cannot_close_a_ticket_only_the_service_does(services, database, bob, admin):
    bobs = await new_ticket(services, bob)
    with pytest.raises(ValidationError) as info:
        await context_for(services, admin).change_status(bobs, "Fermé")
    assert info.value.message == "Seul le service ferme un ticket, après des jours sans réponse."
    assert (await ticket_row(database, bobs)).libelle == "En attente"
    assert await count(database, history) == 1


@pytest.mark.parametrize("bad", ["Fermée", "en cours", "", "Haute"])
async def test_unknown_status_refused(services, database, bob, admin, bad):
    bobs = await new_ticket(services, bob)
    with pytest.raises(ValidationError) as info:
        await context_for(services, admin).change_status(bobs, bad)
    assert info.value.message == "Statut inconnu : choisissez En attente, En cours ou Résolu."
    assert (await ticket_row(database, bobs)).libelle == "En attente"
    assert await count(database, history) == 1


async def test_admin_change_status_of_missing_ticket(services, database, admin):
    with pytest.raises(NotFound) as info:
        await context_for(services, admin).change_status(4242, Status.RESOLVED)
    assert info.value.message == NOT_FOUND
    assert await count(database, history) == 0


# Atomicity: the change and its history row commit together or not at all ----------------


@pytest.fixture
def break_history(monkeypatch):
    """Once called, every history write fails just after its INSERT ran; returns the tickets touched."""
    calls: list[int] = []
    real = SessionContext._write_history

    async def write_then_fail(self, conn, ticket_id, *args, **kwargs):
        await real(self, conn, ticket_id, *args, **kwargs)
        calls.append(ticket_id)
        raise RuntimeError("panne simulée après l'écriture de l'historique")

    def arm() -> list[int]:
        monkeypatch.setattr(SessionContext, "_write_history", write_then_fail)
        return calls

    return arm


async def test_ticket_not_created_when_its_history_fails(services, database, alice, break_history):
    calls = break_history()
    with pytest.raises(RuntimeError):
        await context_for(services, alice).create_ticket("Titre", "Description", "Haute")
    assert len(calls) == 1  # the ticket and its history row were both written, then…
    assert await count(database, tickets) == 0  # …both rolled back
    assert await count(database, history) == 0


async def test_status_not_changed_when_its_history_fails(services, database, bob, admin, break_history):
    bobs = await new_ticket(services, bob)
    async with database.transaction() as conn:  # an old date, so that any update would show
        await conn.execute(
            tickets.update().where(tickets.c.id == bobs).values(updated_at=datetime(2026, 1, 5, 8, 30))
        )
    before = await ticket_row(database, bobs)
    calls = break_history()
    with pytest.raises(RuntimeError):
        await context_for(services, admin).change_status(bobs, Status.RESOLVED)
    assert calls == [bobs]
    after = await ticket_row(database, bobs)
    assert after.libelle == "En attente"
    assert after.statut_id == before.statut_id
    assert after.updated_at == before.updated_at
    assert await count(database, history, history.c.ticket_id == bobs) == 1


# The one access decision ----------------------------------------------------------------

NOW = datetime(2026, 1, 1)
USER = User(id=1, name="Alice", email="alice@example.org", role=Role.USER, created_at=NOW)
ADMIN = User(id=2, name="Awa", email="admin@example.org", role=Role.ADMIN, created_at=NOW)
OWN, OTHER, NOBODY = 1, 99, None

# (who, access, author of the ticket concerned) -> allowed
ACCESS_TABLE = [
    (None, Access.CREATE_TICKET, NOBODY, False),
    (None, Access.VIEW_TICKET, OWN, False),
    (None, Access.VIEW_TICKET, NOBODY, False),
    (None, Access.LIST_ALL, NOBODY, False),
    (None, Access.CHANGE_STATUS, OWN, False),
    (None, Access.VIEW_DASHBOARD, NOBODY, False),
    (None, Access.SEE_INTERNAL, OWN, False),
    (USER, Access.CREATE_TICKET, NOBODY, True),
    (USER, Access.VIEW_TICKET, OWN, True),
    (USER, Access.VIEW_TICKET, OTHER, False),
    (USER, Access.VIEW_TICKET, NOBODY, False),
    (USER, Access.LIST_ALL, NOBODY, False),
    (USER, Access.CHANGE_STATUS, OWN, False),
    (USER, Access.CHANGE_STATUS, OTHER, False),
    (USER, Access.VIEW_DASHBOARD, NOBODY, False),
    # Internal notes are staff talk, even on the user's own ticket.
    (USER, Access.SEE_INTERNAL, OWN, False),
    (USER, Access.SEE_INTERNAL, NOBODY, False),
    (ADMIN, Access.CREATE_TICKET, NOBODY, True),
    (ADMIN, Access.VIEW_TICKET, OWN, True),
    (ADMIN, Access.VIEW_TICKET, OTHER, True),
    (ADMIN, Access.LIST_ALL, NOBODY, True),
    (ADMIN, Access.CHANGE_STATUS, OWN, True),
    (ADMIN, Access.CHANGE_STATUS, OTHER, True),
    (ADMIN, Access.VIEW_DASHBOARD, NOBODY, True),
    (ADMIN, Access.SEE_INTERNAL, OTHER, True),
    # Accounts: one's own for everyone logged in; SSH keys their owner's alone; admins manage users.
    (None, Access.OWN_ACCOUNT, NOBODY, False),
    (None, Access.OWN_KEY, OWN, False),
    (None, Access.MANAGE_USERS, NOBODY, False),
    (USER, Access.OWN_ACCOUNT, NOBODY, True),
    (USER, Access.OWN_KEY, OWN, True),
    (USER, Access.OWN_KEY, OTHER, False),
    (USER, Access.MANAGE_USERS, NOBODY, False),
    (ADMIN, Access.OWN_ACCOUNT, NOBODY, True),
    (ADMIN, Access.OWN_KEY, 2, True),
    (ADMIN, Access.OWN_KEY, OTHER, False),
    (ADMIN, Access.OWN_KEY, NOBODY, False),
    (ADMIN, Access.MANAGE_USERS, NOBODY, True),
    # Conversation and assignment: the requester replies; admins also note, assign and are
    # assigned; only the requester says the problem persists, admins change the status instead.
    (None, Access.REPLY, OWN, False),
    (None, Access.ADD_NOTE, OWN, False),
    (None, Access.ASSIGN, OWN, False),
    (None, Access.BE_ASSIGNED, NOBODY, False),
    (None, Access.REOPEN, OWN, False),
    (USER, Access.REPLY, OWN, True),
    (USER, Access.REPLY, OTHER, False),
    (USER, Access.ADD_NOTE, OWN, False),
    (USER, Access.ASSIGN, OWN, False),
    (USER, Access.BE_ASSIGNED, NOBODY, False),
    (USER, Access.REOPEN, OWN, True),
    (USER, Access.REOPEN, OTHER, False),
    (USER, Access.REOPEN, NOBODY, False),
    (ADMIN, Access.REPLY, OTHER, True),
    (ADMIN, Access.ADD_NOTE, OTHER, True),
    (ADMIN, Access.ASSIGN, OTHER, True),
    (ADMIN, Access.BE_ASSIGNED, NOBODY, True),
    (ADMIN, Access.REOPEN, OTHER, False),
    (ADMIN, Access.REOPEN, 2, True),  # an admin's own ticket: they are its requester
    (None, Access.EXPORT, NOBODY, False),
    (USER, Access.EXPORT, NOBODY, False),
    (ADMIN, Access.EXPORT, NOBODY, True),
    # Categories: admins manage them and change a ticket's; everyone files under one.
    (None, Access.MANAGE_CATEGORIES, NOBODY, False),
    (None, Access.CHANGE_CATEGORY, OWN, False),
    (USER, Access.MANAGE_CATEGORIES, NOBODY, False),
    (USER, Access.CHANGE_CATEGORY, OWN, False),
    (ADMIN, Access.MANAGE_CATEGORIES, NOBODY, True),
    (ADMIN, Access.CHANGE_CATEGORY, OTHER, True),
    # Attachments: admins delete them; a requester keeps what they sent, like their messages.
    (None, Access.DELETE_ATTACHMENT, OWN, False),
    (USER, Access.DELETE_ATTACHMENT, OWN, False),
    (ADMIN, Access.DELETE_ATTACHMENT, OTHER, True),
    # Places: admins manage them and change a ticket's; everyone files from one.
    (None, Access.MANAGE_PLACES, NOBODY, False),
    (None, Access.CHANGE_PLACE, OWN, False),
    (USER, Access.MANAGE_PLACES, NOBODY, False),
    (USER, Access.CHANGE_PLACE, OWN, False),
    (ADMIN, Access.MANAGE_PLACES, NOBODY, True),
    (ADMIN, Access.CHANGE_PLACE, OTHER, True),
    # Canned answers: staff's alone, to write and to use.
    (None, Access.MANAGE_CANNED, NOBODY, False),
    (None, Access.USE_CANNED, OWN, False),
    (USER, Access.MANAGE_CANNED, NOBODY, False),
    (USER, Access.USE_CANNED, OWN, False),
    (ADMIN, Access.MANAGE_CANNED, NOBODY, True),
    (ADMIN, Access.USE_CANNED, OTHER, True),
    # A follow-up: the requester's, of a closed ticket only (an open one here).
    (None, Access.FOLLOW_UP, OWN, False),
    (USER, Access.FOLLOW_UP, OWN, False),
    (ADMIN, Access.FOLLOW_UP, OTHER, False),
    # Votre avis: the requester's, of a resolved or closed ticket only (no status here).
    (None, Access.RATE, OWN, False),
    (USER, Access.RATE, OWN, False),
    (ADMIN, Access.RATE, OTHER, False),
]


def test_a_rating_is_the_requesters_of_a_resolved_or_closed_ticket():
    for status in (Status.RESOLVED, Status.CLOSED):
        assert access_allowed(USER, Access.RATE, OWN, status)
        assert not access_allowed(USER, Access.RATE, OTHER, status)
        # Nobody answers for the requester, admins included.
        assert not access_allowed(ADMIN, Access.RATE, OTHER, status)
        assert not access_allowed(None, Access.RATE, OWN, status)
    for status in (Status.WAITING, Status.IN_PROGRESS):
        assert not access_allowed(USER, Access.RATE, OWN, status)


def test_a_follow_up_is_the_requesters_of_a_closed_ticket():
    assert access_allowed(USER, Access.FOLLOW_UP, OWN, Status.CLOSED)
    assert not access_allowed(USER, Access.FOLLOW_UP, OTHER, Status.CLOSED)
    assert not access_allowed(ADMIN, Access.FOLLOW_UP, OTHER, Status.CLOSED)
    assert not access_allowed(None, Access.FOLLOW_UP, OWN, Status.CLOSED)


def test_access_table_covers_every_access_for_every_kind_of_session():
    for who in (None, USER, ADMIN):
        assert {access for w, access, _, _ in ACCESS_TABLE if w is who} == set(Access)


@pytest.mark.parametrize(
    ("who", "access", "author_id", "allowed"),
    ACCESS_TABLE,
    ids=[f"{w.role.value if w else 'anonyme'}-{a.value}-{o}" for w, a, o, _ in ACCESS_TABLE],
)
def test_access_allowed(who, access, author_id, allowed):
    assert access_allowed(who, access, author_id) is allowed


async def test_simultaneous_status_changes_leave_a_consistent_history(services, database, alice, admin):
    """Two admins change the same ticket at once: each history entry starts where the last ended."""
    ticket_id = await context_for(services, alice).create_ticket("Wi-Fi", "Coupé en salle 2.", "Haute")
    second_admin = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    first, second = context_for(services, admin), context_for(services, second_admin)
    for _round in range(5):
        results = await asyncio.gather(
            first.change_status(ticket_id, Status.IN_PROGRESS),
            second.change_status(ticket_id, Status.RESOLVED),
            return_exceptions=True,
        )
        # The one that comes second may find the status already set: that refusal is correct.
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, ValidationError), result
    ticket = await first.ticket(ticket_id)
    changes = [e for e in ticket.history if e.action is Action.STATUS_CHANGED]
    assert len(changes) >= 5
    previous = Status.WAITING
    for entry in changes:
        assert entry.old_status is previous, [(e.old_status, e.new_status) for e in changes]
        previous = entry.new_status
    assert ticket.status is previous


async def test_audit_events_are_recorded_with_time_address_and_account(database, alice):
    await record(database, AuditEvent.LOGIN_FAILED, "203.0.113.9", "x" * 300, details="ssh password")
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(audit_log))).one()
    assert (row.evenement, row.adresse, row.compte, row.details) == (
        "connexion_echouee",
        "203.0.113.9",
        "x" * 254,
        "ssh password",
    )
    assert row.created_at is not None and row.utilisateur_id is None


async def test_the_export_counts_each_tickets_replies_and_notes_across_batches(services, admin, alice):
    learner, staff = context_for(services, alice), context_for(services, admin)
    numbers = [await learner.create_ticket(f"Ticket {n}", "Description.", "Faible") for n in range(5)]
    await staff.reply(numbers[1], "Première réponse.")
    await learner.reply(numbers[1], "Merci.")
    await staff.add_note(numbers[1], "À surveiller.")
    await staff.add_note(numbers[4], "Vu en salle 3.")
    exported = [t async for page in staff.export_tickets(batch=2) for t in page]
    assert [(t.id, t.replies, t.notes) for t in exported] == [
        (numbers[0], 0, 0),
        (numbers[1], 2, 1),
        (numbers[2], 0, 0),
        (numbers[3], 0, 0),
        (numbers[4], 0, 1),
    ]
