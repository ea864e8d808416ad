"""Commands run through a real context on both databases, where the channel cannot easily be
made to fail: what a script is told when the service cannot write now."""

from __future__ import annotations

from server import commands
from server.store.schema import tickets

from .conftest import context_for, count


class FakeChannel:
    is_tty = False

    def __init__(self, stdin: str = "") -> None:
        self.stdin = stdin
        self.written: list[str] = []

    def out(self, text: str) -> None:
        self.written.append(text)

    async def drain(self) -> None:
        pass

    async def read_stdin(self) -> str:
        return self.stdin


async def test_a_write_refused_for_now_exits_3_and_writes_nothing(services, database, alice):
    errors: list[str] = []
    database.refusing_writes = True
    status = await commands.run(
        context_for(services, alice),
        FakeChannel("Texte."),
        "tickets new --title Plus tard --urgency Faible",
        errors.append,
    )
    database.refusing_writes = False
    assert (status, errors) == (
        3,
        ["Le service redémarre : rien n'a été enregistré, réessayez dans un instant."],
    )
    assert await count(database, tickets) == 0
