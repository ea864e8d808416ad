"""A list fetched one page at a time: open a row by its number, turn pages, ask for a search."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import Window

from ..i18n import _
from .columns import Spec, header_text, row_text
from .screens import bind_number_keys
from .terminal import SafeTextControl, Screen, Terminal, fit, screen_width


class ListAction(enum.Enum):
    OPEN = "open"
    NEXT_PAGE = "next"
    PREVIOUS_PAGE = "previous"
    SEARCH = "search"


async def paged_table(
    term: Terminal,
    title: str,
    columns: Sequence[Spec],
    rows: Sequence[tuple[int, Sequence[str]]],
    *,
    above: str,
    position: str,
    prompt: str,
    empty: str,
    notice: str = "",
    error: bool = False,
) -> tuple[ListAction, int | None] | None:
    """One page of rows, each opened by the number in its first column or picked with the arrows.

    PageDown/PageUp ask for the next or previous page, `r` or `/` for a search; 0 or Esc
    returns None. `above` is a line over the table (the search in force), `position` leads the
    prompt line (how many rows, which page).
    """
    screen = Screen()
    kb = screen.key_bindings
    selected = [0]
    typed = [""]

    def table_lines() -> StyleAndTextTuples:
        out: StyleAndTextTuples = [("class:label", " " + header_text(columns) + "\n")]
        if not rows:
            return [*out, ("class:dim", " " + fit(empty, screen_width() - 2))]
        for i, (_id, cells) in enumerate(rows):
            style = "class:selected" if i == selected[0] else ""
            out += [("", " "), (style, row_text(columns, cells)), ("", "\n")]
        return out[:-1]

    def prompt_line() -> StyleAndTextTuples:
        return [("class:dim", f" {position} · "), ("class:label", prompt), ("class:field", typed[0] or " ")]

    bind_number_keys(screen, rows, selected, typed, lambda number: (ListAction.OPEN, number), page_keys=False)
    kb.add("pagedown")(lambda e: screen.finish((ListAction.NEXT_PAGE, None)))
    kb.add("pageup")(lambda e: screen.finish((ListAction.PREVIOUS_PAGE, None)))
    for key in ("r", "R", "/"):
        kb.add(key)(lambda e: screen.finish((ListAction.SEARCH, None)))

    hints = _("N° Entrée : ouvrir · R : rechercher · PgPréc/PgSuiv : page · 0/Échap : retour")
    parts = [
        Window(SafeTextControl(lambda: [("", " " + fit(above, screen_width() - 2))]), height=1),
        Window(height=1),
        Window(SafeTextControl(table_lines), height=len(rows) + 1 if rows else 2, wrap_lines=False),
        Window(height=1),
        Window(SafeTextControl(prompt_line), height=1),
        Window(),
    ]
    screen.container = term.frame(title, parts, notice, hints, error)
    return await term.show(screen)
