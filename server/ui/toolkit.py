"""prompt_toolkit as thousands of sessions in one process need it: shared parts, no cycles.

Everything here is measured (bench/scale.py, bench/keystroke_cpu.py, tests/test_e2e_memory.py):
what each application would otherwise build for itself, what each redraw does for nothing
here, and how a layout that will not be drawn again is emptied so that refcounting frees it.
The changes to prompt_toolkit's own functions (its SIGWINCH handler, the `last-line` class, the
mouse handlers) apply to the whole process, whose every application is a session's.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from prompt_toolkit import renderer as _renderer
from prompt_toolkit.application import Application
from prompt_toolkit.application import application as _application
from prompt_toolkit.application.current import get_app
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Filter
from prompt_toolkit.key_binding import KeyBindings, KeyBindingsBase
from prompt_toolkit.key_binding.bindings.page_navigation import load_page_navigation_bindings
from prompt_toolkit.key_binding.defaults import load_key_bindings
from prompt_toolkit.layout import BufferControl, HSplit, Window
from prompt_toolkit.layout.containers import VerticalAlign, to_container
from prompt_toolkit.layout.dimension import sum_layout_dimensions, to_dimension
from prompt_toolkit.layout.layout import walk
from prompt_toolkit.layout.mouse_handlers import MouseHandlers
from prompt_toolkit.layout.screen import WritePosition
from prompt_toolkit.styles import BaseStyle, default_ui_style, merge_styles
from prompt_toolkit.utils import to_str


@contextlib.contextmanager
def _no_winch_handler(handler: Callable[[], None]):
    yield


# Each application run puts its own SIGWINCH handler on the event loop and, when it ends, puts
# back the one it found: often that of an application ended meanwhile, which so stays alive with
# its whole session, and which a resize of the server's own terminal would draw on. Here every
# size comes from the SSH client (terminal_size_changed), never from the server's terminal.
_application.attach_winch_signal_handler = _no_winch_handler


def _window_style(self: Window, new_screen: Any, write_position: Any, parent_style: str) -> None:
    # prompt_toolkit's own, without the `last-line` class it adds to every cell of each
    # window's last line at every redraw: only its dialogs' style uses it, and no screen here.
    new_screen.fill_area(write_position, style=parent_style + " " + to_str(self.style), after=False)


Window._apply_style = _window_style  # type: ignore[method-assign]


class _NoMouseHandlers(MouseHandlers):
    """Mouse support is off: the handler of each cell, set at every redraw (some 2,000 a
    screen), would never be called."""

    def set_mouse_handler_for_range(self, *args: Any, **kwargs: Any) -> None:
        pass


_renderer.MouseHandlers = _NoMouseHandlers  # type: ignore[misc]


@functools.cache
def _shared_style(style: BaseStyle) -> BaseStyle:
    """prompt_toolkit's default UI style merged with `style`, parsed once for every session."""
    return merge_styles([default_ui_style(), style])


@functools.cache
def _shared_bindings() -> tuple[KeyBindingsBase, KeyBindingsBase]:
    """prompt_toolkit's default key bindings and its page navigation, built once."""
    return load_key_bindings(), load_page_navigation_bindings()


class SessionApplication(Application):
    """An application whose unchanging parts are shared by every session.

    Each prompt_toolkit application otherwise builds its own copy of the default key bindings
    (some 600 bindings, 570 functions) and parses the default style anew (300 attribute sets):
    4,000 objects per session, which every full garbage collection walks — 460 ms at 300
    sessions, during which no screen answers. Their filters read the running application
    from a context variable and their caches are keyed by keys alone, so one copy serves all.
    """

    def _create_merged_style(self, include_default_pygments_style: Filter) -> BaseStyle:
        # Nothing here is highlighted code: the pygments style is left out.
        return _shared_style(self.style)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._default_bindings, self._page_navigation_bindings = _shared_bindings()
        # What the key bindings' filters and handlers get when no field has the focus (menus,
        # lists): prompt_toolkit makes a new buffer at each call, some 30 objects in cycles,
        # several times a key. Read-only, nothing can be typed into it.
        self._no_buffer = Buffer(name="dummy-buffer", read_only=True)

    @property
    def current_buffer(self) -> Buffer:
        return self.layout.current_buffer or self._no_buffer


class Rows(HSplit):
    """An HSplit without the padding windows prompt_toolkit puts between its children.

    With no padding asked for, each is a window of height 0 that is still laid out and drawn
    at every redraw, and a child more for the division of the height to go round: as much
    work again as the frame's own windows, at every key.
    """

    @property
    def _all_children(self) -> list:
        if self._padded():
            return super()._all_children
        return self.children

    def _padded(self) -> bool:
        return bool(to_dimension(self.padding).max) or self.align != VerticalAlign.JUSTIFY

    def _divide_heights(self, write_position: WritePosition) -> list[int] | None:
        """prompt_toolkit's division of the height, without its generator: one line at a
        time to each child in turn, up to its preferred height, then up to its maximum. (Its
        own goes round every child, able to grow or not, through a generator and a sum at
        each line: a tenth of a redraw.) Children of unequal weights get prompt_toolkit's."""
        if not self.children or self._padded():
            return super()._divide_heights(write_position)
        width, height = write_position.width, write_position.height
        dimensions = [child.preferred_height(width, height) for child in self.children]
        if len({d.weight for d in dimensions}) != 1 or dimensions[0].weight <= 0:
            return super()._divide_heights(write_position)
        total = sum_layout_dimensions(dimensions)
        if total.min > height:
            return None
        sizes = [d.min for d in dimensions]
        used = sum(sizes)
        count = len(sizes)
        turn = 0
        stops = [(min(height, total.preferred), [d.preferred for d in dimensions])]
        if not get_app().is_done:
            stops.append((min(height, total.max), [d.max for d in dimensions]))
        for stop, limits in stops:
            while used < stop:
                if sizes[turn] < limits[turn]:
                    sizes[turn] += 1
                    used += 1
                turn = (turn + 1) % count
        return sizes


# The keys of a screen once dismantled: none.
NO_KEYS = KeyBindings()


def dismantle(container: Any, keep: Any = None) -> None:
    """Empty every part of a layout that will not be drawn again, but those also in `keep`.

    Each part refers to others and some back (a window to its render information and back, a
    control's text function to its window, a buffer to its events and back): emptied, none is
    in a cycle any more. Only screens' own parts come here: every one is built for its screen.
    """
    kept = set(walk(to_container(keep), skip_hidden=False)) if keep is not None else set()
    for part in list(walk(to_container(container), skip_hidden=False)):
        if part in kept:
            continue
        if isinstance(part, Window):
            control = part.content
            if isinstance(control, BufferControl):
                empty(control.buffer)
            empty(control)
        empty(part)


def empty(part: object) -> None:
    """Forget everything `part` refers to, its filters' caches first: a filter combined with
    another (`a & b`) keeps the result, which refers back to it."""
    for value in vars(part).values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            _forget_combined(item)
            _forget_combined(getattr(item, "filter", None))
    vars(part).clear()


def _forget_combined(candidate: object) -> None:
    if isinstance(candidate, Filter):
        candidate._and_cache.clear()
        candidate._or_cache.clear()
        candidate._invert_result = None
        # Combined filters (`a & b`, `~a`): their parts too.
        for inner in getattr(candidate, "filters", ()):
            _forget_combined(inner)
        _forget_combined(getattr(candidate, "filter", None))
