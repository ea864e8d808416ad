"""Ticket screens: the lists, one ticket, and what can be done on it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..context import SessionContext
from ..domain import validation
from ..domain.models import Attachment, Status, Ticket, TicketSummary, User
from ..errors import DatabaseUnavailable, ServiceRestarting, UserError
from ..i18n import _
from ..ui.columns import Column
from ..ui.screens import FieldLeft, confirm, menu
from ..ui.table import table
from ..ui.terminal import Terminal
from .attachment_screens import delete_attachment, read_attachment
from .canned import CANNED_KEY, canned_hint, insert_canned
from .categories import change_category
from .common import Notice, ask_valid
from .places import change_place
from .ticket_columns import (
    ASSIGNEE,
    ASSIGNEE_NAMED,
    AUTHOR,
    AUTHOR_KEPT,
    CATEGORY,
    DATE,
    NUMBER,
    PLACE,
    STATUS,
    TITLE,
    URGENCY,
)
from .ticket_view import ticket_body, ticket_head


async def ticket_list(term: Terminal, ctx: SessionContext) -> Notice:
    """`Mes tickets`: a list that stays open; each ticket opened from it comes back to it."""
    return await _browse(
        term,
        ctx,
        _("Mes tickets"),
        ctx.my_tickets,
        with_author=False,
        empty=_("Aucun ticket pour l'instant."),
    )


async def assigned_list(term: Terminal, ctx: SessionContext) -> Notice:
    """`Mes tickets assignés`: the admin's own open tickets to handle."""
    return await _browse(
        term,
        ctx,
        _("Mes tickets assignés"),
        ctx.assigned_tickets,
        with_author=True,
        with_assignee=False,
        empty=_("Aucun ticket ouvert ne vous est assigné."),
    )


async def _browse(
    term: Terminal,
    ctx: SessionContext,
    title: str,
    load: Callable[[], Awaitable[list[TicketSummary]]],
    *,
    with_author: bool,
    with_assignee: bool = True,
    empty: str,
) -> Notice:
    notice = Notice()
    columns = _columns(with_author, with_assignee)
    while True:
        chosen = await table(
            term,
            title,
            columns,
            await load(),
            key=lambda t: t.id,
            prompt=_("Numéro du ticket : "),
            hints=_("Numéro puis Entrée, ou ↑↓ puis Entrée : ouvrir · 0 ou Échap : retour"),
            empty=empty,
            position=lambda shown: _("{n} ticket(s)").format(n=len(shown)),
            reload=load,
            marked=lambda t: t.unread,
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            notice = await ticket_screen(term, ctx, chosen[1], Notice())
        except UserError as exc:
            notice = Notice.fail(exc.message)


def _columns(with_author: bool, with_assignee: bool = True) -> list[Column]:
    columns = [NUMBER, TITLE]
    if with_author:
        columns.append(AUTHOR if with_assignee else AUTHOR_KEPT)
    if with_assignee:
        columns.append(ASSIGNEE if with_author else ASSIGNEE_NAMED)
    return [*columns, URGENCY, STATUS, CATEGORY, DATE, PLACE]


@dataclass
class TicketView:
    """What one ticket's screen holds between its menu's showings."""

    # The ticket as drawn, and as its menu's entries are offered.
    ticket: Ticket
    # What the last action said; it goes once the ticket changes under it (« Statut changé :
    # Résolu. » would contradict a reopening shown in the timeline).
    said: Notice
    # Which showing of the menu a reload belongs to: one finishing after the user has acted
    # must not put back the ticket as it was before the action.
    showing: int = 0
    # The command that fetches an attachment, shown under it.
    fetch: Callable[[Attachment], str] | None = None
    # History entries that were on screen or came with the user's own actions, and those that
    # arrived as news while the ticket was open: marked until the ticket is left.
    known: set[int] = field(default_factory=set)
    news: set[int] = field(default_factory=set)
    # The ticket's head and body, wrapped once per ticket and width.
    _drawn: tuple[Ticket, int, list, list] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.seen(self.ticket)

    def seen(self, ticket: Ticket) -> None:
        """`ticket` is on screen after the user's own doing: its entries are no news."""
        self.known |= {e.id for e in ticket.history} - self.news

    def arrived(self, ticket: Ticket) -> bool:
        """`ticket` came as news: whether it brought entries not shown before."""
        fresh = {e.id for e in ticket.history} - self.known - self.news
        self.news |= fresh
        return bool(fresh)

    def _wrapped(self, width: int) -> tuple[Ticket, int, list, list]:
        # Not at every redraw: a long conversation would otherwise cost each key press a full
        # wrap, on the loop every session shares.
        if self._drawn is None or self._drawn[0] is not self.ticket or self._drawn[1] != width:
            marked = frozenset(self.news)
            self._drawn = (
                self.ticket,
                width,
                ticket_head(self.ticket, width),
                [[], *ticket_body(self.ticket, width, self.fetch, marked)],
            )
        return self._drawn

    def head(self, width: int) -> list:
        return self._wrapped(width)[2]

    def lines(self, width: int) -> list:
        return self._wrapped(width)[3]


async def ticket_screen(
    term: Terminal, ctx: SessionContext, ticket_id: int, notice: Notice, ticket: Ticket | None = None
) -> Notice:
    """One ticket and its timeline (`ticket` if already loaded); the actions the context allows
    are offered below it."""
    view = TicketView(ticket or await ctx.open_ticket(ticket_id), notice, fetch=ctx.files.fetch_command)

    async def reload() -> bool:
        # News while the ticket is on screen: what is drawn is what has been seen.
        mine = view.showing
        fresh = await ctx.ticket(ticket_id)
        if mine != view.showing:
            return False
        if fresh != view.ticket:
            view.said = Notice()
        added = view.arrived(fresh)
        view.ticket = fresh
        await ctx.mark_read(fresh)
        return added

    # After a change of status, assignee or category the ticket's head (where it shows) stays
    # in view; a reply, note or reopening is shown where it went, at the end of the timeline.
    to_end = False
    while True:
        choice = await menu(
            term,
            _("Ticket #{id}").format(id=ticket_id),
            # The entries follow the ticket's news (`Le problème persiste` once it is resolved).
            lambda: ticket_actions(ctx, view.ticket),
            head=view.head,
            body=view.lines,
            body_at_end=to_end,
            refresh=reload,
            notice=lambda: view.said.text,
            error=lambda: view.said.error,
        )
        view.showing += 1
        ticket = view.ticket
        if choice is None:
            return Notice()
        to_end = choice in ("reply", "reopen", "note")
        try:
            fresh, view.said = await TICKET_ACTIONS[choice](term, ctx, ticket)
        except UserError as exc:
            view.said = Notice.fail(exc.message)
            # Someone may have changed the ticket meanwhile: offer what fits it as it is now.
            view.ticket = await ctx.open_ticket(ticket_id)
            view.seen(view.ticket)
            continue
        # What came with the action (others' entries too) has been seen; if that cannot be
        # written, the action still is, and only its unread marker waits for the next opening.
        with contextlib.suppress(UserError):
            await ctx.mark_read(fresh)
        # Drawn from the next showing of the menu on: keys pressed before it (while the marker
        # is written) would go to a menu already answered.
        view.seen(fresh)
        view.ticket = fresh


def ticket_actions(ctx: SessionContext, ticket: Ticket) -> list[tuple[str, str]]:
    """The entries of a ticket's menu, as the context allows them to this user."""
    items: list[tuple[str, str]] = []
    # `Changer le statut` stays first for admins: their habits and scripts press 1 for it.
    if ctx.can_change_status(ticket):
        items.append(("status", _("Changer le statut")))
    if ctx.can_reply(ticket):
        items.append(("reply", _("Répondre")))
    if ctx.can_reopen(ticket):
        items.append(("reopen", _("Le problème persiste")))
    if ctx.can_add_note(ticket):
        items.append(("note", _("Note interne")))
    if ctx.can_assign(ticket):
        if ctx.can_take(ticket):
            items.append(("take", _("Prendre en charge")))
        items.append(("assign", _("Assigner à…")))
        if ticket.assignee_id is not None:
            items.append(("unassign", _("Retirer l'assignation")))
    if ctx.can_change_category(ticket):
        items.append(("category", _("Changer la catégorie")))
    if any(a.kind == "text/plain" for a in ticket.attachments):
        items.append(("read_file", _("Lire une pièce jointe")))
    if ctx.can_delete_attachment(ticket):
        items.append(("delete_file", _("Supprimer une pièce jointe")))
    if ctx.can_change_place(ticket):
        items.append(("place", _("Changer le lieu")))
    return items


async def reply(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    # The status of the last canned answer inserted, set with the reply when it is sent.
    status: list[Status | None] = [None]

    async def canned(left: FieldLeft) -> tuple[str, str]:
        text, answer = await insert_canned(term, ctx, ticket, left)
        if answer is not None and answer.status is not None:
            status[0] = answer.status
        if status[0] is None or status[0] is ticket.status:
            return text, ""
        return text, _("À l'envoi, le ticket passera à « {status} ».").format(status=status[0].label)

    sent = await _send_message(
        term,
        _("Ticket #{id} : répondre").format(id=ticket.id),
        _("Réponse"),
        validation.reply,
        _("(visible du demandeur et du support, {max} caractères au plus)"),
        lambda text: ctx.reply(ticket.id, text, status[0]),
        canned=canned if ctx.can_use_canned(ticket) else None,
    )
    if sent is None:
        return ticket, Notice(_("Réponse abandonnée."))
    if status[0] is not None and sent.status is status[0] and ticket.status is not status[0]:
        return sent, Notice(_("Réponse envoyée ; statut changé : {status}.").format(status=status[0].label))
    return sent, Notice(_("Réponse envoyée."))


async def add_note(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    sent = await _send_message(
        term,
        _("Ticket #{id} : note interne").format(id=ticket.id),
        _("Note interne"),
        validation.note,
        _("(visible des seuls administrateurs, {max} caractères au plus)"),
        lambda text: ctx.add_note(ticket.id, text),
    )
    if sent is None:
        return ticket, Notice(_("Note abandonnée."))
    return sent, Notice(_("Note interne ajoutée."))


async def reopen(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    sent = await _send_message(
        term,
        _("Ticket #{id} : le problème persiste").format(id=ticket.id),
        _("Réponse"),
        validation.reply,
        _("(dites ce qui ne va toujours pas ; {max} caractères au plus)"),
        lambda text: ctx.reopen(ticket.id, text),
    )
    if sent is None:
        return ticket, Notice(_("Ticket laissé « Résolu »."))
    return sent, Notice(_("Réponse envoyée : le ticket repasse « En cours »."))


async def _send_message(
    term: Terminal,
    title: str,
    label: str,
    rule: Callable[[str], str],
    help_text: str,
    send: Callable[[str], Awaitable[Ticket]],
    *,
    canned: Callable[[FieldLeft], Awaitable[tuple[str, str]]] | None = None,
) -> Ticket | None:
    """Ask a message and send it; when the database or a restart refuses it for now, the
    message stays in its field with the sentence, to be sent again or abandoned.

    With `canned`, its key leaves the field for the canned answers and comes back with the
    text it gives (and a warning to show above the field: what sending will also do)."""
    notice, typed, warning = Notice(), "", ""
    while True:
        text = await ask_valid(
            term,
            title,
            label,
            [],
            rule,
            notice=notice,
            multiline=True,
            help_text=help_text.format(max=validation.MESSAGE_MAX),
            max_chars=validation.MESSAGE_MAX,
            warning=warning,
            **({"extra_key": (CANNED_KEY, canned_hint())} if canned else {}),
            **({"default": typed} if typed else {}),
        )
        if text is None:
            return None
        if isinstance(text, FieldLeft):
            assert canned is not None
            try:
                typed, warning = await canned(text)
                notice = Notice()
            except UserError as exc:
                typed, notice = text.text, Notice.fail(exc.message)
            continue
        try:
            return await send(text)
        except (DatabaseUnavailable, ServiceRestarting) as exc:
            notice, typed = Notice.fail(exc.message), text


async def take(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    ticket = await ctx.take(ticket.id)
    return ticket, Notice(_("Vous prenez le ticket #{id} en charge.").format(id=ticket.id))


async def assign(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    admins = await ctx.assignees()
    current = _(" (actuel)")
    chosen: User | None = await menu(
        term,
        _("Ticket #{id} : assigner à…").format(id=ticket.id),
        [(a, a.name + (current if a.id == ticket.assignee_id else "")) for a in admins],
        body=lambda width: [[("class:label", _("Administrateur :"))]],
    )
    if chosen is None:
        return ticket, Notice()
    ticket = await ctx.assign(ticket.id, chosen.id)
    return ticket, Notice(_("Ticket assigné à {name}.").format(name=chosen.name))


async def unassign(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    ticket = await ctx.assign(ticket.id, None)
    return ticket, Notice(_("Le ticket n'est plus assigné."))


async def change_status(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    title = _("Ticket #{id} : changer le statut").format(id=ticket.id)
    current = _(" (actuel)")
    status = await menu(
        term,
        title,
        [(s, s.label + (current if s is ticket.status else "")) for s in Status],
        body=lambda width: [[("class:label", _("Nouveau statut :"))]],
    )
    if status is None:
        return ticket, Notice()
    question = _("Passer le ticket #{id} de « {old} » à « {new} » ?").format(
        id=ticket.id, old=ticket.status.label, new=status.label
    )
    if not await confirm(term, title, question):
        return ticket, Notice(_("Changement annulé."))
    ticket = await ctx.change_status(ticket.id, status)
    return ticket, Notice(_("Statut changé : {status}.").format(status=status.label))


TICKET_ACTIONS: dict[str, Callable[[Terminal, SessionContext, Ticket], Awaitable[tuple[Ticket, Notice]]]] = {
    "status": change_status,
    "reply": reply,
    "reopen": reopen,
    "note": add_note,
    "take": take,
    "assign": assign,
    "unassign": unassign,
    "category": change_category,
    "delete_file": delete_attachment,
    "read_file": read_attachment,
    "place": change_place,
}
