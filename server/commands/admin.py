"""`export` and `users list` (admins)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain.models import ExportedTicket
from ..domain.text import safe_text
from ..i18n import _
from .base import CommandError, CommandIO, csv_lines, iso, parse, shown_date, table, to_json, usage_error
from .basic import usage_of

if TYPE_CHECKING:
    from ..context import SessionContext

EXPORT_HEADER = [
    "id",
    "title",
    "status",
    "urgency",
    "author",
    "author_email",
    "assignee_email",
    "created_at",
    "updated_at",
    "replies",
    "notes",
]


def _fields(t: ExportedTicket) -> list:
    return [
        t.id,
        t.title,
        t.status.value,
        t.urgency.value,
        t.author_name,
        t.author_email,
        t.assignee_email,
        iso(t.created_at),
        iso(t.updated_at),
        t.replies,
        t.notes,
    ]


async def export(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("export")
    found, _rest = parse(args, usage, flags=frozenset({"--bom"}), options=frozenset({"--format", "--since"}))
    fmt = str(found.get("--format", "csv"))
    if fmt not in {"csv", "json"}:
        raise usage_error(usage)
    since = None
    if "--since" in found:
        try:
            since = datetime.strptime(str(found["--since"]), "%Y-%m-%d")
        except ValueError:
            raise CommandError(
                _("Date invalide : {value} (attendu AAAA-MM-JJ).").format(
                    value=safe_text(str(found["--since"]))
                )
            ) from None
    first = True
    if fmt == "csv":
        io.out(("\ufeff" if found.get("--bom") else "") + csv_lines([EXPORT_HEADER]))
    else:
        io.out("[")
    async for batch in ctx.export_tickets(since):
        if fmt == "csv":
            io.out(csv_lines([_fields(t) for t in batch]))
        else:
            parts = [
                json.dumps(dict(zip(EXPORT_HEADER, _fields(t), strict=True)), ensure_ascii=False)
                for t in batch
            ]
            io.out(("\n" if first else ",\n") + ",\n".join(parts))
            first = False
        # Waits while the client is behind: what is buffered stays one batch or so.
        await io.drain()
    if fmt == "json":
        io.out("\n]\n")


async def users(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("users list")
    found, rest = parse(
        args,
        usage,
        flags=frozenset({"--json", "--csv", "--bom"}),
        words=(1, 1),
        exclusive=frozenset({"--json", "--csv"}),
    )
    if rest != ["list"]:
        raise usage_error(usage)
    people = []
    offset = 0
    while True:
        page = await ctx.list_users(offset=offset, limit=200)
        people += page.users
        offset = page.offset + len(page.users)
        if not page.users or offset >= page.total:
            break
    header = ["email", "name", "role", "created_at", "tickets"]
    rows = [
        [s.user.email, s.user.name, s.user.role.value, iso(s.user.created_at), s.ticket_count] for s in people
    ]
    if found.get("--json"):
        io.out(to_json([dict(zip(header, row, strict=True)) for row in rows]))
    elif found.get("--csv"):
        io.out(("\ufeff" if found.get("--bom") else "") + csv_lines([header, *rows]))
    else:
        io.out(
            table(
                [_("E-mail"), _("Nom"), _("Rôle"), _("Créé le"), _("Tickets")],
                [
                    [
                        s.user.email,
                        s.user.name,
                        s.user.role.value,
                        shown_date(s.user.created_at),
                        s.ticket_count,
                    ]
                    for s in people
                ],
            )
        )
