"""Horizontal bar charts drawn with block characters, to an eighth of a column."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_toolkit.utils import get_cwidth

from .text import fit

# A bar's last column: one to seven eighths of a full block.
EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"


def bar(value: int, largest: int, width: int) -> str:
    """A bar `width` columns long for `largest`; any non-zero value shows at least ▏."""
    if value <= 0 or largest <= 0 or width <= 0:
        return ""
    eighths = max(1, round(value * width * 8 / largest))
    full, rest = divmod(eighths, 8)
    return FULL * full + (EIGHTHS[rest] if rest else "")


def bar_chart(rows: Sequence[tuple[str, int]], width: int) -> list[str]:
    """One line per (label, value): the label, the bar, the value; every line fits `width`."""
    if not rows:
        return []
    label_width = max(get_cwidth(label) for label, _v in rows)
    largest = max(value for _l, value in rows)
    number_width = len(str(largest))
    room = max(1, width - label_width - number_width - 2)
    lines = []
    for label, value in rows:
        drawn = bar(value, largest, room)
        lines.append(f"{fit(label, label_width)} {drawn}{' ' if drawn else ''}{value}")
    return lines
