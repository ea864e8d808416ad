"""A closed session is freed by its last reference going: it leaves no reference cycle behind.

The collection policy (server/collector.py) freezes what lives, so that no automatic
collection walks thousands of sessions' objects: whatever a closed session left in a cycle
would only come back with a walk of every object, a pause of seconds at 5,000 sessions.
Here the server's objects are frozen while the sessions are open, as the collector does; once
the real OpenSSH clients have gone, a collection of the unfrozen objects must be enough to
free every one of them, and a collection of everything must find none of them in a cycle.
"""

from __future__ import annotations

import collections
import gc
import weakref

from .conftest import PASSWORD, until
from .journeys import file_ticket, login_in_app
from .sshclient import ENTER, OpenSSHClient

# What a session is made of, on the server's side: none of it may be left in a cycle.
SESSION_MODULES = ("server.", "prompt_toolkit.", "asyncssh.", "asyncio.selector_events")


async def by_password(port: int, email: str) -> OpenSSHClient:
    c = await OpenSSHClient.start(port, email)
    await c.wait_for("Mot de passe / password:")
    c.send(PASSWORD + ENTER)
    await c.wait_for("Menu principal", "1. Nouveau ticket")
    return c


async def journeys(port: int) -> list[OpenSSHClient]:
    """A few sessions through many screens: forms, menus, a ticket filed, lists, a ticket."""
    filer = await by_password(port, "alice@example.org")
    await file_ticket(filer, "Imprimante bloquée", "Bourrage papier en salle 2.", "Haute")
    await filer.wait_for("Ticket #1 créé.")
    reader = await by_password(port, "bob@example.org")
    reader.send("2")
    await reader.wait_for("Mes tickets")
    guest = await OpenSSHClient.start(port, "support")
    await login_in_app(guest, "alice@example.org", PASSWORD)
    await guest.wait_for("1. Nouveau ticket")
    guest.send("2")
    await guest.wait_for("Mes tickets", "Imprimante bloq")
    guest.send("1" + ENTER)
    await guest.wait_for("Ticket #1 — Imprimante bloquée")
    visitor = await OpenSSHClient.start(port, "support")
    await visitor.wait_for("1. Se connecter")
    visitor.send("2")
    await visitor.wait_for("Nom :")
    return [filer, reader, guest, visitor]


def server_garbage() -> collections.Counter:
    """The server's objects that only a collection of every object, frozen ones too, frees."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.unfreeze()
        gc.collect()
        found = collections.Counter(
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in gc.garbage
            if type(o).__module__.startswith(SESSION_MODULES)
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


async def test_closed_sessions_are_freed_without_a_full_collection(service, alice, bob):
    warm = await by_password(service.port, "bob@example.org")
    await warm.close()
    await until(lambda: not service.terminals and not service.connections)
    clients = await journeys(service.port)
    try:
        await until(lambda: len(service.terminals) == len(clients))
        parts = [
            *service.terminals,
            *(term.app for term in service.terminals),
            *service.contexts.values(),
            *service.connections,
        ]
        alive = [weakref.ref(part) for part in parts]
        del parts
        # As the collector's step does: what lives is frozen, out of the automatic passes.
        gc.collect()
        gc.freeze()
        while clients:
            await clients.pop().close()
        await until(lambda: not service.terminals and not service.connections)

        def freed() -> bool:
            # The unfrozen objects only: a cycle among the frozen ones would stay. (A key's
            # cancelled timer still holds its session until its time comes, a second at most.)
            gc.collect()
            return all(ref() is None for ref in alive)

        # Under a loaded machine a closing connection's last write (its audit row) may take
        # seconds; the wait ends as soon as everything is freed.
        await until(freed, 20, fail=False)
        left = [ref() for ref in alive if ref() is not None]
        assert not left, f"still alive after the sessions closed: {left}"
        garbage = server_garbage()
        assert not garbage, f"left in reference cycles by closed sessions: {garbage.most_common(20)}"
    finally:
        for c in clients:
            await c.close()
