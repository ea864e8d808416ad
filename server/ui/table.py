"""The one table widget: records as rows of columns sized to the terminal, opened by number.

Every list (a user's tickets, `Tous les tickets` page by page, the accounts) is this screen:
lines above the table, the column titles, the rows (scrolling with the selection), the
number prompt. A typed number and Enter, or ↑↓ and Enter, opens a row; the screen's own keys
(pages, filter, sort, search) answer with their action; 0, Esc or Ctrl-C return None.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.data_structures import Point
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import D, Window

from ..i18n import N_, _
from . import linemode
from .columns import Column, cells, header_text, row_text
from .linemode import LineTerminal
from .screens import UNREAD, refresher
from .terminal import Screen, Terminal, screen_width
from .text import SafeTextControl, fit

# Lines around a page's rows: the frame's header, gap, notice and hints; the two summary
# lines, the column titles, the gap and the number prompt; one spare for a notice on two lines.
CHROME_LINES = 10


class TableAction(enum.Enum):
    OPEN = "open"
    NEXT = "next"
    PREVIOUS = "previous"
    FILTER = "filter"
    SORT = "sort"
    SEARCH = "search"
    # The terminal changed height: the page must be fetched again at its new size.
    RESIZED = "resized"


# Each action of a list as a line names it (server/ui/linemode.py).
LINE_ACTIONS = {
    TableAction.NEXT: N_("page suivante"),
    TableAction.PREVIOUS: N_("page précédente"),
    TableAction.FILTER: N_("filtrer"),
    TableAction.SORT: N_("trier"),
    TableAction.SEARCH: N_("rechercher"),
}


def page_size(term: Terminal) -> int:
    """How many rows one page shows in this terminal."""
    return max(3, term.app.output.get_size().rows - CHROME_LINES)


@dataclass
class TableState:
    """What the table shows and where the user is in it."""

    records: list[Any]
    selected: int = 0
    # The number typed so far.
    typed: str = ""

    def move(self, step: int) -> None:
        if self.records:
            self.selected = max(0, min(len(self.records) - 1, self.selected + step))

    def replace(self, fresh: Sequence[Any], key: Callable[[Any], int]) -> None:
        """Fresh records in place, the selection staying on the same row."""
        chosen = key(self.records[self.selected]) if self.records else None
        self.records[:] = fresh
        ids = [key(r) for r in self.records]
        self.selected = ids.index(chosen) if chosen in ids else min(self.selected, max(0, len(ids) - 1))


async def table(
    term: Terminal,
    title: str,
    columns: Sequence[Column],
    records: Sequence[Any],
    *,
    key: Callable[[Any], int],
    prompt: str,
    hints: str,
    empty: str,
    above: Sequence[str] = (),
    gap_above: bool = False,
    position: str | Callable[[Sequence[Any]], str] = "",
    actions: Mapping[str, TableAction] | None = None,
    rows: int | None = None,
    fetched_for: int | None = None,
    reload: Callable[[], Awaitable[Sequence[Any]]] | None = None,
    marked: Callable[[Any], bool] | None = None,
    notice: str = "",
    error: bool = False,
) -> tuple[TableAction, int | None] | None:
    """Show `records`, each a row of `columns` (their `value`), and answer (OPEN, its key), the
    action of one of the screen's `actions` keys, or None when leaving.

    `above`: lines over the table (the first plain, the others bold; a list the reload may
    update), after them a blank line if `gap_above`. `position` leads the prompt line (how
    many, which page); records `marked` (changed since the user last opened them) are bold
    with a `•` in the right margin. The rows take `rows` lines, or the screen's height left
    when None. A page fetched for `fetched_for` rows answers RESIZED when the terminal's height
    changes. With `reload`, the records are fetched again in place when the terminal is told
    of a change.
    """
    if isinstance(term, LineTerminal):
        keys = {name: action for name, action in (actions or {}).items() if len(name) == 1}
        # PgPréc/PgSuiv are no line's keys: n and p page there.
        for letter, action in (("n", TableAction.NEXT), ("p", TableAction.PREVIOUS)):
            if action in (actions or {}).values() and action not in keys.values():
                keys[letter] = action
        said = {}
        for name, action in keys.items():
            said.setdefault(action, name.lower())
        hints = _(linemode.LIST).format(
            keys="".join(
                _(linemode.LIST_KEY).format(key=k, action=_(LINE_ACTIONS[a])) for a, k in said.items()
            )
        )
        answer = await linemode.table(
            term,
            title,
            header_text(columns),
            [(key(r), row_text(columns, cells(columns, r)), bool(marked and marked(r))) for r in records],
            prompt=prompt,
            hints=hints,
            empty=empty,
            above=above,
            position=position(records) if callable(position) else position,
            actions=keys,
            notice=notice,
            error=error,
        )
        if answer is None:
            return None
        return (TableAction.OPEN, answer[1]) if answer[0] == "open" else (keys[answer[0]], None)
    state = TableState(list(records))
    screen = Screen()
    kb = screen.key_bindings
    actions = dict(actions or {})

    def above_lines() -> StyleAndTextTuples:
        width = screen_width() - 2
        out: StyleAndTextTuples = []
        for i, line in enumerate(above):
            out += [("class:label" if i else "", " " + fit(line, width).rstrip()), ("", "\n")]
        return out[:-1]

    def header_line() -> StyleAndTextTuples:
        if fetched_for is not None and page_size(term) != fetched_for:
            screen.finish((TableAction.RESIZED, None))
        return [("class:label", " " + header_text(columns))]

    def row_lines() -> StyleAndTextTuples:
        if not state.records:
            return [("class:dim", " " + fit(empty, screen_width() - 2))]
        out: StyleAndTextTuples = []
        for i, record in enumerate(state.records):
            style = "class:selected" if i == state.selected else ""
            mark = UNREAD if marked and marked(record) else ""
            if mark:
                style += " class:label"
            out += [
                ("", " "),
                (style, row_text(columns, cells(columns, record))),
                ("class:label", f" {mark}" if mark else ""),
                ("", "\n"),
            ]
        return out[:-1]

    def prompt_line() -> StyleAndTextTuples:
        lead = [position(state.records) if callable(position) else position]
        if marked and any(marked(r) for r in state.records):
            lead.append(_("{mark} : du nouveau").format(mark=UNREAD))
        lead = [text for text in lead if text]
        out: StyleAndTextTuples = [("class:dim", " " + " · ".join(lead) + " ·")] if lead else []
        return [*out, ("class:label", " " + prompt), ("class:field", state.typed or " ")]

    for digit in "0123456789":

        @kb.add(digit)
        def _digit(event, digit=digit) -> None:
            if not state.typed and digit == "0":
                screen.finish(None)
            elif len(state.typed) < 9:
                state.typed += digit

    @kb.add("backspace")
    def _back(event) -> None:
        state.typed = state.typed[:-1]

    @kb.add("enter")
    def _enter(event) -> None:
        if state.typed:
            screen.finish((TableAction.OPEN, int(state.typed)))
        elif state.records:
            screen.finish((TableAction.OPEN, key(state.records[state.selected])))

    @kb.add("escape", eager=True)
    @kb.add("c-c")
    def _esc(event) -> None:
        screen.finish(None)

    kb.add("down")(lambda e: state.move(1))
    kb.add("up")(lambda e: state.move(-1))
    # PgPréc/PgSuiv move by ten unless the screen gives them to its pages.
    if "pagedown" not in actions:
        kb.add("pagedown")(lambda e: state.move(10))
    if "pageup" not in actions:
        kb.add("pageup")(lambda e: state.move(-10))
    for name, action in actions.items():
        kb.add(name)(lambda e, a=action: screen.finish((a, None)))

    if reload is not None:

        async def apply() -> None:
            state.replace(await reload(), key)

        screen.refresh = refresher(term, screen, apply)

    parts: list = []
    if above:
        parts.append(Window(SafeTextControl(above_lines), height=len(above)))
    if gap_above:
        parts.append(Window(height=1))
    # The rows follow the selection when they have less room than lines (live notices, a
    # long list): every row stays reachable with ↑↓, under column titles that stay.
    body = Window(
        SafeTextControl(row_lines, get_cursor_position=lambda: Point(0, state.selected)),
        height=None if rows is None else D(min=1, max=max(1, rows), preferred=max(1, rows)),
        wrap_lines=False,
    )
    parts += [Window(SafeTextControl(header_line), height=1), body, Window(height=1)]
    parts.append(Window(SafeTextControl(prompt_line), height=1))
    if rows is not None:
        parts.append(Window())  # keeps the notice and the hints at the bottom
    screen.container = term.frame(title, parts, notice, hints, error)
    return await term.show(screen)
