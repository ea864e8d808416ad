"""The keys of one SSH channel, handed to its prompt_toolkit application without a pipe.

prompt_toolkit's own inputs read a file descriptor: a pipe per session costs two descriptors,
and its reader calls `select()`, which fails on numbers above 1023 (upstream issue #1702) and
then spins in the event loop. Here the channel's text goes straight to the VT100 parser, in
the event loop's own turn; the channel stops reading while the application is behind, so SSH
flow control slows a fast client instead of growing a buffer in the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
from collections.abc import Callable, Iterator

from prompt_toolkit.input import Input
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding import KeyPress

log = logging.getLogger("support.input")

# Characters parsed in one turn of the event loop: a large paste is parsed in slices, so that
# other sessions' keys are served between them (prompt_toolkit's own reader takes 1,024 bytes).
SLICE = 4096
# Characters waiting to be parsed beyond which the channel stops reading, and below which it
# reads again.
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
# Characters of one bracketed paste beyond which the session ends (no field takes a
# hundredth of it; the forms refuse long pastes with their own sentence well below).
MAX_PASTE = 4 * 1024 * 1024

_ids = itertools.count(1)


class PasteTooLong(Exception):
    """A bracketed paste that goes on past MAX_PASTE: hostile, or a terminal gone astray."""


class ChannelInput(Input):
    """Text fed by the channel (`feed`, `end`), read as keys by the running application.

    `pause` and `resume` stop and restart the channel's reading; `failed` is called once when
    the application's input callback raises, and must end the session: calling the callback
    again would only raise again.
    """

    def __init__(
        self,
        pause: Callable[[], None],
        resume: Callable[[], None],
        failed: Callable[[BaseException], None],
        context: contextvars.Context | None = None,
    ) -> None:
        self._pause = pause
        # The session's context: the application's key handlers run in it (its language).
        self._context = context
        self._resume = resume
        self._failed = failed
        self._text = ""
        self._keys: list[KeyPress] = []
        self._parser = Vt100Parser(self._keys.append)
        # The callbacks of the applications attached, innermost last; None while detached.
        self._callbacks: list[Callable[[], None] | None] = []
        self._scheduled: asyncio.Handle | None = None
        self._eof = False
        self._paused = False
        self._broken = False
        self._read = False
        self._id = next(_ids)

    # Fed by the channel -------------------------------------------------------------------

    def feed(self, text: str) -> None:
        if self._eof or self._broken:
            return
        self._text += text
        if not self._paused and len(self._text) > HIGH_WATER:
            self._paused = True
            self._pause()
        self._schedule()

    def end(self) -> None:
        """The client is gone: once what it sent is read, the application gets EOF."""
        self._eof = True
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled is None and self._callbacks and self._callbacks[-1] is not None:
            self._scheduled = asyncio.get_running_loop().call_soon(self._ready, context=self._context)

    def _ready(self) -> None:
        self._scheduled = None
        callback = self._callbacks[-1] if self._callbacks else None
        if callback is None or self._broken:
            return
        self._read = False
        try:
            callback()
        except Exception as exc:
            # One session's error ends that session, and is not retried in a loop.
            self._broken = True
            self._text = ""
            self._failed(exc)
            return
        # Still more to parse (a large paste): another turn, after the other sessions' keys.
        # Only if the application read: one that is not running leaves the text for the next.
        if self._read and (self._text or self._eof):
            self._schedule()

    # Read by the application --------------------------------------------------------------

    def read_keys(self) -> list[KeyPress]:
        self._read = True
        chunk, self._text = self._text[:SLICE], self._text[SLICE:]
        if chunk:
            self._parser.feed(chunk)
            # A bracketed paste is held by the parser until its end mark, and scanned whole
            # at every slice: one that never ends would grow without bound, slower each time.
            if len(getattr(self._parser, "_paste_buffer", "")) > MAX_PASTE:
                raise PasteTooLong(f"a paste of more than {MAX_PASTE} characters without its end")
        if self._paused and len(self._text) < LOW_WATER:
            self._paused = False
            self._resume()
        return self._take()

    def flush_keys(self) -> list[KeyPress]:
        # A lone Esc, told apart from an escape sequence once nothing followed it.
        self._parser.flush()
        return self._take()

    def _take(self) -> list[KeyPress]:
        keys = self._keys[:]
        self._keys.clear()
        return keys

    @property
    def closed(self) -> bool:
        return self._broken or (self._eof and not self._text)

    def attach(self, input_ready_callback: Callable[[], None]) -> contextlib.AbstractContextManager[None]:
        return self._pushed(input_ready_callback)

    def detach(self) -> contextlib.AbstractContextManager[None]:
        return self._pushed(None)

    @contextlib.contextmanager
    def _pushed(self, callback: Callable[[], None] | None) -> Iterator[None]:
        self._callbacks.append(callback)
        # Text that arrived between two applications (or EOF) is for this one.
        if self._text or self._eof:
            self._schedule()
        try:
            yield
        finally:
            self._callbacks.remove(callback)
            if self._scheduled is not None and not (self._callbacks and self._callbacks[-1]):
                self._scheduled.cancel()
                self._scheduled = None
            elif self._text or self._eof:
                self._schedule()

    def close(self) -> None:
        self.end()

    def raw_mode(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def cooked_mode(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def fileno(self) -> int:
        raise NotImplementedError("a channel input has no file descriptor")

    def typeahead_hash(self) -> str:
        return f"channel-input-{self._id}"
