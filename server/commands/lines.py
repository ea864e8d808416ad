"""Line mode: a session without a terminal reads commands line by line, as a screen reader or
`expect` can follow; a ticket's text is typed on lines ending with one made of a single dot."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..i18n import N_, _
from ..transport.channel_exec import STDIN_MAX, TOO_LONG, ExecChannel, InputRefused
from .base import CommandError

if TYPE_CHECKING:
    from ..context import SessionContext

PROMPT = "> "
INTRO = N_("Mode ligne : tapez une commande puis Entrée (help : la liste, quit : terminer).")
TEXT = N_("Tapez le texte ; terminez par une ligne ne contenant qu'un point (.).")
FILES_NEED_STDIN = N_(
    "Un fichier se joint par l'entrée standard : ssh -l EMAIL hôte tickets attach N NOM < fichier"
)
QUIT = frozenset({"quit", "exit", "q"})


class LineInput:
    """The channel as a command sees it in line mode: its stdin is the lines typed up to `.`."""

    def __init__(self, io: ExecChannel) -> None:
        self.io = io
        self.is_tty = io.is_tty

    def out(self, text: str) -> None:
        self.io.out(text)

    async def drain(self) -> None:
        await self.io.drain()

    async def read_stdin(self) -> str:
        self.io.out(_(TEXT) + "\n")
        lines: list[str] = []
        size = 0
        while (line := await self.io.read_line()) is not None and line.strip() != ".":
            size += len(line) + 1
            if size > STDIN_MAX:
                raise InputRefused(_(TOO_LONG), final=False)
            lines.append(line)
        return "\n".join(lines)

    async def stream_stdin(self):
        raise CommandError(_(FILES_NEED_STDIN))


async def line_mode(ctx: SessionContext, io: ExecChannel, run: Callable) -> int:
    """Commands read one per line until `quit` or the end of input; the last one's status."""
    io.out(_(INTRO) + "\n")
    status = 0
    while True:
        io.out(PROMPT)
        try:
            line = await io.read_line()
        except InputRefused as exc:
            io.error(exc.message)
            if exc.final:
                return 1
            continue
        if line is None or line.strip() in QUIT:
            return status
        if not line.strip():
            continue
        try:
            status = await run(ctx, LineInput(io), line, io.error)
        except InputRefused as exc:
            io.error(exc.message)
            status = 1
            if exc.final:
                return status
