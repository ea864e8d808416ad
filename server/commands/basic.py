"""`help` and `whoami`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.text import safe_text
from ..i18n import _
from .base import CommandError, CommandIO, parse, to_json

if TYPE_CHECKING:
    from ..context import SessionContext

# Each command's usage line, by the name it is called with (`help tickets list`).
USAGES: dict[str, str] = {
    "help": "help [COMMANDE]",
    "whoami": "whoami [--json]",
    "tickets list": (
        "tickets list [--all] [--status S] [--urgency U] [--assignee me|none|EMAIL] "
        "[--search TEXTE] [--sort urgency|date] [--limit N] [--json|--csv [--bom]]"
    ),
    "tickets show": "tickets show N [--json]",
    "tickets new": "tickets new --title TITRE --urgency Faible|Moyenne|Haute [--category NOM] < description",
    "tickets reply": "tickets reply N < message",
    "tickets note": "tickets note N < note",
    "tickets status": "tickets status N 'En attente'|'En cours'|Résolu",
    "tickets assign": "tickets assign N EMAIL|me|none",
    "tickets attach": "tickets attach N NOM < fichier",
    "export": "export [--format csv|json] [--since AAAA-MM-JJ] [--bom]",
    "users list": "users list [--json|--csv [--bom]]",
}

ADMIN_ONLY = frozenset({"tickets note", "tickets status", "tickets assign", "export", "users list"})


async def help_command(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    if args:
        name = " ".join(args)
        matching = [usage for cmd, usage in USAGES.items() if cmd == name or cmd.startswith(name + " ")]
        if not matching:
            raise CommandError(
                _("Commande inconnue : {name}. Tapez : help").format(name=safe_text(name[:60]))
            )
        io.out("".join(f"{usage}\n" for usage in matching))
        return
    admin = ctx.can_list_all()
    lines = [_("Commandes (ssh … COMMANDE) :")]
    lines += [f"  {usage}" for cmd, usage in USAGES.items() if admin or cmd not in ADMIN_ONLY]
    io.out("\n".join(lines) + "\n")


async def whoami(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    found, rest = parse(args, USAGES["whoami"], flags=frozenset({"--json"}))
    if rest:
        raise CommandError(_("Usage : {usage}").format(usage=USAGES["whoami"]))
    user = ctx.user
    assert user is not None
    if found.get("--json"):
        io.out(to_json({"email": user.email, "name": user.name, "role": user.role.value}))
    else:
        io.out(f"{safe_text(user.name)} <{safe_text(user.email)}> ({user.role.value})\n")
