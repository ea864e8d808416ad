"""A list narrowed as one types: the typed words filter the entries, ↑↓ and Enter pick one."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from prompt_toolkit.data_structures import Point
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.layout import VSplit, Window
from prompt_toolkit.widgets import TextArea

from ..i18n import _
from .terminal import Screen, Terminal
from .text import SafeTextControl, VisibleInput, one_line


def folded(text: str) -> str:
    """Compared without case or accents: « reseau » finds « Réseau »."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


async def pick_filtered(
    term: Terminal, title: str, label: str, entries: Sequence[tuple[Any, str]], *, empty: str
) -> Any:
    """The value of the entry picked, or None (Esc, or nothing to pick)."""
    screen = Screen()
    kb = screen.key_bindings
    area = TextArea(multiline=False, height=1, style="class:field", input_processors=[VisibleInput()])
    selected = [0]

    def shown() -> list[tuple[Any, str]]:
        words = folded(area.text).split()
        return [(v, text) for v, text in entries if all(w in folded(text) for w in words)]

    area.buffer.on_text_changed += lambda _buffer: selected.__setitem__(0, 0)

    def lines() -> StyleAndTextTuples:
        found = shown()
        if not found:
            return [("class:dim", "  " + empty)]
        out: StyleAndTextTuples = []
        for i, (_value, text) in enumerate(found):
            style = "class:selected" if i == selected[0] else ""
            out += [("", "  "), (style, f" {one_line(text)} "), ("", "\n")]
        return out[:-1]

    @kb.add("enter")
    def _enter(event) -> None:
        found = shown()
        if found:
            screen.finish(found[min(selected[0], len(found) - 1)][0])

    @kb.add("down")
    def _down(event) -> None:
        selected[0] = (selected[0] + 1) % max(1, len(shown()))

    @kb.add("up")
    def _up(event) -> None:
        selected[0] = (selected[0] - 1) % max(1, len(shown()))

    kb.add("escape", eager=True)(lambda e: screen.finish(None))
    kb.add("c-c")(lambda e: screen.finish(None))
    prompt = Window(SafeTextControl([("class:label", f" {label} : ")]), width=len(label) + 4)
    entries_control = SafeTextControl(lines, get_cursor_position=lambda: Point(0, selected[0]))
    parts = [VSplit([prompt, area]), Window(height=1), Window(entries_control)]
    hints = _("Tapez pour filtrer · ↑↓ Entrée : choisir · Échap : retour")
    screen.container = term.frame(title, parts, "", hints, False)
    screen.focus = area
    return await term.show(screen)
