"""Every public UI builder, given hostile text in every text it takes, draws it harmless.

Each screen runs in a real prompt_toolkit application writing VT100 to a buffer, as a session
does to its SSH channel; the bytes written are then searched for what a terminal would act on.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Awaitable, Callable

import pyte
import pytest
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from server.ui import chart, columns, linemode, screens, table, terminal, text
from server.ui.columns import Column

# A window-title change (OSC … BEL), a device-control string, a terminal reset, a charset
# switch, a colour through the one-byte C1 CSI, backspaces, a bidirectional override, a lone
# surrogate, a line feed and carriage return, and a word longer than any line.
HOSTILE = (
    "Piège \x1b]2;HACKED\x07 \x1bPq#0\x1b\\ \x1bc \x1b(0 \x9b31mrouge\x9c \x08\x08\x7f "
    "\u202egnp.exe\u202c \ud800 ligne\r\nsuite \x00\x0b\x0c\x1b " + "x" * 300
)

# prompt_toolkit's own control sequences: CSI with parameters (cursor, colours, modes).
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]")
# What no screen may write once prompt_toolkit's own sequences are taken out: every other
# control character (CR, LF and backspace are its own cursor moves), C1, bidirectional controls.
FORBIDDEN = re.compile(
    "[\x00-\x07\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)

SIZE = Size(rows=24, columns=80)


async def draw(build: Callable[[terminal.Terminal], Awaitable[object]]) -> tuple[str, str]:
    """What a session's terminal receives while `build` shows its screen once, with a hostile
    name in the header, a hostile banner and a hostile live notice above it: all of it (the
    banner left in the scrollback at the end too), and what it had when the screen was drawn."""
    written = io.StringIO()
    drawn_screen = []
    with create_pipe_input() as keys:
        output = Vt100_Output(written, lambda: SIZE, term="xterm-256color", enable_cpr=False)
        with create_app_session(input=keys, output=output):
            term = terminal.Terminal()
            term.who = HOSTILE

            async def flow(t: terminal.Terminal) -> None:
                shown = asyncio.ensure_future(build(t))
                while t.screen is None:
                    await asyncio.sleep(0.01)
                t.announce(HOSTILE)
                t.notify(HOSTILE)
                drawn = t.app.render_counter
                while t.app.render_counter <= drawn + 1:
                    t.app.invalidate()
                    await asyncio.sleep(0.01)
                drawn_screen.append(written.getvalue())
                shown.cancel()

            await term.run(flow)
    return written.getvalue(), drawn_screen[0]


def assert_harmless(drawn: tuple[str, str]) -> pyte.Screen:
    written, on_screen = drawn
    # Every character can be sent as UTF-8 (no lone surrogate).
    written.encode("utf-8")
    rest = OWN_SEQUENCES.sub("", written)
    assert "\x1b" not in rest, "an escape sequence of the text reached the terminal"
    bad = FORBIDDEN.findall(rest)
    assert not bad, f"{bad!r} reached the terminal"
    # The hostile text was drawn, its controls as visible stand-ins.
    assert "␛]2;HACKED␇" in written
    # The ones prompt_toolkit also writes for itself were drawn as stand-ins too.
    assert "␈␈␡" in written and "ligne␍" in written
    # Over-long lines were cut: the frame holds, its header at the top, the hints at the bottom.
    screen = pyte.Screen(SIZE.columns, SIZE.rows)
    pyte.Stream(screen).feed(on_screen)
    assert screen.display[0].startswith(" Support Tickets · ")
    assert screen.display[-1].strip(), "the key hints were pushed off the screen"
    return screen


async def test_menu():
    assert_harmless(
        await draw(
            lambda t: screens.menu(
                t,
                HOSTILE,
                [(1, HOSTILE), (2, HOSTILE)],
                # A handler's raw fragment, not sanitised by it.
                body=lambda width: [[("class:label", HOSTILE)], [("", HOSTILE)]],
                back_label=HOSTILE,
                back_hint=HOSTILE,
                notice=HOSTILE,
                error=True,
            )
        )
    )


@pytest.mark.parametrize("multiline", [False, True])
async def test_ask(multiline):
    assert_harmless(
        await draw(
            lambda t: screens.ask(
                t,
                HOSTILE,
                HOSTILE,
                previous=[(HOSTILE, HOSTILE), ("Titre", HOSTILE)],
                help_text=HOSTILE,
                warning=HOSTILE,
                notice=HOSTILE,
                # A value given back for correction: in the field itself.
                default=HOSTILE,
                multiline=multiline,
                max_chars=1000,
            )
        )
    )


async def test_confirm():
    assert_harmless(await draw(lambda t: screens.confirm(t, HOSTILE, HOSTILE)))


SPECS = [
    Column("N°", 6, value=lambda r: f"#{r[0]}"),
    Column(HOSTILE, value=lambda r: r[1]),
    Column(HOSTILE, 12, short_at=8, short_header=HOSTILE, value=lambda r: (r[1], r[1])),
]
RECORDS = [(1, HOSTILE), (2, HOSTILE)]


@pytest.mark.parametrize("records", [RECORDS, []], ids=["rows", "empty"])
@pytest.mark.parametrize("rows", [None, 5], ids=["filling", "sized"])
async def test_table(records, rows):
    """The one table widget, in the shapes the lists give it."""
    assert_harmless(
        await draw(
            lambda t: table.table(
                t,
                HOSTILE,
                SPECS,
                records,
                key=lambda r: r[0],
                prompt=HOSTILE,
                hints=HOSTILE,
                empty=HOSTILE,
                above=[HOSTILE, HOSTILE],
                gap_above=True,
                position=lambda shown: HOSTILE,
                actions={"n": table.TableAction.NEXT},
                rows=rows,
                fetched_for=None if rows is None else table.page_size(t),
                marked=lambda r: r[0] == 1,
                notice=HOSTILE,
            )
        )
    )


async def test_the_text_helpers_a_screen_is_built_with():
    """fit, wrap, plain, one_line, the table's cells and the chart: hostile in, harmless out,
    drawn by a screen's body."""

    def body(width: int) -> list:
        lines = [[("", text.fit(HOSTILE, width))], [("", text.one_line(HOSTILE))]]
        lines += [[("", line)] for line in text.wrap(HOSTILE, width)]
        lines += text.plain(HOSTILE, width=width)
        lines += [[("", line)] for line in chart.bar_chart([(HOSTILE, 3), (HOSTILE, 1)], width)]
        row = columns.row_text(SPECS, columns.cells(SPECS, RECORDS[0]))
        lines += [[("", columns.header_text(SPECS))], [("", row)]]
        return lines

    assert_harmless(await draw(lambda t: screens.menu(t, "Aide", [], body=body)))


@pytest.mark.parametrize(
    "fragment",
    [("", HOSTILE), ("[ZeroWidthEscape]", "\x1b]2;HACKED\x07"), ("", HOSTILE, lambda event: None)],
)
def test_the_one_control_sanitises_any_fragment(fragment):
    """SafeTextControl, the control every screen draws text with, takes raw fragments too."""
    control = text.SafeTextControl([fragment])
    out = "".join(f[1] for f in control.text())
    assert not FORBIDDEN.search(out.replace("\n", "")) and "\x1b" not in out


async def drawn_in_lines(build: Callable[[linemode.LineTerminal], Awaitable[object]]) -> str:
    """What a session without a terminal (`ssh -T`) receives while `build` asks its question
    once; the answer is the end of input."""
    written: list[str] = []

    async def no_more_lines() -> str | None:
        return None

    term = linemode.LineTerminal(written.append, no_more_lines)
    term.who = HOSTILE
    term.announce(HOSTILE)
    term.notify(HOSTILE)
    await term.run(build)
    return "".join(written)


@pytest.mark.parametrize(
    "build",
    [
        lambda t: screens.menu(
            t,
            HOSTILE,
            [(1, HOSTILE)],
            body=lambda width: [[("", HOSTILE)]],
            back_label=HOSTILE,
            notice=HOSTILE,
        ),
        lambda t: screens.ask(
            t,
            HOSTILE,
            HOSTILE,
            previous=[(HOSTILE, HOSTILE)],
            help_text=HOSTILE,
            warning=HOSTILE,
            default=HOSTILE,
        ),
        lambda t: screens.confirm(t, HOSTILE, HOSTILE),
        lambda t: table.table(
            t,
            HOSTILE,
            SPECS,
            RECORDS,
            key=lambda r: r[0],
            prompt=HOSTILE,
            hints=HOSTILE,
            empty=HOSTILE,
            above=[HOSTILE],
            position=HOSTILE,
            marked=lambda r: True,
            notice=HOSTILE,
        ),
    ],
    ids=["menu", "ask", "confirm", "table"],
)
async def test_line_mode(build):
    """The same builders for a session without a terminal: plain lines, every one sanitised."""
    written = await drawn_in_lines(build)
    written.encode("utf-8")
    assert not FORBIDDEN.search(written.replace("\n", "")) and "\r" not in written
    assert written.count("␛]2;HACKED␇") >= 4
