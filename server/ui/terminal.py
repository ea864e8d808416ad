"""One prompt_toolkit application per connection; screens are swapped inside it without flicker.

Its text is drawn with ui/text.py's SafeTextControl, the one control that puts text on screen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from prompt_toolkit import print_formatted_text
from prompt_toolkit.application import Application
from prompt_toolkit.application.current import get_app
from prompt_toolkit.data_structures import Point
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import DynamicKeyBindings, KeyBindings
from prompt_toolkit.layout import (
    ConditionalContainer,
    D,
    Layout,
    Window,
)
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import get_cwidth

from ..domain.text import safe_text
from .text import SafeTextControl, fit, wrap
from .toolkit import NO_KEYS, Rows, SessionApplication, dismantle, empty

APP_NAME = "Support Tickets"
# Live notices kept on screen at once.
LIVE_NOTICES = 2

STYLE = Style.from_dict(
    {
        "header": "reverse bold",
        "banner": "bg:ansiyellow fg:ansiblack bold",
        "live": "bg:ansicyan fg:ansiblack bold",
        "label": "bold",
        "selected": "reverse",
        "notice": "fg:ansigreen bold",
        "error": "fg:ansired bold",
        "hint": "fg:ansibrightblack",
        "dim": "fg:ansibrightblack",
        "field": "underline",
    }
)


class Screen:
    """What is on screen now: its keys, its layout, and the future its answer goes to."""

    def __init__(self) -> None:
        self.key_bindings = KeyBindings()
        self.container: Any = None
        self.focus: Any = None
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()
        # Called when what the screen shows may have changed elsewhere (a list reloads).
        self.refresh: Callable[[], None] | None = None
        # Whether a key has been pressed since it was shown: what the last action said then
        # goes from its notice line (the user has moved on).
        self.touched = False

    def finish(self, value: Any) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def dismantle(self, keep: Any = None) -> None:
        """Break the screen's reference cycles once it is off screen for good (`keep`: the
        container that replaces it, whose parts are left alone).

        A screen's parts refer to one another (a window and its last render's information,
        key handlers and the screen that holds them, a field's buffer and its events): cycles
        that only a walk of every object would free, and the collection policy (collector.py)
        walks objects once only. Cut here, the screen is freed by its last reference going.
        """
        if self.container is not None:
            dismantle(self.container, keep)
        self.key_bindings = NO_KEYS
        self.container = self.focus = self.refresh = None


class Terminal:
    """The console of one connection: a header, the current screen, a banner for broadcasts."""

    def __init__(self, on_screen_replaced: Callable[[Screen], None] | None = None) -> None:
        self.screen: Screen | None = None
        # Told when a screen gives way to another (the collection policy counts them).
        self.on_screen_replaced = on_screen_replaced
        self.who = ""
        self.banner = ""
        # Live notices (« Votre ticket #12 est passé à En cours »), newest last.
        self.notices: list[str] = []
        self.app: Application = SessionApplication(
            layout=Layout(Window()),
            key_bindings=DynamicKeyBindings(lambda: self.screen.key_bindings if self.screen else None),
            style=STYLE,
            full_screen=True,
            mouse_support=False,
            erase_when_done=True,
            # The SSH client reports resizes (terminal_size_changed): asking the size twice a
            # second would wake every session for nothing, 10,000 times a second at 5,000.
            terminal_size_polling_interval=None,
            # Drawn in turn with the other sessions' work: postponing a redraw "until the loop is
            # idle" re-queues it through the loop's wake-up pipe again and again on a busy server.
            max_render_postpone_time=None,
        )
        # A lone Esc is told apart from Esc-prefixed keys after this delay (seconds).
        self.app.ttimeoutlen = 0.05
        self.app.timeoutlen = 0.5
        self.app.key_processor.before_key_press += self._key_pressed

    def _key_pressed(self, _processor: Any) -> None:
        if self.screen is not None:
            self.screen.touched = True

    # Lifecycle -----------------------------------------------------------------------------

    async def run(self, flow: Callable[[Terminal], Awaitable[None]]) -> None:
        """Run the application and `flow` together; whichever ends first ends the other."""
        # Many applications share this process's event loop: none may take over SIGINT (the
        # server's own stop signal) or the loop's exception handler.
        app_task = asyncio.ensure_future(self.app.run_async(handle_sigint=False, set_exception_handler=False))
        flow_task = asyncio.ensure_future(flow(self))
        try:
            await asyncio.wait({app_task, flow_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not flow_task.done():
                flow_task.cancel()
            self.close()
            await asyncio.gather(app_task, flow_task, return_exceptions=True)
            if self.banner:
                # The full-screen view is gone: leave the announcement in the terminal's scrollback.
                print_formatted_text(safe_text(self.banner))
            self._dismantle(app_task)
        if flow_task.done() and not flow_task.cancelled() and flow_task.exception():
            raise flow_task.exception()  # type: ignore[misc]

    def _dismantle(self, app_task: asyncio.Future) -> None:
        """Break the cycles of the ended application and its screen, so that the session's
        objects are freed with its last reference instead of waiting for a full collection."""
        if not app_task.cancelled() and app_task.exception() is not None:
            # The end of input (EOFError) holds the frames that hold the application.
            app_task.exception().__traceback__ = None
        if self.screen is not None:
            self.screen.dismantle()
        app = self.app
        key_processor = app.key_processor
        # Its pending flush task holds the processor, which holds the task.
        key_processor._flush_wait_task = None
        for part in (key_processor, app.renderer, app.layout, app._no_buffer, app):
            empty(part)
        # What `close`, `announce` and a late screen refresh still ask of it.
        app._is_running = False
        app.future = None

    def close(self) -> None:
        """End the application; `run` then returns and the channel closes."""
        if self.app.is_running and not self.app.future.done():
            self.app.exit()

    def announce(self, text: str) -> None:
        """Show a line above every screen (server shutdown, for instance)."""
        self.banner = text
        self.app.invalidate()

    def notify(self, text: str) -> None:
        """Show a notice above the current screen at once, without waiting for a key."""
        # The two newest are enough: older news is in the lists and the tickets' history. The
        # same news again (four replies on one ticket) is one line, not two identical ones.
        self.notices = [*(n for n in self.notices if n != text), text][-LIVE_NOTICES:]
        self.app.invalidate()

    def refresh(self) -> None:
        """Tell the current screen that what it shows may have changed."""
        if self.screen is not None and self.screen.refresh is not None:
            self.screen.refresh()

    async def show(self, screen: Screen) -> Any:
        # Moving on to another screen is the sign the notices were read.
        self.notices = []
        previous, self.screen = self.screen, screen
        drawn, self.app.layout = self.app.layout, Layout(screen.container, focused_element=screen.focus)
        if previous is not screen:
            if previous is not None:
                previous.dismantle(keep=screen.container)
                if self.on_screen_replaced is not None:
                    self.on_screen_replaced(previous)
            else:
                dismantle(drawn.container)  # the empty layout drawn before the first screen
        self.app.invalidate()
        return await screen.future

    # Frame ---------------------------------------------------------------------------------

    def frame(
        self,
        title: str,
        body: list,
        notice: str | Callable[[], str],
        hints: str | Callable[[], str],
        error: bool | Callable[[], bool],
    ) -> Rows:
        """Header, banner, the screen's own parts, the notice line and the key hints."""

        def header() -> StyleAndTextTuples:
            width = screen_width()
            right = fit(self.who, min(get_cwidth(self.who), width // 2)) + " " if self.who else ""
            left = fit(f" {APP_NAME} · {title}", width - get_cwidth(right))
            return [("class:header", left + right)]

        def notice_line() -> StyleAndTextTuples:
            text = notice() if callable(notice) else notice
            style = "class:error" if (error() if callable(error) else error) else "class:notice"
            return _paragraph(text, style)

        return Rows(
            [
                Window(SafeTextControl(header), height=1),
                ConditionalContainer(
                    Window(
                        SafeTextControl(lambda: _paragraph(self.banner, "class:banner")),
                        height=D(min=1, max=2),
                        dont_extend_height=True,
                    ),
                    filter=Condition(lambda: bool(self.banner)),
                ),
                ConditionalContainer(
                    Window(
                        SafeTextControl(
                            lambda: [
                                fragment
                                for text in self.notices
                                for fragment in [*_paragraph(text, "class:live"), ("", "\n")]
                            ][:-1]
                        ),
                        height=D(min=1, max=2 * LIVE_NOTICES),
                        dont_extend_height=True,
                    ),
                    filter=Condition(lambda: bool(self.notices)),
                ),
                Window(height=1),
                *body,
                Window(
                    SafeTextControl(notice_line),
                    height=D(min=1, max=3),
                    dont_extend_height=True,
                ),
                Window(
                    SafeTextControl(lambda: [("class:hint", " " + (hints() if callable(hints) else hints))]),
                    height=1,
                ),
            ]
        )


def screen_width() -> int:
    """Width of the terminal of the connection being served."""
    return get_app().output.get_size().columns


def screen_height() -> int:
    """Height of the terminal of the connection being served."""
    return get_app().output.get_size().rows


def _paragraph(text: str, style: str) -> StyleAndTextTuples:
    """A sentence cut between words to the screen's width, so that it reads whole."""
    if not text:
        return []
    lines = wrap(text, screen_width() - 2, multiline=False)
    return [(style, "\n".join(" " + line for line in lines))]


class ScrollableText:
    """A read-only body, as tall as its text or the room left; PageUp/PageDown scroll it,
    Home and End go to its first and last lines."""

    def __init__(self, build: Callable[[int], list[StyleAndTextTuples]], *, at_end: bool = False) -> None:
        # `build(width)` returns one list of fragments per line, each fitting `width`.
        self.build = build
        self.top = 0
        self._count = 0
        # Showing the last lines (the newest of a conversation) until the user scrolls.
        self._at_end = at_end
        # The reader has moved through the text: news does not take them away from their place.
        self._scrolled = False
        # The window keeps the "cursor" visible: pointing it at `top` scrolls there.
        control = SafeTextControl(self._content, get_cursor_position=self._cursor, show_cursor=False)
        self.window = Window(control, wrap_lines=False, dont_extend_height=True)

    def _cursor(self) -> Point:
        # At the end, the last line is pointed at: the window scrolls until it shows at the
        # bottom, whatever height the layout gives it.
        return Point(0, max(0, self._count - 1) if self._at_end else self.top)

    def _content(self) -> StyleAndTextTuples:
        lines = self.build(screen_width() - 2)
        self._count = len(lines)
        if self._at_end:
            self.top = self._count
        self.top = max(0, min(self.top, self._count - self._height()))
        out: StyleAndTextTuples = []
        for line in lines:
            out += [("", " "), *line, ("", "\n")]
        return out[:-1]

    def _height(self) -> int:
        info = self.window.render_info
        return info.window_height if info else 1

    def more_below(self) -> bool:
        return self.top + self._height() < self._count

    def show_news(self) -> None:
        """Something was added at the end: show it, unless the reader is elsewhere."""
        if not self._scrolled:
            self._at_end = True

    def _moved(self, pages: int) -> None:
        self._scrolled = True
        self.scroll(pages)

    def _to_end(self) -> None:
        # At the end, the reader follows what comes, as if they had not scrolled.
        self._scrolled = False
        self._at_end = True

    def scroll(self, pages: int) -> None:
        if self._at_end:
            self._at_end = False
            info = self.window.render_info
            self.top = info.vertical_scroll if info else self.top
        height = self._height()
        self.top = max(0, min(self.top + pages * max(1, height - 1), self._count - height))
        self.window.vertical_scroll = self.top

    def bind(self, kb: KeyBindings) -> None:
        kb.add("pagedown")(lambda e: self._moved(1))
        kb.add("pageup")(lambda e: self._moved(-1))
        kb.add("end")(lambda e: self._to_end())
        kb.add("home")(lambda e: self._moved(-self._count))
