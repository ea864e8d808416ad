"""The frame's Rows divide the height exactly as prompt_toolkit's HSplit does, with less work."""

from __future__ import annotations

import random

from prompt_toolkit.layout import D, HSplit, Window
from prompt_toolkit.layout.screen import WritePosition

from server.ui.toolkit import Rows


def random_children(rng: random.Random) -> list[Window]:
    children = []
    for _ in range(rng.randint(1, 9)):
        low = rng.randint(0, 3)
        high = rng.choice([low, low + rng.randint(0, 5), 10**6])
        preferred = rng.randint(low, min(high, low + 8))
        children.append(Window(height=D(min=low, max=high, preferred=preferred)))
    return children


def test_rows_give_each_child_the_height_hsplit_gives_it():
    rng = random.Random(8)
    for _ in range(2000):
        children = random_children(rng)
        height = rng.randint(0, 40)
        where = WritePosition(0, 0, 80, height)
        expected = HSplit(children)._divide_heights(where)
        if expected is not None:
            expected = expected[::2]  # HSplit's own: a padding window between two children
        assert Rows(children)._divide_heights(where) == expected, (height, children)


def test_rows_draw_no_padding_window():
    children = [Window(height=1), Window(), Window(height=1)]
    assert Rows(children)._all_children == children
    assert len(HSplit(children)._all_children) == 5
    # Asked for, padding is still drawn.
    assert len(Rows(children, padding=1)._all_children) == 5
