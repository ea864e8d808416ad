"""Table columns sized to the terminal: the flexible ones (a title) get their room first; the
others narrow, abbreviate or drop in the order their `steps` write down, and come back as the
window widens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..i18n import _
from .terminal import screen_width
from .text import fit

# A cell: its text, or (text, short form) for a column narrowed to `short_at` or less.
Cell = str | tuple[str, str]


@dataclass(frozen=True)
class Column:
    header: str
    # None: flexible, the columns without a width share what the others leave.
    width: int | None = None
    # (order, narrower width): applied by increasing order, across the table, until the
    # flexible columns have their `least`; a width of 0 drops the column.
    steps: tuple[tuple[int, int], ...] = ()
    # At this width or narrower, cells show their short form and the header `short_header`.
    short_at: int = 0
    short_header: str = ""
    # Flexible columns only: the room they claim before the others keep their full width.
    least: int = 0
    # How a record fills this column: the one way a row's cells are made.
    value: Callable[[Any], Cell] = field(default=lambda record: "", compare=False, repr=False)


def cells(columns: Sequence[Column], record: Any) -> list[Cell]:
    """A record's row: each column's value of it."""
    return [column.value(record) for column in columns]


def row_width() -> int:
    """Room for a row: one blank column at the left, a gap and the unread mark at the right."""
    return screen_width() - 3


def layout(columns: Sequence[Column], total: int) -> list[int]:
    """Each column's width for a line of `total` columns; 0 for a column dropped."""
    flexible = [i for i, c in enumerate(columns) if not c.width]
    widths = [c.width or 0 for c in columns]
    need = sum(max(1, columns[i].least) for i in flexible)

    def room() -> int:
        shown = [i for i, w in enumerate(widths) if w or i in flexible]
        return total - sum(widths[i] for i in shown if i not in flexible) - (len(shown) - 1)

    for _order, i, width in sorted((o, i, w) for i, c in enumerate(columns) for o, w in c.steps):
        if room() >= need:
            break
        widths[i] = width
    if flexible:
        left = room()
        least = [columns[i].least for i in flexible]
        if sum(least) <= left:
            spare = left - sum(least)
            shares = [w + spare // len(flexible) for w in least]
            shares[0] += spare % len(flexible)
        else:
            shares = [left // len(flexible)] * len(flexible)
        floor = 10 if len(flexible) == 1 else 8
        for i, share in zip(flexible, shares, strict=True):
            widths[i] = max(floor, share)
    return widths


def row_text(columns: Sequence[Column], row: Sequence[Cell]) -> str:
    """One table row: each cell fitted to its column (its short form where the column is
    narrow), the columns dropped at this width left out."""
    out = []
    for column, cell, width in zip(columns, row, layout(columns, row_width()), strict=True):
        if not width:
            continue
        text, short = (cell, cell) if isinstance(cell, str) else cell
        out.append(fit(short if width <= column.short_at else text, width))
    return " ".join(out)


def header_text(columns: Sequence[Column]) -> str:
    # Headers defined at import time are marked with N_(): translated here, where drawn.
    return row_text(columns, [(_(c.header), _(c.short_header or c.header)) for c in columns])
