"""Commands run as `ssh -l EMAIL host COMMAND …`: a handler of another kind over the same context."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..domain.text import loggable, safe_text
from ..errors import (
    AccountDeleted,
    DatabaseUnavailable,
    Forbidden,
    NotFound,
    ServiceRestarting,
    UserError,
    UserNotFound,
)
from ..i18n import N_, _
from . import admin, basic, tickets
from .base import OK, REFUSED, UNAVAILABLE, USAGE, CommandError, CommandIO, usage_error

if TYPE_CHECKING:
    from ..context import SessionContext

log = logging.getLogger("support.commands")

Command = Callable[["SessionContext", CommandIO, list[str]], Awaitable[None]]

# By their first word, then (for groups) their second.
COMMANDS: dict[str, Command | dict[str, Command]] = {
    "help": basic.help_command,
    "whoami": basic.whoami,
    "tickets": {
        "list": tickets.list_tickets,
        "show": tickets.show,
        "new": tickets.new,
        "reply": tickets.reply,
        "note": tickets.note,
        "status": tickets.status,
        "assign": tickets.assign,
        "attach": tickets.attach,
    },
    "export": admin.export,
    "users": admin.users,
}

# The longest command line taken (OpenSSH joins the words with spaces).
COMMAND_MAX = 4096

RESTARTING = N_("Le service redémarre : rien n'a été enregistré, réessayez dans un instant.")
GUEST = N_("Les commandes demandent un compte : connectez-vous avec votre e-mail (ssh -l EMAIL …).")

__all__ = [
    "COMMANDS",
    "GUEST",
    "OK",
    "REFUSED",
    "UNAVAILABLE",
    "CommandError",
    "CommandIO",
    "run",
]


def _find(words: list[str]) -> tuple[Command, list[str]]:
    if not words:
        raise CommandError(_("Aucune commande. Tapez : help"))
    entry = COMMANDS.get(words[0])
    if isinstance(entry, dict):
        if len(words) < 2 or words[1] not in entry:
            usages = [_(u) for c, u in basic.USAGES.items() if c.startswith(words[0] + " ")]
            raise usage_error(" | ".join(usages))
        return entry[words[1]], words[2:]
    if entry is None:
        raise CommandError(
            _("Commande inconnue : {name}. Tapez : help").format(name=safe_text(words[0][:60]))
        )
    return entry, words[1:]


def status_of(exc: UserError) -> int:
    if isinstance(exc, DatabaseUnavailable | ServiceRestarting):
        return UNAVAILABLE
    if isinstance(exc, NotFound | Forbidden | UserNotFound | AccountDeleted):
        return REFUSED
    return USAGE


async def run(ctx: SessionContext, io: CommandIO, line: str, error: Callable[[str], None]) -> int:
    """Run one command line for the session's user; its exit status (errors told to `error`)."""
    try:
        if len(line) > COMMAND_MAX:
            raise CommandError(_("Commande trop longue."))
        command, args = _find(line.split())
        await command(ctx, io, args)
    except CommandError as exc:
        error(exc.message)
        return exc.status
    except ServiceRestarting:
        # The screens' sentence speaks of a form kept; a script keeps its own input.
        error(_(RESTARTING))
        return UNAVAILABLE
    except UserError as exc:
        error(exc.message)
        return status_of(exc)
    ctx.log("command done: %s", loggable(" ".join(line.split()[:2]), 60))
    return OK
