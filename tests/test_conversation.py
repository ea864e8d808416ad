"""The context's conversation, internal notes, assignment and reopening, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import pytest
import sqlalchemy as sa

from server.context import SessionContext
from server.domain.models import Action, Role, Status
from server.errors import Forbidden, NotFound, ValidationError
from server.store.schema import audit_log, history, statuses, tickets, users

from .conftest import context_for, count, make_user
from .test_context import history_rows, ticket_row

NOT_FOUND = "Ticket introuvable."
FORBIDDEN = "Action réservée aux administrateurs."
NOT_ADMIN = "Seul un administrateur peut prendre un ticket en charge."
NOTE = "Chargeur HP 65 W : vérifier le stock avant de répondre."
OLD = datetime(2026, 1, 5, 8, 30)


async def new_ticket(services, user, title: str = "Chargeur en panne") -> int:
    return await context_for(services, user).create_ticket(title, "Le chargeur ne charge plus.", "Moyenne")


async def make_old(database, ticket_id: int) -> None:
    """An old `updated_at`, so that any later update shows."""
    async with database.transaction() as conn:
        await conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(updated_at=OLD))


async def admin_actions(database) -> list[tuple[str, int | None, str]]:
    async with database.transaction() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.compte, audit_log.c.utilisateur_id, audit_log.c.details)
            .where(audit_log.c.evenement == "action_admin")
            .order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


# Replies --------------------------------------------------------------------------------


async def test_requester_and_admin_converse_on_one_timeline(services, database, alice, admin):
    number = await new_ticket(services, alice)
    await make_old(database, number)
    staff, learner = context_for(services, admin), context_for(services, alice)

    asked = await staff.reply(number, "Quel chargeur ?\r\nLa marque est sous le bloc.")
    answered = await learner.reply(number, "  Un HP 65 W.\n")
    assert [(e.action, e.actor_name, e.details) for e in answered.history] == [
        (Action.CREATED, "Alice Ndiaye", "Moyenne"),
        (Action.REPLY, "Awa Admin", "Quel chargeur ?\nLa marque est sous le bloc."),
        (Action.REPLY, "Alice Ndiaye", "Un HP 65 W."),
    ]
    assert asked.history[-1].details == "Quel chargeur ?\nLa marque est sous le bloc."
    assert (await staff.ticket(number)).history == answered.history

    rows = await history_rows(database, number)
    kept = [(r.action, r.acteur_id, r.interne, r.ancien_statut_id, r.nouveau_statut_id) for r in rows[1:]]
    assert kept == [
        ("reponse", admin.id, False, None, None),
        ("reponse", alice.id, False, None, None),
    ]
    # The reply and the ticket's `updated_at` are written together.
    row = await ticket_row(database, number)
    assert row.updated_at == rows[-1].created_at and row.updated_at > OLD
    assert row.libelle == "En attente"
    # Staff answering someone is an admin action; the requester's own reply is not.
    assert await admin_actions(database) == [("admin@example.org", admin.id, f"reply ticket={number}")]


async def test_only_the_requester_and_admins_reply(services, database, alice, bob):
    number = await new_ticket(services, alice)
    for who in (bob, None):
        with pytest.raises(NotFound) as info:
            await context_for(services, who).reply(number, "Je m'en mêle.")
        assert info.value.message == NOT_FOUND
    with pytest.raises(NotFound) as missing:
        await context_for(services, alice).reply(number + 1000, "Et celui-là ?")
    assert missing.value.message == NOT_FOUND
    assert await count(database, history) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "La réponse est obligatoire."),
        (" \n \r\n ", "La réponse est obligatoire."),
        ("r" * 4001, "La réponse est trop longue (4001 caractères, 4000 au plus)."),
    ],
)
async def test_refused_reply_writes_nothing(services, database, alice, text, message):
    number = await new_ticket(services, alice)
    await make_old(database, number)
    with pytest.raises(ValidationError) as info:
        await context_for(services, alice).reply(number, text)
    assert info.value.message == message
    assert await count(database, history) == 1
    assert (await ticket_row(database, number)).updated_at == OLD


async def test_reply_of_4000_characters_is_kept_whole(services, database, alice):
    number = await new_ticket(services, alice)
    text = "é" * 3999 + "!"
    ticket = await context_for(services, alice).reply(number, text)
    assert ticket.history[-1].details == text
    assert (await history_rows(database, number))[-1].details == text


# Internal notes -------------------------------------------------------------------------


async def test_internal_note_is_hidden_from_the_requester_by_every_path(services, database, alice, admin):
    number = await new_ticket(services, alice)
    await make_old(database, number)
    staff, learner = context_for(services, admin), context_for(services, alice)
    before = await learner.ticket(number)

    noted = await staff.add_note(number, NOTE)
    assert [(e.action, e.internal, e.details) for e in noted.history[1:]] == [(Action.NOTE, True, NOTE)]
    rows = await history_rows(database, number)
    assert [(r.action, r.interne, r.details) for r in rows[1:]] == [("note_interne", True, NOTE)]
    assert await admin_actions(database) == [("admin@example.org", admin.id, f"note ticket={number}")]

    # The ticket screen's data, its list line, and what each of the requester's own actions
    # returns: no note, and no sign of one (the last update did not move).
    seen = await learner.ticket(number)
    assert seen == before
    assert seen.updated_at == OLD
    assert [(t.id, t.created_at) for t in await learner.my_tickets()] == [(number, before.created_at)]
    replied = await learner.reply(number, "Merci.")
    assert [e.action for e in replied.history] == [Action.CREATED, Action.REPLY]
    await staff.change_status(number, Status.RESOLVED)
    reopened = await learner.reopen(number, "Toujours en panne.")
    assert Action.NOTE not in [e.action for e in reopened.history]
    assert all(not e.internal and NOTE not in e.details for e in reopened.history)

    # Staff still see it, in its place on the timeline.
    assert [e.action for e in (await staff.ticket(number)).history] == [
        Action.CREATED,
        Action.NOTE,
        Action.REPLY,
        Action.STATUS_CHANGED,
        Action.REPLY,
        Action.REOPENED,
    ]


async def test_only_admins_add_internal_notes(services, database, alice, bob):
    number = await new_ticket(services, alice)
    with pytest.raises(Forbidden) as own:
        await context_for(services, alice).add_note(number, "Note de l'auteur.")
    assert own.value.message == FORBIDDEN
    with pytest.raises(NotFound):
        await context_for(services, bob).add_note(number, "Note d'un autre.")
    with pytest.raises(NotFound):
        await context_for(services, None).add_note(number, "Note anonyme.")
    assert await count(database, history) == 1
    assert await admin_actions(database) == []


async def test_refused_note_writes_nothing(services, database, alice, admin):
    number = await new_ticket(services, alice)
    staff = context_for(services, admin)
    with pytest.raises(ValidationError) as empty:
        await staff.add_note(number, "   ")
    assert empty.value.message == "La note est obligatoire."
    with pytest.raises(ValidationError) as long:
        await staff.add_note(number, "n" * 4001)
    assert long.value.message == "La note est trop longue (4001 caractères, 4000 au plus)."
    assert await count(database, history) == 1


# Assignment -----------------------------------------------------------------------------


async def test_admins_take_assign_and_unassign(services, database, alice, admin):
    moussa = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    number = await new_ticket(services, alice)
    other = await new_ticket(services, alice, "Wi-Fi coupé")
    await make_old(database, number)
    staff = context_for(services, admin)

    taken = await staff.take(number)
    assert (taken.assignee_id, taken.assignee_name) == (admin.id, "Awa Admin")
    assert (await ticket_row(database, number)).updated_at > OLD
    assert [t.id for t in await staff.assigned_tickets()] == [number]
    assert await context_for(services, moussa).assigned_tickets() == []

    moved = await staff.assign(number, moussa.id)
    assert moved.assignee_name == "Moussa Admin"
    assert await staff.assigned_tickets() == []
    assert [t.id for t in await context_for(services, moussa).assigned_tickets()] == [number]
    # Every list shows who has it; the requester's too.
    for listing in (await staff.all_tickets(), await context_for(services, alice).my_tickets()):
        assert {t.id: t.assignee_name for t in listing} == {number: "Moussa Admin", other: None}

    cleared = await staff.assign(number, None)
    assert (cleared.assignee_id, cleared.assignee_name) == (None, None)
    assert (await ticket_row(database, number)).assigne_id is None

    rows = await history_rows(database, number)
    assert [(r.action, r.acteur_nom, r.details, r.interne) for r in rows[1:]] == [
        ("assignation", "Awa Admin", "Awa Admin", False),
        ("assignation", "Awa Admin", "Moussa Admin", False),
        ("assignation", "Awa Admin", "", False),
    ]
    # The requester sees who took the ticket in hand.
    assert [e.details for e in (await context_for(services, alice).ticket(number)).history[1:]] == [
        "Awa Admin",
        "Moussa Admin",
        "",
    ]
    assert await admin_actions(database) == [
        ("admin@example.org", admin.id, f"assign ticket={number} to={admin.id}"),
        ("admin@example.org", admin.id, f"assign ticket={number} to={moussa.id}"),
        ("admin@example.org", admin.id, f"assign ticket={number} to=-"),
    ]


async def test_assigned_tickets_leave_the_view_once_resolved(services, alice, admin):
    first = await new_ticket(services, alice, "Premier")
    second = await new_ticket(services, alice, "Second")
    staff = context_for(services, admin)
    for number in (first, second):
        await staff.take(number)
    assert [t.id for t in await staff.assigned_tickets()] == [second, first]
    await staff.change_status(second, Status.RESOLVED)
    assert [t.id for t in await staff.assigned_tickets()] == [first]
    # The requester says it persists: back in the view.
    await context_for(services, alice).reopen(second, "Non, toujours pas.")
    assert [t.id for t in await staff.assigned_tickets()] == [second, first]


async def test_only_admins_can_be_assignees(services, database, alice, bob, admin):
    number = await new_ticket(services, alice)
    staff = context_for(services, admin)
    assert [u.name for u in await staff.assignees()] == ["Awa Admin"]
    for assignee in (alice.id, bob.id, 4242):
        with pytest.raises(ValidationError) as info:
            await staff.assign(number, assignee)
        assert info.value.message == NOT_ADMIN
    # An admin listed a moment ago but demoted since is refused when the assignment is written.
    moussa = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    assert [u.name for u in await staff.assignees()] == ["Awa Admin", "Moussa Admin"]
    async with database.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == moussa.id).values(role="utilisateur"))
    with pytest.raises(ValidationError) as info:
        await staff.assign(number, moussa.id)
    assert info.value.message == NOT_ADMIN
    assert (await ticket_row(database, number)).assigne_id is None
    assert await count(database, history) == 1
    assert await admin_actions(database) == []


async def test_non_admins_cannot_assign(services, database, alice, bob, admin):
    number = await new_ticket(services, alice)
    learner = context_for(services, alice)
    for attempt in (
        learner.take(number),
        learner.assign(number, admin.id),
        learner.assignees(),
        learner.assigned_tickets(),
    ):
        with pytest.raises(Forbidden):
            await attempt
    with pytest.raises(NotFound):
        await context_for(services, bob).assign(number, admin.id)
    assert (await ticket_row(database, number)).assigne_id is None
    assert await count(database, history) == 1


async def test_assigning_to_the_current_assignee_again_is_refused(services, database, alice, admin):
    number = await new_ticket(services, alice)
    staff = context_for(services, admin)
    with pytest.raises(ValidationError) as nobody:
        await staff.assign(number, None)
    assert nobody.value.message == "Le ticket n'est assigné à personne."
    await staff.take(number)
    with pytest.raises(ValidationError) as again:
        await staff.take(number)
    assert again.value.message == "Le ticket est déjà pris en charge par Awa Admin."
    assert await count(database, history, history.c.action == "assignation") == 1


async def test_simultaneous_assignments_leave_a_consistent_ticket(services, database, alice, admin):
    """Two admins take the same ticket at once: the ticket ends with the last one history names."""
    moussa = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    number = await new_ticket(services, alice)
    first, second = context_for(services, admin), context_for(services, moussa)
    for _round in range(5):
        results = await asyncio.gather(first.take(number), second.take(number), return_exceptions=True)
        # The one that comes second may find the ticket already theirs: that refusal is correct.
        for result in results:
            assert not isinstance(result, Exception) or isinstance(result, ValidationError), result
    ticket = await first.ticket(number)
    assignments = [e.details for e in ticket.history if e.action is Action.ASSIGNED]
    assert len(assignments) >= 5
    # Each entry hands the ticket to the other admin: no change was lost between two others.
    assert all(a != b for a, b in itertools.pairwise(assignments))
    assert ticket.assignee_name == assignments[-1]
    ids = {"Awa Admin": admin.id, "Moussa Admin": moussa.id}
    assert (await ticket_row(database, number)).assigne_id == ids[assignments[-1]]


# "Le problème persiste" -----------------------------------------------------------------


async def test_requester_says_the_problem_persists(services, database, alice, admin):
    number = await new_ticket(services, alice)
    staff, learner = context_for(services, admin), context_for(services, alice)
    await staff.change_status(number, Status.RESOLVED)
    await make_old(database, number)
    ids = {r.libelle: r.id for r in await _statuses(database)}

    ticket = await learner.reopen(number, "Le chargeur chauffe\r\ntoujours.")
    assert ticket.status is Status.IN_PROGRESS
    assert [(e.action, e.actor_name, e.old_status, e.new_status, e.details) for e in ticket.history[-2:]] == [
        (Action.REPLY, "Alice Ndiaye", None, None, "Le chargeur chauffe\ntoujours."),
        (Action.REOPENED, "Alice Ndiaye", Status.RESOLVED, Status.IN_PROGRESS, ""),
    ]
    row = await ticket_row(database, number)
    assert row.statut_id == ids["En cours"]
    reply, reopened = (await history_rows(database, number))[-2:]
    assert (reply.action, reopened.action) == ("reponse", "reouverture")
    assert (reopened.ancien_statut_id, reopened.nouveau_statut_id) == (ids["Résolu"], ids["En cours"])
    assert reply.created_at == reopened.created_at == row.updated_at
    # The admin sees it En cours, with the reply.
    seen = await staff.ticket(number)
    assert seen.status is Status.IN_PROGRESS and seen.history[-2].details == "Le chargeur chauffe\ntoujours."


async def test_only_the_requester_reopens_and_only_a_resolved_ticket(services, database, alice, bob, admin):
    number = await new_ticket(services, alice)
    staff, learner = context_for(services, admin), context_for(services, alice)
    with pytest.raises(ValidationError) as waiting:
        await learner.reopen(number, "Ça ne marche pas.")
    assert waiting.value.message == "Le ticket n'est pas « Résolu » : répondez-y simplement."
    await staff.change_status(number, Status.RESOLVED)
    with pytest.raises(Forbidden) as by_admin:
        await staff.reopen(number, "Je rouvre.")
    assert by_admin.value.message == "Seul le demandeur peut signaler que le problème persiste."
    with pytest.raises(NotFound):
        await context_for(services, bob).reopen(number, "Moi aussi.")
    with pytest.raises(ValidationError) as empty:
        await learner.reopen(number, "  ")
    assert empty.value.message == "La réponse est obligatoire."
    assert (await ticket_row(database, number)).libelle == "Résolu"
    assert await count(database, history) == 2


async def test_ticket_screen_offers_what_the_context_allows(services, alice, bob, admin):
    number = await new_ticket(services, alice)
    staff, learner = context_for(services, admin), context_for(services, alice)
    open_ticket = await learner.ticket(number)
    assert learner.can_reply(open_ticket) and not learner.can_reopen(open_ticket)
    assert not learner.can_add_note(open_ticket) and not learner.can_assign(open_ticket)
    assert not learner.can_have_assignments() and staff.can_have_assignments()
    assert not context_for(services, bob).can_reply(open_ticket)
    resolved = await staff.change_status(number, Status.RESOLVED)
    assert learner.can_reopen(resolved) and learner.can_reply(resolved)
    assert staff.can_reply(resolved) and staff.can_add_note(resolved) and staff.can_assign(resolved)
    assert not staff.can_reopen(resolved)
    assert staff.can_take(resolved) and not learner.can_take(resolved)
    assert not staff.can_take(await staff.take(number))
    assert not context_for(services, bob).can_reopen(resolved)


async def _statuses(database):
    async with database.transaction() as conn:
        return (await conn.execute(sa.select(statuses))).all()


# Atomicity: each change and its history rows commit together or not at all -------------


@pytest.fixture
def break_history(monkeypatch):
    """Every history write fails just after its INSERT ran."""
    real = SessionContext._write_history

    async def write_then_fail(self, conn, ticket_id, *args, **kwargs):
        await real(self, conn, ticket_id, *args, **kwargs)
        raise RuntimeError("panne simulée après l'écriture de l'historique")

    def arm() -> None:
        monkeypatch.setattr(SessionContext, "_write_history", write_then_fail)

    return arm


async def test_nothing_half_written_when_history_fails(services, database, alice, admin, break_history):
    number = await new_ticket(services, alice)
    staff, learner = context_for(services, admin), context_for(services, alice)
    await staff.change_status(number, Status.RESOLVED)
    await make_old(database, number)
    before = await ticket_row(database, number)
    entries = await count(database, history)
    break_history()
    for attempt in (
        learner.reply(number, "Réponse perdue."),
        staff.add_note(number, "Note perdue."),
        staff.take(number),
        learner.reopen(number, "Toujours en panne."),
    ):
        with pytest.raises(RuntimeError):
            await attempt
    after = await ticket_row(database, number)
    assert (after.libelle, after.assigne_id, after.updated_at) == ("Résolu", None, before.updated_at)
    assert await count(database, history) == entries
    # Their audit rows went with them.
    assert [d for _a, _u, d in await admin_actions(database)] == [
        f"status ticket={number} from=En attente to=Résolu"
    ]
