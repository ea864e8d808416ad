"""The due date paused while a ticket waits for its requester: from an admin's answer to a
ticket `En cours` until the requester answers, the opening time waited added to `Échéance`;
shown and marked late as it moves, with a moved clock over real SSH on both databases."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa

from server.config import DueSettings
from server.domain.due import is_late, opening_hours
from server.domain.models import Status, TicketFilter
from server.store.schema import tickets

from .conftest import PASSWORD, context_for
from .journeys import pass_ratings
from .sshclient import CTRL_D, ENTER, ESC, Client
from .test_e2e_accounts import choose

# Dakar is UTC all year: the opening hours read as the clock.
HOURS = DueSettings(holidays="2026-12-25")


class Clock:
    """A clock the test moves; every session reads it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_wait_is_counted_in_opening_time():
    hours = opening_hours("1-5", "08:00-17:00", "2026-12-25", "Africa/Dakar")
    # Monday 10:00 to Tuesday 09:00: 7 h on Monday, 1 h on Tuesday; the night does not count.
    assert hours.minutes_between(datetime(2026, 12, 21, 10, 0), datetime(2026, 12, 22, 9, 0)) == 480
    # Thursday 16:00 to Monday 08:30: Friday a holiday, then the weekend.
    assert hours.minutes_between(datetime(2026, 12, 24, 16, 0), datetime(2026, 12, 28, 8, 30)) == 90
    assert hours.minutes_between(datetime(2026, 12, 26, 9, 0), datetime(2026, 12, 27, 9, 0)) == 0
    assert hours.minutes_between(datetime(2026, 12, 22, 9, 0), datetime(2026, 12, 21, 9, 0)) == 0
    due = datetime(2026, 12, 21, 13, 0)
    assert hours.resumed(due, datetime(2026, 12, 21, 10, 0), datetime(2026, 12, 22, 9, 0)) == datetime(
        2026, 12, 22, 12, 0
    )
    # A weekend's wait moves nothing.
    assert hours.resumed(due, datetime(2026, 12, 26, 9, 0), datetime(2026, 12, 27, 9, 0)) == due
    # While paused the clock stands still: late only if it was when the wait began.
    assert not is_late(Status.IN_PROGRESS, due, datetime(2026, 12, 23), datetime(2026, 12, 21, 10, 0))
    assert is_late(Status.IN_PROGRESS, due, datetime(2026, 12, 23), datetime(2026, 12, 21, 14, 0))


async def connected(service, clients, email: str) -> Client:
    c = await Client.connect(service.port, email, PASSWORD)
    clients.append(c)
    await pass_ratings(c)
    return c


async def test_an_answer_awaited_from_the_requester_moves_the_due_date(
    service, clients, services, database, alice, admin
):
    clock = Clock(datetime(2026, 12, 21, 9, 0))  # Monday
    service.services = dataclasses.replace(service.services, due=HOURS, clock=clock)
    frozen = dataclasses.replace(services, due=HOURS, clock=clock)
    ticket_id = await context_for(frozen, alice).create_ticket("Vidéoprojecteur", "Il est éteint.", "Haute")
    await context_for(frozen, admin).change_status(ticket_id, Status.IN_PROGRESS)

    # Monday 10:00: the admin asks something; the due date (13:00) stops running.
    clock.now = datetime(2026, 12, 21, 10, 0)
    staff = await connected(service, clients, "admin@example.org")
    await choose(staff, "Tous les tickets")
    await staff.wait_for("Vidéoprojecteur")
    staff.send(f"{ticket_id}" + ENTER)
    await staff.wait_for("Échéance : 21/12/2026 13:00")
    await choose(staff, "Répondre")
    await staff.wait_for("Réponse :")
    staff.send("Quelle salle exactement ?" + CTRL_D)
    await staff.wait_for(
        "Réponse envoyée.", "Échéance : 21/12/2026 13:00 (en pause : en attente du demandeur)"
    )

    # Monday 15:00, past 13:00: waiting for her, the ticket is not late.
    clock.now = datetime(2026, 12, 21, 15, 0)
    learner = await connected(service, clients, "alice@example.org")
    learner.send("2")
    await learner.wait_for("Vidéoprojecteur")
    learner.send(f"{ticket_id}" + ENTER)
    screen = await learner.wait_for("Échéance : 21/12/2026 13:00 (en pause")
    assert "en retard" not in screen
    found = await context_for(frozen, admin).search_tickets(TicketFilter(late=True))
    assert found.total == 0

    # Tuesday 09:00 she answers: 7 h on Monday and 1 h on Tuesday waited, due on Tuesday 12:00.
    clock.now = datetime(2026, 12, 22, 9, 0)
    await choose(learner, "Répondre")
    await learner.wait_for("Réponse :")
    learner.send("La salle B12." + CTRL_D)
    screen = await learner.wait_for("Réponse envoyée.", "Échéance : 22/12/2026 12:00")
    assert "en pause" not in screen and "en retard" not in screen
    async with database.transaction() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).one()
    assert (row.echeance, row.pause_depuis) == (datetime(2026, 12, 22, 12, 0), None)

    # Tuesday 12:01: late now, marked in the admin's list.
    clock.now = datetime(2026, 12, 22, 12, 1)
    staff.send(ESC)
    screen = await staff.wait_for(f" #{ticket_id}! ")
    staff.send(f"{ticket_id}" + ENTER)
    await staff.wait_for("Échéance : 22/12/2026 12:00 (en retard)")
    assert (await context_for(frozen, admin).dashboard(now=clock.now)).late_open == 1


async def test_an_answer_to_a_waiting_ticket_or_the_requesters_own_pauses_nothing(services, alice, admin):
    clock = Clock(datetime(2026, 12, 21, 9, 0))
    frozen = dataclasses.replace(services, due=HOURS, clock=clock)
    learner, staff = context_for(frozen, alice), context_for(frozen, admin)
    ticket_id = await learner.create_ticket("Souris", "Elle accroche.", "Haute")
    # `En attente`: the admin's answer is not a question the ticket waits on.
    assert not (await staff.reply(ticket_id, "Nous regardons.")).due_paused
    await staff.change_status(ticket_id, Status.IN_PROGRESS)
    assert not (await learner.reply(ticket_id, "Merci.")).due_paused
    assert (await staff.reply(ticket_id, "Laquelle ?")).due_paused
    # A second question does not move the start of the wait.
    clock.now = datetime(2026, 12, 21, 11, 0)
    assert (await staff.reply(ticket_id, "Et où ?")).due_paused
    clock.now = datetime(2026, 12, 21, 12, 0)
    ticket = await learner.reply(ticket_id, "La rouge, en B12.")
    # Waited 09:00 to 12:00: due 13:00 + 3 h.
    assert not ticket.due_paused and ticket.due_at == datetime(2026, 12, 21, 16, 0)
