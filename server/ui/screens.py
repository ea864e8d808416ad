"""The shared screens: numbered menu, one form field, confirmation (the table is ui/table.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.data_structures import Point
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import D, VSplit, Window
from prompt_toolkit.utils import get_cwidth
from prompt_toolkit.widgets import TextArea

from ..i18n import N_, _
from . import linemode
from .linemode import LineTerminal
from .terminal import Screen, ScrollableText, Terminal, screen_height, screen_width
from .text import SafeTextControl, VisibleInput, fit, one_line, wrap

log = logging.getLogger("support.ui")

# What is new since the user last saw it: a table's row (in the margin it leaves at its right,
# see `columns.row_width`) or a ticket's history entry.
UNREAD = "•"

Lines = Callable[[int], list[StyleAndTextTuples]]

# What a menu's frame takes besides its head, body and entries: header, notice, blank lines
# around the entries and the key hints.
FRAME_LINES = 6


@dataclass
class MenuState:
    selected: int = 0


@dataclass
class RefreshState:
    """A screen's refresh: the run under way, and whether news came in during it."""

    task: asyncio.Future | None = None
    again: bool = False


@dataclass
class Said:
    """The notice line of a form, which the field itself may change (a paste refused)."""

    text: str = ""
    error: bool = False


async def menu(
    term: Terminal,
    title: str,
    items: Sequence[tuple[Any, str]] | Callable[[], Sequence[tuple[Any, str]]],
    *,
    body: Lines | None = None,
    body_at_end: bool = False,
    head: Lines | None = None,
    back_label: str | None = N_("Retour"),
    back_hint: str | None = None,
    notice: str = "",
    error: bool = False,
    refresh: Callable[[], Awaitable[bool | None]] | None = None,
    start: int = 0,
) -> Any:
    """A numbered menu: a digit picks at once, arrows and Enter too; 0 or Esc returns None.
    The entry at index `start` is the one selected first.

    `body` is shown above it, scrollable; from its last lines if `body_at_end`; `head` above
    the body, never scrolled away. With `refresh`, news about what the body shows runs it,
    then the body is drawn again; when it returns True (something was added at the end), the
    body shows its end unless the reader has scrolled. `items` may then be a function, so
    that the entries follow the news too.
    """
    back_label = _(back_label) if back_label else back_label
    if isinstance(term, LineTerminal):
        return await linemode.menu(
            term, title, items, body=body, head=head, back_label=back_label, notice=notice, error=error
        )
    screen = Screen()
    kb = screen.key_bindings
    state = MenuState(selected=start)
    current = items if callable(items) else lambda: items

    def cells() -> list[str]:
        out = [f" {i + 1}. {one_line(label)} " for i, (_value, label) in enumerate(current())]
        return [*out, f" 0. {back_label} "] if back_label else out

    def rows() -> int:
        # Under a body (a ticket's timeline) that one column would leave without room, a long
        # menu takes two columns when they fit: at 24 lines the body keeps the room to be read.
        shown = cells()
        if body is None or len(shown) <= 4:
            return len(shown)
        width = screen_width() - 2
        above = len(body(width)) + (len(head(width)) if head is not None else 0)
        if above + len(shown) + FRAME_LINES <= screen_height():
            return len(shown)
        widest = max(get_cwidth(cell) for cell in shown)
        return -(-len(shown) // 2) if 2 * (widest + 2) <= width else len(shown)

    def lines() -> StyleAndTextTuples:
        shown, height = cells(), rows()
        widest = max((get_cwidth(cell) for cell in shown), default=0)
        out: StyleAndTextTuples = []
        for row in range(height):
            for i in range(row, len(shown), height):
                style = "class:selected" if i == state.selected else ""
                pad = " " * (widest - get_cwidth(shown[i])) if i + height < len(shown) else ""
                out += [("", "  "), (style, shown[i]), ("", pad)]
            out.append(("", "\n"))
        return out[:-1]

    def cursor() -> Point:
        height = max(1, rows())
        column = state.selected // height
        widest = max((get_cwidth(cell) for cell in cells()), default=0)
        return Point(column * (widest + 2), state.selected % height)

    def pick(index: int) -> None:
        entries = current()
        if 0 <= index < len(entries):
            screen.finish(entries[index][0])

    for n in range(1, 10):
        kb.add(str(n))(lambda e, n=n: pick(n - 1))
    kb.add("0")(lambda e: screen.finish(None))
    kb.add("escape", eager=True)(lambda e: screen.finish(None))
    kb.add("c-c")(lambda e: screen.finish(None))

    @kb.add("enter")
    def _enter(event) -> None:
        if current():
            pick(min(state.selected, len(current()) - 1))
        else:
            screen.finish(None)

    @kb.add("down")
    def _down(event) -> None:
        state.selected = (state.selected + 1) % max(1, len(current()))

    @kb.add("up")
    def _up(event) -> None:
        state.selected = (state.selected - 1) % max(1, len(current()))

    @kb.add("right")
    def _right(event) -> None:
        if state.selected + rows() < len(current()):
            state.selected += rows()

    @kb.add("left")
    def _left(event) -> None:
        if state.selected - rows() >= 0:
            state.selected -= rows()

    parts = []
    back_hint = back_hint or (back_label or _("Retour")).lower()
    base_hints = _("Chiffre ou ↑↓ Entrée : choisir · 0/Échap : {back}").format(back=back_hint)
    hints: str | Callable[[], str] = base_hints
    if head is not None:

        def head_lines() -> StyleAndTextTuples:
            out: StyleAndTextTuples = []
            for line in head(screen_width() - 2):
                out += [("", " "), *line, ("", "\n")]
            return out[:-1]

        parts.append(Window(SafeTextControl(head_lines), wrap_lines=False, dont_extend_height=True))
    scroller: ScrollableText | None = None
    if body is not None:
        scroller = ScrollableText(body, at_end=body_at_end)
        scroller.bind(kb)
        parts += [scroller.window, Window(height=1)]

        def hints() -> str:
            if scroller.top or scroller.more_below():
                return base_hints + _(" · PgPréc/PgSuiv : défiler")
            return base_hints

    def height() -> D:
        # Shrinkable: a long menu (20 keys, many admins) scrolls with its selection instead of
        # leaving no room to draw.
        entries = rows()
        return D(min=min(entries, 3), preferred=entries, max=entries)

    entries_control = SafeTextControl(lines, get_cursor_position=cursor)
    parts.append(Window(entries_control, height=height))
    parts.append(Window())  # keeps the notice and the hints at the bottom
    if refresh is not None:

        async def news() -> None:
            if await refresh() and scroller is not None:
                scroller.show_news()

        screen.refresh = refresher(term, screen, news)

    def said() -> str:
        # What the last action said, until the next key.
        if screen.touched:
            return ""
        return notice() if callable(notice) else notice

    screen.container = term.frame(title, parts, said, hints, error)
    return await term.show(screen)


def refresher(term: Terminal, screen: Screen, work: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """A `Screen.refresh` that runs `work` (fetch what the screen shows again), then redraws.

    Changes arriving while it runs are folded into one more run after it; a failure leaves the
    screen as it was, and the next change or visit tries again.
    """
    state = RefreshState()

    async def run() -> None:
        while True:
            state.again = False
            try:
                await work()
            except Exception as exc:
                log.warning("screen not refreshed: %s", type(exc).__name__)
                return
            if screen.future.done():
                return
            term.app.invalidate()
            if not state.again:
                return

    def refresh() -> None:
        if screen.future.done():
            return
        if state.task is not None and not state.task.done():
            state.again = True
            return
        state.task = asyncio.ensure_future(run())

    return refresh


@dataclass(frozen=True)
class FieldLeft:
    """A field left by its `extra_key`: the text typed so far and the cursor's place in it."""

    text: str
    cursor: int


async def ask(
    term: Terminal,
    title: str,
    label: str,
    *,
    previous: Sequence[tuple[str, str]] = (),
    password: bool = False,
    multiline: bool = False,
    default: str = "",
    help_text: str = "",
    max_chars: int = 254,
    warning: str = "",
    notice: str = "",
    error: bool = False,
    extra_key: tuple[str, str] | None = None,
) -> str | FieldLeft | None:
    """One form field under the ones already filled; None if the user cancels with Esc.

    `warning` is shown in red just above the field it is about (what typing it will do).
    `extra_key` (a key, its hint): that key leaves the field with a FieldLeft holding what was
    typed and where the cursor was, for the caller to open another screen and come back.

    The field holds at most twice `max_chars` (1,000 at least): enough for the rule behind it
    to say how much is too much, while a huge paste is refused at once instead of being drawn.
    """
    if isinstance(term, LineTerminal):
        return await linemode.ask(
            term,
            title,
            label,
            previous=previous,
            password=password,
            multiline=multiline,
            default=default,
            help_text=help_text,
            warning=warning,
            notice=notice,
            error=error,
        )
    screen = Screen()
    kb = screen.key_bindings
    capacity = max(1000, 2 * max_chars)
    said = Said(notice, error)
    area = TextArea(
        text=default,
        multiline=multiline,
        password=password,
        wrap_lines=True,
        focus_on_click=False,
        height=D(min=3, preferred=8) if multiline else 1,
        style="class:field",
        input_processors=[VisibleInput()],
    )
    # A value given back for correction is continued where it ends, as in any text field.
    area.buffer.cursor_position = len(default)

    if multiline:
        # Enter adds a line; Ctrl-D or Esc then Enter ends the field; Esc alone cancels.
        kb.add("c-d")(lambda e: screen.finish(area.text))
        kb.add("escape", "enter")(lambda e: screen.finish(area.text))
        kb.add("escape")(lambda e: screen.finish(None))
        hints = _("Entrée : nouvelle ligne · Ctrl-D ou Échap Entrée : terminer · Échap : annuler")
    else:
        kb.add("enter")(lambda e: screen.finish(area.text))
        kb.add("escape", eager=True)(lambda e: screen.finish(None))
        hints = _("Entrée : valider · Échap : annuler")
    if extra_key is not None:
        kb.add(extra_key[0])(lambda e: screen.finish(FieldLeft(area.text, area.buffer.cursor_position)))
    kb.add("c-c")(lambda e: screen.finish(None))
    # Ctrl-Space (a NUL byte) would start an Emacs selection, in which typing is silently dropped.
    kb.add("c-@")(lambda e: None)

    def insert(event, data: str, pasted: bool) -> None:
        buffer = event.current_buffer
        if len(buffer.text) + len(data) > capacity:
            message = (
                _("Texte collé trop long ({n} caractères, {max} au plus) : il n'a pas été inséré.")
                if pasted
                else _("Limite atteinte : {max} caractères au plus.")
            )
            said.text, said.error = message.format(n=len(data), max=max_chars), True
            return
        buffer.insert_text(data)

    @kb.add(Keys.BracketedPaste)
    def _paste(event) -> None:
        insert(event, event.data.replace("\r\n", "\n").replace("\r", "\n"), pasted=True)

    @kb.add(Keys.Any)
    def _type(event) -> None:
        insert(event, event.data * event.arg, pasted=False)

    def filled() -> StyleAndTextTuples:
        out: StyleAndTextTuples = []
        width = screen_width() - 4
        for name, value in previous:
            shown = fit(value, width - len(name) - 3).rstrip() if value else ""
            # French puts a space before the colon, English none: the translation says.
            out += [("class:label", " " + _("{label} : ").format(label=name)), ("", shown), ("", "\n")]
        out += [("class:error", f" {line}\n") for line in warning_lines()]
        out += [("class:label", " " + _("{label} :").format(label=label))]
        if help_text:
            out += [("class:dim", f"  {help_text}")]
        if extra_key is not None:
            # Its own line: the hints at the bottom already fill 80 columns.
            out += [("", "\n"), ("class:label", f" {extra_key[1]}")]
        return out

    def warning_lines() -> list[str]:
        return wrap(warning, screen_width() - 2, multiline=False) if warning else []

    extra = 1 if extra_key is not None else 0
    filled_height = lambda: len(previous) + 1 + extra + len(warning_lines())  # noqa: E731
    parts = [Window(SafeTextControl(filled), height=filled_height, wrap_lines=True)]
    parts += [VSplit([Window(width=1), area]), Window()]
    screen.container = term.frame(title, parts, lambda: said.text, hints, lambda: said.error)
    screen.focus = area
    return await term.show(screen)


async def confirm(term: Terminal, title: str, text: str) -> bool:
    """`Confirmer ? (o/n)`: `o` (or `y`, as the English screen says) confirms, any other key
    cancels."""
    if isinstance(term, LineTerminal):
        return await linemode.confirm(term, title, text)
    screen = Screen()
    kb = screen.key_bindings

    @kb.add("<any>")
    def _any(event) -> None:
        screen.finish(event.data.lower() in ("o", "y"))

    body = ScrollableText(lambda width: [[("", line)] for line in wrap(text, width)])
    prompt = Window(SafeTextControl([("class:label", " " + _("Confirmer ? (o/n)") + " ")]), height=1)
    hints = _("o : confirmer · toute autre touche : annuler")
    parts = [body.window, Window(height=1), prompt, Window()]
    screen.container = term.frame(title, parts, "", hints, False)
    return await term.show(screen)
