"""Ticket screens: main menu, new ticket, lists, one ticket, status change."""

from __future__ import annotations

from datetime import datetime

from prompt_toolkit.formatted_text import StyleAndTextTuples

from .. import validation
from ..context import SessionContext
from ..errors import UserError
from ..i18n import _
from ..models import Action, HistoryEntry, Status, Ticket, TicketSummary, Urgency
from ..ui.screens import confirm, menu, ticket_table
from ..ui.terminal import Terminal, wrap
from .common import Notice, ask_valid
from .dashboard import show_dashboard
from .finder import find_tickets
from .profile import my_account
from .users import users_list


def when(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


async def main_menu(term: Terminal, ctx: SessionContext, notice: Notice) -> Notice | None:
    """The logged-in home; returns after logout (None) or with a notice for the next round."""
    items = [("new", _("Nouveau ticket")), ("mine", _("Mes tickets"))]
    if ctx.can_list_all():
        items.append(("all", _("Tous les tickets")))
    if ctx.can_view_dashboard():
        items.append(("dashboard", _("Tableau de bord")))
    if ctx.can_manage_users():
        items.append(("users", _("Utilisateurs")))
    items.append(("account", _("Mon compte")))
    items.append(("logout", _("Déconnexion")))
    choice = await menu(
        term, _("Menu principal"), items, back_label=None, back_hint=_("déconnexion"), **notice.kwargs()
    )
    try:
        match choice:
            case "new":
                return await new_ticket(term, ctx)
            case "mine":
                return await ticket_list(term, ctx, all_tickets=False)
            case "all":
                return await find_tickets(term, ctx, ticket_screen)
            case "dashboard":
                return await show_dashboard(term, ctx)
            case "users":
                return await users_list(term, ctx)
            case "account":
                return await my_account(term, ctx)
    except UserError as exc:
        return Notice.fail(exc.message)
    ctx.logout()
    return None


async def new_ticket(term: Terminal, ctx: SessionContext) -> Notice:
    title_text = _("Nouveau ticket")
    title = await ask_valid(
        term, title_text, _("Titre"), [], validation.title,
        help_text=_("(une ligne, {max} caractères au plus)").format(max=validation.TITLE_MAX),
        max_chars=validation.TITLE_MAX,
    )
    if title is None:
        return Notice(_("Ticket abandonné."))
    description = await ask_valid(
        term, title_text, _("Description"), [(_("Titre"), title)], validation.description,
        multiline=True,
        help_text=_("({max} caractères au plus)").format(max=validation.DESCRIPTION_MAX),
        max_chars=validation.DESCRIPTION_MAX,
    )
    if description is None:
        return Notice(_("Ticket abandonné."))
    urgency = await menu(
        term,
        title_text,
        [(u, u.value) for u in Urgency],
        body=lambda width: [[("class:label", _("Urgence :"))]],
        back_label=_("Annuler"),
    )
    if urgency is None:
        return Notice(_("Ticket abandonné."))
    ticket_id = await ctx.create_ticket(title, description, urgency)
    return await ticket_screen(
        term, ctx, ticket_id, Notice(_("Ticket #{id} créé.").format(id=ticket_id))
    )


async def ticket_list(term: Terminal, ctx: SessionContext, *, all_tickets: bool) -> Notice:
    """A list that stays open: each ticket opened from it comes back to it, refreshed."""
    notice = Notice()
    unread: set[int] = set()

    async def rows() -> list[tuple[int, list[str]]]:
        summaries = await (ctx.all_tickets() if all_tickets else ctx.my_tickets())
        unread.clear()
        unread.update(t.id for t in summaries if t.unread)
        return [(t.id, _cells(t, all_tickets)) for t in summaries]

    while True:
        chosen = await ticket_table(
            term,
            _("Tous les tickets") if all_tickets else _("Mes tickets"),
            _columns(all_tickets),
            await rows(),
            empty=_("Aucun ticket pour l'instant."),
            reload=rows,
            marked=unread.__contains__,
            **notice.kwargs(),
        )
        if chosen is None:
            return Notice()
        try:
            notice = await ticket_screen(term, ctx, chosen, Notice())
        except UserError as exc:
            notice = Notice.fail(exc.message)


def _columns(with_author: bool) -> list[tuple[str, int | None]]:
    columns: list[tuple[str, int | None]] = [(_("N°"), 5), (_("Titre"), None)]
    if with_author:
        columns.append((_("Auteur"), 16))
    return [*columns, (_("Urgence"), 7), (_("Statut"), 10), (_("Date"), 10)]


def _cells(t: TicketSummary, with_author: bool) -> list[str]:
    cells = [f"#{t.id}", t.title]
    if with_author:
        cells.append(t.author_name)
    return [*cells, t.urgency.value, t.status.value, t.created_at.strftime("%d/%m/%Y")]


async def ticket_screen(term: Terminal, ctx: SessionContext, ticket_id: int, notice: Notice) -> Notice:
    """One ticket, its description and history; admins change its status from here."""
    ticket = await ctx.open_ticket(ticket_id)
    while True:
        items = [("status", _("Changer le statut"))] if ctx.can_change_status(ticket) else []
        choice = await menu(
            term,
            _("Ticket #{id}").format(id=ticket.id),
            items,
            body=lambda width, t=ticket: ticket_lines(t, width),
            **notice.kwargs(),
        )
        if choice is None:
            return Notice()
        try:
            ticket, notice = await change_status(term, ctx, ticket)
        except UserError as exc:
            notice = Notice.fail(exc.message)


async def change_status(term: Terminal, ctx: SessionContext, ticket: Ticket) -> tuple[Ticket, Notice]:
    title = _("Ticket #{id} : changer le statut").format(id=ticket.id)
    current = _(" (actuel)")
    status = await menu(
        term,
        title,
        [(s, s.value + (current if s is ticket.status else "")) for s in Status],
        body=lambda width: [[("class:label", _("Nouveau statut :"))]],
    )
    if status is None:
        return ticket, Notice()
    question = _("Passer le ticket #{id} de « {old} » à « {new} » ?").format(
        id=ticket.id, old=ticket.status.value, new=status.value
    )
    if not await confirm(term, title, question):
        return ticket, Notice(_("Changement annulé."))
    ticket = await ctx.change_status(ticket.id, status)
    return ticket, Notice(_("Statut changé : {status}.").format(status=status.value))


def ticket_lines(t: Ticket, width: int) -> list[StyleAndTextTuples]:
    """The ticket as lines of fragments; every user-typed text is wrapped (hence sanitised)."""
    lines: list[StyleAndTextTuples] = []
    head = wrap(_("Ticket #{id} — {title}").format(id=t.id, title=t.title), width, multiline=False)
    lines += [[("class:label", line)] for line in head]
    lines.append(
        [("class:label", _("Urgence : ")), ("", t.urgency.value + "    "),
         ("class:label", _("Statut : ")), ("", t.status.value)]
    )
    lines += [[("", line)] for line in wrap(_("Auteur : {name}").format(name=t.author_name), width)]
    lines.append(
        [("class:dim", _("Créé le {created} · mis à jour le {updated}").format(
            created=when(t.created_at), updated=when(t.updated_at)))]
    )
    lines += [[], [("class:label", _("Description"))]]
    lines += [[("", line)] for line in wrap(t.description, width)]
    lines += [[], [("class:label", _("Historique"))]]
    for entry in t.history:
        lines += [[("", line)] for line in wrap(describe(entry), width, multiline=False)]
    return lines


def describe(entry: HistoryEntry) -> str:
    """One history entry as a sentence."""
    moment = when(entry.created_at)
    match entry.action:
        case Action.CREATED:
            what = _("ticket créé ({status}, urgence {urgency})").format(
                status=entry.new_status.value if entry.new_status else "", urgency=entry.details
            )
        case Action.STATUS_CHANGED:
            what = _("statut : {old} → {new}").format(
                old=entry.old_status.value if entry.old_status else "?",
                new=entry.new_status.value if entry.new_status else "?",
            )
        case _:
            what = entry.action.value
    return f"{moment}  {entry.actor_name} — {what}"
