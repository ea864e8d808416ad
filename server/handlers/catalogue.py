"""What the admins' catalogue screens share (Catégories, Lieux, Réponses types): the list with
its entry to add one, the screen of one row and its actions, a name asked until accepted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..errors import UserError
from ..i18n import _
from ..ui.screens import Lines, menu
from ..ui.terminal import Terminal
from ..ui.text import wrap
from .common import Notice, ask_valid


@dataclass(frozen=True)
class Leave:
    """What an action answers when the row's screen closes after it (the row is deleted)."""

    notice: Notice


async def catalogue_screen(
    term: Terminal,
    title: str,
    add_label: str,
    load: Callable[[], Awaitable[Sequence[Any]]],
    label: Callable[[Any], str],
    add: Callable[[], Awaitable[Notice]],
    open_row: Callable[[int], Awaitable[Notice]],
    *,
    body: Lines | None = None,
) -> Notice:
    """The rows by `label`, under an entry to `add` one; a row chosen is opened by `open_row`
    (its id). What each says is shown above the list, a refusal as an error."""
    notice = Notice()
    while True:
        listed = await load()
        chosen = await menu(
            term,
            title,
            [("add", add_label), *[(r.id, label(r)) for r in listed]],
            body=body,
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            notice = await (add() if chosen == "add" else open_row(chosen))
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def row_screen(
    term: Terminal,
    load: Callable[[], Awaitable[Sequence[Any]]],
    row_id: int,
    gone: str,
    heading: str,
    entries: Callable[[Any], list[tuple[str, str]]],
    lines: Callable[[Any, int], list[StyleAndTextTuples]],
    act: Callable[[Any, str], Awaitable[Notice | Leave | None]],
) -> Notice:
    """One row, read again before each showing (`gone` once it is no more), `heading` with its
    id, its details (`lines`) above its `entries`; `act(row, choice)` runs the one chosen and
    says what it did (None: what was said stays; Leave: back to the list)."""
    notice = Notice()
    while True:
        row = next((r for r in await load() if r.id == row_id), None)
        if row is None:
            return Notice.fail(gone)
        choice = await menu(
            term,
            heading.format(id=row.id),
            entries(row),
            body=lambda width, r=row: lines(r, width),
            **notice.kwargs(),
        )
        if choice is None:
            return notice
        try:
            done = await act(row, choice)
        except UserError as exc:
            notice = Notice.fail(exc.message)
            continue
        if isinstance(done, Leave):
            return done.notice
        if done is not None:
            notice = done


# A catalogue's rule of a name and its length: (validation.category_name, CATEGORY_MAX)…
Naming = tuple[Callable[[str], str], int]


async def named(
    term: Terminal,
    title: str,
    naming: Naming,
    save: Callable[[str], Awaitable[Any]],
    said: str,
    current: str = "",
) -> Notice:
    """Ask a name until `save(name)` accepts it (each refusal above the field), then say what
    was done with `said` ({name}); nothing said when the user cancels."""
    rule, max_chars = naming
    notice, typed = Notice(), current
    while True:
        name = await ask_valid(
            term,
            title,
            _("Nom"),
            [],
            rule,
            notice=notice,
            help_text=_("(une ligne, {max} caractères au plus)").format(max=max_chars),
            max_chars=max_chars,
            **({"default": typed} if typed else {}),
        )
        if name is None:
            return Notice()
        try:
            done = await save(name)
        except UserError as exc:
            notice, typed = Notice.fail(exc.message), name
            continue
        return Notice(said.format(name=done.name))


async def toggle(set_active: Callable[[], Awaitable[Any]], activated: str, deactivated: str) -> Notice:
    """`Désactiver` / `Réactiver`: the change made, and the sentence of the state it left."""
    done = await set_active()
    return Notice(activated if done.active else deactivated)


def detail_lines(rows: Sequence[str], width: int) -> list[StyleAndTextTuples]:
    """A row's details, one line each (cut to `width`)."""
    return [[("", line)] for row in rows for line in wrap(row, width, multiline=False)]


@dataclass(frozen=True)
class Settings:
    """A catalogue of named rows that admins add, rename, deactivate and reactivate (Catégories,
    Lieux): its words, its rows as the context gives and changes them, and the entries and
    actions of a row beyond `Renommer` and `Désactiver`."""

    # The list's title; its entry to add one (the title of that screen too); said once added.
    title: str
    add_label: str
    added: str
    # A row gone; a row's screen ({id}); renaming it, and what is said then ({name}).
    gone: str
    heading: str
    rename_title: str
    renamed: str
    # Said once reactivated, once deactivated.
    activated: str
    deactivated: str
    naming: Naming
    load: Callable[[], Awaitable[Sequence[Any]]]
    label: Callable[[Any], str]
    add: Callable[[str], Awaitable[Any]]
    rename: Callable[[int, str], Awaitable[Any]]
    set_active: Callable[[int, bool], Awaitable[Any]]
    lines: Callable[[Any, int], list[StyleAndTextTuples]]
    entries: Callable[[Any], list[tuple[str, str]]]
    act: Callable[[Any, str], Awaitable[Notice]]
    body: Lines | None = None


async def settings_screen(term: Terminal, s: Settings) -> Notice:
    """The list of `s` with its entry to add one; a row opened shows its details and entries."""

    def entries(row: Any) -> list[tuple[str, str]]:
        return [
            ("rename", _("Renommer")),
            ("toggle", _("Désactiver") if row.active else _("Réactiver")),
            *s.entries(row),
        ]

    async def act(row: Any, choice: str) -> Notice:
        if choice == "rename":
            return await named(
                term, s.rename_title, s.naming, lambda name: s.rename(row.id, name), s.renamed, row.name
            )
        if choice == "toggle":
            return await toggle(lambda: s.set_active(row.id, not row.active), s.activated, s.deactivated)
        return await s.act(row, choice)

    return await catalogue_screen(
        term,
        s.title,
        s.add_label,
        s.load,
        s.label,
        lambda: named(term, s.add_label, s.naming, s.add, s.added),
        lambda row_id: row_screen(term, s.load, row_id, s.gone, s.heading, entries, s.lines, act),
        body=s.body,
    )
