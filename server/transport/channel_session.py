"""One prompt_toolkit application per SSH channel: its keys in, its screen out."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging

import asyncssh
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.contrib.ssh import PromptToolkitSSHSession
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import typeahead
from prompt_toolkit.output.vt100 import Vt100_Output

from .. import i18n
from .channel_exec import ExecChannel, Execute, run_exec
from .channel_input import ChannelInput

log = logging.getLogger("support.sshd")


class ChannelWriter:
    """The application's output stream: what it draws goes to the SSH channel."""

    def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan
        self.encoding = "utf-8"

    def write(self, data: str) -> None:
        # A channel that is closing refuses data: what was drawn for it no longer matters.
        with contextlib.suppress(BrokenPipeError):
            self._chan.write(data.replace("\n", "\r\n"))

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        pass


class ChannelSession(PromptToolkitSSHSession):
    """One prompt_toolkit application per channel, fed by the channel itself (ChannelInput).

    No pipe and no descriptor beyond the connection's socket; what the client sends is parsed
    in the event loop's own turn, and the channel stops reading while the application is behind.
    """

    def __init__(self, interact, *, label: str = "-", execute: Execute | None = None) -> None:
        # Not the library's constructor: it defines a class of its own for every session.
        self.interact = interact
        # An exec request (`ssh host COMMAND`) runs a command instead of the application.
        self.execute = execute
        self._command: str | None = None
        self._exec: ExecChannel | None = None
        self.interact_task: asyncio.Task[None] | None = None
        self._chan: asyncssh.SSHServerChannel | None = None
        self.app_session = None
        self.label = label
        self._input: ChannelInput | None = None  # type: ignore[assignment]
        # The session's language, first from what the client sent (LANG…), then the account's.
        self.language = i18n.Language()

    @property
    def connection(self) -> asyncssh.SSHServerConnection | None:
        return self._chan.get_extra_info("connection") if self._chan is not None else None

    def _get_size(self) -> Size:
        size = super()._get_size()
        if size.rows <= 0 or size.columns <= 0:
            return Size(rows=24, columns=80)
        return size

    def exec_requested(self, command: str) -> bool:
        if self.execute is None:
            return False
        self._command = command
        return True

    def eof_received(self) -> bool:
        if self._exec is not None:
            self._exec.end_of_input()
            return True  # half open: the command's output is still to come
        return False

    def pause_writing(self) -> None:
        if self._exec is not None:
            self._exec.pause_writing()

    def resume_writing(self) -> None:
        if self._exec is not None:
            self._exec.resume_writing()

    def data_received(self, data, datatype: object) -> None:
        if self._exec is not None:
            if datatype is None:
                self._exec.feed(data)
            return
        if self._input is not None:
            self._input.feed(data)

    def _input_failed(self, exc: BaseException) -> None:
        log.error("%s input failed, session closed", self.label, exc_info=exc)
        if self.interact_task is not None:
            self.interact_task.cancel()

    def session_started(self) -> None:
        # asyncssh delivers what the client sent with its shell request (keys typed during the
        # handshake, `printf 3 | ssh -tt`) right after this call: the input must exist already.
        chan = self._chan
        assert chan is not None
        # No terminal (`ssh -T`, a pipe) or one that draws nothing (TERM=dumb): the full-screen
        # application would only send escape sequences; the commands are offered instead.
        plain = chan.get_terminal_type() in (None, "dumb")
        # asyncssh calls this in the connection's context, shared by its channels: the
        # session's tasks, and the callbacks that feed it keys, run in a context of their own,
        # where _() speaks this session's language.
        self.language.set(i18n.from_environment(chan.get_environment()))
        context = contextvars.copy_context()
        context.run(i18n.enter, self.language)
        if self.execute is not None and (self._command is not None or plain):
            self._exec = ExecChannel(chan)
            self.interact_task = asyncio.get_running_loop().create_task(
                self._run_command(self._exec, self._command, self.execute), context=context
            )
            return
        self._input = ChannelInput(chan.pause_reading, chan.resume_reading, self._input_failed, context)
        context.run(super().session_started)

    async def _run_command(self, io: ExecChannel, command: str | None, execute: Execute) -> None:
        try:
            await run_exec(io, command, execute, self.label)
        finally:
            assert self._chan is not None
            self._chan.close()

    async def _interact(self) -> None:
        chan = self._chan
        assert chan is not None and self._input is not None
        # No cursor position requests: a client that never answers would make every screen wait.
        output = Vt100_Output(
            ChannelWriter(chan), self._get_size, term=chan.get_terminal_type(), enable_cpr=False
        )
        try:
            with create_app_session(input=self._input, output=output) as session:
                self.app_session = session
                await self.interact(self)
        finally:
            # The application ended (Quitter, a shutdown, an account closed): the client exits
            # 0, as after a shell's `exit`, rather than 255 for want of a status.
            with contextlib.suppress(asyncssh.Error, OSError):
                chan.exit(0)
            # prompt_toolkit keeps keys typed ahead per input in a module-level dict, and its
            # clear_typeahead() leaves the (empty) entry: one more for each session ever.
            typeahead._buffer.pop(self._input.typeahead_hash(), None)
            self._input.end()
            self.app_session = None
            # The input calls back into this session (its failure) and the channel: cut, so
            # that the ended session is freed without waiting for a full collection.
            self._input = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._exec is not None:
            self._exec.closed()
        # The client is gone: end its application (EOF on its input) instead of leaving it
        # waiting for keys that will never come.
        if self._input is not None:
            self._input.end()
