"""`help` and `whoami`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.text import safe_text
from ..i18n import N_, _
from .base import CommandError, CommandIO, parse, to_json

if TYPE_CHECKING:
    from ..context import SessionContext

# Each command's usage line, by the name it is called with (`help tickets list`); marked with
# N_(): shown through _(), its placeholders (TITRE, NOM) in the session's language.
USAGES: dict[str, str] = {
    "help": N_("help [COMMANDE]"),
    "whoami": N_("whoami [--json]"),
    "tickets list": N_(
        "tickets list [--all] [--status S] [--urgency U] [--assignee me|none|EMAIL] "
        "[--search TEXTE] [--sort urgency|date] [--limit N] [--json|--csv [--bom]]"
    ),
    "tickets show": N_("tickets show N [--json]"),
    "tickets new": N_(
        "tickets new --title TITRE --urgency Faible|Moyenne|Haute [--category NOM] < description"
    ),
    "tickets reply": N_("tickets reply N < message"),
    "tickets note": N_("tickets note N < note"),
    "tickets status": N_("tickets status N 'En attente'|'En cours'|Résolu"),
    "tickets assign": N_("tickets assign N EMAIL|me|none"),
    "tickets attach": N_("tickets attach N NOM < fichier"),
    "export": N_("export [--format csv|json] [--since AAAA-MM-JJ] [--bom]"),
    "users list": N_("users list [--json|--csv [--bom]]"),
    # Sessions rather than commands: what `ssh -T` without a command gives, and a prompt.
    "menus": N_("menus   (les écrans en lignes, ce que donne ssh -T sans commande)"),
    "shell": N_("shell   (une commande par ligne, quit pour terminer)"),
}


def usage_of(name: str) -> str:
    """A command's usage line in the session's language."""
    return _(USAGES[name])


ADMIN_ONLY = frozenset({"tickets note", "tickets status", "tickets assign", "export", "users list"})


async def help_command(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    if args:
        name = " ".join(args)
        matching = [usage for cmd, usage in USAGES.items() if cmd == name or cmd.startswith(name + " ")]
        if not matching:
            raise CommandError(
                _("Commande inconnue : {name}. Tapez : help").format(name=safe_text(name[:60]))
            )
        io.out("".join(f"{_(usage)}\n" for usage in matching))
        return
    admin = ctx.can_list_all()
    lines = [_("Commandes (ssh … COMMANDE) :")]
    lines += [f"  {_(usage)}" for cmd, usage in USAGES.items() if admin or cmd not in ADMIN_ONLY]
    io.out("\n".join(lines) + "\n")


async def whoami(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    found, _rest = parse(args, usage_of("whoami"), flags=frozenset({"--json"}))
    user = ctx.user
    assert user is not None
    if found.get("--json"):
        io.out(to_json({"email": user.email, "name": user.name, "role": user.role.value}))
    else:
        io.out(f"{safe_text(user.name)} <{safe_text(user.email)}> ({_(user.role.value)})\n")
