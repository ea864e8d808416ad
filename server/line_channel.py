"""A channel without a screen: one command (`ssh campus tickets list`), the command prompt
(`ssh -T campus shell`), or the screens as plain lines (`ssh -T campus`, TERM=dumb)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from . import commands
from .change_feed import ChangeFeed
from .commands.lines import line_mode
from .context import SessionContext, SessionResources
from .handlers.live import deliver
from .handlers.session import run_session
from .i18n import _, speaking
from .transport.channel_exec import ExecChannel, InputRefused
from .ui.linemode import LineTerminal


@dataclass(eq=False)
class LineSession:
    """An open session of lines (`ssh -T campus`, `… shell`), as a shutdown sees it: whom it
    tells, how, and how it ends the session."""

    ctx: SessionContext
    say: Callable[[str], None]
    end: Callable[[], None]
    task: asyncio.Task = field(default_factory=lambda: asyncio.current_task())  # type: ignore[arg-type,return-value]
    said: str = ""

    def tell(self, text: str) -> None:
        # A line stays where it was printed: the same sentence is not said twice.
        if text != self.said:
            self.said = text
            self.say(text)


def tell_each(sessions: set[LineSession], text_for: Callable[[SessionContext], str]) -> None:
    """Each open line session told `text_for(its context)`, in its own language."""
    for session in list(sessions):
        with speaking(session.ctx.language):
            session.tell(text_for(session.ctx))


@dataclass
class LineChannel:
    """What an exec or shell channel without a drawing terminal gets: the same context, access
    and audit as a screen's session."""

    services: SessionResources
    feed: ChangeFeed
    idle_timeout: float
    # The sessions of lines open now (the service's own set): a shutdown tells each of them.
    open: set[LineSession] = field(default_factory=set)

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
                session = LineSession(ctx, io.error, io.closed)
                self.open.add(session)
                try:
                    return await line_mode(ctx, io, commands.run)
                finally:
                    self.open.discard(session)
            return await self.command(ctx, io, line)
        finally:
            self.services.sessions.discard(ctx)

    async def command(self, ctx: SessionContext, io: ExecChannel, line: str) -> int:
        """One command (`ssh campus tickets new …`). A shutdown tells it on stderr, then ends it
        where it is (waiting for its input, streaming an export): exit 3, try again later."""
        task = asyncio.current_task()
        assert task is not None
        stopped = False

        def end() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        session = LineSession(ctx, io.error, end)
        self.open.add(session)
        try:
            return await commands.run(ctx, io, line, io.error)
        except asyncio.CancelledError:
            if not stopped:
                raise
            task.uncancel()
            ctx.log("command ended by the shutdown: exit %s", commands.UNAVAILABLE)
            return commands.UNAVAILABLE
        finally:
            self.open.discard(session)

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

        def end() -> None:
            # The flow stops at its next read; one waiting for a line wakes up to stop.
            term.close()
            io.closed()

        ctx.on_end = ended
        session = LineSession(ctx, term.announce, end)
        self.open.add(session)
        unsubscribe = self.feed.subscribe(lambda change: deliver(term, ctx, change))  # type: ignore[arg-type]
        try:
            await term.run(lambda t: run_session(t, ctx))  # type: ignore[arg-type]
        finally:
            unsubscribe()
            self.open.discard(session)
            self.services.sessions.discard(ctx)
        return commands.OK
