"""A channel without a screen: one command (`ssh campus tickets list`), the command prompt
(`ssh -T campus shell`), or the screens as plain lines (`ssh -T campus`, TERM=dumb)."""

from __future__ import annotations

from dataclasses import dataclass

from . import commands
from .change_feed import ChangeFeed
from .commands.lines import line_mode
from .context import SessionContext, SessionResources
from .handlers.live import deliver
from .handlers.session import run_session
from .i18n import _
from .transport.channel_exec import ExecChannel, InputRefused
from .ui.linemode import LineTerminal


@dataclass
class LineChannel:
    """What an exec or shell channel without a drawing terminal gets: the same context, access
    and audit as a screen's session."""

    services: SessionResources
    feed: ChangeFeed
    idle_timeout: float

    async def run(self, io: ExecChannel, line: str | None, address: str, user) -> int:
        if line is None or line.strip() == "menus":
            # No terminal (`ssh -T`), or one that draws nothing (TERM=dumb): the screens as lines.
            return await self.screens(io, address, user)
        if user is None:
            io.error(_(commands.GUEST))
            return commands.REFUSED
        io.stdin_timeout = self.idle_timeout
        ctx = SessionContext(self.services, address, user)
        try:
            if line.strip() == "shell":
                return await line_mode(ctx, io, commands.run)
            return await commands.run(ctx, io, line, io.error)
        finally:
            self.services.sessions.discard(ctx)

    async def screens(self, io: ExecChannel, address: str, user) -> int:
        """The screens as plain lines (server/ui/linemode.py), for a screen reader or `expect`;
        guests get the welcome menu, as with a terminal."""
        io.stdin_timeout = self.idle_timeout
        ctx = SessionContext(self.services, address, user)

        async def read_line() -> str | None:
            while True:
                try:
                    return await io.read_line()
                except InputRefused as exc:
                    io.error(exc.message)
                    if exc.final:
                        return None

        set_echo = None
        if io.is_tty:
            # A terminal (TERM=dumb, ssh -t … menus) sends keys: lines are made of them here.
            io.cooked = True

            def set_echo(on: bool) -> None:
                io.echo = on

        term = LineTerminal(io.out, read_line, set_echo)

        def ended(text: str) -> None:
            term.announce(text)
            term.close()

        ctx.on_end = ended
        unsubscribe = self.feed.subscribe(lambda change: deliver(term, ctx, change))  # type: ignore[arg-type]
        try:
            await term.run(lambda t: run_session(t, ctx))  # type: ignore[arg-type]
        finally:
            unsubscribe()
            self.services.sessions.discard(ctx)
        return commands.OK
