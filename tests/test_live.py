"""The change feed and unread markers, on SQLite and MariaDB: what each user is told and marked."""

from __future__ import annotations

import sqlalchemy as sa

from server.change_feed import ChangeFeed
from server.domain.models import Action, LiveNotice, Role, Status, TicketChange, User
from server.store import utcnow
from server.store.schema import history, reads, users

from .conftest import context_for, make_user


async def add_history(
    database,
    ticket_id: int,
    actor: User,
    action: Action,
    *,
    internal: bool = False,
    history_id: int | None = None,
) -> int:
    """A history row as another feature (replies, internal notes) or another process writes it."""
    values = dict(
        ticket_id=ticket_id,
        acteur_id=actor.id,
        acteur_nom=actor.name,
        action=action.value,
        details="Réponse.",
        created_at=utcnow(),
        interne=internal,
    )
    if history_id is not None:
        values["id"] = history_id

    async def insert(conn) -> int:
        return (await conn.execute(history.insert().values(**values))).inserted_primary_key[0]

    return await database.write(insert)


async def unread(services, user: User) -> dict[int, bool]:
    ctx = context_for(services, user)
    listed = await (ctx.all_tickets() if user.is_admin else ctx.my_tickets())
    return {t.id: t.unread for t in listed}


async def read_marks(database) -> dict[tuple[int, int], int]:
    async with database.transaction() as conn:
        rows = (await conn.execute(sa.select(reads))).all()
    return {(r.utilisateur_id, r.ticket_id): r.dernier_historique_id for r in rows}


# Unread markers -------------------------------------------------------------------------------


async def test_a_change_by_someone_else_is_unread_until_opened(services, alice, admin, database):
    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    # Her own creation is no news to Alice; to the admin, a ticket never opened is.
    assert await unread(services, alice) == {number: False}
    assert await unread(services, admin) == {number: True}

    opened = await context_for(services, admin).open_ticket(number)
    assert await unread(services, admin) == {number: False}
    assert await read_marks(database) == {(admin.id, number): opened.history[-1].id}

    await context_for(services, admin).change_status(number, Status.IN_PROGRESS)
    assert await unread(services, alice) == {number: True}
    assert await unread(services, admin) == {number: False}  # the admin's own change

    ticket = await context_for(services, alice).open_ticket(number)
    assert await unread(services, alice) == {number: False}
    assert await read_marks(database) == {
        (admin.id, number): opened.history[-1].id,
        (alice.id, number): ticket.history[-1].id,
    }


async def test_only_the_changed_ticket_is_marked(services, alice, admin):
    first = await context_for(services, alice).create_ticket("Clavier", "Touche A.", "Faible")
    second = await context_for(services, alice).create_ticket("Souris", "Clic droit.", "Faible")
    await context_for(services, admin).change_status(second, Status.RESOLVED)
    assert await unread(services, alice) == {first: False, second: True}


async def test_internal_notes_mark_admins_only(services, alice, admin, database):
    other_admin = await make_user(services, "moussa@example.org", "Moussa Admin", Role.ADMIN)
    number = await context_for(services, alice).create_ticket("Wi-Fi", "Pas de réseau.", "Moyenne")
    for user in (alice, other_admin):
        await context_for(services, user).open_ticket(number)

    await add_history(database, number, admin, Action.REPLY, internal=True)
    assert await unread(services, alice) == {number: False}
    assert await unread(services, other_admin) == {number: True}

    await add_history(database, number, admin, Action.REPLY)
    assert await unread(services, alice) == {number: True}


async def test_the_read_mark_never_goes_back(services, alice, admin, database):
    number = await context_for(services, alice).create_ticket("Écran", "Noir.", "Haute")
    stale = await context_for(services, alice).ticket(number)  # loaded before the change
    await context_for(services, admin).change_status(number, Status.IN_PROGRESS)
    fresh = await context_for(services, alice).open_ticket(number)
    ctx = context_for(services, alice)
    # A screen still holding the older copy is marked read afterwards: the newer mark stays.
    await ctx.mark_read(stale)
    assert await read_marks(database) == {(alice.id, number): fresh.history[-1].id}
    assert await unread(services, alice) == {number: False}


async def test_marking_read_asks_for_the_ticket_itself(services, alice, bob, admin, database):
    """`mark_read` does not rely on `ticket()` having checked access: a ticket that is not the
    user's leaves no marker, whoever handed it over."""
    number = await context_for(services, alice).create_ticket("Écran", "Noir.", "Haute")
    theirs = await context_for(services, admin).ticket(number)
    await context_for(services, bob).mark_read(theirs)
    assert await read_marks(database) == {}
    await context_for(services, admin).mark_read(theirs)
    assert await read_marks(database) == {(admin.id, number): theirs.history[-1].id}


# Who is told of what --------------------------------------------------------------------------


def change(
    ticket_author: User, actor: User, action: Action, *, internal: bool = False, status: Status | None = None
) -> TicketChange:
    return TicketChange(
        history_id=10,
        ticket_id=12,
        ticket_title="Chargeur",
        author_id=ticket_author.id,
        actor_id=actor.id,
        action=action.value,
        internal=internal,
        new_status=status,
    )


async def test_the_context_decides_who_is_told(services, alice, bob, admin):
    def told(user: User | None, c: TicketChange) -> LiveNotice | None:
        return context_for(services, user).live_notice(c)

    status = change(alice, admin, Action.STATUS_CHANGED, status=Status.IN_PROGRESS)
    assert told(alice, status) is LiveNotice.STATUS_CHANGED
    assert told(bob, status) is None  # not his ticket: not even a refresh
    assert told(None, status) is None  # a guest on the welcome menu
    assert told(admin, status) is None  # his own action

    assert told(alice, change(alice, admin, Action.REPLY)) is LiveNotice.REPLY
    assert told(alice, change(alice, admin, Action.REPLY, internal=True)) is None
    assert told(alice, change(alice, alice, Action.REPLY)) is None

    created = change(alice, alice, Action.CREATED, status=Status.WAITING)
    assert told(admin, created) is LiveNotice.NEW_TICKET
    assert told(alice, created) is None
    assert told(bob, created) is None
    other_admin = await make_user(services, "moussa@example.org", "Moussa Admin", Role.ADMIN)
    assert told(other_admin, change(alice, admin, Action.REPLY, internal=True)) is LiveNotice.QUIET
    # An action this version does not know (a newer process wrote it): a refresh, no words.
    unknown = TicketChange(10, 12, "Chargeur", alice.id, admin.id, "action_future", False, None)
    assert told(alice, unknown) is LiveNotice.QUIET


# The feed -------------------------------------------------------------------------------------


async def test_the_feed_delivers_each_new_row_once_in_order(services, alice, admin, database):
    await context_for(services, alice).create_ticket("Ancien", "Avant le départ.", "Faible")
    feed = ChangeFeed(database, 1.0)
    received: list[TicketChange] = []
    feed.subscribe(received.append)
    assert await feed.poll() == []  # the starting point: older history is not news

    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    await context_for(services, admin).change_status(number, Status.RESOLVED)
    await feed.poll()
    assert [
        (c.ticket_id, c.action, c.actor_id, c.new_status, c.ticket_title, c.author_id) for c in received
    ] == [
        (number, Action.CREATED, alice.id, Status.WAITING, "Chargeur", alice.id),
        (number, Action.STATUS_CHANGED, admin.id, Status.RESOLVED, "Chargeur", alice.id),
    ]
    assert await feed.poll() == []
    assert len(received) == 2


async def test_a_row_committed_late_with_a_lower_id_is_not_lost(services, alice, admin, database):
    """On MariaDB ids are taken at insert but seen at commit: a lower one may show up later."""
    number = await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    feed = ChangeFeed(database, 1.0)
    await feed.poll()
    start = feed.last_id
    assert start is not None
    # The row with start + 2 is committed first; start + 1 (a slower transaction) after it.
    await add_history(database, number, admin, Action.REPLY, history_id=start + 2)
    assert [c.history_id for c in await feed.poll()] == [start + 2]
    await add_history(database, number, admin, Action.REPLY, internal=True, history_id=start + 1)
    late = await feed.poll()
    assert [(c.history_id, c.internal) for c in late] == [(start + 1, True)]
    assert await feed.poll() == []


async def test_one_broken_session_does_not_keep_news_from_others(services, alice, database):
    feed = ChangeFeed(database, 1.0)
    await feed.poll()

    def broken(c: TicketChange) -> None:
        raise RuntimeError("session gone")

    received: list[TicketChange] = []
    feed.subscribe(broken)
    unsubscribe = feed.subscribe(received.append)
    await context_for(services, alice).create_ticket("Chargeur", "Il chauffe.", "Haute")
    await feed.poll()
    assert len(received) == 1
    unsubscribe()
    await context_for(services, alice).create_ticket("Souris", "Clic.", "Haute")
    await feed.poll()
    assert len(received) == 1


async def test_history_ids_are_never_handed_out_twice(database, services, alice, bob, admin):
    """The feed reads ids above the last it saw: an id freed by a deletion must not come back."""
    gone = await context_for(services, bob).create_ticket("Souris", "Clic droit mort.", "Faible")
    await context_for(services, admin).reply(gone, "Laquelle ?")
    async with database.transaction() as conn:
        newest = (await conn.execute(sa.select(sa.func.max(history.c.id)))).scalar_one()
        await conn.execute(users.delete().where(users.c.id == bob.id))  # his ticket and history go
    await context_for(services, alice).create_ticket("Écran", "Noir.", "Haute")
    async with database.transaction() as conn:
        assert (await conn.execute(sa.select(sa.func.max(history.c.id)))).scalar_one() > newest
