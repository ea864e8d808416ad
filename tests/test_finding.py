"""Finding tickets and the dashboard, at context level on SQLite and MariaDB: filters, sorts,
pages, counts, literal text search, medians; refused to non-admins."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.domain.models import Role, Status, TicketFilter, TicketSort, Urgency
from server.errors import Forbidden, ValidationError
from server.store.schema import history, tickets

from .conftest import context_for, make_user

# A fixed moment: nothing here depends on today's date.
NOW = datetime(2026, 3, 16, 12, 0, 0)
STATUS_IDS = {Status.WAITING: 1, Status.IN_PROGRESS: 2, Status.RESOLVED: 3}
RANK = {Urgency.HIGH: 3, Urgency.MEDIUM: 2, Urgency.LOW: 1}
EVERYTHING = TicketFilter(statuses=frozenset())


async def insert_tickets(database, rows: list[dict]) -> list[int]:
    """Tickets written as they would be, with explicit dates; their ids in order."""

    async def work(conn) -> list[int]:
        ids = []
        for row in rows:
            created = row.get("created_at", NOW)
            result = await conn.execute(
                tickets.insert().values(
                    titre=row.get("title", "Panne"),
                    description=row.get("description", "Détails."),
                    urgence=row.get("urgency", Urgency.MEDIUM).value,
                    auteur_id=row["author"].id,
                    statut_id=STATUS_IDS[row.get("status", Status.WAITING)],
                    assigne_id=row["assignee"].id if row.get("assignee") else None,
                    created_at=created,
                    updated_at=created,
                )
            )
            ids.append(result.inserted_primary_key[0])
        return ids

    return await database.write(work)


@pytest.fixture
async def catalogue(services, database, alice, bob, admin):
    """24 tickets: every status, urgency, author and assignee, one hour apart."""
    other = await make_user(services, "moussa.admin@example.org", "Moussa Admin", Role.ADMIN)
    rows = []
    statuses = [Status.WAITING, Status.IN_PROGRESS, Status.RESOLVED]
    urgencies = [Urgency.LOW, Urgency.HIGH, Urgency.MEDIUM]
    for n in range(24):
        rows.append(
            {
                "title": f"Ticket {n:02d}" + (" wifi" if n % 5 == 0 else ""),
                "description": "Le réseau est lent." if n % 7 == 0 else "Détails.",
                "urgency": urgencies[n % 3],
                "status": statuses[(n // 3) % 3],
                "author": alice if n % 2 else bob,
                "assignee": [None, admin, other][n % 4 % 3],
                "created_at": NOW - timedelta(hours=48 - n),
            }
        )
    ids = await insert_tickets(database, rows)
    return [{**row, "id": i} for row, i in zip(rows, ids, strict=True)], other


def expected(rows, keep, sort=TicketSort.URGENCY_DESC) -> list[int]:
    chosen = [r for r in rows if keep(r)]
    keys = {
        TicketSort.URGENCY_DESC: lambda r: (-RANK[r["urgency"]], r["created_at"], r["id"]),
        TicketSort.URGENCY_ASC: lambda r: (RANK[r["urgency"]], r["created_at"], r["id"]),
        TicketSort.DATE_ASC: lambda r: (r["created_at"], r["id"]),
        TicketSort.DATE_DESC: lambda r: (-r["created_at"].timestamp(), -r["id"]),
    }
    return [r["id"] for r in sorted(chosen, key=keys[sort])]


async def all_ids(ctx, filters=None, sort=TicketSort.URGENCY_DESC) -> tuple[list[int], int]:
    page = await ctx.search_tickets(filters, sort, 1, 200)
    return [t.id for t in page.items], page.total


async def test_default_view_is_open_tickets_most_urgent_then_oldest(services, catalogue, admin):
    rows, _other = catalogue
    ids, total = await all_ids(context_for(services, admin))
    want = expected(rows, lambda r: r["status"] is not Status.RESOLVED)
    assert ids == want and total == len(want) == 18
    page = await context_for(services, admin).search_tickets()
    first = page.items[0]
    assert (first.urgency, first.status) == (Urgency.HIGH, Status.WAITING)
    assert first.author_name in ("Alice Ndiaye", "Bob Sarr")


@pytest.mark.parametrize(
    "name",
    ["status", "urgency", "assignee", "unassigned", "author", "text title", "text description", "combined"],
)
async def test_each_filter(services, catalogue, admin, alice, name):
    rows, other = catalogue
    cases = {
        "status": (
            TicketFilter(statuses=frozenset({Status.RESOLVED})),
            lambda r: r["status"] is Status.RESOLVED,
        ),
        "urgency": (
            TicketFilter(statuses=frozenset(), urgencies=frozenset({Urgency.HIGH, Urgency.LOW})),
            lambda r: r["urgency"] in (Urgency.HIGH, Urgency.LOW),
        ),
        "assignee": (TicketFilter(statuses=frozenset(), assignee=other), lambda r: r["assignee"] == other),
        "unassigned": (
            TicketFilter(unassigned=True),
            lambda r: r["assignee"] is None and r["status"] is not Status.RESOLVED,
        ),
        "author": (TicketFilter(statuses=frozenset(), author=alice), lambda r: r["author"] == alice),
        "text title": (TicketFilter(statuses=frozenset(), text="WIFI"), lambda r: "wifi" in r["title"]),
        "text description": (
            TicketFilter(statuses=frozenset(), text=" réseau "),
            lambda r: "réseau" in r["description"],
        ),
        "combined": (
            TicketFilter(
                statuses=frozenset({Status.WAITING}),
                urgencies=frozenset({Urgency.HIGH}),
                author=alice,
                assignee=admin,
            ),
            lambda r: (
                (r["status"], r["urgency"], r["author"], r["assignee"])
                == (Status.WAITING, Urgency.HIGH, alice, admin)
            ),
        ),
    }
    filters, keep = cases[name]
    want = expected(rows, keep)
    assert want, "the case must match something"
    assert len(want) < len(rows)
    assert await all_ids(context_for(services, admin), filters) == (want, len(want))


@pytest.mark.parametrize("sort", list(TicketSort))
async def test_sort_orders(services, catalogue, admin, sort):
    rows, _other = catalogue
    # Same-moment tickets: the number decides, so that pages never overlap.
    twins = await insert_tickets(
        services.db,
        [
            {
                "title": "Jumeau",
                "urgency": Urgency.HIGH,
                "author": admin,
                "created_at": NOW - timedelta(hours=30),
            }
            for _ in range(2)
        ],
    )
    rows = rows + [
        {"id": i, "urgency": Urgency.HIGH, "created_at": NOW - timedelta(hours=30), "status": Status.WAITING}
        for i in twins
    ]
    ids, _total = await all_ids(context_for(services, admin), EVERYTHING, sort)
    assert ids == expected(rows, lambda r: True, sort)


async def test_pages_cover_the_results_once_and_clamp_out_of_range(services, catalogue, admin):
    rows, _other = catalogue
    ctx = context_for(services, admin)
    want = expected(rows, lambda r: r["status"] is not Status.RESOLVED)
    seen = []
    for number in (1, 2, 3, 4):
        page = await ctx.search_tickets(None, TicketSort.URGENCY_DESC, number, 5)
        assert (page.total, page.pages, page.page, page.page_size) == (18, 4, number, 5)
        seen += [t.id for t in page.items]
    assert seen == want
    last = await ctx.search_tickets(None, TicketSort.URGENCY_DESC, 99, 5)
    assert (last.page, [t.id for t in last.items]) == (4, want[15:]) and len(want) == 18
    first = await ctx.search_tickets(None, TicketSort.URGENCY_DESC, 0, 5)
    assert (first.page, [t.id for t in first.items]) == (1, want[:5])
    nothing = await ctx.search_tickets(TicketFilter(text="introuvable-xyz"), TicketSort.DATE_ASC, 3, 5)
    assert (nothing.total, nothing.pages, nothing.page, nothing.items) == (0, 1, 1, ())


@pytest.mark.parametrize(
    "typed, matches",
    [
        ("%", ["100% remboursé"]),
        ("_", ["taux_de_charge"]),
        ("\\", ["C:\\temp plein"]),
        ("/", ["a/b"]),
        ("0% r", ["100% remboursé"]),
    ],
)
async def test_text_search_takes_wildcards_literally(services, alice, admin, typed, matches):
    titles = [
        "100% remboursé",
        "100 remboursé",
        "taux_de_charge",
        "tauxxdexcharge",
        "C:\\temp plein",
        "a/b",
        "ab",
    ]
    await insert_tickets(services.db, [{"title": t, "author": alice} for t in titles])
    page = await context_for(services, admin).search_tickets(TicketFilter(text=typed), TicketSort.DATE_ASC)
    assert [t.title for t in page.items] == matches
    assert page.total == len(matches)


async def test_find_users_by_name_or_email(services, alice, bob, admin):
    ctx = context_for(services, admin)
    assert [u.name for u in await ctx.find_users("ndiaye")] == ["Alice Ndiaye"]
    assert [u.name for u in await ctx.find_users("BOB@example")] == ["Bob Sarr"]
    assert [u.name for u in await ctx.find_users("example.org")] == ["Alice Ndiaye", "Awa Admin", "Bob Sarr"]
    assert [u.name for u in await ctx.find_users("example.org", admins_only=True)] == ["Awa Admin"]
    assert await ctx.find_users("%") == []


async def test_search_texts_with_control_characters_are_refused(services, admin):
    ctx = context_for(services, admin)
    with pytest.raises(ValidationError, match="caractères de contrôle"):
        await ctx.search_tickets(TicketFilter(text="imprimante\x1b[2J"))
    with pytest.raises(ValidationError, match="caractères de contrôle"):
        await ctx.find_users("awa\x07")


async def test_finding_and_dashboard_refused_to_non_admins(services, alice):
    for ctx in (context_for(services, alice), context_for(services, None)):
        with pytest.raises(Forbidden):
            await ctx.search_tickets()
        with pytest.raises(Forbidden):
            await ctx.find_users("a")
        with pytest.raises(Forbidden):
            await ctx.dashboard()
        assert not ctx.can_view_dashboard()


# Dashboard ------------------------------------------------------------------------------


async def add_history(database, entries: list[dict]) -> None:
    async def work(conn) -> None:
        for e in entries:
            await conn.execute(
                history.insert().values(
                    ticket_id=e["ticket"],
                    acteur_id=e["actor"].id,
                    acteur_nom=e["actor"].name,
                    action=e["action"],
                    ancien_statut_id=e.get("old"),
                    nouveau_statut_id=e.get("new"),
                    details="",
                    created_at=e["at"],
                    interne=e.get("internal", False),
                )
            )

    await database.write(work)


async def test_dashboard_counts_days_and_medians(services, database, alice, bob, admin):
    day = timedelta(days=1)
    rows = (
        [{"urgency": Urgency.HIGH, "author": alice, "created_at": NOW - timedelta(hours=1)}] * 3
        + [{"urgency": Urgency.LOW, "status": Status.IN_PROGRESS, "author": bob, "created_at": NOW - 2 * day}]
        * 2
        + [
            {
                "urgency": Urgency.MEDIUM,
                "status": Status.RESOLVED,
                "author": bob,
                "created_at": NOW - 13 * day,
            }
        ]
        # Outside the 14 days shown, still open.
        + [{"urgency": Urgency.MEDIUM, "author": alice, "created_at": NOW - 20 * day}]
    )
    ids = await insert_tickets(database, rows)
    t0, _t1, _t2, t3, _t4, t5, _t6 = ids
    a, b, c = (NOW - timedelta(hours=1), NOW - 2 * day, NOW - 13 * day)
    await add_history(
        database,
        [
            # t0: the author's own status change is no answer; an internal note neither; the
            # admin's reply 30 min after is.
            {
                "ticket": t0,
                "actor": alice,
                "action": "changement_statut",
                "old": 1,
                "new": 2,
                "at": a + timedelta(minutes=5),
            },
            {
                "ticket": t0,
                "actor": admin,
                "action": "note",
                "internal": True,
                "at": a + timedelta(minutes=10),
            },
            {"ticket": t0, "actor": admin, "action": "reponse", "at": a + timedelta(minutes=30)},
            # t3: taken in hand after 2 h.
            {
                "ticket": t3,
                "actor": admin,
                "action": "changement_statut",
                "old": 1,
                "new": 2,
                "at": b + timedelta(hours=2),
            },
            # t5: answered after 4 h, resolved after 1 day 3 h, reopened, resolved again later.
            {
                "ticket": t5,
                "actor": admin,
                "action": "changement_statut",
                "old": 1,
                "new": 2,
                "at": c + timedelta(hours=4),
            },
            {
                "ticket": t5,
                "actor": admin,
                "action": "changement_statut",
                "old": 2,
                "new": 3,
                "at": c + timedelta(days=1, hours=3),
            },
            {
                "ticket": t5,
                "actor": bob,
                "action": "changement_statut",
                "old": 3,
                "new": 1,
                "at": c + timedelta(days=2),
            },
            {
                "ticket": t5,
                "actor": admin,
                "action": "changement_statut",
                "old": 1,
                "new": 3,
                "at": c + timedelta(days=3),
            },
        ],
    )
    board = await context_for(services, admin).dashboard(now=NOW)

    assert board.open_by_status == ((Status.WAITING, 4), (Status.IN_PROGRESS, 2))
    assert board.open_by_urgency == ((Urgency.HIGH, 3), (Urgency.MEDIUM, 1), (Urgency.LOW, 2))
    assert board.open_total == 6
    days = dict(board.created_per_day)
    assert len(board.created_per_day) == 14
    assert board.created_per_day[-1] == (NOW.date(), 3)
    assert board.created_per_day[0] == ((NOW - 13 * day).date(), 1)
    assert days[(NOW - 2 * day).date()] == 2
    assert sum(days.values()) == 6
    # Answers: 30 min, 2 h, 4 h → median 2 h; resolutions: only t5, the first one.
    assert board.median_first_response == timedelta(hours=2)
    assert board.median_resolution == timedelta(days=1, hours=3)


async def test_dashboard_of_an_empty_base(services, admin):
    board = await context_for(services, admin).dashboard(now=NOW)
    assert board.open_total == 0
    assert [n for _d, n in board.created_per_day] == [0] * 14
    assert board.median_first_response is None and board.median_resolution is None


async def test_dashboard_days_are_utc_days_to_their_edges(services, database, admin, alice):
    # Same-day tickets at the edges of the UTC day land on that day.
    start = datetime.combine(NOW.date(), datetime.min.time())
    end = start + timedelta(hours=23, minutes=59, seconds=59)
    await insert_tickets(
        database,
        [
            {"author": alice, "created_at": start},
            {"author": alice, "created_at": end},
            {"author": alice, "created_at": start - timedelta(seconds=1)},
        ],
    )
    board = await context_for(services, admin).dashboard(now=end)
    assert board.created_per_day[-2:] == (((start - timedelta(days=1)).date(), 1), (start.date(), 2))
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar_one() == 3
