"""`tickets list|show|new|reply|note|status|assign|attach`: the ticket screens' actions, for scripts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..domain import validation
from ..domain.models import Action, Status, Ticket, TicketFilter, TicketSort, TicketSummary, Urgency
from ..domain.text import safe_text
from ..domain.wording import describe
from ..errors import Forbidden, UserNotFound, ValidationError
from ..handlers.ticket_view import attachment_line
from ..i18n import _
from .base import (
    CommandError,
    CommandIO,
    csv_lines,
    invalid_value,
    iso,
    parse,
    shown_date,
    table,
    ticket_number,
    to_json,
    unquote,
)
from .basic import usage_of

if TYPE_CHECKING:
    from ..context import SessionContext

LIMIT_DEFAULT = 100
LIMIT_MAX = 10_000
PAGE = 200


def _one_of(value: str, kind, usage: str):
    """A status or urgency by its stored (French) value, or by its label in the session's
    language (`--urgency High` in English), in any case."""
    for member in kind:
        if value.casefold() in (member.value.casefold(), member.label.casefold()):
            return member
    raise invalid_value(value, usage)


def _state_json(t: TicketSummary | Ticket) -> dict:
    """What a ticket's line and its full view both say of it: its state and its people."""
    return {
        "status": t.status.value,
        "urgency": t.urgency.value,
        "author": t.author_name,
        "assignee": t.assignee_name,
        "category": t.category_name,
        "place": t.place_name,
    }


def _summary_json(t: TicketSummary) -> dict:
    return {"id": t.id, "title": t.title, **_state_json(t), "created_at": iso(t.created_at)}


async def _assignee_filter(ctx: SessionContext, who: str) -> dict:
    if who == "me":
        return {"assignee": ctx.user}
    if who == "none":
        return {"unassigned": True}
    for user in await ctx.find_users(who):
        if user.email.lower() == who.lower():
            return {"assignee": user}
    raise UserNotFound()


async def list_tickets(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("tickets list")
    found, _rest = parse(
        args,
        usage,
        flags=frozenset({"--all", "--json", "--csv", "--bom"}),
        options=frozenset({"--urgency", "--assignee", "--sort", "--limit"}),
        # `--status En cours`: a label of two words, as `--search` may be several.
        texts=frozenset({"--search", "--status"}),
        exclusive=frozenset({"--json", "--csv"}),
    )
    status = _one_of(str(found["--status"]), Status, usage) if "--status" in found else None
    urgency = _one_of(str(found["--urgency"]), Urgency, usage) if "--urgency" in found else None
    sort = str(found.get("--sort", "urgency"))
    if sort not in {"urgency", "date"}:
        raise invalid_value(sort, usage)
    limit_text = str(found.get("--limit", LIMIT_DEFAULT))
    if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= LIMIT_MAX:
        raise invalid_value(limit_text, usage)
    limit = int(limit_text)
    search = validation.search_text(str(found.get("--search", "")))
    if found.get("--all") or "--assignee" in found:
        people = await _assignee_filter(ctx, str(found["--assignee"])) if "--assignee" in found else {}
        filters = TicketFilter(
            statuses=frozenset({status}) if status else frozenset(),
            urgencies=frozenset({urgency}) if urgency else frozenset(),
            text=search,
            **people,
        )
        order = TicketSort.URGENCY_DESC if sort == "urgency" else TicketSort.DATE_DESC
        items: list[TicketSummary] = []
        page = 1
        while len(items) < limit:
            result = await ctx.search_tickets(filters, order, page=page, page_size=PAGE)
            items += result.items
            if page >= result.pages:
                break
            page += 1
        items = items[:limit]
    else:
        items = [
            t
            for t in await ctx.my_tickets()
            if (status is None or t.status is status)
            and (urgency is None or t.urgency is urgency)
            and search.lower() in t.title.lower()
        ]
        if sort == "urgency":
            rank = {Urgency.HIGH: 0, Urgency.MEDIUM: 1, Urgency.LOW: 2}
            items.sort(key=lambda t: (rank[t.urgency], t.created_at, t.id))
        items = items[:limit]
    if found.get("--json"):
        io.out(to_json([_summary_json(t) for t in items]))
        return
    header = ["id", "status", "urgency", "created_at", "author", "assignee", "category", "title"]
    rows = [
        [
            t.id,
            t.status.value,
            t.urgency.value,
            iso(t.created_at),
            t.author_name,
            t.assignee_name,
            t.category_name,
            t.title,
        ]
        for t in items
    ]
    if found.get("--csv"):
        io.out(("\ufeff" if found.get("--bom") else "") + csv_lines([header, *rows]))
        return
    if not items:
        io.out(_("Aucun ticket.") + "\n")
        return
    io.out(
        table(
            [
                _("N°"),
                _("Statut"),
                _("Urgence"),
                _("Créé le"),
                _("Demandeur"),
                _("Assigné à"),
                _("Catégorie"),
                _("Titre"),
            ],
            [
                [
                    f"#{t.id}",
                    t.status.label,
                    t.urgency.label,
                    shown_date(t.created_at),
                    t.author_name,
                    t.assignee_name or "-",
                    t.category_name or "-",
                    t.title,
                ]
                for t in items
            ],
        )
    )


def _ticket_json(t: Ticket) -> dict:
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        **_state_json(t),
        "due_at": iso(t.due_at) if t.due_at else None,
        "due_paused": t.due_paused,
        "follows": t.follows_id,
        "follow_up": t.follow_up_id,
        # The requester's answer to `Votre avis (1 à 5)`; null: not asked yet, or skipped.
        "rating": None
        if t.rating is None or t.rating.score is None
        else {"score": t.rating.score, "comment": t.rating.comment or None},
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "history": [
            {
                "at": iso(e.created_at),
                "actor": e.actor_name,
                "action": e.action.value,
                "old_status": e.old_status.value if e.old_status else None,
                "new_status": e.new_status.value if e.new_status else None,
                "details": e.details,
                "internal": e.internal,
            }
            for e in t.history
        ],
        "attachments": [
            {
                "name": a.name,
                "size": a.size,
                "type": a.kind,
                "sha256": a.sha256,
                "author": a.author_name,
                "created_at": iso(a.created_at),
            }
            for a in t.attachments
        ],
    }


async def show(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("tickets show")
    found, rest = parse(args, usage, flags=frozenset({"--json"}), words=(1, 1))
    ticket = await ctx.ticket(ticket_number(rest[0], usage))
    if found.get("--json"):
        io.out(to_json(_ticket_json(ticket)))
        return
    lines = [
        _("Ticket #{id} — {title}").format(id=ticket.id, title=safe_text(ticket.title)),
        _("Statut : {status}    Urgence : {urgency}").format(
            status=ticket.status.label, urgency=ticket.urgency.label
        ),
        _("Demandeur : {name}").format(name=safe_text(ticket.author_name)),
        _("Assigné à : {name}").format(name=safe_text(ticket.assignee_name or "-")),
        _("Catégorie : {name}").format(name=safe_text(ticket.category_name or "-")),
        _("Lieu : {name}").format(name=safe_text(ticket.place_name or "-")),
        "",
        safe_text(ticket.description, multiline=True),
        "",
    ]
    if ticket.attachments:
        lines.append(_("Pièces jointes"))
        for item in ticket.attachments:
            lines += [
                "  " + safe_text(attachment_line(item)),
                "    " + safe_text(ctx.files.fetch_command(item)),
            ]
        lines.append("")
    for entry in ticket.history:
        lines.append(safe_text(describe(entry)))
        if entry.action in (Action.REPLY, Action.NOTE) and entry.details:
            lines += ["  " + line for line in safe_text(entry.details, multiline=True).splitlines()]
    io.out("\n".join(lines) + "\n")


async def new(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("tickets new")
    found, _rest = parse(
        args,
        usage,
        options=frozenset({"--urgency"}),
        texts=frozenset({"--title", "--category"}),
        required=frozenset({"--title", "--urgency"}),
    )
    urgency = _one_of(str(found["--urgency"]), Urgency, usage)
    # Checked before reading a long description for nothing.
    title = validation.title(str(found["--title"]))
    category_id = None
    if "--category" in found:
        named = unquote(str(found["--category"])).casefold()
        offered = {c.name.casefold(): c.id for c in await ctx.offered_categories()}
        if named not in offered:
            raise CommandError(
                _("Catégorie inconnue : {name}. Usage : {usage}").format(
                    name=safe_text(str(found["--category"])), usage=usage
                )
            )
        category_id = offered[named]
    description = await io.read_stdin()
    # No one to ask: the place is the one of the client's address, if a network maps it.
    here = await ctx.place_of_address()
    ticket_id = await ctx.create_ticket(
        title, description, urgency, category_id=category_id, place_id=here.id if here else None
    )
    io.out(f"{ticket_id}\n")


async def _text_change(ctx: SessionContext, io: CommandIO, args: list[str], name: str) -> None:
    usage = usage_of(name)
    _found, rest = parse(args, usage, words=(1, 1))
    number = ticket_number(rest[0], usage)
    # Who may is checked before reading: a refusal does not wait for the text.
    ticket = await ctx.ticket(number)
    if name == "tickets note" and not ctx.can_add_note(ticket):
        raise Forbidden()
    if name == "tickets reply":
        ctx.check_reply(ticket)
    text = await io.read_stdin()
    if name == "tickets reply":
        await ctx.reply(number, text)
    else:
        await ctx.add_note(number, text)


async def reply(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    await _text_change(ctx, io, args, "tickets reply")


async def note(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    await _text_change(ctx, io, args, "tickets note")


def _number_and_words(args: list[str], name: str) -> tuple[int, str, str]:
    """`NUMÉRO WORDS…` of command `name`: the ticket's number, the words after it, the usage."""
    usage = usage_of(name)
    _found, rest = parse(args, usage, words=(2, None))
    return ticket_number(rest[0], usage), unquote(" ".join(rest[1:])), usage


async def status(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    number, label, usage = _number_and_words(args, "tickets status")
    await ctx.change_status(number, _one_of(label, Status, usage))


async def assign(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    usage = usage_of("tickets assign")
    _found, rest = parse(args, usage, words=(2, 2))
    number, who = ticket_number(rest[0], usage), rest[1]
    if who == "me":
        await ctx.take(number)
    elif who == "none":
        await ctx.assign(number, None)
    else:
        await ctx.ticket(number)  # not found first, as for every other change
        for user in await ctx.assignees():
            if user.email.lower() == who.lower():
                await ctx.assign(number, user.id)
                return
        raise ValidationError(_("Seul un administrateur peut prendre un ticket en charge."))


async def attach(ctx: SessionContext, io: CommandIO, args: list[str]) -> None:
    """A file from stdin attached to a ticket, block by block, as over scp; its name printed."""
    number, name, _usage = _number_and_words(args, "tickets attach")
    # Asked for before the first wait, so that bytes arriving meanwhile wait in the channel.
    pieces = await io.stream_stdin()
    upload = await ctx.files.upload(number, name)
    try:
        async for piece in pieces:
            await upload.write(upload.size, piece)
        item = await upload.finish()
    except BaseException:
        await asyncio.shield(upload.abort())
        raise
    io.out(safe_text(item.name) + "\n")
