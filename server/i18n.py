"""User-facing text: French source strings marked for gettext, shown in each session's language.

French is the source language: a string is written in French in the code, marked with `_()`
where it is shown, and an English catalogue (server/locale/en/LC_MESSAGES/support.po) gives its
translation. `_()` looks the language up when it is called, in the session it runs for: each
SSH channel runs in a context of its own (see `Language` and `speaking`), so two users connected
at the same time each read their own language.

A string defined at import time (a module constant, a default argument, a class attribute) is
marked with `N_()`, which only marks it for the catalogue, and translated with `_()` where it
is shown. How to add or change a string: the README's "Translations" section.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "support"
SOURCE = "fr"
# The languages offered, each named in its own language (Mon compte → Langue).
LANGUAGES = {"fr": "Français", "en": "English"}


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue(code: str) -> gettext.NullTranslations:
    """The catalogue of a language, compiled from its .po at first use (no .mo to keep in step:
    a fresh clone speaks English as soon as it starts). The source language needs none; a fuzzy
    or empty translation is left out, so its French shows."""
    if code == SOURCE or code not in LANGUAGES or not po_path(code).exists():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(code).open("rb") as po:
        messages = read_po(po, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def load() -> None:
    """Compile every catalogue now (at start-up), not in the first session that needs one."""
    for code in LANGUAGES:
        catalogue(code)


class Language:
    """The language of one session (one SSH channel).

    One object per session, changed in place (at login, in Mon compte): every task and callback
    of the session holds the same object through the context variable, so a change is seen by
    all of them at once, and by no other session.
    """

    __slots__ = ("_catalogue", "code")

    def __init__(self, code: str = SOURCE) -> None:
        self.code = SOURCE
        self._catalogue = catalogue(SOURCE)
        self.set(code)

    def set(self, code: str | None) -> None:
        """Speak `code` from now on; an unknown code is the source language."""
        self.code = code if code in LANGUAGES else SOURCE
        self._catalogue = catalogue(self.code)

    def gettext(self, message: str) -> str:
        # gettext("") is the catalogue's header, never a message.
        return self._catalogue.gettext(message) if message else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalogue.ngettext(singular, plural, n)

    def __repr__(self) -> str:
        return f"Language({self.code!r})"


_session: ContextVar[Language | None] = ContextVar("support_language", default=None)


def _(message: str) -> str:
    """`message` (French) in the current session's language; French outside any session."""
    language = _session.get()
    return message if language is None or not message else language.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    language = _session.get()
    if language is None:
        return singular if n == 1 else plural
    return language.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it: translate it with _() where
    it is shown (for strings defined at import time, before any session has a language)."""
    return message


def current() -> Language | None:
    """The current session's language object, None outside any session."""
    return _session.get()


def current_code() -> str:
    language = _session.get()
    return SOURCE if language is None else language.code


def enter(language: Language) -> None:
    """Make `language` the current session's (in a context of the session's own: a task's,
    or one made with contextvars.copy_context())."""
    _session.set(language)


@contextlib.contextmanager
def speaking(language: Language | None) -> Iterator[None]:
    """Run a block in another session's language: what one session prepares for another (a
    live notice, the shutdown's last words) is written in the receiver's language."""
    token = _session.set(language)
    try:
        yield
    finally:
        _session.reset(token)


# POSIX locale names: language[_TERRITORY][.codeset][@modifier], at most a few dozen characters.
_LOCALE = re.compile(
    r"([A-Za-z]{2,3})(?:[_-][A-Za-z0-9]{2,3})?(?:\.[A-Za-z0-9_-]{1,20})?(?:@[A-Za-z0-9]{1,20})?"
)


def from_environment(env: Mapping[str, str]) -> str | None:
    """The language an SSH client asked for with its environment (`SendEnv LANG LC_*`).

    POSIX order: LC_ALL, then LC_MESSAGES, then LANG; the first one set decides. A language
    not offered, a value that is no locale name (C, POSIX, anything odd): None, the default.
    """
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if not value:
            continue
        match = _LOCALE.fullmatch(value) if len(value) <= 64 else None
        if match is None:
            return None
        code = match.group(1).lower()
        return code if code in LANGUAGES else None
    return None
