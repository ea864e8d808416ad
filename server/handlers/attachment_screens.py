"""A ticket's attachments on screen: a text file read in the console, one deleted (admins)."""

from __future__ import annotations

from prompt_toolkit.formatted_text import StyleAndTextTuples

from ..context import TEXT_SHOWN_MAX, SessionContext
from ..domain.models import Attachment, Ticket
from ..i18n import _
from ..ui.screens import confirm, menu
from ..ui.terminal import Terminal
from ..ui.text import wrap
from .common import Notice
from .ticket_view import attachment_line


async def _pick(term: Terminal, title: str, items: list[Attachment]) -> Attachment | None:
    if len(items) == 1:
        return items[0]
    return await menu(
        term,
        title,
        [(a, attachment_line(a)) for a in items],
        body=lambda width: [[("class:label", _("Pièce jointe :"))]],
    )


async def read_attachment(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """`Lire une pièce jointe`: a text file's beginning, sanitised like every other text."""
    title = _("Ticket #{id} : lire une pièce jointe").format(id=ticket.id)
    item = await _pick(term, title, [a for a in ticket.attachments if a.kind == "text/plain"])
    if item is None:
        return ticket, Notice()
    item, text, more = await ctx.files.read_text(ticket.id, item.id)
    wrapped: dict[int, list[StyleAndTextTuples]] = {}

    def lines(width: int) -> list[StyleAndTextTuples]:
        # Wrapped once per width: the file may be long, and a redraw comes with each key.
        if width not in wrapped:
            wrapped.clear()
            head = [[("class:label", line)] for line in wrap(attachment_line(item), width, multiline=False)]
            wrapped[width] = [*head, [], *[[("", line)] for line in wrap(text, width)]]
        return wrapped[width]

    cut = _("Seuls les {n} premiers Kio sont affichés : scp ramène le fichier entier.")
    await menu(
        term,
        _("Ticket #{id} : {name}").format(id=ticket.id, name=item.name),
        [],
        body=lines,
        notice=cut.format(n=TEXT_SHOWN_MAX // 1024) if more else "",
    )
    return ticket, Notice()


async def delete_attachment(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    """`Supprimer une pièce jointe` (admins): the file chosen, confirmed, deleted."""
    title = _("Ticket #{id} : supprimer une pièce jointe").format(id=ticket.id)
    item = await _pick(term, title, list(ticket.attachments))
    if item is None:
        return ticket, Notice()
    question = _("Supprimer « {name} » du ticket #{id} ? Le fichier sera perdu.").format(
        name=item.name, id=ticket.id
    )
    if not await confirm(term, title, question):
        return ticket, Notice(_("Suppression annulée."))
    ticket = await ctx.files.delete(ticket.id, item.id)
    return ticket, Notice(_("Pièce jointe « {name} » supprimée.").format(name=item.name))
