"""What one front end does to an account reaches its sessions on the others: two real servers
on one database, real SSH clients; a reset, a role change, a deletion."""

from __future__ import annotations

import asyncio

import asyncssh
import pytest
import sqlalchemy as sa

from server.app import Service
from server.context import SessionContext
from server.domain.access import Access
from server.errors import AccountDeleted
from server.store.schema import account_events, ssh_keys, users

from .conftest import PASSWORD, count, until
from .sshclient import Client
from .test_e2e_accounts import public_line
from .test_e2e_recovery import DONE, NEW, guest, issued, reset_on_screen
from .test_e2e_tickets import WELCOME, logged_in, wait_sentence


@pytest.fixture
async def other(settings, database):
    """A second front end: its own process state (sessions, locks, change feed), one database."""
    svc = Service(settings)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2)


async def test_a_reset_on_one_front_end_ends_the_sessions_on_the_other_in_their_language(
    service, other, clients, database, alice, admin
):
    key = asyncssh.generate_private_key("ssh-ed25519")
    await SessionContext(other.services, "127.0.0.1:test", alice).add_key(public_line(key))
    async with database.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == alice.id).values(langue="en"))
    # Alice left a session open on front end B.
    left_open = await Client.connect(other.port, "alice@example.org", PASSWORD)
    clients.append(left_open)
    await left_open.wait_for("1. New ticket")

    # B's feed looks only when told to: what it reads is then known exactly.
    await other.feed.stop()
    code = await issued(service, admin, alice)
    c = await guest(service, clients)
    await reset_on_screen(c, "alice@example.org", code)
    await c.wait_for(DONE, *WELCOME)
    # Opened on B with the new password before B has read the reset: it must stay open.
    fresh = await Client.connect(other.port, "alice@example.org", NEW)
    clients.append(fresh)
    await fresh.wait_for("1. New ticket")
    assert not left_open.closed

    await other.feed.poll()
    await wait_sentence(left_open, "This account's password has just been reset: log in again.")
    await asyncio.wait_for(left_open.chan.wait_closed(), 10)
    assert not fresh.closed and "1. New ticket" in fresh.text()
    assert await count(database, ssh_keys, ssh_keys.c.utilisateur_id == alice.id) == 1
    assert await count(database, account_events) == 1
    k = await Client.connect(other.port, "alice@example.org", client_keys=[key], auth="publickey")
    clients.append(k)
    await k.wait_for("1. New ticket")


async def test_a_demotion_and_a_deletion_on_one_front_end_reach_the_other(
    service, other, clients, database, bob, admin
):
    async with database.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == bob.id).values(role="admin"))
    await logged_in(other, clients, "bob@example.org")
    [on_b] = [s for s in other.services.sessions if s.user is not None and s.user.id == bob.id]
    assert on_b.can_manage_users()
    desk = SessionContext(service.services, "127.0.0.1:desk", admin)
    await desk.set_role(bob.id, "utilisateur")
    await until(lambda: not on_b.can_manage_users(), 10)

    await desk.delete_user(bob.id, "bob@example.org")
    await until(lambda: on_b._deleted_user is not None, 10)
    with pytest.raises(AccountDeleted):
        on_b.require(Access.OWN_ACCOUNT)
    async with database.transaction() as conn:
        kinds = (await conn.execute(sa.select(account_events.c.evenement))).scalars().all()
    assert kinds == ["role", "suppression"]
