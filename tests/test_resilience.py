"""What survives trouble: a database that restarts, a client that drops in the middle of a write."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.app import Service
from server.store.schema import history, tickets

from .conftest import (
    PASSWORD,
    context_for,
    count,
    make_user,
)
from .sshclient import CTRL_D, ENTER, Client


async def test_database_restart_during_a_session(tmp_path: Path, restartable_mariadb):
    """The server goes down under a logged-in user: one clear message, then work resumes."""
    mariadb = restartable_mariadb
    settings = mariadb.settings(tmp_path)
    service = Service(settings)
    await service.start()
    client = None
    try:
        assert service.services is not None
        await make_user(service.services, "alice@example.org", "Alice Ndiaye")
        client = await Client.connect(service.port, "alice@example.org", PASSWORD)
        await client.wait_for("1. Nouveau ticket")

        mariadb.stop()
        # The categories cannot be read: the form goes on without asking one.
        client.send("1")
        await client.wait_for("Titre :")
        client.send("Écran noir" + ENTER)
        await client.wait_for("Description :")
        client.send("Rien ne s'affiche." + CTRL_D)
        await client.wait_for("1. Faible", "2. Moyenne", "3. Haute")
        client.send("2")
        # The form stays as typed, with the sentence: the user only has to send it again.
        await client.wait_for(
            "La base de données est momentanément indisponible", "Titre : Écran noir", "2. Moyenne"
        )

        mariadb.start()
        client.send("2")
        await client.wait_for("Ticket #1 créé.", "Écran noir")
        assert await count(service.db, tickets) == 1
        assert await count(service.db, history) == 1
    finally:
        if client is not None:
            await client.close()
        await service.stop(grace=2)


async def test_a_write_cancelled_midway_still_ends_whole(services, alice):
    """A client that drops while its ticket is being written: ticket and history land together."""
    ctx = context_for(services, alice)
    task = asyncio.create_task(ctx.create_ticket("Clavier", "Touches mortes.", "Faible"))
    # Let the write start, then cancel the screen that awaits it, as a lost connection does.
    while services.db._active == 0:
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert await services.db.wait_idle(10)
    assert await count(services.db, tickets) == 1
    assert await count(services.db, history) == 1
