"""The screens as plain lines, for a session without a terminal (`ssh -T`): a screen reader or
`expect` follows them line by line. Menus are numbered lists read as one line, forms one
field a line, lists printed row by row; nothing is drawn with escape sequences, and every line
is sanitised. The same labels as the full-screen screens (menu, ask, confirm and table hand
over to this module when their terminal is a LineTerminal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from prompt_toolkit.application.dummy import DummyApplication
from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..i18n import N_, _
from .text import one_line

WIDTH = 80
CANCEL = "."
# What a form says about typing in line mode, where Esc does nothing.
ONE_LINE = N_("(une ligne ; « . » seul : annuler)")
TEXT = N_(
    "(plusieurs lignes ; terminez par une ligne ne contenant qu'un point (.) ; « . » d'emblée : annuler)"
)
SECRET = N_("(le mot de passe s'affiche à la frappe si votre terminal le fait)")
# What a menu or a list says about answering, in place of the full screens' keys (↑↓, Échap).
MENU = N_("(un numéro puis Entrée ; Ctrl-D : fin de la session)")
MENU_BACK = N_("(un numéro puis Entrée ; 0 : {back} ; Ctrl-D : fin de la session)")
LIST = N_("(un numéro puis Entrée : ouvrir ; {keys}0 : retour ; Ctrl-D : fin de la session)")
# One of a list's `{keys}`: its letter and what it does, spaced as each language writes it.
LIST_KEY = N_("{key} : {action} ; ")


class LineClosed(BaseException):
    """The session's input ended: the flow stops (not an error a screen would report)."""


class LineTerminal:
    """The console of a session without a terminal: lines out, lines in."""

    def __init__(
        self,
        out: Callable[[str], None],
        read_line: Callable[[], Awaitable[str | None]],
        set_echo: Callable[[bool], None] | None = None,
    ) -> None:
        """`set_echo`: where the server echoes what is typed (a terminal, TERM=dumb), how to
        stop it for a password; None where the client's own terminal echoes (ssh -T)."""
        self._out = out
        self._read_line = read_line
        self.set_echo = set_echo
        self.who = ""
        self.banner = ""
        self.notices: list[str] = []
        self.screen = None
        # No application is drawn: prompt_toolkit's stand-in answers the size questions (80×40).
        self.app = DummyApplication()
        self.closed = False
        # A prompt is waiting for its answer on the last line: what is said meanwhile (news, a
        # shutdown) starts a line of its own.
        self._prompting = False

    def out(self, text: str = "") -> None:
        """One line (or several), sanitised, then its end."""
        lead = "\n" if self._prompting else ""
        self._prompting = False
        self._out(lead + "\n".join(one_line(line) for line in text.split("\n")) + "\n")

    async def read(self, prompt: str) -> str:
        if self.closed:
            raise LineClosed()
        self._out(one_line(prompt))
        self._prompting = bool(prompt)
        line = await self._read_line()
        self._prompting = False
        if line is None or self.closed:
            raise LineClosed()
        return line

    async def run(self, flow: Callable[[LineTerminal], Awaitable[None]]) -> None:
        with contextlib.suppress(LineClosed):
            await flow(self)

    def close(self) -> None:
        self.closed = True

    def announce(self, text: str) -> None:
        self.banner = text
        if text:
            self.out("*** " + text)

    def notify(self, text: str) -> None:
        # Said at once, between two lines of the screen: live news does not wait for a key.
        self.out("* " + text)

    def refresh(self) -> None:
        pass

    # The screens -------------------------------------------------------------------------

    def heading(self, title: str, notice: Any = "", error: Any = False) -> None:
        """The screen's title, then what the last action said (a text, or what gives it)."""
        notice = notice() if callable(notice) else notice
        error = error() if callable(error) else error
        self.out()
        self.out(f"== {title} ==")
        if notice:
            self.out(("! " if error else "") + notice)


def text_of(line: StyleAndTextTuples) -> str:
    return "".join(fragment[1] for fragment in line)


async def menu(
    term: LineTerminal,
    title: str,
    items: Sequence[tuple[Any, str]] | Callable[[], Sequence[tuple[Any, str]]],
    *,
    body: Callable[[int], list[StyleAndTextTuples]] | None,
    head: Callable[[int], list[StyleAndTextTuples]] | None,
    back_label: str | None,
    notice: str,
    error: bool,
) -> Any:
    term.heading(title, notice, error)
    for lines in (head, body):
        for line in lines(WIDTH) if lines is not None else []:
            term.out(text_of(line))
    entries = list(items() if callable(items) else items)
    for i, (_value, label) in enumerate(entries, 1):
        term.out(f"  {i}. {label}")
    if back_label:
        term.out(f"  0. {back_label}")
    term.out(_(MENU_BACK).format(back=back_label.lower()) if back_label else _(MENU))
    while True:
        answer = (await term.read(_("Votre choix : "))).strip()
        if (answer == "0" and back_label) or (not answer and not entries):
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(entries):
            return entries[int(answer) - 1][0]
        term.out(_("Tapez le numéro d'une ligne de la liste."))


async def ask(
    term: LineTerminal,
    title: str,
    label: str,
    *,
    previous: Sequence[tuple[str, str]],
    password: bool,
    multiline: bool,
    default: str,
    help_text: str,
    warning: str,
    notice: str,
    error: bool,
) -> str | None:
    term.heading(title, notice, error)
    for name, value in previous:
        term.out(_("{label} : ").format(label=name) + value)
    if warning:
        term.out(warning)
    hints = [help_text, _(TEXT) if multiline else _(ONE_LINE)]
    if password and term.set_echo is None:
        hints.append(_(SECRET))
    term.out(" ".join(h for h in hints if h))
    if default and not password:
        term.out(_("Actuellement : {value}").format(value=default))
    prompt = _("{label} :").format(label=label) + " "
    if not multiline:
        hidden = password and term.set_echo is not None
        if hidden:
            term.set_echo(False)  # type: ignore[misc]
        try:
            answer = await term.read(prompt)
        finally:
            if hidden:
                term.set_echo(True)  # type: ignore[misc]
        return None if answer.strip() == CANCEL else answer
    term.out(prompt)
    lines: list[str] = []
    while (line := await term.read("")).strip() != CANCEL:
        lines.append(line)
    return "\n".join(lines) if lines else None


async def confirm(term: LineTerminal, title: str, text: str) -> bool:
    term.heading(title)
    term.out(text)
    answer = await term.read(_("Confirmer ? (o/n)") + " ")
    return answer.strip().lower() in ("o", "oui", "y", "yes")


async def table(
    term: LineTerminal,
    title: str,
    header: str,
    rows: Sequence[tuple[int, str, bool]],
    *,
    prompt: str,
    hints: str,
    empty: str,
    above: Sequence[str],
    position: str,
    actions: dict[str, Any],
    notice: str,
    error: bool,
) -> tuple[str, int | None] | None:
    """Rows as (key, text, marked); answers ("open", number), (action key, None) or None."""
    term.heading(title, notice, error)
    for line in above:
        term.out(line)
    if rows:
        term.out(header)
        for _key, text, marked in rows:
            term.out(text.rstrip() + (" •" if marked else ""))
    else:
        term.out(empty)
    if position:
        term.out(position)
    term.out(hints)
    while True:
        answer = (await term.read(prompt)).strip()
        if answer in ("", "0"):
            return None
        if answer.isdigit():
            return "open", int(answer)
        if answer in actions or answer.lower() in actions:
            return answer if answer in actions else answer.lower(), None
        term.out(_("Tapez un numéro de la liste, ou 0 pour revenir."))
