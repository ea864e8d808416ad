"""One command per exec request (`ssh host COMMAND`): stdin read with a bound, output streamed,
an exit status; no terminal needed and nothing drawn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncssh

from ..i18n import N_, _

log = logging.getLogger("support.sshd")

# What a command may read on stdin: room for the longest description, in UTF-8, and a little more.
STDIN_MAX = 20_000
# Bytes of a file on stdin (tickets attach) held at once before the channel stops reading.
STREAM_BUFFER = 512 * 1024

NO_INPUT = N_("Rien n'a été reçu sur l'entrée standard à temps : la commande est abandonnée.")
TOO_LONG = N_("Le texte reçu sur l'entrée standard est trop long.")
NOT_UTF8 = N_("Le texte reçu sur l'entrée standard n'est pas de l'UTF-8 valide.")
FAILED = N_("La commande n'a pas pu aboutir.")


class InputRefused(Exception):
    """Input refused; `final`: nothing more will be read (too long, timed out)."""

    def __init__(self, message: str, *, final: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.final = final


class ExecChannel:
    """The channel of an exec request, as a command sees it (server.commands.CommandIO)."""

    def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan
        # Bytes both ways: stdin is checked as UTF-8 here, not replaced on the way in.
        chan.set_encoding(None)
        self.is_tty = chan.get_terminal_type() is not None
        self._stdin = bytearray()
        # A file read as it comes (stream_stdin), not a text read whole.
        self._streaming = False
        self._paused = False
        # The client said its input ended (EOF), rather than the channel being lost.
        self._ended = False
        self._eof = asyncio.Event()
        self._data = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        # Seconds a command waits for the end of its stdin (0: no bound).
        self.stdin_timeout = 0.0
        # A terminal sends keys, not lines (TERM=dumb): `cooked` makes lines of them here, as a
        # terminal's own line discipline would, echoing what is typed unless `echo` is off.
        self.cooked = False
        self.echo = True
        self._line = bytearray()
        self._after_cr = False
        self._escape = False

    # Called by the session --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.cooked:
            data = self._cook(data)
            if not data:
                return
        self._stdin += data
        self._data.set()
        # Beyond what a text may hold (or, for a file, beyond one buffer's worth) the channel
        # stops reading: the client waits, and memory holds at most that much per command.
        bound = STREAM_BUFFER if self._streaming else STDIN_MAX
        if len(self._stdin) > bound and not self._paused:
            self._paused = True
            with contextlib.suppress(asyncssh.Error, OSError):
                self._chan.pause_reading()

    def _cook(self, keys: bytes) -> bytes:
        """Lines out of keys: Enter ends one, Backspace erases a character, Ctrl-C types `.`
        (cancel), Ctrl-D on an empty line ends the input; escape sequences (arrows) and other
        control keys are dropped. What is kept is echoed."""
        lines, echo = bytearray(), bytearray()
        for key in keys:
            if self._escape:
                # ESC [ … final byte, or ESC and one key.
                self._escape = key == 0x5B or not 0x40 <= key <= 0x7E
                continue
            if key == 0x0A and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = key == 0x0D
            if key in (0x0D, 0x0A):
                lines += self._line + b"\n"
                echo += b"\r\n"
                self._line.clear()
            elif key in (0x7F, 0x08):
                if self._line:
                    at = len(self._line) - 1
                    while at > 0 and self._line[at] & 0xC0 == 0x80:
                        at -= 1
                    del self._line[at:]
                    echo += b"\b \b" if self.echo else b""
            elif key == 0x03:
                lines += b".\n"
                echo += b"^C\r\n"
                self._line.clear()
            elif key == 0x04 and not self._line:
                self.end_of_input()
            elif key == 0x1B:
                self._escape = True
            elif key >= 0x20 and len(self._line) <= STDIN_MAX:
                self._line.append(key)
                if self.echo:
                    echo.append(key)
        if echo:
            with contextlib.suppress(BrokenPipeError, asyncssh.Error):
                self._chan.write(bytes(echo))
        return bytes(lines)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            with contextlib.suppress(asyncssh.Error, OSError):
                self._chan.resume_reading()

    @property
    def _too_long(self) -> bool:
        """A text's input over its bound, with no line end to take it piece by piece."""
        return not self._streaming and len(self._stdin) > STDIN_MAX and b"\n" not in self._stdin

    def end_of_input(self) -> None:
        self._ended = True
        self._eof.set()
        self._data.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def closed(self) -> None:
        self._eof.set()
        self._data.set()
        self._writable.set()

    # For the command --------------------------------------------------------------------

    def _send(self, text: str, stderr: bool = False) -> None:
        if self.is_tty:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        with contextlib.suppress(BrokenPipeError, asyncssh.Error):
            if stderr:
                self._chan.write_stderr(data)
            else:
                self._chan.write(data)

    def out(self, text: str) -> None:
        self._send(text)

    def error(self, sentence: str) -> None:
        self._send(sentence + "\n", stderr=True)

    async def drain(self) -> None:
        await self._writable.wait()
        if self._chan.is_closing():
            raise ConnectionError("channel closed")

    async def read_stdin(self) -> str:
        try:
            async with asyncio.timeout(self.stdin_timeout or None):
                while not self._eof.is_set() and not self._paused:
                    self._data.clear()
                    await self._data.wait()
        except TimeoutError:
            raise InputRefused(_(NO_INPUT)) from None
        if len(self._stdin) > STDIN_MAX:
            raise InputRefused(_(TOO_LONG))
        try:
            return bytes(self._stdin).decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused(_(NOT_UTF8)) from None

    async def read_line(self) -> str | None:
        """The next line of input without its end; None once input has ended (line mode)."""
        try:
            async with asyncio.timeout(self.stdin_timeout or None):
                while True:
                    if self._too_long:
                        raise InputRefused(_(TOO_LONG))
                    at = self._stdin.find(b"\n")
                    if at >= 0:
                        raw = bytes(self._stdin[:at])
                        del self._stdin[: at + 1]
                        if len(self._stdin) <= STDIN_MAX:
                            self._resume()
                        break
                    if self._eof.is_set():
                        if not self._stdin:
                            return None
                        raw = bytes(self._stdin)
                        self._stdin.clear()
                        break
                    self._data.clear()
                    await self._data.wait()
        except TimeoutError:
            raise InputRefused(_(NO_INPUT)) from None
        try:
            return raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            raise InputRefused(_(NOT_UTF8), final=False) from None

    async def stream_stdin(self) -> AsyncIterator[bytes]:
        """Stdin as it arrives, in pieces of at most STREAM_BUFFER bytes and a packet, until its
        end; never held whole. Called before the first await, nothing sent early is lost."""
        self._streaming = True
        self._resume()
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self.stdin_timeout or None):
                    while not self._stdin and not self._eof.is_set():
                        self._data.clear()
                        await self._data.wait()
            except TimeoutError:
                raise InputRefused(_(NO_INPUT)) from None
            if not self._stdin:
                if not self._ended:
                    raise ConnectionError("channel closed before the end of input")
                return
            piece, self._stdin = bytes(self._stdin), bytearray()
            self._resume()
            yield piece

    def exit(self, status: int) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._chan.exit(status)


# (the exec channel, the command line or None for a shell without a terminal) -> exit status
Execute = Callable[[ExecChannel, str | None], Awaitable[int]]


async def run_exec(io: ExecChannel, command: str | None, execute: Execute, label: str) -> None:
    """Run `command`, then close the channel with its exit status."""
    status = 1
    try:
        status = await execute(io, command)
    except InputRefused as exc:
        io.error(exc.message)
    except asyncio.CancelledError:
        log.info("%s command cancelled", label)
        raise
    except ConnectionError:
        log.info("%s command ended: client gone", label)
    except Exception:
        log.exception("%s command failed", label)
        io.error(_(FAILED))
    finally:
        io.exit(status)
