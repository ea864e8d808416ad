"""What the screens share: the feedback line carried to the next screen, a validated field."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import validation
from ..errors import UserError
from ..i18n import N_, _
from ..ui.screens import FieldLeft, ask
from ..ui.terminal import Terminal


@dataclass(frozen=True)
class Notice:
    text: str = ""
    error: bool = False

    @classmethod
    def fail(cls, text: str) -> Notice:
        return cls(text, True)

    def kwargs(self) -> dict:
        return {"notice": self.text, "error": self.error}


async def ask_valid(
    term: Terminal,
    title: str,
    label: str,
    previous: Sequence[tuple[str, str]],
    rule: Callable[[str], Any],
    *,
    notice: Notice = Notice(),
    **options: Any,
) -> Any:
    """Ask one field until `rule` accepts it, showing each refusal above the field.

    Returns what `rule` returns, None if the user cancels, or the FieldLeft of an `extra_key`.
    """
    while True:
        value = await ask(term, title, label, previous=previous, **notice.kwargs(), **options)
        if value is None or isinstance(value, FieldLeft):
            return value
        try:
            return rule(value)
        except UserError as exc:
            notice = Notice.fail(exc.message)
            if not options.get("password"):
                options["default"] = value


# What a password field already filled shows in the list of answers above the next field.
HIDDEN = "••••••••"


async def password(
    term: Terminal, title: str, label: str, previous: Sequence[tuple[str, str]] = ()
) -> str | None:
    """A password typed hidden, under what was asked before it; None if cancelled."""
    return await ask(
        term, title, label, previous=previous, password=True, max_chars=validation.PASSWORD_MAX_BYTES
    )


async def new_password(
    term: Terminal, title: str, done: list[tuple[str, str]], label: str = N_("Mot de passe")
) -> str | None:
    """A new password typed twice, asked again until both entries match; None if abandoned."""
    label = _(label)
    notice = Notice()
    while True:
        password = await ask_valid(
            term,
            title,
            label,
            done,
            validation.new_password,
            notice=notice,
            password=True,
            help_text=_("(8 caractères au moins)"),
            max_chars=validation.PASSWORD_MAX_BYTES,
        )
        if password is None:
            return None
        confirmation = await ask(
            term,
            title,
            _("Confirmation"),
            previous=[*done, (label, HIDDEN)],
            password=True,
            max_chars=validation.PASSWORD_MAX_BYTES,
        )
        if confirmation is None:
            return None
        try:
            validation.password_confirmation(password, confirmation)
            return password
        except UserError as exc:
            notice = Notice.fail(exc.message)
