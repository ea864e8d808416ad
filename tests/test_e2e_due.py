"""Due dates: each urgency's target counted in opening hours across weekends and public
holidays (a frozen clock, not waiting), `Échéance` on the ticket, late tickets marked, first in
the default admin view, filtered and counted on the dashboard, over real SSH on both databases."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from server.config import DueSettings
from server.domain.due import is_late, opening_hours, target_minutes
from server.domain.models import Status, TicketFilter, Urgency
from server.store.schema import tickets

from .conftest import PASSWORD, context_for
from .sshclient import ENTER, ESC, Client
from .test_e2e_accounts import choose

CHRISTMAS = DueSettings(holidays="2026-12-25")


def test_targets_cross_the_weekend_and_a_public_holiday():
    hours = opening_hours("1-5", "08:00-17:00", "2026-12-25", "Africa/Dakar")
    due = CHRISTMAS
    high = target_minutes(Urgency.HIGH, hours, due.high_hours, due.medium_days, due.low_days)
    low = target_minutes(Urgency.LOW, hours, due.high_hours, due.medium_days, due.low_days)
    assert (high, low) == (240, 3 * 540)
    # Thursday 24th at 15:00: two hours that day, Friday 25th closed, then the weekend.
    assert hours.add(datetime(2026, 12, 24, 15, 0), high) == datetime(2026, 12, 28, 10, 0)
    # Filed on Saturday night: the clock starts on Monday at 08:00.
    assert hours.add(datetime(2026, 12, 19, 22, 0), 60) == datetime(2026, 12, 21, 9, 0)
    # Friday 18th at 16:00, three days: 1 h, Monday, Tuesday, then 8 h of Wednesday.
    assert hours.add(datetime(2026, 12, 18, 16, 0), low) == datetime(2026, 12, 23, 16, 0)
    # Another zone: Paris is UTC+1 in winter, its 08:00 is 07:00 UTC.
    paris = opening_hours("1-5", "08:00-17:00", "", "Europe/Paris")
    assert paris.add(datetime(2026, 12, 21, 5, 0), 60) == datetime(2026, 12, 21, 8, 0)
    assert not is_late(Status.RESOLVED, datetime(2026, 1, 1), datetime(2027, 1, 1))
    assert not is_late(Status.WAITING, None, datetime(2027, 1, 1))
    for wrong in (
        ("8-9", "08:00-17:00", "", "UTC"),
        ("1-5", "17:00-08:00", "", "UTC"),
        ("1-5", "08:00-17:00", "Noël", "UTC"),
        ("1-5", "08:00-17:00", "", "Mars/Olympus"),
    ):
        with pytest.raises(ValueError):
            opening_hours(*wrong)


async def test_a_ticket_filed_on_christmas_eve_is_due_after_the_weekend(database, alice, services):
    frozen = dataclasses.replace(services, due=CHRISTMAS, clock=lambda: datetime(2026, 12, 24, 16, 0))
    ctx = context_for(frozen, alice)
    tickets_ctx = ctx.tickets
    assert tickets_ctx.due_at(datetime(2026, 12, 24, 15, 0), Urgency.HIGH) == datetime(2026, 12, 28, 10, 0)
    ticket_id = await ctx.create_ticket("Projecteur", "Éteint.", "Haute")
    ticket = await ctx.ticket(ticket_id)
    assert ticket.due_at is not None and ticket.due_at > ticket.created_at
    # The clock moved past the due date: the ticket is late, until it is resolved.
    later = dataclasses.replace(frozen, clock=lambda: ticket.due_at + timedelta(minutes=1))
    assert (await context_for(later, alice).ticket(ticket_id)).late


async def test_a_late_ticket_comes_first_marked_filtered_and_counted(
    service, clients, services, database, alice, admin
):
    ctx = context_for(services, alice)
    high = await ctx.create_ticket("Serveur en panne", "Plus rien.", "Haute")
    late = await ctx.create_ticket("Souris usée", "Elle accroche.", "Faible")
    async with database.transaction() as conn:
        await conn.execute(
            tickets.update().where(tickets.c.id == late).values(echeance=datetime(2026, 1, 5, 9, 0))
        )
    staff = await Client.connect(service.port, "admin@example.org", PASSWORD)
    clients.append(staff)
    await staff.wait_for("1. Nouveau ticket")
    await choose(staff, "Tous les tickets")
    screen = await staff.wait_for("Serveur en panne", "Souris usée")
    rows = [line for line in screen.splitlines() if line.startswith(" #")]
    # Faible, but late: before the Haute one, its number marked.
    assert rows[0].startswith(f" #{late}! ") and rows[1].startswith(f" #{high} "), screen
    staff.send("f")
    await choose(staff, "En retard")
    await staff.wait_for("1. En retard seulement")
    staff.send("1")
    screen = await staff.wait_for("en retard", "1 ticket — page 1/1", "Souris usée")
    assert "Serveur en panne" not in screen
    staff.send(f"{late}" + ENTER)
    await staff.wait_for("Échéance : 05/01/2026 09:00 (en retard)")
    for back_to in ("1 ticket — page 1/1", "1. Nouveau ticket"):
        staff.send(ESC)
        await staff.wait_for(back_to)
    await choose(staff, "Tableau de bord")
    await staff.wait_for("Tickets ouverts : 2", "en retard : 1")
    board = await context_for(services, admin).dashboard()
    assert board.late_open == 1
    found = await context_for(services, admin).search_tickets(TicketFilter(late=True))
    assert [t.id for t in found.items] == [late]
