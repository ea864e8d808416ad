"""A ticket table shown one page at a time, sized to the terminal, with keys to filter and sort."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence

from prompt_toolkit.data_structures import Point
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import D, Window

from ..i18n import _
from .columns import Spec, header_text, row_text
from .screens import UNREAD, Rows, bind_number_keys, reloader
from .terminal import SafeTextControl, Screen, Terminal, fit, one_line, screen_width

# Lines around the rows: the frame's header, gap, notice and hints; the two summary lines,
# the column titles, the gap and the number prompt; one spare for a notice on two lines.
CHROME_LINES = 10


class PagerAction(enum.Enum):
    OPEN = "open"
    NEXT = "next"
    PREVIOUS = "previous"
    FILTER = "filter"
    SORT = "sort"
    # The terminal changed height: the page must be fetched again at its new size.
    RESIZED = "resized"


def page_size(term: Terminal) -> int:
    """How many tickets one page shows in this terminal."""
    return max(3, term.app.output.get_size().rows - CHROME_LINES)


async def ticket_pager(
    term: Terminal,
    title: str,
    summary: Sequence[str],
    columns: Sequence[Spec],
    rows: Sequence[tuple[int, Sequence[str]]],
    *,
    size: int,
    empty: str,
    notice: str = "",
    error: bool = False,
    reload: Callable[[], Awaitable[Rows]] | None = None,
    marked: Callable[[int], bool] | None = None,
) -> tuple[PagerAction, int | None] | None:
    """One page: a typed number and Enter (or ↑↓ Enter) opens a ticket; None when leaving.

    `size` is the page size the rows were fetched for; if the terminal's height changes, the
    screen answers RESIZED so that the caller fetches the page again. With `reload`, the page
    is fetched again in place when the terminal is told of a change (`summary` may be a list
    the reload updates); tickets `marked` are bold with a `•`, as in `ticket_table`.
    """
    rows = list(rows)
    screen = Screen()
    kb = screen.key_bindings
    selected = [0]
    typed = [""]

    def summary_lines() -> StyleAndTextTuples:
        width = screen_width() - 2
        out: StyleAndTextTuples = []
        for i, line in enumerate(summary):
            out += [("class:label" if i else "", " " + fit(line, width).rstrip()), ("", "\n")]
        return out[:-1]

    def table_lines() -> StyleAndTextTuples:
        if page_size(term) != size:
            screen.finish((PagerAction.RESIZED, None))
        out: StyleAndTextTuples = [("class:label", " " + header_text(columns))]
        if not rows:
            return [*out, ("", "\n"), ("class:dim", " " + one_line(empty))]
        for i, (ticket_id, cells) in enumerate(rows[:size]):
            style = "class:selected" if i == selected[0] else ""
            mark = UNREAD if marked and marked(ticket_id) else ""
            if mark:
                style += " class:label"
            out += [
                ("", "\n "),
                (style, row_text(columns, cells)),
                ("class:label", f" {mark}" if mark else ""),
            ]
        return out

    def prompt_line() -> StyleAndTextTuples:
        news = []
        if marked and any(marked(ticket_id) for ticket_id, _cells in rows):
            news = [("class:dim", " " + _("{mark} : du nouveau").format(mark=UNREAD) + " ·")]
        return [*news, ("class:label", " " + _("Numéro du ticket : ")), ("class:field", typed[0] or " ")]

    bind_number_keys(
        screen, rows, selected, typed, lambda number: (PagerAction.OPEN, number), page_keys=False
    )
    for keys, action in (
        (("pagedown",), PagerAction.NEXT),
        (("n",), PagerAction.NEXT),
        (("pageup",), PagerAction.PREVIOUS),
        (("p",), PagerAction.PREVIOUS),
        (("f",), PagerAction.FILTER),
        (("t",), PagerAction.SORT),
    ):
        kb.add(*keys)(lambda e, a=action: screen.finish((a, None)))

    if reload is not None:
        screen.refresh = reloader(term, screen, reload, rows, selected)

    hints = _("N° Entrée : ouvrir · f : filtrer · t : trier · n/p : page · 0/Échap : retour")
    parts = [
        Window(SafeTextControl(summary_lines), height=len(summary)),
        # Shrinkable: a terminal made smaller still draws, and the check above asks for a new page.
        # It follows the selection when live notices take some of its lines: every row stays
        # reachable with ↑↓.
        Window(
            SafeTextControl(table_lines, get_cursor_position=lambda: Point(0, selected[0] + 1)),
            height=D(min=1, max=size + 1, preferred=size + 1),
            wrap_lines=False,
        ),
        Window(height=1),
        Window(SafeTextControl(prompt_line), height=1),
        Window(),
    ]
    screen.container = term.frame(title, parts, notice, hints, error)
    return await term.show(screen)
